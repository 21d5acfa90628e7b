"""Mapping files: rules, value maps, dates and zones, units, personal fields, and the mistakes refused when one loads."""

from __future__ import annotations

import copy
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import ingest_batches
from connectors.mapping import MappingError, load_mapping, parse_mapping, slug
from ioc.canonical import RowError, match_key
from ioc.db import Database

# A commune hotline export as an office would send it: Vietnamese headers, words for statuses, names for units.
VN_MAPPING = """
name = "hotline_xa"
target = "hotline"
source = "tong_dai_1022"
date_formats = ["%d/%m/%Y %H:%M", "%d/%m/%Y"]
personal = ["Họ tên", "Số điện thoại", "Địa chỉ"]

[columns]
ticket_id = "Mã phản ánh"
received_at = "Ngày tiếp nhận"
due_at = "Hạn xử lý"
answered_at = "Ngày trả lời"
status = "Trạng thái"
channel = "Kênh"
field = { first = ["Lĩnh vực", "Nhóm"] }
title = "Nội dung"
unit_code = "Đơn vị"
urgency = { value = "normal" }

[values.status]
"Mới" = "new"
"Đang xử lý" = "processing"
"Đã trả lời" = "answered"

[values.channel]
"Tổng đài 1022" = "phone"
"Zalo" = "zalo"
"Cổng góp ý" = "web"
"*" = "other"

[units]
by = "name"
"""
VN_HEADER = (
    "Mã phản ánh,Ngày tiếp nhận,Hạn xử lý,Ngày trả lời,Trạng thái,Kênh,Lĩnh vực,Nội dung,Đơn vị,Họ tên,Số điện thoại,Địa chỉ"
)
PERSONAL_VALUES = ("Nguyễn Văn An", "0905123456", "12 Lê Duẩn")


def vn_row(ticket: str = "PA-1", **changes: str) -> str:
    values = {
        "id": ticket,
        "received": "03/11/2025 08:30",
        "due": "06/11/2025",
        "answered": "",
        "status": "Đang xử lý",
        "channel": "Tổng đài 1022",
        "field": "Hạ tầng đô thị",
        "title": "Đèn đường hỏng",
        "unit": "Phường Hải Vân",
        "name": PERSONAL_VALUES[0],
        "phone": PERSONAL_VALUES[1],
        "address": PERSONAL_VALUES[2],
    }
    values.update(changes)
    return ",".join(values.values())


