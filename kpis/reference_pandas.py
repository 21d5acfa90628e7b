"""DESIGN §4 written plainly in pandas over the raw tables: the oracle of the equality test and the benchmark's baseline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ioc.config import LOCAL_TIMEZONE
from ioc.db import Database
from ioc.model import NOT_ACCEPTED_STATUSES, RESOLVED_STATUSES
from kpis.compute import COUNT_IDS, OUTPUT_IDS, UNIT_COLUMNS, derive
from kpis.period import Period

DOSSIER_COLUMNS = (
    "unit_code", "procedure_code", "status", "channel", "received_at", "due_at", "finished_at",
    "supplement_count", "paused_seconds", "paid_online", "digitized", "e_result",
)  # fmt: skip
HOTLINE_COLUMNS = ("unit_code", "status", "received_at", "due_at", "answered_at", "rating")


@dataclass
class Tables:
    """The raw tables the figures need, as DataFrames (timestamps UTC)."""

    dossiers: pd.DataFrame
    hotline: pd.DataFrame
    procedures: pd.DataFrame  # procedure_code, has_fee
    calendar: pd.DataFrame  # day, is_working, working_days_through
    units: pd.DataFrame  # unit_code, name, full_name, kind


def load_tables(db: Database) -> Tables:
    """Read the raw tables (only the columns §4 uses) into pandas."""
    return Tables(
        dossiers=db.query_df(f"SELECT {', '.join(DOSSIER_COLUMNS)} FROM dossiers"),
        hotline=db.query_df(f"SELECT {', '.join(HOTLINE_COLUMNS)} FROM hotline_tickets"),
        procedures=db.query_df("SELECT procedure_code, has_fee FROM procedures"),
        calendar=db.query_df("SELECT day, is_working, working_days_through FROM calendar_days ORDER BY day"),
        units=db.query_df("SELECT unit_code, name, full_name, kind FROM units ORDER BY unit_code"),
    )


def _local_day(moments: pd.Series) -> pd.Series:
    """The local calendar date (as a naive midnight datetime64) of each UTC instant; NaT stays NaT."""
    return pd.to_datetime(moments, utc=True).dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None).dt.floor("D")


def _day(value: date) -> pd.Timestamp:
    return pd.Timestamp(value)


def _calendar(tables: Tables, period: Period) -> tuple[int, pd.Timestamp | None, pd.Series]:
    calendar = tables.calendar
    days = pd.to_datetime(calendar["day"])
    working = calendar["is_working"].astype(bool)
    in_period = working & (days >= _day(period.start)) & (days < _day(period.end))
    following = days[working & (days >= _day(period.end))]
    through = pd.Series(calendar["working_days_through"].to_numpy(), index=pd.DatetimeIndex(days))
    return int(in_period.sum()), (following.min() if len(following) else None), through


def dossier_flags(tables: Tables, period: Period) -> pd.DataFrame:
    """One row per dossier, one boolean column per §4 count (plus unit_code and processing_days)."""
    d = tables.dossiers
    start, end = _day(period.start), _day(period.end)
    _, next_working_day, through = _calendar(tables, period)
    received = _local_day(d["received_at"])
    finished = _local_day(d["finished_at"])
    due = _local_day(d["due_at"])
    paused_finished = _local_day(pd.to_datetime(d["finished_at"], utc=True) - pd.to_timedelta(d["paused_seconds"], unit="s"))
    fees = tables.procedures.set_index("procedure_code")["has_fee"].astype(bool)
    has_fee = d["procedure_code"].map(fees).fillna(False).astype(bool)
    accepted = ~d["status"].isin(NOT_ACCEPTED_STATUSES)
    resolved_status = d["status"].isin(RESOLVED_STATUSES)
    not_finished_before_start = finished.isna() | (finished >= start)
    carried_over = accepted & (received < start) & not_finished_before_start
    is_received = accepted & (received >= start) & (received < end)
    resolved = resolved_status & (finished >= start) & (finished < end)
    in_progress = accepted & (received < end) & (finished.isna() | (finished >= end))
    to_process = carried_over | is_received
    few_supplements = d["supplement_count"] <= 1
    ended_before_end = finished < end
    on_time_766 = np.where(ended_before_end, due.isna() | (paused_finished <= due), due.isna() | (due >= end))
    at_risk = in_progress & (due >= end)
    at_risk = at_risk & (due <= next_working_day) if next_working_day is not None else at_risk & False
    flags = pd.DataFrame(
        {
            "unit_code": d["unit_code"],
            "carried_over": carried_over,
            "received": is_received,
            "received_online": is_received & (d["channel"] == "online"),
            "received_in_person": is_received & (d["channel"] == "in_person"),
            "received_postal": is_received & (d["channel"] == "postal"),
            "to_process": to_process,
            "resolved": resolved,
            "resolved_early": resolved & (finished < due),
            "resolved_on_time": resolved & (due.isna() | (finished == due)),
            "resolved_late": resolved & (finished > due),
            "withdrawn": (d["status"] == "withdrawn") & (finished >= start) & (finished < end),
            "stopped": (d["status"] == "stopped") & (finished >= start) & (finished < end),
            "in_progress": in_progress,
            "in_progress_within": in_progress & (due.isna() | (due >= end)),
            "in_progress_overdue": in_progress & (due < end),
            "at_risk": at_risk,
            "progress_766_on_time": to_process & few_supplements & on_time_766,
            "received_with_fee": is_received & has_fee,
            "received_paid_online": is_received & has_fee & d["paid_online"].astype(bool),
            "resolved_digitized": resolved & d["digitized"].astype(bool) & d["e_result"].astype(bool),
        }
    )
    # Working days w with received date < w <= finished date (Civil Code art. 147).
    flags["processing_days"] = (finished.map(through) - received.map(through)).where(resolved)
    return flags


def hotline_flags(tables: Tables, period: Period) -> pd.DataFrame:
    """One row per ticket that is not rejected, one boolean column per hotline count, plus response_hours."""
    h = tables.hotline[tables.hotline["status"] != "rejected"]
    start, end = _day(period.start), _day(period.end)
    received = _local_day(h["received_at"])
    answered = _local_day(h["answered_at"])
    due = _local_day(h["due_at"])
    is_answered = (answered >= start) & (answered < end)
    on_time = is_answered & (due.isna() | (answered <= due))
    is_open = (received < end) & (answered.isna() | (answered >= end))
    hours = (pd.to_datetime(h["answered_at"], utc=True) - pd.to_datetime(h["received_at"], utc=True)).dt.total_seconds() / 3600.0
    return pd.DataFrame(
        {
            "unit_code": h["unit_code"],
            "hotline_received": (received >= start) & (received < end),
            "hotline_answered": is_answered,
            "hotline_answered_on_time": on_time,
            "hotline_answered_late": is_answered & (answered > due),
            "hotline_open": is_open,
            "hotline_open_within": is_open & (due.isna() | (due >= end)),
            "hotline_open_overdue": is_open & (due < end),
            "hotline_rated": is_answered & h["rating"].notna(),
            "hotline_satisfied": is_answered & (h["rating"] == "satisfied"),
            "hotline_unsatisfied_on_time": on_time & (h["rating"] == "unsatisfied"),
            "response_hours": hours.where(is_answered),
        }
    )


def _raw_counts(dossiers: pd.DataFrame, hotline: pd.DataFrame) -> dict[str, Any]:
    counts: dict[str, Any] = {
        column: int(dossiers[column].sum()) for column in dossiers.columns if column not in ("unit_code", "processing_days")
    }
    counts.update(
        {column: int(hotline[column].sum()) for column in hotline.columns if column not in ("unit_code", "response_hours")}
    )
    days = dossiers["processing_days"].dropna()
    hours = hotline["response_hours"].dropna()
    counts["processing_days_median"] = float(days.quantile(0.5)) if len(days) else None
    counts["processing_days_p90"] = float(days.quantile(0.9)) if len(days) else None
    counts["hotline_response_hours_median"] = float(hours.quantile(0.5)) if len(hours) else None
    return counts


def compute(tables: Tables, period: Period, unit_code: str | None = None) -> dict[str, Any]:
    """kpis.compute.compute written in pandas (the rates through the same derive())."""
    dossiers, hotline = dossier_flags(tables, period), hotline_flags(tables, period)
    if unit_code is not None:
        dossiers = dossiers[dossiers["unit_code"] == unit_code]
        hotline = hotline[hotline["unit_code"] == unit_code]
    working_days, _, _ = _calendar(tables, period)
    return derive(_raw_counts(dossiers, hotline), working_days)


def compute_by_unit(tables: Tables, period: Period) -> pd.DataFrame:
    """kpis.compute.compute_by_unit written in pandas: every unit of ``units``, zero counts where there is no data."""
    return snapshot(tables, period)[1]


def snapshot(tables: Tables, period: Period) -> tuple[dict[str, Any], pd.DataFrame]:
    """(compute() for the city, compute_by_unit()) from one evaluation of the flags."""
    dossiers, hotline = dossier_flags(tables, period), hotline_flags(tables, period)
    working_days, _, _ = _calendar(tables, period)
    total = derive(_raw_counts(dossiers, hotline), working_days)
    dossier_counts = dossiers.drop(columns="processing_days").groupby("unit_code").sum()
    hotline_counts = hotline.drop(columns="response_hours").groupby("unit_code").sum()
    medians = dossiers.groupby("unit_code")["processing_days"].quantile(0.5)
    p90 = dossiers.groupby("unit_code")["processing_days"].quantile(0.9)
    hours = hotline.groupby("unit_code")["response_hours"].quantile(0.5)
    records = []
    for unit in tables.units.itertuples(index=False):
        code = str(unit.unit_code)
        raw: dict[str, Any] = {}
        if code in dossier_counts.index:
            raw.update({str(k): v for k, v in dossier_counts.loc[[code]].iloc[0].items()})
        if code in hotline_counts.index:
            raw.update({str(k): v for k, v in hotline_counts.loc[[code]].iloc[0].items()})
        raw["processing_days_median"] = _present(medians.get(code))
        raw["processing_days_p90"] = _present(p90.get(code))
        raw["hotline_response_hours_median"] = _present(hours.get(code))
        records.append(
            {"unit_code": code, **derive(raw, working_days), "name": unit.name, "full_name": unit.full_name, "kind": unit.kind}
        )
    data = {
        column: pd.Series([record[column] for record in records], dtype="int64" if column in COUNT_IDS else object)
        for column in ("unit_code", *OUTPUT_IDS, *UNIT_COLUMNS)
    }
    data["unit_code"] = pd.Series([record["unit_code"] for record in records], dtype=object)
    return total, pd.DataFrame(data).set_index("unit_code")


def _present(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)
