"""Pytest hooks for the browser tests: headless Chromium with a closed network, and selenium 3.141 on urllib3 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)


def pytest_setup_options():  # type: ignore[no-untyped-def]
    """dash[testing]'s hook: the webdriver options dash_duo starts Chromium with (headless even without --headless)."""
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    # selenium 3.141 passes urllib3 a sentinel timeout object that urllib3 2 rejects; a number works with both.
    RemoteConnection.set_timeout(60)
    options = Options()
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    if "DASH_TEST_CHROMEPATH" not in os.environ and Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    # dash collects every plugin's result into a list and uses the first, so return the Options itself.
    return options


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests, with the reason, where Chromium or its driver is missing."""
    import shutil

    if shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("google-chrome")):
        return
    skip = pytest.mark.skip(reason="browser test: chromium and chromedriver are not installed")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the folder of the screenshots the browser tests saved, so the CI output says where to look."""
    from ioc.config import PROJECT_ROOT

    folder = PROJECT_ROOT / "test-artifacts" / "screens"
    shots = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if shots:
        terminalreporter.write_line(f"Screenshots of the screens under test ({len(shots)}): {folder}")
