"""`python -m ioc bench ingest` at a small size: the file connector stores every generated row and the report says so."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import connectors.csv_bulk as csv_bulk
from ioc.bench.ingest import SECTION, render_markdown, run_ingest_bench, write_section


def test_the_ingest_benchmark_runs_end_to_end_and_keeps_the_other_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_bulk, "BULK_MIN_BYTES", 0)  # this small file through the bulk path, as 1 M rows go
    report = run_ingest_bench(rows=3_000, changed=100, work_dir=tmp_path, stream=io.StringIO())
    assert report.rows > 2_000 and report.stored == report.rows and report.rejected == 0
    assert report.changed == report.incremental_upserted == 100
    assert report.seconds_read_csv > 0 and report.seconds_import > 0
    # Each statement is counted to the step of the import that ran it, not all to one bucket.
    steps = {step.split(":")[0].split(" (")[0]: seconds for step, seconds in report.steps.items()}
    for step in (
        "read",
        "checks and conversion in SQL",
        "merge by key into `dossiers`",
        "status events",
        "KPI facts and daily counts",
        "commits",
    ):
        assert steps.get(step, 0) > 0, (step, report.steps)
    markdown = render_markdown(report, "python -m ioc bench ingest --rows 3000")
    assert markdown.startswith(SECTION) and f"Rows stored {report.stored:,}" in markdown
    assert "| status events |" in markdown
    target = tmp_path / "benchmarks.md"
    target.write_text(
        "# Benchmarks\n\n## Wall screens\n\nkept\n\n## Ingest\n\nthe previous ingest figures\n\n## KPI engine\n\nkept too\n",
        encoding="utf-8",
    )
    write_section(markdown, target)
    text = target.read_text(encoding="utf-8")
    assert "the previous ingest figures" not in text and text.count(SECTION) == 1
    assert "## Wall screens\n\nkept" in text and "## KPI engine\n\nkept too" in text
