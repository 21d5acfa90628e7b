"""The data sources panel on / and /commune/<code>: status word and icon, last success, lag, last error as text, vi and en."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
import pytest

from connectors.base import Batch, SourceError, ingest_batches
from ioc.db import Database
from ioc.health import connector_health, source_status
from ioc.i18n import format_duration
from ioc.timeutil import now_utc
from ioc.web import create_app, data_health
from tests.test_web import render_page
from tests.web_fixtures import add_dossier_received_now, app_config, live_store, pinned_clock

# What a hostile or broken source could put in its error message: it must reach the page as text only.
HOSTILE = '<script>window.__injected = 1</script><img src="x" onerror="window.__injected = 2">'
GOPY_ERROR = f"HTTP 500 from GET https://gopy.example/api?q={HOSTILE}"
# A long interval so the simulator is not stale however slow the machine is.
INTERVALS = {"simulator": 3600, "gopy": 60}


def fail(db: Database, connector: str, message: str) -> None:
    """One failed run of ``connector``, recorded by the one write path as a real outage would be."""

    def failing() -> Iterator[Batch]:
        raise SourceError(message)
        yield

    with pytest.raises(SourceError):
        ingest_batches(db, connector, failing())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    for store in live_store(tmp_path / "sources.duckdb"):
        fail(store, "gopy", GOPY_ERROR)
        yield store


@pytest.fixture
def app(db: Database) -> dash.Dash:
    return create_app(db, app_config(), clock=pinned_clock, connector_intervals=INTERVALS)


# -- reading the rendered page ----------------------------------------------------------------------------


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component of a rendered layout (Dash's JSON form), depth first."""
    if isinstance(tree, dict) and "props" in tree:
        yield tree
        yield from nodes(tree["props"].get("children"))
    elif isinstance(tree, list):
        for child in tree:
            yield from nodes(child)


def text(tree: Any) -> str:
    """The text a browser shows for a component: its string children, joined."""
    if isinstance(tree, str | int | float):
        return str(tree)
    if isinstance(tree, dict) and "props" in tree:
        return text(tree["props"].get("children"))
    if isinstance(tree, list):
        return " ".join(part for part in (text(child) for child in tree) if part)
    return ""


def classes(node: dict[str, Any]) -> set[str]:
    return set(str(node["props"].get("className") or "").split())


def source_rows(page: str) -> dict[str, dict[str, Any]]:
    """Each row of the sources table by source name: its status class and the text of each cell by column."""
    rows = {}
    for row in nodes(json.loads(page)):
        if "source-row" not in classes(row):
            continue
        cells = [cell for cell in row["props"]["children"] if isinstance(cell, dict)]
        name = text(cells[0])
        rows[name] = {
            "classes": classes(row),
            "status": text(cells[1]),
            "last_success": text(cells[2]),
            "lag": text(cells[3]),
            "error": text(cells[4]),
            "error_nodes": list(nodes(cells[4])),
        }
    return rows


def summary_text(page: str, summary_id: str) -> str:
    return next(text(node) for node in nodes(json.loads(page)) if node["props"].get("id") == summary_id)


def local_time(iso: str) -> str:
    """A stored UTC time as the page should show it, in Vietnam's time zone (computed here, not by the app)."""
    from datetime import datetime

    local = datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    return local.strftime("%H:%M:%S %d/%m/%Y")


# -- the panel, without a browser ----------------------------------------------------------------------------


