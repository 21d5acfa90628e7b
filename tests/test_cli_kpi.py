"""``python -m ioc kpi``: the §4 figures by id, as JSON or CSV, for the city, a unit, or every unit."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.config import PROJECT_ROOT

# Two units, November 2025. By hand, for [2025-11-03, 2025-11-08):
#   20194: A resolved on 05/11, due 06/11 -> early; B resolved 07/11, due 06/11 -> late;
#          C in progress, due 07/11 -> overdue at as-of 08/11.
#   20197: D received online 04/11, still in progress, due 20/11 -> within.
#   city: received 4 (online A, D), resolved 2, on_time_rate 1/2, in_progress 2, overdue 1.
ROWS = """dossier_id,unit_code,channel,received_at,due_at,finished_at,status,updated_at
A,20194,online,2025-11-03T08:00:00,2025-11-06T17:00:00,2025-11-05T10:00:00,resolved,2025-11-05T10:00:00
B,20194,in_person,2025-11-03T09:00:00,2025-11-06T17:00:00,2025-11-07T10:00:00,returned,2025-11-07T10:00:00
C,20194,postal,2025-11-04T09:00:00,2025-11-07T17:00:00,,processing,2025-11-04T09:00:00
D,20197,online,2025-11-04T10:00:00,2025-11-20T17:00:00,,accepted,2025-11-04T10:00:00
"""


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kpi-cli")
    source = folder / "dossiers.csv"
    source.write_text(ROWS, encoding="utf-8")
    path = folder / "store.duckdb"
    proc = run_cli("--db", str(path), "import", "dossiers", str(source))
    assert "4 rows read, 4 upserted, 0 rejected" in proc.stdout, proc.stdout + proc.stderr
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ioc", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)


def test_city_figures_as_json(store_path: Path) -> None:
    proc = run_cli("--db", str(store_path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08")
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["unit_code"] is None
    assert (figures["received"], figures["received_online"], figures["resolved"]) == (4, 2, 2)
    assert (figures["resolved_early"], figures["resolved_late"]) == (1, 1)
    assert figures["on_time_rate"] == 0.5
    assert (figures["in_progress"], figures["in_progress_overdue"], figures["in_progress_within"]) == (2, 1, 1)
    assert figures["online_rate"] == 0.5
    assert figures["hotline_on_time_rate"] is None  # no tickets: an empty denominator is null


def test_one_unit_and_every_unit(store_path: Path) -> None:
    one = json.loads(
        run_cli("--db", str(store_path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08", "--unit", "20197").stdout
    )
    assert (one["unit_code"], one["received"], one["resolved"], one["on_time_rate"]) == ("20197", 1, 0, None)
    proc = run_cli(
        "--db", str(store_path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08", "--unit", "all", "--format", "csv"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("\ufeff")  # UTF-8 with a BOM, as every export: Excel then shows Vietnamese
    rows = list(csv.DictReader(io.StringIO(proc.stdout.removeprefix("\ufeff"))))
    assert len(rows) == 94
    by_code = {row["unit_code"]: row for row in rows}
    assert by_code["20194"]["resolved"] == "2" and by_code["20194"]["on_time_rate"] == "0.5"
    assert by_code["20197"]["on_time_rate"] == ""


def test_bad_arguments_are_clear_errors(store_path: Path) -> None:
    unknown = run_cli("--db", str(store_path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08", "--unit", "00000")
    assert unknown.returncode == 2 and "unknown unit code" in unknown.stderr
    backwards = run_cli("--db", str(store_path), "kpi", "--from", "2025-11-08", "--to", "2025-11-03")
    assert backwards.returncode == 2 and "error" in backwards.stderr
    not_a_date = run_cli("--db", str(store_path), "kpi", "--from", "3/11/2025", "--to", "2025-11-08")
    assert not_a_date.returncode == 2 and "not a date" in not_a_date.stderr


def test_compare_breakdown_and_rank(store_path: Path) -> None:
    args = ("--db", str(store_path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08")
    compared = json.loads(run_cli(*args, "--compare").stdout)
    by_id = {row["kpi_id"]: row for row in compared}
    # The 5 days before [3, 8 Nov) are [29 Oct, 3 Nov): nothing was received then.
    assert (compared[0]["previous_from"], compared[0]["previous_to"]) == ("2025-10-29", "2025-11-03")
    assert (by_id["received"]["current"], by_id["received"]["previous"], by_id["received"]["change"]) == (4, 0, 4)
    assert by_id["on_time_rate"]["previous"] is None and by_id["on_time_rate"]["change"] is None

    channels = json.loads(run_cli(*args, "--by", "channel").stdout)
    dossier_rows = {row["key"]: row for row in channels if row["stream"] == "dossiers"}
    assert (dossier_rows["online"]["received"], dossier_rows["in_person"]["received"], dossier_rows["postal"]["received"]) == (
        2,
        1,
        1,
    )

    # Only 20194 resolved anything, and 2 dossiers are fewer than the 5 a rank needs: nobody is ranked.
    ranked = json.loads(run_cli(*args, "--rank", "on_time_rate").stdout)
    assert len(ranked) == 94 and all(row["rank"] is None for row in ranked)
    bad = run_cli(*args, "--rank", "received")
    assert bad.returncode == 2 and "cannot rank" in bad.stderr


def test_a_named_period_or_from_and_to_but_not_both(store_path: Path) -> None:
    this_month = run_cli("--db", str(store_path), "kpi", "--period", "this_month")
    assert this_month.returncode == 0, this_month.stderr
    assert json.loads(this_month.stdout)["from"].endswith("-01")
    both = run_cli("--db", str(store_path), "kpi", "--period", "today", "--from", "2025-11-03")
    assert both.returncode == 2 and "not both" in both.stderr
    neither = run_cli("--db", str(store_path), "kpi")
    assert neither.returncode == 2 and "--period" in neither.stderr


def test_csv_text_a_spreadsheet_would_run_is_neutralised(tmp_path: Path) -> None:
    # A sector name comes from a source: a formula in it must reach the analyst's spreadsheet as text.
    formula = '=HYPERLINK("http://evil.example","x")'
    source = tmp_path / "dossiers.csv"
    source.write_text(
        "dossier_id,unit_code,channel,received_at,status,sector\n"
        f'F1,20194,online,2025-11-03T08:00:00,accepted,"{formula.replace(chr(34), chr(34) * 2)}"\n'
        "F2,20194,online,2025-11-03T09:00:00,accepted,Hộ tịch\n",
        encoding="utf-8",
    )
    path = tmp_path / "store.duckdb"
    assert "2 upserted" in run_cli("--db", str(path), "import", "dossiers", str(source)).stdout
    proc = run_cli("--db", str(path), "kpi", "--from", "2025-11-03", "--to", "2025-11-08", "--by", "sector", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout.removeprefix("\ufeff"))))
    assert sorted(row["key"] for row in rows) == sorted(["'" + formula, "Hộ tịch"])
