"""KPI aggregates per unit and local day, kept up to date after each ingest, and the §4 figures read from them.

Why it is exact. Every §4 count is either "items whose day X falls in [from, to)" or "items in a state at
as-of T". The first kind is a difference of cumulative daily counts. The second kind is a count of items
whose state holds on an interval of as-of dates: an item counts at T when ``start < T <= end`` for its own
``start`` and ``end`` days, so the count is #(start < T) − #(end < T), again cumulative daily counts. For an
accepted dossier with received day r, finished day f (∞ while open) and due day d:

- in progress at T (and carried over at F): r < T ≤ f;
- in progress and overdue: max(r, d) < T ≤ f, since overdue means d < T;
- at risk (within deadline, due no later than the first working day on or after T): T ≤ d and no working
  day lies in [T, d), i.e. max(r, W(d)) < T ≤ min(d, f) with W(d) the last working day before d;
- Decision 766 progress: ended in [F, T) and on time (a per-dossier flag), plus in progress at T with at
  most one supplement and not overdue (the same intervals over dossiers with at most one supplement).

Hotline tickets work the same way (open: r < T ≤ answered day; overdue: max(r, d) < T ≤ answered day).
Medians and p90 of processing days come from a per-day histogram (processing days are whole numbers);
the hotline response-time median has continuous values, so it is read from ``kpi_hotline_facts`` (one
narrow row per ticket) for the period's answered days.

Maintenance. ``kpi_dossier_facts`` / ``kpi_hotline_facts`` hold each item's current contribution. After a
batch is merged, ``refresh_aggregates`` (called by ``connectors.base.write_batch`` in the batch's
transaction) subtracts the stored contribution of the batch's keys, adds the new one, and replaces
their facts, so a status or finished_at change moves the counts. The count tables have no key: a batch
appends its delta rows, every reader sums the rows of a key, and ``compact_aggregates_if_due`` (between
runs, from ``ioc.store.tidy_between_runs``) merges them once they have grown by a quarter; updating rows in
place cost DuckDB 0.2-0.4 s at each commit, an append almost nothing. ``rebuild_aggregates`` recomputes
everything (after a bulk load, or when the calendar or a procedure's fee changes, which the facts
depend on). While ``meta.kpi_aggregates`` is not 'ready' the refresh does nothing and the readers fall
back to the scanning engine (``kpis.compute``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ioc.config import LOCAL_TIMEZONE
from ioc.db import Database, run
from ioc.model import NOT_ACCEPTED_STATUSES, RESOLVED_STATUSES
from kpis.compute import COUNT_IDS, OUTPUT_IDS, UNIT_COLUMNS, period_calendar
from kpis.period import Period, shift_months
from kpis.sql import DOSSIER_DAYS_FROM, in_list

READY = "ready"
# (daily column, day the contribution lands on, condition, value) per kind of event, dossier facts first.
# Columns named like a §4 count are that count's daily term; *_start / *_end delimit as-of intervals.
_DOSSIER_EVENTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "received_day",
        (
            ("received", "1"),
            ("received_online", "channel = 'online'"),
            ("received_in_person", "channel = 'in_person'"),
            ("received_postal", "channel = 'postal'"),
            ("received_with_fee", "has_fee"),
            # Only fee-bearing dossiers can be paid (as in kpis.sql).
            ("received_paid_online", "has_fee AND paid_online"),
            ("received_few_supplements", "few_supplements"),
        ),
    ),
    (
        "finished_day",
        (
            ("finished", "1"),
            ("finished_few_supplements", "few_supplements"),
            ("resolved", f"status IN ({in_list(RESOLVED_STATUSES)})"),
            ("resolved_early", f"status IN ({in_list(RESOLVED_STATUSES)}) AND finished_day < due_day"),
            ("resolved_on_time", f"status IN ({in_list(RESOLVED_STATUSES)}) AND (due_day IS NULL OR finished_day = due_day)"),
            ("resolved_late", f"status IN ({in_list(RESOLVED_STATUSES)}) AND finished_day > due_day"),
            ("resolved_digitized", f"status IN ({in_list(RESOLVED_STATUSES)}) AND digitized_result"),
            ("withdrawn", "status = 'withdrawn'"),
            ("stopped", "status = 'stopped'"),
            ("finished_766_on_time", "on_time_766_if_ended"),
        ),
    ),
    ("overdue_start_day", (("overdue_start", "1"), ("overdue_start_few_supplements", "few_supplements"))),
    ("overdue_end_day", (("overdue_end", "1"), ("overdue_end_few_supplements", "few_supplements"))),
    ("at_risk_start_day", (("at_risk_start", "1"),)),
    ("at_risk_end_day", (("at_risk_end", "1"),)),
)
_HOTLINE_EVENTS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("received_day", (("hotline_received", "1"),)),
    (
        "answered_day",
        (
            ("hotline_answered", "1"),
            ("hotline_answered_on_time", "answered_on_time"),
            ("hotline_answered_late", "NOT answered_on_time"),
            ("hotline_rated", "rating IS NOT NULL"),
            ("hotline_satisfied", "rating = 'satisfied'"),
            ("hotline_unsatisfied_on_time", "rating = 'unsatisfied' AND answered_on_time"),
        ),
    ),
    ("overdue_start_day", (("hotline_overdue_start", "1"),)),
    ("overdue_end_day", (("hotline_overdue_end", "1"),)),
)
DOSSIER_DAILY_COLUMNS = tuple(column for _, events in _DOSSIER_EVENTS for column, _ in events)
HOTLINE_DAILY_COLUMNS = tuple(column for _, events in _HOTLINE_EVENTS for column, _ in events)
DAILY_COLUMNS = DOSSIER_DAILY_COLUMNS + HOTLINE_DAILY_COLUMNS

# Key columns and count columns of the tables each ingest appends its delta rows to (compacted now and then).
_COUNT_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "kpi_daily": (("unit_code", "day"), DAILY_COLUMNS),
    "kpi_monthly": (("unit_code", "month"), DAILY_COLUMNS),
    "kpi_processing_days": (("unit_code", "day", "processing_days"), ("dossiers",)),
    "kpi_processing_days_monthly": (("unit_code", "month", "processing_days"), ("dossiers",)),
}
AGGREGATE_TABLES = ("kpi_dossier_facts", "kpi_hotline_facts", *_COUNT_TABLES)

# The facts of dossiers (all, or those whose id is in the temp table kpi_keys). Only accepted dossiers count.
_DOSSIER_FACTS_SQL = f"""
WITH working AS (SELECT day FROM calendar_days WHERE is_working),
base AS (
    SELECT
        d.dossier_id,
        d.unit_code,
        d.status,
        d.channel,
        coalesce(p.has_fee, FALSE) AS has_fee,
        d.paid_online,
        d.supplement_count <= 1 AS few_supplements,
        d.digitized AND d.e_result AS digitized_result,
        {DOSSIER_DAYS_FROM}
    WHERE d.status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)}) {{key_filter}}
),
with_risk AS (
    -- W(d): the last working day before the due day (ASOF: the greatest working day < due_day).
    SELECT b.*, greatest(b.received_day, w.day) AS risk_from
    FROM base b ASOF LEFT JOIN working w ON b.due_day > w.day
)
SELECT
    r.dossier_id,
    r.unit_code,
    r.status,
    r.channel,
    r.received_day,
    r.finished_day,
    r.due_day,
    -- DuckDB's greatest()/least() skip NULLs, hence the guards: no due day means no overdue interval,
    -- and an open dossier's at-risk interval ends on its due day.
    CASE WHEN r.due_day IS NOT NULL THEN greatest(r.received_day, r.due_day) END AS overdue_start_day,
    CASE WHEN r.due_day IS NOT NULL AND r.finished_day IS NOT NULL
         THEN greatest(r.received_day, r.due_day, r.finished_day) END AS overdue_end_day,
    CASE WHEN r.due_day IS NOT NULL AND r.risk_from < least(r.due_day, r.finished_day) THEN r.risk_from END AS at_risk_start_day,
    CASE WHEN r.due_day IS NOT NULL AND r.risk_from < least(r.due_day, r.finished_day) THEN least(r.due_day, r.finished_day) END AS at_risk_end_day,
    finished_calendar.working_days_through - received_calendar.working_days_through AS processing_days,
    r.has_fee,
    r.paid_online,
    r.few_supplements,
    r.digitized_result,
    coalesce(r.few_supplements AND (r.due_day IS NULL OR r.paused_finished_day <= r.due_day), FALSE)
        AS on_time_766_if_ended
