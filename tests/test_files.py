"""File import and file drop: encodings, XLSX, processed/failed with a report, the same file twice adds nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl
import pytest

from connectors.base import SourceError, read_cursor, run_connector
from connectors.files import FileDropConnector, FileReadError, import_file, read_table
from connectors.mapping import load_mapping
from ioc.config import PROJECT_ROOT
from ioc.csv_import import import_csv
from ioc.db import Database
from ioc.health import connector_health, source_status
from tests.test_mapping import PERSONAL_VALUES, VN_HEADER, stored_text, vn_row, write_mapping

TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258_bytes(text: str) -> bytes:
    """Encode as Windows-1258 does: a base letter (precomposed where the code page has it) plus a combining tone mark."""
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        tones = "".join(p for p in parts if p in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in TONE_MARKS))
        out += (base + tones).encode("cp1258")
    return bytes(out)


def vn_csv(*rows: str) -> str:
    return VN_HEADER + "\r\n" + "".join(row + "\r\n" for row in rows)


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("utf-8", lambda text: text.encode("utf-8")),
        ("utf-8-sig", lambda text: text.encode("utf-8-sig")),
        ("utf-16", lambda text: text.encode("utf-16")),  # LE with BOM on this machine
        ("utf-16-be", lambda text: b"\xfe\xff" + text.encode("utf-16-be")),
        ("windows-1258", cp1258_bytes),
    ],
)
def test_every_supported_encoding_reads_the_same_vietnamese_text(tmp_path: Path, encoding: str, encode: object) -> None:
    text = vn_csv(vn_row("PA-1", title="Đường Nguyễn Tất Thành ngập nước kẹt xe"), vn_row("PA-2"))
    path = tmp_path / "export.csv"
    path.write_bytes(encode(text))  # type: ignore[operator]
    table = read_table(path)
    assert table.header == VN_HEADER.split(",")
    assert [row["Nội dung"] for row in table.rows] == ["Đường Nguyễn Tất Thành ngập nước kẹt xe", "Đèn đường hỏng"]
    assert all(unicodedata.is_normalized("NFC", row["Đơn vị"]) for row in table.rows)
    assert all(row["Đơn vị"] == "Phường Hải Vân" for row in table.rows)


def test_windows_1258_really_uses_combining_tone_marks() -> None:
    # If this ever stops holding, the NFC step (and this test's encoder) can be revisited.
    assert "ả".encode("cp1258", errors="replace") == b"?"
    assert unicodedata.normalize("NFC", cp1258_bytes("Hải").decode("cp1258")) == "Hải"
    assert cp1258_bytes("Hải").decode("cp1258") != "Hải"


def test_a_semicolon_separated_file_and_an_xlsx_import_like_a_csv(store: Database, tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path))
    semicolon = tmp_path / "semicolon.csv"
    semicolon.write_text(vn_csv(vn_row("PA-1")).replace(",", ";"), encoding="utf-8")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(VN_HEADER.split(","))
    cells: list[object] = list(vn_row("PA-2").split(","))
    cells[1] = datetime(2025, 11, 3, 8, 30)  # a real date cell, as Excel stores it
    sheet.append(cells)
    xlsx = tmp_path / "export.xlsx"
    workbook.save(xlsx)
    assert import_file(store, semicolon, mapping).result.rows_upserted == 1
    assert import_file(store, xlsx, mapping).result.rows_upserted == 1
    received = store.execute("SELECT DISTINCT CAST(timezone('Asia/Ho_Chi_Minh', received_at) AS VARCHAR) FROM hotline_tickets")
    assert received == [("2025-11-03 08:30:00",)]


def _workbook(path: Path, rows: list[list[object]], saved: dict[str, str] | None = None) -> Path:
    """An XLSX as openpyxl writes it (formulas without results), with ``saved`` text results put in as a spreadsheet saves them."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    if saved:
        with zipfile.ZipFile(path) as archive:
            parts = {name: archive.read(name) for name in archive.namelist()}
        xml = parts["xl/worksheets/sheet1.xml"].decode("utf-8")
        for coordinate, text in saved.items():
            xml, found = re.subn(
                rf'<c r="{coordinate}"([^>]*)><f>(.*?)</f><v\s*/?>(</v>)?</c>',
                rf'<c r="{coordinate}"\1 t="str"><f>\2</f><v>{text}</v></c>',
                xml,
            )
            assert found == 1, coordinate
        parts["xl/worksheets/sheet1.xml"] = xml.encode("utf-8")
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    return path


