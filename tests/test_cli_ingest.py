"""``python -m ioc ingest``: one source runs whatever the file's other tables hold, and user mistakes are one line, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ioc import cli
from ioc.config import PROJECT_ROOT

MISSING_VARIABLE = "IOC_TEST_CLI_INGEST_NOT_SET"


def write_sources(folder: Path, text: str) -> Path:
    path = folder / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def ingest(tmp_path: Path, sources: Path, name: str) -> int:
    return cli.main(["--db", str(tmp_path / "store.duckdb"), "ingest", "--source", name, "--sources", str(sources)])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it: what the logging setup prints only shows outside pytest."""
    return subprocess.run([sys.executable, "-m", "ioc", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


def one_error_line(err: str) -> str:
    """The single line a user mistake prints (a traceback has many)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def mixed_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A good file-drop source beside a missing secret and an unknown kind."""
    monkeypatch.delenv(MISSING_VARIABLE, raising=False)
    (tmp_path / "drop").mkdir()
    return write_sources(
        tmp_path,
        f'[sources.offices]\nkind = "file_drop"\nfolder = "{tmp_path / "drop"}"\ntarget = "hotline"\n\n'
        f'[sources.onestop]\nkind = "sql"\nurl = "postgresql+psycopg://reader@db/motcua"\npassword_env = "{MISSING_VARIABLE}"\n\n'
        '[sources.ftp]\nkind = "ftp"\n',
    )


def test_a_source_runs_though_other_tables_cannot_start(
    tmp_path: Path, mixed_sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest(tmp_path, mixed_sources, "offices") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("offices: 0 rows read")
    assert captured.err == f"note: a new store was created at {tmp_path / 'store.duckdb'}\n"


def test_a_source_that_cannot_start_fails_with_its_own_problem_only(
    tmp_path: Path, mixed_sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest(tmp_path, mixed_sources, "onestop") == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"source 'onestop': environment variable {MISSING_VARIABLE} is not set" in line and "ftp" not in line


def test_an_unknown_source_lists_the_declared_ones_and_why_some_cannot_be_used(
    tmp_path: Path, mixed_sources: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest(tmp_path, mixed_sources, "ofices") == 2
    first, *problems = capsys.readouterr().err.strip().splitlines()
    assert first == f"error: no source 'ofices' in {mixed_sources}; it declares: ftp, offices, onestop"
    assert len(problems) == 2
    assert any(f"environment variable {MISSING_VARIABLE} is not set" in problem for problem in problems)
    assert any("source 'ftp': kind must be one of" in problem for problem in problems)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "file_drop"\nfolder = "{tmp}"\nmapping = "{tmp}/nope.toml"\n', "mapping file {tmp}/nope.toml not found"),
        ('kind = "file_drop"\nfolder = "{tmp}"\nmapping = "{tmp}/sources.toml"\n', "mapping {tmp}/sources.toml: "),
        ('kind = "json_http"\nurl = "http://127.0.0.1:9/api"\nmapping = "{tmp}/nope.toml"\n', "mapping file {tmp}/nope.toml"),
        ('kind = "open311"\nbase_url = "not a url"\n', "base_url must be an http:// or https:// address"),
        ('kind = "simulator"\nseed = "abc"\n', "seed must be a whole number, not 'abc'"),
        ('kind = "sql"\nurl = "sqlite:///none.db"\ntabel = "hs"\n', "unknown option(s) tabel; allowed: "),
        ('kind = "open311"\nbase_url = "https://311.example.org/v2"\ntimeout_seconds = 0\n', "timeout_seconds must be"),
    ],
)
def test_a_mistake_in_the_sources_file_is_one_line_naming_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    sources = write_sources(tmp_path, "[sources.x]\n" + table.format(tmp=tmp_path))
    assert ingest(tmp_path, sources, "x") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "source 'x' (kind " in line and message.format(tmp=tmp_path) in line


def test_a_password_in_a_url_is_refused_and_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = write_sources(
        tmp_path,
        '[sources.api]\nkind = "json_http"\nurl = "http://admin:s3cr3t@127.0.0.1:59999/api"\nmapping = "mappings/gopy_danang.toml"\n',
    )
    assert ingest(tmp_path, sources, "api") == 2
    line = one_error_line(capsys.readouterr().err)
    assert "must not carry a user name or password" in line and "password_env" in line and "s3cr3t" not in line


def test_a_directory_as_the_sources_file_is_named_as_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest(tmp_path, tmp_path, "x") == 2
    assert f"sources file {tmp_path} is a directory, not a file" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", [["kpi", "--period", "today"], ["ingest", "--source", "x"]])
def test_a_db_that_is_not_a_duckdb_store_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    not_a_store = write_sources(tmp_path, '[sources.x]\nkind = "simulator"\n')
    before = not_a_store.read_bytes()
    assert cli.main(["--db", str(not_a_store), *command]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == f"error: --db {not_a_store} is not a DuckDB store (give a .duckdb file, or a new path to create one)"
    assert not_a_store.read_bytes() == before
    assert cli.main(["--db", str(tmp_path), *command]) == 1
    assert f"--db {tmp_path} is a directory" in one_error_line(capsys.readouterr().err)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_failing_source_prints_its_error_once_after_one_warning_per_retry(tmp_path: Path, attempts: int) -> None:
    sources = write_sources(
        tmp_path,
        f'[sources.api]\nkind = "json_http"\nurl = "http://127.0.0.1:{closed_port()}/api"\n'
        f'mapping = "mappings/gopy_danang.toml"\n[sources.api.retry]\nattempts = {attempts}\nbase_delay_seconds = 0\n',
    )
    proc = run_cli("--db", str(tmp_path / "store.duckdb"), "ingest", "--source", "api", "--sources", str(sources))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == attempts, proc.stderr
    assert all(line.startswith("warning: ") and "retrying" in line for line in lines[:-1])
    assert lines[-1].startswith("error: source api failed: JSON source api: cannot reach GET http://127.0.0.1:")
    assert lines[-1].endswith(f"(gave up after {attempts} attempts)")


def test_a_dropped_file_that_cannot_be_read_is_named_and_the_exit_code_says_so(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "empty.csv").write_text("", encoding="utf-8")
    (drop / "good.csv").write_text(
        "ticket_id,unit_code,status,received_at\nT-1,20194,new,2025-11-03T08:00:00\n", encoding="utf-8"
    )
    sources = write_sources(
        tmp_path, f'[sources.offices]\nkind = "file_drop"\nfolder = "{drop}"\ntarget = "hotline"\nsettle_seconds = 0\n'
    )
    proc = run_cli("--db", str(tmp_path / "store.duckdb"), "ingest", "--source", "offices", "--sources", str(sources))
    assert proc.returncode == 1, proc.stderr
    # The good file landed; the empty one is named with why and where it went, once.
    assert proc.stdout.startswith("offices: 1 rows read, 1 upserted, 0 rejected, 1 file(s) refused (moved to failed/)")
    assert proc.stderr.count("empty.csv is empty (file moved to failed/empty.csv)") == 1, proc.stderr
    assert "error: 1 file(s) could not be imported and were moved to failed/" in proc.stderr
    assert sorted(path.name for path in (drop / "failed").iterdir()) == ["empty.csv", "empty.csv.report.txt"]


def test_a_file_still_settling_is_named_instead_of_a_silent_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    sources = write_sources(tmp_path, f'[sources.offices]\nkind = "file_drop"\nfolder = "{drop}"\ntarget = "hotline"\n')
    fresh = drop / "fresh.csv"
    fresh.write_text("ticket_id,unit_code,status,received_at\nT-1,20194,new,2025-11-03T08:00:00\n", encoding="utf-8")
    assert ingest(tmp_path, sources, "offices") == 0
    out = capsys.readouterr().out
    assert out.startswith("offices: 0 rows read")
    assert "note: 1 file(s) changed in the last 5 s (settle_seconds) are left for the next run" in out
    assert out.rstrip().endswith(": fresh.csv") and fresh.exists()
    # Once it has settled, the next run takes it, and says nothing more.
    old = fresh.stat().st_mtime - 60
    os.utime(fresh, (old, old))
    assert ingest(tmp_path, sources, "offices") == 0
    out = capsys.readouterr().out
    assert out.startswith("offices: 1 rows read, 1 upserted") and "note:" not in out


def test_a_source_whose_every_row_is_rejected_exits_1_and_from_start_reads_it_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.json_http_server import GopyServer

    mapping = (PROJECT_ROOT / "mappings" / "gopy_danang.toml").read_text(encoding="utf-8")
    wrong = tmp_path / "gopy.toml"
    # A typo'd unit column: every record lacks its unit, so every row is rejected and the cursor moves past them.
    wrong.write_text(mapping.replace('unit_code = "coQuanQuanLy.ten"', 'unit_code = "coQuanQuanLy.tenn"'), encoding="utf-8")
    monkeypatch.setenv("IOC_TEST_GOPY_PASSWORD", "secret")
    server = GopyServer(basic=("ioc", "secret")).start()
    try:
        sources = write_sources(
            tmp_path,
            f'[sources.gopy]\nkind = "json_http"\nurl = "{server.url}"\nmapping = "{wrong}"\nrecords_path = "data.items"\n'
            'cursor_param = "updated_since"\npagination = "page"\nusername = "ioc"\npassword_env = "IOC_TEST_GOPY_PASSWORD"\n',
        )
        assert ingest(tmp_path, sources, "gopy") == 1
        assert "every row was rejected" in capsys.readouterr().err
        # Read again on purpose while still wrong: the same rejects (recorded once) still make it a failure.
        assert cli.main(["--db", str(tmp_path / "store.duckdb"), "ingest", "--source", "gopy", "--sources", str(sources),
                         "--from-start"]) == 1  # fmt: skip
        assert "every row was rejected" in capsys.readouterr().err
        with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM rejects").fetchall() == [(12,)]

        wrong.write_text(mapping, encoding="utf-8")  # corrected
        assert ingest(tmp_path, sources, "gopy") == 0
        assert "gopy: 0 rows read" in capsys.readouterr().out  # the cursor is past them
        assert cli.main(["--db", str(tmp_path / "store.duckdb"), "ingest", "--source", "gopy", "--sources", str(sources),
                         "--from-start"]) == 0  # fmt: skip
        captured = capsys.readouterr()
        assert "cursor forgotten" in captured.err and "gopy: 12 rows read, 12 upserted, 0 rejected" in captured.out
    finally:
        server.stop()
