"""The one scheduler that runs connectors on their intervals and warms the snapshot cache after each write."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler

from connectors.base import STOPPING, Batch, Connector, SourceError, StoppingError, ingest_batches, read_cursor, run_connector
from connectors.simulator import SOURCE_NAME as SIMULATOR
from connectors.sources import DEFAULT_SOURCES_FILE, SourceConfig, SourceConfigError, build_connector, read_sources_file
from ioc import cache
from ioc.config import Config
from ioc.db import Database
from ioc.store import tidy_between_runs

log = logging.getLogger(__name__)

_start_lock = threading.Lock()
_started = False  # DESIGN §5: connectors run in exactly one place per process; a second start is a bug.


class SchedulerAlreadyStartedError(RuntimeError):
    """start_scheduler was called twice in one process (a reloader or a second web worker would do this)."""


class SourceNotStartedError(SourceError):
    """A declared source the scheduler could not start; stored as its failed run so /health and the pages show why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass
class ConnectorPlan:
    """What the scheduler will run, the interval each source is judged by, and what will not run and why."""

    connectors: list[Connector] = field(default_factory=list)
    # Every source expected to run, including those that could not start (so they never look fine).
    intervals: dict[str, int] = field(default_factory=dict)
    # One message per source (or for the whole file) that will not run: the file, the source, what to fix.
    problems: list[str] = field(default_factory=list)
    # Deliberate choices worth a line at start (a simulator switched off by the settings).
    notes: list[str] = field(default_factory=list)
    # Problems stored nowhere (a sources file that cannot be read, a source refused for its name), by the name a
    # health view lists them under: the app shows them as failing sources (ioc.web.create_app's source_problems).
    unstored_problems: dict[str, str] = field(default_factory=dict)
    # The sources file read; None when the app runs on the embedded defaults.
    sources_file: Path | None = None

    def refuse(self, name: str, problem: str) -> None:
        """Say ``problem`` at start and show it under ``name`` wherever sources are shown, without storing it."""
        self.problems.append(problem)
        self.unstored_problems[name] = problem

    def announce(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        """Say at start what runs (stdout), and what does not and how to fix it (stderr)."""
        out = out or sys.stdout
        err = err or sys.stderr
        where = (
            f"tệp / file {self.sources_file}" if self.sources_file else "mặc định, không có tệp nguồn / defaults, no sources file"
        )
        running = ", ".join(f"{c.name} ({c.interval_seconds} s)" for c in self.connectors) or "—"
        print(f"Nguồn dữ liệu / Sources [{where}]: {running}", file=out, flush=True)
        for note in self.notes:
            print(f"  {note}", file=out, flush=True)
        for problem in self.problems:
            print(f"LỖI NGUỒN / SOURCE ERROR: {problem}", file=err, flush=True)
        if self.problems and self.connectors:
            print(
                "  Sửa rồi khởi động lại; các nguồn khác vẫn chạy. / Fix it and restart; the other sources still run.",
                file=err,
                flush=True,
            )


def plan_connectors(db: Database, config: Config) -> ConnectorPlan:
    """The connectors to schedule: every source of the sources file, or the built-in simulator when there is none.

    No file at the default place: the simulator on its settings, as out of the box. A file that cannot
    be used (or a ``sources_file`` setting naming a missing file) runs nothing, not even the simulator,
    which must never write demo data beside real sources. A source that cannot start (a bad table, a
    missing secret, an unreadable mapping) is left out with a message naming the file, the source and
    the fix, and that message is stored as its error; the other sources run.
    """
    path = Path(str(config.sources_file))
    if not path.exists() and path == DEFAULT_SOURCES_FILE:
        plan = ConnectorPlan()
        _add_default_simulator(db, config, plan)
        return plan
    plan = ConnectorPlan(sources_file=path)
    nothing_runs = (
        "Không nguồn nào chạy, kể cả bộ mô phỏng; các trang hiện dữ liệu đã lưu. "
        "/ No source runs, not even the simulator; the pages show the stored data."
    )
    if not path.exists():
        plan.refuse(
            path.name,
            f"IOC_SOURCES_FILE names {path}, which does not exist: fix the path, or unset it to run the simulator. {nothing_runs}",
        )
        return plan
    try:
        sources_file = read_sources_file(path)
    except SourceConfigError as error:
        plan.refuse(path.name, f"{error}. Fix the file and restart. {nothing_runs}")
        return plan
    for name, problem in sources_file.problems.items():
        _not_started(db, plan, name, f"{path}: {problem}", sources_file.intervals[name])
    for source in sources_file.sources.values():
        _add_source(db, config, plan, source)
    others = [connector.name for connector in plan.connectors if connector.name != SIMULATOR]
    if others and len(others) < len(plan.connectors):  # the simulator is among them
        plan.notes.append(
            f"CẢNH BÁO / WARNING: the simulator runs beside {', '.join(others)}: its made-up rows count in the same "
            "figures. Delete its table when going live."
        )
    return plan


def _add_source(db: Database, config: Config, plan: ConnectorPlan, source: SourceConfig) -> None:
    where = f"{plan.sources_file}: source '{source.name}'"
    if source.kind == "simulator":
        if not config.simulator_enabled:
            plan.notes.append(f"{where} (kind simulator) is off: IOC_SIMULATOR_ENABLED is false")
            return
        if SIMULATOR in plan.intervals:
            plan.refuse(source.name, f"{where} is a second simulator: keep one table of kind simulator")
            return
    try:
        connector = build_connector(db, source)
    except SourceConfigError as error:
        _not_started(db, plan, source.name, f"{plan.sources_file}: {error}", source.interval_seconds)
        return
    except Exception as error:
        # Any kind's constructor may refuse its options (a bad URL, an unreadable mapping): that source only.
        problem = f"{where} (kind {source.kind}) cannot start: {type(error).__name__}: {error}"
        _not_started(db, plan, source.name, problem, source.interval_seconds)
        return
    if connector.name in plan.intervals:
        plan.refuse(source.name, f"{where} would run as '{connector.name}', a name another source already has")
        return
    plan.connectors.append(connector)
    plan.intervals[connector.name] = connector.interval_seconds


def _not_started(db: Database, plan: ConnectorPlan, name: str, problem: str, interval: int) -> None:
    """Leave the source out, and store why as its failed run through the one write path.

    Its declared interval stays expected, so with no success it counts as stale (the walls' marker, the data time).
    """
    plan.problems.append(problem)
    plan.intervals[name] = interval

    def refuse() -> Iterator[Batch]:
        raise SourceNotStartedError(problem)
        yield  # a generator, so ingest_batches records the error as this source's failed run

    # The writer would also log the failure: plan.announce() already says it, with what to fix.
    with _quiet(logging.getLogger("connectors.base")), contextlib.suppress(SourceNotStartedError):
        ingest_batches(db, name, refuse())


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Drop ``logger``'s warnings for the duration (at start, before any other thread writes)."""
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _add_default_simulator(db: Database, config: Config, plan: ConnectorPlan) -> None:
    """The embedded default (no sources file): the built-in simulator, when it is enabled and the store is its own."""
    if not config.simulator_enabled:
        return
    from connectors.simulator import Simulator, other_sources_in
    from ioc.timeutil import now_utc

    others = other_sources_in(db)
    if others is not None:
        # Not an error of any source: the pages show the stored data, and this says why nothing new arrives.
        plan.notes.append(
            f"Bộ mô phỏng không chạy / The simulator does not run: the store holds rows of other sources ({others}), "
            "and its made-up rows would count in their figures. For a demo, give it a store of its own (IOC_DB_PATH)."
        )
        return
    simulator = Simulator.from_store(
        db,
        seed=config.simulator_seed,
        backfill_days=config.simulator_backfill_days,
        now=now_utc,
        interval_seconds=config.simulator_interval_seconds,
    )
    plan.connectors.append(simulator)
    plan.intervals[simulator.name] = simulator.interval_seconds


def run_once(db: Database, connector: Connector) -> bool:
    """Run ``connector`` once; warm the cache when it committed. Failures are logged (and stored by ingest)."""
    before = db.data_version
    try:
        run_connector(db, connector)
    except StoppingError:
        return False  # the app is stopping: nothing to say about the source
    except SourceError as error:
        # An expected outage (timeout, HTTP 5xx, bad JSON): one line here; ingest_batches stored it for /health.
        log.warning("connector %s failed: %s", connector.name, error)
        return False
    except Exception:
        # Stored for /health too; a bug rather than an outage, so the traceback is worth a look.
        log.exception("connector %s failed", connector.name)
        return False
    if db.data_version != before:
        try:
            cache.warm(db)
        except Exception:
            log.exception("warming the snapshot cache failed")
        # After the rows are visible and the cache is warm: the next run waits for it, no screen does.
        tidy_between_runs(db)
    return True


def start_scheduler(db: Database, connectors: Sequence[Connector], *, initial_run: bool = True) -> BackgroundScheduler:
    """Run each connector now, then on its interval.

    With ``initial_run`` the simulator runs before this returns (its first run backfills history, so the
    first page has data); every other source starts at once in the background, so a slow or unreachable
    source never holds up the web server. Call from ``app.main`` only: never at import, never under a reloader.
    """
    global _started
    with _start_lock:
        if _started:
            raise SchedulerAlreadyStartedError("the connector scheduler is already running in this process")
        _started = True
        STOPPING.clear()
    if initial_run:
        for connector in connectors:
            if connector.name == SIMULATOR:
                _first_run(db, connector)
    cache.warm(db)
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30})
    for connector in connectors:
        first_in_background = initial_run and connector.name != SIMULATOR
        scheduler.add_job(
            run_once,
            "interval",
            seconds=max(1, int(connector.interval_seconds)),
            args=[db, connector],
            id=f"connector:{connector.name}",
            name=connector.name,
            max_instances=1,
            coalesce=True,
            # APScheduler takes "now" for an immediate first run; without it the first run waits one interval.
            **({"next_run_time": datetime.now(UTC)} if first_in_background else {}),
        )
        if first_in_background:
            print(f"Nguồn {connector.name}: chạy nền mỗi {connector.interval_seconds} s / runs in the background", flush=True)
    scheduler.start()
    return scheduler


