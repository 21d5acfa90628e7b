"""SQL connector (SQLAlchemy 2): a one-stop system's dossier table read incrementally in keyset pages, with its status history."""

from __future__ import annotations

import decimal
import functools
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from connectors.base import DOSSIERS, Batch, RetryPolicy, SourceError, Stream, raw_text
from connectors.mapping import ROW_PROBLEM, guarded_target
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
# Rows the connector itself finds unusable carry ROW_PROBLEM, which the guard turns into their reject reason.
_GUARDED = guarded_target(DOSSIERS)
# A row can become visible with a change time already behind the cursor: the one-stop application stamps
# ngay_cap_nhat when its transaction starts and commits later, and its servers' clocks drift. Ten minutes
# covers a slow transaction and ordinary skew while re-reading only the last ten minutes of changes per run
# (merge by key makes that harmless); a source with longer transactions needs a larger lookback_seconds.
DEFAULT_LOOKBACK_SECONDS = 600
# A query the source cannot answer in this time (a table locked by a long job, a hung server) fails and is retried,
# instead of holding the source's run, and with it the scheduler's slot, for ever.
DEFAULT_TIMEOUT_SECONDS = 60.0
QUERY_CANCELED_SQLSTATE = "57014"  # PostgreSQL: statement_timeout reached
# Python module of a SQLAlchemy driver -> the package pip installs it from, where the two names differ.
DRIVER_PACKAGES = {"pymysql": "PyMySQL", "MySQLdb": "mysqlclient", "psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]"}
# SQLSTATEs that retrying cannot cure: no such database, login refused (PostgreSQL's codes, which psycopg reports).
PERMANENT_SQLSTATES = frozenset({"3D000", "28000", "28P01"})
PERMANENT_WORDS = ("does not exist", "password authentication failed", "no pg_hba.conf entry")
IN_LIST_CHUNK = 1_000  # some databases cap bound parameters per statement (SQL Server: 2,100)
SUPPLEMENT = "supplement_requested"


def timeout_connect_args(url: sa.URL, seconds: float) -> dict[str, Any]:
    """Driver arguments that make connecting, and each query where the driver allows it, give up after ``seconds``.

    Only the databases whose drivers take such arguments are covered; others get none and wait as their driver does.
    """
    whole = max(1, math.ceil(seconds))
    backend = url.get_backend_name()
    if backend == "postgresql":
        # libpq's connect_timeout, and the server cancels any statement running longer (SQLSTATE 57014).
        return {"connect_timeout": whole, "options": f"-c statement_timeout={round(seconds * 1000)}"}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": whole, "read_timeout": whole}
    if backend == "sqlite":
        return {"timeout": seconds}  # how long to wait for a lock another writer holds
    return {}


@dataclass(frozen=True)
class HistoryTable:
    """The status-history table: one row per transition (dossier, status, time)."""

    table: str
    dossier_id: str = "ma_ho_so"
    status: str = "trang_thai"
    at: str = "thoi_diem"


HISTORY_OPTIONS = ("table", "dossier_id", "status", "at")  # the fields of HistoryTable, in a sources file's [history]


# Types a change time or key can have, kept in the cursor as JSON text and rebuilt as the same Python type, so
# the next run binds a value the database compares with the column as it is (a UUID as uuid, not as text).
CURSOR_VALUE_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "decimal": decimal.Decimal,
    "uuid": uuid.UUID,
    "raw": lambda value: value,  # JSON's own: text, whole numbers, floats
}


def encode_cursor_value(value: Any) -> tuple[Any, str]:
    """(JSON value, type name) of a change time or key; TypeError for a type the cursor cannot keep."""
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return value.isoformat(), "datetime"
    if isinstance(value, date):
        return value.isoformat(), "date"
    if isinstance(value, decimal.Decimal):
        return str(value), "decimal"
    if isinstance(value, uuid.UUID):
        return str(value), "uuid"
    if isinstance(value, str | int | float):
        return value, "raw"
    raise TypeError(f"a {type(value).__name__} value cannot be kept in the cursor")


@dataclass(frozen=True)
class RowPosition:
    """A row's place in reading order: (change time, key). Stored as the cursor: the furthest row read so far."""

    at: Any
    key: Any

    def encode(self) -> str:
        at, at_type = encode_cursor_value(self.at)
        key, key_type = encode_cursor_value(self.key)
        return json.dumps({"at": at, "at_type": at_type, "key": key, "key_type": key_type})

    @classmethod
    def decode(cls, text: str | None) -> RowPosition | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            # Cursors stored before key_type existed hold a text or numeric key as plain JSON.
            at = CURSOR_VALUE_DECODERS[data.get("at_type", "raw")](data["at"])
            key = CURSOR_VALUE_DECODERS[data.get("key_type", "raw")](data["key"])
            return cls(at, key)
        except (ValueError, KeyError, TypeError, decimal.InvalidOperation) as error:
            raise SourceError(f"stored cursor {text[:80]!r} is not a SQL keyset cursor", retryable=False) from error

    def furthest(self, later_read: RowPosition) -> RowPosition:
        """This position or ``later_read``, whichever changed later (on a tie the one read later).

        Only change times are compared: rows re-read in the overlap window must not move the cursor back, and
        the order of keys is the database's collation, which Python's need not match.
        """
        try:
            return self if later_read.at < self.at else later_read
        except TypeError:  # the column's type changed since this cursor was stored: follow the rows
            return later_read


