"""KPI figures (DESIGN §4) on hand-computed fixtures in a real DuckDB store: Tết, make-up Saturdays, midnight, 766."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest

from connectors.base import DOSSIERS, HOTLINE, Batch, ingest_batches
from ioc.db import Database
from kpis import (
    COUNT_IDS,
    OUTPUT_IDS,
    REGISTRY,
    Period,
    compute,
    compute_by_unit,
    daily_flow,
    sql_for_dossier_counts,
    sql_for_hotline_counts,
)

UNIT_A = "20194"  # Phường Hải Vân
UNIT_B = "20197"  # Phường Liên Chiểu
FEE = "TEST-FEE"
FREE = "TEST-FREE"

# The main period: Mon 2 Feb – Sun 15 Feb 2026, so `to` is Mon 16 Feb, the first weekday of Tết.
# Working days in it: 2–6 and 9–13 Feb = 10. The first working day on or after `to` is Mon 23 Feb
# (16–20 Feb are Tết days off, 14/15 and 21/22 weekends), so at_risk means due 16–23 Feb.
PERIOD = Period(date(2026, 2, 2), date(2026, 2, 16))


def vn(day: str, clock: str = "09:00:00") -> str:
    """A local Vietnamese wall-clock time as ISO 8601 with its +07:00 offset."""
    return f"{day}T{clock}+07:00"


def due(day: str) -> str:
    """A due date at the end of office hours, as the connector computes one."""
    return vn(day, "17:00:00")


def dossier(dossier_id: str, unit: str, status: str, received: str, **fields: Any) -> dict[str, Any]:
    return {"dossier_id": dossier_id, "unit_code": unit, "status": status, "received_at": received, **fields}


# Expected values are worked out by hand in the comments; "766" notes each dossier's Decision 766 verdict.
MAIN_DOSSIERS: list[dict[str, Any]] = [
    # Carried over (received before 2 Feb, not finished before it).
    # D01: still processing, due 10 Feb < 16 Feb → in_progress_overdue; 766 late.
    dossier("D01", UNIT_A, "processing", vn("2026-01-20"), due_at=due("2026-02-10"), procedure_code=FEE),
    # D02: resolved 3 Feb, due 5 Feb → early; processing days 27,28,29,30 Jan, 2,3 Feb = 6; 766 on time.
    # Paid online but received before the period: not in online_payment_rate.
    dossier(
        "D02",
        UNIT_A,
        "resolved",
        vn("2026-01-26"),
        due_at=due("2026-02-05"),
        finished_at=vn("2026-02-03", "10:00:00"),
        procedure_code=FEE,
        paid_online=True,
        digitized=True,
        e_result=True,
    ),
    # D03: finished 30 Jan, before the period: counted nowhere.
    dossier("D03", UNIT_A, "resolved", vn("2026-01-15"), due_at=due("2026-01-30"), finished_at=vn("2026-01-30")),
    # D04: registered (not accepted): counted nowhere.
    dossier("D04", UNIT_A, "registered", vn("2026-01-28")),
    # Received in the period.
    # D05: online, finished 16:59:59Z = 23:59:59 on 5 Feb local = due date → resolved_on_time;
    # processing days 3,4,5 Feb = 3; paid online, digitized with e-result; 766 on time.
    dossier(
        "D05",
        UNIT_A,
        "returned",
        vn("2026-02-02", "08:00:00"),
        channel="online",
        due_at=due("2026-02-05"),
        finished_at="2026-02-05T16:59:59Z",
        procedure_code=FEE,
        paid_online=True,
        digitized=True,
        e_result=True,
    ),
    # D06: online, finished 17:00:00Z = 00:00 on 6 Feb local > due 5 Feb → resolved_late; processing days
    # 3,4,5,6 Feb = 4. One supplement paused 1 second: 766 judges 16:59:59Z = 5 Feb → on time.
    dossier(
        "D06",
        UNIT_A,
        "resolved",
        vn("2026-02-02"),
        channel="online",
        due_at=due("2026-02-05"),
        finished_at="2026-02-05T17:00:00Z",
        supplement_count=1,
        paused_seconds=1,
        procedure_code=FEE,
        digitized=True,
    ),
    # D07: finished 13 Feb > due 10 Feb → resolved_late; processing days 4,5,6,9,10,11,12,13 Feb = 8.
    # One supplement paused 4 days: 13 Feb 15:00 − 4 days = 9 Feb ≤ 10 Feb → 766 on time.
    dossier(
        "D07",
        UNIT_A,
        "resolved",
        vn("2026-02-03"),
        due_at=due("2026-02-10"),
        finished_at=vn("2026-02-13", "15:00:00"),
        supplement_count=1,
        paused_seconds=4 * 86400,
        procedure_code=FREE,
        e_result=True,
    ),
    # D08: online, finished 6 Feb < due 12 Feb → early; processing days 5,6 Feb = 2; second supplement → 766 late.
    dossier(
        "D08",
        UNIT_A,
        "resolved",
        vn("2026-02-04"),
        channel="online",
        due_at=due("2026-02-12"),
        finished_at=vn("2026-02-06"),
        supplement_count=2,
        paused_seconds=3600,
        procedure_code=FEE,
        paid_online=True,
    ),
    # D09: postal, withdrawn 9 Feb (due 12 Feb): withdrawn, not resolved; 766 on time.
    dossier(
        "D09",
        UNIT_A,
        "withdrawn",
        vn("2026-02-05"),
        channel="postal",
        due_at=due("2026-02-12"),
        finished_at=vn("2026-02-09"),
        procedure_code=FREE,
    ),
    # D10: stopped 11 Feb (due 11 Feb): stopped; 766 on time.
    dossier(
        "D10", UNIT_A, "stopped", vn("2026-02-06"), due_at=due("2026-02-11"), finished_at=vn("2026-02-11"), procedure_code=FREE
    ),
    # D11: not accepted: counted nowhere.
    dossier("D11", UNIT_A, "not_accepted", vn("2026-02-09"), procedure_code=FEE),
    # D12: online, processing, due 23 Feb: within and at_risk (23 Feb ≤ first working day from 16 Feb); 766 on time.
    dossier("D12", UNIT_A, "processing", vn("2026-02-10"), channel="online", due_at=due("2026-02-23"), procedure_code=FEE),
    # D13: online, waiting for a second supplement, due 24 Feb: within, not at risk; 766 late (2 supplements).
    dossier(
        "D13",
        UNIT_A,
        "supplement_requested",
        vn("2026-02-11"),
        channel="online",
        due_at=due("2026-02-24"),
        supplement_count=2,
        procedure_code=FEE,
        paid_online=True,
    ),
    # D14: processing, due 13 Feb → overdue; 766 late. Paid online on a free procedure: not in the payment rate.
    dossier("D14", UNIT_A, "processing", vn("2026-02-12"), due_at=due("2026-02-13"), procedure_code=FREE, paid_online=True),
    # D15: resolved on 16 Feb (after the period): in progress at as-of, within (due 24 Feb), not at risk; 766 on time.
    dossier(
        "D15",
        UNIT_A,
        "resolved",
        vn("2026-02-13"),
        due_at=due("2026-02-24"),
        finished_at=vn("2026-02-16", "10:00:00"),
        procedure_code=FREE,
    ),
    # D16: received 17:00:00Z on 15 Feb = 00:00 on 16 Feb local: after the period, counted nowhere.
    dossier("D16", UNIT_A, "processing", "2026-02-15T17:00:00Z", due_at=due("2026-02-27"), procedure_code=FREE),
    # D17: received 16:59:59Z = 23:59:59 on Sun 15 Feb local: in the period; due 16 Feb → within and at_risk.
    dossier("D17", UNIT_A, "processing", "2026-02-15T16:59:59Z", due_at=due("2026-02-16"), procedure_code=FREE),
    # Unit B.
    # D18: no procedure and no due date, resolved 4 Feb → resolved_on_time (no deadline to miss); 1 processing day.
    dossier("D18", UNIT_B, "resolved", vn("2026-02-03"), finished_at=vn("2026-02-04")),
    # D19: no due date, processing → in_progress_within, not at risk; 766 on time.
    dossier("D19", UNIT_B, "processing", vn("2026-02-04")),
    # D20: received Thu 12 Feb, resolved Tue 24 Feb across Tết: in progress at as-of, within, not at risk; 766 on time.
    dossier(
        "D20",
        UNIT_B,
        "resolved",
        vn("2026-02-12", "10:00:00"),
        due_at=due("2026-02-24"),
        finished_at=vn("2026-02-24", "11:00:00"),
        procedure_code=FREE,
    ),
]


def ticket(ticket_id: str, unit: str, status: str, received: str, due_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "unit_code": unit,
        "status": status,
        "received_at": received,
        "due_at": due_at,
        "field": "Hạ tầng đô thị",
        **fields,
    }


MAIN_TICKETS: list[dict[str, Any]] = [
    # T01: answered after 24 h on 3 Feb ≤ due 5 Feb → on time; satisfied.
    ticket("T01", UNIT_A, "answered", vn("2026-02-02"), due("2026-02-05"), answered_at=vn("2026-02-03"), rating="satisfied"),
    # T02: answered 17:00:00Z on 5 Feb = 00:00 on 6 Feb local > due 5 Feb → late; 58 h; unsatisfied.
    ticket(
        "T02",
        UNIT_A,
        "answered",
        "2026-02-03T07:00:00Z",
        due("2026-02-05"),
        answered_at="2026-02-05T17:00:00Z",
        rating="unsatisfied",
    ),
    # T03: answered after 2 h → on time; acceptable (rated, not satisfied).
    ticket(
        "T03",
        UNIT_A,
        "answered",
        "2026-02-04T01:00:00Z",
        due("2026-02-06"),
        answered_at="2026-02-04T03:00:00Z",
        rating="acceptable",
    ),
    # T04: rejected: excluded everywhere even though it carries an answer time.
    ticket("T04", UNIT_A, "rejected", vn("2026-02-09"), due("2026-02-12"), answered_at=vn("2026-02-09", "15:00:00")),
    # T05: open, due 13 Feb < 16 Feb → open_overdue.
    ticket("T05", UNIT_A, "processing", vn("2026-02-10"), due("2026-02-13")),
    # T06: open, due 19 Feb (in Tết) → open_within.
    ticket("T06", UNIT_A, "new", vn("2026-02-12"), due("2026-02-19")),
    # T07: received 30 Jan (before the period), answered 2 Feb 08:00 local after 72 h, on time, no rating.
    ticket(
        "T07",
        UNIT_B,
        "answered",
        "2026-01-30T01:00:00Z",
        due("2026-02-04"),
        answered_at="2026-02-02T01:00:00Z",
    ),
    # T08: received 13 Feb, answered 16 Feb (after the period) → open at as-of, within (due 23 Feb).
    ticket(
        "T08",
        UNIT_B,
        "answered",
        "2026-02-13T02:00:00Z",
        due("2026-02-23"),
        answered_at=vn("2026-02-16", "10:00:00"),
        rating="satisfied",
    ),
    # T09: received and answered in January: counted nowhere.
    ticket("T09", UNIT_B, "answered", vn("2026-01-20"), due("2026-01-23"), answered_at=vn("2026-01-22")),
    # T10: received 00:00 on 16 Feb local: after the period, counted nowhere.
    ticket("T10", UNIT_B, "new", "2026-02-15T17:00:00Z", due("2026-02-20")),
]


def add_procedures(store: Database) -> None:
    """Two test procedures: one with a fee (online payment applies), one free."""
    for code, has_fee in ((FEE, True), (FREE, False)):
        store.execute_write(
            "INSERT INTO procedures (procedure_code, name, sector, level, legal_days, online, has_fee) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [code, f"Thủ tục thử {code}", "Thử nghiệm", "commune", 5, "full", has_fee],
        )


def load(store: Database, dossiers: Sequence[Mapping[str, Any]], tickets: Sequence[Mapping[str, Any]] = ()) -> None:
    add_procedures(store)
    batches = [Batch(DOSSIERS, list(dossiers))]
    if tickets:
        batches.append(Batch(HOTLINE, list(tickets)))
    result = ingest_batches(store, "test", batches)
    assert result.rows_rejected == 0, result.rejects


@pytest.fixture
def main_store(store: Database) -> Database:
    load(store, MAIN_DOSSIERS, MAIN_TICKETS)
    return store


EXPECTED_CITY: dict[str, Any] = {
    "carried_over": 2,  # D01, D02
    "received": 14,  # D05–D10, D12–D15, D17–D20
    "received_online": 5,  # D05, D06, D08, D12, D13
    "received_in_person": 8,  # D07, D10, D14, D15, D17, D18, D19, D20
    "received_postal": 1,  # D09
    "to_process": 16,
    "resolved": 6,  # D02, D05, D06, D07, D08, D18
    "resolved_early": 2,  # D02, D08
    "resolved_on_time": 2,  # D05 (23:59:59 on the due date), D18 (no due date)
    "resolved_late": 2,  # D06 (00:00 the day after), D07
    "withdrawn": 1,  # D09
    "stopped": 1,  # D10
    "in_progress": 8,  # D01, D12, D13, D14, D15, D17, D19, D20
    "in_progress_within": 6,  # D12, D13, D15, D17, D19, D20
    "in_progress_overdue": 2,  # D01, D14
    "at_risk": 2,  # D12 (due 23 Feb), D17 (due 16 Feb)
    "on_time_rate": 4 / 6,
    "late_rate": (2 + 2) / 16,
    "backlog_rate": 2 / 8,
    "throughput_per_day": 6 / 10,
    # processing days sorted 1, 2, 3, 4, 6, 8: median (3 + 4) / 2; p90 at position 0.9 × 5 = 4.5 → 6 + 0.5 × (8 − 6)
    "processing_days_median": 3.5,
    "processing_days_p90": 7.0,
    # on time: D02, D05, D06, D07, D09, D10, D12, D15, D17, D18, D19, D20; late: D01, D08, D13, D14
    "progress_rate_766": 12 / 16,
    "online_rate": 5 / 14,
    # fee-bearing received: D05, D06, D08, D12, D13; paid online: D05, D08, D13
    "online_payment_rate": 3 / 5,
    "digitization_rate": 2 / 6,  # D02, D05
    "hotline_received": 6,  # T01, T02, T03, T05, T06, T08
    "hotline_answered": 4,  # T01, T02, T03, T07
    "hotline_answered_on_time": 3,  # T01, T03, T07
    "hotline_answered_late": 1,  # T02
    "hotline_open": 3,  # T05, T06, T08
    "hotline_open_within": 2,  # T06, T08
    "hotline_open_overdue": 1,  # T05
    "hotline_on_time_rate": 3 / 4,
    "hotline_response_hours_median": (24 + 58) / 2,  # 2, 24, 58, 72 hours
    "hotline_satisfaction_rate": 1 / 3,  # T01 of T01, T02, T03
    "received_with_fee": 5,
    "received_paid_online": 3,
    "resolved_digitized": 2,
    "progress_766_on_time": 12,
    "working_days": 10,
    "hotline_rated": 3,
    "hotline_satisfied": 1,
}

EXPECTED_UNIT_B: dict[str, Any] = {
    "carried_over": 0,
    "received": 3,
    "received_online": 0,
    "received_in_person": 3,
    "to_process": 3,
    "resolved": 1,
    "resolved_on_time": 1,
    "in_progress": 2,
    "in_progress_within": 2,
    "in_progress_overdue": 0,
    "at_risk": 0,
    "on_time_rate": 1.0,
    "late_rate": 0.0,
    "backlog_rate": 0.0,
    "throughput_per_day": 0.1,
    "processing_days_median": 1.0,
    "progress_rate_766": 1.0,
    "online_rate": 0.0,
    "online_payment_rate": None,  # no fee-bearing dossier received: empty denominator
    "digitization_rate": 0.0,
    "hotline_received": 1,  # T08
    "hotline_answered": 1,  # T07
    "hotline_on_time_rate": 1.0,
    "hotline_response_hours_median": 72.0,
    "hotline_satisfaction_rate": None,  # T07 has no rating
    "hotline_open": 1,
}


def assert_figures(actual: Mapping[Any, Any], expected: Mapping[str, Any]) -> None:
    for key, value in expected.items():
        if value is None or isinstance(value, int):
            assert actual[key] == value, key
            if isinstance(value, int):
                assert type(actual[key]) is int, f"{key} should be an int"
        else:
            assert actual[key] == pytest.approx(value), key


def test_city_figures_match_hand_computed_values(main_store: Database) -> None:
    assert_figures(compute(main_store, PERIOD), EXPECTED_CITY)


def test_one_unit_figures(main_store: Database) -> None:
    assert_figures(compute(main_store, PERIOD, UNIT_B), EXPECTED_UNIT_B)


def test_split_counts_add_up(main_store: Database) -> None:
    figures: dict[str, Any] = compute(main_store, PERIOD)
    assert figures["to_process"] == figures["carried_over"] + figures["received"]
    assert figures["received"] == figures["received_online"] + figures["received_in_person"] + figures["received_postal"]
    assert figures["resolved"] == figures["resolved_early"] + figures["resolved_on_time"] + figures["resolved_late"]
    assert figures["in_progress"] == figures["in_progress_within"] + figures["in_progress_overdue"]
    assert figures["to_process"] == figures["resolved"] + figures["withdrawn"] + figures["stopped"] + figures["in_progress"]
    assert figures["hotline_open"] == figures["hotline_open_within"] + figures["hotline_open_overdue"]


def test_by_unit_matches_compute_and_sums_to_city(main_store: Database) -> None:
    frame = compute_by_unit(main_store, PERIOD)
    units = main_store.scalar("SELECT count(*) FROM units")
    assert len(frame) == units == 94
    assert frame.index.name == "unit_code"
    assert {"name", "full_name", "kind"} <= set(frame.columns)
    city = compute(main_store, PERIOD)
    for kpi_id in COUNT_IDS:
        if kpi_id == "working_days":
            continue  # the period's working days, the same for every unit, not a sum
        assert int(frame[kpi_id].sum()) == city[kpi_id], kpi_id
    assert_figures(frame.loc[UNIT_B].to_dict(), EXPECTED_UNIT_B)
    assert frame.loc[UNIT_B, "full_name"] == "Phường Liên Chiểu"
    unit_a = compute(main_store, PERIOD, UNIT_A)
    for kpi_id in OUTPUT_IDS:
        assert frame.loc[UNIT_A, kpi_id] == unit_a[kpi_id], kpi_id


def test_unit_without_data_has_zero_counts_and_null_rates(main_store: Database) -> None:
    frame = compute_by_unit(main_store, PERIOD)
    empty = frame.loc["21004"].to_dict()
    assert empty["received"] == 0 and empty["in_progress"] == 0 and empty["hotline_received"] == 0
    for kpi_id in ("on_time_rate", "late_rate", "backlog_rate", "progress_rate_766", "online_rate", "hotline_on_time_rate"):
        assert empty[kpi_id] is None, kpi_id
    assert empty["processing_days_median"] is None
    assert empty["throughput_per_day"] == 0.0  # 0 resolved over 10 working days is a real zero


def test_every_registered_kpi_is_computed(main_store: Database) -> None:
    figures = compute(main_store, PERIOD)
    frame = compute_by_unit(main_store, PERIOD)
    for kpi_id in REGISTRY:
        assert kpi_id in figures, kpi_id
        assert kpi_id in frame.columns, kpi_id


def test_empty_store_gives_null_rates_never_zero(store: Database) -> None:
    figures = compute(store, PERIOD)
    for kpi_id, kpi in REGISTRY.items():
        if kpi.unit == "count":
            assert figures[kpi_id] == 0, kpi_id
        elif kpi_id != "throughput_per_day":
            assert figures[kpi_id] is None, kpi_id


def test_tet_week_has_no_working_days(main_store: Database) -> None:
    # Mon 16 – Sun 22 Feb 2026: five Tết days off and a weekend.
    figures = compute(main_store, Period(date(2026, 2, 16), date(2026, 2, 23)))
    assert figures["working_days"] == 0
    assert figures["throughput_per_day"] is None  # 0 working days: null, not infinite
    assert figures["resolved"] == 1  # D15, finished 16 Feb (a Tết day)


def test_processing_days_across_tet(main_store: Database) -> None:
    # [16 Feb, 1 Mar): working days 23–27 Feb = 5. Resolved: D15 (13 Feb → 16 Feb: 14, 15, 16 are not
    # working days, so 0) and D20 (12 Feb → 24 Feb: 13, 23, 24 Feb = 3).
    figures = compute(main_store, Period(date(2026, 2, 16), date(2026, 3, 1)))
    assert figures["working_days"] == 5
    assert figures["resolved"] == 2
    assert figures["throughput_per_day"] == pytest.approx(2 / 5)
    assert figures["processing_days_median"] == pytest.approx(1.5)
    assert figures["processing_days_p90"] == pytest.approx(2.7)  # 0 + 0.9 × (3 − 0)
    assert figures["resolved_early"] == 1  # D15: 16 < 24 Feb
    assert figures["resolved_on_time"] == 1  # D20: 24 = 24 Feb
    # What was in progress at the end of the main period is carried over into the next one.
    assert figures["carried_over"] == 8 == compute(main_store, PERIOD)["in_progress"]
    assert figures["received"] == 1  # D16, received at local midnight starting 16 Feb


def test_make_up_saturday_counts_as_working_day(store: Database) -> None:
    # 2025: Sat 26 Apr is worked in exchange for Fri 2 May; 30 Apr, 1 May are holidays.
    load(
        store,
        [
            # Fri 25 Apr → Mon 28 Apr: Sat 26 Apr (worked) and Mon 28 Apr = 2 working days.
            dossier("E1", UNIT_A, "resolved", vn("2025-04-25"), due_at=due("2025-04-28"), finished_at=vn("2025-04-28")),
            # Tue 29 Apr → Mon 5 May: 30/4, 1/5 holidays, 2/5 swapped off, 3–4 weekend: only 5 May = 1.
            dossier("E2", UNIT_A, "resolved", vn("2025-04-29"), due_at=due("2025-05-06"), finished_at=vn("2025-05-05")),
        ],
    )
    # [21 Apr, 5 May): 21–25 Apr (5) + Sat 26 Apr (1) + 28, 29 Apr (2) = 8 working days.
    figures = compute(store, Period(date(2025, 4, 21), date(2025, 5, 6)))
    assert figures["working_days"] == 9  # + Mon 5 May
    assert figures["resolved"] == 2
    assert figures["processing_days_median"] == pytest.approx(1.5)
    assert figures["processing_days_p90"] == pytest.approx(1.9)  # 1 + 0.9 × (2 − 1)
    assert figures["throughput_per_day"] == pytest.approx(2 / 9)
    assert compute(store, Period(date(2025, 4, 21), date(2025, 5, 5)))["working_days"] == 8


def test_at_risk_uses_make_up_saturday_as_next_working_day(store: Database) -> None:
    # to = Sat 26 Apr 2025, itself a working day: at risk means due on 26 Apr exactly.
    load(
        store,
        [
            dossier("R1", UNIT_A, "processing", vn("2025-04-22"), due_at=due("2025-04-26")),
            dossier(
                "R2", UNIT_A, "processing", vn("2025-04-22"), due_at=due("2025-04-28")
            ),  # would be at risk on a normal Saturday
            dossier("R3", UNIT_A, "processing", vn("2025-04-22"), due_at=due("2025-04-25")),  # overdue, never at risk
        ],
    )
    figures = compute(store, Period(date(2025, 4, 21), date(2025, 4, 26)))
    assert figures["in_progress_within"] == 2
    assert figures["in_progress_overdue"] == 1
    assert figures["at_risk"] == 1
    # to = Sun 27 Apr: the next working day is Mon 28 Apr, so R2 (due 28 Apr) is at risk and R1 is overdue.
    later = compute(store, Period(date(2025, 4, 21), date(2025, 4, 27)))
    assert (later["in_progress_within"], later["in_progress_overdue"], later["at_risk"]) == (1, 2, 1)


def test_daily_flow_fills_every_day_and_splits_at_local_midnight(main_store: Database) -> None:
    flow = daily_flow(main_store, date(2026, 2, 2), date(2026, 2, 17))
    assert list(flow.columns) == ["day", "received", "resolved"]
    assert len(flow) == 15
    assert flow["day"].tolist()[0] == date(2026, 2, 2) and flow["day"].tolist()[-1] == date(2026, 2, 16)
    by_day = {row.day: (row.received, row.resolved) for row in flow.itertuples()}
    assert by_day[date(2026, 2, 2)] == (2, 0)  # D05, D06
    assert by_day[date(2026, 2, 3)] == (2, 1)  # D07, D18; D02
    assert by_day[date(2026, 2, 4)] == (2, 1)  # D08, D19; D18
    assert by_day[date(2026, 2, 5)] == (1, 1)  # D09; D05 at 23:59:59
    assert by_day[date(2026, 2, 6)] == (1, 2)  # D10; D06 at 00:00, D08
    assert by_day[date(2026, 2, 9)] == (0, 0)  # D11 not accepted
    assert by_day[date(2026, 2, 13)] == (1, 1)  # D15; D07
    assert by_day[date(2026, 2, 14)] == (0, 0)
    assert by_day[date(2026, 2, 15)] == (1, 0)  # D17 at 23:59:59
    assert by_day[date(2026, 2, 16)] == (1, 1)  # D16 at 00:00; D15
    window = flow[flow["day"] < PERIOD.end]
    city = compute(main_store, PERIOD)
    assert int(window["received"].sum()) == city["received"]
    assert int(window["resolved"].sum()) == city["resolved"]


def test_daily_flow_for_one_unit(main_store: Database) -> None:
    flow = daily_flow(main_store, date(2026, 2, 2), date(2026, 2, 16), UNIT_B)
    assert flow["received"].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert flow["resolved"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert daily_flow(main_store, date(2026, 2, 2), date(2026, 2, 2)).empty
    with pytest.raises(ValueError):
        daily_flow(main_store, date(2026, 2, 3), date(2026, 2, 2))


def test_one_sql_builder_scans_each_table_once() -> None:
    # City, one unit and every unit share one builder; each reads the table in a single pass.
    for builder, table in ((sql_for_dossier_counts, "FROM dossiers"), (sql_for_hotline_counts, "FROM hotline_tickets")):
        city, unit, by_unit = builder(), builder(one_unit=True), builder(by_unit=True)
        for sql in (city, unit, by_unit):
            assert sql.count(table) == 1
        assert "$unit_code" in unit and "$unit_code" not in city
        assert "GROUP BY unit_code" in by_unit and "GROUP BY" not in city
