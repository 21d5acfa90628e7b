"""A large canonical CSV read in bulk by DuckDB stores exactly what the row-by-row reader stores, or falls back to it."""

from __future__ import annotations

import codecs
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import connectors.csv_bulk as csv_bulk
from connectors.base import DOSSIERS, run_connector
from connectors.csv_bulk import BulkUnsupported, stage_csv
from connectors.files import FileDropConnector
from ioc.csv_import import ImportSummary, import_csv
from ioc.db import Database
from ioc.store import open_store
from kpis.aggregates import compacted_sql

HEADER = [
    "dossier_id", "unit_code", "procedure_code", "sector", "channel", "status", "received_at", "finished_at",
    "returned_at", "due_at", "updated_at", "supplement_count", "extended", "so_dien_thoai",
]  # fmt: skip


def _rows(units: list[str], procedure: str) -> list[list[str]]:
    """Ordinary rows and one of each kind of trouble, in the shapes files arrive in."""
    unit = units[0]
    good = [
        "",
        unit,
        procedure,
        "",
        "online",
        "processing",
        "2025-11-03T08:00:00",
        "",
        "",
        "",
        "2025-11-03T09:00:00",
        "0",
        "false",
        "0905123456",
    ]

    def row(dossier_id: str, **changes: str) -> list[str]:
        values = dict(zip(HEADER, good, strict=True)) | {"dossier_id": dossier_id} | changes
        return [values[column] for column in HEADER]

    rows = [
        row(f"H48.{i:05d}", unit_code=units[i % len(units)], received_at=f"2025-11-{1 + i % 28:02d} 0{i % 10}:15:00+07")
        for i in range(400)
    ]
    rows += [
        row("Q1", sector="Đất đai, nhà ở"),  # a quoted separator
        row("Q2", sector="dòng một\ndòng hai"),  # a quoted line break: lines and records differ from here on
        row("Q3", sector=unicodedata.normalize("NFD", "Hộ tịch")),  # decomposed Vietnamese (macOS exports)
        row("Q4", sector='=HYPERLINK("http://x","bấm")'),
        row("Q5", sector="<script>alert(1)</script>"),
        row("B1", status="bogus"),
        row("B2", received_at="2025-02-30T08:00:00"),
        row("B3", received_at="hôm qua"),
        row("B4", status="resolved", finished_at="2025-10-01T08:00:00"),  # finished before received
        row("B5", unit_code="99999"),
        row("B6", supplement_count="-1"),
        row("B7", supplement_count="99999999999"),
        row("B8", extended="maybe"),
        row("B9", status="resolved"),  # ended without finished_at
        row(" B10 ", status="4"),  # padded: the per-row rules strip it
        row("B11", received_at="2025-11-03"),  # a date alone: the per-row parser decides
        row("", status="processing"),  # no key
        row("x" * 121),
        row("D1", updated_at="2025-11-03T10:00:00", status="processing"),
        row("D1", updated_at="2025-11-03T09:00:00", status="registered"),  # an older update after a newer one
        row("D2", updated_at="2025-11-03T10:00:00", status="processing"),
        row("D2", updated_at="2025-11-03T10:00:00", status="4"),  # same time: the later row wins
        row("R1", status="10", finished_at="2025-11-04T08:00:00", returned_at="2025-11-04T09:00:00+07:00"),
        row("R2", status="Resolved", finished_at="2025-11-05T16:30:00Z", due_at="2025-11-04T17:00:00"),
    ]
    return rows


def _write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    bom: bool = True,
    newline: str = "\r\n",
    blank_lines: bool = True,
    header: list[str] = HEADER,
) -> None:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\n') else value

    lines = [",".join(header)]
    for number, values in enumerate(rows):
        lines.append(",".join(cell(value) for value in values))
        if blank_lines and number in (5, 200):
            lines.append("")  # an empty line
            lines.append("," * (len(HEADER) - 1))  # a spreadsheet's empty row
    data = newline.join(lines) + newline
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data.encode("utf-8"))


