"""The store: migrations create and upgrade a real DuckDB file, one writer, reads on per-thread cursors."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ioc.db import Database
from ioc.schema import LATEST_VERSION, MIGRATIONS, migrate
from ioc.store import open_store

DESIGN_TABLES = {
    "units", "procedures", "dossiers", "dossier_events", "hotline_tickets", "ingest_runs",
    "connector_state", "rejects", "calendar_overrides",
}  # fmt: skip


def test_new_store_has_every_design_table_and_the_reference_units(store: Database) -> None:
    tables = {name for (name,) in store.execute("SELECT table_name FROM information_schema.tables")}
    assert tables >= DESIGN_TABLES
    assert store.scalar("SELECT max(version) FROM schema_migrations") == LATEST_VERSION
    assert store.scalar("SELECT count(*) FROM units WHERE province_code = '48'") == 94
    kinds = dict(store.execute("SELECT kind, count(*) FROM units GROUP BY kind"))
    assert kinds == {"phuong": 23, "xa": 70, "dac_khu": 1}


def test_store_written_by_an_older_version_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    conn = duckdb.connect(str(path))
    migrate(conn, MIGRATIONS[:1])
    conn.execute("INSERT INTO units (unit_code, name, full_name, kind) VALUES ('99001', 'Cũ', 'Xã Cũ', 'xa')")
    conn.close()

    db = open_store(path)
    try:
        assert db.scalar("SELECT max(version) FROM schema_migrations") == LATEST_VERSION
        assert db.scalar("SELECT full_name FROM units WHERE unit_code = '99001'") == "Xã Cũ"
        indexes = {name for (name,) in db.execute("SELECT index_name FROM duckdb_indexes()")}
        assert "dossiers_unit" in indexes
        # Migration 4 drops the index nothing reads by (each ingest paid for it).
        assert "dossier_events_id" not in indexes
    finally:
        db.close()


def test_kpi_count_tables_lose_their_keys_and_keep_their_rows_on_upgrade(tmp_path: Path) -> None:
    """Migration 5: the count tables take appended rows (several per key) from then on; what they held stays."""
    path = tmp_path / "v4.duckdb"
    conn = duckdb.connect(str(path))
    migrate(conn, MIGRATIONS[:4])
    conn.execute("INSERT INTO kpi_daily (unit_code, day, received, finished) VALUES ('20194', DATE '2026-02-03', 3, 1)")
    conn.execute("INSERT INTO kpi_processing_days VALUES ('20194', DATE '2026-02-03', 2, 1)")
    with pytest.raises(duckdb.ConstraintException):
        conn.execute("INSERT INTO kpi_daily (unit_code, day, received) VALUES ('20194', DATE '2026-02-03', 1)")
    conn.close()

    db = open_store(path)
    try:
        assert db.execute("SELECT unit_code, day, received, finished, overdue_start FROM kpi_daily") == [
            ("20194", date(2026, 2, 3), 3, 1, 0)
        ]
        assert db.execute("SELECT * FROM kpi_processing_days") == [("20194", date(2026, 2, 3), 2, 1)]
        db.execute_write("INSERT INTO kpi_daily (unit_code, day, received) VALUES ('20194', DATE '2026-02-03', 1)")
        assert db.scalar("SELECT sum(received) FROM kpi_daily") == 4
        keyed = db.execute("SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'")
        assert not {name for (name,) in keyed} & {
            "kpi_daily",
            "kpi_monthly",
            "kpi_processing_days",
            "kpi_processing_days_monthly",
        }
    finally:
        db.close()


def test_reopening_keeps_data_and_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    first = open_store(path)
    version_after_first_open = first.data_version
    first.close()
    second = open_store(path)
    try:
        assert second.scalar("SELECT count(*) FROM schema_migrations") == len(MIGRATIONS)
        assert second.scalar("SELECT count(*) FROM units") == 94
        assert second.data_version >= version_after_first_open
    finally:
        second.close()


def test_a_failed_write_leaves_nothing_behind_and_keeps_the_version(store: Database) -> None:
    version = store.data_version

    def half_done(conn: duckdb.DuckDBPyConnection) -> None:
        conn.execute("INSERT INTO calendar_overrides VALUES ('2026-12-31', 'day_off', 'test')")
        raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        store.execute_write_fn(half_done)
    assert store.scalar("SELECT count(*) FROM calendar_overrides") == 0
    assert store.data_version == version


def test_every_commit_raises_the_data_version(store: Database) -> None:
    version = store.data_version
    store.execute_write("INSERT INTO calendar_overrides VALUES ('2026-12-31', 'day_off', 'test')")
    assert store.data_version == version + 1
    assert int(store.scalar("SELECT value FROM meta WHERE key = 'data_version'")) == version + 1


def test_reads_from_many_threads_use_their_own_cursors(store: Database) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                results.append(int(store.scalar("SELECT count(*) FROM units")))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [94] * 80


def test_a_second_process_gets_a_clear_error_while_the_store_is_open(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    db = open_store(path)
    try:
        code = f"from ioc.db import Database\nDatabase({str(path)!r})"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
        assert proc.returncode != 0
        assert "in use by another process" in proc.stderr
        assert "files reach its store through a file_drop source" in proc.stderr
    finally:
        db.close()


def test_a_new_calendar_override_rebuilds_the_kpi_aggregates_on_reopen(tmp_path: Path) -> None:
    from datetime import date

    from connectors.base import DOSSIERS, Batch, ingest_batches
    from kpis import Period, compute
    from kpis.aggregates import compute_from_aggregates

    path = tmp_path / "calendar.duckdb"
    db = open_store(path)
    base = {"unit_code": "20194", "channel": "online", "received_at": "2026-11-02T08:00:00"}
    rows = [
        # Due Wed 4 Nov, still in progress.
        {**base, "dossier_id": "OPEN", "status": "processing", "due_at": "2026-11-04T17:00:00"},
        # Finished Thu 5 Nov: 3 working days after Mon 2 Nov (3, 4, 5 Nov).
        {
            **base,
            "dossier_id": "DONE",
            "status": "resolved",
            "due_at": "2026-11-06T17:00:00",
            "finished_at": "2026-11-05T10:00:00",
        },
    ]
    ingest_batches(db, "test", [Batch(DOSSIERS, rows)])
    as_of_3_nov = Period(date(2026, 11, 2), date(2026, 11, 3))
    week = Period(date(2026, 11, 2), date(2026, 11, 9))
    # As of 3 Nov the first working day on or after it is 3 Nov itself, before the due day: not at risk.
    assert compute_from_aggregates(db, as_of_3_nov)["at_risk"] == 0
    assert compute_from_aggregates(db, week)["processing_days_median"] == 3
    db.execute_write("INSERT INTO calendar_overrides VALUES ('2026-11-03', 'day_off', 'local decision')")
    db.close()

    reopened = open_store(path)
    try:
        # With 3 Nov off, the first working day on or after it is the due day: at risk; and 2 processing days.
        assert compute(reopened, as_of_3_nov)["at_risk"] == 1
        assert compute(reopened, week)["processing_days_median"] == 2
        for period in (as_of_3_nov, week):
            assert compute_from_aggregates(reopened, period) == compute(reopened, period)
    finally:
        reopened.close()


def _write_some_rows(db: Database, count: int = 20_000) -> None:
    db.execute_write(
        f"""INSERT INTO rejects SELECT nextval('reject_ids'), 'test', NULL, 'row ' || i, 'a reason', now()
            FROM range({count}) AS t(i)"""
    )


def test_the_log_is_checkpointed_between_runs_once_it_is_due(tmp_path: Path) -> None:
    db = open_store(tmp_path / "s.duckdb")
    try:
        _write_some_rows(db)
        written = db.wal_bytes()
        assert written > 0  # the commit left its rows in the log
        assert db.checkpoint_if_due(wal_bytes=written + 1) is False and db.wal_bytes() == written
        assert db.checkpoint_if_due(wal_bytes=written) is True
        assert db.wal_bytes() == 0 and db.scalar("SELECT count(*) FROM rejects") == 20_000
    finally:
        db.close()


def test_a_checkpoint_refused_while_a_reader_is_busy_is_left_for_later(tmp_path: Path) -> None:
    db = open_store(tmp_path / "s.duckdb")
    reader = db._root.cursor()
    try:
        # A result not read to its end keeps the reader's transaction open; once a write commits after it,
        # DuckDB refuses to checkpoint (the reader may still need the old rows).
        pending = reader.execute("SELECT unit_code FROM units")
        assert pending.fetchone() is not None
        _write_some_rows(db)
        assert db.checkpoint_if_due(wal_bytes=1) is False  # no exception, and the reader is not disturbed
        assert len(pending.fetchall()) == 93
        assert db.checkpoint_if_due(wal_bytes=1) is True and db.wal_bytes() == 0
    finally:
        reader.close()
        db.close()
