"""The connector framework: sources file and secrets, retries with backoff, stale sources, and `python -m ioc ingest`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import DOSSIERS, HOTLINE, Batch, RetryPolicy, SourceError, Stream, ingest_batches
from connectors.sources import SourceConfigError, build_connector, load_sources, parse_sources
from ioc import cli
from ioc.db import Database
from ioc.health import connector_health
from ioc.timeutil import now_utc

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "sources.example.toml"


def test_the_example_sources_file_loads_with_its_secrets_from_the_environment() -> None:
    sources = load_sources(EXAMPLE, environ={"IOC_SRC_ONESTOP_PASSWORD": "s3cret", "IOC_SRC_GOPY_PASSWORD": "g"})
    assert set(sources) == {"simulator", "onestop", "boston311", "gopy", "offices"}
    assert sources["gopy"].option("password") == "g"
    onestop = sources["onestop"]
    assert (onestop.kind, onestop.interval_seconds, onestop.option("password")) == ("sql", 300, "s3cret")
    assert "password_env" not in onestop.options
    assert onestop.retry.attempts == 4 and onestop.retry.delay(3) == 4.0


def test_a_missing_secret_names_its_variable() -> None:
    with pytest.raises(SourceConfigError, match="environment variable IOC_SRC_ONESTOP_PASSWORD is not set"):
        load_sources(EXAMPLE, environ={})


def test_a_secret_written_in_the_file_is_refused() -> None:
    with pytest.raises(SourceConfigError, match="'password' may not be written in the sources file"):
        parse_sources({"sources": {"db": {"kind": "sql", "url": "sqlite://", "password": "x"}}}, environ={})


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(SourceConfigError, match="kind must be one of file_drop, json_http, open311, simulator, sql"):
        parse_sources({"sources": {"x": {"kind": "ftp"}}}, environ={})


def test_retries_back_off_exponentially_up_to_a_bound_and_stop() -> None:
    waits: list[float] = []
    calls = 0

    def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise SourceError("HTTP 503")
        return "ok"

    policy = RetryPolicy(attempts=4, base_delay=1.0, factor=2.0, max_delay=3.0, sleep=waits.append)
    assert policy.call(flaky, "test") == "ok"
    assert waits == [1.0, 2.0, 3.0]
    with pytest.raises(SourceError, match="HTTP 503 \\(gave up after 4 attempts\\)"):
        policy.call(lambda: (_ for _ in ()).throw(SourceError("HTTP 503")), "test")


def test_a_stream_declares_only_merge_on_real_columns() -> None:
    assert Stream(HOTLINE, tie_breaker="ticket_id").primary_key == "ticket_id"
    with pytest.raises(ValueError, match="write_mode"):
        Stream(DOSSIERS, write_mode="append")
    with pytest.raises(ValueError, match="not a column"):
        Stream(DOSSIERS, cursor_field="modified")


def test_a_connector_that_keeps_failing_is_marked_stale(store: Database) -> None:
    def failing() -> Iterator[Batch]:
        raise SourceError("HTTP 500 from GET …")
        yield  # a generator: the error comes while ingesting, as from a real source

    ingest_batches(store, "hotline", [])  # one success
    for _ in range(3):
        with pytest.raises(SourceError):
            ingest_batches(store, "hotline", failing())
    [health] = connector_health(store, now=now_utc() + timedelta(seconds=1))
    assert (health["consecutive_failures"], health["failing"], health["stale"]) == (3, True, True)
    assert health["last_error"] == "SourceError: HTTP 500 from GET …"
    ingest_batches(store, "hotline", [])  # recovered
    [health] = connector_health(store, intervals={"hotline": 60})
    assert (health["consecutive_failures"], health["failing"], health["stale"], health["last_error"]) == (0, False, False, None)


def test_cli_ingest_runs_one_source_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[sources.simulator]\nkind = "simulator"\nbackfill_days = 1\n', encoding="utf-8")
    db_path = tmp_path / "store.duckdb"
    assert cli.main(["--db", str(db_path), "ingest", "--source", "simulator", "--sources", str(sources)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("simulator: ") and "rows read" in out
    assert cli.main(["--db", str(db_path), "ingest", "--source", "nope", "--sources", str(sources)]) == 2
    assert "no source 'nope' in the sources file (it has: simulator)" in capsys.readouterr().err


def test_cli_ingest_names_the_missing_environment_variable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[sources.onestop]\nkind = "sql"\nurl = "postgresql+psycopg://u@h/db"\npassword_env = "IOC_TEST_NOT_SET_PASSWORD"\n',
        encoding="utf-8",
    )
    code = cli.main(["--db", str(tmp_path / "s.duckdb"), "ingest", "--source", "onestop", "--sources", str(sources)])
    assert code == 2
    assert "environment variable IOC_TEST_NOT_SET_PASSWORD is not set" in capsys.readouterr().err


def test_kind_file_drop_builds_the_folder_connector(store: Database, tmp_path: Path) -> None:
    from connectors.files import FileDropConnector

    data = {"sources": {"offices": {"kind": "file_drop", "folder": str(tmp_path), "mapping": "mappings/nyc311.toml"}}}
    source = build_connector(store, parse_sources(data, environ={})["offices"])
    assert isinstance(source, FileDropConnector) and source.name == "offices" and source.folder == tmp_path
    with pytest.raises(SourceConfigError, match="unknown option"):
        parse_and_build = parse_sources({"sources": {"o": {**data["sources"]["offices"], "watch": True}}}, environ={})["o"]
        build_connector(store, parse_and_build)


def test_kind_file_drop_takes_canonical_files_for_a_target_instead_of_a_mapping(store: Database, tmp_path: Path) -> None:
    from connectors.files import FileDropConnector

    def build(**options: object) -> object:
        data = {"sources": {"motcua": {"kind": "file_drop", "folder": str(tmp_path), **options}}}
        return build_connector(store, parse_sources(data, environ={})["motcua"])

    source = build(target="dossiers")
    assert isinstance(source, FileDropConnector) and source.mapping is None and source.target is not None
    assert source.target.name == "dossiers"
    with pytest.raises(SourceConfigError, match="either 'mapping'"):
        build()
    with pytest.raises(SourceConfigError, match="either 'mapping'"):
        build(target="dossiers", mapping="mappings/nyc311.toml")
    with pytest.raises(SourceConfigError, match="not one of"):
        build(target="tickets")
