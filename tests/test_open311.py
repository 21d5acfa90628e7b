"""The Open311 GeoReport v2 connector against a local server replaying Boston's real requests.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from connectors.base import RetryPolicy, SourceError, read_cursor, run_connector
from connectors.open311 import Open311Connector, department
from ioc.canonical import OTHER_FIELD
from ioc.db import Database
from tests.local_http import Fault
from tests.open311_server import BOSTON, Open311Server

# A day after the newest request in the sample (2026-03-11).
NOW = datetime(2026, 3, 12, tzinfo=UTC)


def connector(server: Open311Server, waits: list[float] | None = None, **options: object) -> Open311Connector:
    settings: dict[str, object] = {
        "page_size": 20,
        "backfill_days": 120,
        "timeout_seconds": 0.3,
        "retry": RetryPolicy(attempts=3, base_delay=0.25, sleep=(waits if waits is not None else []).append),
        "now": lambda: NOW,
    }
    return Open311Connector("boston", server.base_url, **{**settings, **options})  # type: ignore[arg-type]


def stored(store: Database) -> int:
    return int(store.scalar("SELECT count(*) FROM hotline_tickets"))


def test_every_request_arrives_once_through_windows_and_pages(store: Database, open311_server: Open311Server) -> None:
    result = run_connector(store, connector(open311_server))
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (50, 50, 0)
    assert store.scalar("SELECT count(DISTINCT ticket_id) FROM hotline_tickets") == 50
    windows = {(q["start_date"], q["end_date"]) for q in open311_server.log}
    assert len(windows) == 2  # 120 days of backfill in windows of at most 90 days
    for start, end in windows:
        assert datetime.fromisoformat(end) - datetime.fromisoformat(start) <= timedelta(days=90)
    assert {q.get("page") for q in open311_server.log} == {"1", "2", "3"}  # 50 requests, pages of 20
    cursor = json.loads(read_cursor(store, "boston") or "")
    assert cursor["updated"] == "2026-03-11T02:31:20Z"
    # What the next run reads again (the last 10 minutes) and skips unless it changed.
    recent = {
        r["service_request_id"]: r["updated_datetime"]
        for r in open311_server.records
        if r["updated_datetime"] >= "2026-03-11T02:21:20Z"
    }
    assert cursor["seen"] == recent and "101006564854" in recent


def test_fields_units_status_and_dropped_personal_data(store: Database, open311_server: Open311Server) -> None:
    run_connector(store, connector(open311_server))
    row = store.execute(
        "SELECT unit_code, field, status, answered_at, lat, lon, title FROM hotline_tickets WHERE ticket_id = '101006564854'"
    )[0]
    assert row == ("EXT-BOS-TRANSPORTATION-TRAFFIC-DIVISION", "Illegal Parking", "new", None, 42.334, -71.044, None)
    closed = store.execute("SELECT status, answered_at = updated_at FROM hotline_tickets WHERE status <> 'new'")
    assert closed and all(row == ("answered", True) for row in closed)
    units = dict(store.execute("SELECT unit_code, kind FROM units WHERE unit_code LIKE 'EXT-BOS-%'"))
    assert set(units) == {
        "EXT-BOS-OTHER",
        "EXT-BOS-PUBLIC-WORKS-DEPARTMENT",
        "EXT-BOS-TRANSPORTATION-TRAFFIC-DIVISION",
        "EXT-BOS-MAYOR-S-24-HOUR-HOTLINE",
    }
    assert set(units.values()) == {"other"}
    everything = store.query_df("SELECT * FROM hotline_tickets").to_string() + store.query_df("SELECT * FROM rejects").to_string()
    for personal in ("Fake Fake", "fake@gmail.com", "1111111", "52 G St", "Connecticut"):
        assert personal not in everything


@pytest.mark.parametrize("status", [404, 500])
def test_a_server_without_a_working_services_list_still_gives_every_request(
    store: Database, open311_server: Open311Server, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    open311_server.services_status = status
    del open311_server.record("101006564854")["service_name"]
    result = run_connector(store, connector(open311_server))
    assert (result.rows_read, stored(store)) == (50, 50)
    # The one name the request lacked (services.json would have given it) is the catch-all field; the others are the requests' own.
    fields = dict(store.execute("SELECT ticket_id, field FROM hotline_tickets"))
    assert fields.pop("101006564854") == OTHER_FIELD
    assert OTHER_FIELD not in fields.values()
    assert store.scalar("SELECT last_error FROM connector_state WHERE connector = 'boston'") is None
    assert f"HTTP {status}" in caplog.text and "services.json" in caplog.text and "read without it" in caplog.text


def test_the_legacy_code_prefix_names_the_unit() -> None:
    assert department("Public Works Department:Street Cleaning:Pothole") == "Public Works Department"
    assert department("0b156710-caa0-4f5d-a4e0-23f2fc5cdc1e") == "other"
    assert department(None) == "other"


def test_expected_datetime_is_the_due_date(store: Database, open311_server: Open311Server) -> None:
    open311_server.record("101006564854")["expected_datetime"] = "2026-03-14T17:00:00Z"
    run_connector(store, connector(open311_server))
    due = store.scalar("SELECT due_at FROM hotline_tickets WHERE ticket_id = '101006564854'")
    assert due == datetime(2026, 3, 14, 17, tzinfo=UTC)


def test_a_page_that_fails_once_is_retried_and_nothing_is_lost_or_doubled(store: Database, open311_server: Open311Server) -> None:
    open311_server.faults.append(Fault(page=2, kind="status", status=500))
    waits: list[float] = []
    result = run_connector(store, connector(open311_server, waits))
    assert waits == [0.25]
    assert (result.rows_read, stored(store)) == (50, 50)
    assert store.scalar("SELECT last_error FROM connector_state WHERE connector = 'boston'") is None


def test_a_slow_source_times_out_is_retried_with_backoff_and_the_error_is_recorded(
    store: Database, open311_server: Open311Server
) -> None:
    open311_server.faults.append(Fault(page=2, kind="slow", seconds=1.0, times=3))
    waits: list[float] = []
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        run_connector(store, connector(open311_server, waits))
    assert waits == [0.25, 0.5]
    error = store.scalar("SELECT last_error FROM connector_state WHERE connector = 'boston'")
    assert error.startswith("Open311 source boston: no answer within 0.3 s from GET http://127.0.0.1:")
    assert "page=2" in error and "gave up after 3 attempts" in error
    assert read_cursor(store, "boston") is None  # the scan did not finish: the next run starts it again


def test_a_slow_answer_that_then_comes_is_taken(store: Database, open311_server: Open311Server) -> None:
    open311_server.faults.append(Fault(page=1, kind="slow", seconds=1.0))
    run_connector(store, connector(open311_server))
    assert stored(store) == 50


def test_invalid_json_is_a_clear_error_and_the_cursor_does_not_move(store: Database, open311_server: Open311Server) -> None:
    source = connector(open311_server)
    run_connector(store, source)
    before = read_cursor(store, "boston")
    open311_server.faults.append(Fault(page=1, kind="invalid_json"))
    waits: list[float] = []
    source.retry = RetryPolicy(attempts=3, sleep=waits.append)
    with pytest.raises(SourceError, match="invalid JSON from GET"):
        run_connector(store, source)
    assert waits == []  # a broken body is not retried blindly
    assert read_cursor(store, "boston") == before
    assert "invalid JSON" in store.scalar("SELECT last_error FROM connector_state WHERE connector = 'boston'")


def test_an_update_in_the_same_second_as_the_cursor_is_not_lost(store: Database, open311_server: Open311Server) -> None:
    source = connector(open311_server)
    run_connector(store, source)
    twin = dict(
        open311_server.record("101006564854"), service_request_id="101006564999", requested_datetime="2026-03-11T02:31:00Z"
    )
    open311_server.records.append(twin)  # updated in the very second the cursor stopped at
    result = run_connector(store, source)
    assert result.rows_read == 1
    assert stored(store) == 51
    seen = json.loads(read_cursor(store, "boston") or "")["seen"]
    assert seen["101006564854"] == seen["101006564999"] == "2026-03-11T02:31:20Z"
    assert run_connector(store, source).rows_read == 0


def test_an_old_cursor_with_ids_is_still_read(store: Database, open311_server: Open311Server) -> None:
    source = connector(open311_server)
    run_connector(store, source)
    old_style = json.dumps({"updated": "2026-03-11T02:31:20Z", "ids": ["101006564854"]})
    store.execute_write_fn(lambda conn: conn.execute("UPDATE connector_state SET cursor_value = ?", [old_style]))
    result = run_connector(store, source)
    assert result.rows_upserted == 0  # the requests of the last 10 minutes before it are read again, and unchanged


def at(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


class Clock:
    """A ``now`` a test moves between runs."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def when_page_two_is_asked(server: Open311Server, change: Callable[[], None]) -> None:
    """Run ``change`` once, as the first page 2 is asked for: page 1 is read, pages 2 and 3 are not."""

    def hook(query: dict[str, str]) -> None:
        if query.get("page") == "2":
            server.on_request = None
            change()

    server.on_request = hook