def test_city_page_shows_each_source_status_last_success_lag_and_error_in_vietnamese(app: dash.Dash, db: Database) -> None:
    page = render_page(app, "/")
    rows = source_rows(page)
    assert set(rows) >= {"simulator", "gopy"}
    assert next(iter(rows)) == "gopy"  # the source needing attention comes first

    gopy = rows["gopy"]
    assert "source-row-error" in gopy["classes"]
    assert gopy["status"] == "✕ Lỗi"  # icon and word, not colour alone
    assert gopy["last_success"] == "Chưa lần nào"
    assert "chu kỳ 1 phút" in gopy["lag"]
    assert gopy["error"].startswith(GOPY_ERROR)
    assert "lúc " in gopy["error"]

    simulator = rows["simulator"]
    assert "source-row-ok" in simulator["classes"] and simulator["status"] == "✓ Bình thường"
    stored = db.scalar("SELECT last_success_at FROM connector_state WHERE connector = 'simulator'")
    assert simulator["last_success"] == local_time(stored.isoformat())
    assert re.fullmatch(r"\d+ (giây|phút) trước chu kỳ 1 giờ", simulator["lag"]), simulator["lag"]

    assert "✕ gopy: Lỗi" in summary_text(page, "city-sources-summary")


def test_the_error_text_of_a_source_is_text_never_markup(app: dash.Dash) -> None:
    page = render_page(app, "/")
    error_nodes = source_rows(page)["gopy"]["error_nodes"]
    # The hostile text is one string child of a plain Div: React renders it as a text node.
    assert any(node["type"] == "Div" and HOSTILE in str(node["props"].get("children")) for node in error_nodes)
    types = {node["type"] for node in nodes(json.loads(page))}
    assert not types & {"Script", "Img", "Iframe"}
    assert "dangerouslySetInnerHTML" not in page


def test_city_and_commune_pages_show_the_sources_in_english(app: dash.Dash) -> None:
    for pathname, summary_id in (("/", "city-sources-summary"), ("/commune/20194", "commune-sources-summary")):
        page = render_page(app, pathname, "?lang=en")
        rows = source_rows(page)
        assert rows["gopy"]["status"] == "✕ Error"
        assert rows["gopy"]["last_success"] == "Never"
        assert rows["simulator"]["status"] == "✓ OK"
        assert re.fullmatch(r"\d+ (s|min) ago every 1 h", rows["simulator"]["lag"]), rows["simulator"]["lag"]
        assert "Data sources" in page and "Nguồn dữ liệu" not in page
        assert "✕ gopy: Error" in summary_text(page, summary_id)


def test_commune_page_shows_the_sources_in_vietnamese(app: dash.Dash) -> None:
    rows = source_rows(render_page(app, "/commune/20194"))
    assert rows["gopy"]["status"] == "✕ Lỗi" and GOPY_ERROR in rows["gopy"]["error"]


def test_a_long_error_is_cut_on_the_page_and_whole_in_its_tooltip(db: Database) -> None:
    long_error = "connection reset " * 40
    fail(db, "gopy", long_error)
    page = render_page(create_app(db, app_config(), clock=pinned_clock, connector_intervals=INTERVALS), "/")
    error_div = next(node for node in source_rows(page)["gopy"]["error_nodes"] if "source-error-text" in classes(node))
    shown = error_div["props"]["children"]
    assert len(shown) < len(long_error) and shown.endswith("…")
    assert error_div["props"]["title"] == long_error


def test_source_status_words_follow_the_health_of_the_store(store: Database) -> None:
    ingest_batches(store, "simulator", [])  # a success now
    ingest_batches(store, "import:hotline", [])  # a manual import: no interval
    fail(store, "gopy", "HTTP 502")
    now = now_utc()

    def statuses(at: Any, intervals: dict[str, int]) -> dict[str, str]:
        return {item["connector"]: source_status(item) for item in connector_health(store, intervals, now=at)}

    assert statuses(now, {"simulator": 60, "gopy": 60, "never": 60}) == {
        "simulator": "ok",
        "gopy": "error",
        "import:hotline": "unscheduled",
        "never": "stale",  # expected, never succeeded
    }
    # Three intervals without a success: stale, though nothing failed.
    assert statuses(now + timedelta(minutes=4), {"simulator": 60})["simulator"] == "stale"
    assert statuses(now, {})["simulator"] == "unscheduled"