def _store_contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "dossiers": db.execute("SELECT * EXCLUDE (ingested_at) FROM dossiers ORDER BY dossier_id"),
        "events": db.execute("SELECT dossier_id, event_at, status FROM dossier_events ORDER BY ALL"),
        "rejects": db.execute("SELECT raw_row, reason FROM rejects ORDER BY reject_id"),
        "daily": db.execute(compacted_sql("kpi_daily")),
    }


def _import_both_ways(tmp_path: Path, csv_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ImportSummary, ...]:
    summaries = []
    contents = []
    for name, threshold in (("bulk", 0), ("rows", 1 << 62)):
        monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", threshold)
        db = open_store(tmp_path / f"{name}.duckdb")
        try:
            summaries.append(import_csv(db, "dossiers", csv_path))
            contents.append(_store_contents(db))
        finally:
            db.close()
    for table in contents[0]:
        assert contents[0][table] == contents[1][table], table
    return tuple(summaries)


@pytest.fixture
def reference_codes(tmp_path: Path) -> tuple[list[str], str]:
    db = open_store(tmp_path / "codes.duckdb")
    try:
        units = [code for (code,) in db.execute("SELECT unit_code FROM units ORDER BY unit_code LIMIT 3")]
        procedure = db.scalar("SELECT procedure_code FROM procedures WHERE legal_days > 0 ORDER BY procedure_code LIMIT 1")
    finally:
        db.close()
    return units, procedure


def test_bulk_import_stores_exactly_what_the_row_reader_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    csv_path = tmp_path / "dossiers.csv"
    _write_csv(csv_path, _rows(*reference_codes))
    bulk, rows = _import_both_ways(tmp_path, csv_path, monkeypatch)
    assert bulk.bulk and not rows.bulk
    assert (bulk.result.rows_read, bulk.result.rows_upserted, bulk.result.rows_rejected) == (
        rows.result.rows_read,
        rows.result.rows_upserted,
        rows.result.rows_rejected,
    )
    assert bulk.result.rows_read == 424 and bulk.result.rows_rejected == 11  # B1-B9, no key, a key too long


def test_a_header_in_other_case_and_spacing_is_read_as_the_canonical_one_by_both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    rows = _rows(*reference_codes)
    canonical = tmp_path / "canonical.csv"
    _write_csv(canonical, rows)
    db = open_store(tmp_path / "canonical.duckdb")
    try:
        import_csv(db, "dossiers", canonical)
        expected = db.execute("SELECT * EXCLUDE (ingested_at) FROM dossiers ORDER BY dossier_id")
    finally:
        db.close()
    # As a spreadsheet user types it; a name that differs otherwise ("Received At") stays outside the model.
    typed = ["Dossier_ID", " Unit_Code ", "PROCEDURE_CODE", "Sector", "Channel", "Status", "Received_At", *HEADER[7:]]
    shouted = tmp_path / "typed.csv"
    _write_csv(shouted, rows, header=typed)
    bulk, by_rows = _import_both_ways(tmp_path, shouted, monkeypatch)
    assert bulk.bulk and not by_rows.bulk
    db = open_store(tmp_path / "bulk.duckdb")
    try:
        assert db.execute("SELECT * EXCLUDE (ingested_at) FROM dossiers ORDER BY dossier_id") == expected
    finally:
        db.close()


def test_a_large_file_without_a_required_column_is_refused_whole_as_a_small_one_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    from connectors.files import FileReadError

    # Ordinary rows only, so that nothing else sends the file to the row reader.
    ordinary = _rows(*reference_codes)[:400]
    rows = [[value for column, value in zip(HEADER, row, strict=True) if column != "unit_code"] for row in ordinary]
    csv_path = tmp_path / "no-unit.csv"
    _write_csv(csv_path, rows, header=[column for column in HEADER if column != "unit_code"], blank_lines=False)
    for threshold in (0, 1 << 62):  # the bulk reader, then the row reader
        monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", threshold)
        db = open_store(tmp_path / f"store-{threshold}.duckdb")
        try:
            with pytest.raises(FileReadError, match=re.escape("no-unit.csv: the header has no 'unit_code' column")):
                import_csv(db, "dossiers", csv_path)
            assert db.scalar("SELECT count(*) FROM rejects") == 0  # not one reject per row
        finally:
            db.close()


