"""The one object that owns DuckDB connections: reads on per-thread cursors, writes through one writer."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any] | None
log = logging.getLogger(__name__)
# DuckDB checkpoints by itself inside the COMMIT that takes its log past checkpoint_threshold (16 MiB by default):
# with a 1 M-row store that made every other 10 k-row ingest 0.3-0.5 s slower to show. The scheduler checkpoints
# after a run instead (checkpoint_if_due), once the new rows are visible; DuckDB's own checkpoint stays as a backstop.
BACKSTOP_CHECKPOINT = "256MiB"
CHECKPOINT_WAL_BYTES = 16 << 20


# Told (statement, seconds) after each statement of ``run`` and each commit; the ingest bench sets it to show
# where an import's time goes. None otherwise, which costs one test per statement.
statement_observer: Callable[[str, float], None] | None = None


def run(conn: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
    """Execute and fetch every row: DuckDB can leave a large INSERT's result pending, and the next statement cancels it."""
    observer = statement_observer
    if observer is None:
        return conn.execute(sql, params).fetchall()
    started = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    observer(sql, time.perf_counter() - started)
    return rows


class StoreLockedError(RuntimeError):
    """Another process holds the DuckDB file open for writing."""


class Database:
    """A DuckDB store file.

    Reads run on a cursor private to the calling thread, so web callbacks never share one.
    Writes run one at a time inside a transaction (``execute_write_fn``); after each commit the
    store's data version goes up, which is how screens learn that something changed.
    """

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._root = duckdb.connect(str(path))
        except duckdb.IOException as error:
            # DuckDB's words for a file another process holds (a path with "lock" in it is not that).
            if "could not set lock on file" in str(error).lower():
                raise StoreLockedError(
                    f"The store {path} is in use by another process (is the app running?). "
                    "Stop it or pass --db with another file. While the app runs, files reach its store through a "
                    "file_drop source: copy them into its folder (connectors/README.md)."
                ) from error
            raise
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._writer = self._root.cursor()
        self._writer.execute("SET TimeZone = 'UTC'")
        self._writer.execute(f"SET checkpoint_threshold = '{BACKSTOP_CHECKPOINT}'")
        if migrate:
            from ioc.schema import migrate as run_migrations

            with self._write_lock:
                run_migrations(self._writer)
        self._data_version = self._read_version()

    # -- reads ---------------------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._root.cursor()
            cursor.execute("SET TimeZone = 'UTC'")
            self._local.cursor = cursor
            with self._cursors_lock:
                self._cursors.append(cursor)
        return cursor

    def execute(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run a read query with bound parameters and return all rows."""
        return self._cursor().execute(sql, params).fetchall()

    def query_df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run a read query and return a DataFrame."""
        return self._cursor().execute(sql, params).df()

    def scalar(self, sql: str, params: Params = None) -> Any:
        """Run a read query and return the first column of the first row (or None)."""
        # fetchall, not fetchone: a result left unread keeps the cursor's transaction open, and an open transaction
        # makes DuckDB refuse every checkpoint (its automatic ones too) until this thread's next query.
        rows = self._cursor().execute(sql, params).fetchall()
        return rows[0][0] if rows else None

    # -- writes --------------------------------------------------------------------------------

    def execute_write_fn(
        self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, bump_version: bool | Callable[[T], bool] = True
    ) -> T:
        """Run ``fn(connection)`` in one transaction through the single writer.

        Either everything ``fn`` wrote is committed together, or (on any exception) nothing is.
        ``bump_version`` may judge ``fn``'s result: screens only re-render when it says something they show changed.
        """
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN TRANSACTION")
            try:
                result = fn(conn)
                bump_version = bump_version(result) if callable(bump_version) else bump_version
                if bump_version:
                    conn.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'")
                run(conn, "COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if bump_version:
                self._data_version = self._read_version()
            return result

    def execute_write(self, sql: str, params: Params = None) -> None:
        """Run one write statement in its own transaction."""
        self.execute_write_fn(lambda conn: conn.execute(sql, params))

    def wal_bytes(self) -> int:
        """Size of the store's write-ahead log: what the next checkpoint writes into the file (0 in memory)."""
        wal = Path(f"{self.path}.wal")
        return wal.stat().st_size if str(self.path) != ":memory:" and wal.exists() else 0

    def checkpoint_if_due(self, wal_bytes: int = CHECKPOINT_WAL_BYTES) -> bool:
        """Write the log into the file once it holds ``wal_bytes``; True when it did.

        Called between ingest runs, not inside one. A reader in the middle of a query makes DuckDB refuse the
        checkpoint: it is then left for the next call, as DuckDB's automatic one would be.
        """
        if self.wal_bytes() < wal_bytes:
            return False
        with self._write_lock:
            try:
                self._writer.execute("CHECKPOINT")
            except duckdb.Error as error:
                log.info("checkpoint left for later: %s", str(error).splitlines()[0])
                return False
        return True

    # -- data version --------------------------------------------------------------------------

    def _read_version(self) -> int:
        rows = self._writer.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchall()
        return int(rows[0][0]) if rows else 0

    @property
    def data_version(self) -> int:
        """A number that goes up after every committed write."""
        return self._data_version

    def close(self) -> None:
        with self._cursors_lock:
            for cursor in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cursor.close()
            self._cursors.clear()
        with self._write_lock:
            self._writer.close()
            self._root.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
