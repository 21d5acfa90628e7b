"""The KPI SQL: one conditional-aggregate pass over dossiers and one over hotline tickets, shared by city and per-unit reads."""

from __future__ import annotations

from datetime import date
from typing import Any

from ioc.config import LOCAL_TIMEZONE
from ioc.model import NOT_ACCEPTED_STATUSES, RESOLVED_STATUSES
from kpis.period import Period


def in_list(values: tuple[str, ...]) -> str:
    # Status names are code constants from ioc.model (never user input), so they are inlined as literals.
    for value in values:
        if not value.isidentifier():
            raise ValueError(f"unexpected status name {value!r}")
    return ", ".join(f"'{value}'" for value in values)


# (output column, aggregate) for every dossier count, evaluated over the `flagged` rows below.
# DESIGN §4 and domain-notes §1.3 (Biểu II.06a); the comment on each says what a reader may doubt.
DOSSIER_AGGREGATES: tuple[tuple[str, str], ...] = (
    ("carried_over", "count(*) FILTER (WHERE is_carried_over)"),
    ("received", "count(*) FILTER (WHERE is_received)"),
    ("received_online", "count(*) FILTER (WHERE is_received AND channel = 'online')"),
    ("received_in_person", "count(*) FILTER (WHERE is_received AND channel = 'in_person')"),
    ("received_postal", "count(*) FILTER (WHERE is_received AND channel = 'postal')"),
    ("to_process", "count(*) FILTER (WHERE is_carried_over OR is_received)"),
    ("resolved", "count(*) FILTER (WHERE is_resolved)"),
    ("resolved_early", "count(*) FILTER (WHERE is_resolved AND finished_day < due_day)"),
    # A dossier without a due date has no deadline to miss: it counts as on the due date.
    ("resolved_on_time", "count(*) FILTER (WHERE is_resolved AND (due_day IS NULL OR finished_day = due_day))"),
    ("resolved_late", "count(*) FILTER (WHERE is_resolved AND finished_day > due_day)"),
    ("withdrawn", "count(*) FILTER (WHERE status = 'withdrawn' AND finished_day >= $from_day AND finished_day < $to_day)"),
    ("stopped", "count(*) FILTER (WHERE status = 'stopped' AND finished_day >= $from_day AND finished_day < $to_day)"),
    ("in_progress", "count(*) FILTER (WHERE is_in_progress)"),
    # No due date: within (it cannot be overdue), and never at risk.
    ("in_progress_within", "count(*) FILTER (WHERE is_in_progress AND (due_day IS NULL OR due_day >= $to_day))"),
    ("in_progress_overdue", "count(*) FILTER (WHERE is_in_progress AND due_day < $to_day)"),
    (
        "at_risk",
        "count(*) FILTER (WHERE is_in_progress AND due_day >= $to_day AND due_day <= $next_working_day)",
    ),
    # QĐ 766 indicator 2.1 (domain-notes §1.4): more than one supplement request is late whatever the dates;
    # an ended dossier is judged on its end minus the supplement pause, one still open at as-of on its due date.
    (
        "progress_766_on_time",
        """count(*) FILTER (WHERE (is_carried_over OR is_received) AND supplement_count <= 1 AND (
            CASE WHEN finished_day < $to_day THEN due_day IS NULL OR paused_finished_day <= due_day
                 ELSE due_day IS NULL OR due_day >= $to_day END))""",
    ),
    ("received_with_fee", "count(*) FILTER (WHERE is_received AND has_fee)"),
    # Only fee-bearing dossiers can be paid, so the numerator is a subset of the denominator (rate ≤ 1).
    ("received_paid_online", "count(*) FILTER (WHERE is_received AND has_fee AND paid_online)"),
    ("resolved_digitized", "count(*) FILTER (WHERE is_resolved AND digitized AND e_result)"),
    ("processing_days_median", "quantile_cont(processing_days, 0.5) FILTER (WHERE is_resolved)"),
    ("processing_days_p90", "quantile_cont(processing_days, 0.9) FILTER (WHERE is_resolved)"),
)
DOSSIER_COUNT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in DOSSIER_AGGREGATES if not name.startswith("processing_days"))


