"""SQL connector (SQLAlchemy 2): a one-stop system's dossier table read incrementally in keyset pages, with its status history."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.base import DOSSIERS, Batch, RetryPolicy, SourceError, Stream
from ioc.canonical import RowError, parse_dossier_status
from ioc.model import ENDED_STATUSES
from ioc.timeutil import LOCAL_TZ

if TYPE_CHECKING:
    from connectors.sources import SourceConfig

log = logging.getLogger(__name__)

# Canonical column -> column of the dossier table, for a schema shaped like the one-stop systems'
# (names after HoSo in the PASETO one-stop code base, domain-notes §1.3). A sources file overrides any of them.
DEFAULT_COLUMNS: dict[str, str] = {
    "dossier_id": "ma_ho_so",
    "unit_code": "ma_don_vi",
    "procedure_code": "ma_thu_tuc",
    "channel": "kenh_thuc_hien",
    "status": "trang_thai",
    "received_at": "ngay_tiep_nhan",
    "due_at": "ngay_hen_tra",
    "returned_at": "ngay_tra_ket_qua",
    "updated_at": "ngay_cap_nhat",
}
OPTIONAL_CANONICAL = (
    "sector", "finished_at", "supplement_count", "paused_seconds", "extended", "paid_online", "digitized",
    "e_result", "is_proactive",
)  # fmt: skip
# Source value -> canonical value per canonical column. Status codes 1-10 need no map (ioc.canonical knows them);
# KenhThucHien: 1 in person (or null), 2 online, 3 public postal service (QĐ 766 formula, domain-notes §1.4).
# Until connectors/mapping.py covers SQL sources, a sources file can extend these maps with [values.COLUMN].
DEFAULT_VALUES: dict[str, dict[str, str]] = {"channel": {"1": "in_person", "2": "online", "3": "postal"}}
DEFAULT_PAGE_SIZE = 5_000
IN_LIST_CHUNK = 1_000  # some databases cap bound parameters per statement (SQL Server: 2,100)
SUPPLEMENT = "supplement_requested"


@dataclass(frozen=True)
class HistoryTable:
    """The status-history table: one row per transition (dossier, status, time)."""

    table: str
    dossier_id: str = "ma_ho_so"
    status: str = "trang_thai"
    at: str = "thoi_diem"


HISTORY_OPTIONS = ("table", "dossier_id", "status", "at")  # the fields of HistoryTable, in a sources file's [history]


@dataclass(frozen=True)
class KeysetCursor:
    """The last (change time, key) stored; the next page starts strictly after it, so equal times are never skipped."""

    at: Any
    key: Any

    def encode(self) -> str:
        if isinstance(self.at, datetime):
            return json.dumps({"at": self.at.isoformat(), "at_type": "datetime", "key": self.key})
        return json.dumps({"at": self.at, "at_type": "raw", "key": self.key})

    @classmethod
    def decode(cls, text: str | None) -> KeysetCursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            at = datetime.fromisoformat(data["at"]) if data.get("at_type") == "datetime" else data["at"]
            return cls(at, data["key"])
        except (ValueError, KeyError, TypeError) as error:
            raise SourceError(f"stored cursor {text[:80]!r} is not a SQL keyset cursor", retryable=False) from error


class SqlConnector:
    """Dossiers from any database SQLAlchemy reaches, incremental on a change-time column.

    Pages are ordered by (change time, key) and each continues strictly after the last row of the one
    before (keyset pagination): rows sharing a change time are never skipped or read twice, and each
    page's cursor commits with its rows. The source's own change-time value is kept in the cursor and
    bound back unchanged, so naive or aware, any precision, the comparison is the database's.
    Only mapped columns are selected: personal columns of the source are never read.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        password: str | None = None,
        table: str = "ho_so",
        schema: str | None = None,
        columns: Mapping[str, str] | None = None,
        values: Mapping[str, Mapping[str, str]] | None = None,
        history: HistoryTable | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        timezone: str | tzinfo = LOCAL_TZ,
        source: str | None = None,
        interval_seconds: int = 300,
        retry: RetryPolicy | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.name = name
        self.interval_seconds = interval_seconds
        self.streams = (Stream(DOSSIERS, cursor_field="updated_at", cursor_inclusive=False, tie_breaker="dossier_id"),)
        merged = {**DEFAULT_COLUMNS, **(columns or {})}
        self.columns = {canonical: column for canonical, column in merged.items() if column}
        for required in ("dossier_id", "updated_at"):
            if required not in self.columns:
                raise ValueError(f"the {required} column must be mapped")
        self.values = {
            key: {str(k): v for k, v in mapping.items()} for key, mapping in {**DEFAULT_VALUES, **(values or {})}.items()
        }
        self.history = history
        self.page_size = page_size
        self.zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self.source = source or name
        self.retry = retry or RetryPolicy()
        engine_url = sa.engine.make_url(url)
        if password is not None:
            engine_url = engine_url.set(password=password)
        self._url = engine_url
        self._engine: sa.Engine | None = None
        self._table = sa.table(table, *(sa.column(c) for c in dict.fromkeys(self.columns.values())), schema=schema)
        self._history_table = (
            None
            if history is None
            else sa.table(
                history.table, sa.column(history.dossier_id), sa.column(history.status), sa.column(history.at), schema=schema
            )
        )

    @classmethod
    def from_config(cls, config: SourceConfig) -> SqlConnector:
        """``kind = "sql"``: ``url`` and the options of ``__init__`` (names and types checked by the sources file)."""
        history_spec = config.option("history")
        history = None
        if history_spec:
            unknown = set(history_spec) - set(HISTORY_OPTIONS)
            if unknown or "table" not in history_spec:
                problem = f"unknown option(s) {', '.join(sorted(unknown))}" if unknown else 'needs table = "…"'
                raise config.problem(f"[history] {problem}; allowed: {', '.join(HISTORY_OPTIONS)}")
            history = HistoryTable(**history_spec)
        columns = config.option("columns") or {}
        unknown_columns = set(columns) - set(DEFAULT_COLUMNS) - set(OPTIONAL_CANONICAL)
        if unknown_columns:
            raise config.problem(
                f"[columns] has no canonical dossier column named {', '.join(sorted(unknown_columns))}; "
                f"use {', '.join([*DEFAULT_COLUMNS, *OPTIONAL_CANONICAL])}"
            )
        timezone = config.option("timezone", "Asia/Ho_Chi_Minh")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise config.problem(f"timezone {timezone!r} is not a known IANA time zone (e.g. Asia/Ho_Chi_Minh)") from None
        url = config.require("url")
        try:
            sa.engine.make_url(url)
        except sa_exc.ArgumentError:
            # Not echoed: a URL may hold a password.
            raise config.problem(
                "url is not a SQLAlchemy database URL (e.g. postgresql+psycopg://reader@host:5432/motcua)"
            ) from None
        return cls(
            config.name,
            url,
            password=config.option("password"),
            table=config.option("table", "ho_so"),
            schema=config.option("schema"),
            columns=columns,
            values=config.option("values"),
            history=history,
            page_size=config.option("page_size", DEFAULT_PAGE_SIZE),
            timezone=zone,
            source=config.option("source"),
            interval_seconds=config.interval_seconds,
            retry=config.retry,
        )

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self._url, pool_pre_ping=True)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the connector contract ------------------------------------------------------------------

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        """Pages of rows changed after ``cursor``, oldest first, each carrying the cursor of its last row."""
        position = KeysetCursor.decode(cursor)
        while True:
            records, history = self.retry.call(functools.partial(self._read_page, position), f"{self.name}: reading a page")
            if not records:
                return
            rows = [self._canonical_row(record, history.get(record["dossier_id"], [])) for record in records]
            last = records[-1]
            position = KeysetCursor(last["updated_at"], last["dossier_id"])
            yield Batch(DOSSIERS, rows, position.encode())
            if len(records) < self.page_size:
                return

    # -- reading ---------------------------------------------------------------------------------

    def _read_page(self, position: KeysetCursor | None) -> tuple[list[dict[str, Any]], dict[Any, list[tuple[Any, Any]]]]:
        """One page of dossier rows (canonical names, source values) and the history of those dossiers."""
        changed = self._table.c[self.columns["updated_at"]]
        key = self._table.c[self.columns["dossier_id"]]
        selected = [self._table.c[column].label(canonical) for canonical, column in self.columns.items()]
        query = sa.select(*selected).where(changed.is_not(None)).order_by(changed, key).limit(self.page_size)
        if position is not None:
            query = query.where(sa.or_(changed > position.at, sa.and_(changed == position.at, key > position.key)))
        try:
            with self.engine.connect() as conn:
                records = [dict(row._mapping) for row in conn.execute(query)]
                history = self._read_history(conn, [record["dossier_id"] for record in records]) if records else {}
        except sa_exc.SQLAlchemyError as error:
            raise self._source_error(error) from error
        return records, history

    def _read_history(self, conn: sa.Connection, ids: Sequence[Any]) -> dict[Any, list[tuple[Any, Any]]]:
        if self._history_table is None or self.history is None:
            return {}
        h = self._history_table.c
        spec = self.history
        history: dict[Any, list[tuple[Any, Any]]] = {}
        for start in range(0, len(ids), IN_LIST_CHUNK):
            chunk = list(ids[start : start + IN_LIST_CHUNK])
            query = (
                sa.select(h[spec.dossier_id], h[spec.status], h[spec.at])
                .where(h[spec.dossier_id].in_(chunk))
                .order_by(h[spec.dossier_id], h[spec.at])
            )
            for dossier_id, status, at in conn.execute(query):
                history.setdefault(dossier_id, []).append((status, at))
        return history

    def _source_error(self, error: sa_exc.SQLAlchemyError) -> SourceError:
        # Connection trouble may pass; a wrong table or column name will not, so it is not retried.
        retryable = isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError
        )
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()
        where = self._url.render_as_string(hide_password=True)
        return SourceError(
            f"SQL source {self.name} ({where}): {cause[0] if cause else type(error).__name__}", retryable=retryable
        )

    # -- mapping ---------------------------------------------------------------------------------

    def _canonical_row(self, record: Mapping[str, Any], history: list[tuple[Any, Any]]) -> dict[str, Any]:
        row: dict[str, Any] = {"source": self.source}
        for canonical, value in record.items():
            mapping = self.values.get(canonical)
            if mapping is not None and value is not None:
                value = mapping.get(str(value), value)
            row[canonical] = self._localized(value)
        if history:
            self._apply_history(row, [(self._status_name(status), self._localized(at)) for status, at in history])
        elif row.get("status") is not None and row.get("finished_at") is None and self._status_name(row["status"]) == "returned":
            # Without history or a finished column, a returned dossier ended no later than its return.
            row["finished_at"] = row.get("returned_at")
        return row

    def _apply_history(self, row: dict[str, Any], events: list[tuple[str | None, Any]]) -> None:
        """finished_at, supplement_count and paused_seconds from the transitions, where the history has them."""
        events = [(status, at) for status, at in events if isinstance(at, datetime)]
        supplements = 0
        paused = 0.0
        pause_started: datetime | None = None
        first_end: datetime | None = None
        for status, at in events:
            if status == SUPPLEMENT:
                if pause_started is None:
                    supplements += 1
                    pause_started = at
                continue
            if pause_started is not None:
                # The clock stops from the request until the next transition (the citizen supplied the papers).
                paused += max(0.0, (at - pause_started).total_seconds())
                pause_started = None
            if status in ENDED_STATUSES and first_end is None:
                first_end = at  # QĐ 766: processing ends at the first completion status
        row["supplement_count"] = supplements
        row["paused_seconds"] = int(paused)
        current = self._status_name(row.get("status"))
        if current in ENDED_STATUSES:
            row["finished_at"] = (
                first_end or row.get("finished_at") or (row.get("returned_at") if current == "returned" else None)
            )

    def _status_name(self, value: Any) -> str | None:
        if value is None:
            return None
        mapped = self.values.get("status", {}).get(str(value), value)
        try:
            return parse_dossier_status(mapped)
        except RowError:
            return None

    def _localized(self, value: Any) -> Any:
        # Many one-stop databases store local time without an offset; say which zone it is before comparing.
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=self.zone)
        return value
