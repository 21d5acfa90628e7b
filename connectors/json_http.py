"""Generic JSON-over-HTTP connector: records from any paged JSON API, turned canonical by a mapping file (stdlib urllib)."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import Batch, RetryPolicy, SourceError, Stream
from connectors.http import fetch_json
from connectors.mapping import SourceMapping
from connectors.overlap import DEFAULT_LOOKBACK_SECONDS, OverlapCursor, OverlapScan
from ioc.canonical import RowError
from ioc.timeutil import now_utc

if TYPE_CHECKING:
    from connectors.sources import SourceConfig
    from ioc.db import Database

MAX_PAGES = 10_000  # a server whose pages never end would otherwise loop forever
PAGINATION_MODES = ("none", "page", "next")
DEFAULT_USER_AGENT = "ioc-dashboard"
# Named in the error of a refused request (HTTP 401/403): where a json_http source takes its credentials.
CREDENTIALS_HINT = "username, password_env or token_env in the sources file"


def lookup_path(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` ("data.items") in parsed JSON; "" is the document itself; None when absent."""
    node = document
    for part in path.split(".") if path else ():
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class JsonHttpConnector:
    """Records of a JSON API, mapped by a mapping file, incremental on the mapped ``updated_at``.

    Each run asks for records changed since the cursor less ``lookback_seconds`` (``cursor_param``, when
    the API filters: e.g. ``updated_since``) and also filters them itself, so an API that ignores the
    parameter costs a full scan but never a duplicate. The cursor is a time and the (key, updated_at) of
    every record read from lookback_seconds before it: what is read again unchanged is skipped, a change
    with any time in that stretch is taken, so a change stamped a little before the cursor (a clock behind
    ours, a late commit) is not lost. The cursor never passes the moment its run started: a record updated
    while a run pages may sit on a page already read, so only the next run sees it, and must look that far
    back. Pages are ``page``/``page_size`` numbers or a next link in the body; the cursor moves only with
    the last batch of a complete scan, so a run that fails half-way (timeout, HTTP 500 after its retries,
    invalid JSON) leaves the cursor where it was and starts over next time.
    Credentials come from the environment only (the sources file's ``password_env``/``token_env``).
    """

    def __init__(
        self,
        name: str,
        url: str,
        mapping: SourceMapping,
        *,
        params: Mapping[str, Any] | None = None,
        records_path: str = "",
        cursor_param: str | None = None,
        cursor_format: str = "iso",
        pagination: str = "none",
        page_param: str = "page",
        page_size_param: str = "page_size",
        page_size: int = 100,
        first_page: int = 1,
        next_path: str = "next",
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS,
        timeout_seconds: float = 30.0,
        interval_seconds: int = 300,
        retry: RetryPolicy | None = None,
        db: Database | None = None,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        if pagination not in PAGINATION_MODES:
            raise ValueError(f"pagination must be one of {', '.join(PAGINATION_MODES)}, not {pagination!r}")
        if pagination == "page" and page_size < 1:
            raise ValueError("page_size must be at least 1")
        if token and (username or password):
            raise ValueError("give either a token (bearer) or a username and password (basic), not both")
        if password and not username:
            raise ValueError("a password needs a username (HTTP Basic)")
        if lookback_seconds < 0:
            raise ValueError("lookback_seconds must be 0 or more")
        key = mapping.target.primary_key
        if "updated_at" not in mapping.rules:
            raise ValueError(f"mapping {mapping.name} has no updated_at rule: the JSON connector's cursor needs one")
        self.name = name
        self.interval_seconds = interval_seconds
        self.mapping = mapping
        self.streams = (Stream(mapping.target, cursor_field="updated_at", cursor_inclusive=True, tie_breaker=key),)
        self.url = url
        self.params = {str(k): str(v) for k, v in (params or {}).items()}
        self.records_path = records_path
        self.cursor_param = cursor_param
        self.cursor_format = cursor_format
        self.pagination = pagination
        self.page_param = page_param
        self.page_size_param = page_size_param
        self.page_size = page_size
        self.first_page = first_page
        self.next_path = next_path
        self.overlap = timedelta(seconds=lookback_seconds)
        self.timeout = timeout_seconds
        self.now = now
        self.retry = retry or RetryPolicy()
        self.db = db  # only read, for mappings that look units up by name
        self.headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif username:
            pair = f"{username}:{password or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")

    @classmethod
    def from_config(cls, db: Database, config: SourceConfig) -> JsonHttpConnector:
        """``kind = "json_http"``: ``url``, ``mapping`` (a mapping file) and the options of ``__init__``."""
        from connectors.sources import load_source_mapping

        # The sources file checked every option's name and type when it was read.
        options = {key: value for key, value in config.options.items() if key not in ("url", "mapping")}
        return cls(
            config.name,
            str(config.require("url")),
            load_source_mapping(config),
            interval_seconds=config.interval_seconds,
            retry=config.retry,
            db=db,
            **options,
        )

    # -- the connector contract ------------------------------------------------------------------

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        """One batch per page of records changed after ``cursor``; only the last carries the new cursor."""
        scan = OverlapScan(OverlapCursor.decode(cursor, "a JSON-over-HTTP"), self.overlap, self.now().astimezone(UTC))
        pending: Batch | None = None
        for page in self._pages(scan.floor):
            records = [record for record in page if scan.take(*self._key_and_time(record))]
            if not records:
                continue
            if pending is not None:
                yield pending
            pending = self.mapping.batch(self.db, records)
        if pending is not None:
            pending.cursor = scan.next_cursor()
            yield pending

    def _key_and_time(self, record: Mapping[str, Any]) -> tuple[str, datetime | None]:
        row = self.mapping.strip(record)
        try:
            key = self.mapping.canonical_value(row, self.mapping.target.primary_key)
        except RowError:
            key = None
        try:
            updated = self.mapping.canonical_value(row, "updated_at")
        except RowError:
            updated = None  # the row is rejected with the reason when written; it cannot move the cursor
        return ("" if key is None else str(key)), (updated if isinstance(updated, datetime) else None)

    # -- requests --------------------------------------------------------------------------------

    def _cursor_text(self, since: datetime) -> str:
        local = since.astimezone(self.mapping.timezone)
        if self.cursor_format == "iso":
            return local.isoformat()
        if self.cursor_format == "epoch":
            return str(int(since.timestamp()))
        return local.strftime(self.cursor_format)

    def _pages(self, since: datetime | None) -> Iterator[list[Mapping[str, Any]]]:
        query = dict(self.params)
        if self.cursor_param and since is not None:
            query[self.cursor_param] = self._cursor_text(since)
        if self.pagination == "none":
            yield self._records(self._get(self.url, query), self.url)
            return
        if self.pagination == "next":
            yield from self._next_pages(query)
            return
        previous: list[Mapping[str, Any]] | None = None
        for number in range(self.first_page, self.first_page + MAX_PAGES):
            paged = {**query, self.page_param: str(number), self.page_size_param: str(self.page_size)}
            page = self._records(self._get(self.url, paged), self.url)
            if page and page == previous:
                return  # the server ignores the page parameter: it sent the same page again
            yield page
            if len(page) < self.page_size:
                return
            previous = page
        raise SourceError(f"JSON source {self.name}: more than {MAX_PAGES} pages", retryable=False)

    def _next_pages(self, query: Mapping[str, str]) -> Iterator[list[Mapping[str, Any]]]:
        url: str | None = self.url
        params: Mapping[str, str] = query
        visited: set[str] = set()
        while url is not None:
            if len(visited) >= MAX_PAGES:
                raise SourceError(f"JSON source {self.name}: more than {MAX_PAGES} pages", retryable=False)
            full = _with_query(url, params)
            if full in visited:
                return  # a next link pointing back: the end
            visited.add(full)
            body = self._get(url, params)
            yield self._records(body, full)
            link = lookup_path(body, self.next_path)
            url = urllib.parse.urljoin(full, link) if isinstance(link, str) and link.strip() else None
            params = {}  # a next link carries its own query

    def _records(self, body: Any, url: str) -> list[Mapping[str, Any]]:
        records = lookup_path(body, self.records_path)
        if not isinstance(records, list):
            where = f"at '{self.records_path}'" if self.records_path else "as the whole body"
            found = "nothing" if records is None else type(records).__name__
            raise SourceError(
                f"JSON source {self.name}: expected a list of records {where} from GET {url}, found {found}",
                retryable=False,
            )
        return [record for record in records if isinstance(record, Mapping)]

    def _get(self, url: str, params: Mapping[str, str]) -> Any:
        return fetch_json(
            _with_query(url, params),
            source_kind="JSON",
            source_name=self.name,
            headers=self.headers,
            timeout=self.timeout,
            retry=self.retry,
            credentials_hint=CREDENTIALS_HINT,
        )


def _with_query(url: str, params: Mapping[str, str]) -> str:
    if not params:
        return url
    return url + ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(params)