def test_durations_read_naturally_in_both_languages() -> None:
    assert [format_duration(s, "vi") for s in (0, 59, 61, 3600, 3725, 90000)] == [
        "0 giây",
        "59 giây",
        "1 phút",
        "1 giờ",
        "1 giờ 2 phút",
        "1 ngày 1 giờ",
    ]
    assert [format_duration(s, "en") for s in (45, 720, 7260, 200000)] == ["45 s", "12 min", "2 h 1 min", "2 d 7 h"]
    assert format_duration(None, "en") == "—"


# -- in Chromium ----------------------------------------------------------------------------------------------


def words(shown: str) -> str:
    """Text as a reader sees it (the browser breaks lines between the icon and the word of a badge)."""
    return " ".join(shown.split())


@pytest.mark.browser
def test_the_panel_shows_a_failing_source_as_text_and_refreshes_in_place(dash_duo, db: Database) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(
        create_app(db, app_config(), clock=pinned_clock, connector_intervals={**INTERVALS, "hotline_api": 3600})
    )
    dash_duo.wait_for_element("#city-sources .source-row-error", timeout=15)
    row = dash_duo.find_element("#city-sources .source-row-error")
    assert row.find_element("css selector", ".source-name").text == "gopy"
    assert words(row.find_element("css selector", ".badge").text) == "✕ Lỗi"
    assert HOSTILE in row.find_element("css selector", ".source-error-text").text  # shown as the characters it is
    driver = dash_duo.driver
    assert driver.execute_script("return window.__injected") is None
    assert driver.execute_script("return document.querySelectorAll('#city-sources script, #city-sources img').length") == 0
    assert "✕ gopy: Lỗi" in words(dash_duo.find_element("#city-sources-summary").text)
    driver.execute_script("window.__marker = 1")  # a reload would wipe it

    # Another source fails; the next data version refreshes the panel without a reload.
    fail(db, "hotline_api", "timed out after 30 s")
    add_dossier_received_now(db, "20194")
    dash_duo.wait_for_contains_text("#city-sources-summary", "hotline_api: Lỗi", timeout=20)
    assert driver.execute_script("return window.__marker") == 1

    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/commune/20194?lang=en", timeout=15)
    dash_duo.wait_for_element("#commune-sources .source-row-error", timeout=15)
    assert dash_duo.find_element("#commune-sources-panel h2").text == "Data sources"
    assert "✕ Error" in words(dash_duo.find_element("#commune-sources .source-row-error").text)
    assert driver.execute_script("return window.__injected") is None
    assert dash_duo.get_logs() == []


@pytest.mark.parametrize("path", ["/wall/city", "/wall/commune/20194"])
def test_a_wall_marks_a_failing_source_with_a_word_since_when_and_its_error_as_a_tooltip(app: dash.Dash, path: str) -> None:
    page = render_page(app, path)
    markers = {
        text(node).split(":", 1)[0].lstrip("✓✕⚠…– "): node for node in nodes(json.loads(page)) if "wall-source" in classes(node)
    }
    gopy = markers["gopy"]
    assert "wall-source-error" in classes(gopy)
    assert text(gopy) == "✕ gopy: lỗi · chưa lần nào"  # never succeeded: no lag to give
    assert gopy["props"]["title"].startswith(GOPY_ERROR)  # an attribute: React escapes it
    assert "wall-source-ok" in classes(markers["simulator"]) and text(markers["simulator"]) == "✓ simulator: đúng hạn"
    alerts = next(node for node in nodes(json.loads(page)) if "alert-stale" in classes(node))
    assert "Nguồn lỗi hoặc chậm cập nhật" in text(alerts) and text(alerts).endswith("gopy")


