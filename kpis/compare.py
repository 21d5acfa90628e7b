"""Every figure of a period beside the same figure for the period before it, and the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ioc.db import Database
from kpis.compute import OUTPUT_IDS, Value, compute
from kpis.period import Period, previous_period
from kpis.registry import kpi

ChangeUnit = Literal["count", "percentage_points", "days", "hours", "per_day"]


@dataclass(frozen=True)
class FigureChange:
    """One figure now and in the previous period.

    ``change`` is current − previous: a whole number for counts, percentage points (0–100 scale)
    for rates, and the figure's own unit (days, hours, per working day) for the others; None when
    either side is None (an empty denominator is not a zero, so it has no change either).
    """

    kpi_id: str
    current: Value
    previous: Value
    change: int | float | None
    change_unit: ChangeUnit


@dataclass(frozen=True)
class Comparison:
    """The result of ``compare``: both periods, the scope, and one FigureChange per id in compute()'s order."""

    period: Period
    previous_period: Period
    unit_code: str | None
    figures: dict[str, FigureChange]

    def to_frame(self) -> pd.DataFrame:
        """One row per id (index kpi_id): current, previous, change, change_unit (object columns keep None)."""
        rows = [
            {"kpi_id": f.kpi_id, "current": f.current, "previous": f.previous, "change": f.change, "change_unit": f.change_unit}
            for f in self.figures.values()
        ]
        return pd.DataFrame(rows, dtype=object).set_index("kpi_id")


def change_unit_of(kpi_id: str) -> ChangeUnit:
    """How the change of a figure is expressed: rates in percentage points, everything else in its own unit."""
    unit = kpi(kpi_id).unit
    return "percentage_points" if unit == "rate" else unit


def change_of(kpi_id: str, current: Value, previous: Value) -> int | float | None:
    """current − previous in the unit of ``change_unit_of``; None when either is None."""
    if current is None or previous is None:
        return None
    unit = change_unit_of(kpi_id)
    if unit == "count":
        return int(current) - int(previous)
    if unit == "percentage_points":
        return (float(current) - float(previous)) * 100.0
    return float(current) - float(previous)


def compare(db: Database, period: Period, unit_code: str | None = None) -> Comparison:
    """compute() for ``period`` and for ``previous_period(period)`` (one unit, or the city when None), side by side.

    The previous period follows the period's kind (kpis.period.previous_period): the previous
    month for a month, the previous week for a week, the same number of days before for a custom
    range.
    """
    before = previous_period(period)
    now_figures = compute(db, period, unit_code)
    before_figures = compute(db, before, unit_code)
    figures = {
        kpi_id: FigureChange(
            kpi_id,
            now_figures[kpi_id],
            before_figures[kpi_id],
            change_of(kpi_id, now_figures[kpi_id], before_figures[kpi_id]),
            change_unit_of(kpi_id),
        )
        for kpi_id in OUTPUT_IDS
    }
    return Comparison(period, before, unit_code, figures)