FROM with_risk r
LEFT JOIN calendar_days received_calendar ON received_calendar.day = r.received_day
LEFT JOIN calendar_days finished_calendar ON finished_calendar.day = r.finished_day
"""

_HOTLINE_FACTS_SQL = """
SELECT
    ticket_id,
    unit_code,
    received_day,
    answered_day,
    CASE WHEN due_day IS NOT NULL THEN greatest(received_day, due_day) END AS overdue_start_day,
    CASE WHEN due_day IS NOT NULL AND answered_day IS NOT NULL THEN greatest(received_day, due_day, answered_day) END
        AS overdue_end_day,
    CASE WHEN answered_day IS NOT NULL THEN due_day IS NULL OR answered_day <= due_day END AS answered_on_time,
    rating,
    -- Seconds, not hours: readers divide each value by 3600.0 exactly as kpis.sql does before the median.
    epoch(answered_at - received_at) AS response_seconds
FROM (
    SELECT
        ticket_id, unit_code, rating, received_at, answered_at,
        CAST(timezone($tz, received_at) AS DATE) AS received_day,
        CAST(timezone($tz, answered_at) AS DATE) AS answered_day,
        CAST(timezone($tz, due_at) AS DATE) AS due_day
    FROM hotline_tickets
    WHERE status <> 'rejected' {key_filter}
)
"""


def _dossier_facts_sql(key_filter: str) -> str:
    return _DOSSIER_FACTS_SQL.format(key_filter=key_filter)


def _contributions_sql(events: tuple[tuple[str, tuple[tuple[str, str], ...]], ...], source: str, sign: int) -> str:
    """Rows (unit_code, day, every daily column) with ``sign`` × each fact's contribution, one branch per event day."""
    columns = [column for _, pairs in events for column, _ in pairs]
    branches = []
    for day_column, pairs in events:
        own = dict(pairs)
        values = ", ".join(
            f"CASE WHEN {own[column]} THEN {sign} ELSE 0 END AS {column}" if column in own and own[column] != "1"
            else (f"{sign} AS {column}" if column in own else f"0 AS {column}")
            for column in columns
        )  # fmt: skip
        branches.append(f"SELECT unit_code, {day_column} AS day, {values} FROM {source} WHERE {day_column} IS NOT NULL")
    return "\nUNION ALL\n".join(branches)


