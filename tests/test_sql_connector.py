"""The SQL connector against a real PostgreSQL holding a one-stop-shaped schema: keyset pages, boundaries, history, faults."""

from __future__ import annotations

import importlib.util
import json
import threading
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors.base import RetryPolicy, read_cursor, run_connector
from connectors.sources import SourceConfigError, build_connector, parse_sources
from connectors.sql import HistoryTable, RowPosition, SqlConnector
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
    assert json.loads(read_cursor(store, "onestop") or "") == {
        "at": "2025-11-03T09:00:00",
        "at_type": "datetime",
        "key": "D7",
        "key_type": "raw",
    }
    assert store.scalar("SELECT sum(rows_read) FROM ingest_runs") == 8  # one run, three pages, each row once


def test_a_row_with_the_cursor_time_and_a_later_key_is_not_lost(store: Database, onestop: OneStopDatabase) -> None:
    onestop.add_dossier("D1", received="2025-11-03 08:00:00", updated="2025-11-03 09:00:00")
    source = connector(onestop)
    run_connector(store, source)
    onestop.add_dossier("D2", received="2025-11-03 08:30:00", updated="2025-11-03 09:00:00")
    result = run_connector(store, source)
    assert result.rows_upserted == 1  # D1 is read again in the overlap window, but unchanged it is not rewritten
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