def test_an_xlsx_formula_whose_result_was_never_saved_rejects_only_rows_that_read_it(store: Database, tmp_path: Path) -> None:
    header = VN_HEADER.split(",")
    answered, field, address = header.index("Ngày trả lời"), header.index("Lĩnh vực"), header.index("Địa chỉ")
    rows: list[list[object]] = [list[object](header)]
    for ticket in ("PA-1", "PA-2", "PA-3", "PA-4", "PA-5"):
        rows.append(list(vn_row(ticket).split(",")))
    rows[1][answered] = "=B2+1"  # read by the mapping, result never saved: rejected
    rows[2][address] = '=CONCAT("12 ", "Lê Duẩn")'  # a personal column the mapping never reads: no matter
    rows[3][field] = '=IF(TRUE, "Môi trường", "")'  # a result saved as a spreadsheet saves it: read as text
    rows[4][answered] = '=IF(FALSE, B5, "")'  # an empty text result is a saved result: blank, not a problem
    xlsx = _workbook(tmp_path / "export.xlsx", rows, {"G4": "Môi trường", "D5": ""})
    report = import_file(store, xlsx, load_mapping(write_mapping(tmp_path)))
    assert (report.result.rows_read, report.result.rows_upserted, report.result.rows_rejected) == (5, 4, 1)
    assert store.execute("SELECT reason FROM rejects") == [
        (
            "line 2: Ngày trả lời (D2) holds a formula whose result was never saved (the file was written by a program, "
            "not saved by a spreadsheet); open it in Excel or LibreOffice, save it and send it again",
        )
    ]
    stored = dict(store.execute("SELECT ticket_id, field FROM hotline_tickets"))
    assert sorted(stored) == ["PA-2", "PA-3", "PA-4", "PA-5"] and stored["PA-3"] == "Môi trường"
    assert store.scalar("SELECT answered_at IS NULL FROM hotline_tickets WHERE ticket_id = 'PA-4'") is True
    # Canonical files too: a formula in a column of the model rejects its row, one outside the model does not.
    canonical = _workbook(
        tmp_path / "canonical.xlsx",
        [
            ["ticket_id", "unit_code", "status", "received_at", "ghi_chu"],
            ["T-1", "=20194", "new", "2025-11-03T08:00:00", ""],
            ["T-2", "20194", "new", "2025-11-03T08:00:00", "=1+1"],
        ],
    )
    summary = import_csv(store, "hotline", canonical)
    assert (summary.result.rows_upserted, summary.result.rows_rejected) == (1, 1)
    assert store.scalar("SELECT count(*) FROM hotline_tickets WHERE ticket_id = 'T-2'") == 1
    assert store.scalar("SELECT count(*) FROM rejects WHERE reason LIKE 'line 2: unit_code (B2) holds a formula%'") == 1


def make_drop(tmp_path: Path, store: Database) -> tuple[Path, FileDropConnector]:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder, FileDropConnector(folder, load_mapping(write_mapping(tmp_path)), db=store, settle_seconds=0)


