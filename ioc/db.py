"""The one object that owns DuckDB connections: reads on per-thread cursors, writes through one writer."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any] | None


def run(conn: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
    """Execute and fetch every row: DuckDB can leave a large INSERT's result pending, and the next statement cancels it."""
    return conn.execute(sql, params).fetchall()


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
                    "Stop it or pass --db with another file."
                ) from error
            raise
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._writer = self._root.cursor()
        self._writer.execute("SET TimeZone = 'UTC'")
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
        row = self._cursor().execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- writes --------------------------------------------------------------------------------

    def execute_write_fn(self, fn: Callable[[duckdb.DuckDBPyConnection], T], *, bump_version: bool = True) -> T:
        """Run ``fn(connection)`` in one transaction through the single writer.

        Either everything ``fn`` wrote is committed together, or (on any exception) nothing is.
        """
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN TRANSACTION")
            try:
                result = fn(conn)
                if bump_version:
                    conn.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if bump_version:
                self._data_version = self._read_version()
            return result

    def execute_write(self, sql: str, params: Params = None) -> None:
        """Run one write statement in its own transaction."""
        self.execute_write_fn(lambda conn: conn.execute(sql, params))

    # -- data version --------------------------------------------------------------------------

    def _read_version(self) -> int:
        row = self._writer.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

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
