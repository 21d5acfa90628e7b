"""The main figures broken down by sector, procedure or channel (dossiers) and field, channel or urgency (hotline)."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from ioc.db import Database
from kpis.compute import derive, period_calendar
from kpis.period import Period
from kpis.registry import status_of
from kpis.sql import (
    DOSSIER_AGGREGATES,
    HOTLINE_AGGREGATES,
    count_params,
    hotline_params,
    sql_for_dossier_counts,
    sql_for_hotline_counts,
)

DossierDimension = Literal["sector", "procedure", "channel"]
HotlineDimension = Literal["field", "channel", "urgency"]

# Dimension name -> the column of the KPI query that it groups by.
DOSSIER_DIMENSIONS: dict[str, str] = {"sector": "sector", "procedure": "procedure_code", "channel": "channel"}
HOTLINE_DIMENSIONS: dict[str, str] = {"field": "field", "channel": "channel", "urgency": "urgency"}

DOSSIER_FIGURES: tuple[str, ...] = ("received", "resolved", "on_time_rate", "in_progress", "in_progress_overdue")
"""The main dossier figures of a breakdown row (DESIGN §4 ids), plus the on-time rate's status."""

HOTLINE_FIGURES: tuple[str, ...] = (
    "hotline_received",
    "hotline_answered",
    "hotline_on_time_rate",
    "hotline_open",
    "hotline_open_overdue",
)
"""The main hotline figures of a breakdown row (DESIGN §4 ids), plus the on-time rate's status."""

# Vietnamese labels of the coded values; sectors, fields and procedure names are already Vietnamese text.
CHANNEL_LABELS_VI: dict[str, str] = {
    "online": "Trực tuyến",
    "in_person": "Trực tiếp",
    "postal": "Bưu chính công ích",
    "phone": "Điện thoại (1022)",
    "web": "Cổng góp ý",
    "app": "Ứng dụng di động",
    "zalo": "Zalo",
    "facebook": "Facebook",
    "email": "Thư điện tử",
    "other": "Khác",
}
URGENCY_LABELS_VI: dict[str, str] = {"urgent": "Khẩn", "quick": "Nhanh", "normal": "Thường"}
UNKNOWN_LABEL_VI = "Chưa xác định"


def dossier_breakdown(db: Database, period: Period, by: DossierDimension, unit_code: str | None = None) -> pd.DataFrame:
    """received, resolved, on_time_rate, in_progress, in_progress_overdue per sector, procedure or channel.

    For the city, or one unit when ``unit_code`` is given. The figures are DESIGN §4's, from the same
    SQL as compute() grouped by one more column, so the rows of a breakdown add up to compute()'s
    counts for the same scope and period (a dossier without a sector or procedure is its own row,
    key None, label "Chưa xác định"). Columns: key, label, the figures, resolved_on_time_or_early
    (the rate's numerator), on_time_status. Rows with every count zero are left out; ordered by
    received, then in progress, descending, then label.
    """
    if by not in DOSSIER_DIMENSIONS:
        raise ValueError(f"unknown dossier breakdown {by!r}; expected one of {', '.join(DOSSIER_DIMENSIONS)}")
    column = DOSSIER_DIMENSIONS[by]
    working_days, next_working_day = period_calendar(db, period)
    sql = sql_for_dossier_counts(one_unit=unit_code is not None, group_by=column)
    names = ("key", *(name for name, _ in DOSSIER_AGGREGATES))
    labels = _procedure_names(db) if by == "procedure" else CHANNEL_LABELS_VI if by == "channel" else {}
    rows = []
    for values in db.execute(sql, count_params(period, next_working_day, unit_code)):
        raw = dict(zip(names, values, strict=True))
        figures = derive(raw, working_days)
        row: dict[str, Any] = {"key": raw["key"], "label": _label(raw["key"], labels)}
        row.update({figure: figures[figure] for figure in DOSSIER_FIGURES})
        row["resolved_on_time_or_early"] = int(figures["resolved_early"] or 0) + int(figures["resolved_on_time"] or 0)
        row["on_time_status"] = status_of("on_time_rate", figures["on_time_rate"], int(figures["resolved"] or 0))
        rows.append(row)
    return _frame(rows, DOSSIER_FIGURES, ("resolved_on_time_or_early", "on_time_status"))


def hotline_breakdown(db: Database, period: Period, by: HotlineDimension, unit_code: str | None = None) -> pd.DataFrame:
    """hotline_received, _answered, _on_time_rate, _open, _open_overdue per field, channel or urgency.

    Rejected tickets are excluded, as everywhere. Same shape and guarantees as ``dossier_breakdown``
    (numerator column hotline_answered_on_time, status column on_time_status).
    """
    if by not in HOTLINE_DIMENSIONS:
        raise ValueError(f"unknown hotline breakdown {by!r}; expected one of {', '.join(HOTLINE_DIMENSIONS)}")
    column = HOTLINE_DIMENSIONS[by]
    sql = sql_for_hotline_counts(one_unit=unit_code is not None, group_by=column)
    names = ("key", *(name for name, _ in HOTLINE_AGGREGATES))
    labels = CHANNEL_LABELS_VI if by == "channel" else URGENCY_LABELS_VI if by == "urgency" else {}
    rows = []
    for values in db.execute(sql, hotline_params(period, unit_code)):
        raw = dict(zip(names, values, strict=True))
        figures = derive(raw, 0)
        row: dict[str, Any] = {"key": raw["key"], "label": _label(raw["key"], labels)}
        row.update({figure: figures[figure] for figure in HOTLINE_FIGURES})
        row["hotline_answered_on_time"] = int(figures["hotline_answered_on_time"] or 0)
        row["on_time_status"] = status_of(
            "hotline_on_time_rate", figures["hotline_on_time_rate"], int(figures["hotline_answered"] or 0)
        )
        rows.append(row)
    return _frame(rows, HOTLINE_FIGURES, ("hotline_answered_on_time", "on_time_status"))


def _procedure_names(db: Database) -> dict[str, str]:
    return {code: name for code, name in db.execute("SELECT procedure_code, name FROM procedures")}


def _label(key: Any, labels: dict[str, str]) -> str:
    if key is None:
        return UNKNOWN_LABEL_VI
    return labels.get(key, str(key))


def _frame(rows: list[dict[str, Any]], figures: tuple[str, ...], extra: tuple[str, ...]) -> pd.DataFrame:
    counts = [figure for figure in figures if not figure.endswith("_rate")]
    # The pruning WHERE of the KPI query keeps a few rows no figure counts (a not-accepted dossier, say).
    rows = [row for row in rows if any(row[count] for count in counts)]
    rows.sort(key=lambda row: (-row[counts[0]], -row[counts[2]], row["label"]))
    columns = ["key", "label", *figures, *extra]
    data = {
        column: pd.Series([row[column] for row in rows], dtype="int64" if column in counts or column == extra[0] else object)
        for column in columns
    }
    return pd.DataFrame(data, columns=columns)
