"""Wall benchmark: first render of /wall/city in headless Chromium, bytes sent, and bytes per refresh; writes docs/benchmarks.md.

Run: ``python tests/bench/bench_wall.py [--runs 3] [--idle 30] [--print-only]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from selenium import webdriver  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from ioc.bench import report  # noqa: E402
from ioc.chromium import chromium_options  # noqa: E402
from ioc.web import create_app  # noqa: E402
from tests.web_fixtures import add_dossier_received_now, live_store, pinned_clock  # noqa: E402

BENCHMARKS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Wall screens"
PAGE = "/wall/city"

_RESOURCES_JS = """
var entries = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
return entries.map(function (e) { return [e.name, e.transferSize || 0, e.encodedBodySize || 0, e.decodedBodySize || 0]; });
"""
_DRAWN_JS = """
var units = document.querySelectorAll('#wall-city-map > svg path[data-unit-code][data-painted]').length;
var flow = document.querySelector('#wall-city-flow > svg rect.flow-bar');
var tile = document.querySelector('#wall-city-received-today-value');
return flow && tile && units >= 94 ? performance.now() : null;
"""


def _driver() -> webdriver.Chrome:
    driver = webdriver.Chrome(options=chromium_options())
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
    )
    return driver


def _first_render(url: str) -> dict[str, Any]:
    """A cold browser (new profile, empty cache): ms from navigation start until map, chart and tiles are drawn."""
    driver = _driver()
    try:
        driver.get(url)
        deadline = time.monotonic() + 60
        drawn = None
        while drawn is None and time.monotonic() < deadline:
            drawn = driver.execute_script(_DRAWN_JS)
            if drawn is None:
                time.sleep(0.02)
        if drawn is None:
            raise SystemExit(f"{url} did not finish drawing within 60 s")
        time.sleep(1.0)  # late resources (the favicon) finish arriving
        resources = driver.execute_script(_RESOURCES_JS)
        logs = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        external = [name for name, *_ in resources if not name.startswith(url.split(PAGE)[0])]
        return {"ms": float(drawn), "resources": resources, "errors": logs, "external": external}
    finally:
        driver.quit()


def _gzip_size(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        return len(gzip.compress(response.read(), compresslevel=6))


def _idle_and_change(url: str, db: Any, idle_seconds: float) -> dict[str, Any]:
    """Bytes while nothing changes (per version poll and per minute), then for one data change."""
    driver = _driver()
    try:
        driver.get(url)
        deadline = time.monotonic() + 60
        while driver.execute_script(_DRAWN_JS) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2)
        driver.execute_script("performance.clearResourceTimings(); performance.setResourceTimingBufferSize(10000);")
        time.sleep(idle_seconds)
        idle = driver.execute_script(_RESOURCES_JS)
        updates = [entry for entry in idle if "_dash-update-component" in entry[0]]
        versions = [entry for entry in idle if "/api/version" in entry[0]]
        total = sum(entry[1] for entry in idle)
        driver.execute_script("performance.clearResourceTimings();")
        add_dossier_received_now(db, "20194", "BENCH-0001")
        time.sleep(4)
        change = driver.execute_script(_RESOURCES_JS)
        return {
            "idle_seconds": idle_seconds,
            "idle_total": total,
            "polls": len(updates),
            "per_poll": (sum(entry[1] for entry in updates) / len(updates)) if updates else 0.0,
            "version_checks": len(versions),
            "per_version_check": (sum(entry[1] for entry in versions) / len(versions)) if versions else 0.0,
            "change_total": sum(entry[1] for entry in change),
        }
    finally:
        driver.quit()


def _kb(size: float) -> str:
    return f"{size / 1024:,.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:,.2f} MB"


def render_markdown(renders: list[dict[str, Any]], gzip_total: int, refresh: dict[str, Any], command: str) -> str:
    first = renders[0]
    times = [run["ms"] for run in renders]
    transfer = sum(row[1] for row in first["resources"])
    encoded = sum(row[2] for row in first["resources"])
    largest = sorted(first["resources"], key=lambda row: -row[2])[:4]
    largest_text = ", ".join(f"{re.sub(r'[?].*$', '', row[0].split('/')[-1])} {_kb(row[2])}" for row in largest)
    per_minute = refresh["idle_total"] * 60 / refresh["idle_seconds"]
    plotly_loaded = "yes" if any("plotly" in row[0] or "async-graph" in row[0] for row in first["resources"]) else "no"
    lines = [
        SECTION,
        "",
        f"`{command}` on {time.strftime('%Y-%m-%d')}: the app on localhost (werkzeug, one process) over the 12-day sample",
        "store of the web tests, headless Chromium at 1920×1080 with a new profile per run (cold cache).",
        "",
        "| what | target | measured |",
        "|---|---|---|",
        f"| first render of /wall/city (navigation start → map, chart and tiles drawn), median of {len(times)} | < 2 s | "
        f"{statistics.median(times) / 1000:.2f} s (runs: {', '.join(f'{value / 1000:.2f}' for value in times)} s) |",
        f"| transfer of the first render (Resource Timing transferSize) | < 1.5 MB | {_kb(transfer)} (bodies {_kb(encoded)}) |",
        f"| the same resources gzip-compressed (if the server compressed) | < 1.5 MB | {_kb(gzip_total)} |",
        f"| refresh with no data change: one version poll (`_dash-update-component`, headers included) | < 2 KB | "
        f"{_kb(refresh['per_poll'])} |",
        f"| wall.js connection check (`/api/version`) | | {_kb(refresh['per_version_check'])} each, every 5 s |",
        f"| all traffic of an idle wall | | {_kb(per_minute)} per minute ({refresh['polls']} polls and "
        f"{refresh['version_checks']} checks in {refresh['idle_seconds']:.0f} s) |",
        f"| one data change (new version: tiles, map colours, lists, chart) | | {_kb(refresh['change_total'])} |",
        "",
        f"Largest resources: {largest_text}. Requests to other hosts: {len(first['external'])}; "
        f"console errors: {len(first['errors'])}.",
        "The map and the chart are SVG drawn by `assets/wall.js` from element trees the server sends"
        " (`layouts/wall_svg.py`): the unit outlines are projected once and come with the page, a refresh sends only"
        f" the colours. plotly.js loaded: {plotly_loaded}. Responses are compressed (flask-compress).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per poll would bury the table
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to watch an idle wall")
    parser.add_argument("--print-only", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        stores = live_store(Path(folder) / "bench.duckdb")
        db = next(stores)
        from ioc.config import Config

        app = create_app(db, Config.load(), clock=pinned_clock, connector_intervals={})
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            urllib.request.urlopen(base + PAGE).read()  # warm the snapshot cache, as the scheduler does
            renders = [_first_render(base + PAGE) for _ in range(args.runs)]
            gzip_total = sum(_gzip_size(row[0]) for row in renders[0]["resources"] if row[0].startswith(base))
            refresh = _idle_and_change(base + PAGE, db, args.idle)
        finally:
            server.shutdown()
            server.server_close()
            stores.close()
    command = "python tests/bench/bench_wall.py" + (" " + " ".join(argv or sys.argv[1:]) if (argv or sys.argv[1:]) else "")
    markdown = render_markdown(renders, gzip_total, refresh, command)
    report.publish(markdown, print_only=args.print_only, path=BENCHMARKS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