def test_an_ended_dossier_whose_end_the_source_never_recorded_is_rejected_saying_where_it_was_looked_for(
    store: Database, onestop: OneStopDatabase
) -> None:
    onestop.add_dossier("GOOD", received="2025-11-03 08:00:00")
    # Resolved (9) at the source, but its history stops at "processing": no time processing ended.
    onestop.add_dossier(
        "NO-END", received="2025-11-03 08:00:00", status=9, history=[(2, "2025-11-03 08:00:00"), (4, "2025-11-03 09:00:00")]
    )
    result = run_connector(store, connector(onestop))
    assert (result.rows_upserted, result.rows_rejected) == (1, 1) and stored_ids(store) == ["GOOD"]
    assert store.scalar("SELECT reason FROM rejects") == (
        "finished_at: missing for a dossier whose status is resolved "
        "(ho_so_lich_su has no row ending it; no finished_at column is mapped)"
    )
    # Without a history table, the reason says so, and names the finished column when one is mapped.
    onestop.transition("NO-END", 9, "2025-11-05 10:00:00")  # a new change time, so the next source reads it again
    without_history = connector(onestop, history=None, columns={"finished_at": "ngay_tra_ket_qua"})
    run_connector(store, without_history)
    assert store.scalar("SELECT reason FROM rejects WHERE connector = 'onestop' ORDER BY reject_id DESC LIMIT 1") == (
        "finished_at: missing for a dossier whose status is resolved (no [history] table is set; its ngay_tra_ket_qua is empty)"
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
    assert error.startswith("SQL source down (postgresql+psycopg://postgres@/ioc_test") and "gave up" in error
    assert read_cursor(store, "down") is None


def test_a_database_that_does_not_exist_fails_at_once(store: Database, postgres_server: PostgresServer) -> None:
    waits: list[float] = []
    url = postgres_server.url().replace("/ioc_test", "/khong_co_csdl")
    source = SqlConnector("nodb", url, retry=RetryPolicy(attempts=3, sleep=waits.append))
    with pytest.raises(Exception, match='database "khong_co_csdl" does not exist'):
        run_connector(store, source)
    assert waits == []  # retrying cannot create it


def test_a_missing_table_fails_at_once_with_the_database_message(store: Database, onestop: OneStopDatabase) -> None:
    waits: list[float] = []
    source = connector(onestop, table="khong_co")
    source.retry = RetryPolicy(attempts=3, sleep=waits.append)
    with pytest.raises(Exception, match=r'relation ".*khong_co" does not exist'):
        run_connector(store, source)
    assert waits == []  # a wrong name will not fix itself: no retry


def test_a_table_locked_at_the_source_times_out_is_retried_and_is_read_once_free(
    store: Database, onestop: OneStopDatabase
) -> None:
    import psycopg

    onestop.add_dossier("H48.20194-251103-0001", received="2025-11-03 08:00:00", status=4)
    server = onestop.schema.server
    # A long job at the source holds the table: every read waits on its lock.
    locker = psycopg.connect(host=server.socket_dir, port=server.port, user=server.user, dbname=server.database)
    # Should the timeout not work, the job ends after 30 s: the test then fails instead of hanging.
    job_end = threading.Timer(30, locker.close)
    job_end.daemon = True
    try:
        locker.execute(f"LOCK TABLE {onestop.schema.name}.ho_so IN ACCESS EXCLUSIVE MODE")  # type: ignore[arg-type]
        job_end.start()
        waits: list[float] = []
        source = connector(onestop, timeout_seconds=0.5, retry=RetryPolicy(attempts=2, base_delay=0.1, sleep=waits.append))
        with pytest.raises(Exception, match="gave up after 2 attempts") as failure:
            run_connector(store, source)
        assert "canceling statement due to statement timeout (no answer within timeout_seconds = 0.5)" in str(failure.value)
        assert waits == [0.1]  # a timeout may pass: retried
        assert "statement timeout" in store.scalar("SELECT last_error FROM connector_state WHERE connector = 'onestop'")
        assert read_cursor(store, "onestop") is None
    finally:
        job_end.cancel()
        locker.close()  # the job ends
    run_connector(store, source)
    assert stored_ids(store) == ["H48.20194-251103-0001"]


def test_timeout_seconds_is_a_sources_file_option(onestop: OneStopDatabase) -> None:
    table = {"kind": "sql", "url": onestop.schema.url, "schema": onestop.schema.name, "timeout_seconds": 7.5}
    [source] = parse_sources({"sources": {"onestop": table}}, environ={}).values()
    built = build_connector(None, source)  # type: ignore[arg-type]
    assert isinstance(built, SqlConnector) and built.timeout_seconds == 7.5
    with pytest.raises(SourceConfigError, match="timeout_seconds must be"):
        parse_sources({"sources": {"onestop": {**table, "timeout_seconds": 0}}}, environ={})


# -- rows committed late, empty change times, column types, the URL ----------------------------------


def test_rows_committed_late_behind_the_cursor_are_read_within_the_overlap_window(
    store: Database, onestop: OneStopDatabase
) -> None:
    for key in ("M1", "M2", "M3", "M4"):
        onestop.add_dossier(key, received="2025-11-25 08:00:00", updated="2025-11-25 10:00:00")
    source = connector(onestop)  # the default window: 600 s
    run_connector(store, source)
    cursor_after_first_run = read_cursor(store, "onestop")
    # Committed after that run, stamped at or before its cursor (10:00, M4): a long transaction, a slow clock.
    onestop.add_dossier("A-SAME-TIME-SMALLER-KEY", received="2025-11-25 08:00:00", updated="2025-11-25 10:00:00")
    onestop.add_dossier("LATE-5-MIN", received="2025-11-25 08:00:00", updated="2025-11-25 09:55:00")
    onestop.add_dossier("LATE-20-MIN", received="2025-11-25 08:00:00", updated="2025-11-25 09:40:00")
    result = run_connector(store, source)
    assert result.rows_upserted == 2  # the four read again are unchanged: nothing rewritten
    assert stored_ids(store) == ["A-SAME-TIME-SMALLER-KEY", "LATE-5-MIN", "M1", "M2", "M3", "M4"]
    assert read_cursor(store, "onestop") == cursor_after_first_run  # rows read again never move the cursor back
    # Beyond the window only a longer one finds it.
    result = run_connector(store, connector(onestop, lookback_seconds=30 * 60))
    assert result.rows_upserted == 1 and "LATE-20-MIN" in stored_ids(store)
    assert run_connector(store, source).rows_upserted == 0


def test_a_row_without_a_change_time_is_rejected_naming_the_column_and_holds_nothing_back(
    store: Database, onestop: OneStopDatabase
) -> None:
    onestop.conn.execute(f"ALTER TABLE {onestop.schema.name}.ho_so ALTER COLUMN ngay_cap_nhat DROP NOT NULL")  # type: ignore[call-overload]
    for number in range(1, 6):  # more than a page of them: paging by key must end
        onestop.add_dossier(f"NULL-{number}", received="2025-11-03 08:00:00")
    onestop.conn.execute(f"UPDATE {onestop.schema.name}.ho_so SET ngay_cap_nhat = NULL")  # type: ignore[call-overload]
    onestop.add_dossier("D1", received="2025-11-03 08:00:00", updated="2025-11-03 09:00:00")
    source = connector(onestop, page_size=2)
    result = run_connector(store, source)
    assert (result.rows_upserted, result.rows_rejected) == (1, 5)
    reasons = store.execute("SELECT DISTINCT reason FROM rejects")
    assert reasons == [("ngay_cap_nhat (the change-time column) is empty: the row cannot be followed; set it in the source",)]
    assert all(f"NULL-{n}" in raw for n, (raw,) in enumerate(store.execute("SELECT raw_row FROM rejects ORDER BY raw_row"), 1))
    assert json.loads(read_cursor(store, "onestop") or "")["key"] == "D1"
    onestop.add_dossier("D2", received="2025-11-03 08:00:00", updated="2025-11-03 10:00:00")
    run_connector(store, source)
    assert store.scalar("SELECT count(*) FROM rejects") == 5  # read again, not recorded twice
    assert stored_ids(store) == ["D1", "D2"]
    assert json.loads(read_cursor(store, "onestop") or "")["key"] == "D2"


OTHER_TYPES_DDL = """
CREATE TABLE {schema}.hs_date (ma_ho_so TEXT PRIMARY KEY, ma_don_vi TEXT, trang_thai SMALLINT,
    ngay_tiep_nhan TIMESTAMP, ngay_cap_nhat DATE);
CREATE TABLE {schema}.hs_uuid (ma_ho_so UUID PRIMARY KEY, ma_don_vi TEXT, trang_thai SMALLINT,
    ngay_tiep_nhan TIMESTAMP, ngay_cap_nhat TIMESTAMP);
CREATE TABLE {schema}.hs_num (ma_ho_so NUMERIC PRIMARY KEY, ma_don_vi TEXT, trang_thai SMALLINT,
    ngay_tiep_nhan TIMESTAMP, ngay_cap_nhat TIMESTAMP);
CREATE TABLE {schema}.hs_tz (ma_ho_so TEXT PRIMARY KEY, ma_don_vi TEXT, trang_thai SMALLINT,
    ngay_tiep_nhan TIMESTAMPTZ, ngay_cap_nhat TIMESTAMPTZ);
"""
UUIDS = sorted(uuid.UUID(int=number * 2**100) for number in (3, 1, 2))
# (table, keys, change time per row, the key a later row gets, the cursor's change time and key as decoded)
OTHER_TYPES = {
    "hs_date": (["D1", "D2", "D3"], "2025-11-03", "D0", date(2025, 11, 3), "D3"),
    "hs_uuid": ([str(key) for key in UUIDS], "2025-11-03 09:00", str(uuid.UUID(int=1)), datetime(2025, 11, 3, 9), UUIDS[-1]),
    "hs_num": (["1001", "1002", "1003"], "2025-11-03 09:00", "999.5", datetime(2025, 11, 3, 9), Decimal("1003")),
    "hs_tz": (["T1", "T2", "T3"], "2025-11-03 09:00:00.123456+07", "T0", None, "T3"),
}


@pytest.mark.parametrize("table", list(OTHER_TYPES))
def test_date_uuid_and_numeric_cursor_columns_page_and_resume(store: Database, onestop: OneStopDatabase, table: str) -> None:
    schema = onestop.schema.name
    onestop.conn.execute(OTHER_TYPES_DDL.format(schema=schema))  # type: ignore[call-overload]
    keys, changed, later_key, cursor_at, cursor_key = OTHER_TYPES[table]

    def add(key: str) -> None:
        onestop.conn.execute(
            f"INSERT INTO {schema}.{table} VALUES (%s, '20194', 2, '2025-11-03 08:00', %s)",  # type: ignore[arg-type]
            [key, changed],
        )

    for key in keys:
        add(key)
    unmapped = {"procedure_code": "", "channel": "", "due_at": "", "returned_at": ""}
    options = {"table": table, "history": None, "columns": unmapped}
    result = run_connector(store, connector(onestop, page_size=1, **options))  # pages split rows of one change time
    assert (result.rows_upserted, result.rows_rejected) == (3, 0)
    position = RowPosition.decode(read_cursor(store, "onestop"))
    assert position is not None and position.key == cursor_key and type(position.key) is type(cursor_key)
    if cursor_at is not None:
        assert position.at == cursor_at and type(position.at) is type(cursor_at)
    # A new process resumes from the stored cursor, bound back as the column's own type.
    add(later_key)  # the same change time, a key before the cursor's
    result = run_connector(store, connector(onestop, page_size=1, **options))
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (4, 1, 0)
    assert store.scalar("SELECT count(*) FROM dossiers") == 4


def test_a_cursor_keeps_the_type_of_its_values() -> None:
    for at, key in [
        (datetime(2025, 11, 3, 9, 0, 0, 123456, tzinfo=UTC), uuid.UUID(int=7)),
        (date(2025, 11, 3), Decimal("1001.50")),
        (17, "HS0001"),
    ]:
        again = RowPosition.decode(RowPosition(at, key).encode())
        assert again == RowPosition(at, key) and type(again.at) is type(at) and type(again.key) is type(key)
    # A cursor stored before key types were written still reads.
    old = RowPosition.decode('{"at": "2025-11-03T09:00:00", "at_type": "datetime", "key": "D7"}')
    assert old == RowPosition(datetime(2025, 11, 3, 9), "D7")


def sql_source(url: str, environ: dict[str, str] | None = None, **options: object) -> SqlConnector:
    """A SQL source built the way the sources file builds it."""
    config = parse_sources({"sources": {"x": {"kind": "sql", "url": url, **options}}}, environ=environ or {})["x"]
    return build_connector(None, config)  # type: ignore[arg-type, return-value]  # kind sql needs no store


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("mysql+pymysql://reader@127.0.0.1:1/motcua", "pymysql", "PyMySQL"),
        ("mssql+pyodbc://reader@dsn", "pyodbc", "pyodbc"),
    ],
)
def test_a_missing_database_driver_names_the_package_to_install(url: str, module: str, package: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    with pytest.raises(ValueError, match=f"Python package {package} is not installed: pip install {package}"):
        SqlConnector("x", url)
    with pytest.raises(SourceConfigError, match=r"^source 'x' \(kind sql\): url uses the .* driver"):
        sql_source(url)


def test_an_unknown_database_type_is_named() -> None:
    with pytest.raises(SourceConfigError, match="url names the database type 'postgres', which SQLAlchemy does not know"):
        sql_source("postgres://reader@127.0.0.1:1/motcua")


def test_a_password_in_the_url_is_refused_without_showing_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.url().replace("postgres@", "postgres:S3cretPW@")
    for refused in (url, postgres_server.url() + "&password=S3cretPW"):
        with pytest.raises(SourceConfigError, match="url must not carry a password") as error:
            sql_source(refused)
        assert "password_env" in str(error.value) and "S3cretPW" not in str(error.value)
        with pytest.raises(ValueError, match="password_env"):
            SqlConnector("x", refused)
    # From the environment it is accepted.
    sql_source(postgres_server.url(), environ={"PG_PASSWORD": "S3cretPW"}, password_env="PG_PASSWORD")