def test_dropped_files_are_imported_moved_and_reported(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)
    (folder / "ngay-03.csv").write_text(vn_csv(vn_row("PA-1"), vn_row("PA-2", unit="Phường Không Có")), encoding="utf-8-sig")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (folder / "ghi-chu.docx").write_text("not for us", encoding="utf-8")
    result = run_connector(store, connector)
    # One row of ngay-03.csv and the whole of broken.xlsx are rejected.
    assert (result.rows_read, result.rows_upserted, result.rows_rejected) == (2, 1, 2)
    assert sorted(p.name for p in (folder / "processed").iterdir()) == ["ngay-03.csv", "ngay-03.csv.report.txt"]
    assert sorted(p.name for p in (folder / "failed").iterdir()) == ["broken.xlsx", "broken.xlsx.report.txt"]
    refused = store.execute("SELECT raw_row, reason FROM rejects WHERE reason LIKE 'broken.xlsx%'")
    assert len(refused) == 1 and json.loads(refused[0][0]) == {"file": "broken.xlsx", "moved_to": "failed/broken.xlsx"}
    assert "not a readable XLSX workbook" in refused[0][1] and "moved to failed/broken.xlsx" in refused[0][1]
    # Every screen's source panel reads connector_health: the source shows the failed file as its error.
    (health,) = [item for item in connector_health(store) if item["connector"] == connector.name]
    assert source_status(health) == "error" and "broken.xlsx" in health["last_error"]
    assert (folder / "ghi-chu.docx").exists()
    report = (folder / "processed" / "ngay-03.csv.report.txt").read_text(encoding="utf-8")
    assert "rows read: 2" in report and "rows stored" in report and ": 1\n" in report and "rows rejected: 1" in report
    assert "1: unit_code (Đơn vị): 'Phường Không Có' is not a known unit" in report
    # The reject names the file and line to correct.
    (bad_row,) = [json.loads(raw) for (raw,) in store.execute("SELECT raw_row FROM rejects WHERE reason LIKE 'unit_code%'")]
    assert (bad_row["_file"], bad_row["_line"]) == ("ngay-03.csv", "3")
    failed = (folder / "failed" / "broken.xlsx.report.txt").read_text(encoding="utf-8")
    assert "outcome: failed" in failed and "not a readable XLSX workbook" in failed
    # Read by the office that sent it: what to do first, and each label in Vietnamese too.
    assert failed.startswith("Tệp này không nhập được: sửa theo lỗi bên dưới rồi chép lại vào thư mục nguồn")
    assert "kết quả / outcome: failed (không nhập được)\n" in failed and "số dòng đọc / rows read: 2\n" in report
    assert not [v for v in PERSONAL_VALUES if v in report or v in stored_text(store)]


def test_a_failed_file_is_the_sources_error_until_a_later_file_lands(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)
    (folder / "empty.csv").write_text("", encoding="utf-8")
    run_connector(store, connector)
    run_connector(store, connector)  # a quiet run (nothing new) keeps the last run's error on show

    def health() -> dict[str, object]:
        return next(item for item in connector_health(store) if item["connector"] == connector.name)

    assert source_status(health()) == "error" and "empty.csv is empty" in str(health()["last_error"])
    (folder / "ngay-04.csv").write_text(vn_csv(vn_row("PA-9")), encoding="utf-8")
    run_connector(store, connector)
    assert health()["last_error"] is None and source_status(health()) == "unscheduled"


def test_a_failed_file_stops_being_the_sources_error_once_failed_holds_no_file(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)

    def health() -> dict[str, object]:
        return next(item for item in connector_health(store) if item["connector"] == connector.name)

    (folder / "empty.csv").write_text("", encoding="utf-8")
    (folder / "old.csv").write_text("", encoding="utf-8")
    run_connector(store, connector)
    assert source_status(health()) == "error"
    runs = store.scalar("SELECT count(*) FROM ingest_runs")
    # A person deals with one: still a file in failed/ to look at, so still the error.
    (folder / "failed" / "empty.csv").unlink()
    run_connector(store, connector)
    assert source_status(health()) == "error" and store.scalar("SELECT count(*) FROM ingest_runs") == runs
    # The last one fixed and dropped again elsewhere (its report stays): the next run, though it reads nothing,
    # ends the error with one run row, and the runs after it write none.
    (folder / "failed" / "old.csv").rename(tmp_path / "old.csv")
    run_connector(store, connector)
    assert health()["last_error"] is None and source_status(health()) == "unscheduled"
    assert (folder / "failed" / "old.csv.report.txt").exists()
    run_connector(store, connector)
    assert store.scalar("SELECT count(*) FROM ingest_runs") == runs + 1
    assert store.scalar("SELECT count(*) FROM rejects") == 2  # both refusals stay on record