HOTLINE_AGGREGATES: tuple[tuple[str, str], ...] = (
    ("hotline_received", "count(*) FILTER (WHERE received_day >= $from_day)"),
    ("hotline_answered", "count(*) FILTER (WHERE is_answered)"),
    # hotline due dates are always filled by the connector; a missing one cannot be missed.
    ("hotline_answered_on_time", "count(*) FILTER (WHERE is_answered AND (due_day IS NULL OR answered_day <= due_day))"),
    ("hotline_answered_late", "count(*) FILTER (WHERE is_answered AND answered_day > due_day)"),
    ("hotline_open", "count(*) FILTER (WHERE is_open)"),
    ("hotline_open_within", "count(*) FILTER (WHERE is_open AND (due_day IS NULL OR due_day >= $to_day))"),
    ("hotline_open_overdue", "count(*) FILTER (WHERE is_open AND due_day < $to_day)"),
    ("hotline_rated", "count(*) FILTER (WHERE is_answered AND rating IS NOT NULL)"),
    ("hotline_satisfied", "count(*) FILTER (WHERE is_answered AND rating = 'satisfied')"),
    # Not a §4 id (compute() leaves it out): the "disliked" term of QĐ 766 indicator 5.3 (kpis.index766),
    # counted only among on-time answers so that a late, disliked answer is not subtracted twice.
    (
        "hotline_unsatisfied_on_time",
        "count(*) FILTER (WHERE is_answered AND rating = 'unsatisfied' AND (due_day IS NULL OR answered_day <= due_day))",
    ),
    (
        "hotline_response_hours_median",
        "quantile_cont(epoch(answered_at - received_at) / 3600.0, 0.5) FILTER (WHERE is_answered)",
    ),
)
HOTLINE_COUNT_COLUMNS: tuple[str, ...] = tuple(name for name, _ in HOTLINE_AGGREGATES if name != "hotline_response_hours_median")


DOSSIER_GROUP_COLUMNS: tuple[str, ...] = ("unit_code", "sector", "procedure_code", "channel")
"""Columns the dossier query can group by (``group_by``): each is a column of its ``dossier_days`` rows."""

HOTLINE_GROUP_COLUMNS: tuple[str, ...] = ("unit_code", "field", "channel", "urgency")
"""Columns the hotline query can group by (``group_by``)."""


def _group_column(by_unit: bool, group_by: str | None, allowed: tuple[str, ...]) -> str | None:
    if by_unit and group_by not in (None, "unit_code"):
        raise ValueError("by_unit and group_by are two ways to say the same thing: pass one")
    column = "unit_code" if by_unit else group_by
    # The column name is spliced into the SQL, so only the declared names pass (never user text).
    if column is not None and column not in allowed:
        raise ValueError(f"cannot group by {column!r}; expected one of {', '.join(allowed)}")
    return column


DOSSIER_DAYS_FROM = """CAST(timezone($tz, d.received_at) AS DATE) AS received_day,
        CAST(timezone($tz, d.finished_at) AS DATE) AS finished_day,
        CAST(timezone($tz, d.due_at) AS DATE) AS due_day,
        CAST(timezone($tz, d.finished_at - to_seconds(d.paused_seconds)) AS DATE) AS paused_finished_day
    FROM dossiers d
    LEFT JOIN procedures p ON p.procedure_code = d.procedure_code"""
"""The local dates of a dossier's received, finished, due and pause-adjusted finished instants (DESIGN §4:
dates are local dates in Asia/Ho_Chi_Minh), with its procedure joined: shared by every dossier query."""


def _select(aggregates: tuple[tuple[str, str], ...], group_column: str | None) -> tuple[str, str]:
    columns = ",\n    ".join(f"{expression} AS {name}" for name, expression in aggregates)
    if group_column is not None:
        return f"{group_column},\n    {columns}", f"GROUP BY {group_column}"
    return columns, ""


