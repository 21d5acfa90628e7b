"""The SQL connector against a real PostgreSQL holding a one-stop-shaped schema: keyset pages, boundaries, history, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.base import RetryPolicy, read_cursor, run_connector
from connectors.sql import HistoryTable, SqlConnector
from ioc.db import Database
from tests.pg_fixtures import OneStopDatabase, PostgresServer


def connector(onestop: OneStopDatabase, page_size: int = 3, **options: object) -> SqlConnector:
    settings: dict[str, object] = {
        "schema": onestop.schema.name,
        "table": "ho_so",
        "history": HistoryTable("ho_so_lich_su"),
        "page_size": page_size,
        "retry": RetryPolicy(attempts=2, base_delay=0.0, sleep=lambda _: None),
    }
    return SqlConnector("onestop", onestop.schema.url, **{**settings, **options})  # type: ignore[arg-type]


def stored_ids(store: Database) -> list[str]:
    return [dossier_id for (dossier_id,) in store.execute("SELECT dossier_id FROM dossiers ORDER BY dossier_id")]


def test_pages_on_equal_change_times_lose_nothing_and_read_nothing_twice(store: Database, onestop: OneStopDatabase) -> None:
    # Seven dossiers changed in the same second: pages of 3 split them, keyset on (time, key) keeps them all.
    for number in range(1, 8):
        onestop.add_dossier(f"D{number}", received="2025-11-03 08:00:00", updated="2025-11-03 09:00:00")
    onestop.add_dossier("D0", received="2025-11-03 07:00:00")
    source = connector(onestop)
    result = run_connector(store, source)
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (8, 8, 0)
    assert stored_ids(store) == ["D0", *[f"D{n}" for n in range(1, 8)]]
    assert json.loads(read_cursor(store, "onestop") or "") == {"at": "2025-11-03T09:00:00", "at_type": "datetime", "key": "D7"}
    assert store.scalar("SELECT sum(rows_read) FROM ingest_runs") == 8  # one run, three pages, each row once


def test_a_row_with_the_cursor_time_and_a_later_key_is_not_lost(store: Database, onestop: OneStopDatabase) -> None:
    onestop.add_dossier("D1", received="2025-11-03 08:00:00", updated="2025-11-03 09:00:00")
    source = connector(onestop)
    run_connector(store, source)
    onestop.add_dossier("D2", received="2025-11-03 08:30:00", updated="2025-11-03 09:00:00")
    result = run_connector(store, source)
    assert result.rows_read == 1
    assert stored_ids(store) == ["D1", "D2"]


def test_history_gives_finished_at_supplements_and_paused_time(store: Database, onestop: OneStopDatabase) -> None:
    history = [
        (2, "2025-11-03 08:00:00"),
        (4, "2025-11-03 09:00:00"),
        (5, "2025-11-04 10:00:00"),  # supplement requested
        (4, "2025-11-06 10:00:00"),  # supplied two days later
        (9, "2025-11-07 15:00:00"),  # resolved: processing ends here
        (10, "2025-11-10 09:00:00"),  # result handed back
    ]
    onestop.add_dossier(
        "H48.20194-251103-0001",
        received="2025-11-03 08:00:00",
        due="2025-11-07 17:00:00",
        returned="2025-11-10 09:00:00",
        status=10,
        updated="2025-11-10 09:00:00",
        history=history,
    )
    run_connector(store, connector(onestop))
    row = store.execute(
        "SELECT status, channel, finished_at, returned_at, supplement_count, paused_seconds, received_at FROM dossiers"
    )[0]
    assert row == (
        "returned",
        "online",
        datetime(2025, 11, 7, 8, 0, tzinfo=UTC),  # 15:00 in Đà Nẵng
        datetime(2025, 11, 10, 2, 0, tzinfo=UTC),
        1,
        2 * 86_400,
        datetime(2025, 11, 3, 1, 0, tzinfo=UTC),
    )


def test_a_status_change_at_the_source_updates_the_store_and_appends_an_event(store: Database, onestop: OneStopDatabase) -> None:
    onestop.add_dossier("D1", received="2025-11-03 08:00:00", status=4)
    source = connector(onestop)
    run_connector(store, source)
    onestop.transition("D1", 9, "2025-11-05 10:00:00")
    result = run_connector(store, source)
    assert result.rows_upserted == 1
    assert store.execute("SELECT status, finished_at FROM dossiers") == [("resolved", datetime(2025, 11, 5, 3, 0, tzinfo=UTC))]
    assert store.execute("SELECT status FROM dossier_events ORDER BY event_at") == [("processing",), ("resolved",)]


def test_personal_columns_are_never_read_not_even_into_rejects(store: Database, onestop: OneStopDatabase) -> None:
    onestop.add_dossier("GOOD", received="2025-11-03 08:00:00")
    onestop.add_dossier("BAD", received="2025-11-03 08:00:00", unit="99999")
    run_connector(store, connector(onestop))
    assert store.scalar("SELECT reason FROM rejects") == "unit_code: '99999' is not a known unit"
    stored = store.query_df("SELECT * FROM dossiers").to_string() + store.query_df("SELECT * FROM rejects").to_string()
    for personal in ("Nguyễn Văn Bình", "0905123456", "048123456789"):
        assert personal not in stored


def test_an_unreachable_database_is_retried_with_backoff_then_recorded(store: Database, postgres_server: PostgresServer) -> None:
    waits: list[float] = []
    source = SqlConnector(
        "down",
        postgres_server.url().replace(f"port={postgres_server.port}", "port=1"),
        retry=RetryPolicy(attempts=3, base_delay=0.5, sleep=waits.append),
    )
    with pytest.raises(Exception, match="gave up after 3 attempts"):
        run_connector(store, source)
    assert waits == [0.5, 1.0]
    error = store.scalar("SELECT last_error FROM connector_state WHERE connector = 'down'")
    assert error.startswith("SourceError: SQL source down (postgresql+psycopg://postgres@/ioc_test") and "gave up" in error
    assert read_cursor(store, "down") is None


def test_a_missing_table_fails_at_once_with_the_database_message(store: Database, onestop: OneStopDatabase) -> None:
    waits: list[float] = []
    source = connector(onestop, table="khong_co")
    source.retry = RetryPolicy(attempts=3, sleep=waits.append)
    with pytest.raises(Exception, match=r'relation ".*khong_co" does not exist'):
        run_connector(store, source)
    assert waits == []  # a wrong name will not fix itself: no retry
