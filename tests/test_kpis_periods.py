"""Named periods, the period before (month ends, weeks, quarters, leap years) and compare() on a hand fixture."""

from __future__ import annotations

from datetime import date

import pytest

from ioc.db import Database
from kpis.compare import change_of, compare
from kpis.period import PERIOD_NAMES, Period, kind_of, named_period, previous_period, shift_months
from tests.test_kpis import UNIT_A, UNIT_B, dossier, due, load, vn


def test_named_periods_on_a_leap_day() -> None:
    today = date(2024, 2, 29)  # a Thursday
    expected = {
        "today": (date(2024, 2, 29), date(2024, 3, 1), "day"),
        "this_week": (date(2024, 2, 26), date(2024, 3, 1), "week"),  # Monday to today
        "this_month": (date(2024, 2, 1), date(2024, 3, 1), "month"),
        "last_month": (date(2024, 1, 1), date(2024, 2, 1), "month"),
        "this_quarter": (date(2024, 1, 1), date(2024, 3, 1), "quarter"),
        "this_year": (date(2024, 1, 1), date(2024, 3, 1), "year"),
    }
    for name, (start, end, kind) in expected.items():
        period = named_period(name, today)
        assert (period.start, period.end, kind_of(period)) == (start, end, kind), name
    assert set(PERIOD_NAMES) == {*expected, "custom"}


def test_named_periods_never_end_after_today() -> None:
    # As-of is the end of the period (DESIGN §4): "this month" on the 22nd stops after the 22nd.
    today = date(2025, 11, 22)
    for name in PERIOD_NAMES:
        if name != "custom":
            assert named_period(name, today).end <= date(2025, 11, 23), name
    assert named_period("last_month", date(2026, 1, 15)) == Period(date(2025, 12, 1), date(2026, 1, 1))
    assert named_period("this_week", date(2026, 1, 4)) == Period(date(2025, 12, 29), date(2026, 1, 5))  # Sunday


def test_custom_and_unknown_names() -> None:
    custom = named_period("custom", date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 20))
    assert custom == Period(date(2026, 1, 10), date(2026, 1, 20)) and custom.kind == "custom"
    with pytest.raises(ValueError):
        named_period("custom", date(2026, 1, 1))
    with pytest.raises(ValueError):
        named_period("next_month", date(2026, 1, 1))


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        # Whole months: the whole previous month, across a year end and into a leap February.
        (Period(date(2024, 3, 1), date(2024, 4, 1)), Period(date(2024, 2, 1), date(2024, 3, 1))),
        (Period(date(2025, 3, 1), date(2025, 4, 1)), Period(date(2025, 2, 1), date(2025, 3, 1))),
        (Period(date(2026, 1, 1), date(2026, 2, 1)), Period(date(2025, 12, 1), date(2026, 1, 1))),
        (Period(date(2024, 5, 1), date(2024, 6, 1)), Period(date(2024, 4, 1), date(2024, 5, 1))),
        # Month to date: the same days of the previous month; a day it lacks is clamped to its end.
        (Period(date(2025, 11, 1), date(2025, 11, 23), "month"), Period(date(2025, 10, 1), date(2025, 10, 23))),
        (Period(date(2025, 3, 1), date(2025, 3, 31), "month"), Period(date(2025, 2, 1), date(2025, 3, 1))),
        (Period(date(2024, 3, 1), date(2024, 3, 30), "month"), Period(date(2024, 2, 1), date(2024, 3, 1))),
        (Period(date(2024, 3, 1), date(2024, 3, 29), "month"), Period(date(2024, 2, 1), date(2024, 2, 29))),
        (Period(date(2025, 3, 1), date(2025, 3, 29), "month"), Period(date(2025, 2, 1), date(2025, 3, 1))),
        # Weeks (Monday–Sunday), whole and to date, across a year end.
        (Period(date(2025, 12, 29), date(2026, 1, 5)), Period(date(2025, 12, 22), date(2025, 12, 29))),
        (Period(date(2026, 1, 5), date(2026, 1, 8), "week"), Period(date(2025, 12, 29), date(2026, 1, 1))),
        # Quarters.
        (Period(date(2026, 1, 1), date(2026, 4, 1)), Period(date(2025, 10, 1), date(2026, 1, 1))),
        (Period(date(2024, 7, 1), date(2024, 10, 1)), Period(date(2024, 4, 1), date(2024, 7, 1))),
        (Period(date(2026, 4, 1), date(2026, 5, 16), "quarter"), Period(date(2026, 1, 1), date(2026, 2, 16))),
        # Years: 2024 has 366 days, 2025 365; year to date ending on a leap day.
        (Period(date(2025, 1, 1), date(2026, 1, 1)), Period(date(2024, 1, 1), date(2025, 1, 1))),
        (Period(date(2024, 1, 1), date(2025, 1, 1)), Period(date(2023, 1, 1), date(2024, 1, 1))),
        (Period(date(2024, 1, 1), date(2024, 3, 1), "year"), Period(date(2023, 1, 1), date(2023, 3, 1))),
        # Days, including the leap day.
        (Period(date(2024, 3, 1), date(2024, 3, 2)), Period(date(2024, 2, 29), date(2024, 3, 1))),
        # Custom: the same number of days just before, even when it starts on the 1st.
        (Period(date(2026, 1, 10), date(2026, 1, 20)), Period(date(2025, 12, 31), date(2026, 1, 10))),
        (Period(date(2026, 1, 1), date(2026, 1, 11), "custom"), Period(date(2025, 12, 22), date(2026, 1, 1))),
        (Period(date(2024, 2, 20), date(2024, 3, 5)), Period(date(2024, 2, 6), date(2024, 2, 20))),
    ],
)
def test_previous_period(period: Period, expected: Period) -> None:
    assert previous_period(period) == expected


