"""``python -m ioc bench ingest``: a canonical dossier CSV through the file import path, timed against DuckDB's read_csv."""

from __future__ import annotations

import cProfile
import csv
import io
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import duckdb

import ioc.db
from connectors.base import run_connector
from connectors.files import FileDropConnector
from ioc.bench import report
from ioc.bench.generate import _insert_units, generate_national, read_national_units
from ioc.bench.report import BENCHMARKS_MD
from ioc.db import Database
from ioc.model import DOSSIER_COLUMNS
from ioc.store import open_store, tidy_between_runs

SECTION = "## Ingest"
DEFAULT_ROWS = 1_000_000
DEFAULT_CHANGED = 10_000
IMPORT_RUNS = 3
INCREMENTAL_RUNS = 3


@dataclass
class IngestReport:
    rows: int
    changed: int
    csv_bytes: int
    seconds_generate: float
    seconds_import: float
    seconds_read_csv: float
    seconds_read_csv_typed: float
    seconds_read_csv_keyed: float
    seconds_incremental: float  # the median of incremental_runs
    stored: int
    rejected: int
    incremental_upserted: int
    incremental_events: int
    incremental_runs: list[float] = field(default_factory=list)
    import_runs: list[float] = field(default_factory=list)
    read_csv_runs: list[float] = field(default_factory=list)
    # What the scheduler did after the runs (ioc.store.tidy_between_runs: compaction, checkpoint) and its seconds.
    tidied: list[tuple[str, float]] = field(default_factory=list)
    # Seconds per step of the import whose time is the median (statements timed by ioc.db.statement_observer).
    steps: dict[str, float] = field(default_factory=dict)
    profile: list[tuple[str, float]] = field(default_factory=list)  # (function, cumulative seconds) of the import

    @property
    def ratio(self) -> float:
        return self.seconds_import / self.seconds_read_csv if self.seconds_read_csv else float("inf")


