"""The SQL dossier fast path gives exactly what normalize_dossier gives, row by row, and leaves it every reject."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc.calendar import WorkingCalendar
from ioc.canonical import Reference, RowError, clean_text, normalize_dossier
from ioc.canonical_sql import NOT_PLAIN_PATTERN, POSITION, normalize_dossier_staged
from ioc.model import DOSSIER_COLUMNS
from ioc.timeutil import LOCAL_TZ

INGESTED_AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
UNITS = ("20194", "20197", "20200")


@cache
def reference() -> Reference:
    procedures = {"P1": ("Đất đai", 5), "P2": ("Hộ tịch", 0), "P3": ("Xây dựng", 15), "P4": ("Tư pháp", 200_000)}
    return Reference(frozenset(UNITS), procedures, WorkingCalendar())


def _timestamp() -> st.SearchStrategy[str]:
    """ISO texts near local midnight, naive, Z, offsets, dates alone, and broken ones."""
    day = st.dates(min_value=datetime(1988, 1, 1).date(), max_value=datetime(2041, 12, 31).date())
    clock = st.sampled_from(["00:00:00", "06:59:59", "07:00:00", "16:59:59.5", "17:00:00.123456", "23:59:59", "24:00:00"])
    zone = st.sampled_from(["", "", "Z", "+07:00", "+00:00", "-05:30", "+25:00", "+0700", "+07", "-11", "+07:00:30", "+7"])
    sep = st.sampled_from(["T", " ", "t"])
    iso = st.builds(lambda d, s, c, z: f"{d.isoformat()}{s}{c}{z}", day, sep, clock, zone)
    return st.one_of(
        iso, iso, iso, st.builds(lambda d: d.isoformat(), day), st.sampled_from(["", "  ", "2025-02-30T08:00:00", "hôm qua"])
    )


TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "x", " padded ", "Đà Nẵng", unicodedata.normalize("NFD", "Hộ tịch"), "a\x00b", "tab\there", "line\nbreak"]
    ),
    st.text(max_size=8),
    st.text(alphabet="ab", min_size=118, max_size=205),
)
STATUS = st.one_of(
    st.sampled_from(["registered", "processing", "resolved", "RETURNED", " withdrawn ", "Accepted", "bogus", "", "1.0"]),
    st.integers(min_value=0, max_value=11).map(str),
    st.sampled_from(["registered", "processing", "resolved", "9"]),
)
BOOL = st.sampled_from(["true", "false", "1", "0", "TRUE", "yes", "n", "", "maybe", " 1", None])
INT = st.sampled_from(["0", "3", "007", "", "-1", "1.5", "x", "123456789012345678901", None, " 2"])


def _format(moment: datetime, style: str) -> str:
    """``moment`` (aware) written naive-local, with Z, or with an offset, in the shapes sources send."""
    local = moment.astimezone(LOCAL_TZ)
    if style == "naive":
        return local.replace(tzinfo=None).isoformat()
    if style == "space":
        return local.replace(tzinfo=None).isoformat(sep=" ")
    if style == "z":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    if style == "hours":
        return local.isoformat(sep=" ")[:-3]  # "+07", as DuckDB writes a TIMESTAMPTZ
    return moment.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat()


@st.composite
def _good_row(draw: st.DrawFn) -> dict[str, Any]:
    """A row the rules accept (mostly), with times near local midnight and every accepted spelling."""
    styles = st.sampled_from(["naive", "space", "z", "offset", "hours"])
    day = draw(st.datetimes(min_value=datetime(1990, 1, 2), max_value=datetime(2039, 12, 1)))
    received = day.replace(tzinfo=LOCAL_TZ) + timedelta(hours=draw(st.sampled_from([0, 16, 23])), minutes=59)
    status = draw(st.sampled_from(["registered", "processing", "resolved", "returned", "9", "10", "4", "Stopped"]))
    ended = status.lower() in {"resolved", "returned", "9", "10", "stopped"}
    finished = received + timedelta(hours=draw(st.integers(0, 400))) if ended else None
    row: dict[str, Any] = {
        "dossier_id": draw(st.sampled_from(["D1", "D2", "D3", "x" * 120])),
        "unit_code": draw(st.sampled_from(UNITS)),
        "status": status,
        "received_at": _format(received, draw(styles)),
        "finished_at": _format(finished, draw(styles)) if finished else "",
        "procedure_code": draw(st.sampled_from(["P1", "P2", "P3", "P4", "P9", ""])),
        "channel": draw(st.sampled_from(["online", "postal", ""])),
        "extended": draw(st.sampled_from(["true", "false", "1", "0", ""])),
        "supplement_count": draw(st.sampled_from(["0", "2", ""])),
        "updated_at": draw(st.sampled_from(["", _format(received + timedelta(days=1), draw(styles))])),
    }
    if draw(st.booleans()):
        row["due_at"] = _format(received + timedelta(hours=draw(st.integers(-30, 300))), draw(styles))
    if finished and draw(st.booleans()):
        row["returned_at"] = _format(finished + timedelta(minutes=draw(st.integers(-5, 600))), draw(styles))
    return row


def _row() -> st.SearchStrategy[dict[str, Any]]:
    """A good row, a good row with a few fields swapped for bad values, or a row of random values."""
    bad = _bad_row()
    return st.one_of(_good_row(), st.builds(lambda good, worse: {**good, **worse}, _good_row(), bad.map(_few)), bad)


def _few(row: dict[str, Any]) -> dict[str, Any]:
    return dict(list(row.items())[:2])


def _bad_row() -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "dossier_id": st.one_of(st.sampled_from(["D1", "D2", "D3"]), TEXT),
        "unit_code": st.one_of(st.sampled_from([*UNITS, *UNITS]), st.sampled_from(["", "99999", " 20194", None])),
        "status": STATUS,
        "received_at": _timestamp(),
        "finished_at": st.one_of(st.just(""), _timestamp()),
        "returned_at": st.one_of(st.just(""), st.just(""), _timestamp()),
        "due_at": st.one_of(st.just(""), st.just(""), _timestamp()),
        "updated_at": st.one_of(st.just(""), _timestamp()),
        "procedure_code": st.one_of(st.sampled_from(["P1", "P2", "P3", "P4", "P9", "", None]), TEXT),
        "sector": st.one_of(st.just(""), TEXT),
        "source": st.one_of(st.just(""), TEXT),
        "channel": st.sampled_from(["online", "In_Person", "postal", "", "fax", None]),
        "supplement_count": INT,
        "paused_seconds": INT,
        "extended": BOOL,
        "paid_online": BOOL,
        "digitized": BOOL,
        "e_result": BOOL,
        "is_proactive": BOOL,
        "_problem": st.sampled_from(["", "", "", "line 3: 4 fields where the header has 20"]),
    }
    # Some rows lack columns altogether (a source that does not send them).
    return st.fixed_dictionaries({}, optional=fields)


def _python(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()
    return value


def _normalize(rows: list[dict[str, Any]]) -> tuple[list[tuple[int, dict[str, Any]]], list[int]]:
    """(position, canonical row) for the rows the SQL path takes, and the positions it leaves."""
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        columns = sorted({key for row in rows for key in row})
        frame = pd.DataFrame(
            {column: pd.Series([row.get(column) for row in rows], dtype=object) for column in columns}, index=range(len(rows))
        )
        frame[POSITION] = range(len(rows))
        conn.register("rows_frame", frame)
        casts = ", ".join([f"CAST({POSITION} AS BIGINT) AS {POSITION}", *(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in columns)])
        conn.execute(f"CREATE TEMP TABLE staged AS SELECT {casts} FROM rows_frame")
        slow = normalize_dossier_staged(conn, "staged", reference(), "test", INGESTED_AT, "canonical")
        result = conn.execute(f"SELECT * FROM canonical ORDER BY {POSITION}")
        names = [d[0] for d in result.description]
        taken = []
        for values in result.fetchall():
            record = dict(zip(names, values, strict=True))
            taken.append((int(record.pop(POSITION)), record))
        assert names == [*DOSSIER_COLUMNS, POSITION]
        return taken, slow
    finally:
        conn.close()


def _check(rows: list[dict[str, Any]]) -> None:
    taken, slow = _normalize(rows)
    assert sorted([*(position for position, _ in taken), *slow]) == list(range(len(rows)))
    for position, got in taken:
        row = rows[position]
        if row.get("_problem"):
            raise AssertionError(f"a row the reader flagged was taken by the fast path: {row}")
        try:
            # The file reader gives NFC text; the SQL path composes cells itself.
            nfc_row = {
                key: unicodedata.normalize("NFC", value) if isinstance(value, str) else value for key, value in row.items()
            }
            expected = normalize_dossier(nfc_row, reference(), "test", INGESTED_AT)
        except RowError as error:
            raise AssertionError(f"fast path took a row the rules reject ({error}): {row}") from None
        assert got == expected, row


def test_the_plain_text_pattern_refuses_exactly_what_clean_text_would_change() -> None:
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    controls = [chr(c) for c in range(0x20)]
    others = ["x", "\u00e9", "\u200b", "\ufeff", "\x7f", "\u3001", "·"]
    cells = [*(f"{c}x" for c in spaces), *(f"x{c}" for c in spaces), *(f"a{c}b" for c in controls)]
    conn = duckdb.connect()
    try:
        flagged = conn.execute(
            "SELECT list(regexp_matches(cell, ?) ORDER BY i) FROM (SELECT unnest(?) AS cell, generate_subscripts(?, 1) AS i)",
            [NOT_PLAIN_PATTERN, cells, cells],
        ).fetchall()[0][0]
        inner = [f"a{c}b" for c in [*spaces, *others] if c not in controls] + [f"{c}" for c in others]
        kept = conn.execute(
            "SELECT list(regexp_matches(cell, ?) ORDER BY i) FROM (SELECT unnest(?) AS cell, generate_subscripts(?, 1) AS i)",
            [NOT_PLAIN_PATTERN, inner, inner],
        ).fetchall()[0][0]
    finally:
        conn.close()
    assert all(flagged), [cell for cell, hit in zip(cells, flagged, strict=True) if not hit]
    assert not any(kept), [cell for cell, hit in zip(inner, kept, strict=True) if hit]
    # The same cells by the per-row rule: clean_text changes each flagged one but "a\tb" and "a\nb" (refusing
    # those too only sends them to the per-row path), and of the kept ones only what NFC changes (U+2000 is
    # U+2002 in NFC), which the SQL path applies too (nfc_normalize).
    assert all(clean_text(cell, 99) != cell for cell in cells if cell not in ("a\tb", "a\nb"))
    assert all(clean_text(cell, 99) == unicodedata.normalize("NFC", cell) for cell in inner)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_row(), min_size=1, max_size=40))
def test_fast_path_equals_per_row_normaliser(rows: list[dict[str, Any]]) -> None:
    _check(rows)


def test_fast_path_takes_ordinary_rows() -> None:
    rows = [
        {
            "dossier_id": f"D{i}",
            "unit_code": "20194",
            "status": "resolved" if i % 2 else "4",
            "received_at": "2025-07-02T23:30:00" if i % 3 else "2025-07-02T16:30:00Z",
            "finished_at": "2025-07-09T08:00:00+07:00" if i % 2 else "",
            "procedure_code": "P1",
            "extended": "1" if i % 2 else "false",
            "supplement_count": str(i),
            "sector": unicodedata.normalize("NFD", "Hộ tịch") if i % 4 == 0 else "",
        }
        for i in range(20)
    ]
    _check(rows)
    taken, slow = _normalize(rows)
    assert slow == [] and len(taken) == 20
    assert {record["sector"] for _, record in taken} == {"Hộ tịch", "Đất đai"}  # composed; P1's sector when blank
