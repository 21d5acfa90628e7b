"""Large canonical CSV files straight into DuckDB: read_csv into a staging table, SQL checks, the per-row rules for the rest."""

from __future__ import annotations

import codecs
import csv
import io
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from connectors.base import Batch, StagedRows, Target, load_reference
from connectors.files import canonical_header_names, guess_delimiter, numbered_records, utf16_without_bom
from connectors.mapping import REQUIRED, ROW_FILE, ROW_LINE, guarded_target, nfc
from ioc.db import Database, run
from ioc.timeutil import now_utc

log = logging.getLogger(__name__)
# Below this size the row-by-row reader is quick enough, and it is the one that explains every odd file.
BULK_MIN_BYTES = 1 << 20
_HEADER_PROBE_BYTES = 1 << 16


class BulkUnsupported(Exception):
    """The file needs the general reader (connectors.files.read_table); the message says why."""


@dataclass(frozen=True)
class CsvHeader:
    names: list[str]  # as the general reader gives them: NFC, stripped
    delimiter: str


def read_header(path: Path) -> CsvHeader:
    """The header of a UTF-8 CSV the bulk path can take, or BulkUnsupported."""
    with path.open("rb") as handle:
        probe = handle.read(_HEADER_PROBE_BYTES)
    if probe.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or utf16_without_bom(probe):
        raise BulkUnsupported("UTF-16")
    probe = probe.removeprefix(codecs.BOM_UTF8)
    line_end = probe.find(b"\n")
    if line_end < 0:
        raise BulkUnsupported("no complete header line in the first 64 KiB")
    try:
        line = probe[:line_end].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise BulkUnsupported("the header is not UTF-8") from None
    if '"' in line or not line.strip():
        raise BulkUnsupported("quoted or blank header line")
    delimiter = guess_delimiter(line)
    return CsvHeader([nfc(name).strip() for name in line.split(delimiter)], delimiter)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_raw(conn: duckdb.DuckDBPyConnection, path: Path, header: CsvHeader, raw: str) -> None:
    """TEMP TABLE ``raw`` with every field as read (its own transaction: row ids are only final once committed)."""
    columns = "{" + ", ".join(f"'c{index}': 'VARCHAR'" for index in range(len(header.names))) + "}"
    run(
        conn,
        f"""CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({_quoted(str(path))}, header = true, auto_detect = false,
            delim = {_quoted(header.delimiter)}, quote = '"', escape = '"', strict_mode = true, columns = {columns})""",
    )


def _stage(conn: duckdb.DuckDBPyConnection, header: CsvHeader, target: Target, raw: str, staged: str) -> int:
    """TEMP VIEW ``staged``: the canonical columns of ``raw`` and each record's position in the file."""
    rows, first, last = run(conn, f"SELECT count(*), min(rowid), max(rowid) FROM {raw}")[0]
    # A table created from a scan keeps the file's order; its committed row ids count 0, 1, 2, ...
    if rows and (first, last) != (0, rows - 1):
        raise BulkUnsupported(f"row ids {first}..{last} do not number {rows} records")
    # The general reader keeps the last of two columns with one name (dict(zip(...))); so does this.
    index_of = {name: index for index, name in enumerate(header.names)}
    picked = [f"c{index_of[column]} AS {column}" for column in target.columns if column in index_of]
    run(conn, f"CREATE TEMP VIEW {staged} AS SELECT rowid AS _position, {', '.join(picked)} FROM {raw}")
    return int(rows)


def _raw_records(
    path: Path, header: CsvHeader, target: Target, positions: Sequence[int], rows: int
) -> dict[int, Mapping[str, Any] | None]:
    """The rows at ``positions`` exactly as the general reader gives them (None for a blank row it skips), with their line.

    DuckDB numbers records without their line; this reads the file once more with Python's csv module,
    which is what the general reader uses, and checks that both saw the same records.
    """
    text = nfc(path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=header.delimiter, strict=True)
    next(reader)
    wanted = set(positions)
    keep = [(index, name) for index, name in enumerate(header.names) if name in target.columns]
    found: dict[int, Mapping[str, Any] | None] = {}
    index = 0
    for start, fields in numbered_records(reader):
        if isinstance(fields, csv.Error):
            raise BulkUnsupported(f"line {start}: {fields}")
        if not fields:
            continue  # an empty line: DuckDB skips it too
        if index in wanted:
            if len(fields) != len(header.names):
                raise BulkUnsupported(f"line {start}: field count differs from what DuckDB read")
            if not any(value.strip() for value in fields):
                found[index] = None
            else:
                row: dict[str, Any] = {name: fields[column] for column, name in keep}
                row = {column: row[column] for column in target.columns if column in row}
                row[ROW_LINE] = start
                row[ROW_FILE] = path.name
                found[index] = row
        index += 1
    if index != rows:
        raise BulkUnsupported(f"Python's csv reader sees {index} records where DuckDB read {rows}")
    return found


