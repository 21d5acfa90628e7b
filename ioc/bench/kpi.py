"""The KPI benchmark: city snapshot and one-unit reads from the aggregates, against plain SQL and plain pandas."""

from __future__ import annotations

import json
import os
import platform
import random
import re
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO, TypeVar

import duckdb
import numpy as np
import pandas as pd

from ioc.config import LOCAL_TIMEZONE
from ioc.db import Database
from ioc.model import NOT_ACCEPTED_STATUSES, RESOLVED_STATUSES
from ioc.store import open_store
from ioc.timeutil import local_date
from kpis import reference_pandas as reference
from kpis.aggregates import aggregates_ready, compute_from_aggregates, rebuild_aggregates, snapshot_from_aggregates
from kpis.compute import COUNT_IDS, compute, compute_by_unit
from kpis.period import PERIOD_NAMES, Period, named_period
from kpis.sql import in_list

SECTION = "## KPI engine"
STANDARD_PERIODS = tuple(name for name in PERIOD_NAMES if name != "custom")
T = TypeVar("T")

# The query a person would write for one period: every figure per unit and the total (ROLLUP), straight
# over the raw table, dates in Vietnamese local time, no pruning and no precomputation.
STRAIGHTFORWARD_DOSSIERS = f"""
SELECT
    unit_code,
    count(*) FILTER (WHERE accepted AND rd < $f AND (fd IS NULL OR fd >= $f)) AS carried_over,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t) AS received,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t AND channel = 'online') AS received_online,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t AND channel = 'in_person') AS received_in_person,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t AND channel = 'postal') AS received_postal,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $f)) AS to_process,
    count(*) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t) AS resolved,
    count(*) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t AND fd < dd) AS resolved_early,
    count(*) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t AND (dd IS NULL OR fd = dd)) AS resolved_on_time,
    count(*) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t AND fd > dd) AS resolved_late,
    count(*) FILTER (WHERE status = 'withdrawn' AND fd >= $f AND fd < $t) AS withdrawn,
    count(*) FILTER (WHERE status = 'stopped' AND fd >= $f AND fd < $t) AS stopped,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $t)) AS in_progress,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $t) AND (dd IS NULL OR dd >= $t)) AS in_progress_within,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $t) AND dd < $t) AS in_progress_overdue,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $t) AND dd >= $t AND dd <= $next) AS at_risk,
    count(*) FILTER (WHERE accepted AND rd < $t AND (fd IS NULL OR fd >= $f) AND supplement_count <= 1 AND (
        CASE WHEN fd < $t THEN dd IS NULL OR pfd <= dd ELSE dd IS NULL OR dd >= $t END)) AS progress_766_on_time,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t AND has_fee) AS received_with_fee,
    count(*) FILTER (WHERE accepted AND rd >= $f AND rd < $t AND has_fee AND paid_online) AS received_paid_online,
    count(*) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t AND digitized AND e_result) AS resolved_digitized,
    quantile_cont(pdays, 0.5) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t) AS processing_days_median,
    quantile_cont(pdays, 0.9) FILTER (WHERE resolved_status AND fd >= $f AND fd < $t) AS processing_days_p90
FROM (
    SELECT d.*, coalesce(p.has_fee, FALSE) AS has_fee,
        d.status NOT IN ({in_list(NOT_ACCEPTED_STATUSES)}) AS accepted,
        d.status IN ({in_list(RESOLVED_STATUSES)}) AS resolved_status,
        CAST(timezone('{LOCAL_TIMEZONE}', d.received_at) AS DATE) AS rd,
        CAST(timezone('{LOCAL_TIMEZONE}', d.finished_at) AS DATE) AS fd,
        CAST(timezone('{LOCAL_TIMEZONE}', d.due_at) AS DATE) AS dd,
        CAST(timezone('{LOCAL_TIMEZONE}', d.finished_at - to_seconds(d.paused_seconds)) AS DATE) AS pfd,
        cf.working_days_through - cr.working_days_through AS pdays
    FROM dossiers d
    LEFT JOIN procedures p USING (procedure_code)
    LEFT JOIN calendar_days cr ON cr.day = CAST(timezone('{LOCAL_TIMEZONE}', d.received_at) AS DATE)
    LEFT JOIN calendar_days cf ON cf.day = CAST(timezone('{LOCAL_TIMEZONE}', d.finished_at) AS DATE)
)
GROUP BY ROLLUP (unit_code)
"""