def sql_for_dossier_counts(*, by_unit: bool = False, one_unit: bool = False, group_by: str | None = None) -> str:
    """The single-pass dossier query (DESIGN §4), parameters from ``dossier_params``.

    Every count is a ``count(*) FILTER (WHERE …)`` over one scan, so the cost is one pass over the
    rows whatever the number of KPIs. ``by_unit`` groups by unit_code (compute_by_unit);
    ``one_unit`` adds ``unit_code = $unit_code`` (compute for one unit). ``group_by`` groups by any
    column of DOSSIER_GROUP_COLUMNS (the breakdowns; ``by_unit`` is ``group_by="unit_code"``), and
    combines with ``one_unit``; the grouped column comes first in each row. Dates are local dates in
    Asia/Ho_Chi_Minh of the UTC timestamps; working days come from ``calendar_days``.

    The WHERE clause only prunes rows no KPI can count: every counted dossier was received before
    ``to`` and either is unfinished or finished on or after ``from`` (finished_at ≥ received_at is
    enforced by the connector), stated as instants so DuckDB can skip row groups by min/max.
    """
    select, group_clause = _select(DOSSIER_AGGREGATES, _group_column(by_unit, group_by, DOSSIER_GROUP_COLUMNS))
    unit_filter = "AND d.unit_code = $unit_code" if one_unit else ""
    return f"""
WITH dossier_days AS (
    SELECT
        d.unit_code,
        d.sector,
        d.procedure_code,
        d.status,
        d.channel,
        d.supplement_count,
        d.paid_online,
        d.digitized,
        d.e_result,
        coalesce(p.has_fee, FALSE) AS has_fee,
        d.status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)}) AS accepted,
        d.status IN ({in_list(RESOLVED_STATUSES)}) AS resolved_status,
        {DOSSIER_DAYS_FROM}
    WHERE d.received_at < $to_at
      AND (d.finished_at IS NULL OR d.finished_at >= $from_at)
      {unit_filter}
),
flagged AS (
    SELECT
        dd.*,
        accepted AND received_day < $from_day AND (finished_day IS NULL OR finished_day >= $from_day) AS is_carried_over,
        accepted AND received_day >= $from_day AND received_day < $to_day AS is_received,
        resolved_status AND finished_day >= $from_day AND finished_day < $to_day AS is_resolved,
        accepted AND received_day < $to_day AND (finished_day IS NULL OR finished_day >= $to_day) AS is_in_progress,
        -- working days d with received date < d <= finished date (Civil Code art. 147: the first day is not counted)
        finished_calendar.working_days_through - received_calendar.working_days_through AS processing_days
    FROM dossier_days dd
    LEFT JOIN calendar_days received_calendar ON received_calendar.day = dd.received_day
    LEFT JOIN calendar_days finished_calendar ON finished_calendar.day = dd.finished_day
)
SELECT
    {select}
FROM flagged
{group_clause}
"""


def sql_for_hotline_counts(*, by_unit: bool = False, one_unit: bool = False, group_by: str | None = None) -> str:
    """The single-pass hotline query (DESIGN §4, hotline table); rejected tickets are excluded everywhere.

    Same parameters, pruning and grouping as ``sql_for_dossier_counts`` (``group_by`` from
    HOTLINE_GROUP_COLUMNS; answered_at ≥ received_at is enforced by the connector).
    """
    select, group_clause = _select(HOTLINE_AGGREGATES, _group_column(by_unit, group_by, HOTLINE_GROUP_COLUMNS))
    unit_filter = "AND unit_code = $unit_code" if one_unit else ""
    return f"""
WITH tickets AS (
    SELECT
        unit_code,
        field,
        channel,
        urgency,
        rating,
        received_at,
        answered_at,
        CAST(timezone($tz, received_at) AS DATE) AS received_day,
        CAST(timezone($tz, answered_at) AS DATE) AS answered_day,
        CAST(timezone($tz, due_at) AS DATE) AS due_day
    FROM hotline_tickets
    WHERE status <> 'rejected'
      AND received_at < $to_at
      AND (answered_at IS NULL OR answered_at >= $from_at)
      {unit_filter}
),
flagged AS (
    SELECT
        *,
        answered_day >= $from_day AND answered_day < $to_day AS is_answered,
        answered_day IS NULL OR answered_day >= $to_day AS is_open
    FROM tickets
)
SELECT
    {select}
FROM flagged
{group_clause}
"""


SQL_FOR_PERIOD_CALENDAR = """
SELECT
    count(*) FILTER (WHERE is_working AND day >= $from_day AND day < $to_day) AS working_days,
    min(day) FILTER (WHERE is_working AND day >= $to_day) AS next_working_day
FROM calendar_days
"""
"""Working days in [from, to) and the first working day on or after ``to``, from ``calendar_days``."""


def count_params(period: Period, next_working_day: date | None, unit_code: str | None = None) -> dict[str, Any]:
    """Bound parameters for the dossier and hotline queries (``unit_code`` only when filtering one unit)."""
    params: dict[str, Any] = {
        "tz": LOCAL_TIMEZONE,
        "from_day": period.start,
        "to_day": period.end,
        "from_at": period.start_instant,
        "to_at": period.end_instant,
        "next_working_day": next_working_day,
    }
    if unit_code is not None:
        params["unit_code"] = unit_code
    return params


def hotline_params(period: Period, unit_code: str | None = None) -> dict[str, Any]:
    """Bound parameters for the hotline query (it does not use ``next_working_day``)."""
    params = count_params(period, None, unit_code)
    del params["next_working_day"]
    return params
