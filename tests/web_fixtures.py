"""A small live store for web tests: the simulator's history up to a fixed moment, and an app pinned to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import DOSSIERS, Batch, BatchResult, ingest_batches, run_connector
from connectors.simulator import Simulator
from ioc.config import Config
from ioc.db import Database
from ioc.store import open_store

# A Wednesday, 10:00 in Vietnam: a working day, mid-morning, so "today" already has dossiers.
FIXED_NOW = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
BACKFILL_DAYS = 12


def live_store(path: Path) -> Iterator[Database]:
    """A store holding 12 days of simulated history that ends at FIXED_NOW (closed when the generator ends)."""
    db = open_store(path)
    run_connector(db, Simulator.from_store(db, seed=42, backfill_days=BACKFILL_DAYS, now=lambda: FIXED_NOW))
    yield db
    db.close()


def app_config(**overrides: object) -> Config:
    """Settings for a test app: a fast refresh so live-update tests stay quick."""
    return Config.load(**{"refresh_interval_ms": 300, **overrides})


def pinned_clock() -> datetime:
    return FIXED_NOW


def add_dossier_received_now(db: Database, unit_code: str, dossier_id: str = "TEST-LIVE-0001") -> BatchResult:
    """One accepted dossier received at FIXED_NOW, through the same write path as every connector."""
    procedure_code = db.scalar("SELECT procedure_code FROM procedures WHERE level = 'commune' ORDER BY procedure_code LIMIT 1")
    row = {
        "dossier_id": dossier_id,
        "unit_code": unit_code,
        "procedure_code": procedure_code,
        "channel": "online",
        "received_at": FIXED_NOW.isoformat(),
        "status": "accepted",
        "updated_at": FIXED_NOW.isoformat(),
    }
    return ingest_batches(db, "test", [Batch(DOSSIERS, [row])])
