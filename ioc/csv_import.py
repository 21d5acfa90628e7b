"""Import a CSV or XLSX whose header uses the canonical column names (DESIGN.md §6) into a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.base import TARGETS, BatchResult, ingest_batches
from connectors.csv_bulk import staged_csv
from connectors.files import FileReadError, Progress, canonical_batches, read_canonical_table, with_progress
from ioc.db import Database

# The one reader (connectors.files) raises this; the old name stays for callers of this module.
ImportFileError = FileReadError


@dataclass
class ImportSummary:
    path: Path
    target: str
    result: BatchResult
    bulk: bool = False  # read and checked by DuckDB in one go (connectors.csv_bulk), not row by row

    def describe(self) -> str:
        r = self.result
        text = f"{self.path.name}: {r.rows_read} rows read, {r.rows_upserted} upserted, {r.rows_rejected} rejected"
        if self.bulk:
            text += " (read in bulk by DuckDB)"
        return text + (" (header only: no data rows)" if r.rows_read == 0 else "")


def import_csv(db: Database, target_name: str, path: Path, progress: Progress | None = None) -> ImportSummary:
    """Read ``path`` and merge its rows into the target table; bad rows go to ``rejects`` with a reason.

    A large UTF-8 CSV of dossiers is read and checked by DuckDB in one go (connectors.csv_bulk) and stored in
    one transaction; any other file is read row by row and stored in batches of BATCH_ROWS. ``progress``
    hears what is happening (a phase, or rows stored so far) while a long import runs.
    """
    target = TARGETS[target_name]
    connector = f"import:{target_name}"
    say = progress or (lambda _text: None)
    say(f"reading {path.name}")
    with staged_csv(db, target, path, connector=connector) as staged:
        if staged is not None and staged.batch.staged is not None:
            say(f"read and checked by DuckDB: {staged.batch.staged.rows_read:,} rows; storing them in one transaction")
            return ImportSummary(path, target_name, ingest_batches(db, connector, [staged.batch]), bulk=True)
    table = read_canonical_table(path, target)
    say(f"read {len(table.rows):,} rows; storing them")
    batches = with_progress(canonical_batches(table.rows, target), len(table.rows), progress)
    return ImportSummary(path, target_name, ingest_batches(db, connector, batches))
