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

_LAST_RUN_OF_SQL = "SELECT status, error FROM ingest_runs WHERE connector = ? ORDER BY started_at DESC, run_id DESC LIMIT 1"

# Failed runs since the connector's last success: how long it has kept failing (a quiet success writes no run row).
_FAILURES_SQL = """
SELECT r.connector, count(*)
FROM ingest_runs r LEFT JOIN connector_state s USING (connector)
WHERE r.status = 'failed' AND (s.last_success_at IS NULL OR r.started_at > s.last_success_at)
GROUP BY r.connector
"""


def connector_health(
    db: Database,
    intervals: Mapping[str, int] | None = None,
    stale_after_factor: int = 3,
    now: datetime | None = None,
    failing_after: int | None = None,
    problems: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One dict per connector seen in the store (or expected in ``intervals``), sorted by name.

    ``stale`` is True when the connector has not succeeded within ``stale_after_factor`` of its
    expected interval, None when its interval is unknown (DESIGN §5: mark a stale source). A connector
    whose last ``failing_after`` runs (default ``stale_after_factor``) all failed is ``failing`` and
    stale whatever its interval: each of those runs already retried with backoff.

    When ``intervals`` is given it is what runs now: a connector the store knows but ``intervals`` lacks
    (a source taken out of the sources file, a one-off import) is ``scheduled`` False, and its old errors
    are history, not trouble. ``problems`` are sources that could not even be planned (an unreadable
    sources file): one failing item each, named by its key, so no screen says all is well while nothing runs.
    """
    now = now or now_utc()
    scheduled_names = None if intervals is None else set(intervals)
    intervals = dict(intervals or {})
    states = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT connector, last_success_at, last_error_at, last_error FROM connector_state ORDER BY connector"
        )
    }
    runs = {row[0]: row[1:] for row in db.execute(_LAST_RUNS_SQL)}
    failures = {name: int(count) for name, count in db.execute(_FAILURES_SQL)}
    failing_after = stale_after_factor if failing_after is None else failing_after
    report = []
    for name in sorted(set(states) | set(runs) | set(intervals)):
        last_success, last_error_at, last_error = states.get(name, (None, None, None))
        lag = None if last_success is None else max(0.0, (now - last_success).total_seconds())
        interval = intervals.get(name)
        stale = None if interval is None else (lag is None or lag > interval * stale_after_factor)
        consecutive_failures = failures.get(name, 0)
        scheduled = None if scheduled_names is None else name in scheduled_names
        failing = consecutive_failures >= max(1, failing_after) and scheduled is not False
        if failing:
            stale = True
        run = runs.get(name)
        if last_error is None and run is not None and _is_refusal(run[0], run[6]):
            last_error, last_error_at = run[6], run[2] or run[1]
        report.append(
            {
                "connector": name,
                "last_success_at": _iso(last_success),
                "lag_seconds": None if lag is None else round(lag, 1),
                "interval_seconds": interval,
                "stale": stale,
                "last_error_at": _iso(last_error_at),
                "last_error": last_error,
                "consecutive_failures": consecutive_failures,
                "failing": failing,
                "scheduled": scheduled,
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
    problems = problems or {}
    # A problem replaces what the store remembers of a source by that name: it cannot run now, whatever it did before.
    return [item for item in report if item["connector"] not in problems] + [
        _problem_item(name, problem) for name, problem in sorted(problems.items())
    ]


def _is_refusal(status: str, error: str | None) -> bool:
    # A run that landed but refused something whole (a dropped file that cannot be read): the source's error to show
    # until a later run records itself without one (it stored something, or a file drop found failed/ dealt with).
    return status == "ok" and bool(error)


def refusal_on_show(db: Database, connector: str) -> bool:
    """Whether ``connector``'s last run refused something, which every screen shows as its error."""
    last = db.execute(_LAST_RUN_OF_SQL, [connector])
    return bool(last) and _is_refusal(*last[0])


def _problem_item(name: str, problem: str) -> dict[str, Any]:
    """A health item for something that should run and cannot: failing from the start, never a success."""
    return {
        "connector": name,
        "last_success_at": None,
        "lag_seconds": None,
        "interval_seconds": None,
        "stale": True,
        "last_error_at": None,
        "last_error": problem,
        "consecutive_failures": 0,
        "failing": True,
        "scheduled": True,
        "last_run": None,
    }


# What a source's health item says to a person, worst first: each is shown with an icon and a word, never colour alone.
SOURCE_STATUSES = ("error", "stale", "waiting", "unscheduled", "ok")


def source_status(item: Mapping[str, Any]) -> str:
    """One word for a ``connector_health`` item: ``unscheduled`` when it does not run now (a manual import, a
    source no longer in the sources file) or no interval is known, ``error`` when its last attempt failed,
    ``stale`` when it has not succeeded within its expected interval, ``waiting`` when it never succeeded yet,
    otherwise ``ok``."""
    if item.get("scheduled") is False:
        return "unscheduled"
    if item.get("last_error") or item.get("failing"):
        return "error"
    if item.get("stale"):
        return "stale"
    if item.get("last_success_at") is None:
        return "waiting"
    if item.get("stale") is None:
        return "unscheduled"
    return "ok"


def in_trouble(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items that need a person: a source in error or stale (what /health calls degraded, what walls flag)."""
    return [item for item in report if source_status(item) in ("error", "stale")]


def last_success_time(health: list[dict[str, Any]]) -> datetime | None:
    """The newest successful ingest among all connectors: the "data as of" time screens show."""
    times = [datetime.fromisoformat(item["last_success_at"]) for item in health if item["last_success_at"]]
    return max(times) if times else None


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