def _delta_sql(events: tuple[tuple[str, tuple[tuple[str, str], ...]], ...], new: str, old: str | None) -> str:
    columns = [column for _, pairs in events for column, _ in pairs]
    parts = [_contributions_sql(events, new, 1)]
    if old is not None:
        parts.append(_contributions_sql(events, old, -1))
    sums = ", ".join(f"sum({column}) AS {column}" for column in columns)
    union = "\nUNION ALL\n".join(parts)
    return f"SELECT unit_code, day, {sums} FROM ({union}) GROUP BY unit_code, day"


def _append(conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows_sql: str, *, ordered: bool) -> None:
    """Append the rows (the table's keys and ``columns``) to a count table; readers sum every row of a key.

    ``ordered`` writes them in key order, as a compaction does: only worth it for rows that stay as they are.
    """
    keys = ", ".join(_COUNT_TABLES[table][0])
    # By name: the tables keep migration 3's column order, which need not be DAILY_COLUMNS'.
    names = ", ".join((keys, *columns))
    # Rows whose contributions cancel out (a status change moves nothing on the received day) are left out.
    order = f" ORDER BY {keys}" if ordered else ""
    run(conn, f"INSERT INTO {table} ({names}) SELECT {names} FROM ({rows_sql}) WHERE {_nonzero(columns)}{order}")


def _nonzero(columns: Sequence[str]) -> str:
    return " OR ".join(f"{column} <> 0" for column in columns)


def _monthly_sql(source: str, keys: Sequence[str], columns: Sequence[str]) -> str:
    sums = ", ".join(f"sum({column}) AS {column}" for column in columns)
    other_keys = "".join(f", {key}" for key in keys)
    return f"SELECT unit_code, CAST(date_trunc('month', day) AS DATE) AS month{other_keys}, {sums} FROM {source} GROUP BY ALL"


def _apply_delta(
    conn: duckdb.DuckDBPyConnection, columns: Sequence[str], daily_delta_sql: str, histogram_delta_sql: str | None
) -> None:
    """Add a (unit, day) delta to kpi_daily and kpi_monthly (and a histogram delta to both histogram tables)."""
    # A first delta into empty tables is one row per key: in key order it is already what compaction leaves
    # (a first import of a big file), and a one-unit read skips the row groups of other units.
    first_rows = run(conn, "SELECT count(*) FROM kpi_daily")[0][0] == 0
    run(conn, f"CREATE OR REPLACE TEMP TABLE kpi_delta AS {daily_delta_sql}")
    _append(conn, "kpi_daily", columns, "SELECT * FROM kpi_delta", ordered=first_rows)
    _append(conn, "kpi_monthly", columns, _monthly_sql("kpi_delta", (), columns), ordered=first_rows)
    if histogram_delta_sql is not None:
        run(conn, f"CREATE OR REPLACE TEMP TABLE kpi_delta AS {histogram_delta_sql}")
        _append(conn, "kpi_processing_days", ("dossiers",), "SELECT * FROM kpi_delta", ordered=first_rows)
        monthly = _monthly_sql("kpi_delta", ("processing_days",), ("dossiers",))
        _append(conn, "kpi_processing_days_monthly", ("dossiers",), monthly, ordered=first_rows)
    run(conn, "DROP TABLE kpi_delta")
    if first_rows:
        _record_compacted(conn)