STRAIGHTFORWARD_HOTLINE = f"""
SELECT
    unit_code,
    count(*) FILTER (WHERE rd >= $f AND rd < $t) AS hotline_received,
    count(*) FILTER (WHERE ad >= $f AND ad < $t) AS hotline_answered,
    count(*) FILTER (WHERE ad >= $f AND ad < $t AND (dd IS NULL OR ad <= dd)) AS hotline_answered_on_time,
    count(*) FILTER (WHERE ad >= $f AND ad < $t AND ad > dd) AS hotline_answered_late,
    count(*) FILTER (WHERE rd < $t AND (ad IS NULL OR ad >= $t)) AS hotline_open,
    count(*) FILTER (WHERE rd < $t AND (ad IS NULL OR ad >= $t) AND (dd IS NULL OR dd >= $t)) AS hotline_open_within,
    count(*) FILTER (WHERE rd < $t AND (ad IS NULL OR ad >= $t) AND dd < $t) AS hotline_open_overdue,
    count(*) FILTER (WHERE ad >= $f AND ad < $t AND rating IS NOT NULL) AS hotline_rated,
    count(*) FILTER (WHERE ad >= $f AND ad < $t AND rating = 'satisfied') AS hotline_satisfied,
    quantile_cont(epoch(answered_at - received_at) / 3600.0, 0.5) FILTER (WHERE ad >= $f AND ad < $t)
        AS hotline_response_hours_median
FROM (
    SELECT *,
        CAST(timezone('{LOCAL_TIMEZONE}', received_at) AS DATE) AS rd,
        CAST(timezone('{LOCAL_TIMEZONE}', answered_at) AS DATE) AS ad,
        CAST(timezone('{LOCAL_TIMEZONE}', due_at) AS DATE) AS dd
    FROM hotline_tickets WHERE status <> 'rejected'
)
GROUP BY ROLLUP (unit_code)
"""


