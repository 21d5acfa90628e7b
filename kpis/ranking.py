"""Units ranked by a rate: competition ranking, direction-aware, wards and communes apart or together."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import pandas as pd

from ioc.db import Database
from kpis.compute import compute_by_unit
from kpis.period import Period
from kpis.registry import MIN_ITEMS_FOR_STATUS, Status, kpi, status_of

UnitGroup = Literal["all", "wards", "communes"]

# Wards are phường; "communes" are the rural units, xã and the special zone (đặc khu), which DESIGN
# §1 counts with them. The province row, if a store has one, is never ranked against its own units.
GROUP_KINDS: dict[str, tuple[str, ...]] = {
    "all": ("phuong", "xa", "dac_khu"),
    "wards": ("phuong",),
    "communes": ("xa", "dac_khu"),
}

RANKING_COLUMNS: tuple[str, ...] = ("unit_code", "name", "kind", "value", "denominator", "rank", "status")

# Rates are ratios of small whole numbers: two equal ratios are equal doubles, but a rate re-derived
# elsewhere (a sum, a cache) may differ in the last bits; rounding makes such ties ties.
_TIE_DECIMALS = 12


class Ranking(NamedTuple):
    """``ranked``: units with enough data, best first, with their competition rank.

    ``not_ranked``: units whose value is None or whose denominator has fewer than
    MIN_ITEMS_FOR_STATUS items (rank None, status "no_data"), by name. Same columns in both.
    """

    ranked: pd.DataFrame
    not_ranked: pd.DataFrame


def competition_ranks(values: list[float], *, descending: bool) -> list[int]:
    """Standard competition ranking ("1224"): a value's rank is 1 + the number of values strictly better."""
    keys = [round(value, _TIE_DECIMALS) for value in values]
    if descending:
        return [1 + sum(other > key for other in keys) for key in keys]
    return [1 + sum(other < key for other in keys) for key in keys]


def rank_units(
    db: Database,
    period: Period,
    kpi_id: str = "on_time_rate",
    group: UnitGroup = "all",
    *,
    by_unit: pd.DataFrame | None = None,
) -> Ranking:
    """Rank the units of ``group`` by ``kpi_id`` over ``period``.

    Any KPI with a direction and a denominator can rank (the rates; also the medians, lower first).
    higher_is_better ranks descending, lower_is_better ascending. Ties share a rank and the next
    rank skips (1, 2, 2, 4); within a tie the unit with the larger denominator is listed first,
    then by name. A unit with no value or fewer than MIN_ITEMS_FOR_STATUS items behind it is not
    ranked at all (DESIGN §4's grey "not enough data"), so it can never come first by luck of a
    tiny sample: it goes to ``not_ranked``.

    ``by_unit`` may pass a compute_by_unit frame already computed for the same period (a cache).
    """
    declared = kpi(kpi_id)
    if declared.direction == "neutral" or declared.denominator is None:
        raise ValueError(f"{kpi_id} has no better or worse direction or no denominator: it cannot rank units")
    if group not in GROUP_KINDS:
        raise ValueError(f"unknown unit group {group!r}; expected one of {', '.join(GROUP_KINDS)}")
    frame = by_unit if by_unit is not None else compute_by_unit(db, period)
    frame = frame[frame["kind"].isin(GROUP_KINDS[group])]
    enough: list[_Entry] = []
    too_few: list[_Entry] = []
    for unit_code, row in frame.iterrows():
        value = None if pd.isna(row[kpi_id]) else float(row[kpi_id])
        entry = _Entry(str(unit_code), str(row["name"]), str(row["kind"]), value, int(row[declared.denominator]))
        has_enough = entry.value is not None and entry.denominator >= MIN_ITEMS_FOR_STATUS
        (enough if has_enough else too_few).append(entry)
    descending = declared.direction == "higher_is_better"
    ranks = competition_ranks([entry.value for entry in enough if entry.value is not None], descending=descending)
    for entry, rank in zip(enough, ranks, strict=True):
        entry.rank = rank
        entry.status = status_of(kpi_id, entry.value, entry.denominator)
    enough.sort(key=lambda entry: (entry.rank or 0, -entry.denominator, entry.name, entry.unit_code))
    too_few.sort(key=lambda entry: (entry.name, entry.unit_code))
    return Ranking(_frame(enough), _frame(too_few))


@dataclass
class _Entry:
    unit_code: str
    name: str
    kind: str
    value: float | None
    denominator: int
    rank: int | None = None
    status: Status | None = "no_data"


def _frame(entries: list[_Entry]) -> pd.DataFrame:
    # object columns so a missing rank or value is None (JSON-safe), as compute() returns them.
    records = [asdict(entry) for entry in entries]
    return pd.DataFrame({column: pd.Series([r[column] for r in records], dtype=object) for column in RANKING_COLUMNS})
