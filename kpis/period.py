"""Reporting periods: half-open ranges of local (Asia/Ho_Chi_Minh) dates, [start, end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ioc.timeutil import local_midnight

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
    """Local dates ``start <= d < end`` (DESIGN §4: period [from, to); as-of is the start of ``end``)."""

    start: date
    end: date

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
        return cls(first, following)

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
        return f"{self.start:%d/%m/%Y} – {self.last_day:%d/%m/%Y}"

    @property
    def label_en(self) -> str:
        if self.days == 1:
            return f"{self.start.day} {MONTHS_EN[self.start.month - 1][:3]} {self.start.year}"
        if self._is_month():
            return f"{MONTHS_EN[self.start.month - 1]} {self.start.year}"
        return f"{self.start.isoformat()} – {self.last_day.isoformat()}"