def test_previous_period_keeps_its_kind_and_lengths() -> None:
    year_2024 = Period(date(2024, 1, 1), date(2025, 1, 1))
    assert (year_2024.days, previous_period(year_2024).days) == (366, 365)
    march = Period.month_of(date(2024, 3, 15))
    feb = previous_period(march)
    assert (feb.days, feb.kind) == (29, "month")
    assert previous_period(feb) == Period(date(2024, 1, 1), date(2024, 2, 1))
    week = named_period("this_week", date(2026, 1, 7))  # Mon 5 – Wed 7 Jan
    assert previous_period(previous_period(week)) == Period(date(2025, 12, 22), date(2025, 12, 25))


def test_kind_is_inferred_from_whole_calendar_units_and_ignored_by_equality() -> None:
    assert kind_of(Period(date(2026, 2, 1), date(2026, 3, 1))) == "month"
    assert kind_of(Period(date(2026, 2, 2), date(2026, 2, 9))) == "week"
    assert kind_of(Period(date(2026, 2, 3), date(2026, 2, 10))) == "custom"  # Tuesday to Monday
    assert kind_of(Period(date(2026, 4, 1), date(2026, 7, 1))) == "quarter"
    assert kind_of(Period(date(2026, 2, 1), date(2026, 5, 1))) == "custom"  # three months, not a quarter
    assert kind_of(Period(date(2026, 1, 1), date(2027, 1, 1))) == "year"
    assert Period(date(2026, 2, 1), date(2026, 3, 1), "month") == Period(date(2026, 2, 1), date(2026, 3, 1))
    assert Period.quarter_of(date(2026, 11, 30)) == Period(date(2026, 10, 1), date(2027, 1, 1))
    assert Period.quarter_of(date(2026, 5, 5)).label_vi == "Quý 2/2026"
    assert Period.year_of(date(2026, 5, 5)).label_vi == "Năm 2026"
    assert Period.week_of(date(2026, 2, 8)) == Period(date(2026, 2, 2), date(2026, 2, 9))


