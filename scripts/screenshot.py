"""Screenshot a page of the running app in headless Chromium: python scripts/screenshot.py URL OUT.png --size 1920x1080."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from selenium import webdriver

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ioc.chromium import chromium_options


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def screenshot(url: str, out: Path, width: int, height: int, wait_selector: str, settle_seconds: float) -> None:
    """Open ``url`` with a viewport of exactly ``width``×``height`` CSS pixels and save a PNG."""
    # selenium 3.141 hands urllib3 2 a sentinel timeout it rejects; a number works with both.
    options = chromium_options([f"--window-size={width},{height}", "--hide-scrollbars"])
    driver = webdriver.Chrome(options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        )
        driver.get(url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if driver.execute_script("return document.querySelectorAll(arguments[0]).length", wait_selector):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"{wait_selector!r} did not appear on {url} within 30 s")
        time.sleep(settle_seconds)  # let Plotly draw and fonts settle
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(driver.get_screenshot_as_png())
        overflow = driver.execute_script("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        print(f"{out}: {width}x{height}, document {overflow[0]}x{overflow[1]}")
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="1920x1080", help="viewport WIDTHxHEIGHT in CSS pixels")
    parser.add_argument("--wait-for", default=".kpi-value", help="CSS selector that marks the page as rendered")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait after the selector appears")
    args = parser.parse_args(argv)
    width, height = parse_size(args.size)
    screenshot(args.url, args.out, width, height, args.wait_for, args.settle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
