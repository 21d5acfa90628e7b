"""Pytest hooks for the browser tests: headless Chromium with a closed network, and selenium 3.141 on urllib3 2."""

from __future__ import annotations

import pytest


def pytest_setup_options():  # type: ignore[no-untyped-def]
    """dash[testing]'s hook: the webdriver options dash_duo starts Chromium with (headless even without --headless)."""
    from ioc.chromium import chromium_options

    # The window of dash_duo's tests; walls set their own sizes.
    options = chromium_options(["--window-size=1400,1000"])
    # dash collects every plugin's result into a list and uses the first, so return the Options itself.
    return options


@pytest.fixture(autouse=True)
def _free_dash_port() -> None:
    """dash_duo's next server on a port free now, not its fixed 58050 and up.

    On the fixed port, a second test run on the same machine (a CI clone beside a working tree) would find the
    other run's server already answering there, and test it instead of its own.
    """
    import socket

    from dash.testing.application_runners import BaseDashRunner

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        BaseDashRunner._next_port = probe.getsockname()[1]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A browser test where Chromium or its driver is missing: skipped with the reason (failed under CI)."""
    import shutil

    if "browser" not in item.keywords:
        return
    if shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("google-chrome")):
        return
    from tests.missing import missing

    missing("browser test: chromium and chromedriver are not installed (scripts/test.sh installs them)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the folder of the screenshots the browser tests saved, so the CI output says where to look."""
    from ioc.config import PROJECT_ROOT

    folder = PROJECT_ROOT / "test-artifacts" / "screens"
    shots = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if shots:
        terminalreporter.write_line(f"Screenshots of the screens under test ({len(shots)}): {folder}")
