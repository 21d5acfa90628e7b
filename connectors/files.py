"""Spreadsheet files in: CSV/XLSX reading with encoding detection, mapped file import, and the file-drop connector."""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import json
import logging
import shutil
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from connectors.base import TARGETS, Batch, BatchResult, SourceError, Target, ingest_batches
from connectors.mapping import (
    REQUIRED,
    ROW_FILE,
    ROW_LINE,
    ROW_METADATA,
    ROW_PROBLEM,
    RowLog,
    SourceMapping,
    UncomputedFormula,
    flag_uncomputed,
    guarded_target,
    match_key,
    nfc,
)
from ioc.health import refusal_on_show
from ioc.timeutil import LOCAL_TZ, now_utc

if TYPE_CHECKING:
    from ioc.db import Database

logger = logging.getLogger(__name__)
BATCH_ROWS = 50_000
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
# Citizen text can be long, and a malformed file can hold one huge field: allow it, the normaliser cuts it.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
# Keep this many content hashes in the file-drop cursor; older files are still protected by merge by key.
REMEMBERED_FILES = 5_000
# A share of non-ASCII characters this high that are not Vietnamese letters means the bytes were not Windows-1258.
MAX_FOREIGN_SHARE = 0.1
REPORT_SUFFIX = ".report.txt"

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
VIETNAMESE_LETTERS = frozenset(
    {nfc(vowel + tone) for vowel in _VOWELS + _VOWELS.upper() for tone in _TONES} | set("ăâêôơưđĂÂÊÔƠƯĐ")
)


class FileReadError(Exception):
    """The file itself cannot be read (missing, empty, truncated workbook, unknown encoding, required column absent)."""


@dataclass
class Table:
    """A file's header and rows (dicts by header name, plus ``_line`` and, for broken rows, ``_problem``)."""

    header: list[str]
    rows: list[dict[str, Any]]
    encoding: str
    notes: list[str] = field(default_factory=list)


# -- decoding ------------------------------------------------------------------------------------


def decode_bytes(raw: bytes, name: str) -> tuple[str, str, list[str]]:
    """Text (NFC), the encoding found, and notes; FileReadError when the encoding cannot be told.

    UTF-8 (with or without BOM), UTF-16 (BOM, or unmistakable NUL pattern) and Windows-1258 are
    accepted. A file that is UTF-8 except some lines is "mixed": those lines' bytes are replaced
    by U+FFFD and the rows holding them are rejected by ``mark_mixed_rows``, so valid rows still land.
    """
    if raw.startswith(codecs.BOM_UTF8):
        return _decoded(raw[3:], "utf-8", "utf-8-sig", name)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decoded(raw, "utf-16", "utf-16", name)
    utf16 = utf16_without_bom(raw)
    if utf16:
        return _decoded(raw, utf16, utf16, name)
    try:
        return nfc(raw.decode("utf-8")), "utf-8", []
    except UnicodeDecodeError:
        pass
    valid_lines = invalid_lines = 0
    for line in raw.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            valid_lines += 1
        except UnicodeDecodeError:
            invalid_lines += 1
    if valid_lines >= invalid_lines:
        text = nfc(raw.decode("utf-8", errors="replace"))
        note = f"mixed encoding: {invalid_lines} line(s) are not UTF-8 while {valid_lines} are; their rows are rejected"
        return text, "utf-8 (mixed)", [note]
    try:
        if valid_lines:
            # Mostly Windows-1258, a few lines pasted in UTF-8: those lose their non-ASCII bytes to U+FFFD, so
            # mark_mixed_rows rejects just their rows, and the rest is read as what most of the file is.
            text = nfc(
                "\n".join(
                    line.decode("ascii", errors="replace") if not line.isascii() and _is_utf8(line) else line.decode("cp1258")
                    for line in raw.split(b"\n")
                )
            )
        else:
            text = nfc(raw.decode("cp1258"))
    except UnicodeDecodeError:
        raise FileReadError(_unknown_encoding(name)) from None
    if _foreign_share(text) > MAX_FOREIGN_SHARE:
        raise FileReadError(_unknown_encoding(name))
    if valid_lines:
        note = f"mixed encoding: {valid_lines} line(s) are UTF-8 while {invalid_lines} are Windows-1258; their rows are rejected"
        return text, "windows-1258 (mixed)", [note]
    return text, "windows-1258", []


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decoded(raw: bytes, codec: str, label: str, name: str) -> tuple[str, str, list[str]]:
    try:
        return nfc(raw.decode(codec)), label, []
    except UnicodeDecodeError as error:
        raise FileReadError(
            f"{name} says it is {label} but byte {error.start} is not: the file is damaged or truncated"
        ) from None