class SqlConnector:
    """Dossiers from any database SQLAlchemy reaches, incremental on a change-time column.

    Pages are ordered by (change time, key) and each continues strictly after the last row of the one
    before (keyset pagination): within a run, rows sharing a change time are never skipped or read twice,
    and each page's cursor commits with its rows. The cursor is the (change time, key) of the furthest row
    read; it never moves back.

    Overlap window: a row may become visible with a change time at or before the cursor (a long
    transaction at the source commits late, or a clock is behind). So each run starts again at the
    cursor's change time minus ``lookback_seconds``, inclusive, and re-reads that window; merge by key
    stores only what differs, so the re-read rows change nothing. A row committed later than that window
    is still missed: raise ``lookback_seconds`` for a source whose transactions run longer. The window
    applies to date-time and date change columns (a date column re-reads from the cursor's day, or
    earlier days when the window is longer); a numeric or text change column re-reads from its value.

    The source's own change-time value is kept in the cursor (date-time, date, decimal, UUID, text or
    number, with its type) and bound back as the same type, so naive or aware, any precision, the
    comparison is the database's. A row whose change time is empty cannot be followed: each run reads
    such rows apart (by key) and sends them to rejects naming the column; they do not hold the cursor.
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
        lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be more than 0")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if lookback_seconds < 0:
            raise ValueError("lookback_seconds must be 0 or more")
        engine_url = _checked_url(url)
        self.name = name
        self.interval_seconds = interval_seconds
        # Inclusive: each run starts at the cursor's change time (less the overlap window) itself.
        self.streams = (Stream(DOSSIERS, cursor_field="updated_at", cursor_inclusive=True, tie_breaker="dossier_id"),)
        self.lookback = timedelta(seconds=lookback_seconds)
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
        if password is not None:
            engine_url = engine_url.set(password=password)
        self._url = engine_url
        self.timeout_seconds = timeout_seconds
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
            lookback_seconds=config.option("lookback_seconds", DEFAULT_LOOKBACK_SECONDS),
            timeout_seconds=config.option("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
        )

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            connect_args = timeout_connect_args(self._url, self.timeout_seconds)
            self._engine = sa.create_engine(self._url, pool_pre_ping=True, connect_args=connect_args)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the connector contract ------------------------------------------------------------------

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        """Pages of rows changed since ``cursor`` less the overlap window, oldest first, each carrying the cursor reached.

        Then the rows without a change time, refused whole (they carry no cursor: they cannot hold it back).
        """
        reached = RowPosition.decode(cursor)
        window_start = None if reached is None else self._window_start(reached.at)
        after: RowPosition | None = None
        while True:
            read = functools.partial(self._read_page, window_start, after)
            records, history = self.retry.call(read, f"{self.name}: reading a page")
            if not records:
                break
            rows = [self._canonical_row(record, history.get(record["dossier_id"], [])) for record in records]
            last = records[-1]
            after = RowPosition(last["updated_at"], last["dossier_id"])
            reached = after if reached is None else reached.furthest(after)
            yield Batch(_GUARDED, rows, self._encoded(reached))
            if len(records) < self.page_size:
                break
        yield from self._rows_without_change_time()

    def _window_start(self, reached_at: Any) -> Any:
        # A date less a few minutes is the day before only when the window spans days: date arithmetic drops the rest.
        if isinstance(reached_at, date):
            return reached_at - self.lookback
        return reached_at  # a numeric or text change column has no seconds to go back: from its value, inclusive

    def _encoded(self, position: RowPosition) -> str:
        try:
            return position.encode()
        except TypeError as error:
            columns = f"{self.columns['updated_at']} or {self.columns['dossier_id']}"
            raise SourceError(
                f"SQL source {self.name}: {error} ({columns}); map a column of date-time, date, number, text or UUID type",
                retryable=False,
            ) from error

    def _rows_without_change_time(self) -> Iterator[Batch]:
        """The rows whose change time is empty, as rejects: they cannot be ordered by it, so they are paged by key."""
        column = self.columns["updated_at"]
        reason = f"{column} (the change-time column) is empty: the row cannot be followed; set it in the source"
        after_key: Any = None
        while True:
            read = functools.partial(self._read_rows_without_change_time, after_key)
            records = self.retry.call(read, f"{self.name}: reading rows without a change time")
            if not records:
                return
            refused = [(raw_text(self._canonical_row(record, [])), reason) for record in records]
            yield Batch(DOSSIERS, [], None, refused=refused)
            after_key = records[-1]["dossier_id"]
            if len(records) < self.page_size or after_key is None:
                return

    # -- reading ---------------------------------------------------------------------------------

    def _read_page(
        self, window_start: Any, after: RowPosition | None
    ) -> tuple[list[dict[str, Any]], dict[Any, list[tuple[Any, Any]]]]:
        """One page of dossier rows (canonical names, source values) and the history of those dossiers.

        Rows changed at or after ``window_start`` and strictly after ``after`` in (change time, key) order.
        """
        changed = self._table.c[self.columns["updated_at"]]
        key = self._table.c[self.columns["dossier_id"]]
        query = self._select().where(changed.is_not(None)).order_by(changed, key).limit(self.page_size)
        if window_start is not None:
            query = query.where(changed >= window_start)
        if after is not None:
            query = query.where(sa.or_(changed > after.at, sa.and_(changed == after.at, key > after.key)))
        try:
            with self.engine.connect() as conn:
                records = [dict(row._mapping) for row in conn.execute(query)]
                history = self._read_history(conn, [record["dossier_id"] for record in records]) if records else {}
        except sa_exc.SQLAlchemyError as error:
            raise self._source_error(error) from error
        return records, history

    def _read_rows_without_change_time(self, after_key: Any) -> list[dict[str, Any]]:
        changed = self._table.c[self.columns["updated_at"]]
        key = self._table.c[self.columns["dossier_id"]]
        query = self._select().where(changed.is_(None)).order_by(key).limit(self.page_size)
        if after_key is not None:
            query = query.where(key > after_key)
        try:
            with self.engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(query)]
        except sa_exc.SQLAlchemyError as error:
            raise self._source_error(error) from error

    def _select(self) -> sa.Select[Any]:
        return sa.select(*(self._table.c[column].label(canonical) for canonical, column in self.columns.items()))

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
        # Connection trouble may pass; a wrong table or column name will not, so it is not retried. Nor will a
        # database that does not exist or a refused login, though drivers raise them as connection errors.
        orig = getattr(error, "orig", None)
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        # At connect time psycopg gives no SQLSTATE, only the server's words.
        permanent = state in PERMANENT_SQLSTATES or any(words in str(orig or error) for words in PERMANENT_WORDS)
        retryable = not permanent and isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError | sa_exc.TimeoutError
        )
        cause = str(getattr(error, "orig", None) or error).strip().splitlines()
        where = self._url.render_as_string(hide_password=True)
        said = cause[0] if cause else type(error).__name__
        if state == QUERY_CANCELED_SQLSTATE:
            said += f" (no answer within timeout_seconds = {self.timeout_seconds:g})"
        return SourceError(f"SQL source {self.name} ({where}): {said}", retryable=retryable)

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
        status = self._status_name(row.get("status"))
        if status in ENDED_STATUSES and row.get("finished_at") is None:
            row[ROW_PROBLEM] = self._why_no_end(status)
        return row

    def _why_no_end(self, status: str) -> str:
        """The reject reason for an ended dossier without an end time, saying where the connector looked for one."""
        looked = [f"{self.history.table} has no row ending it"] if self.history is not None else ["no [history] table is set"]
        if "finished_at" in self.columns:
            looked.append(f"its {self.columns['finished_at']} is empty")
        else:
            looked.append("no finished_at column is mapped")
        if status == "returned":
            looked.append(f"its {self.columns.get('returned_at', 'returned_at')} is empty")
        return f"finished_at: missing for a dossier whose status is {status} ({'; '.join(looked)})"

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


def _checked_url(url: str) -> sa.URL:
    """The URL parsed, or ValueError when it holds a password or names a driver that is not installed.

    Neither message echoes the URL: it may hold a password.
    """
    engine_url = sa.engine.make_url(url)
    if engine_url.password or any(name.lower() == "password" for name in engine_url.query):
        # The file, the console, ingest_runs.error and /health would all show the password.
        raise ValueError(
            "url must not carry a password (user:password@host or ?password=): keep the user name in the url, "
            'write the password as password_env = "VARIABLE", then export that variable'
        )
    try:
        dialect = engine_url.get_dialect()
    except sa_exc.NoSuchModuleError:
        raise ValueError(
            f"url names the database type {engine_url.drivername!r}, which SQLAlchemy does not know "
            "(e.g. postgresql+psycopg, mysql+pymysql, mssql+pyodbc, oracle+oracledb)"
        ) from None
    try:
        dialect.import_dbapi()
    except ModuleNotFoundError as error:
        module = error.name or str(error)
        package = DRIVER_PACKAGES.get(module, module)
        raise ValueError(
            f"url uses the {engine_url.drivername} driver, but its Python package {package} is not installed: "
            f"pip install {package}"
        ) from None
    except ImportError as error:  # installed, but a library it needs is missing (unixODBC for pyodbc)
        raise ValueError(f"url uses the {engine_url.drivername} driver, which cannot be loaded: {error}") from None
    return engine_url