def stop_scheduler(scheduler: BackgroundScheduler, wait: bool = True) -> None:
    """Shut the scheduler down (waiting for a running connector so its transaction ends cleanly), then close connectors."""
    global _started
    connectors = [job.args[1] for job in scheduler.get_jobs() if job.id.startswith("connector:")]
    STOPPING.set()  # a connector waiting to retry gives up now; one writing its batch finishes it
    if scheduler.running:
        scheduler.shutdown(wait=wait)
    if wait:
        STOPPING.clear()  # every run has ended: retries outside a scheduler (the CLI, a later start) work as before
    for connector in connectors:
        close = getattr(connector, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.exception("closing connector %s failed", connector.name)
    with _start_lock:
        _started = False


def _first_run(db: Database, connector: Connector) -> None:
    backfill_days = getattr(connector, "backfill_days", None)
    # Only a simulator without a stored cursor backfills; later starts just catch up since the cursor.
    if backfill_days and read_cursor(db, connector.name) is None:
        print(f"Đang tạo dữ liệu mẫu {backfill_days} ngày… / Generating {backfill_days} days of sample data…", flush=True)
    else:
        print(f"Đang chạy nguồn {connector.name}… / Running connector {connector.name}…", flush=True)
    started = time.monotonic()
    ok = run_once(db, connector)
    status = "xong / done" if ok else "lỗi, xem /health / failed, see /health"
    print(f"  {connector.name}: {status} ({time.monotonic() - started:.1f} s)", flush=True)