def utf16_without_bom(raw: bytes) -> str | None:
    sample = raw[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even_nul = sample[0::2].count(0) / (len(sample) / 2)
    odd_nul = sample[1::2].count(0) / (len(sample) / 2)
    # Latin text in UTF-16 has a NUL in every other byte; a stray NUL in UTF-8 text is nowhere near that.
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _foreign_share(text: str) -> float:
    non_ascii = [ch for ch in text if not ch.isascii()]
    if not non_ascii:
        return 0.0
    foreign = sum(
        1
        for ch in non_ascii
        if ch not in VIETNAMESE_LETTERS and (unicodedata.category(ch).startswith(("L", "M")) or unicodedata.category(ch) == "Cc")
    )
    return foreign / len(non_ascii)


def _unknown_encoding(name: str) -> str:
    return (
        f"{name} is not in a known encoding (UTF-8, UTF-16 or Windows-1258 Vietnamese); save it as 'CSV UTF-8' and send it again"
    )


# -- reading -------------------------------------------------------------------------------------


def read_table(path: Path, *, sheet: str | None = None, delimiter: str | None = None) -> Table:
    """Read a CSV or XLSX file; FileReadError when the file itself cannot be read.

    Rows whose field count differs from the header, or whose bytes are not in the file's encoding,
    carry a ``_problem`` so the writer rejects them with that reason instead of guessing.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise FileReadError(f"cannot read {path}: {error.strerror or error}") from error
    if path.suffix.lower() == ".xlsx":
        return _named(_read_xlsx(raw, path.name, sheet), path.name)
    if path.suffix.lower() in (".json", ".geojson") or raw.lstrip()[:1] == b"{":
        raise FileReadError(
            f"{path.name} is JSON, not a CSV or XLSX file: a JSON API is read by a json_http (or open311) source "
            "declared in the sources file, with the same mapping (README: Real sources)"
        )
    if raw.startswith(b"PK\x03\x04"):
        raise FileReadError(f"{path.name} is a workbook (XLSX), not text: name it .xlsx or save it as CSV")
    text, encoding, notes = decode_bytes(raw, path.name)
    if not text.strip().strip("\ufeff"):
        raise FileReadError(f"{path.name} is empty")
    table = _read_csv_text(text, path.name, delimiter or guess_delimiter(text))
    table.encoding, table.notes = encoding, notes
    if notes:
        mark_mixed_rows(table)
    return _named(table, path.name)


def _named(table: Table, name: str) -> Table:
    for row in table.rows:
        row[ROW_FILE] = name
    return table


def guess_delimiter(text: str) -> str:
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {candidate: first_line.count(candidate) for candidate in (",", ";", "\t")}
    best = max(counts, key=lambda candidate: counts[candidate])
    return best if counts[best] else ","


def numbered_records(reader: Any) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(first line, fields) of each record of a ``csv.reader``; a record the csv module cannot parse comes as its error."""
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, error
            continue
        yield start, fields


def _read_csv_text(text: str, name: str, delimiter: str) -> Table:
    lines = io.StringIO(text.lstrip("\ufeff"), newline="")
    # strict: a quote left open at the end (a truncated file) is an error, not one giant field.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for start, fields in numbered_records(reader):
        if isinstance(fields, csv.Error):
            error = fields
            if header is None:
                raise FileReadError(f"{name}: the header line is not valid CSV ({error})") from None
            ended = "unexpected end of data" in str(error)
            why = "the file ends inside a quoted field: it looks truncated" if ended else f"not valid CSV ({error})"
            # The broken text itself is not kept: it may hold columns marked personal.
            rows.append({ROW_LINE: start, ROW_PROBLEM: f"line {start}: {why}"})
            continue
        if header is None:
            header = [nfc(name_).strip() for name_ in fields]
            if not any(header):
                header = None  # leading blank line
            continue
        if not any(value.strip() for value in fields):
            continue  # blank line, or a spreadsheet's trailing ",,,,"
        row: dict[str, Any] = dict(zip(header, fields, strict=False))
        row[ROW_LINE] = start
        if len(fields) != len(header):
            row[ROW_PROBLEM] = f"line {start}: {len(fields)} fields where the header has {len(header)}" + (
                " (the file may be truncated)" if len(fields) < len(header) else " (an unquoted separator in a value?)"
            )
        rows.append(row)
    if header is None:
        raise FileReadError(f"{name} is empty")
    return Table(header, rows, "")


def mark_mixed_rows(table: Table) -> None:
    """In a mixed-encoding file, reject the rows that hold undecodable bytes (now U+FFFD)."""
    for row in table.rows:
        if row.get(ROW_PROBLEM):
            continue
        if any(isinstance(value, str) and "\ufffd" in value for value in row.values()):
            rest = "Windows-1258" if table.encoding.startswith("windows-1258") else "UTF-8"
            row[ROW_PROBLEM] = (
                f"line {row[ROW_LINE]}: not {rest} like the rest of the file (mixed encoding); correct and send again"
            )


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, datetime | UncomputedFormula):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an ID typed into Excel comes back as 19937896.0
    return nfc(str(value))


