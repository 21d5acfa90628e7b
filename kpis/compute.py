"""Compute the DESIGN §4 figures for the city, one unit, or every unit, and the daily received/resolved flow."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from ioc.config import LOCAL_TIMEZONE
from ioc.db import Database
from ioc.model import NOT_ACCEPTED_STATUSES, RESOLVED_STATUSES
from ioc.timeutil import local_midnight
from kpis.period import Period
from kpis.registry import REGISTRY, SUPPORTING
from kpis.sql import (
    DOSSIER_AGGREGATES,
    DOSSIER_COUNT_COLUMNS,
    HOTLINE_AGGREGATES,
    HOTLINE_COUNT_COLUMNS,
    SQL_FOR_PERIOD_CALENDAR,
    count_params,
    hotline_params,
    in_list,
    sql_for_dossier_counts,
    sql_for_hotline_counts,
)

Value = int | float | None

COUNT_IDS: tuple[str, ...] = tuple(kpi_id for kpi_id, declared in {**REGISTRY, **SUPPORTING}.items() if declared.unit == "count")
"""Ids whose values are whole numbers (never None): they sum across units to the city figure."""

OUTPUT_IDS: tuple[str, ...] = (*REGISTRY, *SUPPORTING)
"""The keys of compute()'s result, in order: every §4 id, then the supporting counts."""

UNIT_COLUMNS: tuple[str, ...] = ("name", "full_name", "kind")


def _ratio(numerator: int, denominator: int | None) -> float | None:
    """A rate whose denominator is 0 is null, never 0 and never 100 % (DESIGN §4)."""
    if not denominator:
        return None
    return numerator / denominator


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def derive(raw: dict[str, Any], working_days: int) -> dict[str, Value]:
    """Turn the SQL counts of one scope into the §4 result (counts as ints, rates 0–1 or None).

    Formulas (DESIGN §4):
      on_time_rate = (resolved_early + resolved_on_time) / resolved
      late_rate = (resolved_late + in_progress_overdue) / to_process
      backlog_rate = in_progress_overdue / in_progress
      throughput_per_day = resolved / working days in [from, to)   (None when there is no working day)
      progress_rate_766 = progress_766_on_time / to_process         (QĐ 766 indicator 2.1, domain-notes §1.4)
      online_rate = received_online / received
      online_payment_rate = received_paid_online / received_with_fee
      digitization_rate = resolved_digitized / resolved
      hotline_on_time_rate = hotline_answered_on_time / hotline_answered
      hotline_satisfaction_rate = hotline_satisfied / hotline_rated
    """
    counts = {name: int(raw.get(name) or 0) for name in (*DOSSIER_COUNT_COLUMNS, *HOTLINE_COUNT_COLUMNS)}
    counts["working_days"] = int(working_days)
    result: dict[str, Value] = {
        "on_time_rate": _ratio(counts["resolved_early"] + counts["resolved_on_time"], counts["resolved"]),
        "late_rate": _ratio(counts["resolved_late"] + counts["in_progress_overdue"], counts["to_process"]),
        "backlog_rate": _ratio(counts["in_progress_overdue"], counts["in_progress"]),
        "throughput_per_day": _ratio(counts["resolved"], counts["working_days"]),
        "processing_days_median": _optional_float(raw.get("processing_days_median")),
        "processing_days_p90": _optional_float(raw.get("processing_days_p90")),
        "progress_rate_766": _ratio(counts["progress_766_on_time"], counts["to_process"]),
        "online_rate": _ratio(counts["received_online"], counts["received"]),
        "online_payment_rate": _ratio(counts["received_paid_online"], counts["received_with_fee"]),
        "digitization_rate": _ratio(counts["resolved_digitized"], counts["resolved"]),
        "hotline_on_time_rate": _ratio(counts["hotline_answered_on_time"], counts["hotline_answered"]),
        "hotline_response_hours_median": _optional_float(raw.get("hotline_response_hours_median")),
        "hotline_satisfaction_rate": _ratio(counts["hotline_satisfied"], counts["hotline_rated"]),
    }
    merged: dict[str, Value] = {**counts, **result}
    return {kpi_id: merged[kpi_id] for kpi_id in OUTPUT_IDS}


def period_calendar(db: Database, period: Period) -> tuple[int, date | None]:
    """(working days in the period, first working day on or after its end) from ``calendar_days``."""
    rows = db.execute(SQL_FOR_PERIOD_CALENDAR, {"from_day": period.start, "to_day": period.end})
    working_days, next_working_day = rows[0]
    return int(working_days or 0), next_working_day


def _rows_as_dicts(db: Database, sql: str, params: dict[str, Any], names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in db.execute(sql, params)]


