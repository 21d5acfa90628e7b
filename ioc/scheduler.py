"""The one scheduler that runs connectors on their intervals and warms the snapshot cache after each write."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from connectors.base import Connector, read_cursor, run_connector
from ioc import cache
from ioc.config import Config
from ioc.db import Database

log = logging.getLogger(__name__)

_start_lock = threading.Lock()
_started = False  # DESIGN §5: connectors run in exactly one place per process; a second start is a bug.


class SchedulerAlreadyStartedError(RuntimeError):
    """start_scheduler was called twice in one process (a reloader or a second web worker would do this)."""


def default_connectors(db: Database, config: Config) -> list[Connector]:
    """The connectors the settings switch on: for now the built-in simulator."""
    connectors: list[Connector] = []
    if config.simulator_enabled:
        from connectors.simulator import Simulator
        from ioc.timeutil import now_utc

        simulator = Simulator.from_store(
            db,
            seed=config.simulator_seed,
            backfill_days=config.simulator_backfill_days,
            now=now_utc,
            interval_seconds=config.simulator_interval_seconds,
        )
        connectors.append(simulator)
    return connectors


def run_once(db: Database, connector: Connector) -> bool:
    """Run ``connector`` once; warm the cache when it committed. Failures are logged (and stored by ingest)."""
    before = db.data_version
    try:
        run_connector(db, connector)
    except Exception:
        # ingest_batches already wrote the error into ingest_runs and connector_state for /health.
        log.exception("connector %s failed", connector.name)
        return False
    if db.data_version != before:
        try:
            cache.warm(db)
        except Exception:
            log.exception("warming the snapshot cache failed")
    return True


def start_scheduler(db: Database, connectors: Sequence[Connector], *, initial_run: bool = True) -> BackgroundScheduler:
    """Run each connector once now (the simulator's first run backfills history), then on its interval.

    Call from ``app.main`` only: never at import and never under a reloader.
    """
    global _started
    with _start_lock:
        if _started:
            raise SchedulerAlreadyStartedError("the connector scheduler is already running in this process")
        _started = True
    if initial_run:
        for connector in connectors:
            _first_run(db, connector)
    cache.warm(db)
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30})
    for connector in connectors:
        scheduler.add_job(
            run_once,
            "interval",
            seconds=max(1, int(connector.interval_seconds)),
            args=[db, connector],
            id=f"connector:{connector.name}",
            name=connector.name,
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler, wait: bool = True) -> None:
    """Shut the scheduler down (waiting for a running connector so its transaction ends cleanly)."""
    global _started
    if scheduler.running:
        scheduler.shutdown(wait=wait)
    with _start_lock:
        _started = False


def _first_run(db: Database, connector: Connector) -> None:
    backfill_days: Any = getattr(connector, "backfill_days", None)
    # Only a simulator without a stored cursor backfills; later starts just catch up since the cursor.
    if connector.name == "simulator" and backfill_days and read_cursor(db, connector.name) is None:
        print(f"Đang tạo dữ liệu mẫu {backfill_days} ngày… / Generating {backfill_days} days of sample data…", flush=True)
    else:
        print(f"Đang chạy nguồn {connector.name}… / Running connector {connector.name}…", flush=True)
    started = time.monotonic()
    ok = run_once(db, connector)
    status = "xong / done" if ok else "lỗi, xem /health / failed, see /health"
    print(f"  {connector.name}: {status} ({time.monotonic() - started:.1f} s)", flush=True)