def _histogram_delta_sql(new: str, old: str | None) -> str:
    resolved = f"status IN ({in_list(RESOLVED_STATUSES)}) AND processing_days IS NOT NULL"
    parts = [f"SELECT unit_code, finished_day AS day, processing_days, 1 AS n FROM {new} WHERE {resolved}"]
    if old is not None:
        parts.append(f"SELECT unit_code, finished_day AS day, processing_days, -1 AS n FROM {old} WHERE {resolved}")
    union = " UNION ALL ".join(parts)
    return f"SELECT unit_code, day, processing_days, sum(n) AS dossiers FROM ({union}) GROUP BY ALL"


def aggregates_ready(db: Database) -> bool:
    """True while the aggregates match the stored items (see the module docstring)."""
    return db.scalar("SELECT value FROM meta WHERE key = 'kpi_aggregates'") == READY


def _ready(conn: duckdb.DuckDBPyConnection) -> bool:
    rows = run(conn, "SELECT value FROM meta WHERE key = 'kpi_aggregates'")
    return bool(rows) and rows[0][0] == READY


def refresh_aggregates(conn: duckdb.DuckDBPyConnection, target: str, keys_sql: str) -> None:
    """Move the aggregates from the stored contribution of some keys to their current rows (in the caller's transaction).

    ``target`` is "dossiers" or "hotline"; ``keys_sql`` a query whose one column holds the primary keys the
    batch merged. Keys whose rows did not change add and subtract the same contribution, so passing a key
    twice or unchanged is safe.
    """
    if not _ready(conn):
        return
    run(conn, f"CREATE OR REPLACE TEMP TABLE kpi_keys AS SELECT DISTINCT CAST(key AS VARCHAR) AS key FROM ({keys_sql}) AS k(key)")
    if not run(conn, "SELECT count(*) FROM kpi_keys")[0][0]:
        run(conn, "DROP TABLE kpi_keys")
        return
    params = {"tz": LOCAL_TIMEZONE}
    if target == "dossiers":
        run(
            conn,
            "CREATE OR REPLACE TEMP TABLE kpi_old AS SELECT * FROM kpi_dossier_facts WHERE dossier_id IN (SELECT key FROM kpi_keys)",
        )
        run(
            conn,
            "CREATE OR REPLACE TEMP TABLE kpi_new AS " + _dossier_facts_sql("AND d.dossier_id IN (SELECT key FROM kpi_keys)"),
            params,
        )
        _apply_delta(
            conn,
            DOSSIER_DAILY_COLUMNS,
            _delta_sql(_DOSSIER_EVENTS, "kpi_new", "kpi_old"),
            _histogram_delta_sql("kpi_new", "kpi_old"),
        )
        run(conn, "DELETE FROM kpi_dossier_facts WHERE dossier_id IN (SELECT key FROM kpi_keys)")
        run(conn, "INSERT INTO kpi_dossier_facts SELECT * FROM kpi_new")
    elif target == "hotline":
        run(
            conn,
            "CREATE OR REPLACE TEMP TABLE kpi_old AS SELECT * FROM kpi_hotline_facts WHERE ticket_id IN (SELECT key FROM kpi_keys)",
        )
        run(
            conn,
            "CREATE OR REPLACE TEMP TABLE kpi_new AS "
            + _HOTLINE_FACTS_SQL.format(key_filter="AND ticket_id IN (SELECT key FROM kpi_keys)"),
            params,
        )
        _apply_delta(conn, HOTLINE_DAILY_COLUMNS, _delta_sql(_HOTLINE_EVENTS, "kpi_new", "kpi_old"), None)
        run(conn, "DELETE FROM kpi_hotline_facts WHERE ticket_id IN (SELECT key FROM kpi_keys)")
        run(conn, "INSERT INTO kpi_hotline_facts SELECT * FROM kpi_new")
    else:
        raise ValueError(f"unknown target {target!r}")
    for table in ("kpi_keys", "kpi_old", "kpi_new"):
        run(conn, f"DROP TABLE IF EXISTS {table}")