def _has_formulas(raw: bytes) -> bool:
    """True when a worksheet of the workbook holds a formula (<f> element); most hand-made sheets hold none."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                text = archive.read(name)
                if b"<f>" in text or b"<f " in text:
                    return True
    return False


def _sheet_values(raw: bytes, sheet: str | None, name: str) -> Iterator[list[Any]]:
    """Each row's cell values (row 1 first, blank rows included); a formula whose result was never saved is UncomputedFormula."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=False) if _has_formulas(raw) else None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileReadError(f"{name} is not a readable XLSX workbook (truncated or damaged?): {error}") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise FileReadError(f"{name} has no sheet '{sheet}' (sheets: {', '.join(workbook.sheetnames)})")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        try:
            if formulas is None:
                for values in worksheet.iter_rows(values_only=True):
                    yield list(values)
                return
            formula_sheet = formulas[worksheet.title]
            for number, (cells, formula_cells) in enumerate(
                zip(worksheet.iter_rows(), formula_sheet.iter_rows(), strict=True), start=1
            ):
                values = [cell.value for cell in cells]
                for index, (cell, formula_cell) in enumerate(zip(cells, formula_cells, strict=True)):
                    # A result saved as text is typed "str" even when empty; an untyped blank is a result never computed.
                    if formula_cell.data_type == "f" and cell.value is None and cell.data_type == "n":
                        values[index] = UncomputedFormula(f"{get_column_letter(index + 1)}{number}", str(formula_cell.value))
                yield values
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise FileReadError(f"{name}: the workbook is damaged or truncated: {error}") from None
    finally:
        workbook.close()
        if formulas is not None:
            formulas.close()


def _read_xlsx(raw: bytes, name: str, sheet: str | None) -> Table:
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    for number, values in enumerate(_sheet_values(raw, sheet, name), start=1):
        cells = [_cell(value) for value in values]
        if not any(cell is not None and str(cell).strip() for cell in cells):
            continue
        if header is None:
            header = ["" if cell is None else nfc(str(cell)).strip() for cell in cells]
            continue
        row: dict[str, Any] = dict(zip(header, cells, strict=False))
        row[ROW_LINE] = number
        rows.append(row)
    if header is None:
        raise FileReadError(f"{name} is empty (no header row in the sheet)")
    while header and not header[-1]:
        header.pop()
    return Table(header, rows, "xlsx")


# -- mapped import -------------------------------------------------------------------------------


# The outcomes a file report names, as an office reads them.
_OUTCOMES_VI = {
    "imported": "đã nhập",
    "failed": "không nhập được",
    "already imported: nothing added": "đã nhập trước đó, không thêm gì",
}