def test_shift_months_clamps_to_month_length() -> None:
    assert shift_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert shift_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert shift_months(date(2024, 2, 29), -12) == date(2023, 2, 28)
    assert shift_months(date(2026, 1, 15), -3) == date(2025, 10, 15)
    assert shift_months(date(2025, 11, 30), 3) == date(2026, 2, 28)


def test_change_units() -> None:
    assert change_of("received", 2, 4) == -2
    assert change_of("on_time_rate", 1.0, 0.75) == pytest.approx(25.0)  # percentage points
    assert change_of("on_time_rate", None, 0.75) is None
    assert change_of("processing_days_median", 2.5, 3.5) == pytest.approx(-1.0)


# January and February 2026 for one unit, all received and resolved inside their month.
# January: J1 early (due 9, done 8), J2 on the due date (12), J3 early, J4 late (due 16, done 20).
#   received 4, resolved 4, on time 3/4, late_rate 1/4.
#   Processing days (working days after the received date up to the finished date):
#   J1 5→8 Jan: 6, 7, 8 = 3; J2 6→12: 7, 8, 9, 12 = 4; J3 12→14: 13, 14 = 2; J4 13→20: 14, 15, 16, 19, 20 = 5.
#   Median (3 + 4) / 2 = 3.5.
# February: F1 early (due 5, done 4), F2 on the due date (6). received 2, resolved 2, on time 1.0,
#   late_rate 0; processing days F1 2→4: 3, 4 = 2; F2 3→6: 4, 5, 6 = 3; median 2.5.
MONTHS = [
    dossier("J1", UNIT_A, "resolved", vn("2026-01-05"), due_at=due("2026-01-09"), finished_at=vn("2026-01-08")),
    dossier("J2", UNIT_A, "resolved", vn("2026-01-06"), due_at=due("2026-01-12"), finished_at=vn("2026-01-12")),
    dossier("J3", UNIT_A, "resolved", vn("2026-01-12"), due_at=due("2026-01-15"), finished_at=vn("2026-01-14")),
    dossier("J4", UNIT_A, "resolved", vn("2026-01-13"), due_at=due("2026-01-16"), finished_at=vn("2026-01-20")),
    dossier("F1", UNIT_A, "resolved", vn("2026-02-02"), due_at=due("2026-02-05"), finished_at=vn("2026-02-04")),
    dossier("F2", UNIT_A, "returned", vn("2026-02-03"), due_at=due("2026-02-06"), finished_at=vn("2026-02-06")),
]


def test_compare_february_with_january(store: Database) -> None:
    load(store, MONTHS)
    result = compare(store, Period.month_of(date(2026, 2, 10)))
    assert result.previous_period == Period(date(2026, 1, 1), date(2026, 2, 1))
    figures = result.figures
    assert (figures["received"].current, figures["received"].previous, figures["received"].change) == (2, 4, -2)
    assert figures["resolved"].change == -2 and figures["resolved"].change_unit == "count"
    assert figures["on_time_rate"].current == 1.0
    assert figures["on_time_rate"].previous == pytest.approx(0.75)
    assert figures["on_time_rate"].change == pytest.approx(25.0)
    assert figures["on_time_rate"].change_unit == "percentage_points"
    assert figures["late_rate"].change == pytest.approx(-25.0)
    assert figures["processing_days_median"].current == pytest.approx(2.5)
    assert figures["processing_days_median"].previous == pytest.approx(3.5)
    assert figures["processing_days_median"].change == pytest.approx(-1.0)
    assert figures["processing_days_median"].change_unit == "days"
    # No tickets either month: both rates null, so no change either (never 0).
    assert figures["hotline_on_time_rate"].change is None
    frame = result.to_frame()
    assert frame.loc["received", "change"] == -2
    assert frame.loc["hotline_on_time_rate", "change"] is None


def test_compare_one_unit_without_data(store: Database) -> None:
    load(store, MONTHS)
    result = compare(store, Period.month_of(date(2026, 2, 10)), UNIT_B)
    assert result.unit_code == UNIT_B
    assert result.figures["received"].change == 0
    assert result.figures["on_time_rate"].current is None and result.figures["on_time_rate"].change is None
