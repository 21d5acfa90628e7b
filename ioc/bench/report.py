"""docs/benchmarks.md: one section per benchmark, each replaced in place by the benchmark that writes it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ioc.config import PROJECT_ROOT

BENCHMARKS_MD = PROJECT_ROOT / "docs" / "benchmarks.md"
_NEW_FILE = "# Benchmarks\n\nMeasured on the development machine; each section says how to reproduce it.\n"


def _section(title: str) -> re.Pattern[str]:
    """A "## title" section up to the next "## " heading or the end."""
    return re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def write_section(markdown: str, path: Path = BENCHMARKS_MD, *, after: str | None = None) -> None:
    """Put ``markdown`` (starting with its "## title" line) in place of that section, keeping every other one.

    A section not there yet goes right after the section titled ``after`` when there is one, else at the end.
    """
    title = markdown.split("\n", 1)[0]
    text = path.read_text(encoding="utf-8") if path.exists() else _NEW_FILE
    body = markdown.rstrip("\n") + "\n\n"
    own = _section(title)
    if own.search(text):
        text = own.sub(lambda _: body, text)
    elif after is not None and _section(after).search(text):
        text = _section(after).sub(lambda match: match.group(0).rstrip("\n") + "\n\n" + body, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def publish(markdown: str, *, print_only: bool, after: str | None = None, path: Path = BENCHMARKS_MD) -> None:
    """What every benchmark does with its report: print it, and unless ``print_only`` put it in docs/benchmarks.md."""
    print(markdown)
    if not print_only:
        write_section(markdown, path, after=after)
        title = markdown.split("\n", 1)[0].removeprefix("## ")
        print(f"wrote the '{title}' section of {path}", file=sys.stderr)