@dataclass
class FileReport:
    """What one file import did: the summary printed by the CLI and written next to a dropped file."""

    path: Path
    encoding: str
    result: BatchResult
    log: RowLog
    notes: list[str] = field(default_factory=list)
    units_registered: int = 0

    def describe(self) -> str:
        r = self.result
        text = f"{self.path.name}: {r.rows_read} rows read, {r.rows_upserted} upserted, {r.rows_rejected} rejected"
        if r.rows_read == 0:
            text += " (header only: no data rows)"
        return text

    def report_text(self, outcome: str, error: str | None = None) -> str:
        """The report beside a moved file, for the office that sent it: labels in Vietnamese and English."""
        lines = []
        if error:
            lines += [
                "Tệp này không nhập được: sửa theo lỗi bên dưới rồi chép lại vào thư mục nguồn, và xóa tệp khỏi failed/ "
                "khi đã xử lý xong.",
                "This file could not be imported: correct it as the error says and copy it into the drop folder again, "
                "and remove it from failed/ once dealt with.",
                "",
            ]
        lines += [
            f"tệp / file: {self.path.name}",
            f"kết quả / outcome: {outcome} ({_OUTCOMES_VI.get(outcome, '')})",
            f"lúc / at: {now_utc().astimezone(LOCAL_TZ).isoformat(timespec='seconds')}",  # Vietnam time, as the office's
        ]
        if error:
            lines.append(f"lỗi / error: {error}")
        elif self.encoding:  # read: what it held (a file recognised as already imported is not read again)
            lines += [
                f"bảng mã / encoding: {self.encoding}",
                f"số dòng đọc / rows read: {self.result.rows_read}",
                f"số dòng hợp lệ / rows stored (valid rows, merged by key: the newest update of a key wins): {self.log.valid}",
                f"số dòng bị loại / rows rejected: {len(self.log.rejected)}",
            ]
        lines += [f"ghi chú / note: {note}" for note in self.notes]
        reasons = self.log.reasons()
        if reasons:
            lines.append("lý do / reasons (count: reason; every rejected row is in the rejects table, with its line):")
            lines += [f"  {count}: {reason}" for reason, count in list(reasons.items())[:30]]
        return "\n".join(lines) + "\n"


