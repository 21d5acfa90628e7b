"""Open311 GeoReport v2 connector: hotline tickets from a city's services.json and requests.json (stdlib urllib)."""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import HOTLINE, Batch, RetryPolicy, SourceError, StoppingError, Stream
from connectors.http import fetch_json
from connectors.mapping import slug
from connectors.overlap import DEFAULT_LOOKBACK_SECONDS, OverlapCursor, OverlapScan, exact_time
from ioc.timeutil import LOCAL_TZ, now_utc

if TYPE_CHECKING:
    from connectors.sources import SourceConfig

log = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 90  # GeoReport v2: start_date/end_date may span at most 90 days
MAX_PAGES = 1_000  # a server that never returns a short page would otherwise loop forever
UUID_CODE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
OTHER_UNIT = "other"
# GeoReport status -> canonical hotline status (the same as mappings/boston_open311.toml).
# Until this connector reads mapping files, a sources file can change it with [sources.NAME.status_map].
DEFAULT_STATUS_MAP = {"open": "new", "closed": "answered"}
REQUEST_HEADERS = {"Accept": "application/json", "User-Agent": "ioc-dashboard"}


def department(service_code: Any) -> str:
    """The unit a request belongs to: the first segment of a legacy "Department:Reason:Type" code, else 'other'."""
    text = "" if service_code is None else str(service_code).strip()
    if not text or UUID_CODE.match(text) or ":" not in text:
        return OTHER_UNIT  # the newer system's UUID codes say nothing about the department
    return " ".join(text.split(":", 1)[0].split()) or OTHER_UNIT


