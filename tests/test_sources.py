"""The connector framework: sources file and secrets, retries with backoff, stale sources, and `python -m ioc ingest`."""

from __future__ import annotations

import re
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


def test_every_source_of_the_example_file_builds_its_connector(store: Database) -> None:
    # Every option the example shows passes the checks, so a copied table starts as written.
    sources = load_sources(EXAMPLE, environ={"IOC_SRC_ONESTOP_PASSWORD": "s3cret", "IOC_SRC_GOPY_PASSWORD": "g"})
    built = {name: type(build_connector(store, source)).__name__ for name, source in sources.items()}
    assert built == {
        "simulator": "Simulator",
        "onestop": "SqlConnector",
        "boston311": "Open311Connector",
        "gopy": "JsonHttpConnector",
        "offices": "FileDropConnector",
    }


def test_a_missing_secret_names_its_variable() -> None:
    with pytest.raises(SourceConfigError, match="environment variable IOC_SRC_ONESTOP_PASSWORD is not set"):
        load_sources(EXAMPLE, environ={})


def test_a_secret_written_in_the_file_is_refused() -> None:
    with pytest.raises(SourceConfigError, match="'password' may not be written in the sources file"):
        parse_sources({"sources": {"db": {"kind": "sql", "url": "sqlite://", "password": "x"}}}, environ={})


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(SourceConfigError, match="kind must be one of file_drop, json_http, open311, simulator, sql"):
        parse_sources({"sources": {"x": {"kind": "ftp"}}}, environ={})
    with pytest.raises(
        SourceConfigError, match=re.escape("source 'x': needs kind = \"…\", one of file_drop, json_http, open311")
    ):
        parse_sources({"sources": {"x": {"interval_seconds": 5}}}, environ={})


def test_a_secret_set_but_empty_is_named_as_empty() -> None:
    with pytest.raises(SourceConfigError, match="environment variable IOC_SRC_ONESTOP_PASSWORD is set but empty"):
        load_sources(EXAMPLE, environ={"IOC_SRC_ONESTOP_PASSWORD": "", "IOC_SRC_GOPY_PASSWORD": "g"})


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
    assert health["last_error"] == "HTTP 500 from GET …"
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
    assert f"no source 'nope' in {sources}; it declares: simulator" in capsys.readouterr().err


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


# -- every option of every kind is checked when the file is read ---------------------------------------

BASE_OPTIONS: dict[str, dict[str, object]] = {
    "simulator": {},
    "sql": {"url": "sqlite:///none.db"},
    "open311": {"base_url": "https://311.example.org/open311/v2"},
    "json_http": {"url": "https://api.example.org/items", "mapping": "mappings/gopy_danang.toml"},
    "file_drop": {"folder": "data/drop/offices", "target": "hotline"},
}


def parsed(kind: str, **options: object) -> dict:
    """A file with one source x of ``kind``: its base options, changed by ``options`` (None drops one)."""
    table = {"kind": kind, **BASE_OPTIONS[kind], **options}
    return {"sources": {"x": {key: value for key, value in table.items() if value is not None}}}


@pytest.mark.parametrize(
    ("kind", "typo", "allowed"),
    [
        ("simulator", {"sead": 1}, "backfill_days, seed"),
        ("sql", {"tabel": "hs"}, "password_env"),
        ("sql", {"colums": {"dossier_id": "a"}}, "columns"),
        ("open311", {"bakfill_days": 5}, "backfill_days"),
        ("open311", {"mapping": "mappings/boston_open311.toml"}, "base_url"),
        ("json_http", {"timeout": 5}, "timeout_seconds"),
        ("file_drop", {"watch": True}, "settle_seconds"),
    ],
)
def test_every_kind_refuses_an_option_it_does_not_read_and_lists_those_it_does(
    kind: str, typo: dict[str, object], allowed: str
) -> None:
    # A typo'd option would otherwise fall back to its default without a word (tabel → ho_so).
    [name] = typo
    with pytest.raises(
        SourceConfigError, match=f"source 'x' \\(kind {kind}\\): unknown option\\(s\\) {name}; allowed: "
    ) as error:
        parse_sources(parsed(kind, **typo), environ={})
    assert allowed in str(error.value)


def test_a_misspelt_option_is_answered_with_the_one_it_resembles() -> None:
    with pytest.raises(SourceConfigError) as error:
        parse_sources(parsed("open311", base_url="http://x/v2", page_sise=50, colour="red"), environ={})
    assert str(error.value).endswith("; did you mean page_size for page_sise?")  # colour resembles nothing: no guess


