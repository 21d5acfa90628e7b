"""Working days: weekends, holidays (Tết by the lunar calendar), make-up Saturdays and local overrides."""

from __future__ import annotations

from datetime import date

import pytest

from ioc.calendar import WorkingCalendar, calendar_from_store, sync_calendar_table
from ioc.db import Database

CALENDAR = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Tết 2026
        (date(2026, 2, 16), False),  # Tết 2026: 16-20 Feb off for civil servants
        (date(2026, 2, 20), False),
        (date(2026, 2, 23), True),  # back to work
        (date(2025, 1, 27), False),  # Tết 2025
        (date(2025, 4, 26), True),  # make-up working Saturday for Friday 2 May 2025
        (date(2025, 5, 2), False),
        (date(2026, 8, 22), True),  # make-up Saturday for Monday 31 Aug 2026
        (date(2026, 8, 31), False),
        (date(2026, 4, 27), False),  # Giỗ Tổ fell on Sunday 26 Apr 2026: observed Monday
        (date(2026, 9, 2), False),
        (date(2026, 11, 21), False),  # an ordinary Saturday
        (date(2026, 11, 24), False),  # Ngày Văn hóa Việt Nam, from 2026
    ],
)
def test_working_days_follow_the_official_calendar(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


def test_counting_skips_tet_and_starts_the_day_after() -> None:
    # Received Thu 12 Feb 2026; working days after it: Fri 13, then Tết and weekends, then Mon 23, Tue 24.
    assert CALENDAR.add_working_days(date(2026, 2, 12), 1) == date(2026, 2, 13)
    assert CALENDAR.add_working_days(date(2026, 2, 12), 3) == date(2026, 2, 24)
    assert CALENDAR.working_days_after(date(2026, 2, 12), date(2026, 2, 24)) == 3
    assert CALENDAR.working_days_in(date(2026, 2, 1), date(2026, 3, 1)) == 15


def test_a_due_date_lands_on_a_working_day_and_counts_the_make_up_saturday() -> None:
    # Received Thu 24 Apr 2025: Fri 25, Sat 26 (make-up), Mon 28, Tue 29, then 30/4-2/5 off, Mon 5 May.
    assert CALENDAR.add_working_days(date(2025, 4, 24), 2) == date(2025, 4, 26)
    assert CALENDAR.add_working_days(date(2025, 4, 24), 5) == date(2025, 5, 5)
    # Received on a Sunday with zero days: the first working day on or after it.
    assert CALENDAR.add_working_days(date(2026, 11, 22), 0) == date(2026, 11, 23)


def test_local_overrides_in_the_store_change_the_calendar(store: Database) -> None:
    store.execute_write(
        "INSERT INTO calendar_overrides VALUES ('2026-12-31', 'day_off', 'quyết định của UBND'), ('2026-11-21', 'working_day', NULL)"
    )
    calendar = sync_calendar_table(store, calendar_from_store(store))
    assert not calendar.is_working_day(date(2026, 12, 31))
    assert calendar.is_working_day(date(2026, 11, 21))
    stored = dict(store.execute("SELECT day, is_working FROM calendar_days WHERE day IN ('2026-12-31', '2026-11-21')"))
    assert stored == {date(2026, 12, 31): False, date(2026, 11, 21): True}


def test_calendar_table_counts_working_days_cumulatively(store: Database) -> None:
    through = dict(store.execute("SELECT day, working_days_through FROM calendar_days WHERE day IN ('2026-02-12', '2026-02-24')"))
    assert through[date(2026, 2, 24)] - through[date(2026, 2, 12)] == 3


def test_dates_outside_the_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the working-day calendar"):
        CALENDAR.is_working_day(date(1990, 1, 1))
    with pytest.raises(ValueError, match="outside the working-day calendar"):
        CALENDAR.add_working_days(date(1999, 12, 30), 3)
    with pytest.raises(ValueError, match="past the working-day calendar"):
        CALENDAR.add_working_days(date(2040, 12, 28), 10)
