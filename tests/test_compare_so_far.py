"""Today so far against yesterday up to the same time (and month to date likewise), on a hand-computed store."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ioc.db import Database
from ioc.timeutil import local_datetime
from kpis import Period, compute
from kpis.compare import compare, compare_so_far
from kpis.known_at import compute_known_at
from kpis.period import named_period, previous_moment
from tests.test_kpis import MAIN_DOSSIERS, MAIN_TICKETS, PERIOD, UNIT_A, UNIT_B, dossier, due, load, ticket, vn

# Wednesday 18 November 2026, 10:15 in Vietnam (03:15 UTC). Yesterday is Tuesday 17 November; the first
# working day on or after 18 Nov is 18 Nov itself, on or after 19 Nov is Thursday 19 Nov.
NOW = local_datetime(date(2026, 11, 18), 10, 15)
TODAY = date(2026, 11, 18)
CUT = local_datetime(date(2026, 11, 17), 10, 15)  # the same time yesterday

DOSSIERS = [
    # Y1: received yesterday 08:00, still processing → received yesterday before and after the cut.
    dossier("Y1", UNIT_A, "processing", vn("2026-11-17", "08:00:00"), due_at=due("2026-11-24")),
    # Y2: received yesterday 14:00 and resolved 16:00 (early): after the cut, so not there yet at 10:15.
    dossier(
        "Y2", UNIT_A, "resolved", vn("2026-11-17", "14:00:00"), due_at=due("2026-11-20"), finished_at=vn("2026-11-17", "16:00:00")
    ),
    # Y3: resolved yesterday 09:30, late (due 16 Nov): before the cut.
    dossier("Y3", UNIT_A, "resolved", vn("2026-11-10"), due_at=due("2026-11-16"), finished_at=vn("2026-11-17", "09:30:00")),
    # Y4: resolved yesterday 11:00, early (due 20 Nov): at 10:15 still in progress, within its due date.
    dossier("Y4", UNIT_A, "returned", vn("2026-11-10"), due_at=due("2026-11-20"), finished_at=vn("2026-11-17", "11:00:00")),
    # O1: due 17 Nov, resolved today 09:00 (late): overdue at the end of yesterday, resolved today.
    dossier("O1", UNIT_A, "resolved", vn("2026-11-05"), due_at=due("2026-11-17"), finished_at=vn("2026-11-18", "09:00:00")),
    # O2: due 16 Nov, still processing: overdue throughout.
    dossier("O2", UNIT_A, "processing", vn("2026-11-05"), due_at=due("2026-11-16")),
    # A1: due 18 Nov (today): at risk for yesterday's as-of (18 Nov), overdue for today's (19 Nov), DESIGN §4.
    dossier("A1", UNIT_A, "processing", vn("2026-11-12"), due_at=due("2026-11-18")),
    # A2: due 19 Nov: within yesterday, at risk today.
    dossier("A2", UNIT_A, "processing", vn("2026-11-12"), due_at=due("2026-11-19")),
    # T1, T2, T3: received today before 10:15, in progress.
    dossier("T1", UNIT_A, "processing", vn("2026-11-18", "08:00:00"), due_at=due("2026-11-25")),
    dossier("T2", UNIT_A, "accepted", vn("2026-11-18", "09:00:00"), due_at=due("2026-11-25")),
    dossier("T3", UNIT_B, "processing", vn("2026-11-18", "10:00:00"), due_at=due("2026-11-25")),
    # October, for the month: M1 resolved on time 18 Oct 09:00 (before 10:15), M2 late 18 Oct 11:00 (after),
    # M3 on time 10 Oct.
    dossier("M1", UNIT_A, "resolved", vn("2026-10-12"), due_at=due("2026-10-20"), finished_at=vn("2026-10-18", "09:00:00")),
    dossier("M2", UNIT_A, "resolved", vn("2026-10-05"), due_at=due("2026-10-16"), finished_at=vn("2026-10-18", "11:00:00")),
    dossier("M3", UNIT_A, "resolved", vn("2026-10-05"), due_at=due("2026-10-12"), finished_at=vn("2026-10-10")),
]
TICKETS = [
    # H1: received yesterday 08:00, answered 15:00: open (within, due 19 Nov) at 10:15 yesterday, answered by midnight.
    ticket("H1", UNIT_A, "answered", vn("2026-11-17", "08:00:00"), due("2026-11-19"), answered_at=vn("2026-11-17", "15:00:00")),
    # H2: received 16 Nov, due 17 Nov, open: overdue throughout.
    ticket("H2", UNIT_A, "processing", vn("2026-11-16"), due("2026-11-17")),
    # H3: received today 08:00, open within.
    ticket("H3", UNIT_A, "new", vn("2026-11-18", "08:00:00"), due("2026-11-20")),
]

# By hand (city; T3 is the only UNIT_B item):
#                      today (all data)   yesterday at 10:15   all of yesterday
# received             T1 T2 T3 = 3       Y1 = 1               Y1 Y2 = 2
# resolved             O1 = 1 (late)      Y3 = 1 (late)        Y2 Y3 Y4 = 3 (2 early, 1 late)
# in_progress          Y1 O2 A1 A2 T1-3=7 Y1 Y4 O1 O2 A1 A2=6  Y1 O1 O2 A1 A2 = 5
# in_progress_overdue  O2 A1 = 2          O1 O2 = 2            O1 O2 = 2
# at_risk              A2 = 1             A1 = 1               A1 = 1
# hotline_open         H2 H3 = 2          H1 H2 = 2            H2 = 1
# hotline_open_overdue H2 = 1             H2 = 1               H2 = 1
# hotline_received     H3 = 1             H1 = 1               H1 = 1
TODAY_FIGURES = {"received": 3, "resolved": 1, "in_progress": 7, "in_progress_overdue": 2, "at_risk": 1, "hotline_open": 2}
AT_CUT = {
    "received": 1,
    "resolved": 1,
    "resolved_late": 1,
    "in_progress": 6,
    "in_progress_overdue": 2,
    "at_risk": 1,
    "hotline_open": 2,
    "hotline_open_within": 1,
    "hotline_open_overdue": 1,
    "hotline_received": 1,
    "hotline_answered": 0,
}
WHOLE_YESTERDAY = {"received": 2, "resolved": 3, "resolved_early": 2, "in_progress": 5, "hotline_open": 1, "hotline_answered": 1}


@pytest.fixture
def day_store(store: Database) -> Database:
    load(store, DOSSIERS, TICKETS)
    return store


# -- the matching moment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "period, moment, expected",
    [
        # today 10:15 → yesterday 10:15
        (named_period("today", TODAY), NOW, CUT),
        # 00:30 local is 17:30 UTC the day before: still "yesterday at 00:30" in local time
        (
            named_period("today", TODAY),
            datetime(2026, 11, 17, 17, 30, tzinfo=UTC),
            datetime(2026, 11, 16, 17, 30, tzinfo=UTC),
        ),
        # this week so far (Mon 16 – Wed 18) → last Wednesday at the same time
        (named_period("this_week", TODAY), NOW, local_datetime(date(2026, 11, 11), 10, 15)),
        # this month to date → 18 October at the same time
        (named_period("this_month", TODAY), NOW, local_datetime(date(2026, 10, 18), 10, 15)),
        # 28 March matches 28 February; 30 March has no match, so all of February (its end)
        (
            named_period("this_month", date(2026, 3, 28)),
            local_datetime(date(2026, 3, 28), 9),
            local_datetime(date(2026, 2, 28), 9),
        ),
        (
            named_period("this_month", date(2026, 3, 30)),
            local_datetime(date(2026, 3, 30), 9),
            local_datetime(date(2026, 3, 1), 0),
        ),
        # a leap day: 29 February 2024 → 29 January
        (
            named_period("this_month", date(2024, 2, 29)),
            local_datetime(date(2024, 2, 29), 16),
            local_datetime(date(2024, 1, 29), 16),
        ),
        # this quarter (Q4 from 1 Oct) → 18 August
        (named_period("this_quarter", TODAY), NOW, local_datetime(date(2026, 8, 18), 10, 15)),
        # a custom range of 3 days → 3 days earlier
        (Period(date(2026, 11, 16), date(2026, 11, 19)), NOW, local_datetime(date(2026, 11, 15), 10, 15)),
        # a period already over → the previous period whole
        (Period.day(date(2026, 11, 17)), NOW, local_datetime(date(2026, 11, 17), 0)),
    ],
)
def test_previous_moment(period: Period, moment: datetime, expected: datetime) -> None:
    assert previous_moment(period, moment) == expected
    assert previous_moment(period, moment).tzinfo is not None


def test_previous_moment_refuses_a_moment_before_the_period_or_without_zone() -> None:
    with pytest.raises(ValueError):
        previous_moment(Period.day(TODAY), local_datetime(date(2026, 11, 17), 23))
    with pytest.raises(ValueError):
        previous_moment(Period.day(TODAY), datetime(2026, 11, 18, 10, 15))


# -- the store as it stood then -------------------------------------------------------------------------


def test_yesterday_as_it_stood_at_the_same_time(day_store: Database) -> None:
    at_cut = compute_known_at(day_store, Period.day(date(2026, 11, 17)), CUT)
    assert {key: at_cut[key] for key in AT_CUT} == AT_CUT
    assert at_cut["on_time_rate"] == 0.0  # one resolved, late
    whole = compute(day_store, Period.day(date(2026, 11, 17)))
    assert {key: whole[key] for key in WHOLE_YESTERDAY} == WHOLE_YESTERDAY


def test_one_unit_as_it_stood(day_store: Database) -> None:
    today = compute_known_at(day_store, Period.day(TODAY), NOW, UNIT_B)
    assert (today["received"], today["in_progress"]) == (1, 1)  # T3
    earlier = compute_known_at(day_store, Period.day(TODAY), local_datetime(TODAY, 9, 59), UNIT_B)
    assert (earlier["received"], earlier["in_progress"]) == (0, 0)  # T3 came at 10:00


def test_known_after_every_change_is_compute(store: Database) -> None:
    """On the main §4 fixture (Tết, 766, rejected tickets): nothing masked gives exactly compute()."""
    load(store, MAIN_DOSSIERS, MAIN_TICKETS)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert compute_known_at(store, PERIOD, later) == compute(store, PERIOD)
    assert compute_known_at(store, PERIOD, later, UNIT_A) == compute(store, PERIOD, UNIT_A)


# -- the comparisons a wall shows --------------------------------------------------------------------------


def test_today_so_far_against_yesterday_at_the_same_time(day_store: Database) -> None:
    result = compare_so_far(day_store, named_period("today", TODAY), NOW)
    assert result.previous_period == Period.day(date(2026, 11, 17))
    assert result.previous_until == CUT
    figures = result.figures
    assert {key: figures[key].current for key in TODAY_FIGURES} == TODAY_FIGURES
    assert {key: figures[key].previous for key in AT_CUT} == AT_CUT
    # received 3 − 1 (not 3 − 2 against all of yesterday); resolved 1 − 1 (not 1 − 3).
    assert (figures["received"].change, figures["resolved"].change) == (2, 0)
    assert (figures["in_progress_overdue"].change, figures["at_risk"].change) == (0, 0)
    assert (figures["hotline_open"].change, figures["hotline_open_overdue"].change) == (0, 0)
    whole = compare(day_store, named_period("today", TODAY))
    assert (whole.figures["received"].change, whole.figures["resolved"].change) == (1, -2)
    assert whole.figures["hotline_open"].change == 1
    assert whole.previous_until is None


def test_month_to_date_against_last_month_at_the_same_moment(day_store: Database) -> None:
    result = compare_so_far(day_store, named_period("this_month", TODAY), NOW)
    assert result.previous_until == local_datetime(date(2026, 10, 18), 10, 15)
    rate = result.figures["on_time_rate"]
    # November: Y2 Y4 early, Y3 O1 late → 2/4. October to 18 Oct 10:15: M3, M1 on time → 2/2 (M2 came at 11:00).
    assert rate.current == pytest.approx(0.5)
    assert rate.previous == pytest.approx(1.0)
    assert rate.change == pytest.approx(-50.0)
    # Against all of 1–18 October (M2 included): 2/3.
    assert compare(day_store, named_period("this_month", TODAY)).figures["on_time_rate"].previous == pytest.approx(2 / 3)


def test_a_finished_period_is_compared_whole(day_store: Database) -> None:
    yesterday = Period.day(date(2026, 11, 17))
    result = compare_so_far(day_store, yesterday, NOW)
    assert result.previous_until is None
    assert result.figures == compare(day_store, yesterday).figures


def test_current_figures_can_come_from_the_caller(day_store: Database) -> None:
    today = named_period("today", TODAY)
    snapshot = compute(day_store, today)
    assert compare_so_far(day_store, today, NOW, current=snapshot) == compare_so_far(day_store, today, NOW)
