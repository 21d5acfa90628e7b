"""Every KPI computed three ways on random stores (hypothesis): scanning engine, pandas reference, aggregates."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import DOSSIERS, HOTLINE, Batch, ingest_batches
from ioc.db import Database
from ioc.model import DOSSIER_STATUSES, HOTLINE_RATINGS, HOTLINE_STATUSES
from ioc.store import open_store, tidy_between_runs
from ioc.timeutil import LOCAL_TZ
from kpis import OUTPUT_IDS, Period, aggregates, compute, compute_by_unit
from kpis import reference_pandas as reference
from kpis.aggregates import (
    AGGREGATE_TABLES,
    aggregates_ready,
    compact_aggregates,
    compact_aggregates_if_due,
    compacted_sql,
    rebuild_aggregates,
    snapshot_from_aggregates,
)
from kpis.period import named_period

UNITS = ("20194", "20197", "20200")
PROCEDURES = (None, "1.001193", "1.001022")  # none (no due date unless given), free, with a fee
# Tết 2026 (16–20 Feb), and 2025's make-up Saturday 26 Apr before the 30 Apr – 1 May holidays.
ANCHORS = (date(2026, 2, 14), date(2025, 4, 26), date(2025, 12, 31))
# Seconds after local midnight: the edges of the day, office hours, and 17:00 (computed due times).
CLOCKS = (0, 1, 8 * 3600, 17 * 3600, 86399)
ENDED = {status.name for status in DOSSIER_STATUSES if status.ended}


def local(day: date, seconds: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ) + timedelta(seconds=seconds)


@st.composite
def moments(draw: st.DrawFn, anchor: date) -> datetime:
    return local(anchor + timedelta(days=draw(st.integers(-25, 25))), draw(st.sampled_from(CLOCKS)))


@st.composite
def later(draw: st.DrawFn, start: datetime) -> datetime:
    """An instant on or after ``start``: the same day (possibly the same second) or some days later."""
    days = draw(st.integers(0, 20))
    if days == 0:
        return start + timedelta(seconds=draw(st.sampled_from((0, 1, 3600))))
    day = start.astimezone(LOCAL_TZ).date() + timedelta(days=days)
    return local(day, draw(st.sampled_from(CLOCKS)))


@st.composite
def dossier_rows(draw: st.DrawFn, dossier_id: str, anchor: date) -> list[dict[str, Any]]:
    """One to three versions of a dossier (later updated_at wins on merge), each obeying the canonical rules."""
    received = draw(moments(anchor))
    base = {
        "dossier_id": dossier_id,
        "unit_code": draw(st.sampled_from(UNITS)),
        "procedure_code": draw(st.sampled_from(PROCEDURES)),
        "channel": draw(st.sampled_from(("online", "in_person", "postal"))),
        "received_at": received.isoformat(),
        "paid_online": draw(st.booleans()),
        "digitized": draw(st.booleans()),
        "e_result": draw(st.booleans()),
    }
    if draw(st.booleans()):
        due_day = received.astimezone(LOCAL_TZ).date() + timedelta(days=draw(st.integers(0, 12)))
        base["due_at"] = local(due_day, draw(st.sampled_from(CLOCKS))).isoformat()
    versions = []
    updated = received
    for _ in range(draw(st.integers(1, 3))):
        status = draw(st.sampled_from([status.name for status in DOSSIER_STATUSES]))
        row: dict[str, Any] = dict(base, status=status)
        row["supplement_count"] = draw(st.integers(0, 3))
        row["paused_seconds"] = draw(st.sampled_from((0, 1, 3600, 86400, 4 * 86400)))
        if status in ENDED:
            row["finished_at"] = draw(later(received)).isoformat()
        updated = updated + timedelta(minutes=draw(st.integers(0, 600)))
        row["updated_at"] = updated.isoformat()
        versions.append(row)
    return versions


@st.composite
def ticket_rows(draw: st.DrawFn, ticket_id: str, anchor: date) -> list[dict[str, Any]]:
    received = draw(moments(anchor))
    base = {
        "ticket_id": ticket_id,
        "unit_code": draw(st.sampled_from(UNITS)),
        "received_at": received.isoformat(),
        "urgency": draw(st.sampled_from(("urgent", "quick", "normal"))),
    }
    if draw(st.booleans()):
        # Hotline due dates are not checked against receipt, so one may even come first.
        base["due_at"] = local(
            received.astimezone(LOCAL_TZ).date() + timedelta(days=draw(st.integers(-1, 6))), 17 * 3600
        ).isoformat()
    versions = []
    updated = received
    for _ in range(draw(st.integers(1, 2))):
        status = draw(st.sampled_from(HOTLINE_STATUSES))
        row = dict(base, status=status, rating=draw(st.sampled_from((None, *HOTLINE_RATINGS))))
        if status == "answered" or (status == "rejected" and draw(st.booleans())):
            row["answered_at"] = draw(later(received)).isoformat()
        updated = updated + timedelta(minutes=draw(st.integers(0, 600)))
        row["updated_at"] = updated.isoformat()
        versions.append(row)
    return versions


@st.composite
def stores(draw: st.DrawFn) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]], list[Period]]:
    anchor = draw(st.sampled_from(ANCHORS))
    dossiers = [draw(dossier_rows(f"D{i}", anchor)) for i in range(draw(st.integers(0, 25)))]
    tickets = [draw(ticket_rows(f"T{i}", anchor)) for i in range(draw(st.integers(0, 12)))]
    periods = []
    for _ in range(2):
        start = anchor + timedelta(days=draw(st.integers(-30, 30)))
        periods.append(Period(start, start + timedelta(days=draw(st.integers(1, 45)))))
    today = anchor + timedelta(days=draw(st.integers(-10, 10)))
    periods.append(named_period(draw(st.sampled_from(("today", "this_week", "this_month", "last_month"))), today))
    return dossiers, tickets, periods


def batches_of(target: Any, items: list[list[dict[str, Any]]]) -> Iterator[Batch]:
    """First versions in one batch, then each later version in its own batch (merges that change status)."""
    yield Batch(target, [versions[0] for versions in items])
    for round_ in (1, 2):
        rows = [versions[round_] for versions in items if len(versions) > round_]
        if rows:
            yield Batch(target, rows)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = open_store(Path(tmp_path_factory.mktemp("equality")) / "store.duckdb")
    yield db
    db.close()


def _reset(db: Database) -> None:
    def clear(conn: Any) -> None:
        for table in ("dossiers", "hotline_tickets", "dossier_events", *AGGREGATE_TABLES):
            conn.execute(f"DELETE FROM {table}")

    db.execute_write_fn(clear)


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return bool(a == b)


def assert_same(expected: Mapping[Any, Any], actual: Mapping[Any, Any], where: str) -> None:
    differing = {
        kpi_id: (expected[kpi_id], actual[kpi_id]) for kpi_id in OUTPUT_IDS if not same(expected[kpi_id], actual[kpi_id])
    }
    assert not differing, f"{where}: {differing}"


def daily_table(db: Database) -> pd.DataFrame:
    return db.query_df(compacted_sql("kpi_daily")).reset_index(drop=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=stores())
def test_every_kpi_three_ways(shared_store: Database, data: tuple[list[Any], list[Any], list[Period]]) -> None:
    dossiers, tickets, periods = data
    db = shared_store
    _reset(db)
    assert aggregates_ready(db)
    ingest_batches(db, "random-dossiers", batches_of(DOSSIERS, dossiers))
    ingest_batches(db, "random-tickets", batches_of(HOTLINE, tickets))
    tables = reference.load_tables(db)
    snapshots = snapshot_from_aggregates(db, periods)
    for period, snapshot in zip(periods, snapshots, strict=True):
        city = compute(db, period)
        assert_same(reference.compute(tables, period), city, f"engine vs pandas, city, {period}")
        assert_same(city, snapshot.total, f"engine vs aggregates, city, {period}")
        by_unit = compute_by_unit(db, period)
        pandas_by_unit = reference.compute_by_unit(tables, period)
        assert list(by_unit.index) == list(snapshot.by_unit.index) == list(pandas_by_unit.index)
        assert list(by_unit.columns) == list(snapshot.by_unit.columns)
        assert dict(by_unit.dtypes) == dict(snapshot.by_unit.dtypes)
        for unit in UNITS:
            one = compute(db, period, unit)
            assert_same(reference.compute(tables, period, unit), one, f"engine vs pandas, {unit}, {period}")
            assert_same(one, by_unit.loc[unit].to_dict(), f"compute vs compute_by_unit, {unit}, {period}")
            assert_same(one, snapshot.by_unit.loc[unit].to_dict(), f"engine vs aggregates by unit, {unit}, {period}")
            assert_same(one, pandas_by_unit.loc[unit].to_dict(), f"engine vs pandas by unit, {unit}, {period}")
        unit = UNITS[0]  # the one-unit read of the aggregates (filtered on unit_code) for one of them
        assert_same(compute(db, period, unit), snapshot_from_aggregates(db, [period], unit)[0].total, f"aggregates, {unit}")
    # Compaction merges the rows each batch appended and changes no figure.
    maintained = daily_table(db)
    db.execute_write_fn(compact_aggregates, bump_version=False)
    assert db.scalar("SELECT count(*) FROM kpi_daily") == len(maintained)
    for before, after in zip(snapshots, snapshot_from_aggregates(db, periods), strict=True):
        pd.testing.assert_frame_equal(before.by_unit, after.by_unit)
        assert_same(before.total, after.total, "after compaction")
    # What the ingest hook maintained equals a rebuild from scratch.
    rebuild_aggregates(db)
    pd.testing.assert_frame_equal(maintained, daily_table(db))


def test_refresh_moves_a_dossier_between_days_and_units(store: Database) -> None:
    """A merge that changes status, finished_at and unit takes the old contribution out."""
    period = Period(date(2026, 2, 2), date(2026, 2, 16))
    first = {
        "dossier_id": "M1", "unit_code": "20194", "status": "processing", "received_at": "2026-02-03T09:00:00+07:00",
        "due_at": "2026-02-10T17:00:00+07:00", "updated_at": "2026-02-03T09:00:00+07:00",
    }  # fmt: skip
    second = dict(
        first,
        unit_code="20197",
        status="resolved",
        finished_at="2026-02-12T10:00:00+07:00",
        updated_at="2026-02-12T10:00:00+07:00",
    )
    ingest_batches(store, "moves", iter([Batch(DOSSIERS, [first])]))
    before = snapshot_from_aggregates(store, [period])[0]
    assert before.by_unit.loc["20194", "in_progress_overdue"] == 1
    ingest_batches(store, "moves", iter([Batch(DOSSIERS, [second])]))
    after = snapshot_from_aggregates(store, [period])[0]
    assert after.by_unit.loc["20194", "in_progress"] == 0
    assert after.by_unit.loc["20194", "received"] == 0
    assert after.by_unit.loc["20197", "resolved_late"] == 1
    assert after.total == compute(store, period)


def test_appended_count_rows_are_compacted_between_runs_once_due(store: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch appends its delta rows; tidy_between_runs merges them once they have grown enough, and no figure moves."""
    period = Period(date(2026, 2, 2), date(2026, 3, 2))
    units = ("20194", "20197", "20200")
    first = [
        dict(
            dossier_id=f"C{number}",
            unit_code=units[number % 3],
            status="processing",
            received_at=f"2026-02-{3 + number % 5:02d}T09:00:00+07:00",
            due_at="2026-02-16T17:00:00+07:00",
            updated_at="2026-02-09T09:00:00+07:00",
        )
        for number in range(30)
    ]
    ingest_batches(store, "compaction", iter([Batch(DOSSIERS, first)]))
    for day in (10, 11, 12):  # three batches, each ending some dossiers on another day
        ended = [
            dict(row, status="resolved", finished_at=f"2026-02-{day}T10:00:00+07:00", updated_at=f"2026-02-{day}T10:00:00+07:00")
            for row in first[day % 10 :: 3]
        ]
        ingest_batches(store, "compaction", iter([Batch(DOSSIERS, ended)]))
    appended = store.scalar("SELECT count(*) FROM kpi_daily")
    keys = len(store.execute(compacted_sql("kpi_daily")))
    assert appended > keys  # the later batches added rows for keys the first had
    figures = snapshot_from_aggregates(store, [period])[0]

    assert compact_aggregates_if_due(store) is False  # a few rows over a quiet store: not worth it
    monkeypatch.setattr(aggregates, "COMPACT_SLACK_ROWS", 0)
    tidy_between_runs(store)
    assert store.scalar("SELECT count(*) FROM kpi_daily") == keys
    after = snapshot_from_aggregates(store, [period])[0]
    pd.testing.assert_frame_equal(figures.by_unit, after.by_unit)
    assert after.total == figures.total == compute(store, period)
    assert compact_aggregates_if_due(store) is False  # nothing appended since


