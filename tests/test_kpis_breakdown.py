"""Breakdowns by sector, procedure, channel (dossiers) and field, channel, urgency (hotline): hand values, sums = totals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ioc.db import Database
from ioc.sample import build_sample_store
from kpis import compute
from kpis.breakdown import UNKNOWN_LABEL_VI, dossier_breakdown, hotline_breakdown
from kpis.period import Period
from kpis.sql import sql_for_dossier_counts, sql_for_hotline_counts
from tests.test_kpis import FEE, FREE, MAIN_DOSSIERS, MAIN_TICKETS, PERIOD, UNIT_A, UNIT_B, due, load, ticket, vn

# Extra tickets so that field, channel and urgency each have more than one value (MAIN_TICKETS all
# default to field "Hạ tầng đô thị", channel "other", urgency "normal").
EXTRA_TICKETS: list[dict[str, Any]] = [
    # T20: phone, urgent, Môi trường; answered 4 Feb ≤ due 5 Feb → on time.
    ticket(
        "T20",
        UNIT_A,
        "answered",
        vn("2026-02-03"),
        due("2026-02-05"),
        answered_at=vn("2026-02-04"),
        channel="phone",
        urgency="urgent",
        field="Môi trường",
    ),
    # T21: zalo, quick, Môi trường; open at as-of, due 12 Feb → overdue.
    ticket("T21", UNIT_B, "processing", vn("2026-02-09"), due("2026-02-12"), channel="zalo", urgency="quick", field="Môi trường"),
]


@pytest.fixture
def main_store(store: Database) -> Database:
    load(store, MAIN_DOSSIERS, [*MAIN_TICKETS, *EXTRA_TICKETS])
    return store


def by_key(frame: Any) -> dict[Any, dict[str, Any]]:
    return {row["key"]: row for row in frame.to_dict(orient="records")}


def test_dossiers_by_channel(main_store: Database) -> None:
    rows = by_key(dossier_breakdown(main_store, PERIOD, "channel"))
    # online: received D05, D06, D08, D12, D13; resolved D05 (due date), D06 (late), D08 (early); in progress D12, D13.
    assert rows["online"]["label"] == "Trực tuyến"
    assert (rows["online"]["received"], rows["online"]["resolved"], rows["online"]["in_progress"]) == (5, 3, 2)
    assert rows["online"]["on_time_rate"] == pytest.approx(2 / 3)
    assert rows["online"]["in_progress_overdue"] == 0
    # postal: D09 received and withdrawn: nothing resolved, so the rate is null.
    assert (rows["postal"]["received"], rows["postal"]["resolved"], rows["postal"]["on_time_rate"]) == (1, 0, None)
    # in person (the default channel): received D07, D10, D14, D15, D17–D20; carried over D01, D02;
    # resolved D02 (early), D07 (late), D18 (no due date); in progress D01, D14, D15, D17, D19, D20; overdue D01, D14.
    person = rows["in_person"]
    assert (person["received"], person["resolved"], person["in_progress"], person["in_progress_overdue"]) == (8, 3, 6, 2)
    assert person["on_time_rate"] == pytest.approx(2 / 3)
    assert person["resolved_on_time_or_early"] == 2
    assert person["on_time_status"] == "no_data"  # 3 resolved < 5


def test_dossiers_by_procedure_and_sector(main_store: Database) -> None:
    rows = by_key(dossier_breakdown(main_store, PERIOD, "procedure"))
    # TEST-FEE: received D05, D06, D08, D12, D13; resolved D02, D05, D06, D08 (3 early or on time);
    # in progress D01, D12, D13; overdue D01.
    fee = rows[FEE]
    assert fee["label"] == f"Thủ tục thử {FEE}"
    assert (fee["received"], fee["resolved"], fee["in_progress"], fee["in_progress_overdue"]) == (5, 4, 3, 1)
    assert fee["on_time_rate"] == pytest.approx(3 / 4)
    # TEST-FREE: received D07, D09, D10, D14, D15, D17, D20; resolved D07 (late); in progress D14, D15, D17, D20.
    free = rows[FREE]
    assert (free["received"], free["resolved"], free["in_progress"], free["in_progress_overdue"]) == (7, 1, 4, 1)
    assert free["on_time_rate"] == 0.0
    # No procedure: D18 (resolved, no due date → on time), D19 (in progress).
    none = rows[None]
    assert none["label"] == UNKNOWN_LABEL_VI
    assert (none["received"], none["resolved"], none["on_time_rate"], none["in_progress"]) == (2, 1, 1.0, 1)
    sectors = by_key(dossier_breakdown(main_store, PERIOD, "sector"))
    assert set(sectors) == {"Thử nghiệm", None}  # the connector fills the sector from the procedure
    assert sectors["Thử nghiệm"]["received"] == 12 and sectors[None]["received"] == 2


def test_one_unit(main_store: Database) -> None:
    rows = by_key(dossier_breakdown(main_store, PERIOD, "channel", UNIT_B))
    assert list(rows) == ["in_person"]
    assert (rows["in_person"]["received"], rows["in_person"]["resolved"], rows["in_person"]["in_progress"]) == (3, 1, 2)
    tickets = by_key(hotline_breakdown(main_store, PERIOD, "urgency", UNIT_B))
    # Unit B: T07 answered (normal), T08 open (normal), T21 open overdue (quick).
    assert tickets["normal"]["hotline_answered"] == 1 and tickets["normal"]["hotline_open"] == 1
    assert tickets["quick"]["label"] == "Nhanh" and tickets["quick"]["hotline_open_overdue"] == 1


def test_hotline_by_field_channel_urgency(main_store: Database) -> None:
    fields = by_key(hotline_breakdown(main_store, PERIOD, "field"))
    # Môi trường: T20 received and answered on time, T21 received and open overdue.
    env = fields["Môi trường"]
    assert (env["hotline_received"], env["hotline_answered"], env["hotline_open"], env["hotline_open_overdue"]) == (2, 1, 1, 1)
    assert env["hotline_on_time_rate"] == 1.0
    # Hạ tầng đô thị: the main tickets (received 6, answered 4 of which 3 on time, open 3, overdue 1).
    roads = fields["Hạ tầng đô thị"]
    assert (roads["hotline_received"], roads["hotline_answered"], roads["hotline_open"]) == (6, 4, 3)
    assert roads["hotline_on_time_rate"] == pytest.approx(3 / 4)
    channels = by_key(hotline_breakdown(main_store, PERIOD, "channel"))
    assert set(channels) == {"other", "phone", "zalo"}
    assert channels["phone"]["label"] == "Điện thoại (1022)"
    urgencies = by_key(hotline_breakdown(main_store, PERIOD, "urgency"))
    assert (urgencies["urgent"]["label"], urgencies["urgent"]["hotline_answered_on_time"]) == ("Khẩn", 1)


def assert_sums_match(db: Database, period: Period, unit_code: str | None = None) -> None:
    totals = compute(db, period, unit_code)
    for by in ("sector", "procedure", "channel"):
        frame = dossier_breakdown(db, period, by, unit_code)  # type: ignore[arg-type]
        for figure in ("received", "resolved", "in_progress", "in_progress_overdue"):
            assert int(frame[figure].sum()) == totals[figure], (by, figure)
        assert int(frame["resolved_on_time_or_early"].sum()) == int(totals["resolved_early"] or 0) + int(
            totals["resolved_on_time"] or 0
        )
    for by in ("field", "channel", "urgency"):
        frame = hotline_breakdown(db, period, by, unit_code)  # type: ignore[arg-type]
        for figure in ("hotline_received", "hotline_answered", "hotline_open", "hotline_open_overdue"):
            assert int(frame[figure].sum()) == totals[figure], (by, figure)
        assert int(frame["hotline_answered_on_time"].sum()) == totals["hotline_answered_on_time"]


def test_breakdown_sums_equal_totals_on_the_fixture(main_store: Database) -> None:
    assert_sums_match(main_store, PERIOD)
    assert_sums_match(main_store, PERIOD, UNIT_A)
    assert_sums_match(main_store, Period(date(2026, 2, 16), date(2026, 3, 1)))


def test_breakdown_sums_equal_totals_on_the_sample_store(tmp_path: Path) -> None:
    db = build_sample_store(tmp_path / "sample.duckdb", days=30, now=datetime(2026, 3, 20, 5, tzinfo=UTC))
    try:
        assert_sums_match(db, Period(date(2026, 3, 1), date(2026, 3, 21)))
        assert_sums_match(db, Period(date(2026, 3, 16), date(2026, 3, 21)), "20194")
    finally:
        db.close()


def test_unknown_dimension_and_injected_column_are_refused(main_store: Database) -> None:
    with pytest.raises(ValueError):
        dossier_breakdown(main_store, PERIOD, "status")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hotline_breakdown(main_store, PERIOD, "sector")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sql_for_dossier_counts(group_by="unit_code; DROP TABLE dossiers")
    with pytest.raises(ValueError):
        sql_for_hotline_counts(by_unit=True, group_by="field")


def test_grouped_sql_still_one_pass() -> None:
    for sql in (sql_for_dossier_counts(group_by="sector", one_unit=True), sql_for_hotline_counts(group_by="urgency")):
        assert sql.count("FROM dossiers") + sql.count("FROM hotline_tickets") == 1
    assert "GROUP BY sector" in sql_for_dossier_counts(group_by="sector")
    assert sql_for_dossier_counts(by_unit=True) == sql_for_dossier_counts(group_by="unit_code")
