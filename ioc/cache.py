"""Snapshot cache keyed by (data version, function, args): any number of screens cost one query per version."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from datetime import date, timedelta
from typing import Any, TypeVar

import pandas as pd

from ioc.db import Database
from ioc.timeutil import local_today
from kpis import Period, compute, compute_by_unit, daily_flow
from kpis.ranking import GROUP_KINDS, rank_units

T = TypeVar("T")

FLOW_DAYS = 30
# A snapshot asked for within this many seconds is recomputed by warm() after each write.
HOT_SECONDS = 600.0


class SnapshotCache:
    """Results of snapshot functions for the store's current data version only.

    Older versions are dropped as soon as a newer one is asked for, so memory stays bounded. One lock
    per key makes concurrent callers of the same snapshot wait for a single computation.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._values: dict[Hashable, Any] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._recent: dict[tuple[Callable[..., Any], tuple[Any, ...]], float] = {}

    def get(self, db: Database, fn: Callable[..., T], *args: Hashable) -> T:
        version = db.data_version
        key = (version, fn.__module__, fn.__qualname__, args)
        with self._lock:
            if self._version != version:
                self._version = version
                self._values.clear()
                self._key_locks.clear()
            self._recent[(fn, args)] = time.monotonic()
            if key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]  # type: ignore[no-any-return]
            value = fn(db, *args)
            with self._lock:
                if self._version == version:
                    self._values[key] = value
            return value

    def hot_calls(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        """Snapshot calls made recently; warm() recomputes these after each write."""
        cutoff = time.monotonic() - HOT_SECONDS
        with self._lock:
            for call, used in list(self._recent.items()):
                if used < cutoff:
                    del self._recent[call]
            return list(self._recent)


_caches: weakref.WeakKeyDictionary[Database, SnapshotCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(db: Database) -> SnapshotCache:
    """The cache of one store (tests open many stores in one process)."""
    with _caches_lock:
        cache = _caches.get(db)
        if cache is None:
            cache = _caches[db] = SnapshotCache()
        return cache


def cached(db: Database, fn: Callable[..., T], *args: Hashable) -> T:
    """``fn(db, *args)`` computed once per data version."""
    return cache_for(db).get(db, fn, *args)


# -- snapshots: plain data the pages render ------------------------------------------------------


def month_to_date(today: date) -> Period:
    """This month up to and including today: as-of is the end of today, never a future day."""
    return Period(today.replace(day=1), today + timedelta(days=1))


def _ranking(db: Database, today: date) -> pd.DataFrame:
    """Every unit with its month-to-date figures: ranked units by on-time rate (competition ranks, best
    first), then units with too few resolved dossiers to rank (rank None), which never come first."""
    period = month_to_date(today)
    by_unit = compute_by_unit(db, period)
    ranking = rank_units(db, period, "on_time_rate", by_unit=by_unit)
    ranked = by_unit.loc[list(ranking.ranked["unit_code"])].assign(rank=list(ranking.ranked["rank"]))
    unranked = by_unit.loc[list(ranking.not_ranked["unit_code"])].assign(rank=None)
    frame = pd.concat([ranked, unranked])
    frame["rank"] = frame["rank"].astype(object)
    return frame


def _snapshot(db: Database, today: date, unit_code: str | None) -> dict[str, Any]:
    return {
        "today": today,
        "day": compute(db, Period.day(today), unit_code),
        "month": compute(db, month_to_date(today), unit_code),
        "flow": daily_flow(db, today - timedelta(days=FLOW_DAYS - 1), today + timedelta(days=1), unit_code),
    }


def _city_snapshot(db: Database, today: date) -> dict[str, Any]:
    snapshot = _snapshot(db, today, None)
    snapshot["ranking"] = ranking_frame(db, today)
    return snapshot


def _unit_snapshot(db: Database, unit_code: str, today: date) -> dict[str, Any] | None:
    ranking = ranking_frame(db, today)
    if unit_code not in ranking.index:
        return None
    row = ranking.loc[unit_code]
    snapshot = _snapshot(db, today, unit_code)
    snapshot["unit"] = {
        "unit_code": unit_code,
        "name": row["name"],
        "full_name": row["full_name"],
        "kind": row["kind"],
        "rank": row["rank"],  # None when too few dossiers were resolved to rank the unit
        "units": int(ranking["rank"].notna().sum()),
    }
    return snapshot


def ranking_frame(db: Database, today: date) -> pd.DataFrame:
    """Ranking of units by on-time rate this month (index unit_code; every compute() id, name, rank)."""
    return cached(db, _ranking, today)


def city_snapshot(db: Database, today: date | None = None) -> dict[str, Any]:
    """What the city pages show: today's and this month's figures, the unit ranking, 30 days of flow."""
    return cached(db, _city_snapshot, today or local_today())


def unit_snapshot(db: Database, unit_code: str, today: date | None = None) -> dict[str, Any] | None:
    """What a commune page shows, plus the unit's name and rank; None for an unknown unit code."""
    return cached(db, _unit_snapshot, unit_code, today or local_today())


def not_a_commune(db: Database, unit_code: str) -> str | None:
    """The full name of a unit the store knows that is no commune, ward or special zone (so has no commune page)."""
    kinds = GROUP_KINDS["all"]
    return db.scalar(
        f"SELECT full_name FROM units WHERE unit_code = ? AND kind NOT IN ({', '.join('?' * len(kinds))})", [unit_code, *kinds]
    )


def warm(db: Database, today: date | None = None) -> None:
    """Recompute the city snapshot and every snapshot screens asked for recently, for the current version."""
    cache = cache_for(db)
    cache.get(db, _city_snapshot, today or local_today())
    for fn, args in cache.hot_calls():
        cache.get(db, fn, *args)
