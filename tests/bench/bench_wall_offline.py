"""Wall offline copy benchmark: what the service worker costs on a first visit, and a reload while the server is down.

Run: ``python tests/bench/bench_wall_offline.py [--print-only]``. Not part of the test suite. Bytes are counted at the
server (a service worker's own requests do not show in the page's Resource Timing). Writes the "Wall screens:
offline copy" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from ioc.bench import report  # noqa: E402
from ioc.chromium import chromium_options  # noqa: E402
from ioc.config import Config  # noqa: E402
from ioc.web import create_app  # noqa: E402
from tests.bench.bench_wall import BENCHMARKS  # noqa: E402
from tests.web_fixtures import live_store, pinned_clock  # noqa: E402

SECTION = "## Wall screens: offline copy"
PAGE = "/wall/city"
_DRAWN_JS = """
var units = document.querySelectorAll('#wall-city-map > svg path[data-unit-code][data-painted]').length;
var tile = document.querySelector('#wall-city-received-today-value');
return tile && units >= 94 ? performance.now() : null;
"""


class ByteCounter:
    """WSGI middleware: the bytes of every response body, per request path, since the last ``take``."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.rows: list[tuple[str, str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = b"".join(self.app(environ, start_response))
        with self.lock:
            self.rows.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], len(body)))
        return [body]

    def take(self) -> list[tuple[str, str, int]]:
        with self.lock:
            rows, self.rows = self.rows, []
        return rows


def _wait(driver: webdriver.Chrome, script: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for: {script.strip()[:80]}")


def measure(url: str, counter: ByteCounter, stop_server: Callable[[], None]) -> dict[str, Any]:
    driver = webdriver.Chrome(options=chromium_options())
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
        )
        counter.take()
        driver.get(url)
        _wait(driver, _DRAWN_JS, 60)
        first = counter.take()
        _wait(driver, "return document.documentElement.getAttribute('data-wall-offline-copy') === 'ready'", 60)
        time.sleep(1)
        warm = [row for row in counter.take() if not (row[0] == "POST" and row[2] < 2048) and row[1] != "/api/version"]
        router = max((row[2] for row in first if row[0] == "POST"), default=0)
        stop_server()
        started = time.monotonic()
        driver.refresh()
        offline_ms = _wait(driver, _DRAWN_JS, 60)
        wall_clock = time.monotonic() - started
        banner = _wait(driver, "var e = document.getElementById('wall-offline'); return e && !e.hidden && e.textContent", 30)
        return {
            "first_bytes": sum(row[2] for row in first),
            "warm": warm,
            "warm_bytes": sum(row[2] for row in warm),
            "router_bytes": router,
            "offline_ms": float(offline_ms),
            "offline_wall_clock": wall_clock,
            "banner": str(banner),
        }
    finally:
        driver.quit()


def _kb(size: float) -> str:
    return f"{size / 1024:,.1f} KB"


def render_markdown(result: dict[str, Any], command: str) -> str:
    warm = ", ".join(f"{method} {path} {_kb(size)}" for method, path, size in result["warm"])
    return "\n".join(
        [
            SECTION,
            "",
            f"`{command}` on {time.strftime('%Y-%m-%d')}: the same app and store as above, headless Chromium with a new"
            " profile, response bodies counted at the server as sent (compressed where the server compresses; a service"
            " worker's own requests do not show in the page's Resource Timing, which the section above reads).",
            "",
            "| what | measured |",
            "|---|---|",
            f"| first visit: bodies sent until the wall is drawn | {_kb(result['first_bytes'])} |",
            f"| first visit, once, a few seconds later: the worker registers and fills its copy | {_kb(result['warm_bytes'])} |",
            f"| afterwards, at most once a minute while the data changes: a fresh copy of the page (router answer) | "
            f"{_kb(result['router_bytes'])} |",
            f"| reload with the server down: navigation start → tiles and map drawn from the copy | "
            f"{result['offline_ms'] / 1000:.2f} s |",
            f"| … and the banner | “{re.sub(r'[0-9]{1,2}:[0-9]{2}', 'HH:MM', result['banner'])}”, HH:MM being when the"
            " server last answered, before the reload |",
            "",
            f"Filling the copy fetched: {warm or 'nothing'}. Version polls, /api/version and every other callback go"
            " straight to the network: the worker does not answer them, so the figures above for an idle wall and a"
            " data change are unchanged by it.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-only", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        stores = live_store(Path(folder) / "bench.duckdb")
        db = next(stores)
        app = create_app(db, Config.load(), clock=pinned_clock, connector_intervals={})
        counter = ByteCounter(app.server.wsgi_app)
        app.server.wsgi_app = counter  # type: ignore[method-assign]
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stopped = []

        def stop() -> None:
            # Closed, not only stopped: a socket left listening would make the browser wait instead of fail.
            if not stopped:
                server.shutdown()
                server.server_close()
                stopped.append(True)

        try:
            result = measure(f"http://127.0.0.1:{server.server_port}{PAGE}", counter, stop)
        finally:
            stop()
            stores.close()
    command = "python tests/bench/bench_wall_offline.py" + (
        " " + " ".join(argv or sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    markdown = render_markdown(result, command)
    report.publish(markdown, print_only=args.print_only, path=BENCHMARKS, after="## Wall screens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
