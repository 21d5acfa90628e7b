"""``python -m ioc import``: canonical CSVs in, counts out, bad rows rejected, unreadable files a clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from ioc.config import PROJECT_ROOT

HEADER = "dossier_id,unit_code,procedure_code,channel,received_at,due_at,finished_at,status,updated_at,citizen_phone\n"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ioc", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


def test_import_dossiers_counts_rows_and_rejects_bad_ones(tmp_path: Path) -> None:
    csv_path = tmp_path / "dossiers.csv"
    csv_path.write_text(
        HEADER
        + "H1,20194,,online,2025-11-03T08:00:00,2025-11-05T17:00:00,,4,2025-11-03T08:00:00,0905000000\n"
        + "H2,20197,,in_person,2025-11-03 09:00:00+07:00,,2025-11-04T10:00:00,resolved,2025-11-04T10:00:00,\n"
        + "H3,12345,,online,2025-11-03T08:00:00,,,4,,\n"
        + "H4,20194,,fax,2025-11-03T08:00:00,,,4,,\n",
        encoding="utf-8-sig",
    )
    db_path = tmp_path / "new-store.duckdb"
    proc = run_cli("--db", str(db_path), "import", "dossiers", str(csv_path))
    assert proc.returncode == 0, proc.stderr
    assert "4 rows read, 2 upserted, 2 rejected" in proc.stdout
    # Each reject with the line to correct and the row's key first (line 1 is the header).
    assert "  line 5 (H4): channel: 'fax' is not one of online, in_person, postal\n" in proc.stdout
    assert "  line 4 (H3): unit_code: '12345' is not a known unit\n" in proc.stdout
    assert f"note: a new store was created at {db_path}" in proc.stderr
    again = run_cli("--db", str(db_path), "import", "dossiers", str(csv_path))
    assert "0 upserted" in again.stdout and "new store" not in again.stderr
    with duckdb.connect(str(db_path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM units").fetchall() == [(94,)]
        assert conn.execute("SELECT dossier_id, status FROM dossiers ORDER BY 1").fetchall() == [
            ("H1", "processing"),
            ("H2", "resolved"),
        ]
        assert conn.execute("SELECT count(*) FROM rejects").fetchall() == [(2,)]


def test_a_file_that_cannot_be_read_exits_non_zero_with_a_message(tmp_path: Path) -> None:
    missing = run_cli("--db", str(tmp_path / "s.duckdb"), "import", "hotline", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert missing.stderr == f"error: cannot read {tmp_path / 'nope.csv'}: no such file\n"
    assert not (tmp_path / "s.duckdb").exists()  # said before any store is created
    no_key = tmp_path / "no_key.csv"
    no_key.write_text("unit_code,status\n20194,new\n", encoding="utf-8")
    proc = run_cli("--db", str(tmp_path / "s.duckdb"), "import", "hotline", str(no_key))
    assert proc.returncode == 1
    assert "no 'ticket_id'" in proc.stderr  # the message lists every missing key column


def test_help_lists_every_command() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("import", "kpi"):
        assert command in proc.stdout


def test_a_long_import_says_what_it_is_doing_on_stderr(tmp_path: Path) -> None:
    rows = 120_000  # three batches on the row-by-row path; over 1 MiB, so the bulk path for dossiers
    body = "".join(f"H{n},20194,,online,2025-11-03T08:00:00,,,4,2025-11-03T08:00:00,\n" for n in range(rows))
    csv_path = tmp_path / "dossiers.csv"
    csv_path.write_text(HEADER + body, encoding="utf-8")
    bulk = run_cli("--db", str(tmp_path / "bulk.duckdb"), "import", "dossiers", str(csv_path))
    assert bulk.returncode == 0, bulk.stderr
    assert "read and checked by DuckDB: 120,000 rows; storing them in one transaction" in bulk.stderr
    assert f"{rows} rows read, {rows} upserted, 0 rejected (read in bulk by DuckDB)" in bulk.stdout

    hotline = tmp_path / "hotline.csv"
    hotline.write_text(
        "ticket_id,unit_code,status,received_at\n" + "".join(f"T{n},20194,new,2025-11-03T08:00:00\n" for n in range(rows)),
        encoding="utf-8",
    )
    by_rows = run_cli("--db", str(tmp_path / "rows.duckdb"), "import", "hotline", str(hotline))
    assert by_rows.returncode == 0, by_rows.stderr
    assert [line.strip() for line in by_rows.stderr.splitlines() if line.strip().startswith("…") and "/" in line] == [
        "… 50,000 / 120,000", "… 100,000 / 120,000", "… 120,000 / 120,000",
    ]  # fmt: skip
    assert "read 120,000 rows; storing them" in by_rows.stderr


def test_a_file_whose_every_row_is_rejected_warns_and_exits_zero_as_design_says(tmp_path: Path) -> None:
    # DESIGN §6: import exits non-zero only when the file itself cannot be read; the rejects keep every row.
    data = tmp_path / "hotline.csv"
    data.write_text(
        "ticket_id,unit_code,status,received_at\nT-1,99999,new,2025-11-03T08:00:00\nT-2,20194,??,2025-11-03T08:00:00\n"
    )
    proc = run_cli("--db", str(tmp_path / "s.duckdb"), "import", "hotline", str(data))
    assert proc.returncode == 0, proc.stderr
    assert "hotline.csv: 2 rows read, 0 upserted, 2 rejected" in proc.stdout
    assert "warning: every row was rejected (reasons above); nothing was imported" in proc.stderr
    data.write_text(
        "ticket_id,unit_code,status,received_at\nT-1,99999,new,2025-11-03T08:00:00\nT-3,20194,new,2025-11-03T08:00:00\n"
    )
    again = run_cli("--db", str(tmp_path / "s.duckdb"), "import", "hotline", str(data))
    assert again.returncode == 0 and "every row was rejected" not in again.stderr


def test_reading_a_store_that_does_not_exist_is_an_error_not_a_new_empty_store(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "ioc.duckdb"
    for command in (["kpi", "--period", "today"], ["report", "--form", "ii06a", "--period", "this_month", "--output", "-"]):
        proc = run_cli("--db", str(typo), *command)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert (
            proc.stderr == f"error: there is no store at {typo} (check --db or IOC_DB_PATH; an import or the app creates one)\n"
        )
    assert not typo.parent.exists()
    # --db after the command is the same option.
    after = run_cli("kpi", "--db", str(typo), "--period", "today")
    assert after.returncode == 1 and f"there is no store at {typo}" in after.stderr


def test_a_mistyped_target_is_named(tmp_path: Path) -> None:
    proc = run_cli("--db", str(tmp_path / "s.duckdb"), "import", "dossier", str(tmp_path / "d.csv"))
    assert proc.returncode == 2
    assert proc.stderr == "error: 'dossier' is not a target: give dossiers or hotline, then FILE (or --mapping MAPPING FILE)\n"
