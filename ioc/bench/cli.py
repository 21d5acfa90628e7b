"""``python -m ioc bench generate|kpi|ingest``: the national bench store, the KPI benchmark and the ingest benchmark."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any


def add_bench_parser(commands: Any) -> None:
    """Add ``bench generate``, ``bench kpi`` and ``bench ingest`` to the CLI's subcommands."""
    from ioc.bench.generate import DEFAULT_BENCH_DB

    bench = commands.add_parser(
        "bench",
        help="generate the synthetic national store, time the KPI engine (docs/benchmarks.md)",
        description="Benchmarks, kept out of the test suite. The store defaults to "
        f"{DEFAULT_BENCH_DB.name} under data/, never the app's embedded store.",
    )
    steps = bench.add_subparsers(dest="bench_command", required=True, metavar="STEP")
    generate = steps.add_parser(
        "generate",
        help="write a synthetic store: every commune of Vietnam, simulated dossiers and hotline tickets",
        description="Draw dossiers and tickets with the simulator (one per province) for every commune of "
        "data/sample/vn_wards_2025.csv and bulk-load them (bypassing the per-row connector path on purpose), "
        "then build the KPI aggregates.",
    )
    generate.add_argument("--units", choices=["national"], default="national", help="which units (only national)")
    generate.add_argument("--dossiers", type=int, default=10_000_000, help="about how many dossiers (default 10,000,000)")
    generate.add_argument("--tickets", type=int, default=2_000_000, help="about how many hotline tickets (default 2,000,000)")
    generate.add_argument("--months", type=int, default=18, help="months of history up to now (default 18)")
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument(
        "--db", dest="bench_db", type=Path, help=f"the store to write, new or empty (default {DEFAULT_BENCH_DB})"
    )
    kpi = steps.add_parser(
        "kpi",
        help="time the city snapshot and one-unit reads against plain SQL and pandas; update docs/benchmarks.md",
        description="Time the KPI engine on a bench store, print a markdown table and put it in the "
        "'KPI engine' section of docs/benchmarks.md (other sections are kept).",
    )
    kpi.add_argument("--db", dest="bench_db", type=Path, help=f"the bench store (default {DEFAULT_BENCH_DB})")
    kpi.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline (it loads every row into memory)")
    kpi.add_argument("--print-only", action="store_true", help="print the table without updating docs/benchmarks.md")
    ingest = steps.add_parser(
        "ingest",
        help="time a generated dossier CSV through the file import path against DuckDB's read_csv; update docs/benchmarks.md",
        description="Generate a canonical dossier CSV (the bench generator), import it into a fresh store through "
        "`python -m ioc import dossiers FILE`'s path, time DuckDB's own read_csv on the same file, then import "
        "--changed changed rows into the full store. Writes the 'Ingest' section of docs/benchmarks.md.",
    )
    ingest.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV (default 1,000,000)")
    ingest.add_argument("--changed", type=int, default=10_000, help="changed rows of the incremental run (default 10,000)")
    ingest.add_argument("--profile", action="store_true", help="profile the import (cProfile) and list where its time goes")
    ingest.add_argument("--work-dir", type=Path, help="where the temporary CSV and stores go (default the system temp)")
    ingest.add_argument("--print-only", action="store_true", help="print the table without updating docs/benchmarks.md")


def run_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "ingest":
        return _run_ingest(args)
    from ioc.bench.generate import DEFAULT_BENCH_DB

    path = args.bench_db or args.db or DEFAULT_BENCH_DB
    if args.bench_command == "generate":
        from ioc.bench.generate import generate_national

        try:
            result = generate_national(
                path, dossiers=args.dossiers, tickets=args.tickets, months=args.months, seed=args.seed, stream=sys.stderr
            )
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(
            f"wrote {path}: {result.dossiers:,} dossiers, {result.tickets:,} tickets, {result.units:,} units, "
            f"{result.first_day} to {result.last_day}; load {result.seconds_generate:.1f} s, "
            f"aggregates {result.seconds_aggregates:.1f} s"
        )
        return 0
    from ioc.bench.kpi import render_markdown, run_kpi_bench
    from ioc.bench.report import publish

    if not Path(path).exists():
        print(f"error: {path} does not exist: run `python -m ioc bench generate` first", file=sys.stderr)
        return 2
    report = run_kpi_bench(path, pandas_baseline=not args.no_pandas)
    command = "python -m ioc bench kpi " + " ".join(shlex.quote(part) for part in _argv_after_kpi())
    publish(render_markdown(report, command.strip()), print_only=args.print_only)
    return 0


def _argv_after_kpi() -> list[str]:
    argv = sys.argv[1:]
    return argv[argv.index("kpi") + 1 :] if "kpi" in argv else []


def _run_ingest(args: argparse.Namespace) -> int:
    from ioc.bench.ingest import render_markdown, run_ingest_bench
    from ioc.bench.report import publish

    if args.rows < 1 or args.changed < 0:
        print("error: --rows must be at least 1 and --changed at least 0", file=sys.stderr)
        return 2
    report = run_ingest_bench(args.rows, args.changed, profile=args.profile, work_dir=args.work_dir)
    argv = sys.argv[1:]
    tail = argv[argv.index("ingest") + 1 :] if "ingest" in argv else []
    markdown = render_markdown(report, ("python -m ioc bench ingest " + " ".join(shlex.quote(a) for a in tail)).strip())
    publish(markdown, print_only=args.print_only)
    return 0
