"""Fault test: SIGKILL an ingest in the middle of a large batch, restart it, and the store holds each source row once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.base import read_cursor
from ioc.config import PROJECT_ROOT
from ioc.store import open_store

ROWS = 200_000
BATCH_ROWS = 25_000

# The ingest process: reads the CSV from the stored cursor (a row offset) in batches through ingest_batches.
INGEST_SCRIPT = """
import csv, sys, time
from itertools import islice
import connectors.base as base
from connectors.base import DOSSIERS, Batch, ingest_batches, read_cursor
from ioc.db import Database

db_path, csv_path, batch_rows, kill_point = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
db = Database(db_path)
start = int(read_cursor(db, "fault") or 0)
write_batch = base.write_batch
written = 0

def announced(*args, **kwargs):
    # write_batch runs inside the batch's transaction: say so at the chosen point of the third batch.
    global written
    written += 1
    if written == 3 and kill_point == "merging":
        print("inside", flush=True)
    result = write_batch(*args, **kwargs)
    if written == 3 and kill_point == "merged":
        print("inside", flush=True)
        time.sleep(300)  # rows, events, aggregates and cursor written, not committed: held here until killed
    return result

base.write_batch = announced

def batches():
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = islice(csv.DictReader(handle), start, None)
        offset = start
        while chunk := list(islice(rows, batch_rows)):
            offset += len(chunk)
            yield Batch(DOSSIERS, chunk, cursor=str(offset))

result = ingest_batches(db, "fault", batches())
db.close()
print(f"done {result.rows_upserted}", flush=True)
"""


def write_source(path: Path) -> None:
    header = "dossier_id,unit_code,status,channel,received_at,due_at,updated_at\n"
    lines = [
        f"H48.20194-2511{(n % 28) + 1:02d}-{n:06d},20194,processing,online,2025-11-03T08:00:00,2025-11-10T17:00:00,2025-11-03T09:00:00\n"
        for n in range(ROWS)
    ]
    path.write_text(header + "".join(lines), encoding="utf-8")


def start_script(script: str, *args: str) -> subprocess.Popen[str]:
    """``script`` in a process of its own (so it can be killed), with the project importable."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_once_it_says(process: subprocess.Popen[str], line: str, delay: float = 0.3) -> None:
    """SIGKILL ``process`` ``delay`` s after it prints ``line`` (it is then inside the transaction that line announces)."""
    assert process.stdout is not None
    for said in process.stdout:
        if said.strip() == line:
            break
    else:
        pytest.fail(f"the process ended before saying {line!r}: {process.stderr.read() if process.stderr else ''}")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def start_ingest(db_path: Path, csv_path: Path, kill_point: str = "none") -> subprocess.Popen[str]:
    return start_script(INGEST_SCRIPT, str(db_path), str(csv_path), str(BATCH_ROWS), kill_point)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kill_point", "delay"),
    [
        ("merging", 0.1),  # while the third batch's rows are being merged (a 25,000-row write takes about a second)
        ("merged", 0.0),  # after everything of the third batch is written, just before its commit (held there)
    ],
)
def test_sigkill_in_the_middle_of_a_batch_then_restart_stores_each_row_once(
    tmp_path: Path, kill_point: str, delay: float
) -> None:
    csv_path = tmp_path / "source.csv"
    write_source(csv_path)
    db_path = tmp_path / "store.duckdb"
    open_store(db_path).close()  # schema and reference units, so the ingest process only writes

    kill_once_it_says(start_ingest(db_path, csv_path, kill_point), "inside", delay)

    with open_store(db_path) as db:
        stored, distinct = db.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers")[0]
        cursor = int(read_cursor(db, "fault") or 0)
        # Exactly the two batches committed before the kill, and the cursor right after them: nothing of the third.
        assert stored == distinct == cursor == 2 * BATCH_ROWS
        assert db.scalar("SELECT count(*) FROM dossier_events") == 2 * BATCH_ROWS
        assert db.scalar("SELECT sum(received) FROM kpi_daily") == 2 * BATCH_ROWS
        assert db.scalar("SELECT sum(rows_upserted) FROM ingest_runs") == 2 * BATCH_ROWS

    process = start_ingest(db_path, csv_path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert out.strip().endswith(f"done {ROWS - cursor}")

    with open_store(db_path) as db:
        assert db.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers")[0] == (ROWS, ROWS)
        assert read_cursor(db, "fault") == str(ROWS)
        expected = {line.split(",", 1)[0] for line in csv_path.read_text(encoding="utf-8").splitlines()[1:]}
        assert {dossier_id for (dossier_id,) in db.execute("SELECT dossier_id FROM dossiers")} == expected
        assert db.scalar("SELECT count(*) FROM rejects") == 0


# `python -m ioc import dossiers FILE` as a user runs it, saying when the bulk write transaction begins.
BULK_IMPORT_SCRIPT = """
import sys
from pathlib import Path
import connectors.base as base
from ioc.cli import main

write_batch = base.write_batch

def announced(*args, **kwargs):
    print("writing", flush=True)
    return write_batch(*args, **kwargs)

base.write_batch = announced
sys.exit(main(["--db", sys.argv[1], "import", "dossiers", sys.argv[2]]))
"""


@pytest.mark.slow
def test_sigkill_during_a_bulk_csv_import_leaves_the_store_as_before_and_a_rerun_stores_each_row_once(tmp_path: Path) -> None:
    csv_path = tmp_path / "source.csv"
    write_source(csv_path)  # 200,000 rows: the bulk path (one transaction for the file)
    db_path = tmp_path / "store.duckdb"
    open_store(db_path).close()

    def start() -> subprocess.Popen[str]:
        return start_script(BULK_IMPORT_SCRIPT, str(db_path), str(csv_path))

    kill_once_it_says(start(), "writing")

    with open_store(db_path) as db:
        # The file is one transaction: nothing of it, in any table, survives the kill.
        assert db.scalar("SELECT count(*) FROM dossiers") == 0
        assert db.scalar("SELECT count(*) FROM dossier_events") == 0
        assert db.scalar("SELECT count(*) FROM kpi_dossier_facts") == 0
        assert db.scalar("SELECT count(*) FROM kpi_daily") == 0

    process = start()
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "read in bulk by DuckDB" in out

    with open_store(db_path) as db:
        assert db.execute("SELECT count(*), count(DISTINCT dossier_id) FROM dossiers")[0] == (ROWS, ROWS)
        assert db.scalar("SELECT count(*) FROM dossier_events") == ROWS
        assert db.scalar("SELECT sum(received) FROM kpi_daily") == ROWS
        assert db.scalar("SELECT count(*) FROM rejects") == 0