def test_a_file_whose_every_row_is_rejected_goes_to_failed_and_can_be_dropped_again(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)

    def health() -> dict[str, object]:
        return next(item for item in connector_health(store) if item["connector"] == connector.name)

    wrong = vn_csv(vn_row("PA-1", unit="Phường Không Có"), vn_row("PA-2", unit="Phường Không Có"))
    (folder / "sai-don-vi.csv").write_text(wrong, encoding="utf-8")
    run_connector(store, connector)
    # Not "imported": nothing of it could be stored, so it is the source's error and the office's to correct.
    assert sorted(path.name for path in (folder / "failed").iterdir()) == ["sai-don-vi.csv", "sai-don-vi.csv.report.txt"]
    assert source_status(health()) == "error"
    assert "sai-don-vi.csv: every row was rejected (2: unit_code (Đơn vị): 'Phường Không Có' is not a known unit" in str(
        health()["last_error"]
    )
    report = (folder / "failed" / "sai-don-vi.csv.report.txt").read_text(encoding="utf-8")
    assert "kết quả / outcome: failed" in report and "2: unit_code (Đơn vị): 'Phường Không Có' is not a known unit" in report
    assert store.scalar("SELECT count(*) FROM rejects") == 3  # both rows, and the file
    # Dropped again (once the store knows the unit, say), it is read again, not skipped as already imported.
    (folder / "failed" / "sai-don-vi.csv").rename(folder / "sai-don-vi.csv")
    run_connector(store, connector)
    assert (folder / "failed" / "sai-don-vi-2.csv").exists() and not (folder / "processed").exists()  # its report kept the name


def test_a_file_that_lands_ends_an_earlier_refusal_even_when_its_rows_are_stored_already(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)

    def health() -> dict[str, object]:
        return next(item for item in connector_health(store) if item["connector"] == connector.name)

    (folder / "ngay-03.csv").write_text(vn_csv(vn_row("PA-1"), vn_row("PA-2")), encoding="utf-8")
    run_connector(store, connector)
    (folder / "empty.csv").write_text("", encoding="utf-8")
    run_connector(store, connector)
    assert source_status(health()) == "error"
    # The same rows again, in another file (another order): nothing new to store, but a file landed.
    (folder / "ngay-03-lai.csv").write_text(vn_csv(vn_row("PA-2"), vn_row("PA-1")), encoding="utf-8")
    run_connector(store, connector)
    assert (folder / "processed" / "ngay-03-lai.csv").exists() and (folder / "failed" / "empty.csv").exists()
    assert health()["last_error"] is None


def test_a_missing_drop_folder_is_an_error_not_a_quiet_folder(store: Database, tmp_path: Path) -> None:
    connector = FileDropConnector(tmp_path / "no-such-folder", load_mapping(write_mapping(tmp_path)), db=store)
    with pytest.raises(SourceError, match="no-such-folder does not exist: create it or correct 'folder'"):
        run_connector(store, connector)
    (health,) = [item for item in connector_health(store) if item["connector"] == connector.name]
    assert source_status(health) == "error" and "does not exist" in health["last_error"]


def test_a_json_file_is_refused_with_where_json_goes(tmp_path: Path) -> None:
    path = tmp_path / "requests.json"
    path.write_text('[{"service_request_id": "1"}]', encoding="utf-8")
    with pytest.raises(FileReadError, match=r"requests\.json is JSON, not a CSV or XLSX file: a JSON API is read by a json_http"):
        read_table(path)


def test_dropping_the_same_file_again_adds_nothing(store: Database, tmp_path: Path) -> None:
    folder, connector = make_drop(tmp_path, store)
    content = vn_csv(vn_row("PA-1"), vn_row("PA-2"), vn_row("PA-3", received="không rõ"))
    (folder / "a.csv").write_text(content, encoding="utf-8")
    run_connector(store, connector)
    before = (store.scalar("SELECT count(*) FROM hotline_tickets"), store.scalar("SELECT count(*) FROM rejects"))
    cursor = read_cursor(store, connector.name)
    (folder / "a.csv").write_text(content, encoding="utf-8")  # the same name again
    (folder / "a-copy.csv").write_text(content, encoding="utf-8")  # the same content under another name
    again = run_connector(store, connector)
    assert again.rows_read == 0
    assert (
        (store.scalar("SELECT count(*) FROM hotline_tickets"), store.scalar("SELECT count(*) FROM rejects")) == before == (2, 1)
    )
    assert read_cursor(store, connector.name) == cursor
    processed = sorted(p.name for p in (folder / "processed").iterdir())
    assert processed == ["a-2.csv", "a-2.csv.report.txt", "a-copy.csv", "a-copy.csv.report.txt", "a.csv", "a.csv.report.txt"]
    duplicate_report = (folder / "processed" / "a-copy.csv.report.txt").read_text(encoding="utf-8")
    assert "already imported: nothing added" in duplicate_report and "encoding:" not in duplicate_report