@pytest.mark.parametrize(
    ("lookback_seconds", "run_started", "why"),
    [
        # Updates made after the run started: the cursor must not pass the run's start (even with no overlap).
        (0, "2026-03-12T09:59:58+00:00", "after the start"),
        # An update stamped before the run started but visible only later (a late commit, a server clock behind
        # ours): only the overlap finds it.
        (600, "2026-03-12T10:00:10+00:00", "stamped before the start"),
    ],
)
def test_an_update_made_while_a_run_pages_is_not_lost(
    store: Database, open311_server: Open311Server, lookback_seconds: int, run_started: str, why: str
) -> None:
    clock = Clock(NOW)
    source = connector(open311_server, now=clock, lookback_seconds=lookback_seconds)
    run_connector(store, source)
    by_requested = sorted(open311_server.records, key=lambda r: r["requested_datetime"], reverse=True)
    on_page_one, on_page_three = by_requested[0], by_requested[-1]

    def close_both() -> None:
        on_page_one.update(status="closed", updated_datetime="2026-03-12T10:00:00Z")  # its page is already read
        on_page_three.update(status="closed", updated_datetime="2026-03-12T10:00:05Z")  # newer, on a page to come

    when_page_two_is_asked(open311_server, close_both)
    clock.moment = at(run_started)
    run_connector(store, source)
    clock.moment = at("2026-03-12T10:05:00+00:00")
    run_connector(store, source)
    statuses = dict(store.execute("SELECT ticket_id, status FROM hotline_tickets WHERE status = 'answered'"))
    assert statuses.get(on_page_one["service_request_id"]) == "answered", why
    assert statuses.get(on_page_three["service_request_id"]) == "answered"
    assert store.scalar("SELECT updated_at FROM hotline_tickets WHERE ticket_id = ?", [on_page_one["service_request_id"]]) == at(
        "2026-03-12T10:00:00+00:00"
    )
    clock.moment = at("2026-03-12T10:10:00+00:00")
    assert run_connector(store, source).rows_read == 0  # and then nothing more to read