def write_dossier_csv(path: Path, rows: int, work: Path, stream: TextIO) -> float:
    """A canonical dossier CSV of about ``rows`` rows drawn by the bench generator (simulator, all communes); seconds taken."""
    started = time.perf_counter()
    bench_db = work / "generated.duckdb"
    months = max(1, min(18, rows // 150_000 or 1))
    generate_national(bench_db, dossiers=rows, tickets=0, months=months, stream=stream)
    conn = duckdb.connect(str(bench_db))
    try:
        conn.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")
        columns = ", ".join(c for c in DOSSIER_COLUMNS if c != "ingested_at")
        # Exactly `rows` rows (the generator draws about that many), in a stable order.
        conn.execute(
            f"COPY (SELECT {columns} FROM dossiers ORDER BY dossier_id LIMIT {int(rows)}) TO '{path}' (HEADER, DELIMITER ',')"
        ).fetchall()
    finally:
        conn.close()
    bench_db.unlink()
    return time.perf_counter() - started


def fresh_store(path: Path) -> Database:
    """A new store knowing every commune of Vietnam (the generated dossiers' units)."""
    db = open_store(path)
    national = read_national_units()
    db.execute_write_fn(lambda conn: _insert_units(conn, national))
    return db


def time_read_csv(csv_path: Path, work: Path, dossiers_ddl: str) -> tuple[float, float, float]:
    """Seconds for DuckDB's own ``read_csv`` into a new table, into a table typed like ``dossiers``, and into ``dossiers`` itself (its key)."""
    target = work / "read_csv.duckdb"
    conn = duckdb.connect(str(target))
    try:
        started = time.perf_counter()
        conn.execute(f"CREATE TABLE raw_dossiers AS SELECT * FROM read_csv('{csv_path}', header = true)").fetchall()
        plain = time.perf_counter() - started
        conn.execute("CREATE TABLE typed_dossiers AS SELECT * FROM raw_dossiers LIMIT 0").fetchall()
        conn.execute("DROP TABLE raw_dossiers").fetchall()
        conn.execute("CHECKPOINT").fetchall()
        started = time.perf_counter()
        conn.execute(f"INSERT INTO typed_dossiers SELECT * FROM read_csv('{csv_path}', header = true)").fetchall()
        typed = time.perf_counter() - started
        conn.execute("DROP TABLE typed_dossiers").fetchall()
        conn.execute(dossiers_ddl).fetchall()
        conn.execute("CHECKPOINT").fetchall()
        columns = ", ".join(c for c in DOSSIER_COLUMNS if c != "ingested_at")
        started = time.perf_counter()
        conn.execute(f"INSERT INTO dossiers SELECT {columns}, now() FROM read_csv('{csv_path}', header = true)").fetchall()
        keyed = time.perf_counter() - started
    finally:
        conn.close()
    target.unlink()
    return plain, typed, keyed


def write_changed_rows(csv_path: Path, out: Path, changed: int, offset: int = 0) -> int:
    """``changed`` rows of the CSV moved one status on (registered/accepted → processing → resolved), updated an hour later.

    Rows are every seventh of the file from ``offset`` (0–6), so runs with other offsets change other rows.
    """
    later = timedelta(hours=1)
    with csv_path.open(encoding="utf-8", newline="") as source, out.open("w", encoding="utf-8", newline="") as sink:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(sink, fieldnames=list(reader.fieldnames or ()))
        writer.writeheader()
        step = 7  # spread across the file rather than its first rows
        written = 0
        for number, row in enumerate(reader):
            if number % step != offset or written >= changed:
                continue
            updated = datetime.fromisoformat(row["updated_at"]) + later
            if row["status"] in ("registered", "accepted"):
                row["status"] = "processing"
            elif row["status"] == "processing" and not row["finished_at"]:
                row.update(status="resolved", finished_at=updated.isoformat(), returned_at="")
            row["updated_at"] = updated.isoformat()
            writer.writerow(row)
            written += 1
    return written


def run_ingest_bench(rows: int = DEFAULT_ROWS, changed: int = DEFAULT_CHANGED, *, profile: bool = False,
                     work_dir: Path | None = None, stream: TextIO = sys.stderr) -> IngestReport:  # fmt: skip
    """Generate the CSV, import it into a fresh store, time DuckDB's read_csv on it, then import ``changed`` rows again."""
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="ioc-bench-ingest-") as tmp:
        work = Path(tmp)
        csv_path = work / "dossiers.csv"
        stream.write(f"generating about {rows:,} dossiers ...\n")
        seconds_generate = write_dossier_csv(csv_path, rows, work, stream)
        written = sum(1 for _ in csv_path.open(encoding="utf-8")) - 1
        stream.write(f"wrote {csv_path.stat().st_size / 2**20:.0f} MiB, {written:,} rows in {seconds_generate:.1f} s\n")

        # This machine's timings vary by a quarter from run to run: baseline and import alternate, each three
        # times (a new store each), and the medians are compared.
        baselines: list[tuple[float, float, float]] = []
        imports: list[float] = []
        steps: list[dict[str, float]] = []
        db: Database | None = None
        try:
            for import_run in range(1, IMPORT_RUNS + 1):
                if db is not None:
                    db.close()
                db = fresh_store(work / f"store-{import_run}.duckdb")
                stream.write(f"DuckDB read_csv ({import_run} of {IMPORT_RUNS}) ...\n")
                ddl = db.scalar("SELECT sql FROM duckdb_tables() WHERE table_name = 'dossiers'")
                baselines.append(time_read_csv(csv_path, work, ddl))
                stream.write(f"import through the file connector ({import_run} of {IMPORT_RUNS}) ...\n")
                drop = work / f"drop-{import_run}"
                drop.mkdir()
                connector = FileDropConnector(drop, target="dossiers", db=db, name="bench-drop", settle_seconds=0)
                shutil.copy(csv_path, drop / csv_path.name)
                profiler = cProfile.Profile() if profile and import_run == IMPORT_RUNS else None
                with _steps_observed() as observed:
                    started = time.perf_counter()
                    if profiler is not None:
                        profiler.enable()
                    imported = run_connector(db, connector)
                    if profiler is not None:
                        profiler.disable()
                    imports.append(time.perf_counter() - started)
                observed[_PYTHON_STEP] = imports[-1] - sum(observed.values())
                steps.append(observed)
            assert db is not None
            seconds_plain, seconds_typed, seconds_keyed = (statistics.median(column) for column in zip(*baselines, strict=True))
            seconds_import = statistics.median(imports)
            median_steps = steps[imports.index(statistics.median_low(imports))]
            top = _top_functions(profiler) if profiler is not None else []
            tidied = _tidy(db)

            # A sub-second time varies from run to run: the median of a few runs, each changing other rows.
            incremental_runs: list[float] = []
            for run_number in range(INCREMENTAL_RUNS):
                changes = work / f"changed-{run_number + 1}.csv"
                count = write_changed_rows(csv_path, changes, changed, offset=run_number)
                events_before = int(db.scalar("SELECT count(*) FROM dossier_events"))
                stream.write(f"incremental {run_number + 1}: {count:,} changed rows into the {written:,}-row store ...\n")
                shutil.copy(changes, drop / changes.name)
                started = time.perf_counter()
                result = run_connector(db, connector)
                incremental_runs.append(time.perf_counter() - started)
                tidied += _tidy(db)
                if run_number == 0:
                    incremental, events = result, int(db.scalar("SELECT count(*) FROM dossier_events")) - events_before
            stored = int(db.scalar("SELECT count(*) FROM dossiers"))
        finally:
            if db is not None:
                db.close()
        return IngestReport(
            rows=written,
            changed=count,
            csv_bytes=csv_path.stat().st_size,
            seconds_generate=seconds_generate,
            seconds_import=seconds_import,
            seconds_read_csv=seconds_plain,
            seconds_read_csv_typed=seconds_typed,
            seconds_read_csv_keyed=seconds_keyed,
            seconds_incremental=statistics.median(incremental_runs),
            incremental_runs=incremental_runs,
            tidied=tidied,
            steps=median_steps,
            import_runs=imports,
            read_csv_runs=[plain for plain, _, _ in baselines],
            stored=stored,
            rejected=imported.rows_rejected,
            incremental_upserted=incremental.rows_upserted,
            incremental_events=events,
            profile=top,
        )


def _tidy(db: Database) -> list[tuple[str, float]]:
    """What the scheduler would do now (after a run, off the freshness path) and its seconds; empty if nothing was due."""
    started = time.perf_counter()
    done = tidy_between_runs(db)
    return [(" and ".join(done), time.perf_counter() - started)] if done else []


# The function that ran a statement (ioc.db.run's caller) → the step of the import it belongs to.
_STEPS = {
    "_read_raw": "read: DuckDB `read_csv`, every field as text",
    **dict.fromkeys(
        ("_stage", "stage", "normalize_dossier_staged", "_register_reference", "_due_days"),
        "checks and conversion in SQL (`ioc.canonical_sql`)",
    ),
    **dict.fromkeys(("_stage_incoming", "_merge"), "merge by key into `dossiers` (its primary key index)"),
    **dict.fromkeys(("refresh_aggregates", "_apply_delta", "_append"), "KPI facts and daily counts (`kpis.aggregates`)"),
    "execute_write_fn": "commits",
}
_EVENTS_STEP = "status events"
_OTHER_STEP = "bookkeeping: run, cursor, rejects, drops"
_PYTHON_STEP = "outside DuckDB statements: content hash, Python"


@contextmanager
def _steps_observed() -> Iterator[dict[str, float]]:
    """Seconds per import step (see _STEPS) of the statements run inside the block."""
    steps: dict[str, float] = {}

    def observe(sql: str, seconds: float) -> None:
        caller = sys._getframe(2).f_code.co_name  # observe ← ioc.db.run ← the function that ran the statement
        step = _EVENTS_STEP if sql.lstrip().startswith("INSERT INTO dossier_events") else _STEPS.get(caller, _OTHER_STEP)
        steps[step] = steps.get(step, 0.0) + seconds

    ioc.db.statement_observer = observe
    try:
        yield steps
    finally:
        ioc.db.statement_observer = None


def _top_functions(profiler: cProfile.Profile, count: int = 12) -> list[tuple[str, float]]:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    entries = []
    for (filename, line, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(filename).name}:{line} {name}" if line else name
        entries.append((where, float(cumulative)))
    entries.sort(key=lambda item: -item[1])
    return entries[:count]


def render_markdown(report: IngestReport, command: str) -> str:
    ok_ratio = "met" if report.ratio <= 2 else "NOT met"
    ok_incremental = "met" if report.seconds_incremental < 1 else "NOT met"
    lines = [
        SECTION,
        "",
        f"Generated by `python -m ioc bench ingest` (ioc/bench/ingest.py) on {datetime.now(UTC):%Y-%m-%d}; reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        f"File: {report.rows:,} canonical dossier rows ({report.csv_bytes / 2**20:.0f} MiB CSV, UTF-8, header = the "
        "canonical column names) drawn by the bench generator (`ioc/bench/generate.py`, every commune of Vietnam), "
        f"written in {report.seconds_generate:.1f} s (not timed below). Store: a new store file with the national units.",
        "",
        f"Machine: cpus (nproc) {os.cpu_count()}, os {platform.platform()}, python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}.",
        "",
        "| what | time | target | ratio |",
        "|---|---:|---:|---:|",
        f"| DuckDB `CREATE TABLE … AS SELECT * FROM read_csv(file)` (types inferred), median of {len(report.read_csv_runs)} runs "
        f"({', '.join(f'{t:.2f}' for t in report.read_csv_runs)} s), each just before an import | "
        f"{report.seconds_read_csv:.2f} s | | 1× |",
        f"| DuckDB `INSERT INTO` a table typed like `dossiers` `FROM read_csv(file)` | {report.seconds_read_csv_typed:.2f} s | | "
        f"{report.seconds_read_csv_typed / report.seconds_read_csv:.1f}× |",
        f"| DuckDB `INSERT INTO dossiers` (the store's own table: types and primary key) `FROM read_csv(file)` | "
        f"{report.seconds_read_csv_keyed:.2f} s | | {report.seconds_read_csv_keyed / report.seconds_read_csv:.1f}× |",
        f'| the file connector (`connectors.files.FileDropConnector`, `target = "dossiers"`: content hash, then `connectors.csv_bulk`: DuckDB read_csv, '
        f"checks in SQL, per-row rules for the rows they leave, reject, merge by key, events, KPI facts and daily "
        f"aggregates, one transaction) into a new store, median of {len(report.import_runs)} runs "
        f"({', '.join(f'{t:.1f}' for t in report.import_runs)} s) | {report.seconds_import:.1f} s | ≤ 2× read_csv | "
        f"**{report.ratio:.1f}×** ({ok_ratio}) |",
        f"| incremental: {report.changed:,} changed rows (status and updated_at) into the {report.stored:,}-row store, "
        f"through the same file connector, {len(report.incremental_runs)} runs on other rows | "
        f"{report.seconds_incremental:.2f} s (median of {', '.join(f'{t:.2f}' for t in report.incremental_runs)} s) | "
        f"< 1 s ({ok_incremental}) | |",
        f"| after those runs, what the scheduler does between runs (`ioc.store.tidy_between_runs`: compact the KPI count "
        f"rows once they grow by a quarter, checkpoint once the log reaches 16 MiB; never inside a run's commit) | "
        f"{_tidied_text(report.tidied)} | | |",
        "",
        f"Rows stored {report.stored:,}, rejected {report.rejected:,}; the first incremental run upserted "
        f"{report.incremental_upserted:,} rows and appended {report.incremental_events:,} status events.",
    ]
    lines += [
        "",
        "How: a UTF-8 canonical CSV of 1 MiB or more is read by DuckDB (`read_csv`, every field as text) into a "
        "temporary table; `ioc.canonical_sql.normalize_dossier_staged` checks and converts every ordinary row in SQL "
        "and leaves every unusual or failing row to `ioc.canonical.normalize_dossier`, which stays the definition "
        "(equality: tests/test_normalize_sql.py, and tests/test_csv_bulk.py for whole files against the row-by-row "
        "reader). Files DuckDB's reader refuses (Windows-1258, UTF-16, mixed encodings, broken rows) are read row by "
        "row as before. `python -m ioc import dossiers FILE` takes the same path. Before this path (2026-11-23, same "
        "machine) the import took 57 s (43×).",
        "",
        "Why the 2× target is not met: the import does far more than `read_csv` into a bare table. Besides the rows, "
        "it checks every cell, writes the primary-key index, a status event per dossier, a KPI fact per dossier and "
        "the per-unit, per-day counts, all in one transaction. DuckDB inserting the same file into the store's own "
        "`dossiers` table (with its key) already takes the time in the third row above, and the events, facts and "
        "counts each write about as many rows again; the steps are below.",
        "",
    ]
    if report.steps:
        lines += [
            f"Where the time of the median import ({sum(report.steps.values()):.1f} s) goes, each DuckDB statement timed "
            "(`ioc.db.statement_observer`) and counted to the step that ran it:",
            "",
            "| step | s | share |",
            "|---|---:|---:|",
        ]
        total = sum(report.steps.values())
        lines += [
            f"| {step} | {seconds:.2f} | {seconds / total:.0%} |"
            for step, seconds in sorted(report.steps.items(), key=lambda item: -item[1])
        ]
        lines.append("")
    lines += [
        "Commits no longer checkpoint: DuckDB's own checkpoint ran inside the commit that took its log past 16 MiB, "
        "which made every other 10 k-row run 0.3-0.5 s slower to show its rows; the scheduler now checkpoints after a "
        "run (row above), and DuckDB's own threshold is raised to 256 MiB as a backstop.",
    ]
    if report.profile:
        lines += ["", "Where the import's time goes (cProfile, cumulative seconds, profiler overhead included):", ""]
        lines += ["| function | s |", "|---|---:|"]
        lines += [f"| `{name}` | {seconds:.1f} |" for name, seconds in report.profile]
    return "\n".join(lines) + "\n"


def _tidied_text(tidied: list[tuple[str, float]]) -> str:
    if not tidied:
        return "nothing due"
    return "; ".join(f"{what} {seconds:.2f} s" for what, seconds in tidied)


def write_section(markdown: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or append) the "Ingest" section of docs/benchmarks.md, keeping every other section."""
    report.write_section(markdown, path)