@dataclass
class Measure:
    """One timed thing: its label, seconds per run, and a note."""

    label: str
    seconds: list[float]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class BenchReport:
    store: dict[str, Any]
    machine: dict[str, str]
    measures: dict[str, Measure] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)
    mismatches: dict[str, int] = field(default_factory=dict)


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _time_one(fn: Callable[[], object]) -> float:
    return _timed(fn)[0]


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident memory so far (DuckDB's buffers included).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _machine() -> dict[str, str]:
    memory = "?"
    cpu = platform.processor() or "?"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
        if match:
            memory = f"{int(match.group(1)) / 1024 / 1024:.1f} GiB"
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
        if model:
            cpu = model.group(1).strip()
    except OSError:
        pass
    return {
        "cpus (nproc)": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def _straightforward(db: Database, period: Period, next_working_day: date | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    params = {"f": period.start, "t": period.end, "next": next_working_day}
    dossiers = db.query_df(STRAIGHTFORWARD_DOSSIERS, params)
    hotline = db.query_df(STRAIGHTFORWARD_HOTLINE, {"f": period.start, "t": period.end})
    return dossiers, hotline


def _count_mismatches(expected_total: dict[str, Any], expected_units: pd.DataFrame, other: pd.DataFrame, total: pd.Series) -> int:
    """Counts that differ between the engine and another implementation (units + total)."""
    columns = [column for column in other.columns if column in COUNT_IDS]
    mine = expected_units[columns].astype("int64")
    theirs = other[columns].reindex(mine.index).fillna(0).astype("int64")
    wrong = int((mine != theirs).to_numpy().sum())
    wrong += sum(int(expected_total[column]) != int(total[column]) for column in columns)
    return wrong


def run_kpi_bench(
    path: str | Path, *, stream: TextIO = sys.stderr, unit_reads: int = 40, repeats: int = 5, pandas_baseline: bool = True
) -> BenchReport:
    """Time every way of computing the standard snapshot on the store at ``path``; see docs/benchmarks.md."""

    def say(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    db = open_store(path)
    try:
        latest = db.scalar("SELECT max(received_at) FROM dossiers")
        if latest is None:
            raise ValueError(f"{path} holds no dossiers: run `python -m ioc bench generate` first")
        today = local_date(latest)
        store = {
            "dossiers": int(db.scalar("SELECT count(*) FROM dossiers")),
            "tickets": int(db.scalar("SELECT count(*) FROM hotline_tickets")),
            "units": int(db.scalar("SELECT count(*) FROM units")),
            "kpi_daily rows": int(db.scalar("SELECT count(*) FROM kpi_daily")),
            "kpi_processing_days rows": int(db.scalar("SELECT count(*) FROM kpi_processing_days")),
            "file size": f"{Path(path).stat().st_size / 1024**3:.2f} GiB",
            "as of (local today)": today.isoformat(),
        }
        generation = db.scalar("SELECT value FROM meta WHERE key = 'bench_generation'")
        if generation is not None:
            made = json.loads(generation)
            store["generated in"] = f"{made['seconds_load']} s load + {made['seconds_aggregates']} s aggregates"
        report = BenchReport(store, _machine())
        if not aggregates_ready(db):
            say("aggregates are not ready: rebuilding")
            seconds, _ = _timed(lambda: rebuild_aggregates(db))
            report.measures["rebuild"] = Measure("rebuild aggregates", [seconds])
        periods = [named_period(name, today) for name in STANDARD_PERIODS]

        say("engine: city snapshot from the aggregates")
        cold, snapshots = _timed(lambda: snapshot_from_aggregates(db, periods))
        warm = [_timed(lambda: snapshot_from_aggregates(db, periods))[0] for _ in range(repeats)]
        report.measures["snapshot"] = Measure("city snapshot (aggregates)", warm, f"first run {cold * 1000:.0f} ms")
        tracemalloc.start()
        snapshot_from_aggregates(db, periods)
        report.memory["snapshot Python heap peak (tracemalloc)"] = tracemalloc.get_traced_memory()[1] / 1024**2
        tracemalloc.stop()

        say("engine: one unit, random periods")
        rng = random.Random(42)
        unit_codes = [code for (code,) in db.execute("SELECT unit_code FROM units ORDER BY unit_code")]
        unit_periods = []
        for _ in range(unit_reads):
            if rng.random() < 0.5:
                period = named_period(rng.choice(STANDARD_PERIODS), today - timedelta(days=rng.randint(0, 400)))
            else:
                start = today - timedelta(days=rng.randint(1, 500))
                period = Period(start, min(start + timedelta(days=rng.randint(1, 120)), today + timedelta(days=1)))
            unit_periods.append((rng.choice(unit_codes), period))
        unit_seconds = [_time_one(partial(compute_from_aggregates, db, p, u)) for u, p in unit_periods]
        report.measures["unit"] = Measure(
            "one unit, any period (aggregates)", unit_seconds, f"{unit_reads} random unit × period reads"
        )
        scan_seconds = [_time_one(partial(compute, db, p, u)) for u, p in unit_periods[:10]]
        report.measures["unit_scan"] = Measure(
            "one unit, any period (kpis.compute, scanning)", scan_seconds, "10 of the same reads"
        )
        report.memory["peak RSS after the engine runs"] = _peak_rss_mb()

        say("scanning engine (kpis.compute: compute + compute_by_unit per period)")
        seconds, _ = _timed(lambda: [(compute(db, period), compute_by_unit(db, period)) for period in periods])
        report.measures["scan"] = Measure("city snapshot (kpis.compute, scanning)", [seconds])

        say("straightforward DuckDB query per period")
        calendars = {period: db.execute(
            "SELECT min(day) FROM calendar_days WHERE is_working AND day >= ?", [period.end])[0][0] for period in periods}  # fmt: skip
        seconds, plain = _timed(lambda: [_straightforward(db, period, calendars[period]) for period in periods])
        report.measures["plain"] = Measure("city snapshot (one straightforward DuckDB query per period)", [seconds])
        wrong = 0
        for snapshot, (dossiers, hotline) in zip(snapshots, plain, strict=True):
            for frame in (dossiers, hotline):
                total = frame[frame["unit_code"].isna()].iloc[0]
                wrong += _count_mismatches(
                    snapshot.total, snapshot.by_unit, frame.dropna(subset=["unit_code"]).set_index("unit_code"), total
                )
        report.mismatches["straightforward SQL"] = wrong
        report.memory["peak RSS after the SQL runs"] = _peak_rss_mb()

        if pandas_baseline:
            say("pandas: loading the raw tables")
            seconds, tables = _timed(lambda: reference.load_tables(db))
            report.measures["pandas_load"] = Measure("pandas: load raw tables (not in the ratio)", [seconds])
            say("pandas: computing")
            seconds, results = _timed(lambda: [reference.snapshot(tables, period) for period in periods])
            report.measures["pandas"] = Measure("city snapshot (kpis/reference_pandas.py)", [seconds])
            wrong = 0
            for snapshot, (total_figures, by_unit) in zip(snapshots, results, strict=True):
                wrong += _count_mismatches(snapshot.total, snapshot.by_unit, by_unit, pd.Series(total_figures))
            report.mismatches["pandas reference"] = wrong
            report.memory["peak RSS after pandas"] = _peak_rss_mb()
            del tables, results
        return report
    finally:
        db.close()


NOTES = (
    "How it works: `kpis/aggregates.py` keeps per-unit, per-local-day (and per-month) counts of the days on which",
    "each dossier or ticket enters or leaves every counted state; an as-of figure such as in progress, overdue or at",
    "risk is a count of items whose interval (start, end] of as-of dates holds T, i.e. two cumulative sums. The",
    "counts move in the ingest transaction (`connectors.base.write_batch` → `refresh_aggregates`: the batch's stored",
    "contribution out, the new one in). Medians: processing days from a per-day histogram, hotline response hours",
    "by DuckDB's `quantile_cont` over one narrow row per ticket, every period and unit in one query. The tables are",
    "stored in unit order, so a one-unit read skips the row groups of other units. `tests/test_kpi_equality.py`",
    "holds the engine, the aggregates and the pandas reference equal on random stores (hypothesis).",
    "",
    "The bench store is written by `python -m ioc bench generate --units national --dossiers 10000000 --tickets",
    "2000000` (`ioc/bench/generate.py`): one simulator per province over the 3,321 communes of",
    "`data/sample/vn_wards_2025.csv`, 18 months, bulk-inserted from numpy in 1 M-row chunks. It bypasses the",
    "per-row connector path on purpose; its rows are the simulator's, which obey the canonical rules.",
    "",
)


def _ratio(ratio: float) -> str:
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def render_markdown(report: BenchReport, command: str) -> str:
    """The "KPI engine" section of docs/benchmarks.md."""
    m = report.measures
    snapshot = m["snapshot"].median
    unit = m["unit"]
    lines = [
        SECTION,
        "",
        "Generated by `python -m ioc bench kpi` (ioc/bench/kpi.py); reproduce with:",
        "",
        "```",
        command,
        "```",
        "",
        "Store: "
        + ", ".join(f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}" for key, value in report.store.items())
        + ".",
        "",
        "Machine: " + ", ".join(f"{key} {value}" for key, value in report.machine.items()) + ".",
        "",
        "The city snapshot is every §4 figure for every unit and the total, for today, this week, this month,",
        "last month, this quarter and this year (6 periods). Engine = `kpis.aggregates.snapshot_from_aggregates`.",
        "",
        "| what | time | target | time ÷ engine time |",
        "|---|---:|---:|---:|",
        f"| city snapshot, engine (aggregates), median of {len(m['snapshot'].seconds)} warm runs ({m['snapshot'].note}) | {_ms(snapshot)} | ≤ 1 s | 1× |",
        f"| one unit, any period, engine: median / max of {len(unit.seconds)} | {_ms(unit.median)} / {_ms(max(unit.seconds))} | ≤ 50 ms | |",
    ]
    for key in ("scan", "plain", "pandas"):
        if key in m:
            lines.append(f"| {m[key].label} | {_ms(m[key].median)} | | {_ratio(m[key].median / snapshot)} |")
    if "unit_scan" in m:
        lines.append(
            f"| {m['unit_scan'].label}: median | {_ms(m['unit_scan'].median)} | | {_ratio(m['unit_scan'].median / unit.median)} |"
        )
    if "pandas_load" in m:
        lines.append(f"| {m['pandas_load'].label} | {_ms(m['pandas_load'].median)} | | |")
    if "rebuild" in m:
        lines.append(f"| rebuild of the aggregates (store was not ready) | {_ms(m['rebuild'].median)} | | |")
    lines += ["", "| memory | MiB |", "|---|---:|"]
    lines += [f"| {key} | {value:,.0f} |" for key, value in report.memory.items()]
    lines += [
        "",
        "Same figures: "
        + ", ".join(f"{name}: {count} differing counts" for name, count in report.mismatches.items())
        + " (every count of every unit and the total, all 6 periods).",
        "",
        *NOTES,
    ]
    return "\n".join(lines)
