"""docs/canonical-columns.md, the list an office writes its file by, says what the code accepts."""

from __future__ import annotations

import re

from connectors.mapping import REQUIRED
from ioc.canonical import HOTLINE_DUE_WORKING_DAYS, MAX_ID_LENGTH, MAX_TITLE_LENGTH
from ioc.config import PROJECT_ROOT
from ioc.model import (
    DOSSIER_CHANNELS,
    DOSSIER_COLUMNS,
    DOSSIER_STATUSES,
    HOTLINE_CHANNELS,
    HOTLINE_COLUMNS,
    HOTLINE_RATINGS,
    HOTLINE_STATUSES,
    HOTLINE_URGENCIES,
)

DOC = (PROJECT_ROOT / "docs" / "canonical-columns.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end > 0 else None]


def column_rows(text: str) -> dict[str, list[str]]:
    """The column table's rows by column name: [required, values, meaning]."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[a-z_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def quoted(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", text))


def test_every_column_is_listed_once_in_the_model_order_with_the_required_ones_marked() -> None:
    for title, columns, target in (("Dossiers", DOSSIER_COLUMNS, "dossiers"), ("Hotline tickets", HOTLINE_COLUMNS, "hotline")):
        rows = column_rows(section(title))
        assert list(rows) == list(columns), title
        required = {name for name, (flag, _, _) in rows.items() if flag == "yes"}
        assert required == set(REQUIRED[target]), title


def test_the_choices_and_limits_are_the_models() -> None:
    dossiers, hotline = column_rows(section("Dossiers")), column_rows(section("Hotline tickets"))
    assert quoted(dossiers["channel"][1]) == set(DOSSIER_CHANNELS)
    assert quoted(hotline["channel"][1]) == set(HOTLINE_CHANNELS)
    assert quoted(hotline["urgency"][1]) == set(HOTLINE_URGENCIES)
    assert quoted(hotline["status"][1]) == set(HOTLINE_STATUSES)
    assert quoted(hotline["rating"][1]) == set(HOTLINE_RATINGS)
    assert f"up to {MAX_ID_LENGTH} characters" in dossiers["dossier_id"][1]
    assert f"up to {MAX_ID_LENGTH} characters" in hotline["ticket_id"][1]
    assert f"up to {MAX_TITLE_LENGTH}" in hotline["title"][1]
    days = HOTLINE_DUE_WORKING_DAYS
    assert f"{days['urgent']}, {days['quick']} or {days['normal']} working days" in hotline["due_at"][2]


def test_the_status_table_is_the_models() -> None:
    table = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section("Dossiers").splitlines()
        if re.match(r"\| \d+ \|", line)
    ]
    assert [(int(code), name.strip("`"), label) for code, name, label, _ in table] == [
        (status.code, status.name, status.label_vi) for status in DOSSIER_STATUSES
    ]
    ended = {name.strip("`") for _, name, _, group in table if group.startswith("ended")}
    resolved = {name.strip("`") for _, name, _, group in table if group == "ended, resolved"}
    assert ended == {s.name for s in DOSSIER_STATUSES if s.ended}
    assert resolved == {s.name for s in DOSSIER_STATUSES if s.resolved}
