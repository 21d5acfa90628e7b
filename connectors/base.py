"""The connector contract and the one writer path: a batch, its rejects and its cursor commit together."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import duckdb
import pandas as pd

from ioc.calendar import calendar_from_store
from ioc.canonical import Normalizer, Reference, RowError, former_unit_index, normalize_dossier, normalize_hotline
from ioc.canonical_sql import POSITION, StagedNormalizer, normalize_dossier_staged
from ioc.db import Database, run
from ioc.model import DOSSIER_COLUMNS, HOTLINE_COLUMNS
from ioc.timeutil import now_utc
from kpis.aggregates import refresh_aggregates

log = logging.getLogger(__name__)
T = TypeVar("T")
WRITE_MODES = ("merge",)  # merge by primary key, the newest updated_at wins (the only mode the store needs)


@dataclass(frozen=True)
class Target:
    """A canonical table a connector writes into."""

    name: str  # "dossiers" | "hotline"
    table: str
    primary_key: str
    columns: tuple[str, ...]
    normalize: Normalizer
    events_table: str | None = None
    # Whole-table SQL fast path for staged files; rows it does not take go through ``normalize`` one by one.
    normalize_staged: StagedNormalizer | None = None


DOSSIERS = Target(
    "dossiers", "dossiers", "dossier_id", DOSSIER_COLUMNS, normalize_dossier, "dossier_events", normalize_dossier_staged
)
HOTLINE = Target("hotline", "hotline_tickets", "ticket_id", HOTLINE_COLUMNS, normalize_hotline)
TARGETS = {target.name: target for target in (DOSSIERS, HOTLINE)}


@dataclass(frozen=True)
class Stream:
    """What a connector declares for one target it feeds, like a Singer stream or a dlt resource.

    ``cursor_field`` is the replication key (a canonical column); ``cursor_inclusive`` says whether the
    next run starts at the cursor value itself (re-reading rows equal to it, which merge makes harmless)
    or strictly after it; ``tie_breaker`` is the column that orders rows sharing one cursor value, so an
    exclusive cursor on (cursor_field, tie_breaker) never skips a row whose change time equals the cursor.
    """

    target: Target
    cursor_field: str = "updated_at"
    cursor_inclusive: bool = False
    tie_breaker: str | None = None
    write_mode: str = "merge"

    def __post_init__(self) -> None:
        if self.write_mode not in WRITE_MODES:
            raise ValueError(f"write_mode {self.write_mode!r} is not one of {', '.join(WRITE_MODES)}")
        for column in (self.cursor_field, self.tie_breaker):
            if column is not None and column not in self.target.columns:
                raise ValueError(f"{column!r} is not a column of {self.target.table}")

    @property
    def primary_key(self) -> str:
        return self.target.primary_key


@dataclass(frozen=True)
class StagedRows:
    """A batch already normalised in bulk: its ordinary rows in a temporary table, the rest still raw.

    ``table`` lives on the writer connection and holds canonical rows with ``_position``; ``raw_rows`` are
    (position, raw row) pairs for the per-row rules; ``rows_read`` counts both.
    """

    table: str
    raw_rows: Sequence[tuple[int, Mapping[str, Any]]]
    rows_read: int
    ingested_at: datetime  # the time the table's rows were normalised with: the raw rows get the same


@dataclass
class Batch:
    """Rows for one target, and the cursor the connector has reached once they are stored.

    ``units`` are units the rows need that the store may lack (sources whose units are not
    Vietnamese communes register theirs: kind 'other'); they are inserted in the batch's transaction.
    Each is a mapping with unit_code, name and optionally full_name and name_en. ``staged`` replaces
    ``rows`` for a file normalised in bulk (connectors.csv_bulk).
    """

    target: Target
    rows: Sequence[Mapping[str, Any]]
    cursor: str | None = None
    units: Sequence[Mapping[str, Any]] = ()
    staged: StagedRows | None = None
    # Called with the batch's result once it is committed (a file's report counts its rows and rejects).
    on_written: Callable[[BatchResult], None] | None = None
    # (raw, reason) of items refused whole before any row was read, e.g. a dropped file that cannot be read: they go
    # to rejects with the batch, and their reasons are noted on the ingest run, which screens show as its error.
    refused: Sequence[tuple[str, str]] = ()
    # Record a run even though nothing is stored: an earlier refusal has been dealt with (the refused file is gone
    # from failed/), and this run, without an error, ends its showing as the source's error.
    settles_refusals: bool = False


class Connector(Protocol):
    """What every source declares (like a Singer stream): name, interval, and batches after a cursor."""

    name: str
    interval_seconds: int

    def batches(self, cursor: str | None) -> Iterator[Batch]: ...


@runtime_checkable
class DeclaredConnector(Connector, Protocol):
    """A connector that also declares its streams: target, primary key, cursor and write mode of each."""

    streams: tuple[Stream, ...]


class SourceError(RuntimeError):
    """A source failed to answer. ``retryable`` is True for what may pass (timeouts, HTTP 5xx, lost connections)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class StoppingError(SourceError):
    """A run given up because the process is stopping: not the source's fault, so not recorded as its error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# Set while the scheduler stops: a connector waiting to retry wakes and gives up at once, so stopping the app (Ctrl-C,
# systemd's SIGTERM) never waits out a backoff of up to a minute per step of an unreachable source.
STOPPING = threading.Event()


def _wait_unless_stopping(seconds: float) -> None:
    STOPPING.wait(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff: ``attempts`` tries, waiting base, base*factor, … (at most max_delay).

    ``sleep`` is injectable so tests never wait.
    """

    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = _wait_unless_stopping

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("retry attempts must be at least 1")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure."""
        return float(min(self.max_delay, self.base_delay * self.factor ** (failed_attempts - 1)))

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, tried again after a retryable SourceError; the last error says how many attempts were made."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except SourceError as error:
                if not error.retryable:
                    raise
                if attempt == self.attempts:
                    raise SourceError(f"{error} (gave up after {attempt} attempts)", retryable=True) from error
                wait = self.delay(attempt)
                if STOPPING.is_set():
                    raise StoppingError(f"{what}: not retried, the app is stopping") from error
                log.warning("%s failed (attempt %d of %d), retrying in %.1f s: %s", what, attempt, self.attempts, wait, error)
                self.sleep(wait)
                if STOPPING.is_set():
                    raise StoppingError(f"{what}: not retried, the app is stopping") from error
        raise AssertionError("unreachable")  # the loop returns or raises


NO_RETRY = RetryPolicy(attempts=1)


@dataclass
class BatchResult:
    rows_read: int = 0
    rows_upserted: int = 0
    rows_rejected: int = 0
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (raw row, reason) of the last batch
    refused: int = 0  # items refused whole (Batch.refused), also counted in rows_rejected
    # Rejects not recorded before (an overlap window or a file read again rejects the same rows again): the last
    # batch's, and how many in all.
    new_rejects: list[tuple[str, str]] = field(default_factory=list)
    rejects_recorded: int = 0

    def add(self, other: BatchResult) -> None:
        self.rows_read += other.rows_read
        self.rows_upserted += other.rows_upserted
        self.rows_rejected += other.rows_rejected
        self.refused += other.refused
        self.rejects = other.rejects
        self.new_rejects = other.new_rejects
        self.rejects_recorded += len(other.new_rejects)


def load_reference(db: Database) -> Reference:
    """Units, procedures and the working-day calendar as normalisation needs them."""
    units = frozenset(code for (code,) in db.execute("SELECT unit_code FROM units"))
    procedures = {
        code: (sector, days) for code, sector, days in db.execute("SELECT procedure_code, sector, legal_days FROM procedures")
    }
    former = former_unit_index(db.execute("SELECT unit_code, full_name, merged_from FROM units WHERE merged_from IS NOT NULL"))
    return Reference(units, procedures, calendar_from_store(db), former)


# The most of one value a reject keeps: enough to see what was wrong, while a 1 MB cell cannot fill the table.
RAW_VALUE_CHARS = 2_000


def _raw_value(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= RAW_VALUE_CHARS else f"{text[:RAW_VALUE_CHARS]}… [{len(text):,} characters]"


def raw_text(row: Mapping[str, Any]) -> str:
    """A row as the rejects table keeps it: JSON text of its values, each cut to RAW_VALUE_CHARS.

    Cutting values, not the text, keeps it JSON and keeps the file and line at its end (a reject says where).
    """
    return json.dumps({str(k): _raw_value(v) for k, v in row.items()}, ensure_ascii=False)


def write_batch(
    conn: duckdb.DuckDBPyConnection,
    connector: str,
    batch: Batch,
    reference: Reference,
    run_id: int | None,
    ingested_at: datetime | None = None,
) -> BatchResult:
    """Normalise, merge by key (the newest ``updated_at`` wins), reject what cannot be stored, save the cursor.

    Runs inside the caller's transaction, so rows, rejects and cursor land together or not at all.
    """
    target = batch.target
    staged = batch.staged
    ingested_at = ingested_at or (staged.ingested_at if staged is not None else now_utc())
    raw_rows: Iterable[tuple[int, Mapping[str, Any]]] = staged.raw_rows if staged is not None else enumerate(batch.rows)
    result = BatchResult(
        rows_read=staged.rows_read if staged is not None else len(batch.rows),
        rejects=list(batch.refused),
        refused=len(batch.refused),
    )
    if batch.units:
        reference = register_units(conn, batch.units, reference)
    _stage_incoming(
        conn, target, raw_rows, staged.table if staged is not None else None, reference, connector, ingested_at, result
    )
    result.rows_rejected = len(result.rejects)
    result.rows_upserted = _merge(conn, target)
    result.new_rejects = _insert_rejects(conn, connector, run_id, result.rejects, ingested_at)
    if batch.cursor is not None:
        save_cursor(conn, connector, batch.cursor, ingested_at)
    # Same transaction: the KPI aggregates move with the rows (old contribution out, new one in).
    refresh_aggregates(conn, target.name, f"SELECT {target.primary_key} FROM winners")
    run(conn, "DROP TABLE winners")
    return result


def _insert_rejects(
    conn: duckdb.DuckDBPyConnection, connector: str, run_id: int | None, rejects: Sequence[tuple[str, str]], at: datetime
) -> list[tuple[str, str]]:
    """One INSERT for a batch's rejects, their ids rising in row order (a file of bad rows has many); returns those recorded.

    A reject the connector already recorded (the same raw row for the same reason: a file imported again, a
    boundary row an inclusive cursor reads again) is not recorded twice.
    """
    if not rejects:
        return []
    ids = sorted(int(reject_id) for (reject_id,) in run(conn, "SELECT nextval('reject_ids') FROM range(?)", [len(rejects)]))
    frame = pd.DataFrame(
        {
            "reject_id": pd.Series(ids, dtype="int64"),
            "raw_row": pd.Series([raw for raw, _ in rejects], dtype=object),
            "reason": pd.Series([reason for _, reason in rejects], dtype=object),
        }
    )
    conn.register("rejects_frame", frame)
    try:
        # One CREATE TABLE AS (never CREATE then INSERT: docs/duckdb-notes.md) of the rejects not yet recorded.
        run(
            conn,
            """CREATE OR REPLACE TEMP TABLE new_rejects AS SELECT * FROM rejects_frame f
               WHERE NOT EXISTS (SELECT 1 FROM rejects r
                                 WHERE r.connector = $connector AND r.raw_row = f.raw_row AND r.reason = f.reason)""",
            {"connector": connector},
        )
    finally:
        conn.unregister("rejects_frame")
    run(
        conn,
        """INSERT INTO rejects SELECT reject_id, $connector, CAST($run_id AS BIGINT), raw_row, reason, CAST($at AS TIMESTAMPTZ)
           FROM new_rejects""",
        {"connector": connector, "run_id": run_id, "at": at},
    )
    recorded = [
        (str(raw), str(reason)) for raw, reason in run(conn, "SELECT raw_row, reason FROM new_rejects ORDER BY reject_id")
    ]
    run(conn, "DROP TABLE new_rejects")
    return recorded


def _stage_incoming(
    conn: duckdb.DuckDBPyConnection,
    target: Target,
    raw_rows: Iterable[tuple[int, Mapping[str, Any]]],
    fast_table: str | None,
    reference: Reference,
    connector: str,
    ingested_at: datetime,
    result: BatchResult,
) -> None:
    """TEMP TABLE ``incoming``: the batch's canonical rows with their ``_position``; rejects (in row order) go to ``result``."""
    normalized: list[dict[str, Any]] = []
    for position, raw in raw_rows:
        try:
            row = target.normalize(raw, reference, connector, ingested_at)
        except RowError as error:
            result.rejects.append((raw_text(raw), str(error)))
            continue
        row[POSITION] = position
        normalized.append(row)
    # One CREATE TABLE AS, typed like the target: DuckDB 2.0 loses rows of a temporary table created and then
    # filled by INSERT inside one transaction from a join's view once it outgrows a row group (tests/test_csv_bulk.py).
    types = dict(run(conn, f"SELECT column_name, column_type FROM (DESCRIBE {target.table})"))
    select = ", ".join(f"CAST({column} AS {types[column]}) AS {column}" for column in target.columns)
    parts = [
        f"SELECT {select}, CAST({POSITION} AS BIGINT) AS {POSITION} FROM {fast_table or f'(SELECT *, 0 AS {POSITION} FROM {target.table} LIMIT 0)'}"
    ]
    frame = pd.DataFrame(normalized, columns=[*target.columns, POSITION])
    if normalized:
        for column in target.columns:
            if column.endswith("_at"):
                frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
        parts.append(f"SELECT {select}, CAST({POSITION} AS BIGINT) AS {POSITION} FROM incoming_frame")
    conn.register("incoming_frame", frame)
    try:
        run(conn, "CREATE OR REPLACE TEMP TABLE incoming AS " + " UNION ALL ".join(parts))
    finally:
        conn.unregister("incoming_frame")