def _out_of_unit_order(db: Database, table: str, other: str) -> int:
    """Rows stored (rowid order) after a row of a greater unit, or of the same unit and a later ``other`` value."""
    return int(
        db.scalar(
            f"""SELECT count(*) FROM (
                    SELECT (unit_code, {other}) < lag((unit_code, {other})) OVER (ORDER BY rowid) AS backwards FROM {table}
                ) WHERE backwards"""
        )
    )


def test_screens_read_the_count_tables_in_unit_order(store: Database) -> None:
    """A one-unit read skips DuckDB row groups outside its unit only while rows are stored in unit order: a first
    import appends them in that order, and a compaction and a rebuild write them so (the bench's national store
    halved its one-unit reads)."""
    units = [code for (code,) in store.execute("SELECT unit_code FROM units ORDER BY unit_code DESC")]
    dossiers = [
        dict(
            dossier_id=f"O{number:05d}",
            unit_code=units[number * 7 % len(units)],  # every unit, out of order
            procedure_code="1.001193",
            status="resolved" if number % 2 else "processing",
            received_at=f"2026-03-{2 + number % 20:02d}T09:00:00+07:00",
            finished_at=f"2026-03-{25 - number % 3:02d}T10:00:00+07:00" if number % 2 else None,
            updated_at="2026-03-26T09:00:00+07:00",
        )
        for number in range(2000)
    ]
    tickets = [
        dict(
            ticket_id=f"T{number:05d}",
            unit_code=units[number * 11 % len(units)],
            status="answered",
            received_at=f"2026-03-{2 + number % 20:02d}T09:00:00+07:00",
            answered_at=f"2026-03-{24 - number % 2:02d}T09:00:00+07:00",
            updated_at="2026-03-26T09:00:00+07:00",
        )
        for number in range(2000)
    ]
    ingest_batches(store, "order", iter([Batch(DOSSIERS, dossiers)]))
    ordered = {
        "kpi_daily": "day",
        "kpi_monthly": "month",
        "kpi_processing_days": "(day, processing_days)",
        "kpi_processing_days_monthly": "(month, processing_days)",
    }
    assert store.scalar("SELECT count(DISTINCT unit_code) FROM kpi_daily") > 50
    for table, other in ordered.items():
        assert _out_of_unit_order(store, table, other) == 0, f"{table} after a first import"

    ingest_batches(store, "order", iter([Batch(HOTLINE, tickets)]))  # appended after the dossiers' rows
    assert _out_of_unit_order(store, "kpi_daily", "day") > 0
    store.execute_write_fn(compact_aggregates, bump_version=False)
    for table, other in ordered.items():
        assert _out_of_unit_order(store, table, other) == 0, f"{table} after a compaction"

    rebuild_aggregates(store)
    for table, other in {**ordered, "kpi_hotline_facts": "answered_day"}.items():
        assert _out_of_unit_order(store, table, other) == 0, f"{table} after a rebuild"
