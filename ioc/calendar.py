"""Vietnamese working days: Monday-Friday, minus public holidays, plus make-up Saturdays, then local overrides."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import holidays
from holidays.countries.vietnam import VietnamStaticHolidays

if TYPE_CHECKING:
    from ioc.db import Database

# Wide enough for the real samples (NYC 311 is from 2011) and deadlines years ahead.
FIRST_YEAR = 2000
LAST_YEAR = 2040


def make_up_working_days(years: Iterable[int]) -> set[date]:
    """Saturdays (or Sundays) the government swapped into working days, from the holidays package's own table.

    The package lists the weekday given off ("Ngày nghỉ (thay cho ngày …)") but not the weekend day
    worked in exchange; its table of swaps holds both, as (month, day, from_month, from_day[, from_year]).
    """
    wanted = set(years)
    worked: set[date] = set()
    table: dict[int, Any] = VietnamStaticHolidays.special_public_holidays
    for year, swaps in table.items():
        entries: tuple[tuple[int, ...], ...] = swaps if isinstance(swaps[0], tuple) else (swaps,)
        for entry in entries:
            if len(entry) < 4:
                continue
            from_month, from_day = entry[2], entry[3]
            from_year = entry[4] if len(entry) > 4 else year
            day = date(int(from_year), int(from_month), int(from_day))
            if day.year in wanted:
                worked.add(day)
    return worked


class WorkingCalendar:
    """Which local dates are working days, and working-day arithmetic on them."""

    def __init__(
        self,
        overrides: Mapping[date, str] | None = None,
        first_year: int = FIRST_YEAR,
        last_year: int = LAST_YEAR,
    ) -> None:
        years = range(first_year, last_year + 1)
        self.first_day = date(first_year, 1, 1)
        self.last_day = date(last_year, 12, 31)
        self.holidays = holidays.country_holidays("VN", years=years)
        self.make_up_days = make_up_working_days(years)
        self.overrides = dict(overrides or {})
        self._working: list[date] = [day for day in self._days() if self._compute_is_working(day)]
        self._working_set = set(self._working)

    def _days(self) -> Iterable[date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)

    def _compute_is_working(self, day: date) -> bool:
        override = self.overrides.get(day)
        if override == "working_day":
            return True
        if override == "day_off":
            return False
        if day in self.make_up_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _check_range(self, day: date) -> None:
        if not self.first_day <= day <= self.last_day:
            raise ValueError(f"{day} is outside the working-day calendar ({self.first_day}..{self.last_day})")

    def is_working_day(self, day: date) -> bool:
        self._check_range(day)
        return day in self._working_set

    def working_days_through(self, day: date) -> int:
        """How many working days fall on or before ``day`` (since the calendar's first day)."""
        self._check_range(day)
        return bisect.bisect_right(self._working, day)

    def working_days_in(self, start: date, end: date) -> int:
        """Working days d with start <= d < end."""
        if end <= start:
            return 0
        return self.working_days_through(end - timedelta(days=1)) - self.working_days_through(start - timedelta(days=1))

    def working_days_after(self, start: date, end: date) -> int:
        """Working days d with start < d <= end: the first day is not counted (Civil Code art. 147)."""
        if end <= start:
            return 0
        return self.working_days_through(end) - self.working_days_through(start)

    def first_working_day_on_or_after(self, day: date) -> date:
        self._check_range(day)
        index = bisect.bisect_left(self._working, day)
        if index >= len(self._working):
            raise ValueError(f"no working day on or after {day} in the working-day calendar")
        return self._working[index]

    def add_working_days(self, start: date, count: int) -> date:
        """The date ``count`` working days after ``start``, the first day not counted; always a working day."""
        if count <= 0:
            return self.first_working_day_on_or_after(start)
        self._check_range(start)
        index = bisect.bisect_right(self._working, start) + count - 1
        if index >= len(self._working):
            raise ValueError(f"{count} working days after {start} is past the working-day calendar's end ({self.last_day})")
        return self._working[index]

    def rows(self) -> list[tuple[date, bool, int]]:
        """(day, is_working, working_days_through) for every day of the calendar."""
        result: list[tuple[date, bool, int]] = []
        count = 0
        for day in self._days():
            working = day in self._working_set
            count += working
            result.append((day, working, count))
        return result


def load_overrides(db: Database) -> dict[date, str]:
    return {day: kind for day, kind in db.execute("SELECT day, kind FROM calendar_overrides")}


def calendar_from_store(db: Database) -> WorkingCalendar:
    """The calendar with the store's local overrides applied."""
    return _calendar_with(frozenset(load_overrides(db).items()))


@functools.lru_cache(maxsize=8)
def _calendar_with(overrides: frozenset[tuple[date, str]]) -> WorkingCalendar:
    # Building one takes about 50 ms (80 years of days) and every ingest run asks for it: same overrides, same calendar.
    return WorkingCalendar(dict(overrides))


def sync_calendar_table(db: Database, calendar: WorkingCalendar | None = None) -> WorkingCalendar:
    """Rebuild ``calendar_days`` (used by KPI SQL) from the package and the store's overrides."""
    calendar = calendar or calendar_from_store(db)
    import pandas as pd

    frame = pd.DataFrame(calendar.rows(), columns=["day", "is_working", "working_days_through"])

    def write(conn):  # type: ignore[no-untyped-def]
        conn.execute("DELETE FROM calendar_days")
        conn.register("calendar_frame", frame)
        try:
            conn.execute("INSERT INTO calendar_days SELECT day, is_working, working_days_through FROM calendar_frame")
        finally:
            conn.unregister("calendar_frame")

    db.execute_write_fn(write, bump_version=False)
    return calendar
