"""What wall screens show, computed once per data version: figures with their change, lists, alerts, worst units."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

from ioc import cache
from ioc.db import Database
from kpis import Period
from kpis.breakdown import hotline_breakdown
from kpis.compare import compare
from kpis.lists import alert_units, open_hotline_items, overdue_and_at_risk_dossiers
from kpis.ranking import rank_units

# Rows a wall list can show at once; the rest is summed up as "+ N more".
LIST_LIMIT = 60
HOTLINE_FIELDS_SHOWN = 7


def _changes(db: Database, today: date, unit_code: str | None) -> dict[str, Any]:
    """Today against yesterday, and this month to date against the same days of last month."""
    day = compare(db, Period.day(today), unit_code)
    month = compare(db, cache.month_to_date(today), unit_code)
    return {
        "day": {kpi_id: change.change for kpi_id, change in day.figures.items()},
        "month": {kpi_id: change.change for kpi_id, change in month.figures.items()},
    }


def _hotline_fields(db: Database, today: date, unit_code: str | None) -> pd.DataFrame:
    frame = hotline_breakdown(db, cache.month_to_date(today), "field", unit_code)
    frame = frame[frame["hotline_open"] > 0].sort_values(["hotline_open", "label"], ascending=[False, True])
    return frame.head(HOTLINE_FIELDS_SHOWN).reset_index(drop=True)


def _city_wall(db: Database, today: date) -> dict[str, Any]:
    snapshot = dict(cache.city_snapshot(db, today))
    snapshot["changes"] = _changes(db, today, None)
    snapshot["hotline_fields"] = _hotline_fields(db, today, None)
    # In-progress, overdue and at-risk are as-of the end of today whatever the period: the month frame serves.
    snapshot["alerts"] = alert_units(snapshot["ranking"])
    return snapshot


def _unit_wall(db: Database, unit_code: str, today: date, now: datetime) -> dict[str, Any] | None:
    base = cache.unit_snapshot(db, unit_code, today)
    if base is None:
        return None
    snapshot = dict(base)
    snapshot["changes"] = _changes(db, today, unit_code)
    snapshot["hotline_fields"] = _hotline_fields(db, today, unit_code)
    snapshot["ranking"] = cache.ranking_frame(db, today)
    snapshot["dossiers"] = overdue_and_at_risk_dossiers(db, unit_code, today, LIST_LIMIT)
    snapshot["hotline"] = open_hotline_items(db, unit_code, now, LIST_LIMIT)
    snapshot["alerts"] = {
        key: [item for item in items if item["unit_code"] == unit_code] for key, items in alert_units(snapshot["ranking"]).items()
    }
    return snapshot


def city_wall(db: Database, today: date) -> dict[str, Any]:
    """city_snapshot plus the changes against the previous periods, hotline by field and the alert lists."""
    return cache.cached(db, _city_wall, today)


def unit_wall(db: Database, unit_code: str, today: date, now: datetime) -> dict[str, Any] | None:
    """unit_snapshot plus changes, hotline by field, the unit's overdue/at-risk dossiers and open hotline items.

    ``now`` only ages the hotline items; it is rounded to the minute so a screen polling every few
    seconds still hits the cache.
    """
    minute = now.replace(second=0, microsecond=0)
    return cache.cached(db, _unit_wall, unit_code, today, minute)


def _worst_units(db: Database, today: date, kpi_id: str, count: int) -> list[str]:
    ranking = rank_units(db, cache.month_to_date(today), kpi_id, by_unit=cache.ranking_frame(db, today))
    return [str(code) for code in list(ranking.ranked["unit_code"])[::-1][:count]]


def worst_units(db: Database, today: date, kpi_id: str, count: int) -> list[str]:
    """The ``count`` worst-ranked unit codes by ``kpi_id`` this month, worst first (units with too little data
    are never picked: they are not ranked). Raises ValueError for a KPI that cannot rank."""
    return cache.cached(db, _worst_units, today, kpi_id, count)
