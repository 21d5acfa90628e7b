"""CSV and XLSX export: UTF-8 BOM, formula-injection guard, a generic table sheet, and the Biểu II.06a form layout."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ioc.timeutil import LOCAL_TZ
from kpis.report_ii06a import FORM_CODE, FORM_TITLE, II06A_COLUMNS, IN_PROGRESS, RECEIVED, RESOLVED, Ii06aReport

Target = Path | str | IO[bytes]

# A spreadsheet treats a cell that starts with one of these as a formula (or, for tab and CR, as
# a cell break that can smuggle one in): OWASP "CSV injection".
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

UTF8_BOM = "\ufeff"
COUNT_FORMAT = "#,##0"
RATE_FORMAT = "0.00%"
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


# -- guards and values ---------------------------------------------------------------------------


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet read this text as (the start of) a formula?"""
    return text.startswith(FORMULA_TRIGGERS)


def neutralize(text: str) -> str:
    """For CSV, which has no cell types: a leading apostrophe makes Excel and LibreOffice show the text, not run it."""
    return "'" + text if is_formula_like(text) else text


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def csv_value(value: Any) -> Any:
    """One CSV cell: empty for None/NaN, text guarded against formulas, numbers as they are."""
    if _missing(value):
        return ""
    if isinstance(value, str):
        return neutralize(value)
    if hasattr(value, "item"):  # numpy scalars from a DataFrame
        return value.item()
    return value


def set_cell(cell: Cell, value: Any, number_format: str | None = None) -> Cell:
    """Write one XLSX cell; text is always stored as text, never as a formula.

    openpyxl turns any string starting with "=" into a formula, so every string is forced to the
    string type; one that a spreadsheet would read as a formula also gets Excel's quote-prefix
    flag (the cell shows the text exactly, and editing it does not turn it into a formula).
    """
    if _missing(value):
        cell.value = None
        return cell
    if hasattr(value, "item"):
        value = value.item()
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if is_formula_like(value):
            cell.quotePrefix = True
    elif number_format is not None:
        cell.number_format = number_format
    return cell


# -- writing -------------------------------------------------------------------------------------


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole CSV as UTF-8 with a BOM (so Excel shows Vietnamese), every cell through ``csv_value``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_value(name) for name in header])
    for row in rows:
        writer.writerow([csv_value(value) for value in row])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")


def write_bytes(data: bytes, target: Target) -> None:
    """Write to a path, or to an open binary stream (stdout's buffer, a web response)."""
    if isinstance(target, str | Path):
        Path(target).write_bytes(data)
    else:
        target.write(data)


