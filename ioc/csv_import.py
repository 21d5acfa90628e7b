"""Import a CSV whose header uses the canonical column names (DESIGN.md §6) into a store."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.base import TARGETS, Batch, BatchResult, Target, ingest_batches
from ioc.db import Database

BATCH_ROWS = 50_000
# Citizen text can be long, and a malformed file can hold one huge field: allow it, the normaliser cuts it.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class ImportFileError(Exception):
    """The file itself cannot be read (missing, not text, no header, no key column)."""


@dataclass
class ImportSummary:
    path: Path
    target: str
    result: BatchResult

    def describe(self) -> str:
        r = self.result
        return f"{self.path.name}: {r.rows_read} rows read, {r.rows_upserted} upserted, {r.rows_rejected} rejected"


def _open_text(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror or error}") from error
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            break
        return text.splitlines()
    raise ImportFileError(f"{path.name} is not UTF-8 text; save it as CSV UTF-8")


def _batches(reader: csv.DictReader[str], target: Target) -> Iterator[Batch]:
    rows: list[dict[str, str | None]] = []
    for row in reader:
        # Columns beyond the header (a ragged row) land under the key None; keep them visible in rejects.
        rows.append({key if key is not None else "_extra": value for key, value in row.items()})  # type: ignore[misc]
        if len(rows) >= BATCH_ROWS:
            yield Batch(target, rows)
            rows = []
    if rows:
        yield Batch(target, rows)


def import_csv(db: Database, target_name: str, path: Path) -> ImportSummary:
    """Read ``path`` and merge its rows into the target table; bad rows go to ``rejects`` with a reason."""
    target = TARGETS[target_name]
    lines = _open_text(path)
    if not lines:
        raise ImportFileError(f"{path.name} is empty")
    reader = csv.DictReader(lines)
    header = [name.strip() for name in (reader.fieldnames or [])]
    if target.primary_key not in header:
        raise ImportFileError(f"{path.name}: the header has no '{target.primary_key}' column (found: {', '.join(header)[:200]})")
    reader.fieldnames = header
    result = ingest_batches(db, f"import:{target_name}", _batches(reader, target))
    return ImportSummary(path, target_name, result)
