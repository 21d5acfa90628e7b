"""Reporting periods: half-open ranges of local (Asia/Ho_Chi_Minh) dates, [start, end)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from ioc.timeutil import LOCAL_TZ, local_midnight

PeriodKind = Literal["day", "week", "month", "quarter", "year", "custom"]
"""What a period is a slice of; decides what "the period before" means (see ``previous_period``)."""

PeriodName = Literal["today", "this_week", "this_month", "last_month", "this_quarter", "this_year", "custom"]
PERIOD_NAMES: tuple[str, ...] = get_args(PeriodName)
"""The named periods of issue 3, in the order a period picker lists them."""

# How many months back "the period before" is, for the kinds that follow the calendar.
_MONTHS_IN: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}

MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Period:
    """Local dates ``start <= d < end`` (DESIGN §4: period [from, to); as-of is the start of ``end``).

    ``kind`` says what the period is a slice of (a week, a month, …) when the shape alone cannot:
    "this month" on the 22nd is 1–22 November, which looks like any custom range. It is ignored by
    ``==`` and ``hash`` (two periods with the same dates are the same figures); None means "infer
    from the dates" (see ``kind_of``).
    """

    start: date
    end: date
    kind: PeriodKind | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # datetime is a subclass of date; a datetime here would silently carry a time and a zone.
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, date) or isinstance(value, datetime):
                raise TypeError(f"Period.{name} must be a date, not {type(value).__name__}")
        if not self.start < self.end:
            raise ValueError(f"Period start {self.start} must be before its end {self.end} (the end is excluded)")

    @classmethod
    def day(cls, day: date) -> Period:
        """The single local day ``day``."""
        return cls(day, day + timedelta(days=1))

    @classmethod
    def month_of(cls, day: date) -> Period:
        """The calendar month that contains ``day``."""
        first = day.replace(day=1)
        following = date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
        return cls(first, following, "month")

    @classmethod
    def week_of(cls, day: date) -> Period:
        """The Monday–Sunday week that contains ``day``."""
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=7), "week")

    @classmethod
    def quarter_of(cls, day: date) -> Period:
        """The calendar quarter (Jan–Mar, Apr–Jun, Jul–Sep, Oct–Dec) that contains ``day``."""
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return cls(first, shift_months(first, 3), "quarter")

    @classmethod
    def year_of(cls, day: date) -> Period:
        """The calendar year that contains ``day``."""
        return cls(date(day.year, 1, 1), date(day.year + 1, 1, 1), "year")

    @classmethod
    def last_n_days(cls, today: date, n: int) -> Period:
        """The ``n`` days ending with ``today`` included: [today − n + 1, today + 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        return cls(today - timedelta(days=n - 1), today + timedelta(days=1))

    @property
    def days(self) -> int:
        """Number of calendar days in the period."""
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        """The last local day inside the period (``end`` − 1 day)."""
        return self.end - timedelta(days=1)

    @property
    def start_instant(self) -> datetime:
        """The UTC instant the period begins (local midnight of ``start``)."""
        return local_midnight(self.start)

    @property
    def end_instant(self) -> datetime:
        """The UTC instant the period ends: the as-of moment of DESIGN §4."""
        return local_midnight(self.end)

    def _is_month(self) -> bool:
        return self.start.day == 1 and Period.month_of(self.start) == self

    @property
    def label_vi(self) -> str:
        if self.days == 1:
            return f"Ngày {self.start:%d/%m/%Y}"
        if self._is_month():
            return f"Tháng {self.start.month}/{self.start.year}"
        if _full_kind(self) == "quarter":
            return f"Quý {(self.start.month - 1) // 3 + 1}/{self.start.year}"
        if _full_kind(self) == "year":
            return f"Năm {self.start.year}"
        return f"{self.start:%d/%m/%Y} – {self.last_day:%d/%m/%Y}"

    @property
    def label_en(self) -> str:
        if self.days == 1:
            return f"{self.start.day} {MONTHS_EN[self.start.month - 1][:3]} {self.start.year}"
        if self._is_month():
            return f"{MONTHS_EN[self.start.month - 1]} {self.start.year}"
        if _full_kind(self) == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if _full_kind(self) == "year":
            return f"Year {self.start.year}"
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"


def shift_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, the day of month clamped to the target month's length.

    31 March − 1 month is 28 February (29 in a leap year), never an error and never 3 March.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _full_kind(period: Period) -> PeriodKind | None:
    """The calendar unit the period covers exactly (a whole day, Mon–Sun week, month, quarter, year), or None."""
    if period.days == 1:
        return "day"
    if period.start.weekday() == 0 and period.days == 7:
        return "week"
    if period.start.day != 1:
        return None
    if period.end == shift_months(period.start, 1):
        return "month"
    if period.start.month % 3 == 1 and period.end == shift_months(period.start, 3):
        return "quarter"
    if period.start.month == 1 and period.end == shift_months(period.start, 12):
        return "year"
    return None


def kind_of(period: Period) -> PeriodKind:
    """The period's declared kind, else the calendar unit its dates cover exactly, else "custom"."""
    return period.kind or _full_kind(period) or "custom"


def named_period(name: str, today: date, start: date | None = None, end: date | None = None) -> Period:
    """A named period as of the local date ``today`` (issue 3: today, this week, …, custom).

    "this_week", "this_month", "this_quarter" and "this_year" run from the start of the current
    Mon–Sun week, month, quarter or year up to and including ``today``, not to the end of the
    calendar unit: DESIGN §4 evaluates in-progress and overdue at the period's end, and a future
    as-of would call dossiers overdue that are not (ioc.cache's month-to-date follows the same
    rule). "last_month" is the whole previous calendar month. "custom" needs ``start`` and ``end``
    ([start, end), end excluded).
    """
    tomorrow = today + timedelta(days=1)
    if name == "today":
        return Period(today, tomorrow, "day")
    if name == "this_week":
        return Period(Period.week_of(today).start, tomorrow, "week")
    if name == "this_month":
        return Period(today.replace(day=1), tomorrow, "month")
    if name == "last_month":
        return Period.month_of(shift_months(today.replace(day=1), -1))
    if name == "this_quarter":
        return Period(Period.quarter_of(today).start, tomorrow, "quarter")
    if name == "this_year":
        return Period(date(today.year, 1, 1), tomorrow, "year")
    if name == "custom":
        if start is None or end is None:
            raise ValueError("a custom period needs a start and an end")
        return Period(start, end, "custom")
    raise ValueError(f"unknown period name {name!r}; expected one of {', '.join(PERIOD_NAMES)}")


def previous_period(period: Period) -> Period:
    """The period of the same kind just before ``period``, to compare a figure with.

    - day: the day before; week: the same days one week earlier (a whole week gives the whole
      previous week, Monday to Wednesday gives last Monday to Wednesday);
    - month, quarter, year: a whole one gives the whole previous one (March → all of February,
      Q1 2026 → Q4 2025, 2025 → all of 2024); a part of one
      (month to date) gives the same part of the previous one, like for like: 1–22 November →
      1–22 October, and a last day that the previous month lacks is clamped to its end
      (1–30 March → all of February);
    - custom: the same number of days immediately before ([start − days, start)).
    The result keeps the kind, so ``previous_period`` can be applied again.
    """
    kind = kind_of(period)
    if kind == "day":
        return Period(period.start - timedelta(days=1), period.start, "day")
    if kind == "week":
        return Period(period.start - timedelta(days=7), period.end - timedelta(days=7), "week")
    if kind in _MONTHS_IN:
        months = _MONTHS_IN[kind]
        start = shift_months(period.start, -months)
        if period.end == shift_months(period.start, months):
            return Period(start, period.start, kind)
        end = min(shift_months(period.last_day, -months) + timedelta(days=1), period.start)
        return Period(start, end, kind)
    return Period(period.start - timedelta(days=period.days), period.start, "custom")


def previous_moment(period: Period, moment: datetime) -> datetime:
    """The instant of ``previous_period(period)`` that matches ``moment``, for a like-for-like "so far" comparison.

    ``moment`` (aware) lies in the period, usually on its last day ("today so far"). The match is the
    same local (Asia/Ho_Chi_Minh) time of day on the matching day of the previous period: the day
    before for a day, the same weekday a week earlier for a week, the same day of the month
    ``months`` earlier for a month, quarter or year, ``days`` days earlier for a custom range. So
    today at 10:15 matches yesterday at 10:15, and 22 November at 10:15 matches 22 October at 10:15.
    Where previous_period took the whole previous period because that day does not exist there
    (30 March → all of February), the match is the previous period's end, as it is for a ``moment``
    at or after the period's end (a finished period is compared whole with a whole one).
    Raises ValueError for a naive ``moment`` or one before the period starts.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone to the moment")
    previous = previous_period(period)
    if moment >= period.end_instant:
        return previous.end_instant
    if moment < period.start_instant:
        raise ValueError(f"{moment.isoformat()} is before the period {period.start} – {period.last_day} starts")
    local = moment.astimezone(LOCAL_TZ)
    kind = kind_of(period)
    if kind in _MONTHS_IN:
        day = shift_months(local.date(), -_MONTHS_IN[kind])
        if day.day != local.day:
            return previous.end_instant  # clamped: the day has no match, the previous period is whole
    else:
        day = local.date() - timedelta(days={"day": 1, "week": 7}.get(kind, period.days))
    matched = datetime.combine(day, local.time(), tzinfo=LOCAL_TZ).astimezone(UTC)
    return min(max(matched, previous.start_instant), previous.end_instant)