def _health_item(name: str, status: str) -> dict[str, Any]:
    """A connector_health item in one of the states source_status tells apart."""
    failing = status == "error"
    return {
        "connector": name,
        "last_error": "HTTP 503" if failing else None,
        "failing": failing,
        "stale": status == "stale",
        "last_success_at": None if status == "waiting" else "2026-11-23T08:00:00+00:00",
        "lag_seconds": None if status == "waiting" else 120.0,
    }


def _shown(component: Any) -> str:
    from plotly.utils import PlotlyJSONEncoder

    return text(json.loads(json.dumps(component, cls=PlotlyJSONEncoder)))


def test_many_sources_fit_the_wall_header_worst_first_and_the_rest_counted() -> None:
    from layouts.wall_parts import source_markers

    # None runs (no sources file, the simulator off): said, not left blank.
    assert [_shown(marker) for marker in source_markers([], "vi")] == ["– không nguồn nào chạy theo lịch"]
    assert [_shown(marker) for marker in source_markers([{**_health_item("old", "error"), "scheduled": False}], "en")] == [
        "– no source runs on a schedule"
    ]

    two = source_markers([_health_item("sim", "ok"), _health_item("gopy", "error")], "vi")
    assert [_shown(marker) for marker in two] == ["✕ gopy: lỗi · 2 phút trước", "✓ sim: đúng hạn"]

    report = [_health_item(name, status) for name, status in
              [("sim", "ok"), ("motcua", "stale"), ("gopy", "error"), ("offices", "ok"), ("scans", "waiting")]]  # fmt: skip
    markers = source_markers(report, "en")
    assert [_shown(marker) for marker in markers] == [
        "✕ gopy: error · 2 min ago",
        "⚠ 2 more in trouble",
        "✓ 2 on time",
    ]
    # The counted ones are named in the tooltip (and in the alert strip).
    props = [marker.to_plotly_json()["props"] for marker in markers[1:]]
    assert [prop["title"] for prop in props] == ["motcua, scans", "sim, offices"]
    assert "wall-source-stale" in props[0]["className"]


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_a_wall_with_many_sources_in_trouble_keeps_its_title_and_one_line_of_markers(  # type: ignore[no-untyped-def]
    dash_duo, db: Database, width: int, height: int
) -> None:
    from tests.test_wall import _assert_fits, _set_viewport

    for name in ("motcua_sql", "hotline_1022"):
        fail(db, name, "timed out after 30 s")
    intervals = {**INTERVALS, "motcua_sql": 300, "hotline_1022": 60}
    dash_duo.start_server(create_app(db, app_config(), clock=pinned_clock, connector_intervals=intervals))
    driver = dash_duo.driver
    _set_viewport(driver, width, height)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/city", timeout=15)
    dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
    dash_duo.wait_for_contains_text(".wall-sources", "2 nguồn khác có sự cố", timeout=15)
    title = dash_duo.find_element(".wall-title")
    assert title.text == "Tổng quan thành phố Đà Nẵng"
    assert driver.execute_script("var e = arguments[0]; return e.scrollWidth <= e.clientWidth", title), "title cut"
    tops = driver.execute_script(
        "return [].map.call(document.querySelectorAll('.wall-source'), function (e) { return e.offsetTop; })"
    )
    assert len(tops) == 3 and len(set(tops)) == 1, tops  # worst one named, the rest counted, on one line
    # The alert strip names two and counts the others, leaving the units to act on their room; all are in its tooltip.
    stale = dash_duo.find_element(".alert-stale")
    assert words(stale.text) == "⚠ Nguồn lỗi hoặc chậm cập nhật: gopy, hotline_1022 + 1 nguồn"
    assert stale.get_attribute("title") == "gopy, hotline_1022, motcua_sql"
    _assert_fits(driver)
    assert dash_duo.get_logs() == []


# -- what runs now: recovery, an unreadable sources file, a source taken out of it ---------------------------


