"""Every figure of a period beside the same figure for the period before it, and the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from ioc.db import Database
from kpis.compute import OUTPUT_IDS, Value, compute
from kpis.known_at import compute_known_at
from kpis.period import Period, previous_moment, previous_period
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
    """The result of ``compare``: both periods, the scope, and one FigureChange per id in compute()'s order.

    ``previous_until`` is set by ``compare_so_far`` when the previous figures are those of the previous
    period as they stood at that instant (the same time of day as now); None means the whole period.
    """

    period: Period
    previous_period: Period
    unit_code: str | None
    figures: dict[str, FigureChange]
    previous_until: datetime | None = None

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
    return Comparison(period, before, unit_code, _changes(compute(db, period, unit_code), compute(db, before, unit_code)))


def compare_so_far(
    db: Database, period: Period, now: datetime, unit_code: str | None = None, current: dict[str, Value] | None = None
) -> Comparison:
    """Like ``compare``, for a period still running at ``now``: the previous period up to the same moment.

    Today at 10:15 is compared with yesterday as it stood at 10:15, not with all of yesterday (which would
    show a fall every morning); this month to date at 10:15 on the 22nd with last month as it stood at
    10:15 on the 22nd. The matching moment is ``kpis.period.previous_moment`` and the previous figures are
    ``kpis.known_at.compute_known_at`` there: what the same screen showed at that moment. The current
    figures are compute()'s, the ones a screen shows now (the store holds nothing after now). A period
    already over at ``now`` is compared whole with the whole previous one, and ``previous_until`` is None
    then. ``current``: compute(db, period, unit_code) when the caller has it already (a cached snapshot).
    """
    until = previous_moment(period, now)
    before = previous_period(period)
    if current is None:
        current = compute(db, period, unit_code)
    if until >= before.end_instant:
        return Comparison(period, before, unit_code, _changes(current, compute(db, before, unit_code)))
    previous = compute_known_at(db, before, until, unit_code)
    return Comparison(period, before, unit_code, _changes(current, previous), until)


def _changes(current: dict[str, Value], previous: dict[str, Value]) -> dict[str, FigureChange]:
    return {
        kpi_id: FigureChange(
            kpi_id,
            current[kpi_id],
            previous[kpi_id],
            change_of(kpi_id, current[kpi_id], previous[kpi_id]),
            change_unit_of(kpi_id),
        )
        for kpi_id in OUTPUT_IDS
    }