def test_a_lookback_below_zero_is_refused(open311_server: Open311Server) -> None:
    with pytest.raises(ValueError, match="lookback_seconds must be 0 or more"):
        connector(open311_server, lookback_seconds=-1)


def test_a_request_never_updated_changed_when_it_was_requested_and_is_written_once(
    store: Database, open311_server: Open311Server
) -> None:
    never_updated = open311_server.record("101006564854")
    del never_updated["updated_datetime"]
    source = connector(open311_server)
    run_connector(store, source)
    assert store.scalar("SELECT updated_at FROM hotline_tickets WHERE ticket_id = '101006564854'") == at(
        never_updated["requested_datetime"].replace("Z", "+00:00")
    )
    runs = store.scalar("SELECT count(*) FROM ingest_runs")
    again = run_connector(store, source)
    assert (again.rows_read, again.rows_upserted) == (0, 0)
    assert store.scalar("SELECT count(*) FROM ingest_runs") == runs


def test_a_time_without_offset_is_local_time_in_rows_and_cursor_alike(store: Database, open311_server: Open311Server) -> None:
    # 12:00 in Vietnam (the default zone) is 05:00 UTC: after every other request's last update (02:31 UTC).
    open311_server.record("101006564853")["updated_datetime"] = "2026-03-11T12:00:00"
    source = connector(open311_server)
    run_connector(store, source)
    stored_time = store.scalar("SELECT updated_at FROM hotline_tickets WHERE ticket_id = '101006564853'")
    assert stored_time == at("2026-03-11T05:00:00+00:00")
    assert json.loads(read_cursor(store, "boston") or "")["updated"] == "2026-03-11T05:00:00Z"
    # A cursor read as 12:00 UTC would skip an update made at 08:00 UTC.
    open311_server.record("101006564854").update(status="closed", updated_datetime="2026-03-11T08:00:00Z")
    assert run_connector(store, source).rows_upserted == 1
    assert store.scalar("SELECT status FROM hotline_tickets WHERE ticket_id = '101006564854'") == "answered"


def test_the_time_zone_of_naive_times_can_be_set(store: Database, open311_server: Open311Server) -> None:
    open311_server.record("101006564853")["updated_datetime"] = "2026-03-11T12:00:00"
    run_connector(store, connector(open311_server, timezone="America/New_York"))
    in_boston = datetime(2026, 3, 11, 12, tzinfo=ZoneInfo("America/New_York"))
    assert store.scalar("SELECT updated_at FROM hotline_tickets WHERE ticket_id = '101006564853'") == in_boston
    assert json.loads(read_cursor(store, "boston") or "")["updated"] == "2026-03-11T16:00:00Z"
    with pytest.raises(ValueError, match="not a known IANA time zone"):
        connector(open311_server, timezone="Mars/Olympus_Mons")


def test_a_request_time_without_offset_is_served_and_read_in_the_city_zone(
    store: Database, open311_server: Open311Server
) -> None:
    # 22:00 in Boston is 02:00 UTC the next day: inside a window that ends at 03:00 UTC, so the server must serve it.
    open311_server.record("101006564853")["requested_datetime"] = "2026-03-10T22:00:00"
    source = connector(open311_server, timezone="America/New_York", now=lambda: at("2026-03-11T03:00:00+00:00"))
    result = run_connector(store, source)
    assert result.rows_rejected == 0
    received = store.scalar("SELECT received_at FROM hotline_tickets WHERE ticket_id = '101006564853'")
    assert received == datetime(2026, 3, 10, 22, tzinfo=BOSTON)