def test_bulk_rejects_carry_the_line_and_no_column_outside_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    csv_path = tmp_path / "dossiers.csv"
    _write_csv(csv_path, _rows(*reference_codes))
    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0)
    db = open_store(tmp_path / "store.duckdb")
    try:
        assert import_csv(db, "dossiers", csv_path).bulk
        rejects = dict(db.execute("SELECT reason, raw_row FROM rejects"))
        stored = db.execute("SELECT sector FROM dossiers WHERE dossier_id IN ('Q1', 'Q2', 'Q3', 'Q4', 'Q5') ORDER BY dossier_id")
    finally:
        db.close()
    assert '"_line": "412"' in rejects["status: 'bogus' is neither a status name nor a code 1-10"]  # after the two-line record
    assert not any("0905123456" in raw for raw in rejects.values())
    assert [sector for (sector,) in stored] == [
        "Đất đai, nhà ở", "dòng một\ndòng hai", "Hộ tịch", '=HYPERLINK("http://x","bấm")', "<script>alert(1)</script>",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "damage",
    ["windows-1258", "utf-16", "truncated", "short row", "mixed encoding"],
)
def test_files_the_bulk_reader_refuses_go_row_by_row_with_nothing_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str], damage: str
) -> None:
    csv_path = tmp_path / "dossiers.csv"
    rows = _rows(*reference_codes)[:50]
    _write_csv(csv_path, rows, bom=False, newline="\n", blank_lines=False)
    text = csv_path.read_text(encoding="utf-8")
    first_row = text.splitlines()[1]
    if damage == "windows-1258":
        vietnamese = first_row.replace("H48.00000", "Z4").replace(",,", ",Đăng kí,", 1)  # letters Windows-1258 has
        csv_path.write_bytes((text + vietnamese + "\n").encode("cp1258"))
    elif damage == "utf-16":
        csv_path.write_bytes(text.encode("utf-16"))
    elif damage == "truncated":
        csv_path.write_text(text + "Z1," + reference_codes[0][0] + ',,"open quote', encoding="utf-8")
    elif damage == "short row":
        csv_path.write_text(text + "Z2,only two\n", encoding="utf-8")
    else:
        csv_path.write_bytes(text.encode("utf-8") + "Z3,x,,Đăng\n".encode("cp1258"))
    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0)
    db = open_store(tmp_path / "store.duckdb")
    try:
        with pytest.raises(BulkUnsupported):
            stage_csv(db, DOSSIERS, csv_path, connector="test").drop(db)
        assert not db.execute("SELECT table_name FROM duckdb_tables() WHERE temporary")  # nothing left behind
        summary = import_csv(db, "dossiers", csv_path)
        stored = db.scalar("SELECT count(*) FROM dossiers WHERE dossier_id LIKE 'H48.%'")
        sector = db.scalar("SELECT sector FROM dossiers WHERE dossier_id = 'Z4'")
    finally:
        db.close()
    assert not summary.bulk
    assert stored == 50
    assert sector == ("Đăng kí" if damage == "windows-1258" else None)


