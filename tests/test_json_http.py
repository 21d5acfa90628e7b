"""The generic JSON-over-HTTP connector against a local Góp ý-shaped API (synthetic records): paging, auth, faults, cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.base import RetryPolicy, SourceError, read_cursor, run_connector, save_cursor
from connectors.json_http import JsonHttpConnector
from connectors.mapping import load_mapping
from connectors.sources import build_connector, parse_sources
from ioc.config import PROJECT_ROOT
from ioc.db import Database
from tests.json_http_server import VN, GopyServer
from tests.local_http import Fault

MAPPING = PROJECT_ROOT / "mappings" / "gopy_danang.toml"


@pytest.fixture
def gopy() -> Iterator[GopyServer]:
    server = GopyServer(basic=("ioc", "secret")).start()
    yield server
    server.stop()


def connector(server: GopyServer, db: Database, **options: Any) -> JsonHttpConnector:
    settings: dict[str, Any] = {
        "records_path": "data.items",
        "cursor_param": "updated_since",
        "pagination": "page",
        "page_size": 5,
        "username": "ioc",
        "password": "secret",
        "retry": RetryPolicy(attempts=3, sleep=lambda _: None),
        "timeout_seconds": 2.0,
    }
    settings.update(options)
    return JsonHttpConnector("gopy", server.url, load_mapping(MAPPING), db=db, **settings)


def test_every_record_arrives_once_mapped_and_personal_fields_dropped(store: Database, gopy: GopyServer) -> None:
    result = run_connector(store, connector(gopy, store))
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (12, 12, 0)
    assert {q.get("page") for q in gopy.log} == {"1", "2", "3"}
    assert all(h.get("Authorization", "").startswith("Basic ") for h in gopy.headers)
    rows = store.execute(
        "SELECT status, channel, urgency, rating, unit_code, published, field FROM hotline_tickets WHERE ticket_id = '250103'"
    )
    assert rows == [("answered", "app", "normal", "satisfied", "20197", False, "An ninh trật tự")]
    assert dict(store.execute("SELECT status, count(*) FROM hotline_tickets GROUP BY 1")) == {
        "new": 3, "processing": 3, "forwarded": 3, "answered": 3,
    }  # fmt: skip
    due = store.scalar(
        "SELECT strftime(due_at AT TIME ZONE 'Asia/Ho_Chi_Minh', '%d/%m/%Y %H:%M') FROM hotline_tickets WHERE ticket_id = '250100'"
    )
    assert due == "06/11/2025 17:00"  # hanPhanHoi, dd/MM/yyyy in Vietnam time
    dump = str(store.execute("SELECT * FROM hotline_tickets")) + str(store.execute("SELECT * FROM rejects"))
    assert "Nguyễn Văn An" not in dump and "0905" not in dump and "Lê Duẩn" not in dump


def test_a_record_without_its_status_code_is_read_by_its_label(store: Database, gopy: GopyServer) -> None:
    # Production sometimes leaves maTinhTrangXuLy out (mappings/gopy_danang.toml): the label stands in for it.
    for record_id, label in ((250101, "Đang xử lý"), (250102, "Đã chuyển tiếp"), (250103, "Đã xử lý")):
        record = gopy.record(record_id)
        del record["maTinhTrangXuLy"]
        assert record["tinhTrangXuLy"] == label
    run_connector(store, connector(gopy, store))
    statuses = dict(
        store.execute("SELECT ticket_id, status FROM hotline_tickets WHERE ticket_id IN ('250101', '250102', '250103')")
    )
    assert statuses == {"250101": "processing", "250102": "forwarded", "250103": "answered"}


def test_the_cursor_is_sent_and_a_second_run_adds_nothing(store: Database, gopy: GopyServer) -> None:
    source = connector(gopy, store)
    run_connector(store, source)
    assert "updated_since" not in gopy.log[0]
    cursor = read_cursor(store, "gopy")
    gopy.log.clear()
    result = run_connector(store, source)
    assert result.rows_read == 0 and read_cursor(store, "gopy") == cursor
    assert gopy.log[0]["updated_since"].startswith("2025-11-")


def status_of(store: Database, ticket_id: int) -> str:
    return str(store.scalar("SELECT status FROM hotline_tickets WHERE ticket_id = ?", [str(ticket_id)]))


def test_an_update_on_a_page_already_read_is_not_lost_when_a_later_page_is_newer(store: Database) -> None:
    # An API paging in id order: ticket 250100 (page 1) changes while page 2 is served, and 250111 (page 3)
    # changes later in the same run, more than the overlap window later. A cursor at 250111's time would step
    # over 250100's update for good, overlap or not: the cursor must stop at the moment the run started.
    server = GopyServer(basic=("ioc", "secret"), order_by="id").start()
    run_started = datetime(2025, 11, 20, 9, 0, tzinfo=VN)

    def change_while_paging(page: int) -> None:
        if page == 2 and server.record(250100)["maTinhTrangXuLy"] == "CHUA_XU_LY":
            server.record(250100).update(maTinhTrangXuLy="DANG_XU_LY", ngayCapNhat="2025-11-20T09:00:05")
            server.record(250111).update(ngayCapNhat="2025-11-20T09:30:00")

    server.before_page = change_while_paging
    try:
        source = connector(server, store, now=lambda: run_started)
        assert run_connector(store, source).rows_read == 12
        assert status_of(store, 250100) == "new"  # page 1 was read before the update
        server.log.clear()
        second = run_connector(store, source)
        assert server.log[0]["updated_since"] == "2025-11-20T08:50:00+07:00"  # the run's start, less the overlap
        assert second.rows_read == 1 and status_of(store, 250100) == "processing"
        assert run_connector(store, source).rows_read == 0  # 250111, re-read unchanged, is skipped
    finally:
        server.stop()


def test_a_change_stamped_a_little_before_the_cursor_is_not_lost(store: Database, gopy: GopyServer) -> None:
    source = connector(gopy, store)
    run_connector(store, source)
    assert json.loads(read_cursor(store, "gopy") or "")["updated"] == "2025-11-06T08:30:00Z"  # 250111, 15:30 VN
    # Committed late, or by a clock behind ours: 5 minutes older than the newest change already read.
    gopy.record(250108).update(maTinhTrangXuLy="DANG_XU_LY", ngayCapNhat="2025-11-06T15:25:00")
    result = run_connector(store, source)
    assert result.rows_read == 1 and status_of(store, 250108) == "processing"
    assert run_connector(store, source).rows_read == 0


def test_lookback_zero_asks_from_the_cursor_itself(store: Database, gopy: GopyServer) -> None:
    source = connector(gopy, store, lookback_seconds=0)
    run_connector(store, source)
    gopy.log.clear()
    assert run_connector(store, source).rows_read == 0
    assert gopy.log[0]["updated_since"] == "2025-11-06T15:30:00+07:00"
    with pytest.raises(ValueError, match="lookback_seconds"):
        connector(gopy, store, lookback_seconds=-1)


def test_a_cursor_stored_before_the_overlap_window_still_reads(store: Database, gopy: GopyServer) -> None:
    run_connector(store, connector(gopy, store))
    newest = datetime(2025, 11, 6, 15, 30, tzinfo=VN)
    old_cursor = json.dumps({"updated": newest.astimezone(VN).isoformat(), "ids": ["250111"]})
    store.execute_write_fn(lambda conn: save_cursor(conn, "gopy", old_cursor, newest), bump_version=False)
    gopy.log.clear()
    assert run_connector(store, connector(gopy, store)).rows_read == 0  # 250111 was read at that time
    assert gopy.log[0]["updated_since"] == (newest - timedelta(minutes=10)).isoformat()


def test_next_link_pagination_and_an_api_that_ignores_the_cursor(store: Database, gopy: GopyServer) -> None:
    source = connector(gopy, store, pagination="next", next_path="links.next", params={"page_size": 4}, cursor_param=None)
    assert run_connector(store, source).rows_upserted == 12
    assert [q.get("page") for q in gopy.log] == [None, "2", "3"]
    # No server-side filter: the connector filters itself, so nothing is read twice.
    assert run_connector(store, source).rows_read == 0


def test_bearer_token_and_wrong_credentials(store: Database, gopy: GopyServer) -> None:
    with pytest.raises(SourceError, match=r"HTTP 401.*check the credentials"):
        run_connector(store, connector(gopy, store, password="wrong"))
    gopy.basic = None
    run_connector(store, connector(gopy, store, username=None, password=None, token="t0k3n"))
    assert gopy.headers[-1]["Authorization"] == "Bearer t0k3n"


def test_invalid_json_is_a_clear_error_and_the_cursor_does_not_move(store: Database, gopy: GopyServer) -> None:
    source = connector(gopy, store)
    gopy.faults.append(Fault(page=2, kind="invalid_json"))
    with pytest.raises(SourceError, match="invalid JSON from GET"):
        run_connector(store, source)
    assert read_cursor(store, "gopy") is None
    assert "invalid JSON" in store.scalar("SELECT last_error FROM connector_state WHERE connector = 'gopy'")
    assert run_connector(store, source).rows_upserted >= 7  # the next run starts over and gets the rest
    assert store.scalar("SELECT count(*) FROM hotline_tickets") == 12


def test_server_errors_are_retried_and_timeouts_reported(store: Database, gopy: GopyServer) -> None:
    gopy.faults.append(Fault(page=1, kind="status", status=503, times=2))
    assert run_connector(store, connector(gopy, store)).rows_upserted == 12
    gopy.faults.append(Fault(page=1, kind="slow", seconds=1.0, times=5))
    with pytest.raises(SourceError, match=r"no answer within 0.3 s.*gave up after 2 attempts"):
        run_connector(store, connector(gopy, store, timeout_seconds=0.3, retry=RetryPolicy(attempts=2, sleep=lambda _: None)))


def test_a_missing_records_path_is_a_clear_error(store: Database, gopy: GopyServer) -> None:
    with pytest.raises(SourceError, match=r"expected a list of records at 'data\.rows'"):
        run_connector(store, connector(gopy, store, records_path="data.rows"))


def test_sources_file_kind_json_http_takes_secrets_from_the_environment(store: Database, gopy: GopyServer) -> None:
    data = {
        "sources": {
            "gopy": {
                "kind": "json_http",
                "url": gopy.url,
                "mapping": "mappings/gopy_danang.toml",
                "records_path": "data.items",
                "pagination": "page",
                "page_size": 50,
                "username": "ioc",
                "password_env": "IOC_SRC_GOPY_PASSWORD",
                "user_agent": "Mozilla/5.0",
            }
        }
    }
    config = parse_sources(data, {"IOC_SRC_GOPY_PASSWORD": "secret"})["gopy"]
    assert run_connector(store, build_connector(store, config)).rows_upserted == 12
    assert gopy.headers[-1]["User-Agent"] == "Mozilla/5.0"


def test_a_gopy_record_without_its_source_channel_counts_as_web() -> None:
    mapping = load_mapping(MAPPING)
    assert mapping.to_canonical({"nguonGopY": None})["channel"] == "web"
    assert mapping.to_canonical({"nguonGopY": "Zalo"})["channel"] == "zalo"
    assert mapping.to_canonical({"nguonGopY": "Fax"})["channel"] == "other"