def write_mapping(folder: Path, text: str = VN_MAPPING, name: str = "hotline_xa.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def stored_text(db: Database) -> str:
    """Every value in every table of the store, as one string to search."""
    tables = [name for (name,) in db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")]
    return "\n".join(str(value) for table in tables for row in db.execute(f"SELECT * FROM {table}") for value in row)


def test_columns_values_and_dates_map_onto_the_canonical_row(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path))
    row = mapping.strip(
        dict(zip(VN_HEADER.split(","), vn_row(status="Đã trả lời", answered="04/11/2025 15:00").split(","), strict=True))
    )
    canonical = mapping.to_canonical(row, {match_key("Phường Hải Vân"): "20194"})
    assert canonical["ticket_id"] == "PA-1" and canonical["status"] == "answered" and canonical["channel"] == "phone"
    assert canonical["unit_code"] == "20194" and canonical["source"] == "tong_dai_1022" and canonical["urgency"] == "normal"
    assert canonical["received_at"].astimezone(UTC) == datetime(2025, 11, 3, 1, 30, tzinfo=UTC)  # naive = Vietnamese time
    assert canonical["due_at"].astimezone(UTC) == datetime(2025, 11, 5, 17, 0, tzinfo=UTC)
    assert not set(row) & {"Họ tên", "Số điện thoại", "Địa chỉ"}


def test_constant_join_first_pattern_when_and_catch_all_rules() -> None:
    mapping = parse_mapping(
        {
            "target": "hotline",
            "columns": {
                "ticket_id": "id",
                "received_at": "at",
                "status": "state",
                "unit_code": {"column": "code", "pattern": "^([^:]+):", "default": "Other"},
                "title": {"join": ["a", "b"], "separator": " / "},
                "field": {"first": ["x", "y"]},
                "answered_at": {"column": "changed", "when": {"state": "closed"}},
                "lat": {"column": "lat", "round": 3, "null_if": ["39"]},
                "channel": {"value": "web"},
            },
            "values": {"status": {"closed": "answered", "*": "new"}},
            "units": {"by": "register", "code_prefix": "EXT-T"},
        }
    )
    base = {"id": "1", "at": "2025-11-03T08:00:00+07:00", "code": "Public Works:Potholes", "a": "A", "b": "", "x": "", "y": "Y"}
    closed = mapping.to_canonical(
        mapping.strip({**base, "state": "Closed", "changed": "2025-11-04T09:00:00Z", "lat": "42.123456"})
    )
    assert closed["status"] == "answered" and closed["answered_at"] == datetime(2025, 11, 4, 9, tzinfo=UTC)
    assert closed["unit_code"] == "EXT-T-PUBLIC-WORKS" and closed["title"] == "A" and closed["field"] == "Y"
    assert closed["lat"] == 42.123 and closed["channel"] == "web"
    still_open = mapping.to_canonical(
        mapping.strip({**base, "state": "open", "changed": "2025-11-04T09:00:00Z", "lat": "39", "code": "uuid-1"})
    )
    assert still_open["status"] == "new" and still_open["answered_at"] is None and still_open["lat"] is None
    assert still_open["unit_code"] == "EXT-T-OTHER"


def test_dates_in_another_zone_and_format_are_converted_and_bad_ones_say_why() -> None:
    mapping = parse_mapping(
        {
            "target": "hotline",
            "timezone": "America/New_York",
            "date_formats": ["%m/%d/%Y %I:%M:%S %p"],
            "columns": {"ticket_id": "id", "received_at": "at", "status": "s", "unit_code": "u"},
        }
    )
    row = mapping.to_canonical({"id": "1", "at": "07/01/2011 02:27:57 PM", "s": "new", "u": "20194"})
    assert row["received_at"].astimezone(UTC) == datetime(2011, 7, 1, 18, 27, 57, tzinfo=UTC)  # EDT, UTC-4
    with pytest.raises(RowError, match=r"received_at \(at\): '02/30/2025 10:00:00 AM' is not a real date \(day is out of range"):
        mapping.to_canonical({"id": "1", "at": "02/30/2025 10:00:00 AM", "s": "new", "u": "20194"})
    with pytest.raises(RowError, match=r"received_at \(at\): 'yesterday' is not a date-time \(expected %m/%d/%Y"):
        mapping.to_canonical({"id": "1", "at": "yesterday", "s": "new", "u": "20194"})


def test_a_reject_names_the_source_column_behind_the_canonical_one() -> None:
    mapping = parse_mapping(
        {
            "target": "hotline",
            "columns": {"ticket_id": "Mã", "received_at": "Ngày nhận", "status": "Trạng thái", "unit_code": "Đơn vị"},
        }
    )
    error = RowError("status", "'đã xong' is not one of new, processing, answered, rejected")
    named = "status (Trạng thái): 'đã xong' is not one of new, processing, answered, rejected"
    assert mapping.name_source_column(error) == named
    assert mapping.name_source_column(copy.copy(error)) == named  # a copied error keeps its column
    # A reason that already names its column, or a column the mapping does not fill, is left as it is.
    assert mapping.name_source_column(RowError(None, "received_at (Ngày nhận): missing")) == "received_at (Ngày nhận): missing"
    assert mapping.name_source_column(RowError("due_at", "before received_at")) == "due_at: before received_at"


def test_unit_names_match_whatever_the_unicode_form_and_case(store: Database, tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path))
    header = VN_HEADER.split(",")
    decomposed = unicodedata.normalize("NFD", "PHƯỜNG HẢI VÂN")  # as macOS or a legacy converter writes it
    rows = [
        dict(zip(header, vn_row("PA-1", unit=decomposed).split(","), strict=True)),
        dict(zip(header, vn_row("PA-2", unit="Hải Vân").split(","), strict=True)),
    ]
    rows.append(dict(zip(header, vn_row("PA-3", unit="Phường Không Có").split(","), strict=True)))
    # The old spelling puts the tone on the other vowel: "Hoà" is the unit spelt "Hòa" (Phường Hòa Khánh, 20200).
    rows.append(dict(zip(header, vn_row("PA-4", unit="phường hoà khánh").split(","), strict=True)))
    result = ingest_batches(store, mapping.connector_name, [mapping.batch(store, rows)])
    assert (result.rows_upserted, result.rows_rejected) == (3, 1)
    assert store.execute("SELECT unit_code FROM hotline_tickets ORDER BY ticket_id") == [("20194",), ("20194",), ("20200",)]
    assert store.execute("SELECT reason FROM rejects") == [("unit_code (Đơn vị): 'Phường Không Có' is not a known unit",)]


