"""The scheduler runs the sources file: each source on its interval, a bad one set apart with a clear message, no file → simulator."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ioc.scheduler
from connectors.base import Batch, RetryPolicy, SourceError
from connectors.files import FileDropConnector
from connectors.simulator import Simulator
from connectors.sources import SourceConfigError, build_connector, load_sources
from ioc.config import Config
from ioc.db import Database
from ioc.health import connector_health, source_status
from ioc.scheduler import ConnectorPlan, plan_connectors, run_once, start_scheduler, stop_scheduler
from tests.test_mapping import VN_HEADER, vn_row, write_mapping

SECRET_VARIABLE = "IOC_TEST_SCHEDULER_ONESTOP_PASSWORD"


def sources_file(folder: Path, text: str) -> Path:
    path = folder / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def drop_source(folder: Path, name: str = "offices", interval: int = 1) -> str:
    """A [sources.NAME] table for a file-drop source watching ``folder/drop`` through a test mapping."""
    mapping = write_mapping(folder)
    (folder / "drop").mkdir(exist_ok=True)  # a folder that does not exist is the source's error
    return (
        f'[sources.{name}]\nkind = "file_drop"\ninterval_seconds = {interval}\n'
        f'folder = "{folder / "drop"}"\nmapping = "{mapping}"\nsettle_seconds = 0\n'
    )


def drop_csv(folder: Path, *tickets: str) -> Path:
    """A hotline export dropped into the watched folder (written aside, then renamed in, as a copy would)."""
    (folder / "drop").mkdir(exist_ok=True)
    text = VN_HEADER + "\r\n" + "".join(vn_row(ticket) + "\r\n" for ticket in tickets)
    partial = folder / "drop" / "export.csv.part"
    partial.write_text(text, encoding="utf-8")
    return partial.rename(folder / "drop" / "export.csv")


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def printed(plan: ConnectorPlan) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    plan.announce(out, err)
    return out.getvalue(), err.getvalue()


def health_of(db: Database, name: str) -> dict:
    """The source's health item; empty until it has run once."""
    return next((item for item in connector_health(db) if item["connector"] == name), {})


@pytest.fixture
def scheduler_stopper() -> Iterator[list]:
    """Stops whatever scheduler a test started, even when it fails half-way (a second start would raise)."""
    started: list = []
    yield started
    for scheduler in started:
        stop_scheduler(scheduler)


# -- no sources file ----------------------------------------------------------------------------------