def test_a_secret_option_is_allowed_and_listed_under_its_env_name() -> None:
    config = parse_sources(parsed("sql", password_env="IOC_TEST_PW"), environ={"IOC_TEST_PW": "pw"})["x"]
    assert config.option("password") == "pw"
    with pytest.raises(SourceConfigError) as error:
        parse_sources(parsed("open311", token_env="IOC_TEST_PW"), environ={"IOC_TEST_PW": "pw"})
    assert "unknown option(s) token_env" in str(error.value)  # open311 sends no credentials
    with pytest.raises(SourceConfigError) as error:
        parse_sources(parsed("sql", tabel="hs"), environ={})
    assert "password_env" in str(error.value) and "password," not in str(error.value)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("simulator", {"seed": "abc"}, "seed must be a whole number, not 'abc'"),
        ("simulator", {"backfill_days": -1}, "backfill_days must be a whole number ≥ 0, not -1"),
        ("sql", {"page_size": "100"}, "page_size must be a whole number ≥ 1, not '100'"),
        ("sql", {"table": 5}, "table must be text in quotes, not 5"),
        ("sql", {"columns": {"dossier_id": 1}}, 'columns must be a table of key = "text"'),
        ("open311", {"page_size": True}, "page_size must be a whole number ≥ 1, not True"),
        ("json_http", {"params": "a=b"}, "params must be a table"),
        ("file_drop", {"settle_seconds": -1}, "settle_seconds must be a number ≥ 0, not -1"),
    ],
)
def test_option_types_are_checked_with_the_option_named(kind: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(SourceConfigError, match=f"source 'x' \\(kind {kind}\\): ") as error:
        parse_sources(parsed(kind, **options), environ={})
    assert message in str(error.value)


@pytest.mark.parametrize("kind", ["open311", "json_http"])
@pytest.mark.parametrize("timeout", [0, -5, 0.0])
def test_a_timeout_must_be_positive(kind: str, timeout: float) -> None:
    # 0 makes the socket non-blocking: every request then fails with "Operation now in progress".
    with pytest.raises(SourceConfigError, match=f"timeout_seconds must be a number > 0, not {timeout!r}"):
        parse_sources(parsed(kind, timeout_seconds=timeout), environ={})


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ({"attempts": 0}, "retry attempts must be a whole number ≥ 1, not 0"),
        ({"attempts": 1.5}, "retry attempts must be a whole number ≥ 1, not 1.5"),
        ({"base_delay_seconds": -1}, "retry base_delay_seconds must be a number ≥ 0, not -1"),
        ({"factor": "2"}, "retry factor must be a number ≥ 1, not '2'"),
        ({"tries": 3}, "unknown retry option(s) tries; allowed: attempts, base_delay_seconds, factor, max_delay_seconds"),
    ],
)
def test_retry_options_are_checked(retry: dict[str, object], message: str) -> None:
    with pytest.raises(SourceConfigError) as error:
        parse_sources(parsed("simulator", retry=retry), environ={})
    assert message in str(error.value)


def test_interval_seconds_true_is_not_one_second() -> None:
    with pytest.raises(SourceConfigError, match="interval_seconds must be a whole number"):
        parse_sources(parsed("simulator", interval_seconds=True), environ={})


@pytest.mark.parametrize(("kind", "option"), [("open311", "base_url"), ("json_http", "url")])
@pytest.mark.parametrize("url", ["not a url", "ftp://files.example.org/x", "https://", "api.example.org/items", "http://h:port/"])
def test_a_web_source_needs_an_http_url_with_a_host(kind: str, option: str, url: str) -> None:
    with pytest.raises(SourceConfigError, match=f"{option} (must be an http:// or https:// address|is not a web address)"):
        parse_sources(parsed(kind, **{option: url}), environ={})


@pytest.mark.parametrize(("kind", "option"), [("open311", "base_url"), ("json_http", "url")])
def test_a_url_with_a_user_and_password_is_refused_without_showing_the_password(kind: str, option: str) -> None:
    url = "http://admin:s3cr3t@127.0.0.1:59999/api"
    with pytest.raises(SourceConfigError, match="must not carry a user name or password") as error:
        parse_sources(parsed(kind, **{option: url}), environ={})
    assert "s3cr3t" not in str(error.value) and "admin" not in str(error.value)
    if kind == "json_http":
        assert 'password_env = "VARIABLE"' in str(error.value)


def test_a_url_from_the_environment_is_checked_too() -> None:
    with pytest.raises(SourceConfigError, match="url must not carry a user name or password"):
        parse_sources(parsed("json_http", url_env="IOC_TEST_URL"), environ={"IOC_TEST_URL": "https://u:p@api.example.org/"})


def test_a_directory_given_as_the_sources_file_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match=f"sources file {tmp_path} is a directory, not a file"):
        load_sources(tmp_path)


# -- what only building the connector can check ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["file_drop", "json_http"])
def test_a_missing_or_invalid_mapping_is_a_source_error_naming_the_source(store: Database, tmp_path: Path, kind: str) -> None:
    missing = tmp_path / "nope.toml"
    extra = {"target": None} if kind == "file_drop" else {}
    with pytest.raises(SourceConfigError, match=f"source 'x' \\(kind {kind}\\): mapping file {missing} not found"):
        build_connector(store, parse_sources(parsed(kind, mapping=str(missing), **extra), environ={})["x"])
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("target = \n", encoding="utf-8")
    with pytest.raises(SourceConfigError, match=f"source 'x' \\(kind {kind}\\): mapping {invalid} is not valid TOML"):
        build_connector(store, parse_sources(parsed(kind, mapping=str(invalid), **extra), environ={})["x"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "not a url"}, "url is not a SQLAlchemy database URL"),
        ({"timezone": "Mars/Base"}, "timezone 'Mars/Base' is not a known IANA time zone"),
        ({"history": {"table": "h", "tabel": "x"}}, "[history] unknown option(s) tabel; allowed: table, dossier_id"),
        ({"history": {"status": "s"}}, '[history] needs table = "…"'),
        ({"columns": {"dosier_id": "a"}}, "[columns] has no canonical dossier column named dosier_id; use dossier_id"),
    ],
)
def test_a_sql_source_checks_its_url_zone_history_and_columns(store: Database, options: dict, message: str) -> None:
    with pytest.raises(SourceConfigError, match="source 'x' \\(kind sql\\): ") as error:
        build_connector(store, parse_sources(parsed("sql", **options), environ={})["x"])
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("open311", {"window_days": 120}, "window_days must be 1-90"),
        ("json_http", {"pagination": "pages"}, "pagination must be one of none, page, next"),
    ],
)
def test_an_option_a_connector_refuses_names_the_source(store: Database, kind: str, options: dict, message: str) -> None:
    with pytest.raises(SourceConfigError, match=f"source 'x' \\(kind {kind}\\): {message}"):
        build_connector(store, parse_sources(parsed(kind, **options), environ={})["x"])