def test_registered_units_get_stable_codes_and_are_inserted_once(store: Database) -> None:
    mapping = parse_mapping(
        {
            "target": "hotline",
            "columns": {"ticket_id": "id", "received_at": "at", "status": {"value": "new"}, "unit_code": "agency"},
            "units": {"by": "register", "code_prefix": "EXT-NYC", "label": "NYC 311"},
        }
    )
    rows = [{"id": str(n), "at": "2025-11-03T08:00:00", "agency": agency} for n, agency in enumerate(["NYPD", "DOT", "NYPD"])]
    ingest_batches(store, "t", [mapping.batch(store, rows)])
    ingest_batches(store, "t", [mapping.batch(store, rows)])
    assert store.execute("SELECT unit_code, name, full_name, kind FROM units WHERE unit_code LIKE 'EXT-%' ORDER BY 1") == [
        ("EXT-NYC-DOT", "DOT", "DOT (NYC 311)", "other"),
        ("EXT-NYC-NYPD", "NYPD", "NYPD (NYC 311)", "other"),
    ]
    assert slug("Sở Xây dựng Đà Nẵng") == "SO-XAY-DUNG-DA-NANG" and slug("Mayor's 24 Hour Hotline") == "MAYOR-S-24-HOUR-HOTLINE"
    assert slug("x" * 80) == slug("x" * 80) and len(slug("x" * 80)) <= 40


def test_personal_fields_never_reach_any_table_not_even_rejects(store: Database, tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path))
    header = VN_HEADER.split(",")
    good = dict(zip(header, vn_row("PA-1").split(","), strict=True))
    bad = dict(zip(header, vn_row("PA-2", received="hôm qua").split(","), strict=True))
    result = ingest_batches(store, mapping.connector_name, [mapping.batch(store, [good, bad])])
    assert (result.rows_upserted, result.rows_rejected) == (1, 1)
    raw_row = store.scalar("SELECT raw_row FROM rejects")
    assert "hôm qua" in raw_row and "PA-2" in raw_row  # the reject still shows what was wrong
    everything = stored_text(store)
    for value in PERSONAL_VALUES:
        assert value not in everything


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "tickets"}, "target must be one of"),
        ({"columns": {"ticket_id": "id"}}, "lacks unit_code, status, received_at"),
        ({"colums": {}}, "unknown keys ['colums']"),
        (
            {"columns": {"ticket_id": "id", "received_at": "a", "status": "s", "unit_code": "u", "phone": "p"}},
            "phone: not a canonical column",
        ),
        ({"personal": ["id"]}, "marked personal are also read by a rule: id"),
        ({"timezone": "Mars/Olympus"}, "not a known IANA time zone"),
        ({"units": {"by": "guess"}}, "by must be one of code, name, register"),
        ({"values": {"colour": {"a": "b"}}}, "'colour' is not a canonical hotline column"),
    ],
)
def test_a_broken_mapping_says_what_to_fix(change: dict[str, object], message: str) -> None:
    data: dict[str, object] = {
        "target": "hotline",
        "columns": {"ticket_id": "id", "received_at": "a", "status": "s", "unit_code": "u"},
    }
    data.update(change)
    with pytest.raises(MappingError) as error:
        parse_mapping(data)
    assert message in str(error.value)


def test_a_mapping_file_that_is_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="is not valid TOML"):
        load_mapping(write_mapping(tmp_path, "target = \n"))
    with pytest.raises(MappingError, match="cannot read mapping"):
        load_mapping(tmp_path / "missing.toml")


def test_shipped_mappings_load(tmp_path: Path) -> None:
    from ioc.config import PROJECT_ROOT

    names = sorted(path.name for path in (PROJECT_ROOT / "mappings").glob("*.toml"))
    assert {"nyc311.toml", "baltimore311.toml", "boston_open311.toml"} <= set(names)
    for name in names:
        assert load_mapping(PROJECT_ROOT / "mappings" / name).target.name == "hotline"


HOTLINE_REQUIRED = {"ticket_id": "id", "received_at": "at", "status": "s", "unit_code": "u"}
DOSSIER_REQUIRED = {"dossier_id": "id", "received_at": "at", "status": "s", "unit_code": "u"}