def test_without_a_sources_file_the_simulator_runs_on_its_settings(
    store: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing_default = tmp_path / "config" / "sources.toml"
    monkeypatch.setattr(ioc.scheduler, "DEFAULT_SOURCES_FILE", missing_default)
    config = Config.load(sources_file=str(missing_default), simulator_interval_seconds=7)
    plan = plan_connectors(store, config)
    assert [type(connector) for connector in plan.connectors] == [Simulator]
    assert plan.intervals == {"simulator": 7}
    assert (plan.problems, plan.sources_file) == ([], None)
    out, err = printed(plan)
    assert "simulator (7 s)" in out and err == ""


def test_a_sources_setting_naming_a_missing_file_runs_nothing_and_says_so(store: Database, tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "sources.toml"
    plan = plan_connectors(store, Config.load(sources_file=str(missing)))
    # Never the simulator: demo data must not land in a store meant for real sources.
    assert plan.connectors == []
    [problem] = plan.problems
    assert f"IOC_SOURCES_FILE names {missing}, which does not exist" in problem
    assert str(missing) in printed(plan)[1]


def test_a_broken_sources_file_names_the_file_and_the_line_and_runs_nothing(store: Database, tmp_path: Path) -> None:
    path = sources_file(tmp_path, '[sources.simulator]\nkind = "simulator"\ninterval_seconds = \n')
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert plan.connectors == []
    [problem] = plan.problems
    assert problem.startswith(f"sources file {path}: ") and "line 3" in problem
    assert "not even the simulator" in problem


# -- a file present -------------------------------------------------------------------------------------


def test_the_sources_file_builds_each_source_and_its_simulator_table_replaces_the_defaults(
    store: Database, tmp_path: Path
) -> None:
    path = sources_file(
        tmp_path, '[sources.simulator]\nkind = "simulator"\ninterval_seconds = 9\nbackfill_days = 2\n\n' + drop_source(tmp_path)
    )
    plan = plan_connectors(store, Config.load(sources_file=str(path), simulator_interval_seconds=5, simulator_backfill_days=120))
    assert plan.problems == []
    by_name = {connector.name: connector for connector in plan.connectors}
    assert set(by_name) == {"simulator", "offices"}  # one simulator, the file's, not a second from the settings
    assert isinstance(by_name["offices"], FileDropConnector)
    assert plan.intervals == {"simulator": 9, "offices": 1}
    # The file's backfill, not the settings' 120 days, decides how much history the simulator writes.
    assert run_once(store, by_name["simulator"])
    days = store.scalar("SELECT date_diff('day', min(received_at), max(received_at)) FROM dossiers WHERE source = 'simulator'")
    assert days is not None and days <= 3


def test_the_scheduler_runs_every_source_of_the_file_on_its_interval(
    store: Database, tmp_path: Path, scheduler_stopper: list
) -> None:
    path = sources_file(
        tmp_path, '[sources.simulator]\nkind = "simulator"\ninterval_seconds = 2\nbackfill_days = 1\n\n' + drop_source(tmp_path)
    )
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    scheduler_stopper.append(start_scheduler(store, plan.connectors))
    # The simulator's first run is done before start returns (the first page must have data).
    assert store.scalar("SELECT count(*) FROM dossiers WHERE source = 'simulator'") > 0
    simulator_success = health_of(store, "simulator")["last_success_at"]

    dropped = drop_csv(tmp_path, "PA-SCHED-1", "PA-SCHED-2")  # after start: only a scheduled run can pick it up
    assert wait_for(lambda: store.scalar("SELECT count(*) FROM hotline_tickets WHERE ticket_id LIKE 'PA-SCHED-%'") == 2)
    # The file moves once its last batch is committed, a moment after its rows show.
    assert wait_for(lambda: not dropped.exists() and (tmp_path / "drop" / "processed" / "export.csv").exists())
    # The simulator keeps running on its own interval beside the file-drop source.
    assert wait_for(lambda: health_of(store, "simulator")["last_success_at"] != simulator_success)


def test_a_source_that_cannot_start_is_named_with_the_fix_and_the_others_still_run(
    store: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    path = sources_file(
        tmp_path,
        drop_source(tmp_path)
        + f'\n[sources.onestop]\nkind = "sql"\nurl = "postgresql+psycopg://reader@db/motcua"\npassword_env = "{SECRET_VARIABLE}"\n'
        + '\n[sources.ftp]\nkind = "ftp"\n'
        + f'\n[sources.scans]\nkind = "file_drop"\ninterval_seconds = 60\nfolder = "{tmp_path}"\nmapping = "{tmp_path}/nope.toml"\n',
    )
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert [connector.name for connector in plan.connectors] == ["offices"]
    out, err = printed(plan)
    problems = "\n".join(plan.problems)
    assert f"environment variable {SECRET_VARIABLE} is not set" in problems
    assert "source 'ftp': kind must be one of" in problems
    assert f"source 'scans' (kind file_drop): mapping file {tmp_path / 'nope.toml'} not found" in problems
    assert all(problem.startswith(f"{path}: ") for problem in plan.problems)  # every message names the file
    assert "onestop" in err and "ftp" in err and "scans" in err and "the other sources still run" in err
    assert "offices (1 s)" in out

    # Stored as each source's error, so /health and the pages say it too; a declared interval marks it stale.
    for name in ("onestop", "ftp", "scans"):
        item = health_of(store, name)
        assert item["last_success_at"] is None and name in item["last_error"]
        assert source_status(item) == "error"
    assert plan.intervals == {"offices": 1, "scans": 60, "onestop": 300, "ftp": 300}  # 300: the default interval
    assert all(item["stale"] for item in connector_health(store, plan.intervals) if item["connector"] != "offices")

    drop_csv(tmp_path, "PA-OK-1")
    assert run_once(store, plan.connectors[0])
    assert store.scalar("SELECT count(*) FROM hotline_tickets WHERE ticket_id = 'PA-OK-1'") == 1


def test_a_password_written_in_a_url_is_refused_and_never_stored_or_printed(store: Database, tmp_path: Path) -> None:
    path = sources_file(
        tmp_path,
        '[sources.api]\nkind = "json_http"\nurl = "http://admin:s3cr3t@127.0.0.1:59999/api"\n'
        'mapping = "mappings/gopy_danang.toml"\n',
    )
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert plan.connectors == []
    out, err = printed(plan)
    error = health_of(store, "api")["last_error"]
    assert "url must not carry a user name or password" in error and "password_env" in error
    # /health serves last_error to anyone: neither it nor the console may show the password.
    assert "s3cr3t" not in error + out + err + "".join(plan.problems)


def test_a_missing_secret_does_not_hide_the_variable_once_it_is_set(
    store: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = f'[sources.onestop]\nkind = "sql"\nurl = "sqlite:///{tmp_path}/none.db"\npassword_env = "{SECRET_VARIABLE}"\n'
    path = sources_file(tmp_path, text)
    monkeypatch.setenv(SECRET_VARIABLE, "s3cret")
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert (plan.problems, [connector.name for connector in plan.connectors]) == ([], ["onestop"])


def test_one_simulator_only_and_the_setting_still_switches_it_off(store: Database, tmp_path: Path) -> None:
    path = sources_file(
        tmp_path,
        '[sources.simulator]\nkind = "simulator"\nbackfill_days = 1\n\n[sources.demo]\nkind = "simulator"\nbackfill_days = 1\n',
    )
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert [connector.name for connector in plan.connectors] == ["simulator"]
    [problem] = plan.problems
    assert "source 'demo' is a second simulator" in problem

    off = plan_connectors(store, Config.load(sources_file=str(path), simulator_enabled=False))
    assert off.connectors == [] and off.problems == []
    assert any("IOC_SIMULATOR_ENABLED is false" in note for note in off.notes)


def store_real_tickets(store: Database, tmp_path: Path, *tickets: str) -> str:
    """Run a file-drop source once over a dropped export: real rows in the store; returns their source name."""
    plan = plan_connectors(store, Config.load(sources_file=str(sources_file(tmp_path, drop_source(tmp_path)))))
    drop_csv(tmp_path, *tickets)
    [offices] = plan.connectors
    assert run_once(store, offices)
    [(source, count)] = store.execute("SELECT source, count(*) FROM hotline_tickets GROUP BY source")
    assert count == len(tickets)
    return str(source)


def test_the_default_simulator_stays_off_on_a_store_holding_real_rows(
    store: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = store_real_tickets(store, tmp_path, "PA-REAL-1", "PA-REAL-2")
    missing_default = tmp_path / "config" / "sources.toml"
    monkeypatch.setattr(ioc.scheduler, "DEFAULT_SOURCES_FILE", missing_default)
    plan = plan_connectors(store, Config.load(sources_file=str(missing_default)))
    # The pages show the imported rows; nothing made up joins them, and the console says why.
    assert (plan.connectors, plan.intervals, plan.problems) == ([], {}, [])
    out, err = printed(plan)
    assert f"The simulator does not run: the store holds rows of other sources ({source}: 2 hotline tickets)" in out
    assert "give it a store of its own (IOC_DB_PATH)" in out and err == ""
    assert store.scalar("SELECT count(*) FROM dossiers") == 0


def test_a_simulator_table_is_refused_on_a_store_holding_real_rows(store: Database, tmp_path: Path) -> None:
    source = store_real_tickets(store, tmp_path, "PA-REAL-3")
    path = sources_file(tmp_path, '[sources.simulator]\nkind = "simulator"\nbackfill_days = 1\n\n' + drop_source(tmp_path))
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    assert [connector.name for connector in plan.connectors] == ["offices"]
    [problem] = plan.problems
    assert (
        f"source 'simulator' (kind simulator): not started: the store holds rows of other sources ({source}: 1 hotline ticket)"
        in problem
    )
    assert "Delete this table" in problem
    # Shown as the source's error wherever sources are shown, until the table goes.
    assert "made-up dossiers" in health_of(store, "simulator")["last_error"]
    # Run by hand (python -m ioc ingest --source simulator builds it the same way): the same answer, nothing written.
    with pytest.raises(
        SourceConfigError, match=re.escape("source 'simulator' (kind simulator): not started: the store holds rows")
    ):
        build_connector(store, load_sources(path)["simulator"])
    assert store.scalar("SELECT count(*) FROM dossiers") == 0


def test_a_simulator_beside_real_sources_is_a_warning_at_start(store: Database, tmp_path: Path) -> None:
    path = sources_file(tmp_path, '[sources.simulator]\nkind = "simulator"\nbackfill_days = 1\n\n' + drop_source(tmp_path))
    out, _ = printed(plan_connectors(store, Config.load(sources_file=str(path))))
    assert "WARNING: the simulator runs beside offices: its made-up rows count in the same figures" in out
    alone = sources_file(tmp_path, '[sources.simulator]\nkind = "simulator"\nbackfill_days = 1\n')
    assert "WARNING" not in printed(plan_connectors(store, Config.load(sources_file=str(alone))))[0]


# -- running ----------------------------------------------------------------------------------------------


class FailingSource:
    """A source whose every call fails, as an unreachable server does."""

    name = "down"
    interval_seconds = 1

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        raise SourceError("HTTP 503 from GET https://down.example/api")
        yield


def test_a_source_failing_at_every_run_does_not_stop_the_others(store: Database, tmp_path: Path, scheduler_stopper: list) -> None:
    path = sources_file(tmp_path, drop_source(tmp_path))
    plan = plan_connectors(store, Config.load(sources_file=str(path)))
    scheduler_stopper.append(start_scheduler(store, [FailingSource(), *plan.connectors]))
    assert wait_for(lambda: health_of(store, "down").get("consecutive_failures", 0) >= 2)
    drop_csv(tmp_path, "PA-BESIDE-1")
    assert wait_for(lambda: store.scalar("SELECT count(*) FROM hotline_tickets WHERE ticket_id = 'PA-BESIDE-1'") == 1)
    down = health_of(store, "down")
    assert down["last_error"] == "HTTP 503 from GET https://down.example/api"
    assert health_of(store, "offices")["last_error"] is None


class RetryingSource:
    """A source that cannot be reached and waits ten minutes between attempts, as a long backoff does."""

    name = "unreachable"
    interval_seconds = 3600

    def __init__(self, delay: float = 600) -> None:
        self.attempts = 0
        self.retry = RetryPolicy(attempts=3, base_delay=delay, max_delay=delay)

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        def attempt() -> None:
            self.attempts += 1
            raise SourceError("cannot reach GET https://unreachable.example/api")

        self.retry.call(attempt, "unreachable: GET /api")
        yield from ()


def test_stopping_does_not_wait_out_a_sources_backoff_nor_blame_the_source(store: Database, scheduler_stopper: list) -> None:
    source = RetryingSource()
    scheduler = start_scheduler(store, [source])
    assert wait_for(lambda: source.attempts == 1)  # its first attempt failed: now in a 600 s wait
    stopper = threading.Thread(target=stop_scheduler, args=(scheduler,))
    stopper.start()
    stopper.join(timeout=60)  # far less than the backoff it was in
    assert not stopper.is_alive()
    assert source.attempts == 1  # given up, not tried again
    # Once stopped, retries work again where no scheduler runs (the CLI's ingest in this process, say).
    once_more = RetryingSource(delay=0.01)
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        list(once_more.batches(None))
    # Stopping is nobody's fault: no failed run, no error on show after the next start.
    assert health_of(store, "unreachable") == {}
    # The next start retries and fails as usual: the stop is not left standing for the scheduler after it.
    scheduler_stopper.append(start_scheduler(store, [failing := RetryingSource(delay=0.01)]))
    assert wait_for(lambda: health_of(store, "unreachable").get("consecutive_failures") == 1)
    assert failing.attempts == 3
    assert health_of(store, "unreachable")["last_error"].endswith("(gave up after 3 attempts)")