def write_csv(target: Target, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``csv_bytes`` written to ``target``."""
    write_bytes(csv_bytes(header, rows), target)


def save_workbook(workbook: Workbook, target: Target) -> None:
    """Save to a path or a binary stream."""
    if isinstance(target, str | Path):
        workbook.save(str(target))
        return
    buffer = io.BytesIO()
    workbook.save(buffer)
    target.write(buffer.getvalue())


def local_time_text(moment: datetime | None) -> str:
    """HH:MM dd/mm/yyyy in Vietnam time, or "chưa có dữ liệu"."""
    if moment is None:
        return "chưa có dữ liệu"
    return moment.astimezone(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")


def day_text(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _merge(sheet: Worksheet, first_row: int, first_column: int, last_row: int, last_column: int, value: Any) -> Cell:
    cell = set_cell(sheet.cell(first_row, first_column), value)
    if (first_row, first_column) != (last_row, last_column):
        sheet.merge_cells(start_row=first_row, start_column=first_column, end_row=last_row, end_column=last_column)
    return cell


def _box(sheet: Worksheet, first_row: int, last_row: int, columns: int) -> None:
    for row in sheet.iter_rows(min_row=first_row, max_row=last_row, min_col=1, max_col=columns):
        for cell in row:
            cell.border = BORDER


def write_table_xlsx(
    target: Target,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str,
    metadata: Sequence[tuple[str, str]] = (),
    notes: Sequence[str] = (),
    number_formats: dict[int, str] | None = None,
    widths: dict[int, float] | None = None,
    sheet_title: str = "Dữ liệu",
) -> None:
    """A plain table sheet with a stamped header block, for any export: title, ``metadata`` lines
    ("Kỳ báo cáo", "Nguồn", "Dữ liệu lúc", filters…), a bold bordered header row frozen in place,
    the rows, then ``notes`` (definitions). ``number_formats`` and ``widths`` are keyed by 0-based
    column index.
    """
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = sheet_title
    columns = max(len(header), 1)
    _merge(sheet, 1, 1, 1, columns, title).font = Font(bold=True, size=13)
    line = 2
    for label, value in metadata:
        _merge(sheet, line, 1, line, columns, f"{label}: {value}").font = Font(italic=True)
        line += 1
    header_row = line + 1
    for index, name in enumerate(header, start=1):
        cell = set_cell(sheet.cell(header_row, index), name)
        cell.font = Font(bold=True)
        cell.alignment = CENTER
    last = header_row
    for last, row in enumerate(rows, start=header_row + 1):
        for index, value in enumerate(row):
            set_cell(sheet.cell(last, index + 1), value, (number_formats or {}).get(index))
    _box(sheet, header_row, last, len(header))
    for offset, note in enumerate(notes, start=2):
        _merge(sheet, last + offset, 1, last + offset, columns, note).alignment = Alignment(wrap_text=True, vertical="top")
    for index in range(len(header)):
        sheet.column_dimensions[get_column_letter(index + 1)].width = (widths or {}).get(index, 14)
    sheet.freeze_panes = sheet.cell(header_row + 1, 1)
    save_workbook(workbook, target)


# -- Biểu II.06a ---------------------------------------------------------------------------------

II06A_FIRST_DATA_ROW = 11
"""Rows 1–6: the form's header block; 7–9: the three header levels; 10: column numbers; then the units."""


def _period_text(report: Ii06aReport) -> str:
    return f"Kỳ báo cáo: từ ngày {day_text(report.period.start)} đến ngày {day_text(report.period.last_day)}"


def _stamp_text(report: Ii06aReport) -> str:
    as_of = report.period.end
    return (
        f"Số liệu tính đến hết ngày {day_text(as_of - timedelta(days=1))}; "
        f"dữ liệu cập nhật lúc {local_time_text(report.data_time)}; lập lúc {local_time_text(report.generated_at)}"
    )


def ii06a_csv_header() -> list[str]:
    """Flat Vietnamese headers: STT, Mã đơn vị, Đơn vị, then "Group - column" (rates in %)."""
    names = ["STT", "Mã đơn vị", "Đơn vị"]
    for column in II06A_COLUMNS:
        label = column.label_vi if column.group_vi is None else f"{column.group_vi} - {column.label_vi}"
        names.append(f"{label} (%)" if column.kind == "rate" else label)
    return names


def ii06a_csv_rows(report: Ii06aReport) -> list[list[Any]]:
    """The form's rows for CSV: counts as integers, rates as percentages rounded to 2 decimals, empty when null."""
    rows = []
    for record in report.rows.to_dict(orient="records"):
        row: list[Any] = [record["stt"], record["unit_code"], record["unit_name"]]
        for column in II06A_COLUMNS:
            value = record[column.id]
            if column.kind == "rate":
                row.append(None if _missing(value) else round(float(value) * 100, 2))
            else:
                row.append(int(value))
        rows.append(row)
    return rows


def write_ii06a_csv(report: Ii06aReport, target: Target) -> None:
    """Biểu II.06a as a machine-readable CSV: one clean header row, one row per unit, the total last.

    The form's header block (form code, period, reporting and receiving unit, data time) and the
    definitions are deliberately not written as extra lines above the header: a CSV with a preamble
    breaks every reader that expects the first line to be the header (pandas, Excel's import,
    databases). They are in the XLSX, which is the form; the CLI names the CSV after the form and
    the period by default.
    """
    write_csv(target, ii06a_csv_header(), ii06a_csv_rows(report))


def write_ii06a_xlsx(report: Ii06aReport, target: Target) -> None:
    """Biểu II.06a laid out like the paper form.

    Form code top left; "Đơn vị báo cáo" and "Đơn vị nhận báo cáo" top right; the title and the
    period centred; then three header levels with merged group headers (Số hồ sơ nhận giải quyết
    over Tổng số and "Trong đó" Trực tuyến / Trực tiếp và dịch vụ bưu chính / Từ kỳ trước; Số hồ
    sơ đã giải quyết over Tổng số / Trước hạn / Đúng hạn / Quá hạn; Số lượng hồ sơ đang giải quyết
    over Tổng số / Trong hạn / Quá hạn), STT and Đơn vị merged down the three levels, a row of
    column numbers, the units, the total in bold, and the definitions as notes. Borders, widths, the
    header and the first two columns frozen, landscape A4 fitted to the page width.
    """
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "II.06a"
    columns = 2 + len(II06A_COLUMNS)
    right = columns - 4  # first column of the top-right block

    _merge(sheet, 1, 1, 1, 4, FORM_CODE).font = Font(bold=True)
    _merge(sheet, 1, right, 1, columns, f"Đơn vị báo cáo: {report.reporting_unit}").font = Font(bold=True)
    _merge(sheet, 2, right, 2, columns, f"Đơn vị nhận báo cáo: {report.receiving_unit}").font = Font(bold=True)
    title = _merge(sheet, 3, 1, 3, columns, FORM_TITLE)
    title.font = Font(bold=True, size=14)
    title.alignment = CENTER
    sheet.row_dimensions[3].height = 36
    _merge(sheet, 4, 1, 4, columns, _period_text(report)).alignment = CENTER
    stamp = _merge(sheet, 5, 1, 5, columns, _stamp_text(report))
    stamp.alignment = CENTER
    stamp.font = Font(italic=True)
    _merge(sheet, 6, 1, 6, columns, "Đơn vị tính: hồ sơ").alignment = Alignment(horizontal="right")

    _write_ii06a_header(sheet)
    row_number = II06A_FIRST_DATA_ROW
    for row_number, record in enumerate(report.rows.to_dict(orient="records"), start=II06A_FIRST_DATA_ROW):
        set_cell(sheet.cell(row_number, 1), record["stt"]).alignment = Alignment(horizontal="center")
        set_cell(sheet.cell(row_number, 2), record["unit_name"])
        for index, column in enumerate(II06A_COLUMNS, start=3):
            fmt = RATE_FORMAT if column.kind == "rate" else COUNT_FORMAT
            set_cell(sheet.cell(row_number, index), record[column.id], fmt)
        if record["stt"] is None or _missing(record["stt"]):
            for index in range(1, columns + 1):
                sheet.cell(row_number, index).font = Font(bold=True)
    _box(sheet, 7, row_number, columns)

    notes_row = row_number + 2
    set_cell(sheet.cell(notes_row, 1), "Ghi chú (định nghĩa các cột, DESIGN §4):").font = Font(bold=True)
    for offset, (number, column) in enumerate(enumerate(II06A_COLUMNS, start=3), start=1):
        group = f"{column.group_vi} - " if column.group_vi else ""
        text = f"({number}) {group}{column.label_vi}: {column.definition_vi}"
        _merge(sheet, notes_row + offset, 1, notes_row + offset, columns, text)

    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 32
    for index, column in enumerate(II06A_COLUMNS, start=3):
        sheet.column_dimensions[get_column_letter(index)].width = 14 if column.kind == "rate" else 12
    sheet.freeze_panes = sheet.cell(II06A_FIRST_DATA_ROW, 3)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"7:{II06A_FIRST_DATA_ROW - 1}"
    save_workbook(workbook, target)


def _write_ii06a_header(sheet: Worksheet) -> None:
    """Rows 7–9 (three levels of merged headers) and row 10 (column numbers (1), (2), …)."""
    top, middle, bottom = 7, 8, 9
    header_cells = [_merge(sheet, top, 1, bottom, 1, "STT"), _merge(sheet, top, 2, bottom, 2, "Đơn vị")]
    groups: dict[str, list[int]] = {}
    for index, column in enumerate(II06A_COLUMNS, start=3):
        if column.group_vi is None:
            header_cells.append(_merge(sheet, top, index, bottom, index, column.label_vi))
        else:
            groups.setdefault(column.group_vi, []).append(index)
    for group, indexes in groups.items():
        header_cells.append(_merge(sheet, top, indexes[0], top, indexes[-1], group))
        if group == RECEIVED:
            # On the form the received group is "Tổng số" then "Trong đó" over its three parts.
            header_cells.append(_merge(sheet, middle, indexes[0], bottom, indexes[0], "Tổng số"))
            header_cells.append(_merge(sheet, middle, indexes[1], middle, indexes[-1], "Trong đó"))
            for index in indexes[1:]:
                header_cells.append(set_cell(sheet.cell(bottom, index), II06A_COLUMNS[index - 3].label_vi))
        else:
            assert group in (RESOLVED, IN_PROGRESS)
            for index in indexes:
                header_cells.append(_merge(sheet, middle, index, bottom, index, II06A_COLUMNS[index - 3].label_vi))
    for cell in header_cells:
        cell.font = Font(bold=True)
        cell.alignment = CENTER
    for index in range(1, 3 + len(II06A_COLUMNS)):
        number = set_cell(sheet.cell(bottom + 1, index), f"({index})")
        number.alignment = CENTER
        number.font = Font(italic=True)
    sheet.row_dimensions[middle].height = 30
    sheet.row_dimensions[bottom].height = 45


# -- QĐ 766 estimate -----------------------------------------------------------------------------


def index766_header() -> list[str]:
    """Vietnamese headers of the per-unit QĐ 766 estimate: value (%) and points of each indicator, then the sums."""
    from kpis.index766 import INDICATORS

    names = ["Mã đơn vị", "Đơn vị"]
    for indicator in INDICATORS:
        names.append(f"Chỉ số {indicator.id} - {indicator.title_vi} (%)")
        names.append(f"Điểm {indicator.id} (tối đa {indicator.max_points:g})")
    names += ["Điểm ước tính", "Điểm tối đa của các chỉ số có dữ liệu", "Tỷ lệ điểm (%)"]
    return names


def _percent(value: Any) -> float | None:
    return None if _missing(value) else round(float(value) * 100, 2)


def _points(value: Any) -> float | None:
    return None if _missing(value) else round(float(value), 2)


def index766_rows(frame: Any) -> list[list[Any]]:
    """Rows for ``index766_header`` from ``kpis.index766.index_766_by_unit`` (percentages and points to 2 decimals)."""
    from kpis.index766 import INDICATORS

    rows = []
    for unit_code, record in frame.iterrows():
        row: list[Any] = [str(unit_code), record["name"]]
        for indicator in INDICATORS:
            row += [_percent(record[f"value_{indicator.id}"]), _points(record[f"score_{indicator.id}"])]
        row += [_points(record["score"]), _points(record["max_score"]), _percent(record["score_rate"])]
        rows.append(row)
    return rows


def write_index766_csv(frame: Any, target: Target) -> None:
    """The per-unit QĐ 766 estimate as CSV (one clean header row; the estimate note is in the XLSX and the header names)."""
    write_csv(target, index766_header(), index766_rows(frame))


def write_index766_xlsx(
    frame: Any, target: Target, *, period_text: str, reporting_unit: str, data_time: datetime | None, generated_at: datetime
) -> None:
    """The per-unit QĐ 766 estimate as a stamped table: labelled "ước tính", with every indicator's formula and source."""
    from kpis.index766 import ESTIMATE_NOTE_VI, INDICATORS, MAX_POINTS

    header = index766_header()
    notes = [ESTIMATE_NOTE_VI, f"Tổng điểm tối đa của 7 chỉ số: {MAX_POINTS:g}/100."]
    notes += [
        f"Chỉ số {i.id} ({i.title_vi}): điểm = {i.max_points:g} × min(1, tỷ lệ / {i.full_at:.0%}); nguồn: {i.source}."
        for i in INDICATORS
    ]
    formats = {index: "0.00" for index in range(2, len(header))}
    write_table_xlsx(
        target,
        header,
        index766_rows(frame),
        title="CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP THEO QĐ 766/QĐ-TTg (ƯỚC TÍNH)",
        metadata=[
            ("Đơn vị báo cáo", reporting_unit),
            ("Kỳ báo cáo", period_text),
            ("Dữ liệu cập nhật lúc", local_time_text(data_time)),
            ("Lập lúc", local_time_text(generated_at)),
        ],
        notes=notes,
        number_formats=formats,
        widths={0: 10, 1: 28},
        sheet_title="QĐ 766 (ước tính)",
    )