def shipped_mapping_text(name: str) -> str:
    from ioc.config import PROJECT_ROOT

    return (PROJECT_ROOT / "mappings" / name).read_text(encoding="utf-8")


def test_unknown_units_keys_are_refused_listing_the_allowed_ones(tmp_path: Path) -> None:
    text = VN_MAPPING.replace('by = "name"', 'by = "register"\ncodeprefix = "EXT-X"\nlable = "Xã"')
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, text))
    message = str(error.value)
    assert message.startswith("hotline_xa.toml: [units]: unknown keys ['codeprefix', 'lable']")
    assert "did you mean 'code_prefix' for 'codeprefix', 'label' for 'lable'?" in message
    assert message.endswith("allowed: ['by', 'code_prefix', 'label']")


def test_a_single_string_where_a_list_belongs_is_a_list_of_one() -> None:
    mapping = parse_mapping(
        {
            "target": "hotline",
            "date_formats": "%m/%d/%Y",
            "personal": "Address",
            "columns": {**HOTLINE_REQUIRED, "lat": {"column": "la", "null_if": "39"}},
        }
    )
    assert mapping.date_formats == ("%m/%d/%Y",) and mapping.personal == frozenset({"Address"})
    assert mapping.rules["lat"].null_if == frozenset({"39"})
    row = mapping.to_canonical({"id": "1", "at": "07/01/2011", "s": "new", "u": "20194", "la": "39"})
    assert row["received_at"].date().isoformat() == "2011-07-01" and row["lat"] is None
    with pytest.raises(MappingError, match=r"date_formats must be a list of strings such as \[\"...\"\], not \{"):
        parse_mapping({"target": "hotline", "date_formats": {"us": "%m/%d/%Y"}, "columns": HOTLINE_REQUIRED})


@pytest.mark.parametrize(
    ("date_format", "message"),
    [
        ("%Q", "date_formats: '%Q' is not a usable date format ('Q' is a bad directive in format '%Q')"),
        ("%m/%d/%Y %", "date_formats: '%m/%d/%Y %' is not a usable date format (stray % in format"),
        ("%m/%d/%Y %d/%m/%Y", "date_formats: '%m/%d/%Y %d/%m/%Y' is not a usable date format (used more than once: %m, %d, %Y)"),
        ("dd/mm/yyyy", "date_formats: 'dd/mm/yyyy' has no % directive; strptime formats look like \"%d/%m/%Y %H:%M\""),
    ],
)
def test_a_date_format_that_can_never_parse_is_refused_naming_it(date_format: str, message: str) -> None:
    with pytest.raises(MappingError) as error:
        parse_mapping({"target": "hotline", "date_formats": ["%d/%m/%Y", date_format], "columns": HOTLINE_REQUIRED})
    assert message in str(error.value)
    column_format = {**HOTLINE_REQUIRED, "due_at": {"column": "due", "format": date_format}}
    with pytest.raises(MappingError, match=r"^\[columns\] due_at\.format: '"):
        parse_mapping({"target": "hotline", "columns": column_format})


HOTLINE_STATUSES_ALLOWED = "allowed: new, processing, forwarded, answered, rejected"