def register_units(conn: duckdb.DuckDBPyConnection, units: Sequence[Mapping[str, Any]], reference: Reference) -> Reference:
    """Insert the units the store lacks (kind 'other'), and return ``reference`` knowing them."""
    records = []
    for unit in units:
        code = str(unit["unit_code"])
        name = str(unit.get("name") or code)
        records.append((code, name, str(unit.get("full_name") or name), unit.get("name_en") or name))
    conn.executemany(
        "INSERT INTO units (unit_code, name, full_name, name_en, kind) VALUES (?, ?, ?, ?, 'other') ON CONFLICT DO NOTHING",
        records,
    )
    return dataclasses.replace(reference, unit_codes=reference.unit_codes | {code for code, *_ in records})


# Indexed besides the key (migration 2), on both targets: DuckDB updates an indexed column by deleting and
# inserting the row, which costs at commit, so a row keeps its place unless its unit changes.
_MOVING_COLUMN = "unit_code"


def _merge(conn: duckdb.DuckDBPyConnection, target: Target) -> int:
    """Merge TEMP TABLE ``incoming`` into the target; leaves TEMP TABLE ``winners`` (the rows written) for the aggregates."""
    key = target.primary_key
    columns = ", ".join(target.columns)
    # ingested_at says when a row was last written, so it is not part of what changed.
    changed = " OR ".join(f"i.{column} IS DISTINCT FROM t.{column}" for column in target.columns if column != "ingested_at")
    # Per key the newest updated_at wins, and among equals the later row; of those, only rows that are new or
    # at least as new as what is stored are written, and only if they differ from it: a source read again
    # (an inclusive cursor, a file imported twice) rewrites nothing and moves no aggregate.
    run(
        conn,
        f"""
        CREATE OR REPLACE TEMP TABLE winners AS
        SELECT * EXCLUDE (_changed) FROM (
            SELECT i.* EXCLUDE ({POSITION}), t.{key} IS NULL OR {changed} AS _changed,
                t.{key} IS NOT NULL AND t.{_MOVING_COLUMN} = i.{_MOVING_COLUMN} AS _in_place
            FROM incoming i LEFT JOIN {target.table} t USING ({key})
            WHERE (t.{key} IS NULL OR i.updated_at >= t.updated_at)
            QUALIFY row_number() OVER (PARTITION BY i.{key} ORDER BY i.updated_at DESC, i.{POSITION} DESC) = 1
        ) WHERE _changed
        """,
    )
    if target.events_table:
        run(
            conn,
            f"""
            INSERT INTO {target.events_table} (dossier_id, event_at, status, note)
            SELECT w.dossier_id, w.updated_at, w.status, NULL
            FROM winners w LEFT JOIN {target.table} t USING ({key})
            WHERE t.{key} IS NULL OR t.status <> w.status
            """,
        )
    # A stored row is updated where it is (an UPDATE of unindexed columns costs next to nothing at commit, a
    # DELETE and INSERT of the row about 0.3 s per 10 k rows); a new row, or one that moves unit, is inserted.
    kept = [column for column in target.columns if column not in (key, _MOVING_COLUMN)]
    run(
        conn,
        f"""UPDATE {target.table} SET {", ".join(f"{column} = w.{column}" for column in kept)}
            FROM winners w WHERE w._in_place AND {target.table}.{key} = w.{key}""",
    )
    run(conn, f"DELETE FROM {target.table} WHERE {key} IN (SELECT {key} FROM winners WHERE NOT _in_place)")
    run(conn, f"INSERT INTO {target.table} SELECT {columns} FROM winners WHERE NOT _in_place")
    written = run(conn, "SELECT count(*) FROM winners")[0][0]
    run(conn, "DROP TABLE incoming")
    return int(written)