def test_a_file_still_being_written_waits_for_the_next_run(store: Database, tmp_path: Path) -> None:
    folder, _ = make_drop(tmp_path, store)
    connector = FileDropConnector(folder, load_mapping(write_mapping(tmp_path)), db=store, settle_seconds=60)
    path = folder / "copying.csv"
    path.write_text(vn_csv(vn_row("PA-1")), encoding="utf-8")
    assert run_connector(store, connector).rows_read == 0 and path.exists()
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime - 120))
    assert run_connector(store, connector).rows_read == 1 and not path.exists()


def test_importing_the_same_file_again_rewrites_nothing_and_records_no_reject_twice(store: Database, tmp_path: Path) -> None:
    path = tmp_path / "hotline.csv"
    header = "ticket_id,unit_code,status,received_at,answered_at,updated_at\n"
    rows = [
        "PA-1,20194,processing,2025-11-03T08:30:00,,2025-11-03T09:00:00",
        "PA-2,20194,bỏ qua,2025-11-03T08:30:00,,2025-11-03T09:00:00",
        "PA-3,20194,new,2025-11-03T08:40:00,,2025-11-03T09:00:00",
    ]
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    first = import_csv(store, "hotline", path)
    stored = store.execute("SELECT ticket_id, ingested_at FROM hotline_tickets ORDER BY 1")
    assert (first.result.rows_upserted, first.result.rows_rejected, len(stored)) == (2, 1, 2)

    again = import_csv(store, "hotline", path)
    # Still read and checked (the bad row is counted again), but nothing is written twice.
    assert (again.result.rows_read, again.result.rows_upserted, again.result.rows_rejected) == (3, 0, 1)
    assert store.execute("SELECT ticket_id, ingested_at FROM hotline_tickets ORDER BY 1") == stored
    assert store.scalar("SELECT count(*) FROM rejects") == 1

    # A row whose content changed is written even with the same updated_at (among equals the later read wins).
    rows[0] = "PA-1,20194,answered,2025-11-03T08:30:00,2025-11-03T08:55:00,2025-11-03T09:00:00"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    changed = import_csv(store, "hotline", path)
    assert (changed.result.rows_upserted, store.scalar("SELECT count(*) FROM rejects")) == (1, 1)
    assert store.scalar("SELECT status FROM hotline_tickets WHERE ticket_id = 'PA-1'") == "answered"


def test_cli_import_with_a_mapping(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path)
    data = tmp_path / "export.csv"
    data.write_bytes(
        cp1258_bytes(
            vn_csv(
                vn_row("PA-1"), vn_row("PA-2", status="Đã trả lời", answered="04/11/2025 09:00"), vn_row("PA-3", status="Bỏ qua")
            )
        )
    )
    db_path = tmp_path / "store.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "ioc", "--db", str(db_path), "import", "--mapping", str(mapping), str(data)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "export.csv: 3 rows read, 2 upserted, 1 rejected" in proc.stdout
    assert "status (Trạng thái): 'Bỏ qua' is not one of new, processing, forwarded, answered, rejected" in proc.stdout
    with duckdb.connect(str(db_path), read_only=True) as conn:
        assert conn.execute("SELECT ticket_id, status, unit_code FROM hotline_tickets ORDER BY 1").fetchall() == [
            ("PA-1", "processing", "20194"),
            ("PA-2", "answered", "20194"),
        ]
    bad = subprocess.run(
        [sys.executable, "-m", "ioc", "--db", str(db_path), "import", "--mapping", str(mapping), str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert bad.returncode == 1 and "cannot read" in bad.stderr


def test_reading_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FileReadError, match="cannot read"):
        read_table(tmp_path / "nope.csv")
