"""What wall screens show, computed once per data version: figures with their change, lists, alerts, worst units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

from ioc import cache
from ioc.db import Database
from kpis.alerts import wall_alerts
from kpis.breakdown import hotline_breakdown
from kpis.compare import compare_so_far
from kpis.lists import open_hotline_items, overdue_and_at_risk_dossiers
from kpis.period import named_period
from kpis.ranking import rank_units

# Rows a wall list can show at once; the rest is summed up as "+ N more".
LIST_LIMIT = 60


def _changes(db: Database, today: date, minute: datetime, unit_code: str | None) -> dict[str, Any]:
    """Today so far against yesterday up to the same time, and this month to date against last month up to
    the same day and time (kpis.compare.compare_so_far): a morning wall shows no fall that is only the hour.

    ``until`` holds the matching moment of each (None when a period was compared whole).
    """
    # The current figures are the snapshot's (the tiles show those), computed once per version already.
    base = cache.city_snapshot(db, today) if unit_code is None else cache.unit_snapshot(db, unit_code, today)
    current: dict[str, Any] = base or {}
    day = compare_so_far(db, named_period("today", today), minute, unit_code, current.get("day"))
    month = compare_so_far(db, named_period("this_month", today), minute, unit_code, current.get("month"))
    return {
        "day": {kpi_id: change.change for kpi_id, change in day.figures.items()},
        "month": {kpi_id: change.change for kpi_id, change in month.figures.items()},
        "until": {"day": day.previous_until, "month": month.previous_until},
    }


def wall_changes(db: Database, today: date, now: datetime, unit_code: str | None) -> dict[str, Any]:
    """``_changes`` once per data version and minute: the previous side moves with the clock, not only with the data."""
    return cache.cached(db, _changes, today, _minute(now), unit_code)


def _minute(now: datetime) -> datetime:
    # Screens poll every few seconds: rounded to the minute, they share one computation per minute.
    return now.replace(second=0, microsecond=0)


def _hotline_fields(db: Database, today: date, unit_code: str | None) -> pd.DataFrame:
    """Every field with open hotline items, most first: the wall shows what its panel holds and counts the rest."""
    frame = hotline_breakdown(db, cache.month_to_date(today), "field", unit_code)
    frame = frame[frame["hotline_open"] > 0].sort_values(["hotline_open", "label"], ascending=[False, True])
    return frame.reset_index(drop=True)


def _alerts(db: Database, today: date, minute: datetime) -> dict[str, list[dict[str, Any]]]:
    # At-risk is as-of the end of today whatever the period: the month frame serves.
    return wall_alerts(db, cache.ranking_frame(db, today), minute)


def alerts_now(db: Database, today: date, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The alert strip's units (kpis.alerts.wall_alerts): overdue now, and at-risk spikes; once per version and minute."""
    return cache.cached(db, _alerts, today, _minute(now))


def _city_wall(db: Database, today: date) -> dict[str, Any]:
    snapshot = dict(cache.city_snapshot(db, today))
    snapshot["hotline_fields"] = _hotline_fields(db, today, None)
    return snapshot


def _unit_wall(db: Database, unit_code: str, today: date, now: datetime) -> dict[str, Any] | None:
    base = cache.unit_snapshot(db, unit_code, today)
    if base is None:
        return None
    snapshot = dict(base)
    snapshot["hotline_fields"] = _hotline_fields(db, today, unit_code)
    snapshot["ranking"] = cache.ranking_frame(db, today)
    snapshot["dossiers"] = overdue_and_at_risk_dossiers(db, unit_code, today, LIST_LIMIT)
    snapshot["hotline"] = open_hotline_items(db, unit_code, now, LIST_LIMIT)
    snapshot["alerts"] = {
        key: [item for item in items if item["unit_code"] == unit_code] for key, items in alerts_now(db, today, now).items()
    }
    return snapshot


def city_wall(db: Database, today: date, now: datetime) -> dict[str, Any]:
    """city_snapshot plus the changes against the previous periods up to now's time, hotline by field and the
    alert strip's units as of now."""
    return {
        **cache.cached(db, _city_wall, today),
        "changes": wall_changes(db, today, now, None),
        "alerts": alerts_now(db, today, now),
    }


def unit_wall(db: Database, unit_code: str, today: date, now: datetime) -> dict[str, Any] | None:
    """unit_snapshot plus the changes up to now's time, hotline by field, the unit's overdue/at-risk dossiers and open hotline items.

    ``now`` ages the hotline items and sets the time of day the changes compare at; it is rounded to the
    minute so a screen polling every few seconds still hits the cache.
    """
    snapshot = cache.cached(db, _unit_wall, unit_code, today, _minute(now))
    return None if snapshot is None else {**snapshot, "changes": wall_changes(db, today, now, unit_code)}


def _worst_units(db: Database, today: date, kpi_id: str, count: int) -> list[str]:
    ranking = rank_units(db, cache.month_to_date(today), kpi_id, by_unit=cache.ranking_frame(db, today))
    return [str(code) for code in list(ranking.ranked["unit_code"])[::-1][:count]]


def worst_units(db: Database, today: date, kpi_id: str, count: int) -> list[str]:
    """The ``count`` worst-ranked unit codes by ``kpi_id`` this month, worst first (units with too little data
    are never picked: they are not ranked). Raises ValueError for a KPI that cannot rank."""
    return cache.cached(db, _worst_units, today, kpi_id, count)