def compute(db: Database, period: Period, unit_code: str | None = None) -> dict[str, Value]:
    """Every §4 dossier and hotline figure for one unit, or the whole city when ``unit_code`` is None.

    Keys: every REGISTRY id, then the SUPPORTING counts (numerators and denominators of the rates).
    Counts are ints; rates are fractions 0–1, or None when their denominator is 0.
    """
    working_days, next_working_day = period_calendar(db, period)
    one_unit = unit_code is not None
    dossier_names = tuple(name for name, _ in DOSSIER_AGGREGATES)
    hotline_names = tuple(name for name, _ in HOTLINE_AGGREGATES)
    dossiers = _rows_as_dicts(
        db, sql_for_dossier_counts(one_unit=one_unit), count_params(period, next_working_day, unit_code), dossier_names
    )
    hotline = _rows_as_dicts(db, sql_for_hotline_counts(one_unit=one_unit), hotline_params(period, unit_code), hotline_names)
    return derive({**dossiers[0], **hotline[0]}, working_days)


def compute_by_unit(db: Database, period: Period) -> pd.DataFrame:
    """compute() for every unit in ``units`` at once: index unit_code, columns every id + name, full_name, kind.

    Units without data get zero counts and None rates. Count columns are int64; rates and medians
    are object columns holding floats or None (as compute() returns them; ``.astype(float)`` for maths).
    One grouped query per stream, the same SQL builder as compute(), so the two cannot disagree.
    """
    working_days, next_working_day = period_calendar(db, period)
    dossier_names = ("unit_code", *(name for name, _ in DOSSIER_AGGREGATES))
    hotline_names = ("unit_code", *(name for name, _ in HOTLINE_AGGREGATES))
    raw: dict[str, dict[str, Any]] = {}
    for row in _rows_as_dicts(db, sql_for_dossier_counts(by_unit=True), count_params(period, next_working_day), dossier_names):
        raw.setdefault(row.pop("unit_code"), {}).update(row)
    for row in _rows_as_dicts(db, sql_for_hotline_counts(by_unit=True), hotline_params(period), hotline_names):
        raw.setdefault(row.pop("unit_code"), {}).update(row)
    units = db.execute("SELECT unit_code, name, full_name, kind FROM units ORDER BY unit_code")
    records = []
    for unit_code, name, full_name, kind in units:
        values = derive(raw.get(unit_code, {}), working_days)
        records.append({"unit_code": unit_code, **values, "name": name, "full_name": full_name, "kind": kind})
    return _unit_frame(records)


def _unit_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    columns = ["unit_code", *OUTPUT_IDS, *UNIT_COLUMNS]
    data: dict[str, pd.Series] = {}
    for column in columns:
        values = [record[column] for record in records]
        # Counts are int64; everything else stays object so a null rate is None, as compute() returns it
        # (pandas would turn None into NaN in a float column, and NaN is not JSON).
        data[column] = pd.Series(values, dtype="int64" if column in COUNT_IDS else object)
    return pd.DataFrame(data, columns=columns).set_index("unit_code")


SQL_FOR_DAILY_FLOW = f"""
WITH received AS (
    SELECT CAST(timezone($tz, received_at) AS DATE) AS day, count(*) AS received
    FROM dossiers
    WHERE status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)})
      AND received_at >= $from_at AND received_at < $to_at {{unit_filter}}
    GROUP BY 1
),
resolved AS (
    SELECT CAST(timezone($tz, finished_at) AS DATE) AS day, count(*) AS resolved
    FROM dossiers
    WHERE status IN ({in_list(RESOLVED_STATUSES)})
      AND finished_at >= $from_at AND finished_at < $to_at {{unit_filter}}
    GROUP BY 1
)
SELECT coalesce(received.day, resolved.day) AS day, coalesce(received.received, 0), coalesce(resolved.resolved, 0)
FROM received FULL OUTER JOIN resolved ON received.day = resolved.day
"""


def daily_flow(db: Database, start: date, end: date, unit_code: str | None = None) -> pd.DataFrame:
    """Per local day d in [start, end): ``received`` (accepted, received date d) and ``resolved``
    (status resolved/returned, finished date d), the daily terms of §4's received and resolved.

    Columns day (datetime.date), received, resolved (int64); every day present, zeros filled.
    """
    if end < start:
        raise ValueError(f"daily_flow: end {end} is before start {start}")
    days = [start + timedelta(days=offset) for offset in range((end - start).days)]
    params: dict[str, Any] = {"tz": LOCAL_TIMEZONE, "from_at": local_midnight(start), "to_at": local_midnight(end)}
    unit_filter = ""
    if unit_code is not None:
        params["unit_code"] = unit_code
        unit_filter = "AND unit_code = $unit_code"
    found = {
        day: (int(received), int(resolved))
        for day, received, resolved in db.execute(SQL_FOR_DAILY_FLOW.format(unit_filter=unit_filter), params)
    }
    return pd.DataFrame(
        {
            "day": pd.Series(days, dtype=object),
            "received": pd.Series([found.get(day, (0, 0))[0] for day in days], dtype="int64"),
            "resolved": pd.Series([found.get(day, (0, 0))[1] for day in days], dtype="int64"),
        }
    )