def rebuild_aggregates(db: Database) -> None:
    """Recompute every fact and daily count from the stored items, in one transaction, and mark them ready.

    The tables a screen reads are written in unit order: DuckDB then skips every row group whose unit range
    leaves a unit out, which halves a one-unit read on a national store (compaction keeps that order too).
    """

    def rebuild(conn: duckdb.DuckDBPyConnection) -> None:
        params = {"tz": LOCAL_TIMEZONE}
        for table in AGGREGATE_TABLES:
            run(conn, f"DELETE FROM {table}")
        run(conn, "INSERT INTO kpi_dossier_facts " + _dossier_facts_sql(""), params)
        hotline_facts = _HOTLINE_FACTS_SQL.format(key_filter="")
        run(conn, f"INSERT INTO kpi_hotline_facts SELECT * FROM ({hotline_facts}) ORDER BY unit_code, answered_day", params)
        # Dossier and hotline days are summed together so each (unit, day) is inserted once.
        sums = ", ".join(f"sum({column}) AS {column}" for column in DAILY_COLUMNS)
        dossier = _contributions_sql(_DOSSIER_EVENTS, "kpi_dossier_facts", 1)
        hotline = _contributions_sql(_HOTLINE_EVENTS, "kpi_hotline_facts", 1)
        dossier_zeros = ", ".join(f"0 AS {column}" for column in HOTLINE_DAILY_COLUMNS)
        hotline_zeros = ", ".join(f"0 AS {column}" for column in DOSSIER_DAILY_COLUMNS)
        rows = f"""SELECT unit_code, day, {sums} FROM (
                SELECT *, {dossier_zeros} FROM ({dossier})
                UNION ALL BY NAME
                SELECT *, {hotline_zeros} FROM ({hotline})
            ) GROUP BY unit_code, day"""
        _append(conn, "kpi_daily", DAILY_COLUMNS, rows, ordered=True)
        _append(conn, "kpi_processing_days", ("dossiers",), _histogram_delta_sql("kpi_dossier_facts", None), ordered=True)
        _append(conn, "kpi_monthly", DAILY_COLUMNS, _monthly_sql("kpi_daily", (), DAILY_COLUMNS), ordered=True)
        monthly = _monthly_sql("kpi_processing_days", ("processing_days",), ("dossiers",))
        _append(conn, "kpi_processing_days_monthly", ("dossiers",), monthly, ordered=True)
        _set_meta(conn, "kpi_aggregates", READY)
        _record_compacted(conn)

    db.execute_write_fn(rebuild, bump_version=False)


# -- compaction ------------------------------------------------------------------------------------

_COMPACTED_ROWS = "kpi_daily_rows_when_compacted"
# Compact once kpi_daily has grown by this share of its compacted size plus this many rows: readers then
# sum at most about a quarter more rows than they need, and a quiet store is never compacted.
COMPACT_GROWTH = 0.25
COMPACT_SLACK_ROWS = 50_000


