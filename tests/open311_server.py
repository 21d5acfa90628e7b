"""A local Open311 GeoReport v2 server for tests: replays real requests.json records, with faults on demand."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.local_http import LocalHTTPServer
from tests.missing import missing

# Boston's server: a time it is given or holds without an offset is Boston wall-clock time.
BOSTON = ZoneInfo("America/New_York")
EARLIEST = datetime.min.replace(tzinfo=UTC)


def _time(text: str, zone: tzinfo) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


class Open311Server(LocalHTTPServer):
    """``services.json`` and ``requests.json`` with start_date/end_date (≤ 90 days) and page/page_size, on 127.0.0.1.

    Requests come newest requested_datetime first. ``on_request`` is called with each requests.json query before
    it is answered, so a test can change records at a chosen moment of a run (say, when page 2 is asked for).
    """

    def __init__(self, records: list[dict[str, Any]], timezone: tzinfo = BOSTON) -> None:
        self.records = records
        self.timezone = timezone
        self.on_request: Callable[[dict[str, str]], None] | None = None
        # Some servers have no working services.json: set this to 404 (or 500) to be one.
        self.services_status = 200
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/open311/v2"

    def record(self, request_id: str) -> dict[str, Any]:
        return next(record for record in self.records if record["service_request_id"] == request_id)

    def requests_made(self) -> int:
        return len(self.log)

    def _answer(self, path: str, query: dict[str, str], headers: Message) -> tuple[int, bytes, float]:
        """Status, body and delay for one GET."""
        if path.endswith("/services.json"):
            if self.services_status != 200:
                return self.services_status, b'{"error": "no services"}', 0.0
            services = {r["service_code"]: r.get("service_name") for r in self.records if r.get("service_code")}
            listing = [{"service_code": code, "service_name": name, "type": "realtime"} for code, name in services.items()]
            return 200, json.dumps(listing).encode(), 0.0
        if not path.endswith("/requests.json"):
            return 404, b'{"error": "not found"}', 0.0
        with self._lock:
            self.log.append(query)
        if self.on_request is not None:
            self.on_request(query)
        selected = sorted(self.records, key=self._requested, reverse=True)
        if "start_date" in query or "end_date" in query:
            try:
                start, end = _time(query["start_date"], self.timezone), _time(query["end_date"], self.timezone)
            except (KeyError, ValueError):
                return 400, b'[{"code": 400, "description": "start_date and end_date must both be ISO 8601"}]', 0.0
            if end - start > timedelta(days=90):
                return 400, b'[{"code": 400, "description": "date range may not exceed 90 days"}]', 0.0
            selected = [r for r in selected if self._in_window(r.get("requested_datetime"), start, end)]
        page = int(query.get("page", "1"))
        if "page_size" in query:
            size = int(query["page_size"])
            selected = selected[(page - 1) * size : page * size]
        return self._with_fault(page, json.dumps(selected).encode())

    def _requested(self, record: dict[str, Any]) -> datetime:
        try:
            return _time(str(record.get("requested_datetime")), self.timezone)
        except ValueError:
            return EARLIEST  # a malformed date sorts last

    def _in_window(self, value: Any, start: datetime, end: datetime) -> bool:
        try:
            return start <= _time(str(value), self.timezone) <= end
        except ValueError:
            return True  # a malformed date is still served: the connector must reject it with a reason


def boston_records(shared_dir: Path) -> list[dict[str, Any]]:
    """The 50 real Boston requests (../shared/data/real/open311-boston/requests.json)."""
    path = shared_dir / "data" / "real" / "open311-boston" / "requests.json"
    if not path.is_file():
        missing(f"{path} is not here: the Boston Open311 sample is only beside a full checkout")
    return list(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def open311_server(shared_dir: Path) -> Iterator[Open311Server]:
    """A running local Open311 server replaying the real Boston response."""
    server = Open311Server(boston_records(shared_dir)).start()
    yield server
    server.stop()
