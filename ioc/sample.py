"""The one seeded function that builds a sample store, used by the app, the tests and the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from connectors.base import BatchResult, run_connector
from connectors.simulator import Simulator
from ioc.db import Database
from ioc.store import open_store
from ioc.timeutil import now_utc


def simulator_for(db: Database, *, seed: int = 42, days: int = 120, now: Callable[[], datetime] = now_utc) -> Simulator:
    """The simulator connector on ``db``: it backfills ``days`` of history into an empty store, then runs live."""
    return Simulator.from_store(db, seed=seed, backfill_days=days, now=now)


def fill_sample(db: Database, *, seed: int = 42, days: int = 120, now: Callable[[], datetime] = now_utc) -> BatchResult:
    """Run the simulator once on ``db``: history up to ``now()`` on an empty store, what is new otherwise."""
    return run_connector(db, simulator_for(db, seed=seed, days=days, now=now))


def build_sample_store(path: str | Path, *, seed: int = 42, days: int = 120, now: datetime | None = None) -> Database:
    """A store at ``path`` with reference data and ``days`` of simulated history ending at ``now``."""
    db = open_store(path)
    fixed_now = now or now_utc()
    fill_sample(db, seed=seed, days=days, now=lambda: fixed_now)
    return db