def _set_meta(conn: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    run(conn, "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])


def _record_compacted(conn: duckdb.DuckDBPyConnection) -> None:
    _set_meta(conn, _COMPACTED_ROWS, str(run(conn, "SELECT count(*) FROM kpi_daily")[0][0]))


def compacted_sql(table: str) -> str:
    """The rows of a count table as compaction leaves them: one per key, summed, none whose sums are all zero."""
    keys, columns = _COUNT_TABLES[table]
    key_list = ", ".join(keys)
    sums = ", ".join(f"sum({column}) AS {column}" for column in columns)
    return f"""SELECT {key_list}, {sums} FROM {table} GROUP BY {key_list}
        HAVING {_nonzero([f"sum({column})" for column in columns])} ORDER BY {key_list}"""


def compact_aggregates(conn: duckdb.DuckDBPyConnection) -> None:
    """One row per key in each count table again (in the caller's transaction); the sums do not change."""
    for table, (_, columns) in _COUNT_TABLES.items():
        run(conn, f"CREATE OR REPLACE TEMP TABLE kpi_compacted AS {compacted_sql(table)}")
        run(conn, f"DELETE FROM {table}")
        _append(conn, table, columns, "SELECT * FROM kpi_compacted", ordered=False)  # compacted_sql's order already
        run(conn, "DROP TABLE kpi_compacted")
    _record_compacted(conn)


def compact_aggregates_if_due(db: Database) -> bool:
    """Compact the count tables once ingests have appended enough rows to them (see COMPACT_GROWTH); True when it did.

    Called between runs, like the checkpoint: it holds the writer for a moment a run should not wait for.
    """
    rows, compacted = db.execute(
        "SELECT (SELECT count(*) FROM kpi_daily), (SELECT CAST(value AS BIGINT) FROM meta WHERE key = ?)", [_COMPACTED_ROWS]
    )[0]
    if rows <= (compacted or 0) * (1 + COMPACT_GROWTH) + COMPACT_SLACK_ROWS:
        return False
    db.execute_write_fn(compact_aggregates, bump_version=False)
    return True


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cuts:
    """Sorted distinct days at which cumulative counts are needed, and each day's position among them."""

    days: tuple[date, ...]

    def index(self, day: date) -> int:
        return self.days.index(day)

    def bucket_sql(self, column: str) -> str:
        # Bucket b holds days in [cut b-1, cut b): the number of cuts on or before the day.
        return " + ".join(f"CAST({column} >= DATE '{day.isoformat()}' AS INTEGER)" for day in self.days)

    def split_months(self) -> tuple[date, ...]:
        """First days of the months a cut falls inside of (not on their first day): those need daily rows."""
        return tuple(sorted({day.replace(day=1) for day in self.days if day.day != 1}))

    def rows_sql(self, daily: str, monthly: str, columns: str, unit_filter: str) -> str:
        """Rows (unit_code, day, columns) covering every day once: whole months from ``monthly``, split months from ``daily``.

        A month no cut falls inside of lies in one bucket, which its first day (the month row's ``day``) gives.
        """
        split = self.split_months()
        if not split:
            return f"SELECT unit_code, month AS day, {columns} FROM {monthly} WHERE TRUE {unit_filter}"
        months = ", ".join(f"DATE '{month.isoformat()}'" for month in split)
        in_split = " OR ".join(
            f"(day >= DATE '{month.isoformat()}' AND day < DATE '{shift_months(month, 1).isoformat()}')" for month in split
        )
        return f"""SELECT unit_code, month AS day, {columns} FROM {monthly} WHERE month NOT IN ({months}) {unit_filter}
            UNION ALL
            SELECT unit_code, day, {columns} FROM {daily} WHERE ({in_split}) {unit_filter}"""


def _cuts(periods: Sequence[Period]) -> _Cuts:
    return _Cuts(tuple(sorted({day for period in periods for day in (period.start, period.end)})))


def _units(db: Database, unit_code: str | None) -> pd.DataFrame:
    if unit_code is None:
        return db.query_df("SELECT unit_code, name, full_name, kind FROM units ORDER BY unit_code")
    return db.query_df("SELECT unit_code, name, full_name, kind FROM units WHERE unit_code = ?", [unit_code])


def _unit_params(unit_code: str | None) -> tuple[str, dict[str, Any] | None]:
    if unit_code is None:
        return "", None
    return "AND unit_code = $unit_code", {"unit_code": unit_code}


def _cumulative(db: Database, cuts: _Cuts, unit_index: pd.Index, unit_code: str | None) -> np.ndarray:
    """Array [unit, cut, column]: each daily column summed over days before each cut, per unit."""
    unit_filter, params = _unit_params(unit_code)
    columns = ", ".join(DAILY_COLUMNS)
    sums = ", ".join(f"sum({column}) AS {column}" for column in DAILY_COLUMNS)
    rows = cuts.rows_sql("kpi_daily", "kpi_monthly", columns, unit_filter)
    frame = db.query_df(f"SELECT unit_code, {cuts.bucket_sql('day')} AS bucket, {sums} FROM ({rows}) GROUP BY ALL", params)
    buckets = np.zeros((len(unit_index), len(cuts.days) + 1, len(DAILY_COLUMNS)), dtype=np.int64)
    if len(frame):
        positions = unit_index.get_indexer(pd.Index(frame["unit_code"]))
        known = positions >= 0
        np.add.at(
            buckets,
            (positions[known], frame["bucket"].to_numpy(dtype=np.int64)[known]),
            frame[list(DAILY_COLUMNS)].to_numpy(dtype=np.int64)[known],
        )
    # Before cut i: buckets 0 .. i (bucket i ends at cut i).
    return np.cumsum(buckets, axis=1)[:, : len(cuts.days), :]


def _histograms(db: Database, cuts: _Cuts, unit_index: pd.Index, unit_code: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(values, array [unit, cut, value]) of resolved dossiers per processing-days value, cumulative by finished day."""
    unit_filter, params = _unit_params(unit_code)
    rows = cuts.rows_sql("kpi_processing_days", "kpi_processing_days_monthly", "processing_days, dossiers", unit_filter)
    frame = db.query_df(
        f"""SELECT unit_code, {cuts.bucket_sql("day")} AS bucket, processing_days AS value, sum(dossiers) AS dossiers
            FROM ({rows}) GROUP BY ALL HAVING sum(dossiers) <> 0""",
        params,
    )
    if not len(frame):
        return np.zeros(0, dtype=np.int64), np.zeros((len(unit_index), len(cuts.days), 0), dtype=np.int64)
    values = np.sort(frame["value"].unique())
    counts = np.zeros((len(unit_index), len(cuts.days) + 1, len(values)), dtype=np.int64)
    positions = unit_index.get_indexer(pd.Index(frame["unit_code"]))
    known = positions >= 0
    np.add.at(
        counts,
        (
            positions[known],
            frame["bucket"].to_numpy(dtype=np.int64)[known],
            np.searchsorted(values, frame["value"].to_numpy()[known]),
        ),
        frame["dossiers"].to_numpy(dtype=np.int64)[known],
    )
    return values, np.cumsum(counts, axis=1)[:, : len(cuts.days), :]


def _quantile_from_histogram(values: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """quantile_cont (linear interpolation between order statistics) per row of ``counts`` [rows, values]; NaN when empty."""
    rows = counts.shape[0]
    if counts.shape[1] == 0:
        return np.full(rows, np.nan)
    total = counts.sum(axis=1)
    cumulative = np.cumsum(counts, axis=1)
    position = (np.maximum(total, 1) - 1) * q
    lower_rank = np.floor(position).astype(np.int64)
    upper_rank = np.ceil(position).astype(np.int64)
    # The value at 0-based rank k is the first value whose cumulative count exceeds k.
    lower = values[np.minimum((cumulative <= lower_rank[:, None]).sum(axis=1), len(values) - 1)].astype(float)
    upper = values[np.minimum((cumulative <= upper_rank[:, None]).sum(axis=1), len(values) - 1)].astype(float)
    result = lower + (position - lower_rank) * (upper - lower)
    return np.where(total > 0, result, np.nan)


def _response_hours_medians(db: Database, periods: Sequence[Period], unit_index: pd.Index, unit_code: str | None) -> np.ndarray:
    """Array [period, unit then the scope total]: quantile_cont(hours, 0.5) of tickets answered in each period; NaN if none.

    DuckDB's own quantile_cont, as kpis.sql's, over one narrow row per ticket: sorting the year's tickets per unit
    in numpy took half the city snapshot.
    """
    # The units the counts have rows for (unit_index): one unit, or every unit the store knows.
    if unit_code is None:
        units, params = "f.unit_code IN (SELECT unit_code FROM units)", None
    else:
        units, params = "f.unit_code = $unit_code", {"unit_code": unit_code}
    bounds = ", ".join(
        f"({number}, DATE '{period.start.isoformat()}', DATE '{period.end.isoformat()}')" for number, period in enumerate(periods)
    )
    frame = db.query_df(
        f"""SELECT p.number, f.unit_code, quantile_cont(f.response_seconds / 3600.0, 0.5) AS median
            FROM kpi_hotline_facts f
            JOIN (VALUES {bounds}) AS p(number, period_start, period_end)
              ON f.answered_day >= p.period_start AND f.answered_day < p.period_end
            WHERE {units}
            GROUP BY GROUPING SETS ((p.number, f.unit_code), (p.number))""",
        params,
    )
    medians = np.full((len(periods), len(unit_index) + 1), np.nan)
    totals = frame["unit_code"].isna().to_numpy()
    rows = np.where(totals, len(unit_index), unit_index.get_indexer(pd.Index(frame["unit_code"])))
    known = rows >= 0
    medians[frame["number"].to_numpy(dtype=np.int64)[known], rows[known]] = frame["median"].to_numpy(dtype=float)[known]
    return medians


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """A rate per unit as an object array: None where the denominator is 0 (DESIGN §4), else a float."""
    result = np.full(len(numerator), None, dtype=object)
    has = denominator != 0
    result[has] = (numerator[has] / denominator[has]).tolist()
    return result


def _optional(values: np.ndarray) -> np.ndarray:
    result = np.full(len(values), None, dtype=object)
    has = ~np.isnan(values)
    result[has] = values[has].tolist()
    return result


def _figures(
    cumulative: np.ndarray, cuts: _Cuts, period: Period, working_days: int, next_working_day: date | None
) -> dict[str, np.ndarray]:
    """Every §4 count and rate (no medians) for each row of ``cumulative`` [rows, cut, column]."""
    start, end = cuts.index(period.start), cuts.index(period.end)
    column = {name: index for index, name in enumerate(DAILY_COLUMNS)}

    def before(name: str, cut: int) -> np.ndarray:
        return cumulative[:, cut, column[name]]

    def within(name: str) -> np.ndarray:
        return before(name, end) - before(name, start)

    c: dict[str, np.ndarray] = {}
    c["carried_over"] = before("received", start) - before("finished", start)
    for name in ("received", "received_online", "received_in_person", "received_postal"):
        c[name] = within(name)
    c["to_process"] = c["carried_over"] + c["received"]
    for name in ("resolved", "resolved_early", "resolved_on_time", "resolved_late", "withdrawn", "stopped"):
        c[name] = within(name)
    c["in_progress"] = before("received", end) - before("finished", end)
    c["in_progress_overdue"] = before("overdue_start", end) - before("overdue_end", end)
    c["in_progress_within"] = c["in_progress"] - c["in_progress_overdue"]
    # The at-risk interval already encodes "due no later than the first working day on or after to";
    # without such a day (past the calendar) kpis.sql counts none.
    at_risk = before("at_risk_start", end) - before("at_risk_end", end)
    c["at_risk"] = at_risk if next_working_day is not None else np.zeros_like(at_risk)
    open_few = before("received_few_supplements", end) - before("finished_few_supplements", end)
    overdue_few = before("overdue_start_few_supplements", end) - before("overdue_end_few_supplements", end)
    c["progress_766_on_time"] = within("finished_766_on_time") + open_few - overdue_few
    c["received_with_fee"] = within("received_with_fee")
    c["received_paid_online"] = within("received_paid_online")
    c["resolved_digitized"] = within("resolved_digitized")
    for name in (
        "hotline_received",
        "hotline_answered",
        "hotline_answered_on_time",
        "hotline_answered_late",
        "hotline_rated",
        "hotline_satisfied",
        "hotline_unsatisfied_on_time",
    ):
        c[name] = within(name)
    c["hotline_open"] = before("hotline_received", end) - before("hotline_answered", end)
    c["hotline_open_overdue"] = before("hotline_overdue_start", end) - before("hotline_overdue_end", end)
    c["hotline_open_within"] = c["hotline_open"] - c["hotline_open_overdue"]
    c["working_days"] = np.full(cumulative.shape[0], working_days, dtype=np.int64)
    # The same formulas as kpis.compute.derive (tests/test_kpi_equality.py holds them equal).
    c["on_time_rate"] = _ratio(c["resolved_early"] + c["resolved_on_time"], c["resolved"])
    c["late_rate"] = _ratio(c["resolved_late"] + c["in_progress_overdue"], c["to_process"])
    c["backlog_rate"] = _ratio(c["in_progress_overdue"], c["in_progress"])
    c["throughput_per_day"] = _ratio(c["resolved"], c["working_days"])
    c["progress_rate_766"] = _ratio(c["progress_766_on_time"], c["to_process"])
    c["online_rate"] = _ratio(c["received_online"], c["received"])
    c["online_payment_rate"] = _ratio(c["received_paid_online"], c["received_with_fee"])
    c["digitization_rate"] = _ratio(c["resolved_digitized"], c["resolved"])
    c["hotline_on_time_rate"] = _ratio(c["hotline_answered_on_time"], c["hotline_answered"])
    c["hotline_satisfaction_rate"] = _ratio(c["hotline_satisfied"], c["hotline_rated"])
    return c


@dataclass
class Snapshot:
    """One period's figures: the scope total (as compute() returns it) and one row per unit (as compute_by_unit())."""

    period: Period
    total: dict[str, Any]
    by_unit: pd.DataFrame


def snapshot_from_aggregates(db: Database, periods: Sequence[Period], unit_code: str | None = None) -> list[Snapshot]:
    """compute() and compute_by_unit() for every period at once, from the aggregates (one pass per table).

    With ``unit_code`` the scope is that unit: ``total`` is compute(db, period, unit_code) and
    ``by_unit`` has its one row. Raises RuntimeError when the aggregates are not ready.
    """
    if not aggregates_ready(db):
        raise RuntimeError("the KPI aggregates are not ready: run kpis.aggregates.rebuild_aggregates(db)")
    cuts = _cuts(periods)
    units = _units(db, unit_code)
    if unit_code is not None and units.empty:
        units = pd.DataFrame({"unit_code": [unit_code], "name": [None], "full_name": [None], "kind": [None]})
    unit_index = pd.Index(units["unit_code"])
    cumulative = _cumulative(db, cuts, unit_index, unit_code)
    values, histograms = _histograms(db, cuts, unit_index, unit_code)
    response_hours = _response_hours_medians(db, periods, unit_index, unit_code)
    # Stack the scope total under the units: counts and histograms both add up across units.
    cumulative = np.concatenate([cumulative, cumulative.sum(axis=0, keepdims=True)])
    histograms = np.concatenate([histograms, histograms.sum(axis=0, keepdims=True)])
    result = []
    for period, response_hours_median in zip(periods, response_hours, strict=True):
        working_days, next_working_day = period_calendar(db, period)
        figures = _figures(cumulative, cuts, period, working_days, next_working_day)
        start, end = cuts.index(period.start), cuts.index(period.end)
        in_period = histograms[:, end, :] - histograms[:, start, :]
        figures["processing_days_median"] = _optional(_quantile_from_histogram(values, in_period, 0.5))
        figures["processing_days_p90"] = _optional(_quantile_from_histogram(values, in_period, 0.9))
        figures["hotline_response_hours_median"] = _optional(response_hours_median)
        total = {kpi_id: _plain(figures[kpi_id][-1]) for kpi_id in OUTPUT_IDS}
        data: dict[str, Any] = {
            kpi_id: pd.Series(figures[kpi_id][:-1], dtype="int64" if kpi_id in COUNT_IDS else object) for kpi_id in OUTPUT_IDS
        }
        for column in UNIT_COLUMNS:
            data[column] = pd.Series(units[column].to_numpy(dtype=object), dtype=object)
        frame = pd.DataFrame(data, columns=[*OUTPUT_IDS, *UNIT_COLUMNS])
        frame.index = pd.Index(unit_index, name="unit_code")
        result.append(Snapshot(period, total, frame))
    return result


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def compute_from_aggregates(db: Database, period: Period, unit_code: str | None = None) -> dict[str, Any]:
    """The same dict as kpis.compute.compute, read from the aggregates."""
    return snapshot_from_aggregates(db, [period], unit_code)[0].total


def compute_by_unit_from_aggregates(db: Database, period: Period) -> pd.DataFrame:
    """The same frame as kpis.compute.compute_by_unit, read from the aggregates."""
    return snapshot_from_aggregates(db, [period])[0].by_unit
