"""KPIs of DESIGN §4 as pure functions over the store: registry, periods, city/unit figures and daily flow."""

from kpis.compute import COUNT_IDS, OUTPUT_IDS, compute, compute_by_unit, daily_flow, derive, period_calendar
from kpis.period import Period
from kpis.registry import (
    MIN_ITEMS_FOR_STATUS,
    REGISTRY,
    SUPPORTING,
    Kpi,
    reset_thresholds,
    set_thresholds,
    status_of,
    statuses,
    thresholds_of,
)
from kpis.sql import count_params, hotline_params, sql_for_dossier_counts, sql_for_hotline_counts

__all__ = [
    "COUNT_IDS",
    "MIN_ITEMS_FOR_STATUS",
    "OUTPUT_IDS",
    "REGISTRY",
    "SUPPORTING",
    "Kpi",
    "Period",
    "compute",
    "compute_by_unit",
    "count_params",
    "daily_flow",
    "derive",
    "hotline_params",
    "period_calendar",
    "reset_thresholds",
    "set_thresholds",
    "sql_for_dossier_counts",
    "sql_for_hotline_counts",
    "status_of",
    "statuses",
    "thresholds_of",
]