def read_mapped_table(path: Path, mapping: SourceMapping) -> Table:
    """Read ``path`` for ``mapping``: header names matched case-insensitively, required columns checked."""
    table = read_table(path, sheet=mapping.sheet, delimiter=mapping.delimiter)
    _rename_columns(table, _header_renames(table.header, mapping.reads))
    present = set(table.header)
    for canonical, sources in mapping.required_columns().items():
        if not present & set(sources):
            shown = [c for c in table.header if c not in mapping.personal]
            found = _column_list(shown, 300)
            close = difflib.get_close_matches(sources[0], shown, n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise FileReadError(
                f"{path.name}: the header lacks {' or '.join(repr(s) for s in sources)} (needed for {canonical} by mapping "
                f"'{mapping.name}'){hint}; found: {found}"
            )
    absent = [column for column in mapping.reads if column not in present]
    if absent:
        table.notes.append(f"columns the mapping reads but the file lacks (left empty): {', '.join(absent)}")
    return table


def _chunks(rows: Sequence[dict[str, Any]], size: int = BATCH_ROWS) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def mapped_batches(
    db: Database | None, mapping: SourceMapping, table: Table, log: RowLog, final_cursor: str | None = None
) -> Iterator[Batch]:
    """The table's rows as batches; only the last carries ``final_cursor``, so it is saved with the file's last rows."""
    chunks = list(_chunks(table.rows)) or [[]]
    for number, chunk in enumerate(chunks, start=1):
        yield mapping.batch(db, chunk, final_cursor if number == len(chunks) else None, log)


def _column_list(columns: Sequence[str], limit: int) -> str:
    """Column names for an error message, whole ones only, at most about ``limit`` characters: "a, b, c (+ 12 more)"."""
    shown: list[str] = []
    for column in columns:
        if shown and len(", ".join([*shown, column])) > limit:
            return f"{', '.join(shown)} (+ {len(columns) - len(shown)} more)"
        shown.append(column)
    return ", ".join(shown)


def _header_renames(header: Sequence[str], wanted: Iterable[str]) -> dict[str, str]:
    """Header names that are a wanted name but for case and spacing ("Dossier_ID ") -> that name.

    A wanted name the header already holds is left alone: that column is the one read.
    """
    present = set(header)
    by_key = {match_key(column): column for column in header if column}
    return {by_key[match_key(name)]: name for name in wanted if name not in present and match_key(name) in by_key}


def _rename_columns(table: Table, rename: Mapping[str, str]) -> None:
    if rename:
        table.rows = [{rename.get(key, key): value for key, value in row.items()} for row in table.rows]
        table.header = [rename.get(column, column) for column in table.header]


def canonical_header_names(names: Sequence[str], target: Target) -> list[str]:
    """The header as the canonical readers read it: names matched to the canonical columns as a mapping's are."""
    rename = _header_renames(names, target.columns)
    return [rename.get(name, name) for name in names]


def read_canonical_table(path: Path, target: Target) -> Table:
    """``read_table`` for a file whose header uses the canonical column names; FileReadError without a required column."""
    table = read_table(path)
    rename = _header_renames(table.header, target.columns)
    if rename:
        table.notes.append("header names read as the canonical ones: " + ", ".join(f"{a} → {b}" for a, b in rename.items()))
    _rename_columns(table, rename)
    missing = [column for column in REQUIRED[target.name] if column not in table.header]
    if missing:
        # A file without one of these would have every row rejected for it: refuse the file once instead.
        found = _column_list(table.header, 200)
        names = ", ".join(f"'{column}'" for column in missing)
        raise FileReadError(
            f"{path.name}: the header has no {names} column{'s' if len(missing) > 1 else ''}, which every {target.name} "
            f"row needs (found: {found})"
        )
    return table


def canonical_batches(
    rows: Sequence[dict[str, Any]],
    target: Target,
    final_cursor: str | None = None,
    on_written: Callable[[BatchResult], None] | None = None,
) -> Iterator[Batch]:
    """Rows of a file whose header uses the canonical column names, as batches; only the last carries ``final_cursor``."""
    # Only canonical columns travel on: a column outside the model (a citizen's phone, say) never reaches rejects either.
    keep = (*target.columns, *ROW_METADATA)
    guarded = guarded_target(target)
    chunks = list(_chunks(rows)) or [[]]
    for number, chunk in enumerate(chunks, start=1):
        cursor = final_cursor if number == len(chunks) else None
        kept = [flag_uncomputed({key: row[key] for key in keep if key in row}) for row in chunk]
        yield Batch(guarded, kept, cursor, on_written=on_written)


def log_result(log: RowLog) -> Callable[[BatchResult], None]:
    """A Batch.on_written that counts a committed batch's valid and rejected rows (with their lines) into ``log``."""

    def count(result: BatchResult) -> None:
        log.valid += result.rows_read - result.rows_rejected
        for raw_text, reason in result.rejects:
            try:
                line = json.loads(raw_text).get(ROW_LINE)
            except ValueError:  # a raw row cut at its size limit
                line = None
            log.rejected.append((line, reason))

    return count


Progress = Callable[[str], None]


def with_progress(batches: Iterator[Batch], total: int, progress: Progress | None) -> Iterator[Batch]:
    """``batches``, saying after each commit how many of ``total`` rows are stored (long imports show they move)."""
    done = 0
    for batch in batches:
        if progress is not None:

            def written(result: BatchResult, previous: Callable[[BatchResult], None] | None = batch.on_written) -> None:
                nonlocal done
                done += result.rows_read
                progress(f"{done:,} / {total:,}")
                if previous is not None:
                    previous(result)

            batch.on_written = written
        yield batch


def import_file(db: Database, path: Path, mapping: SourceMapping, progress: Progress | None = None) -> FileReport:
    """Import one CSV/XLSX file through ``mapping``; FileReadError when the file itself cannot be read."""
    table = read_mapped_table(Path(path), mapping)
    log = RowLog()
    units_before = db.scalar("SELECT count(*) FROM units")
    batches = with_progress(mapped_batches(db, mapping, table, log), len(table.rows), progress)
    result = ingest_batches(db, mapping.connector_name, batches)
    registered = int(db.scalar("SELECT count(*) FROM units") - units_before)
    notes = list(table.notes)
    if registered:
        notes.append(f"{registered} unit(s) registered (kind 'other', codes {mapping.units.code_prefix}-…)")
    return FileReport(Path(path), table.encoding, result, log, notes, registered)


# -- file drop -----------------------------------------------------------------------------------


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _free_name(folder: Path, name: str) -> Path:
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    number = 2
    while candidate.exists() or candidate.with_name(candidate.name + REPORT_SUFFIX).exists():
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    return candidate


def _is_data_file(path: Path) -> bool:
    """A file a drop folder imports: CSV/TSV/TXT/XLSX, not hidden, not partial (~$ lock), not one of our reports."""
    name = path.name
    return (
        path.is_file()
        and path.suffix.lower() in FILE_SUFFIXES
        and not name.startswith((".", "~$"))
        and not name.endswith(REPORT_SUFFIX)
    )


class FileDropConnector:
    """Imports every CSV/XLSX file put into ``folder``, then moves it to ``processed/`` or ``failed/`` with a report.

    Files are read through ``mapping``, or, with ``target`` ("dossiers" or "hotline") instead, they use the
    canonical column names; a large canonical CSV is then read in bulk by DuckDB (connectors.csv_bulk).

    The cursor is a JSON list of the content hashes (SHA-256) of files already imported, saved in the
    same transaction as each file's last rows: the same file dropped again adds nothing, and a file
    interrupted mid-import stays in the folder and is imported again (merge by key makes that safe).
    Files modified in the last ``settle_seconds`` are left for the next run (they may still be copying).
    """

    def __init__(
        self,
        folder: str | Path,
        mapping: SourceMapping | None = None,
        *,
        target: str | None = None,
        db: Database | None = None,
        name: str | None = None,
        interval_seconds: int = 60,
        settle_seconds: float = 5.0,
    ) -> None:
        # db is read for mappings that look units up by name, and holds the staging tables of bulk reads.
        if (mapping is None) == (target is None):
            raise ValueError("a file drop reads files through a mapping or takes canonical files for a target: give one")
        if target is not None and target not in TARGETS:
            raise ValueError(f"target {target!r} is not one of {', '.join(TARGETS)}")
        self.folder = Path(folder)
        self.mapping = mapping
        self.target = TARGETS[target] if target is not None else None
        self.db = db
        self.name = name or f"filedrop:{mapping.name if mapping is not None else target}"
        self.interval_seconds = interval_seconds
        self.settle_seconds = settle_seconds
        self.processed = self.folder / "processed"
        self.failed = self.folder / "failed"

    def _dropped_files(self) -> list[Path]:
        """Every file to import sooner or later, oldest first; hidden and partial (.part, .tmp, ~$ lock) files skipped."""
        if not self.folder.is_dir():
            # Not an outage that passes: a wrong path would otherwise look like a quiet folder forever.
            what = "is not a folder" if self.folder.exists() else "does not exist"
            raise SourceError(f"drop folder {self.folder} {what}: create it or correct 'folder'", retryable=False)
        dropped = [path for path in self.folder.iterdir() if _is_data_file(path)]
        return sorted(dropped, key=lambda path: (path.stat().st_mtime, path.name))

    def _settled(self, path: Path) -> bool:
        return time.time() - path.stat().st_mtime >= self.settle_seconds

    def waiting_files(self) -> list[Path]:
        """Files ready to import, oldest first."""
        return [path for path in self._dropped_files() if self._settled(path)]

    def settling_files(self) -> list[Path]:
        """Files changed within the last ``settle_seconds`` (they may still be copying): left for the next run."""
        try:
            return [path for path in self._dropped_files() if not self._settled(path)]
        except (SourceError, OSError):
            return []  # the run itself says what is wrong with the folder

    def _last_run_refused(self) -> bool:
        """The source's last recorded run refused a file: that refusal is the error every screen shows for it."""
        return self.db is not None and refusal_on_show(self.db, self.name)

    def refusal_dealt_with(self) -> bool:
        """The source's last run refused a file, and failed/ no longer holds any file to import (fixed and dropped
        again, or deleted): the refusal should stop showing as the source's error."""
        if not self._last_run_refused():
            return False
        return not (self.failed.is_dir() and any(_is_data_file(path) for path in self.failed.iterdir()))

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        seen: list[str] = json.loads(cursor) if cursor else []
        if self.refusal_dealt_with():
            yield Batch(self._target, (), settles_refusals=True)
        for path in self.waiting_files():
            digest = content_hash(path)
            if digest in seen:
                report = FileReport(
                    path, "", BatchResult(), RowLog(), [f"same content (sha256 {digest[:16]}…) as a file already imported"]
                )
                self._move(path, self.processed, report.report_text("already imported: nothing added"))
                continue
            log = RowLog()
            remembered = [*seen, digest][-REMEMBERED_FILES:]
            try:
                if self.mapping is not None:
                    table = read_mapped_table(path, self.mapping)
                    yield from mapped_batches(self.db, self.mapping, table, log, json.dumps(remembered))
                    encoding, rows_read, notes = table.encoding, len(table.rows), table.notes
                else:
                    encoding, rows_read, notes = yield from self._canonical_batches(path, json.dumps(remembered), log)
            except FileReadError as error:
                yield from self._refuse(path, str(error), log)
                continue
            if log.rejected and not log.valid:
                # Not one row could be stored: most often a wrong layout, or units the store does not know. Like an
                # unreadable file it goes to failed/ and is the source's error until dealt with; and it is forgotten
                # (the cursor without it), so once the store knows what was missing the same file can be dropped again.
                reasons = "; ".join(list(log.reasons())[:2])
                problem = f"{path.name}: every row was rejected ({len(log.rejected):,}: {reasons})"
                yield from self._refuse(path, problem, log, json.dumps(seen), encoding)
                continue
            # Reached only after the writer committed the file's last batch and cursor.
            seen = remembered
            report = FileReport(path, encoding, BatchResult(rows_read=rows_read), log, notes)
            self._move(path, self.processed, report.report_text("imported"))
            if self._last_run_refused():
                # A file landed: an earlier refusal is no longer the source's state (a run that stored nothing new,
                # its rows unchanged, would otherwise leave it on show).
                yield Batch(self._target, (), settles_refusals=True)

    def _refuse(self, path: Path, problem: str, log: RowLog, cursor: str | None = None, encoding: str = "") -> Iterator[Batch]:
        """Move a file that could not be imported to failed/ with its report, its refusal stored first."""
        destination = _free_name(self.failed, path.name)
        reason = f"{problem} (file moved to failed/{destination.name})"
        logger.warning("%s: %s", self.name, reason)
        # The refusal is stored (rejects, and the run's error on every screen) before the file moves.
        raw = json.dumps({"file": path.name, "moved_to": f"failed/{destination.name}"}, ensure_ascii=False)
        yield Batch(self._target, (), cursor, refused=[(raw, reason)])
        failed = FileReport(path, encoding, BatchResult(), log).report_text("failed", problem)
        self._move(path, self.failed, failed, destination)

    def _canonical_batches(self, path: Path, cursor: str, log: RowLog) -> Generator[Batch, None, tuple[str, int, list[str]]]:
        """A canonical file's batches (one staged batch for a large CSV); returns (encoding, rows read, notes)."""
        from connectors.csv_bulk import staged_csv  # it reads files with this module's helpers

        assert self.target is not None
        if self.db is not None:
            with staged_csv(self.db, self.target, path, connector=self.name) as staged:
                if staged is not None and staged.batch.staged is not None:
                    staged.batch.cursor = cursor
                    staged.batch.on_written = log_result(log)
                    yield staged.batch
                    return "utf-8", staged.batch.staged.rows_read, ["read in bulk by DuckDB"]
        table = read_canonical_table(path, self.target)
        yield from canonical_batches(table.rows, self.target, cursor, log_result(log))
        return table.encoding, len(table.rows), table.notes

    @property
    def _target(self) -> Target:
        return self.mapping.target if self.mapping is not None else cast(Target, self.target)

    def _move(self, path: Path, folder: Path, report: str, destination: Path | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        destination = destination or _free_name(folder, path.name)
        shutil.move(str(path), destination)
        destination.with_name(destination.name + REPORT_SUFFIX).write_text(report, encoding="utf-8")