def _bulk_csv(path: Path, rows: list[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A canonical dossier CSV (the first seven columns and updated_at) that takes the bulk path whatever its size."""
    path.write_text("\n".join([",".join([*HEADER[:7], "updated_at"]), *rows]) + "\n", encoding="utf-8")
    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0)
    return path


def test_a_bulk_file_larger_than_a_row_group_keeps_every_row_and_the_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    """150,000 rows: past DuckDB's 122,880-row group, where a temporary table filled by INSERT in one transaction lost rows."""
    units, procedure = reference_codes
    count = 150_000
    rows = [f"K{i},{units[i % 3]},{procedure},,online,processing,2025-11-03T08:00:00,2025-11-03T09:00:00" for i in range(count)]
    rows.append(f"K0,{units[0]},{procedure},,online,registered,2025-11-03T08:00:00,2025-11-03T09:00:00")  # same time, later row
    csv_path = _bulk_csv(tmp_path / "large.csv", rows, monkeypatch)
    db = open_store(tmp_path / "store.duckdb")
    try:
        summary = import_csv(db, "dossiers", csv_path)
        stored = db.scalar("SELECT count(*) FROM dossiers")
        facts = db.scalar("SELECT count(*) FROM kpi_dossier_facts")
        received = db.scalar("SELECT sum(received) FROM kpi_daily")
        k0 = db.scalar("SELECT status FROM dossiers WHERE dossier_id = 'K0'")
    finally:
        db.close()
    assert summary.bulk and summary.result.rows_read == count + 1
    assert stored == count and facts == count - 1  # K0 ended up registered: not accepted, so no KPI facts
    assert received == count - 1
    assert k0 == "registered"


@pytest.mark.parametrize("bulk", [True, False])
def test_a_canonical_file_drop_imports_reports_and_ignores_the_same_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str], bulk: bool
) -> None:
    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0 if bulk else 1 << 62)
    folder = tmp_path / "drop"
    folder.mkdir()
    _write_csv(folder / "motcua-2025-11-03.csv", _rows(*reference_codes))
    content = (folder / "motcua-2025-11-03.csv").read_bytes()
    db = open_store(tmp_path / "store.duckdb")
    try:
        connector = FileDropConnector(folder, target="dossiers", db=db, name="motcua", settle_seconds=0)
        result = run_connector(db, connector)
        stored = db.scalar("SELECT count(*) FROM dossiers")
        (folder / "again.csv").write_bytes(content)
        again = run_connector(db, connector)
        stored_again = db.scalar("SELECT count(*) FROM dossiers")
        temporary = db.execute("SELECT table_name FROM duckdb_tables() WHERE temporary")
    finally:
        db.close()
    assert (result.rows_read, result.rows_rejected) == (424, 11)
    assert stored == stored_again == 424 - 11 - 2  # two keys come twice
    assert again.rows_read == 0 and not temporary
    report = (folder / "processed" / "motcua-2025-11-03.csv.report.txt").read_text(encoding="utf-8")
    assert "rows read: 424" in report and "rows rejected: 11" in report
    assert "1: status: 'bogus' is neither a status name nor a code 1-10" in report
    assert ("read in bulk by DuckDB" in report) == bulk
    assert "already imported" in (folder / "processed" / "again.csv.report.txt").read_text(encoding="utf-8")


def test_a_file_drop_takes_a_mapping_or_a_target_not_both(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give one"):
        FileDropConnector(tmp_path)
    with pytest.raises(ValueError, match="not one of"):
        FileDropConnector(tmp_path, target="tickets")


def test_a_large_file_of_bad_rows_is_rejected_row_by_row_on_the_bulk_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference_codes: tuple[list[str], str]
) -> None:
    """130,000 rows the SQL checks all leave (an unknown status), and one good row: every reject has its reason and line."""
    units, procedure = reference_codes
    count = 130_000
    rows = [f"X{i},{units[0]},{procedure},,online,đang làm,2025-11-03T08:00:00,2025-11-03T09:00:00" for i in range(count)]
    rows.append(f"OK1,{units[0]},{procedure},,online,processing,2025-11-03T08:00:00,2025-11-03T09:00:00")
    csv_path = _bulk_csv(tmp_path / "bad.csv", rows, monkeypatch)
    db = open_store(tmp_path / "store.duckdb")
    try:
        summary = import_csv(db, "dossiers", csv_path)
        rejects = db.execute("SELECT count(*), count(DISTINCT reject_id), min(reason), max(reason) FROM rejects")[0]
        last = db.scalar("SELECT raw_row FROM rejects ORDER BY reject_id DESC LIMIT 1")
        stored = db.execute("SELECT dossier_id FROM dossiers")
    finally:
        db.close()
    assert summary.bulk and (summary.result.rows_read, summary.result.rows_rejected) == (count + 1, count)
    reason = "status: 'đang làm' is neither a status name nor a code 1-10"
    assert rejects == (count, count, reason, reason)
    assert f'"dossier_id": "X{count - 1}"' in last and f'"_line": "{count + 1}"' in last  # ids rise in file order
    assert stored == [("OK1",)]
