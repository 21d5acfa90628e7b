"""The command line: ``python -m ioc import|kpi|report|ingest|calendar`` on the embedded store or ``--db PATH``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from ioc.config import Config
from ioc.db import Database, StoreLockedError

if TYPE_CHECKING:
    from connectors.sources import SourcesFile

IMPORT_TARGETS = ("dossiers", "hotline")  # what `import TARGET FILE` takes (connectors.base.TARGETS)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _add_period_arguments(parser: argparse.ArgumentParser) -> None:
    from kpis.period import PERIOD_NAMES

    parser.add_argument("--from", dest="start", type=_parse_date, help="first local date, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=_parse_date, help="day after the last local date, YYYY-MM-DD")
    parser.add_argument(
        "--period",
        choices=[name for name in PERIOD_NAMES if name != "custom"],
        help="a named period as of today (instead of --from/--to)",
    )


def _period_from_args(args: argparse.Namespace) -> Any:
    """The Period the arguments name, or None after printing why they don't name one."""
    from ioc.timeutil import local_today
    from kpis import Period
    from kpis.period import named_period

    try:
        if args.period is not None:
            if args.start is not None or args.end is not None:
                raise ValueError("give either --period or --from/--to, not both")
            return named_period(args.period, local_today())
        if args.start is None or args.end is None:
            raise ValueError("give --from and --to (YYYY-MM-DD), or --period")
        return Period(args.start, args.end)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ioc",
        description="IOC dashboard tools. Every command works on the embedded store unless --db names another.",
    )
    db_help = "DuckDB store file (import and ingest create a new one; kpi and report need an existing one)"
    parser.add_argument("--db", type=Path, help=db_help)
    # --db also after the command ("python -m ioc kpi --db FILE"); SUPPRESS keeps the one given before it otherwise.
    with_db = argparse.ArgumentParser(add_help=False)
    with_db.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    importer = commands.add_parser(
        "import",
        parents=[with_db],
        usage="python -m ioc import {dossiers,hotline} FILE | python -m ioc import --mapping MAPPING FILE",
        help="import a CSV/XLSX with canonical column names, or any CSV/XLSX through a mapping file",
        description="Import a CSV or XLSX whose header uses the canonical column names (docs/canonical-columns.md), or, with "
        "--mapping, any CSV/XLSX through a mapping file (mappings/README.md). "
        "Bad rows go to the rejects table with a reason; the rest lands.",
    )
    # Two optional positionals so that "import --mapping M FILE" and "import TARGET FILE" both parse.
    importer.add_argument("target", nargs="?", metavar="TARGET", help="dossiers or hotline (omit with --mapping)")
    importer.add_argument("file", nargs="?", type=Path, metavar="FILE")
    importer.add_argument("--mapping", type=Path, help="a mapping TOML (e.g. mappings/nyc311.toml)")

    kpi = commands.add_parser(
        "kpi",
        parents=[with_db],
        help="print the KPI figures for a period",
        description="KPIs of DESIGN.md §4 for [from, to), or a named period as of today. With --compare each figure "
        "comes with the previous period's value and the change; --by breaks the main figures down; --rank ranks units.",
    )
    _add_period_arguments(kpi)
    kpi.add_argument("--unit", help="a unit code, or 'all' for one row per unit (default: the whole city)")
    kpi.add_argument("--compare", action="store_true", help="add the same-length period before and the change")
    kpi.add_argument("--by", choices=["sector", "procedure", "channel", "field", "urgency"], help="break down by")
    kpi.add_argument("--rank", metavar="KPI", help="rank units by this rate (e.g. on_time_rate)")
    kpi.add_argument("--group", choices=["all", "wards", "communes"], default="all", help="which units --rank ranks")
    kpi.add_argument("--format", choices=["json", "csv"], default="json")

    report = commands.add_parser(
        "report",
        parents=[with_db],
        help="write a standard report (Biểu II.06a, QĐ 766 estimate) as CSV or XLSX",
        description="Biểu II.06a/VPCP/KSTT (one row per unit and a total) or the per-unit Decision 766 "
        "index estimate for [from, to). CSV: UTF-8 with BOM, one header row; XLSX: laid out like the form.",
    )
    report.add_argument("--form", choices=["ii06a", "766"], required=True)
    _add_period_arguments(report)
    report.add_argument("--format", choices=["csv", "xlsx"], default="xlsx")
    report.add_argument("--output", help="file to write (default: <form>_<from>_<last day>.<format> here; '-' is stdout)")
    report.add_argument("--reporting-unit", help="'Đơn vị báo cáo' in the header (default: UBND thành phố <city_name>)")
    report.add_argument("--receiving-unit", default="Văn phòng Chính phủ", help="'Đơn vị nhận báo cáo' in the header")

    ingest = commands.add_parser(
        "ingest",
        parents=[with_db],
        help="run one source of the sources file once (from its stored cursor)",
        description="Run one source declared in the sources file (connectors/README.md) once, from its stored "
        "cursor; secrets come from the environment variables the file names.",
    )
    ingest.add_argument("--source", required=True, metavar="NAME", help="a [sources.NAME] of the sources file")
    ingest.add_argument(
        "--sources",
        type=Path,
        metavar="FILE",
        help="the sources TOML (default: the sources_file setting, IOC_SOURCES_FILE, else config/sources.toml)",
    )
    ingest.add_argument(
        "--from-start",
        action="store_true",
        help="forget the stored cursor and read the source from its beginning, e.g. after correcting a mapping or an "
        "option that rejected rows (merge by key stores each row once; files already moved to processed/ stay there)",
    )
    from ioc.bench.cli import add_bench_parser

    add_bench_parser(commands)
    return parser


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _write_kpi_rows(rows: list[dict[str, Any]], output_format: str, many: bool) -> None:
    clean = [{key: _json_value(value) for key, value in row.items()} for row in rows]
    if output_format == "json":
        json.dump(clean if many else clean[0], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    from ioc import export

    # As every export: UTF-8 with a BOM for Excel, and text a spreadsheet would run as a formula neutralised
    # (a sector or procedure name comes from a source).
    header = list(clean[0])
    sys.stdout.flush()
    export.write_csv(sys.stdout.buffer, header, ([row[key] for key in header] for row in clean))
    sys.stdout.buffer.flush()


def run_kpi(db: Database, args: argparse.Namespace) -> int:
    from kpis import compute, compute_by_unit

    period = _period_from_args(args)
    if period is None:
        return 2
    if args.unit not in (None, "all") and db.scalar("SELECT count(*) FROM units WHERE unit_code = ?", [args.unit]) == 0:
        print(f"error: unknown unit code '{args.unit}'", file=sys.stderr)
        return 2
    scope = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    try:
        if args.rank is not None or args.by is not None or args.compare:
            rows = _kpi_table(db, period, args)
            _write_kpi_rows([{**scope, **row} for row in rows], args.format, many=True)
            return 0
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.unit == "all":
        frame = compute_by_unit(db, period).reset_index()
        frame = frame.drop(columns=[c for c in ("name", "full_name", "kind") if c in frame.columns])
        records = frame.to_dict(orient="records")
        _write_kpi_rows([{str(k): v for k, v in row.items()} for row in records], args.format, many=True)
        return 0
    figures = compute(db, period, args.unit)
    _write_kpi_rows([{"unit_code": args.unit, **scope, **figures}], args.format, many=False)
    return 0


def _kpi_table(db: Database, period: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows for --rank, --by or --compare (one of them; --rank first, then --by)."""
    from kpis.breakdown import DOSSIER_DIMENSIONS, HOTLINE_DIMENSIONS, dossier_breakdown, hotline_breakdown
    from kpis.compare import compare
    from kpis.ranking import rank_units

    unit_code = None if args.unit in (None, "all") else args.unit
    if args.rank is not None:
        ranking = rank_units(db, period, args.rank, args.group)
        frame = pd.concat([ranking.ranked, ranking.not_ranked])
        return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
    if args.by is not None:
        # "channel" exists in both streams: its rows say which stream they count.
        frames: list[tuple[str, pd.DataFrame]] = []
        if args.by in DOSSIER_DIMENSIONS:
            frames.append(("dossiers", dossier_breakdown(db, period, args.by, unit_code)))
        if args.by in HOTLINE_DIMENSIONS:
            frames.append(("hotline", hotline_breakdown(db, period, args.by, unit_code)))
        return [
            {"stream": stream, **{str(k): v for k, v in row.items()}}
            for stream, frame in frames
            for row in frame.to_dict(orient="records")
        ]
    comparison = compare(db, period, unit_code)
    return [
        {
            "unit_code": unit_code,
            "previous_from": comparison.previous_period.start.isoformat(),
            "previous_to": comparison.previous_period.end.isoformat(),
            "kpi_id": change.kpi_id,
            "current": change.current,
            "previous": change.previous,
            "change": change.change,
            "change_unit": change.change_unit,
        }
        for change in comparison.figures.values()
    ]


def _progress(text: str) -> None:
    """Where a long import says what it is doing: stderr, so stdout keeps only the summary."""
    print(f"  … {text}", file=sys.stderr, flush=True)


def run_import(db: Database, args: argparse.Namespace) -> int:
    from connectors.files import import_file
    from connectors.mapping import MappingError, load_mapping
    from ioc.csv_import import ImportFileError, import_csv

    path = _import_file(args)
    if path is None:
        if args.mapping is not None:
            problem = "with --mapping give only FILE (the mapping names the target)" if args.file else "give the FILE to import"
        else:
            given = f"'{args.target}' is not a target: " if args.target not in (None, *IMPORT_TARGETS) else ""
            problem = f"{given}give dossiers or hotline, then FILE (or --mapping MAPPING FILE)"
        print(f"error: {problem}", file=sys.stderr)
        return 2
    summary: Any
    try:
        if args.mapping is not None:
            summary = import_file(db, path, load_mapping(args.mapping), progress=_progress)
            for note in summary.notes:
                print(f"note: {note}")
        else:
            summary = import_csv(db, args.target, path, progress=_progress)
    except (ImportFileError, MappingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary.describe())
    result = summary.result
    if result.rejects:
        print("rejected rows (first 5; all are in the rejects table):")
        for raw, reason in result.rejects[:5]:
            print(_reject_line(raw, reason))
    if result.rows_read and result.rows_rejected == result.rows_read:
        # Nothing landed: most often the wrong mapping or a changed export format. Still exit 0: DESIGN §6 keeps
        # non-zero for a file that cannot be read, and every rejected row is kept with its reason.
        print("warning: every row was rejected (reasons above); nothing was imported", file=sys.stderr)
    return 0


def run_report(db: Database, args: argparse.Namespace) -> int:
    from ioc import export
    from ioc.timeutil import now_utc
    from kpis.index766 import index_766_by_unit
    from kpis.report_ii06a import build_ii06a

    period = _period_from_args(args)
    if period is None:
        return 2
    reporting_unit = args.reporting_unit or f"UBND thành phố {Config.load().city_name}"
    output = args.output or f"{args.form}_{period.start.isoformat()}_{period.last_day.isoformat()}.{args.format}"
    if output == "-" and args.format == "xlsx":
        print("error: an XLSX cannot go to stdout; give --output FILE", file=sys.stderr)
        return 2
    target: Any = sys.stdout.buffer if output == "-" else Path(output)
    if args.form == "ii06a":
        form = build_ii06a(db, period, reporting_unit=reporting_unit, receiving_unit=args.receiving_unit)
        if args.format == "csv":
            export.write_ii06a_csv(form, target)
        else:
            export.write_ii06a_xlsx(form, target)
        units = len(form.rows) - 1
    else:
        frame = index_766_by_unit(db, period)
        if args.format == "csv":
            export.write_index766_csv(frame, target)
        else:
            export.write_index766_xlsx(
                frame,
                target,
                period_text=f"từ ngày {period.start:%d/%m/%Y} đến ngày {period.last_day:%d/%m/%Y}",
                reporting_unit=reporting_unit,
                data_time=db.scalar("SELECT max(ingested_at) FROM dossiers"),
                generated_at=now_utc(),
            )
        units = len(frame)
    if output != "-":
        print(f"wrote {output}: {units} units, {period.start.isoformat()} to {period.last_day.isoformat()}")
    return 0


def run_ingest(db: Database, args: argparse.Namespace) -> int:
    from connectors.base import SourceError, forget_cursor, run_connector
    from connectors.sources import SourceConfigError, build_connector, read_sources_file
    from ioc.config import Config

    try:
        # Read table by table, as the app does: another table's problem must not stop this source.
        sources_file = read_sources_file(args.sources or Config.load().sources_file)
    except SourceConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.source in sources_file.problems:
        print(f"error: {sources_file.path}: {sources_file.problems[args.source]}", file=sys.stderr)
        return 2
    if args.source not in sources_file.sources:
        print(_unknown_source(args.source, sources_file), file=sys.stderr)
        return 2
    try:
        connector = build_connector(db, sources_file.sources[args.source])
    except SourceConfigError as error:
        print(f"error: {sources_file.path}: {error}", file=sys.stderr)
        return 2
    if args.from_start:
        forget_cursor(db, connector.name)
        print(f"{args.source}: cursor forgotten, reading from the start", file=sys.stderr)
    try:
        with _retry_warnings_on_stderr():
            result = run_connector(db, connector)
    except (SourceError, OSError) as error:
        # ingest_batches already stored the error for /health; the batches before it stay committed.
        print(f"error: source {args.source} failed: {error}", file=sys.stderr)
        return 1
    finally:
        close = getattr(connector, "close", None)
        if callable(close):
            close()
    # A file refused whole is not a rejected row: counted apart, so "1 rejected" never hides an unread file.
    refused = f", {result.refused} file(s) refused (moved to failed/)" if result.refused else ""
    rejected = result.rows_rejected - result.refused
    print(f"{args.source}: {result.rows_read} rows read, {result.rows_upserted} upserted, {rejected} rejected{refused}")
    from connectors.files import FileDropConnector

    if isinstance(connector, FileDropConnector) and (left := connector.settling_files()):
        # Run by hand right after a copy, a quiet "0 rows read" would look like the file was ignored.
        names = ", ".join(path.name for path in left[:5]) + (f" (+ {len(left) - 5} more)" if len(left) > 5 else "")
        print(
            f"note: {len(left)} file(s) changed in the last {connector.settle_seconds:g} s (settle_seconds) are left for "
            f"the next run, in case they are still being copied: {names}"
        )
    if result.refused:
        # The rest landed, but a file was refused whole: a script running this must notice.
        print(f"error: {result.refused} file(s) could not be imported and were moved to failed/ (reasons above)", file=sys.stderr)
        return 1
    if result.rows_read and result.rows_rejected >= result.rows_read and (result.rejects_recorded or args.from_start):
        # Most often a wrong mapping or option: the cursor moved past those rows, so say how to read them again.
        # (Rows an overlap window reads again and rejects again are not news, unless the user asked for a re-read.)
        again = (
            "correct the file and drop it into the folder again"
            if isinstance(connector, FileDropConnector)
            else "once corrected, run again with --from-start"
        )
        print(f"error: every row was rejected (reasons in the rejects table); {again}", file=sys.stderr)
        return 1
    return 0


def _unknown_source(name: str, sources_file: SourcesFile) -> str:
    """Says the name is not declared, lists the names that are, and why any of them cannot be used."""
    declared = sorted([*sources_file.sources, *sources_file.problems])
    lines = [f"error: no source '{name}' in {sources_file.path}; it declares: {', '.join(declared)}"]
    lines += [f"  cannot be used: {problem}" for problem in sources_file.problems.values()]
    return "\n".join(lines)


@contextlib.contextmanager
def _retry_warnings_on_stderr() -> Iterator[None]:
    """Show the connectors' warnings (each retry, each dropped file refused) on stderr; run_ingest prints the outcome."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _store_problem(path: Path, error: duckdb.IOException) -> str:
    """One line on why ``--db`` cannot be opened: most often a path naming some other file."""
    if path.is_dir():
        return f"--db {path} is a directory, not a DuckDB store file"
    if "not a valid DuckDB database file" in str(error):
        return f"--db {path} is not a DuckDB store (give a .duckdb file, or a new path to create one)"
    return f"cannot open the store {path}: {str(error).removeprefix('IO Error: ')}"


def _import_file(args: argparse.Namespace) -> Path | None:
    """The file an ``import`` names, or None when its arguments do not name one as they should (run_import says how)."""
    if args.mapping is not None:  # import --mapping MAPPING FILE: FILE comes first of the two optional positionals
        return Path(args.target) if args.target is not None and args.file is None else None
    return Path(args.file) if args.target in IMPORT_TARGETS and args.file is not None else None


def _reject_line(raw: str, reason: str) -> str:
    """A reject as the console shows it: the file's line (and the row's key) first, so the row is easy to find."""
    from connectors.mapping import ROW_LINE

    try:
        row = json.loads(raw)
    except ValueError:
        row = None  # a raw row cut at its size limit
    if isinstance(row, dict) and row.get(ROW_LINE):
        key = row.get("dossier_id") or row.get("ticket_id")
        line = f"line {row[ROW_LINE]}"
        reason = reason.removeprefix(f"{line}: ")  # a reader's own reason may start with the line already
        return f"  {line}{f' ({key})' if key else ''}: {reason}"
    return f"  {reason}: {raw[:120]}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":  # the bench store is its own file, never the embedded one
        from ioc.bench.cli import run_bench

        return run_bench(args)
    db_path = args.db or Path(Config.load().db_path)
    from ioc.store import open_store, tidy_between_runs

    new_store = not db_path.exists()
    if new_store and args.command in ("kpi", "report"):
        # A mistyped --db or a forgotten IOC_DB_PATH would otherwise answer with the zeros of a new, empty store.
        print(
            f"error: there is no store at {db_path} (check --db or IOC_DB_PATH; an import or the app creates one)",
            file=sys.stderr,
        )
        return 1
    named = _import_file(args) if args.command == "import" else None
    if named is not None and not named.exists():  # said before any store is opened or created
        print(f"error: cannot read {named}: no such file", file=sys.stderr)
        return 1
    try:
        db = open_store(db_path)
    except StoreLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except duckdb.IOException as error:
        print(f"error: {_store_problem(db_path, error)}", file=sys.stderr)
        return 1
    try:
        if args.command == "kpi":
            return run_kpi(db, args)
        if args.command == "report":
            return run_report(db, args)
        if args.command in ("import", "ingest"):
            status = run_import(db, args) if args.command == "import" else run_ingest(db, args)
            tidy_between_runs(db)
            if new_store and status == 0:
                # After the outcome: a failure stays one line. A mistyped --db is seen before the rows are looked for.
                print(f"note: a new store was created at {db_path}", file=sys.stderr)
            return status
    finally:
        db.close()
    return 2