@dataclass
class StagedFile:
    """A canonical CSV staged and normalised in bulk on the writer connection; ``batch`` is ready for ingest_batches."""

    batch: Batch
    tables: tuple[str, ...]

    def drop(self, db: Database) -> None:
        def drop(conn: duckdb.DuckDBPyConnection) -> None:
            for table in self.tables:
                run(conn, f"DROP TABLE IF EXISTS {table}")

        db.execute_write_fn(drop, bump_version=False)


def stage_csv(db: Database, target: Target, path: Path, *, connector: str, ingested_at: datetime | None = None) -> StagedFile:
    """Read ``path`` with DuckDB and normalise it in SQL; rows the SQL checks leave are read again for the per-row rules.

    BulkUnsupported (nothing left behind) when the file needs the general reader: not UTF-8, a row DuckDB
    refuses, a quoted header, or records the two readers count differently.
    """
    guarded = guarded_target(target)
    if guarded.normalize_staged is None:
        raise BulkUnsupported(f"no SQL fast path for {target.name}")
    read = read_header(path)
    # As the row-by-row reader (connectors.files.read_canonical_table) reads it.
    header = CsvHeader(canonical_header_names(read.names, target), read.delimiter)
    missing = [column for column in REQUIRED[target.name] if column not in header.names]
    if missing:
        # The row reader refuses such a file whole, with the names it lacks (connectors.files.read_canonical_table).
        raise BulkUnsupported(f"no {', '.join(missing)} column")
    suffix = uuid.uuid4().hex[:12]
    raw, staged, fast = f"bulk_raw_{suffix}", f"bulk_staged_{suffix}", f"bulk_fast_{suffix}"
    reference = load_reference(db)
    ingested_at = ingested_at or now_utc()
    normalize_staged = guarded.normalize_staged

    def stage(conn: duckdb.DuckDBPyConnection) -> tuple[int, list[int], dict[int, str | None]]:
        rows = _stage(conn, header, target, raw, staged)
        slow = normalize_staged(conn, staged, reference, connector, ingested_at, fast)
        keys: dict[int, str | None] = {}
        if slow:
            # The rows the SQL checks left are those missing from the fast table.
            key = target.primary_key
            keys = dict(run(conn, f"SELECT s._position, s.{key} FROM {staged} s ANTI JOIN {fast} f USING (_position)"))
        # Only the canonical rows stay for the write; the raw text is read again below for the rest.
        run(conn, f"DROP VIEW {staged}")
        run(conn, f"DROP TABLE {raw}")
        return rows, slow, keys

    created = StagedFile(Batch(guarded, ()), (fast, raw))
    try:
        try:
            db.execute_write_fn(lambda conn: _read_raw(conn, path, header, raw), bump_version=False)
            rows, slow, staged_keys = db.execute_write_fn(stage, bump_version=False)
        except duckdb.Error as error:
            raise BulkUnsupported(f"DuckDB's reader: {str(error).splitlines()[0]}") from error
        raw_rows: list[tuple[int, Mapping[str, Any]]] = []
        skipped = 0
        if slow:
            records = _raw_records(path, header, target, slow, rows)
            for position in slow:
                record = records[position]
                if record is None:
                    skipped += 1
                    continue
                expected = staged_keys.get(position)
                if nfc(expected or "") != record.get(target.primary_key, ""):
                    raise BulkUnsupported(f"record {position}: the two readers disagree on its key")
                raw_rows.append((position, record))
    except BaseException:
        created.drop(db)
        raise
    created.batch.staged = StagedRows(fast, raw_rows, rows - skipped, ingested_at)
    return created


@contextmanager
def staged_csv(db: Database, target: Target, path: Path, *, connector: str) -> Iterator[StagedFile | None]:
    """``stage_csv`` for a large file, dropped afterwards; None when the file is small or needs the general reader."""
    staged: StagedFile | None = None
    if path.suffix.lower() == ".csv" and path.is_file() and path.stat().st_size >= BULK_MIN_BYTES:
        try:
            staged = stage_csv(db, target, path, connector=connector)
        except BulkUnsupported as why:
            log.info("%s: read row by row (%s)", path.name, why)
    try:
        yield staged
    finally:
        if staged is not None:
            staged.drop(db)
