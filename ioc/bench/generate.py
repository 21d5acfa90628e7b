"""A synthetic national store (all 3,321 communes) drawn by the simulator and bulk-loaded into DuckDB in large chunks.

The bench store deliberately bypasses the per-row connector path (normalise → merge → events): pushing
10 M rows one dict at a time through ``connectors.base.write_batch`` would take hours. Its rows still
obey the canonical rules, because they are the simulator's own lifecycles, whose rows pass the normaliser
on the live path: every ended dossier has finished_at, no open one has; finished ≥ received, returned ≥
finished, due dates from legal_days on the working-day calendar; answered tickets have answered_at ≥
received_at; unit and procedure codes exist. ``dossier_events`` is not filled (no KPI reads it).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

import duckdb
import numpy as np
import pandas as pd

from connectors.simulator import (
    ABSENT,
    END_SLOT,
    HOTLINE_CHANNEL_SHARES,
    HOTLINE_PER_DAY,
    HOTLINE_SLOT_COUNT,
    HOTLINE_TITLE_LIST,
    HOTLINE_URGENCY_SHARES,
    NON_WORKING_DAY_ONLINE_FACTOR,
    RETURN_SLOT,
    SLOT_COUNT,
    SLOT_STATUS_INDEX,
    STATUS_INDEX,
    STATUS_NAMES,
    WEEKDAY_FACTOR,
    Simulator,
)
from ioc.calendar import WorkingCalendar, calendar_from_store
from ioc.config import PROJECT_ROOT
from ioc.db import Database
from ioc.store import open_store
from ioc.timeutil import local_date, now_utc
from kpis.period import shift_months

NATIONAL_UNITS_CSV = PROJECT_ROOT / "data" / "sample" / "vn_wards_2025.csv"
DEFAULT_BENCH_DB = PROJECT_ROOT / "data" / "bench-national.duckdb"
UNIT_KINDS = {"Phường": "phuong", "Xã": "xa", "Đặc khu": "dac_khu"}
CHUNK_ROWS = 1_000_000
SOURCE = "bench"
HOTLINE_STATUS_NAMES = ("new", "processing", "forwarded", "answered", "rejected")
# Ticket lifecycle slot → index into HOTLINE_STATUS_NAMES (slots 3 and 4 are both "answered"; 4 = rated).
HOTLINE_SLOT_STATUS_INDEX = np.array([0, 1, 2, 3, 3], dtype=np.int8)


@dataclass
class GenerationResult:
    dossiers: int
    tickets: int
    units: int
    first_day: date
    last_day: date
    seconds_generate: float
    seconds_aggregates: float


def read_national_units(path: Path = NATIONAL_UNITS_CSV) -> pd.DataFrame:
    """All communes as ``units`` rows (unit_code, name, full_name, name_en, kind, province_code)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "unit_code": raw["ward_code"],
            "name": raw["name"],
            "full_name": raw["full_name"],
            "name_en": raw["full_name_en"],
            "kind": raw["unit_type"].map(UNIT_KINDS).fillna("other"),
            "province_code": raw["province_code"],
        }
    )