def _parse_time(value: Any, zone: tzinfo) -> datetime | None:
    """An aware time from GeoReport's ISO 8601 text; one without an offset is read in ``zone``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _iso(moment: datetime) -> str:
    """A time as GeoReport's start_date/end_date take it: UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Open311Connector:
    """Hotline tickets from an Open311 GeoReport v2 endpoint, incremental on ``updated_datetime``.

    GeoReport filters only on requested_datetime, so each run scans request windows of at most 90 days
    from the older of (cursor − lookback_seconds, now − lookback_days) and keeps the requests changed since
    cursor − lookback_seconds that it has not read before. A request's change time is its updated_datetime,
    or its requested_datetime when it was never updated (GeoReport: updated_datetime is the last change).

    The cursor is a time and the (id, change time) of every request read from lookback_seconds before it:
    what is read again unchanged is skipped, a change with any time in that stretch is taken. The cursor
    never passes the moment its run started: a request updated while a run pages through the windows may
    sit on a page already read, so only the next run sees it, and must still look that far back. The cursor
    only moves with the last batch of a complete scan: a run that fails half-way starts over next time.

    Times without an offset are read in ``timezone`` everywhere (windows, cursor and rows), so a cursor
    and the rows it stands for always agree. Reporter contact details (extended_attributes), free text,
    address and photos are never read.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        source: str | None = None,
        jurisdiction_id: str | None = None,
        page_size: int | None = None,
        backfill_days: int = 30,
        lookback_days: int = 30,
        lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS,
        timezone: str | tzinfo = LOCAL_TZ,
        window_days: int = MAX_WINDOW_DAYS,
        timeout_seconds: float = 30.0,
        unit_prefix: str = "EXT-BOS",
        unit_label: str = "Boston 311",
        status_map: Mapping[str, str] | None = None,
        channel: str = "other",
        coordinate_digits: int = 3,
        interval_seconds: int = 300,
        retry: RetryPolicy | None = None,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"window_days must be 1-{MAX_WINDOW_DAYS} (the GeoReport v2 limit)")
        if lookback_seconds < 0:
            raise ValueError("lookback_seconds must be 0 or more")
        try:
            # Naive GeoReport times are the city's wall clock; like every other source, Vietnam's unless told.
            self.zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {timezone!r} is not a known IANA time zone (e.g. America/New_York)") from None
        self.name = name
        self.interval_seconds = interval_seconds
        self.streams = (Stream(HOTLINE, cursor_field="updated_at", cursor_inclusive=True, tie_breaker="ticket_id"),)
        self.base_url = base_url.rstrip("/")
        self.source = source or name
        self.jurisdiction_id = jurisdiction_id
        self.page_size = page_size
        self.backfill = timedelta(days=backfill_days)
        self.lookback = timedelta(days=lookback_days)
        self.overlap = timedelta(seconds=lookback_seconds)
        self.window = timedelta(days=window_days)
        self.timeout = timeout_seconds
        self.unit_prefix = unit_prefix
        self.unit_label = unit_label
        self.status_map = {k.lower(): v for k, v in (status_map or DEFAULT_STATUS_MAP).items()}
        self.channel = channel
        self.coordinate_digits = coordinate_digits
        self.retry = retry or RetryPolicy()
        self.now = now

    @classmethod
    def from_config(cls, config: SourceConfig) -> Open311Connector:
        """``kind = "open311"``: ``base_url`` and the options of ``__init__`` (names and types checked by the sources file)."""
        options = {key: value for key, value in config.options.items() if key != "base_url"}
        return cls(
            config.name, str(config.require("base_url")), interval_seconds=config.interval_seconds, retry=config.retry, **options
        )

    # -- the connector contract ------------------------------------------------------------------

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per page of requests changed after ``cursor``; only the last carries the new cursor."""
        scan = OverlapScan(OverlapCursor.decode(cursor, "an Open311"), self.overlap, self.now().astimezone(UTC))
        start = scan.started - self.backfill if scan.floor is None else min(scan.floor, scan.started - self.lookback)
        services = self.services()
        pending: Batch | None = None
        for window_start, window_end in self._windows(start, scan.started):
            for page in self._pages(window_start, window_end):
                records = [
                    record for record in page if scan.take(str(record.get("service_request_id") or ""), self._change_time(record))
                ]
                if not records:
                    continue
                if pending is not None:
                    yield pending
                pending = self._batch(records, services)
        if pending is not None:
            pending.cursor = scan.next_cursor()
            yield pending

    def _change_time(self, record: Mapping[str, Any]) -> datetime | None:
        """When a request last changed: updated_datetime, else requested_datetime (a request never updated)."""
        return _parse_time(record.get("updated_datetime"), self.zone) or _parse_time(record.get("requested_datetime"), self.zone)

    # -- requests --------------------------------------------------------------------------------

    def services(self) -> dict[str, str]:
        """service_code -> service_name from services.json (names requests lack are filled from it).

        Only names come from it, and requests usually carry their own: a server without a working services.json
        (some answer 404) costs the names it would have filled, with a warning, not the run.
        """
        try:
            listing = self._get("services.json", {})
        except StoppingError:
            raise
        except SourceError as error:
            log.warning(
                "%s; the requests are read without it (a request that names no service is counted under the catch-all field)",
                error,
            )
            return {}
        return {
            str(item["service_code"]): str(item.get("service_name") or "")
            for item in (listing if isinstance(listing, list) else [])
            if isinstance(item, Mapping) and item.get("service_code")
        }

    def _windows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        while start < end:
            window_end = min(end, start + self.window)
            yield start, window_end
            start = window_end

    def _pages(self, start: datetime, end: datetime) -> Iterator[list[Mapping[str, Any]]]:
        params = {"start_date": _iso(start), "end_date": _iso(end)}
        if not self.page_size:
            yield self._records(self._get("requests.json", params))
            return
        previous_ids: list[str] | None = None
        for page_number in range(1, MAX_PAGES + 1):
            page = self._records(
                self._get("requests.json", {**params, "page": str(page_number), "page_size": str(self.page_size)})
            )
            ids = [str(record.get("service_request_id")) for record in page]
            if ids and ids == previous_ids:
                return  # the server ignores page: it sent the same page again
            yield page
            if len(page) < self.page_size:
                return
            previous_ids = ids
        raise SourceError(f"Open311 source {self.name}: more than {MAX_PAGES} pages in one window", retryable=False)

    def _records(self, payload: Any) -> list[Mapping[str, Any]]:
        if not isinstance(payload, list):
            raise SourceError(f"Open311 source {self.name}: requests.json did not return a JSON array", retryable=False)
        return [record for record in payload if isinstance(record, Mapping)]

    def _get(self, endpoint: str, params: Mapping[str, str]) -> Any:
        query = dict(params)
        if self.jurisdiction_id:
            query["jurisdiction_id"] = self.jurisdiction_id
        url = f"{self.base_url}/{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return fetch_json(
            url, source_kind="Open311", source_name=self.name, headers=REQUEST_HEADERS, timeout=self.timeout, retry=self.retry
        )

    # -- mapping ---------------------------------------------------------------------------------

    def unit_code(self, unit: str) -> str:
        return f"{self.unit_prefix}-{slug(unit)}"

    def _batch(self, records: Sequence[Mapping[str, Any]], services: Mapping[str, str]) -> Batch:
        rows = [self._row(record, services) for record in records]
        units = {
            self.unit_code(name): {"unit_code": self.unit_code(name), "name": name, "full_name": f"{name} ({self.unit_label})"}
            for name in (department(record.get("service_code")) for record in records)
        }
        return Batch(HOTLINE, rows, None, list(units.values()))

    def _row(self, record: Mapping[str, Any], services: Mapping[str, str]) -> dict[str, Any]:
        """Only the canonical fields: contact details, description, address and media never leave this function."""
        raw_status = str(record.get("status") or "").strip().lower()
        status = self.status_map.get(raw_status, raw_status or None)
        code = record.get("service_code")
        return {
            "ticket_id": record.get("service_request_id"),
            "source": self.source,
            "channel": self.channel,
            "field": record.get("service_name") or services.get(str(code)) or None,
            "urgency": "normal",
            "unit_code": self.unit_code(department(code)),
            "received_at": self._time_text(record.get("requested_datetime")),
            "due_at": self._time_text(record.get("expected_datetime")),
            # GeoReport has no close time: a closed request was closed at its last update.
            "answered_at": self._time_text(record.get("updated_datetime")) if status == "answered" else None,
            "status": status,
            "lat": self._rounded(record.get("lat")),
            "lon": self._rounded(record.get("long")),
            # The time the cursor is kept on, so a request never updated is stored once, not stamped anew each run.
            "updated_at": exact_time(changed) if (changed := self._change_time(record)) is not None else None,
        }

    def _time_text(self, value: Any) -> Any:
        """A time with its offset, so the store reads it as the cursor does; text that is no time goes on to be rejected."""
        moment = _parse_time(value, self.zone)
        return value if moment is None else exact_time(moment)

    def _rounded(self, value: Any) -> Any:
        # About 100 m at 3 digits: enough for a map of problems, not enough to point at a reporter's door.
        try:
            return round(float(value), self.coordinate_digits)
        except (TypeError, ValueError):
            return value
