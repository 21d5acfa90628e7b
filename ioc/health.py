"""Connector health read from connector_state and ingest_runs: last success, lag, last error, stale or not."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ioc.db import Database
from ioc.timeutil import now_utc

_LAST_RUNS_SQL = """
SELECT connector, status, started_at, finished_at, rows_read, rows_upserted, rows_rejected, error
FROM ingest_runs
QUALIFY row_number() OVER (PARTITION BY connector ORDER BY started_at DESC, run_id DESC) = 1
"""


def connector_health(
    db: Database,
    intervals: Mapping[str, int] | None = None,
    stale_after_factor: int = 3,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One dict per connector seen in the store (or expected in ``intervals``), sorted by name.

    ``stale`` is True when the connector has not succeeded within ``stale_after_factor`` of its
    expected interval, None when its interval is unknown (DESIGN §5: mark a stale source).
    """
    now = now or now_utc()
    intervals = dict(intervals or {})
    states = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT connector, last_success_at, last_error_at, last_error FROM connector_state ORDER BY connector"
        )
    }
    runs = {row[0]: row[1:] for row in db.execute(_LAST_RUNS_SQL)}
    report = []
    for name in sorted(set(states) | set(runs) | set(intervals)):
        last_success, last_error_at, last_error = states.get(name, (None, None, None))
        lag = None if last_success is None else max(0.0, (now - last_success).total_seconds())
        interval = intervals.get(name)
        stale = None if interval is None else (lag is None or lag > interval * stale_after_factor)
        run = runs.get(name)
        report.append(
            {
                "connector": name,
                "last_success_at": _iso(last_success),
                "lag_seconds": None if lag is None else round(lag, 1),
                "interval_seconds": interval,
                "stale": stale,
                "last_error_at": _iso(last_error_at),
                "last_error": last_error,
                "last_run": None
                if run is None
                else {
                    "status": run[0],
                    "started_at": _iso(run[1]),
                    "finished_at": _iso(run[2]),
                    "rows_read": run[3],
                    "rows_upserted": run[4],
                    "rows_rejected": run[5],
                    "error": run[6],
                },
            }
        )
    return report


def last_success_time(health: list[dict[str, Any]]) -> datetime | None:
    """The newest successful ingest among all connectors: the "data as of" time screens show."""
    times = [datetime.fromisoformat(item["last_success_at"]) for item in health if item["last_success_at"]]
    return max(times) if times else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