def test_health_is_ok_again_once_a_failing_source_succeeds_even_quietly(app: dash.Dash, db: Database) -> None:
    client = app.server.test_client()
    assert client.get("/health").get_json()["degraded"] == ["gopy"]
    ingest_batches(db, "gopy", [])  # it answers again, with nothing new: no run row is written
    report = client.get("/health").get_json()
    assert (report["status"], report["degraded"]) == ("ok", [])
    gopy = next(item for item in report["connectors"] if item["connector"] == "gopy")
    assert gopy["last_run"]["status"] == "failed" and gopy["last_error"] is None  # the last stored run is the old failure


def test_a_sources_file_that_cannot_be_read_shows_as_a_failing_source_everywhere(db: Database, tmp_path: Path) -> None:
    from ioc.config import Config
    from ioc.scheduler import plan_connectors
    from ioc.web import data_time_line

    path = tmp_path / "sources.toml"
    path.write_text('[sources.gopy\nkind = "json_http"\n', encoding="utf-8")  # a TOML syntax error
    plan = plan_connectors(db, Config.load(sources_file=str(path)))
    assert plan.connectors == [] and plan.intervals == {}
    app = create_app(
        db, app_config(), clock=pinned_clock, connector_intervals=plan.intervals, source_problems=plan.unstored_problems
    )
    report = app.server.test_client().get("/health").get_json()
    assert (report["status"], report["degraded"]) == ("degraded", ["sources.toml"])
    problem = next(item for item in report["connectors"] if item["connector"] == "sources.toml")
    assert str(path) in problem["last_error"] and "No source runs" in problem["last_error"]

    # The simulator ran before, but nothing runs now: no wall may count it on time.
    for wall in ("/wall/city", "/wall/commune/20194"):
        page = json.loads(render_page(app, wall))
        assert [text(node) for node in nodes(page) if "wall-source" in classes(node)] == ["✕ sources.toml: lỗi · chưa lần nào"]
    rows = source_rows(render_page(app, "/"))
    assert rows["sources.toml"]["status"] == "✕ Lỗi" and str(path) in rows["sources.toml"]["error"]
    assert rows["simulator"]["status"] == rows["gopy"]["status"] == "– Không theo lịch"
    with app.server.test_request_context("/"):
        assert " ".join(_shown(data_time_line(data_health(), "vi")).split()).endswith("⚠ Nguồn bị lỗi")


def test_a_source_taken_out_of_the_sources_file_is_history_not_trouble(db: Database) -> None:
    from ioc.web import data_time_line

    for _ in range(3):
        fail(db, "gopy", "HTTP 502")  # failing, with three failed runs in a row
    app = create_app(db, app_config(), clock=pinned_clock, connector_intervals={"simulator": 3600})
    report = app.server.test_client().get("/health").get_json()
    assert (report["status"], report["degraded"]) == ("ok", [])
    gopy = next(item for item in report["connectors"] if item["connector"] == "gopy")
    assert gopy["scheduled"] is False and gopy["last_error"] == "HTTP 502"  # still there to read on the sources panel
    page = json.loads(render_page(app, "/wall/city"))
    assert [text(node) for node in nodes(page) if "wall-source" in classes(node)] == ["✓ simulator: đúng hạn"]
    assert not [node for node in nodes(page) if "alert-stale" in classes(node)]
    with app.server.test_request_context("/"):
        assert "⚠" not in _shown(data_time_line(data_health(), "vi"))


def test_the_data_time_warning_says_stale_when_no_source_fails() -> None:
    from ioc.web import data_time_line

    late = {"connector": "gopy", "stale": True, "last_success_at": "2026-11-23T08:00:00+00:00", "scheduled": True}
    assert " ".join(_shown(data_time_line([late], "en")).split()).endswith("⚠ Source stale")
    failing = {**late, "connector": "motcua", "last_error": "HTTP 500", "failing": True}
    assert " ".join(_shown(data_time_line([late, failing], "en")).split()).endswith("⚠ Source failing")