class _Progress:
    """One self-overwriting status line on stderr."""

    def __init__(self, stream: TextIO, total: int, label: str) -> None:
        self.stream, self.total, self.label = stream, max(total, 1), label
        self.started = time.perf_counter()
        self._last = 0.0

    def update(self, done: int, note: str = "", force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        share = min(done / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{self.label:9} [{bar:<30}] {done:>11,} ~{share:4.0%} {now - self.started:6.1f} s {note:<12}")
        self.stream.flush()

    def finish(self, done: int) -> None:
        self.update(done, "done", force=True)
        self.stream.write("\n")
        self.stream.flush()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _expected_dossiers(simulator: Simulator, days: list[date], calendar: WorkingCalendar) -> float:
    """The mean number of dossiers the simulator draws over ``days`` (the Poisson rates of _generate_dossier_day)."""
    units = simulator._units
    working_rate = float(units.daily_dossiers.sum())
    off_rate = float((units.daily_dossiers * units.online_share).sum()) * NON_WORKING_DAY_ONLINE_FACTOR
    return sum(working_rate * WEEKDAY_FACTOR[day.weekday()] if calendar.is_working_day(day) else off_rate for day in days)


def _dossier_frame(simulator: Simulator, day: date, now: int, unit_offset: int) -> pd.DataFrame:
    """The state at ``now`` of the dossiers the simulator draws for ``day``, as numeric columns.

    Mirrors Simulator._dossier_rows_of_day (since=None) column by column, without building a dict per row.
    """
    data = simulator._generate_dossier_day(day)
    selected = data.received <= now
    if not selected.any():
        return pd.DataFrame()
    times = data.times[selected]
    reached = times <= now
    last_slot = (reached * np.arange(1, SLOT_COUNT + 1)).max(axis=1) - 1
    end_status = data.end_status[selected]
    status = SLOT_STATUS_INDEX[last_slot]
    status = np.where(last_slot == 1, data.accept_status[selected], status)
    status = np.where(last_slot == END_SLOT, end_status, status)
    resolved = reached[:, END_SLOT] & (end_status == STATUS_INDEX["resolved"])
    unit = data.unit[selected]
    # The simulator numbers each unit's dossiers of the day in received order (its ids' last part).
    all_units = data.unit
    sequence = (np.arange(len(all_units)) - np.searchsorted(all_units, all_units, side="left") + 1)[selected]
    due = data.due[selected]
    return pd.DataFrame(
        {
            "unit_index": unit + unit_offset,
            "sequence": sequence,
            "stamp": np.full(len(unit), day.strftime("%y%m%d")),
            "procedure_index": data.procedure[selected],
            "channel_index": data.channel[selected],
            "received": data.received[selected],
            "due": due,
            "finished": np.where(reached[:, END_SLOT], times[:, END_SLOT], ABSENT),
            "returned": np.where(reached[:, RETURN_SLOT], times[:, RETURN_SLOT], ABSENT),
            "status_index": status,
            "supplement_count": reached[:, 3].astype(np.int64) + reached[:, 5],
            "paused_seconds": np.where(reached[:, 4], times[:, 4] - times[:, 3], 0)
            + np.where(reached[:, 6], times[:, 6] - times[:, 5], 0),
            "extended": data.extended[selected] & (now > due),
            "paid_online": data.paid_online[selected],
            "digitized": data.digitized[selected],
            "e_result": data.e_result[selected] & resolved,
            "is_proactive": data.proactive[selected],
            "updated": times[np.arange(len(times)), last_slot],
        }
    )


def _hotline_frame(simulator: Simulator, day: date, now: int, unit_offset: int, keep: float) -> pd.DataFrame:
    """The state at ``now`` of a ``keep`` share of the tickets the simulator draws for ``day`` (mirrors _hotline_rows_of_day)."""
    data = simulator._generate_hotline_day(day)
    rng = np.random.default_rng([simulator.seed, 3, day.toordinal()])
    sequence_all = np.arange(1, len(data) + 1)
    selected = (data.received <= now) & (rng.random(len(data)) < keep)
    if not selected.any():
        return pd.DataFrame()
    times = data.times[selected]
    reached = times <= now
    last_slot = (reached * np.arange(1, HOTLINE_SLOT_COUNT + 1)).max(axis=1) - 1
    rejected = data.rejected[selected]
    status = np.where((last_slot == 3) & rejected, 4, HOTLINE_SLOT_STATUS_INDEX[last_slot])
    answered = reached[:, 3] & ~rejected
    return pd.DataFrame(
        {
            "unit_index": data.unit[selected] + unit_offset,
            "sequence": sequence_all[selected],
            "stamp": np.full(int(selected.sum()), day.strftime("%y%m%d")),
            "channel_index": data.channel[selected],
            "title_index": data.title[selected],
            "urgency_index": data.urgency[selected],
            "received": data.received[selected],
            "forwarded": np.where(reached[:, 2], times[:, 2], ABSENT),
            "due": data.due[selected],
            "answered": np.where(answered, times[:, 3], ABSENT),
            "status_index": status,
            "published": data.published[selected] & answered,
            "rating_index": np.where(reached[:, 4], data.rating[selected], -1),
            "lat": data.lat[selected],
            "lon": data.lon[selected],
            "updated": times[np.arange(len(times)), last_slot],
        }
    )


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    # Code constants (status, channel, urgency names), inlined as a DuckDB list literal; quotes doubled.
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _timestamp(column: str) -> str:
    return f"CASE WHEN {column} = {ABSENT} THEN NULL ELSE to_timestamp({column}) END"


INSERT_DOSSIERS = f"""
INSERT INTO dossiers
SELECT
    'H' || u.province_code || '.' || u.unit_code || '-' || c.stamp || '-' || printf('%04d', c.sequence),
    '{SOURCE}', u.unit_code, p.procedure_code, p.sector,
    {_sql_list(["online", "in_person", "postal"])}[c.channel_index + 1],
    to_timestamp(c.received), {_timestamp("c.due")}, {_timestamp("c.finished")}, {_timestamp("c.returned")},
    {_sql_list(list(STATUS_NAMES))}[c.status_index + 1],
    c.supplement_count, c.paused_seconds, c.extended, c.paid_online, c.digitized, c.e_result, c.is_proactive,
    to_timestamp(c.updated), $ingested_at
FROM bench_chunk c
JOIN bench_units u ON u.unit_index = c.unit_index
JOIN bench_procedures p ON p.procedure_index = c.procedure_index
"""

INSERT_TICKETS = f"""
INSERT INTO hotline_tickets
SELECT
    'PA' || u.province_code || '-' || c.stamp || '-' || printf('%05d', c.sequence),
    '{SOURCE}',
    {_sql_list(list(HOTLINE_CHANNEL_SHARES))}[c.channel_index + 1],
    t.field,
    {_sql_list(list(HOTLINE_URGENCY_SHARES))}[c.urgency_index + 1],
    u.unit_code,
    to_timestamp(c.received), {_timestamp("c.forwarded")}, to_timestamp(c.due), {_timestamp("c.answered")},
    {_sql_list(list(HOTLINE_STATUS_NAMES))}[c.status_index + 1],
    c.published,
    CASE WHEN c.rating_index >= 0 THEN ['satisfied', 'acceptable', 'unsatisfied'][c.rating_index + 1] END,
    t.title,
    -- The simulator's coordinates are boxes inside Đà Nẵng; elsewhere a ticket has no location rather than a wrong one.
    CASE WHEN u.province_code = '48' THEN c.lat END,
    CASE WHEN u.province_code = '48' THEN c.lon END,
    to_timestamp(c.updated), $ingested_at
FROM bench_chunk c
JOIN bench_units u ON u.unit_index = c.unit_index
JOIN bench_titles t ON t.title_index = c.title_index
"""


def _insert_chunk(conn: duckdb.DuckDBPyConnection, sql: str, frames: list[pd.DataFrame], ingested_at: datetime) -> int:
    chunk = pd.concat(frames, ignore_index=True)
    conn.register("bench_chunk", chunk)
    try:
        conn.execute(sql, {"ingested_at": ingested_at}).fetchall()
    finally:
        conn.unregister("bench_chunk")
    return len(chunk)


def _load_lookups(conn: duckdb.DuckDBPyConnection, units: pd.DataFrame, procedures: pd.DataFrame) -> None:
    conn.register("units_frame", units.assign(unit_index=np.arange(len(units)))[["unit_index", "unit_code", "province_code"]])
    conn.register("procedures_frame", procedures.assign(procedure_index=np.arange(len(procedures))))
    titles = pd.DataFrame(
        {
            "title_index": np.arange(len(HOTLINE_TITLE_LIST)),
            "field": [field for field, _ in HOTLINE_TITLE_LIST],
            "title": [title for _, title in HOTLINE_TITLE_LIST],
        }
    )
    conn.register("titles_frame", titles)
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE bench_units AS SELECT * FROM units_frame")
        conn.execute(
            "CREATE OR REPLACE TEMP TABLE bench_procedures AS SELECT procedure_index, procedure_code, sector FROM procedures_frame"
        )
        conn.execute("CREATE OR REPLACE TEMP TABLE bench_titles AS SELECT * FROM titles_frame")
    finally:
        for name in ("units_frame", "procedures_frame", "titles_frame"):
            conn.unregister(name)


def generate_national(
    path: str | Path,
    *,
    dossiers: int = 10_000_000,
    tickets: int = 2_000_000,
    months: int = 18,
    seed: int = 42,
    now: datetime | None = None,
    stream: TextIO = sys.stderr,
    on_store: Callable[[Database], None] | None = None,
) -> GenerationResult:
    """Write a national bench store at ``path`` (which must be new or empty) and build its KPI aggregates.

    One Simulator per province (each province runs its own one-stop system), seeded from ``seed`` and the
    province code, its units' daily volumes scaled so the whole country draws about ``dossiers`` dossiers
    over ``months`` months up to ``now``; a ``tickets``-sized share of the simulated hotline tickets is kept.
    """
    from kpis.aggregates import rebuild_aggregates

    started = time.perf_counter()
    now = now or now_utc()
    now_seconds = int(now.timestamp())
    last_day = local_date(now)
    first_day = shift_months(last_day, -months)
    days = _days(first_day, last_day)
    db = open_store(path)
    try:
        if db.scalar("SELECT count(*) FROM dossiers") or db.scalar("SELECT count(*) FROM hotline_tickets"):
            raise ValueError(f"{path} already holds dossiers or tickets: give a new --db path for the bench store")
        national = read_national_units()
        db.execute_write_fn(lambda conn: _insert_units(conn, national))
        units = db.query_df("SELECT unit_code, kind, province_code FROM units WHERE kind <> 'province' ORDER BY unit_code")
        procedures = db.query_df(
            "SELECT procedure_code, name, sector, legal_days, online, has_fee FROM procedures ORDER BY procedure_code"
        )
        calendar = calendar_from_store(db)
        simulators: list[tuple[Simulator, int]] = []
        offset = 0
        for province, members in units.groupby("province_code", sort=True):
            members = members.reset_index(drop=True)
            simulator = Simulator(members, procedures, calendar, seed=seed * 1000 + int(str(province)), now=lambda: now)
            simulators.append((simulator, offset))
            offset += len(members)
        # Units are numbered province by province in the order of `units` grouped, so rebuild that order.
        ordered = pd.concat([members for _, members in units.groupby("province_code", sort=True)], ignore_index=True)

        expected = sum(_expected_dossiers(simulator, days, calendar) for simulator, _ in simulators)
        for simulator, _ in simulators:
            simulator._units.daily_dossiers = simulator._units.daily_dossiers * (dossiers / expected)
        working_days = sum(calendar.is_working_day(day) for day in days)
        expected_tickets = len(simulators) * (
            working_days * HOTLINE_PER_DAY["working"] + (len(days) - working_days) * HOTLINE_PER_DAY["day_off"]
        )
        keep = min(1.0, tickets / expected_tickets)
        if tickets > expected_tickets:
            stream.write(
                f"note: the simulator draws about {expected_tickets:,.0f} tickets in {months} months; keeping all of them\n"
            )

        ingested_at = now_utc()
        # The bench load is the only writer of a store nobody else has open: its own cursor, no per-batch transactions.
        writer = db._root.cursor()
        writer.execute("SET TimeZone = 'UTC'")
        _load_lookups(writer, ordered, procedures)
        # Secondary indexes are cheaper built once after the load than kept up to date row by row.
        writer.execute("DROP INDEX IF EXISTS dossiers_unit")
        writer.execute("DROP INDEX IF EXISTS hotline_unit")
        written_dossiers = _load(
            stream, "dossiers", dossiers, days, simulators, writer, INSERT_DOSSIERS, ingested_at,
            lambda sim, day, off: _dossier_frame(sim, day, now_seconds, off),
        )  # fmt: skip
        written_tickets = _load(
            stream, "tickets", tickets, days, simulators, writer, INSERT_TICKETS, ingested_at,
            lambda sim, day, off: _hotline_frame(sim, day, now_seconds, off, keep),
        )  # fmt: skip
        stream.write("indexes   ...")
        stream.flush()
        writer.execute("CREATE INDEX dossiers_unit ON dossiers (unit_code)")
        writer.execute("CREATE INDEX hotline_unit ON hotline_tickets (unit_code)")
        writer.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'")
        seconds_generate = time.perf_counter() - started
        stream.write(f" done {seconds_generate:.1f} s\naggregates ...")
        stream.flush()
        aggregates_started = time.perf_counter()
        rebuild_aggregates(db)
        seconds_aggregates = time.perf_counter() - aggregates_started
        stream.write(f" done {seconds_aggregates:.1f} s\n")
        summary = {
            "dossiers": written_dossiers,
            "tickets": written_tickets,
            "months": months,
            "seed": seed,
            "seconds_load": round(seconds_generate, 1),
            "seconds_aggregates": round(seconds_aggregates, 1),
        }
        # Kept in the store so `bench kpi` can report how the store was made.
        db.execute_write(
            "INSERT INTO meta VALUES ('bench_generation', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [json.dumps(summary)],
        )
        if on_store is not None:
            on_store(db)
        return GenerationResult(
            written_dossiers, written_tickets, len(ordered), first_day, last_day, seconds_generate, seconds_aggregates
        )
    finally:
        db.close()


def _insert_units(conn: duckdb.DuckDBPyConnection, national: pd.DataFrame) -> None:
    conn.register("national_units", national)
    try:
        conn.execute(
            """INSERT INTO units (unit_code, name, full_name, name_en, kind, province_code)
               SELECT unit_code, name, full_name, name_en, kind, province_code FROM national_units
               WHERE unit_code NOT IN (SELECT unit_code FROM units)"""
        )
    finally:
        conn.unregister("national_units")


def _load(
    stream: TextIO,
    label: str,
    target: int,
    days: list[date],
    simulators: list[tuple[Simulator, int]],
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    ingested_at: datetime,
    frame_of: Callable[[Simulator, date, int], pd.DataFrame],
) -> int:
    """Draw day by day (every province), inserting a chunk whenever CHUNK_ROWS rows are pending."""
    progress = _Progress(stream, target, label)
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    written = 0
    for day in days:
        for simulator, offset in simulators:
            frame = frame_of(simulator, day, offset)
            if len(frame):
                pending.append(frame)
                pending_rows += len(frame)
        if pending_rows >= CHUNK_ROWS:
            written += _insert_chunk(conn, sql, pending, ingested_at)
            pending, pending_rows = [], 0
        progress.update(written + pending_rows, day.isoformat())
    if pending:
        written += _insert_chunk(conn, sql, pending, ingested_at)
    progress.finish(written)
    return written


__all__ = ["DEFAULT_BENCH_DB", "GenerationResult", "generate_national", "read_national_units"]