def save_cursor(conn: duckdb.DuckDBPyConnection, connector: str, cursor: str, at: datetime) -> None:
    run(
        conn,
        """
        INSERT INTO connector_state (connector, cursor_value, last_success_at, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (connector) DO UPDATE SET cursor_value = excluded.cursor_value,
            last_success_at = excluded.last_success_at, updated_at = excluded.updated_at
        """,
        [connector, cursor, at, at],
    )


def read_cursor(db: Database, connector: str) -> str | None:
    return db.scalar("SELECT cursor_value FROM connector_state WHERE connector = ?", [connector])


def forget_cursor(db: Database, connector: str) -> None:
    """The connector's next run reads its source from the beginning (merge by key stores each row once)."""
    db.execute_write_fn(
        lambda conn: run(conn, "UPDATE connector_state SET cursor_value = NULL WHERE connector = ?", [connector]),
        bump_version=False,
    )


def ingest_batches(db: Database, connector: str, batches: Iterable[Batch]) -> BatchResult:
    """Store each batch in its own transaction, counted in one ``ingest_runs`` row; record a failure if one fails.

    A run that finds nothing new writes no ``ingest_runs`` row (a 5-second connector would write
    17,000 a day); it only refreshes the connector's last success, which staleness is judged on.
    """
    reference = load_reference(db)
    total = BatchResult()
    run_id: int | None = None
    started_at = now_utc()
    try:
        for batch in batches:

            def write(
                conn: duckdb.DuckDBPyConnection, batch: Batch = batch, known_run: int | None = run_id
            ) -> tuple[BatchResult, int | None]:
                # The run's row is written with its first batch that changes something: sources read again
                # (an overlap window, an inclusive cursor, a file imported twice) add nothing and log nothing.
                this_run = known_run if known_run is not None else int(run(conn, "SELECT nextval('ingest_run_ids')")[0][0])
                result = write_batch(conn, connector, batch, reference, this_run)
                if known_run is None and not (result.rows_upserted or result.new_rejects or batch.settles_refusals):
                    return result, None
                if known_run is None:
                    run(
                        conn,
                        "INSERT INTO ingest_runs (run_id, connector, started_at, status, rows_read) VALUES (?, ?, ?, 'running', ?)",
                        [this_run, connector, started_at, total.rows_read],
                    )
                # A refused item leaves the run 'ok' (the rest landed) but names itself as the run's error, the
                # first time only: a problem the source keeps is in the rejects table, not an error at every run.
                recorded = set(result.new_rejects)
                note = "; ".join(reason for raw, reason in batch.refused if (raw, reason) in recorded)[:2000] or None
                run(
                    conn,
                    """UPDATE ingest_runs SET rows_read = rows_read + ?, rows_upserted = rows_upserted + ?,
                       rows_rejected = rows_rejected + ?, error = nullif(left(concat_ws('; ', error, ?), 2000), '') WHERE run_id = ?""",
                    [result.rows_read, result.rows_upserted, result.rows_rejected, note, this_run],
                )
                return result, this_run

            written, run_id = db.execute_write_fn(write, bump_version=lambda outcome: outcome[0].rows_upserted > 0)
            total.add(written)
            if batch.on_written is not None:
                batch.on_written(written)
    except StoppingError:
        # The batches before it stay committed with their cursor; the next start carries on from there.
        raise
    except Exception as error:
        # A source's own failure is told in its words (they name the source and what failed); anything else is a
        # fault of ours, where the exception's class is the first clue.
        message = (str(error) if isinstance(error, SourceError) else f"{type(error).__name__}: {error}")[:2000]
        # Not logged here: the caller says it once (the scheduler's log, the CLI's error line).
        failed_run = run_id if run_id is not None else _start_run(db, connector, started_at)

        def record_failure(conn: duckdb.DuckDBPyConnection) -> None:
            at = now_utc()
            run(
                conn,
                "UPDATE ingest_runs SET finished_at = ?, status = 'failed', error = ? WHERE run_id = ?",
                [at, message, failed_run],
            )
            run(
                conn,
                """INSERT INTO connector_state (connector, last_error_at, last_error, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (connector) DO UPDATE SET last_error_at = excluded.last_error_at,
                   last_error = excluded.last_error, updated_at = excluded.updated_at""",
                [connector, at, message, at],
            )

        db.execute_write_fn(record_failure, bump_version=False)
        raise

    def record_success(conn: duckdb.DuckDBPyConnection) -> None:
        at = now_utc()
        if run_id is not None:
            run(conn, "UPDATE ingest_runs SET finished_at = ?, status = 'ok' WHERE run_id = ?", [at, run_id])
        run(
            conn,
            """INSERT INTO connector_state (connector, last_success_at, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (connector) DO UPDATE SET last_success_at = excluded.last_success_at,
               last_error = NULL, updated_at = excluded.updated_at""",
            [connector, at, at],
        )

    db.execute_write_fn(record_success, bump_version=False)
    return total


def _start_run(db: Database, connector: str, started_at: datetime) -> int:
    def insert(conn: duckdb.DuckDBPyConnection) -> int:
        run_id = int(run(conn, "SELECT nextval('ingest_run_ids')")[0][0])
        run(
            conn,
            "INSERT INTO ingest_runs (run_id, connector, started_at, status) VALUES (?, ?, ?, 'running')",
            [run_id, connector, started_at],
        )
        return run_id

    return db.execute_write_fn(insert, bump_version=False)


def run_connector(db: Database, connector: Connector) -> BatchResult:
    """Run one connector once from its stored cursor.

    A connector that declares its streams may only yield batches for the targets it declared.
    """
    batches = connector.batches(read_cursor(db, connector.name))
    if isinstance(connector, DeclaredConnector):
        batches = _checked(connector, batches)
    return ingest_batches(db, connector.name, batches)


def _checked(connector: DeclaredConnector, batches: Iterator[Batch]) -> Iterator[Batch]:
    declared = {stream.target.name for stream in connector.streams}
    for batch in batches:
        if batch.target.name not in declared:
            raise RuntimeError(
                f"connector {connector.name} yielded {batch.target.name} rows but declares only {sorted(declared)}"
            )
        yield batch
