"""Headless Chromium options for screenshots, browser tests and benchmarks (Debian's chromium, closed network)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The network is closed and nothing may be downloaded at run time: no sync, no updates, no first-run.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


def chromium_options(extra_args: Iterable[str] = ()) -> Any:
    """selenium ChromeOptions for Debian's headless Chromium (selenium is a test dependency, imported here only)."""
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.remote.remote_connection import RemoteConnection

    # selenium 3.141 hands urllib3 2 a sentinel timeout object it rejects; a number works with both.
    RemoteConnection.set_timeout(60)
    options = Options()
    for argument in (*CHROMIUM_ARGS, *extra_args):
        options.add_argument(argument)
    if "DASH_TEST_CHROMEPATH" not in os.environ and DEBIAN_CHROMIUM.exists():
        options.binary_location = str(DEBIAN_CHROMIUM)
    return options
