"""Shared fixtures: a fresh real DuckDB store file per test, and the path of ../shared when present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.config import PROJECT_ROOT
from ioc.db import Database
from ioc.store import open_store
from tests.missing import missing

SHARED_DIR = PROJECT_ROOT.parent / "shared"

# Browser tests: headless Chromium options for dash_duo, and a skip with the reason where Chromium is missing.
pytest_plugins = ["tests.browser_conftest", "tests.pg_fixtures", "tests.open311_server"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Database]:
    """A new store file with schema, reference units and procedures, and the calendar."""
    db = open_store(tmp_path / "store.duckdb")
    yield db
    db.close()


@pytest.fixture
def shared_dir() -> Path:
    """../shared, where the larger real samples live; tests that need it skip with the reason when absent."""
    if not SHARED_DIR.is_dir():
        missing(f"{SHARED_DIR} is not here: real-data samples are only beside a full checkout (CI has them)")
    return SHARED_DIR
