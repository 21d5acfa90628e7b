"""Local time for Vietnam: every date boundary is evaluated in Asia/Ho_Chi_Minh, timestamps stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from ioc.config import LOCAL_TIMEZONE

LOCAL_TZ = ZoneInfo(LOCAL_TIMEZONE)


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The calendar date in Vietnam of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone before asking for its local date")
    return moment.astimezone(LOCAL_TZ).date()


def local_today() -> date:
    return local_date(now_utc())


def local_midnight(day: date) -> datetime:
    """The aware UTC instant at which the local day ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def local_datetime(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An aware UTC instant for a local wall-clock time on ``day``."""
    return datetime.combine(day, time(hour, minute, second), tzinfo=LOCAL_TZ).astimezone(UTC)