@pytest.mark.parametrize(
    ("target", "columns", "values", "message"),
    [
        (
            "hotline",
            {},
            {"status": {"Closed": "anwsered"}},
            f"[values.status] Closed = \"anwsered\": 'anwsered' is not an accepted status for hotline; {HOTLINE_STATUSES_ALLOWED}",
        ),
        (
            "hotline",
            {},
            {"status": {"Closed": "answered", "*": "open"}},
            f'[values.status] "*" = "open": \'open\' is not an accepted status for hotline; {HOTLINE_STATUSES_ALLOWED}',
        ),
        (
            "hotline",
            {},
            {"status": {"Draft": ""}},
            f'[values.status] Draft = "": an empty status, but every hotline row needs one; {HOTLINE_STATUSES_ALLOWED}',
        ),
        ("hotline", {}, {"channel": {"Fax": "fax"}}, "allowed: phone, web, app, zalo, facebook, email, other"),
        (
            "hotline",
            {},
            {"urgency": {"2": "high"}},
            "'high' is not an accepted urgency for hotline; allowed: urgent, quick, normal",
        ),
        ("hotline", {}, {"rating": {"5": "good"}}, "allowed: satisfied, acceptable, unsatisfied"),
        ("hotline", {}, {"published": {"Có": "có"}}, "'có' is not an accepted published for hotline; allowed: true, false"),
        ("dossiers", {}, {"status": {"Xong": "done"}}, "allowed: registered, accepted, not_accepted, processing,"),
        ("dossiers", {}, {"status": {"Xong": "11"}}, "resolved, returned (or a code 1-10)"),
        ("dossiers", {}, {"channel": {"Trực tuyến": "web"}}, "allowed: online, in_person, postal"),
        ("dossiers", {}, {"extended": {"Có": "có"}}, "'có' is not an accepted extended for dossiers"),
        (
            "hotline",
            {"urgency": {"value": "hight"}},
            {},
            "[columns] urgency = { value = \"hight\" }: 'hight' is not an accepted urgency for hotline",
        ),
        (
            "hotline",
            {"channel": {"column": "c", "default": "fax"}},
            {},
            "[columns] channel.default = \"fax\": 'fax' is not an accepted channel for hotline",
        ),
    ],
)
def test_a_value_map_onto_a_value_the_normaliser_refuses_is_a_load_error(
    target: str, columns: dict[str, object], values: dict[str, object], message: str
) -> None:
    required = HOTLINE_REQUIRED if target == "hotline" else DOSSIER_REQUIRED
    with pytest.raises(MappingError) as error:
        parse_mapping({"target": target, "columns": {**required, **columns}, "values": values})
    assert message in str(error.value)


def test_value_maps_onto_anything_the_normaliser_accepts_load() -> None:
    hotline = parse_mapping(
        {
            "target": "hotline",
            "columns": {**HOTLINE_REQUIRED, "rating": "r", "field": "f", "published": "p", "urgency": {"value": "Urgent"}},
            "values": {
                "status": {"Closed": "Answered", "*": "processing"},  # the normaliser ignores case
                "rating": {"Chưa đánh giá": ""},  # optional: no rating
                "field": {"Noise": "anything at all"},  # free text
                "published": {"Có": True, "Không": "no"},
            },
        }
    )
    assert hotline.values["status"]["Closed"] == "Answered"
    dossiers = parse_mapping(
        {"target": "dossiers", "columns": DOSSIER_REQUIRED, "values": {"status": {"Xong": 9, "Trả": "Returned"}}}
    )
    assert dossiers.values["status"]["Xong"] == "9"


def test_a_real_mapping_with_a_misspelt_status_fails_to_load_naming_the_file(tmp_path: Path) -> None:
    text = shipped_mapping_text("nyc311.toml").replace('Closed = "answered"', 'Closed = "anwsered"')
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, text, "nyc311.toml"))
    assert str(error.value) == (
        "nyc311.toml: [values.status] Closed = \"anwsered\": 'anwsered' is not an accepted status for hotline; "
        + HOTLINE_STATUSES_ALLOWED
    )


def test_errors_from_a_mapping_file_name_the_file_once(tmp_path: Path) -> None:
    text = shipped_mapping_text("nyc311.toml").replace("date_formats =", "date_format =")
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, text, "nyc311.toml"))
    message = str(error.value)
    assert message.startswith("nyc311.toml: unknown keys ['date_format'] (did you mean 'date_formats' for 'date_format'?)")
    assert message.count("nyc311.toml") == 1
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, "target = \n", "nyc311.toml"))
    assert str(error.value).count("nyc311.toml") == 1


@pytest.mark.parametrize("text", ["", "# a mapping, to be written\n"])
def test_an_empty_mapping_file_says_it_is_empty_and_names_the_targets(tmp_path: Path, text: str) -> None:
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, text))
    assert str(error.value) == (
        'hotline_xa.toml: the mapping is empty: it needs at least target = "dossiers" or "hotline" and a [columns] table'
    )


def test_a_mapping_without_target_says_so_and_names_the_targets(tmp_path: Path) -> None:
    with pytest.raises(MappingError) as error:
        load_mapping(write_mapping(tmp_path, VN_MAPPING.replace('target = "hotline"\n', "")))
    assert str(error.value) == (
        'hotline_xa.toml: target is missing: say which table the mapping feeds, target = "dossiers" or "hotline"'
    )
    with pytest.raises(MappingError, match=r"target must be one of dossiers, hotline, not \['hotline'\]"):
        parse_mapping({"target": ["hotline"], "columns": HOTLINE_REQUIRED})
