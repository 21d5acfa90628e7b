"""The §4 figures of a period as the store stood at an earlier instant: what a screen showed then, for "same time yesterday"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ioc.db import Database
from kpis.compute import Value, derive, period_calendar
from kpis.period import Period
from kpis.sql import (
    DOSSIER_AGGREGATES,
    HOTLINE_AGGREGATES,
    count_params,
    hotline_params,
    sql_for_dossier_counts,
    sql_for_hotline_counts,
)

# The two tables as they stood at $known_at, as CTEs named like the tables they shadow, so the §4 queries of
# kpis.sql run on them unchanged (one SQL builder for every figure). An item received at or after
# $known_at did not exist yet. A dossier that ended at or after it was still being processed then
# (accepted, not ended: 'processing'); a ticket answered at or after it was still open. Everything the store
# keeps no history of (due date, supplement count, pause, channel, flags) is taken as it is now.
_DOSSIERS_KNOWN_AT = """dossiers AS (
    SELECT * REPLACE (
        CASE WHEN finished_at >= $known_at THEN 'processing' ELSE status END AS status,
        CASE WHEN finished_at >= $known_at THEN NULL ELSE finished_at END AS finished_at
    )
    FROM main.dossiers
    WHERE received_at < $known_at
)"""
_HOTLINE_KNOWN_AT = """hotline_tickets AS (
    SELECT * REPLACE (CASE WHEN answered_at >= $known_at THEN NULL ELSE answered_at END AS answered_at)
    FROM main.hotline_tickets
    WHERE received_at < $known_at
)"""


def _as_known_at(sql: str, table_cte: str) -> str:
    """``sql`` (one WITH query of kpis.sql) with ``table_cte`` defined first, so its table name means the CTE."""
    head, found, rest = sql.partition("WITH ")
    if not found or head.strip():
        raise ValueError("expected a query that starts with WITH")  # kpis.sql changed shape: the test suite says so
    return f"WITH {table_cte},\n{rest}"


def sql_for_dossier_counts_known_at(*, one_unit: bool = False) -> str:
    """kpis.sql's dossier query over the dossiers as they stood at ``$known_at``."""
    return _as_known_at(sql_for_dossier_counts(one_unit=one_unit), _DOSSIERS_KNOWN_AT)


def sql_for_hotline_counts_known_at(*, one_unit: bool = False) -> str:
    """kpis.sql's hotline query over the tickets as they stood at ``$known_at``."""
    return _as_known_at(sql_for_hotline_counts(one_unit=one_unit), _HOTLINE_KNOWN_AT)


def compute_known_at(db: Database, period: Period, known_at: datetime, unit_code: str | None = None) -> dict[str, Value]:
    """compute() for ``period`` over the store as it stood at the aware instant ``known_at``.

    What a screen showing ``period`` displayed at ``known_at`` (later corrections aside): dossiers and
    tickets received at or after ``known_at`` are left out, a dossier that ended at or after it counts
    as still in progress, and a ticket answered at or after it as still open. The §4 definitions are
    otherwise unchanged: as-of is still the end of the period, so "overdue" means due before ``period.end``
    exactly as the figure did then. With ``known_at`` at or after every change in the store the result is
    compute()'s. Same keys and types as compute().
    """
    if known_at.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone to known_at")
    working_days, next_working_day = period_calendar(db, period)
    one_unit = unit_code is not None
    dossier_names = tuple(name for name, _ in DOSSIER_AGGREGATES)
    hotline_names = tuple(name for name, _ in HOTLINE_AGGREGATES)
    dossier_params: dict[str, Any] = {**count_params(period, next_working_day, unit_code), "known_at": known_at}
    ticket_params: dict[str, Any] = {**hotline_params(period, unit_code), "known_at": known_at}
    dossiers = db.execute(sql_for_dossier_counts_known_at(one_unit=one_unit), dossier_params)
    tickets = db.execute(sql_for_hotline_counts_known_at(one_unit=one_unit), ticket_params)
    raw = {**dict(zip(dossier_names, dossiers[0], strict=True)), **dict(zip(hotline_names, tickets[0], strict=True))}
    return derive(raw, working_days)
