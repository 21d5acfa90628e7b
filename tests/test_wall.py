"""Wall screens: the map asset, the item lists, the rotation playlist, and in Chromium fit, live refresh and outages."""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dash
import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from connectors.base import DOSSIERS, HOTLINE, Batch, ingest_batches
from ioc.config import PROJECT_ROOT
from ioc.db import Database
from ioc.timeutil import local_datetime
from ioc.wall import unit_wall, worst_units
from ioc.web import create_app
from kpis import Period, compute
from kpis.compare import compare_so_far
from kpis.known_at import compute_known_at
from kpis.lists import DOSSIER_LIST_COLUMNS, HOTLINE_LIST_COLUMNS, open_hotline_items, overdue_and_at_risk_dossiers
from layouts import wall_svg
from layouts.wall_parts import parse_screens
from tests.test_web import render_page
from tests.web_fixtures import FIXED_NOW, app_config, live_store, pinned_clock

MAP_ASSET = PROJECT_ROOT / "assets" / "danang_units_94.geojson"
SCREENS_DIR = PROJECT_ROOT / "test-artifacts" / "screens"
UNIT = "20194"
# Words that would name a column holding a person's data; none may reach a wall.
PERSONAL_WORDS = ("citizen", "applicant", "person", "phone", "address", "email", "id_number", "cccd", "cmnd", "birth")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    yield from live_store(tmp_path / "wall.duckdb")


@pytest.fixture
def app(db: Database) -> dash.Dash:
    return create_app(db, app_config(), clock=pinned_clock, connector_intervals={})


def add_overdue_dossier(db: Database, unit_code: str, dossier_id: str = "TEST-OVERDUE-0001") -> None:
    """A dossier received ten days ago and due three days ago, still in progress: overdue at FIXED_NOW."""
    procedure_code = db.scalar("SELECT procedure_code FROM procedures WHERE level = 'commune' ORDER BY procedure_code LIMIT 1")
    row = {
        "dossier_id": dossier_id,
        "unit_code": unit_code,
        "procedure_code": procedure_code,
        "channel": "in_person",
        "received_at": (FIXED_NOW - timedelta(days=10)).isoformat(),
        "due_at": (FIXED_NOW - timedelta(days=3)).isoformat(),
        "status": "processing",
        "updated_at": FIXED_NOW.isoformat(),
    }
    result = ingest_batches(db, "test", [Batch(DOSSIERS, [row])])
    assert result.rows_upserted == 1, result.rejects


# -- the map asset ------------------------------------------------------------------------------------


def test_map_asset_has_the_94_units_and_is_small() -> None:
    size = MAP_ASSET.stat().st_size
    data = json.loads(MAP_ASSET.read_text(encoding="utf-8"))
    with (PROJECT_ROOT / "data" / "sample" / "units.csv").open(encoding="utf-8") as handle:
        unit_codes = {row["unit_code"] for row in csv.DictReader(handle) if row["kind"] != "province"}
    codes = [feature["properties"]["code"] for feature in data["features"]]
    assert len(codes) == 94 == len(set(codes))
    assert set(codes) == unit_codes
    assert size < 400 * 1024, f"{size} bytes"
    assert all(feature["properties"]["name"] for feature in data["features"])


def test_hoang_sa_is_an_inset_inside_its_frame() -> None:
    data = json.loads(MAP_ASSET.read_text(encoding="utf-8"))
    inset = data["ioc_inset"]
    hoang_sa = next(feature for feature in data["features"] if feature["properties"]["code"] == inset["code"] == "20333")
    assert hoang_sa["properties"]["inset"] is True
    x0, y0, x1, y1 = inset["box"]
    points = [point for polygon in hoang_sa["geometry"]["coordinates"] for ring in polygon for point in ring]
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)
    # The true archipelago is 300 km offshore; moved, it sits beside the mainland's bounding box.
    assert inset["true_bbox"][0] > 111


def test_the_build_script_reproduces_the_asset(shared_dir: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_map", PROJECT_ROOT / "scripts" / "build_map.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(
        shared_dir / "data" / "real" / "vn-admin-2025" / "danang_wards_94_2025.geojson", module.DEFAULT_TOLERANCE
    )
    assert built == json.loads(MAP_ASSET.read_text(encoding="utf-8"))


def _nodes(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield tree
    for child in tree.get("children", []):
        yield from _nodes(child)


def test_map_and_chart_are_svg_trees_with_text_as_text(db: Database) -> None:
    shape = wall_svg.map_shape(650, 500, "vi", UNIT)
    nodes = list(_nodes(shape["svg"]))
    units = [item for item in nodes if "data-unit-code" in item["attrs"]]
    assert len(units) == 94 == len({item["attrs"]["data-unit-code"] for item in units})
    assert {item["tag"] for item in nodes} <= {"svg", "g", "path", "rect", "text", "tspan", "title"}
    assert any("Hoàng Sa" in item.get("text", "") for item in nodes)  # the inset is labelled
    assert len([item for item in nodes if item["attrs"].get("class") == "map-selected"]) == 1
    # Names travel as text for textContent, never as markup to parse.
    assert all("<" not in item.get("text", "") for item in nodes)
    paint = wall_svg.map_paint({UNIT: "bad", "20197": "watch"})
    assert len(paint["fills"]) == 94 and paint["icons"] == {UNIT: "✕", "20197": "▲"}
    flow = unit_wall(db, UNIT, FIXED_NOW.date(), FIXED_NOW)
    assert flow is not None
    chart = wall_svg.flow_chart(flow["flow"], "en", 632, 248)
    classes = [item["attrs"].get("class") for item in _nodes(chart["svg"])]
    assert classes.count("flow-bar") == min(30, len(flow["flow"])) and "flow-markers" in classes
    assert chart["key"] == wall_svg.flow_chart(flow["flow"], "en", 632, 248)["key"]


# -- lists ----------------------------------------------------------------------------------------------


def test_lists_carry_no_personal_data(db: Database) -> None:
    dossiers = overdue_and_at_risk_dossiers(db, UNIT, FIXED_NOW.date())
    hotline = open_hotline_items(db, UNIT, FIXED_NOW)
    assert list(dossiers.columns) == list(DOSSIER_LIST_COLUMNS)
    assert list(hotline.columns) == list(HOTLINE_LIST_COLUMNS)
    for column in [*dossiers.columns, *hotline.columns]:
        assert not any(word in column for word in PERSONAL_WORDS), column
    assert len(dossiers) and len(hotline)


def test_lists_count_what_the_tiles_count(db: Database) -> None:
    day = compute(db, Period.day(FIXED_NOW.date()), UNIT)
    dossiers = overdue_and_at_risk_dossiers(db, UNIT, FIXED_NOW.date(), limit=10_000)
    assert (dossiers["state"] == "overdue").sum() == day["in_progress_overdue"]
    assert (dossiers["state"] == "at_risk").sum() == day["at_risk"]
    assert (dossiers.loc[dossiers["state"] == "overdue", "days_past_due"] >= 0).all()
    hotline = open_hotline_items(db, UNIT, FIXED_NOW, limit=10_000)
    assert len(hotline) == day["hotline_open"]
    assert int(hotline["overdue"].sum()) == day["hotline_open_overdue"]


def test_a_new_overdue_dossier_is_listed_first_for_its_unit(db: Database) -> None:
    add_overdue_dossier(db, UNIT)
    snapshot = unit_wall(db, UNIT, FIXED_NOW.date(), FIXED_NOW)
    assert snapshot is not None
    listed = snapshot["dossiers"]
    overdue = listed[listed["state"] == "overdue"]
    assert "TEST-OVERDUE-0001" in set(overdue["dossier_id"])
    assert int(overdue.loc[overdue["dossier_id"] == "TEST-OVERDUE-0001", "days_past_due"].iloc[0]) == 3


def test_the_field_panel_counts_the_fields_it_has_no_line_for() -> None:
    import pandas as pd
    from plotly.utils import PlotlyJSONEncoder

    from layouts.wall_parts import hotline_fields

    fields = pd.DataFrame(
        {
            "label": [f"Lĩnh vực {n}" for n in range(6)],
            "hotline_open": [9, 7, 5, 3, 2, 1],
            "hotline_open_overdue": [1, 0, 0, 0, 0, 0],
        }
    )

    def lines(rows: int, lang: str = "vi") -> list[str]:
        tree = json.loads(json.dumps(hotline_fields("f", fields, lang, rows), cls=PlotlyJSONEncoder))
        return [
            re.sub(r"\s+", " ", json.dumps(child["props"]["children"], ensure_ascii=False)) for child in tree["props"]["children"]
        ]

    assert len(lines(6)) == 6 and not any("khác" in line for line in lines(6))  # room for all: each has its line
    four = lines(4)
    assert len(four) == 4 and "Lĩnh vực 2" in four[2]
    assert "+ 3 lĩnh vực khác: 6 phản ánh" in four[3]  # 3 + 2 + 1 open items in the three without a line
    assert "+ 3 more fields: 6 open" in lines(4, "en")[3]


def test_an_empty_alert_strip_says_all_is_quiet_and_english_dates_spell_the_month() -> None:
    from plotly.utils import PlotlyJSONEncoder

    from ioc.i18n import format_data_time, format_day
    from layouts.wall_parts import unit_alerts

    def text(parts: list) -> str:
        return json.dumps(parts, cls=PlotlyJSONEncoder, ensure_ascii=False)

    assert "Không có cảnh báo về hồ sơ" in text(unit_alerts({}, "vi"))
    assert "No dossier alerts" in text(unit_alerts({"overdue": [], "at_risk_spike": []}, "en"))
    assert "No dossier alerts" not in text(unit_alerts({"overdue": [{"name": "Hải Vân", "count": 2}]}, "en"))
    # 03/12 is 3 December in Vietnam and March 12 to many English readers: English spells the month.
    moment = datetime(2026, 12, 3, 15, 1, 58, tzinfo=UTC)
    assert (format_data_time(moment, "vi"), format_data_time(moment, "en")) == ("22:01:58 03/12/2026", "22:01:58 3 Dec 2026")
    assert (format_day(date(2026, 12, 4), "vi"), format_day(date(2026, 12, 4), "en")) == ("04/12", "4 Dec")


def test_the_hotline_list_says_urgency_as_a_word_and_keeps_its_second_line_short() -> None:
    import pandas as pd
    from plotly.utils import PlotlyJSONEncoder

    from layouts.wall_parts import hotline_list

    items = pd.DataFrame(
        {
            "ticket_id": ["PA-1", "PA-2", "PA-3"],
            "field": ["An toàn giao thông", "Môi trường", "Hạ tầng đô thị"],
            "urgency": ["urgent", "quick", "normal"],
            "title": ["Xe đỗ sai", "Mùi hôi", "Đèn hỏng"],
            "age_hours": [5.0, 30.0, 200.0],
            "overdue": [False, False, True],
        }
    )
    tree = json.dumps(hotline_list("h", items, 3, "vi", 3), cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert tree.count("badge-urgency") == 2 and '"Khẩn"' in tree and '"Nhanh"' in tree and '"Thường"' not in tree
    assert '"PA-1 · An toàn giao thông"' in tree  # code and field, the urgency no longer cut off at their end


def test_the_flow_chart_ticks_whole_dossiers_when_a_unit_has_few() -> None:
    import pandas as pd

    from layouts.components import flow_figure

    def flow(peak: int) -> pd.DataFrame:
        return pd.DataFrame({"day": [date(2026, 11, 4), date(2026, 11, 5)], "received": [0, peak], "resolved": [1, 0]})

    assert flow_figure(flow(1), "vi").layout.yaxis.dtick == 1  # not 0,2 0,4 … for one dossier (Hoàng Sa)
    assert flow_figure(flow(1_600), "vi").layout.yaxis.dtick is None  # Plotly's own steps for a city


def test_a_ranking_with_no_unit_to_rank_says_so(db: Database) -> None:
    import pandas as pd

    from ioc.i18n import t
    from layouts.wall_parts import best_and_worst, ranking_table

    empty = pd.DataFrame(columns=["name", "rank", "on_time_rate", "resolved"])
    shown = ranking_table("r", [("Cao nhất", empty), ("Thấp nhất", empty)], "vi").to_plotly_json()
    assert shown["props"]["children"] == t("wall.ranking_none", "vi")
    # With units, one table: a heading row per group, then its units.
    snapshot = unit_wall(db, UNIT, FIXED_NOW.date(), FIXED_NOW)
    assert snapshot is not None
    best, worst = best_and_worst(snapshot["ranking"], 6)
    table = ranking_table("r", [("Cao nhất", best), ("Thấp nhất", worst)], "vi").to_plotly_json()
    rows = table["props"]["children"].to_plotly_json()["props"]["children"]
    groups = [i for i, row in enumerate(rows) if row.to_plotly_json()["props"].get("className") == "rank-group"]
    assert groups == [0, len(best) + 1] and len(rows) == len(best) + len(worst) + 2


# -- pages without a browser -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pathname, search",
    [("/wall/city", ""), ("/wall/commune/20194", ""), ("/wall/rotate", "?screens=/wall/city:30,/wall/commune/20194:15")],
)
def test_wall_pages_render_in_both_languages(app: dash.Dash, pathname: str, search: str) -> None:
    vi = render_page(app, pathname, search)
    en = render_page(app, pathname, search + ("&" if search else "?") + "lang=en")
    assert "Tiếp nhận hôm nay" in vi and "Received today" in en
    # The map is there as SVG outlines for the browser to draw (no plotly.js): one path per unit.
    assert vi.count('"data-unit-code"') == 94
    assert "dcc.Graph" not in vi and '"type": "Graph"' not in vi
    assert '"dangerously_allow_html"' not in vi


def test_tiles_compare_with_the_same_time_yesterday(app: dash.Dash, db: Database) -> None:
    """FIXED_NOW is 10:00 in Vietnam: the day tiles compare with 17 November up to 10:00, not all of it."""
    snapshot = unit_wall(db, UNIT, FIXED_NOW.date(), FIXED_NOW)
    assert snapshot is not None
    yesterday_at_ten = local_datetime(date(2026, 11, 17), 10)
    assert snapshot["changes"]["until"] == {"day": yesterday_at_ten, "month": local_datetime(date(2026, 10, 18), 10)}
    same_time = compare_so_far(db, Period.day(FIXED_NOW.date()), FIXED_NOW, UNIT)
    assert snapshot["changes"]["day"]["received"] == same_time.figures["received"].change
    assert (
        same_time.figures["received"].previous
        == compute_known_at(db, Period.day(date(2026, 11, 17)), yesterday_at_ten, UNIT)["received"]
    )
    vi = render_page(app, f"/wall/commune/{UNIT}")
    en = render_page(app, f"/wall/commune/{UNIT}", "?lang=en")
    assert "so với cùng giờ hôm qua" in vi and "vs same time yesterday" in en
    assert "so với cùng thời điểm tháng trước" in vi
    assert "Kỳ trước tính đến 10:00 17/11/2026" in vi  # the tile's tooltip names the moment


def test_hotline_titles_are_sent_as_text(app: dash.Dash, db: Database) -> None:
    row = {
        "ticket_id": "TEST-XSS-1",
        "unit_code": UNIT,
        "channel": "web",
        "field": "Môi trường",
        "urgency": "urgent",
        "received_at": (FIXED_NOW - timedelta(hours=2)).isoformat(),
        "status": "new",
        "title": "<img src=x onerror=alert(1)>",
        "updated_at": FIXED_NOW.isoformat(),
    }
    assert ingest_batches(db, "test", [Batch(HOTLINE, [row])]).rows_upserted == 1
    page = render_page(app, f"/wall/commune/{UNIT}")
    assert "<img src=x onerror=alert(1)>" in page  # a JSON string, which React renders as a text node
    assert '"type": "Img"' not in page


def test_unknown_unit_on_a_wall_is_a_message(app: dash.Dash) -> None:
    assert "99999" in render_page(app, "/wall/commune/99999")


def test_playlist_takes_wall_screens_only_with_bounded_durations() -> None:
    slides = parse_screens(
        "/wall/city:30,/wall/commune/20194:15,/admin:5,https://example.org/x:3,/wall/commune/20197:1,/wall/city"
    )
    assert slides == [
        {"path": "/wall/city", "seconds": 30},
        {"path": "/wall/commune/20194", "seconds": 15},
        {"path": "/wall/commune/20197", "seconds": 3},
        {"path": "/wall/city", "seconds": 30},
    ]


def test_worst_units_follow_the_data(db: Database) -> None:
    worst = worst_units(db, FIXED_NOW.date(), "on_time_rate", 3)
    assert len(worst) == 3
    with pytest.raises(ValueError):
        worst_units(db, FIXED_NOW.date(), "received", 3)  # a count cannot rank


# -- in Chromium ----------------------------------------------------------------------------------------


def _set_viewport(driver, width: int, height: int) -> None:  # type: ignore[no-untyped-def]
    driver.set_window_size(width, height)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [width, height]:
        # Headless Chromium may keep a few pixels of window frame: pin the viewport itself.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        )


# A wall's boxes clip what overflows them (overflow: hidden), so the page never scrolls: each is checked for a cut.
_CLIPPING_BOXES = ".wall-header, .kpi-tile, .wall-panel, .wall-alerts, .wall-not-found .wall-title"


def _assert_fits(driver) -> None:  # type: ignore[no-untyped-def]
    """No scrolling, nothing cut at the bottom or the side of a tile or panel, in the walls' own face."""
    sizes = driver.execute_script(
        "var e = document.documentElement; return [e.scrollWidth, e.scrollHeight, window.innerWidth, window.innerHeight]"
    )
    assert sizes[0] <= sizes[2] and sizes[1] <= sizes[3], f"scrolls: document {sizes[0]}x{sizes[1]}, window {sizes[2]}x{sizes[3]}"
    deadline = time.monotonic() + 10
    while driver.execute_script("return document.fonts.status") != "loaded" and time.monotonic() < deadline:
        time.sleep(0.1)
    faces = driver.execute_script(
        "var s = []; document.fonts.forEach(function (f) { if (f.family.replace(/\"/g, '') === 'IOC Wall Sans') s.push(f.status); });"
        "return s"
    )
    assert "loaded" in faces, f"the wall face was not loaded: {faces}"  # not a system font that happens to be there
    cut = driver.execute_script(
        "return [].filter.call(document.querySelectorAll(arguments[0]), function (e) {"
        "  return e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1;"
        "}).map(function (e) { return (e.id || e.className) + ': ' + e.scrollWidth + 'x' + e.scrollHeight"
        "  + ' in ' + e.clientWidth + 'x' + e.clientHeight; })",
        _CLIPPING_BOXES,
    )
    assert cut == [], f"cut at {sizes[2]}x{sizes[3]}: {cut}"


_ALERT_ITEMS_JS = """
return Array.from(document.querySelectorAll('#' + arguments[0] + ' .alert-item')).filter(function (item) {
  return item.querySelector('.alert-name');
}).map(function (item) {
  var box = item.getBoundingClientRect();
  var shown = Array.from(item.querySelectorAll('.alert-name')).filter(function (name) { return !name.hidden; });
  var more = item.querySelector('.alert-more');
  return {
    label: item.querySelector('.alert-label').textContent,
    overflow: item.scrollWidth - item.clientWidth,
    shown: shown.length,
    cut: shown.filter(function (name) { var r = name.getBoundingClientRect(); return r.right > box.right + 0.5; }).length,
    more: more && !more.hidden ? more.textContent : ''
  };
});
"""


def _assert_alerts_name_whole_units(driver, strip_id: str) -> None:  # type: ignore[no-untyped-def]
    """Every unit named in the alert strip is whole; the units left out are counted in "+ N khác"."""
    deadline = time.monotonic() + 5
    while True:
        items = driver.execute_script(_ALERT_ITEMS_JS, strip_id)
        problems = []
        for item in items:
            counted = re.search(r"· ([\d.,]+) (?:đơn vị|units?):", item["label"])
            assert counted, item["label"]
            total = int(re.sub(r"\D", "", counted.group(1)))
            left_out = int(re.sub(r"\D", "", item["more"]) or 0)
            if item["overflow"] > 1 or item["cut"] or item["shown"] + left_out != total:
                problems.append(item)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert items and not problems, problems


def _map_units(driver, box_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(units painted with their status colour, unit outlines drawn) in the map's SVG."""
    return tuple(  # type: ignore[return-value]
        driver.execute_script(
            "var svg = document.querySelector(arguments[0] + ' > svg');"
            "if (!svg) return [0, 0];"
            "var units = svg.querySelectorAll('path[data-unit-code]');"
            "return [svg.querySelectorAll('path[data-unit-code][data-painted]').length, units.length]",
            f"#{box_id}",
        )
    )


def _assert_flow_chart(driver, box_id: str) -> None:  # type: ignore[no-untyped-def]
    """30 days of bars and a line with diamond markers, and plotly.js never loaded."""
    bars, line, markers = driver.execute_script(
        "var svg = document.querySelector(arguments[0] + ' > svg');"
        "return svg ? [svg.querySelectorAll('rect.flow-bar').length, svg.querySelectorAll('polyline.flow-resolved').length,"
        " svg.querySelectorAll('path.flow-markers').length] : [0, 0, 0]",
        f"#{box_id}",
    )
    assert (bars, line, markers) == (30, 1, 1)
    assert driver.execute_script("return typeof window.Plotly") == "undefined"
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert not [name for name in loaded if "plotly" in name or "async-graph" in name]


def _wait_for_map(dash_duo, graph_id: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _map_units(dash_duo.driver, graph_id)[0] < 94:
        time.sleep(0.2)


def _screenshot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENS_DIR / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")


def _tile(dash_duo, tile_id: str) -> str:  # type: ignore[no-untyped-def]
    return str(dash_duo.find_element(f"#{tile_id}-value").text)


@pytest.mark.browser
def test_city_wall_fits_1080p_and_4k_and_shows_a_new_overdue_dossier(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    for width, height in ((1920, 1080), (3840, 2160)):
        _set_viewport(dash_duo.driver, width, height)
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/city", timeout=15)
        dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
        _wait_for_map(dash_duo, "wall-city-map")
        assert _map_units(dash_duo.driver, "wall-city-map") == (94, 94)
        _assert_flow_chart(dash_duo.driver, "wall-city-flow")
        for tile in ("received-today", "resolved-today", "overdue", "at-risk", "hotline-open", "hotline-overdue"):
            assert _tile(dash_duo, f"wall-city-{tile}").replace(".", "").isdigit()
        assert _tile(dash_duo, "wall-city-on-time-rate").endswith("%")
        figure_px = dash_duo.driver.execute_script(
            "return parseFloat(getComputedStyle(document.querySelector('.kpi-value')).fontSize)"
        )
        assert figure_px >= 64 * width / 1920
        assert not dash_duo.find_element("#app-nav").is_displayed()
        time.sleep(0.5)  # fonts and the map settle before the picture
        _assert_fits(dash_duo.driver)
        _assert_alerts_name_whole_units(dash_duo.driver, "wall-city-alerts")
        _screenshot(dash_duo.driver, f"wall-city-{width}x{height}.png")
        assert dash_duo.get_logs() == []

    dash_duo.driver.execute_script("window.__no_reload = 1; document.querySelector('#wall-city-map > svg').__kept = 1")
    before = int(_tile(dash_duo, "wall-city-overdue").replace(".", ""))
    add_overdue_dossier(db, UNIT)
    # By the periodic refresh (300 ms in the test app), without a reload; the wait is generous for a slow CI machine.
    dash_duo.wait_for_text_to_equal("#wall-city-overdue-value", f"{before + 1:,}".replace(",", "."), timeout=10)
    assert dash_duo.driver.execute_script("return window.__no_reload") == 1
    # The map was repainted in place, not redrawn: same SVG element, all units still coloured.
    assert dash_duo.driver.execute_script("return document.querySelector('#wall-city-map > svg').__kept") == 1
    assert _map_units(dash_duo.driver, "wall-city-map") == (94, 94)
    _assert_alerts_name_whole_units(dash_duo.driver, "wall-city-alerts")  # fitted again after the refresh
    assert dash_duo.get_logs() == []


def add_overdue_hotline_items(db: Database, unit_code: str, count: int) -> None:
    """``count`` open hotline items of ``unit_code``, received ten days ago and due three days ago, with long titles."""
    rows = [
        {
            "ticket_id": f"TEST-HOTLINE-{n:04d}",
            "unit_code": unit_code,
            "channel": "phone",
            "field": f"Lĩnh vực thử nghiệm số {n} có tên rất dài để xem có bị cắt không",
            "title": "Phản ánh về đèn chiếu sáng công cộng không hoạt động trên tuyến đường ven biển " * 2,
            "received_at": (FIXED_NOW - timedelta(days=10)).isoformat(),
            "due_at": (FIXED_NOW - timedelta(days=3)).isoformat(),
            "status": "new",
            "updated_at": FIXED_NOW.isoformat(),
        }
        for n in range(count)
    ]
    result = ingest_batches(db, "test", [Batch(HOTLINE, rows)])
    assert result.rows_upserted == count, result.rejects


@pytest.mark.browser
def test_a_busy_communes_wall_holds_its_lists_at_1080p_and_4k(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    """The worst case for the lists: every hotline row overdue (a badge over its age) with more than fit, more fields
    than the field panel has lines for, and long texts everywhere; the wall must still hold them in both languages."""
    add_overdue_hotline_items(db, UNIT, 8)
    add_overdue_dossier(db, UNIT)
    dash_duo.start_server(app)
    for width, height in ((1920, 1080), (3840, 2160)):
        _set_viewport(dash_duo.driver, width, height)
        for search in ("", "?lang=en"):
            dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/commune/{UNIT}{search}", timeout=15)
            dash_duo.wait_for_element("#wall-commune-received-today-value", timeout=15)
            shown = dash_duo.find_elements("#wall-commune-hotline-table tbody tr")
            assert len(shown) >= 3 and len(dash_duo.find_elements("#wall-commune-hotline-table .badge-bad")) == len(shown)
            more = "khác" if not search else "more"
            dash_duo.wait_for_contains_text("#wall-commune-hotline-fields .list-more", more, timeout=5)
            # Every field's bar on one scale: the same start and the same track, whatever the count beside it.
            tracks = dash_duo.driver.execute_script(
                "return Array.from(document.querySelectorAll('#wall-commune-hotline-fields .field-bars')).map("
                "function (e) { var r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.width)]; })"
            )
            assert len(tracks) >= 2 and len({tuple(track) for track in tracks}) == 1, tracks
            _assert_fits(dash_duo.driver)
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_a_wall_for_an_unknown_unit_says_so_on_one_screen(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    # A hotline sample's unit, registered by its mapping: a unit, but no commune. Its long message wraps, uncut.
    db.execute_write(
        """INSERT INTO units (unit_code, name, full_name, kind)
           VALUES ('EXT-NYC-HPD', 'HPD', 'Department of Housing Preservation and Development (NYC 311)', 'other')"""
    )
    dash_duo.start_server(app)
    _set_viewport(dash_duo.driver, 1920, 1080)
    for code, says in (("EXT-NYC-NYPD", "EXT-NYC-NYPD"), ("EXT-NYC-HPD", "Department of Housing Preservation")):
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/commune/{code}", timeout=15)
        dash_duo.wait_for_contains_text(".wall-not-found", says, timeout=15)
        # No office-style data time in dark grey on the dark wall, pushing the screen into a scroll.
        assert not dash_duo.find_element("#app-data-time").is_displayed()
        _assert_fits(dash_duo.driver)
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_commune_wall_lists_a_new_overdue_dossier_and_survives_a_server_restart(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    server = _Server(app)
    server.start()
    try:
        driver = dash_duo.driver
        _set_viewport(driver, 1920, 1080)
        driver.get(f"{server.url}/wall/commune/{UNIT}")
        dash_duo.wait_for_element("#wall-commune-dossier-table", timeout=15)
        _wait_for_map(dash_duo, "wall-commune-map")
        assert _map_units(driver, "wall-commune-map") == (94, 94)
        assert driver.execute_script("return document.querySelectorAll('#wall-commune-map path.map-selected').length") == 1
        _assert_flow_chart(driver, "wall-commune-flow")
        _assert_fits(driver)
        _screenshot(driver, "wall-commune-1920x1080.png")
        assert dash_duo.get_logs() == []

        add_overdue_dossier(db, UNIT)
        dash_duo.wait_for_contains_text("#wall-commune-dossier-table", "TEST-OVERDUE-0001", timeout=10)
        overdue = _tile(dash_duo, "wall-commune-overdue")

        server.stop()
        dash_duo.wait_for_contains_text("#wall-offline", "Mất kết nối từ", timeout=15)
        assert _tile(dash_duo, "wall-commune-overdue") == overdue  # the last figures stay
        _screenshot(driver, "wall-commune-offline-1920x1080.png")

        server.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and driver.find_element_by_id("wall-offline").is_displayed():
            time.sleep(0.2)
        assert not driver.find_element_by_id("wall-offline").is_displayed()
        # The refused connections while down are expected errors: drop them once the wall is back, since a refresh
        # sent in the moment before the server listens again is refused too. Any error after this counts.
        dash_duo.get_logs()
        add_overdue_dossier(db, UNIT, "TEST-OVERDUE-0002")
        dash_duo.wait_for_contains_text("#wall-commune-dossier-table", "TEST-OVERDUE-0002", timeout=10)
        assert dash_duo.get_logs() == []
    finally:
        server.stop()


@pytest.mark.browser
def test_rotation_moves_on_and_picks_the_worst_units(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    _set_viewport(dash_duo.driver, 1920, 1080)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/rotate?screens=/wall/city:3,/wall/commune/{UNIT}:3", timeout=15)
    dash_duo.wait_for_element("#wall-city-tiles", timeout=15)
    dash_duo.wait_for_contains_text("#wall-commune-title", "Hải Vân", timeout=8)
    dash_duo.wait_for_element("#wall-city-tiles", timeout=8)
    _assert_fits(dash_duo.driver)

    worst = worst_units(db, FIXED_NOW.date(), "on_time_rate", 2)
    name = db.scalar("SELECT full_name FROM units WHERE unit_code = ?", [worst[0]])
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/rotate?worst=2&kpi=on_time_rate&seconds=3&lang=en", timeout=15)
    dash_duo.wait_for_contains_text("#wall-commune-title", name, timeout=10)
    assert dash_duo.get_logs() == []


@pytest.mark.browser
def test_rotation_goes_on_through_shown_slides_while_the_server_is_away(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    server = _Server(app)
    server.start()
    try:
        driver = dash_duo.driver
        _set_viewport(driver, 1920, 1080)
        driver.get(f"{server.url}/wall/rotate?screens=/wall/city:3,/wall/commune/{UNIT}:3")
        dash_duo.wait_for_element("#wall-city-tiles", timeout=15)
        dash_duo.wait_for_contains_text("#wall-commune-title", "Hải Vân", timeout=8)
        dash_duo.wait_for_element("#wall-city-tiles", timeout=8)  # both slides shown once: both kept
        dash_duo.wait_for_element("html[data-wall-offline-copy='ready']", timeout=20)
        dash_duo.wait_for_contains_text("#wall-commune-title", "Hải Vân", timeout=8)  # sent again, stored for reloads

        server.stop()
        dash_duo.wait_for_contains_text("#wall-offline", "Mất kết nối từ", timeout=15)
        # Offline, the slides still take turns, each with its last figures, map drawn, banner shown throughout.
        for selector in ("#wall-commune-title", "#wall-city-tiles", "#wall-commune-title"):
            dash_duo.wait_for_element(selector, timeout=8)
            assert driver.find_element_by_id("wall-offline").is_displayed()
        _wait_for_map(dash_duo, "wall-commune-map")
        assert _map_units(driver, "wall-commune-map") == (94, 94)
        assert "TEST-OVERDUE-0001" not in driver.find_element_by_id("wall-commune-dossier-table").text
        _screenshot(driver, "wall-rotate-offline-1920x1080.png")

        # A reload while still cut off (a power cut): the kept copy, and the rotation still takes both slides in turn.
        driver.refresh()
        for selector in ("#wall-city-tiles", "#wall-commune-title", "#wall-city-tiles"):
            dash_duo.wait_for_element(selector, timeout=10)
        dash_duo.wait_for_contains_text("#wall-offline", "Mất kết nối từ", timeout=15)
        dash_duo.get_logs()  # the refused connections while down are expected errors: drop them

        add_overdue_dossier(db, UNIT)  # arrives while the wall cannot see it
        server.start()
        # Back online, the server renders the slides again: the commune slide lists the new dossier.
        dash_duo.wait_for_contains_text("#wall-commune-dossier-table", "TEST-OVERDUE-0001", timeout=20)
        assert not driver.find_elements_by_css_selector("#wall-offline:not([hidden])")
        dash_duo.get_logs()  # from before the page started afresh
        dash_duo.wait_for_element("#wall-city-tiles", timeout=8)
        assert dash_duo.get_logs() == []
    finally:
        server.stop()


@pytest.mark.browser
def test_a_wall_reloaded_while_the_server_is_down_shows_its_last_figures(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    """A TV reloads after a power cut with the server still away: the service worker's copy, not an error page."""
    server = _Server(app)
    server.start()
    try:
        driver = dash_duo.driver
        _set_viewport(driver, 1920, 1080)
        driver.get(f"{server.url}/wall/city")
        dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
        _wait_for_map(dash_duo, "wall-city-map")
        figures = {tile: _tile(dash_duo, f"wall-city-{tile}") for tile in ("received-today", "overdue", "on-time-rate")}
        # The first visit fills the worker's copy once it has taken over (127.0.0.1 is a secure context).
        dash_duo.wait_for_element("html[data-wall-offline-copy='ready']", timeout=20)
        assert driver.execute_script("return !!navigator.serviceWorker.controller")
        assert dash_duo.get_logs() == []
        last_contact = time.time()

        server.stop()
        driver.refresh()
        dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
        assert {tile: _tile(dash_duo, f"wall-city-{tile}") for tile in figures} == figures
        _wait_for_map(dash_duo, "wall-city-map")
        assert _map_units(driver, "wall-city-map") == (94, 94)
        dash_duo.wait_for_contains_text("#wall-offline", "Mất kết nối từ", timeout=15)
        # Since the server last answered (before the reload), not since the reload.
        since = driver.find_element_by_id("wall-offline").text.rsplit(" ", 1)[-1]
        expected = {time.strftime("%H:%M", time.gmtime(moment + 7 * 3600)) for moment in (last_contact - 60, last_contact)}
        assert since in expected, (since, expected)
        _assert_fits(driver)
        _screenshot(driver, "wall-city-reloaded-offline-1920x1080.png")
        dash_duo.get_logs()  # the callbacks that could not reach the server are expected errors: drop them

        add_overdue_dossier(db, UNIT)
        driver.execute_script("window.__before_recovery = 1")
        server.start()
        # Back: the page starts afresh by itself (it was the kept copy), banner gone, with the new figures.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and driver.execute_script("return window.__before_recovery === 1"):
            time.sleep(0.2)
        assert driver.execute_script("return window.__before_recovery === undefined"), "no reload after recovery"
        dash_duo.get_logs()  # refused connections up to the restart: expected, dropped
        overdue = int(figures["overdue"].replace(".", "")) + 1
        dash_duo.wait_for_text_to_equal("#wall-city-overdue-value", f"{overdue:,}".replace(",", "."), timeout=15)
        time.sleep(1)
        assert not driver.find_elements_by_css_selector("#wall-offline:not([hidden])")
        assert driver.execute_script("return !!navigator.serviceWorker.controller")
        assert dash_duo.get_logs() == []
    finally:
        server.stop()


_KEPT_URLS = """
var done = arguments[arguments.length - 1];
caches.open("ioc-wall-shell-v1").then(function (cache) { return cache.keys(); })
  .then(function (keys) { done(keys.map(function (key) { return key.url; })); }, function (error) { done(String(error)); });
"""
_KEEP_STALE = """
var urls = arguments[0], done = arguments[arguments.length - 1];
caches.open("ioc-wall-shell-v1").then(function (cache) {
  return Promise.all(urls.map(function (url) { return cache.put(url, new Response("an older version")); }));
}).then(function () { done("ok"); }, function (error) { done(String(error)); });
"""


@pytest.mark.browser
def test_the_wall_copy_keeps_one_version_of_each_file(dash_duo, app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    """An upgrade renames Dash's scripts (name.v<version>m<time>.js) and the assets' ?m=: the older copies go."""
    server = _Server(app)
    server.start()
    try:
        driver = dash_duo.driver
        driver.get(f"{server.url}/wall/city")
        dash_duo.wait_for_element("html[data-wall-offline-copy='ready']", timeout=20)
        kept = driver.execute_async_script(_KEPT_URLS)
        suite = next(url for url in kept if re.search(r"/_dash-component-suites/.+\.v[\w-]+m[0-9a-fA-F]+\.", url))
        asset = next(url for url in kept if "/assets/" in url and "?m=" in url)
        stale = [re.sub(r"\.v[\w-]+m[0-9a-fA-F]+\.", ".v0_0_1m1.", suite, count=1), re.sub(r"\?m=[^&]*", "?m=1", asset)]
        assert driver.execute_async_script(_KEEP_STALE, stale) == "ok"
        assert set(stale) <= set(driver.execute_async_script(_KEPT_URLS))

        driver.refresh()  # the page asks for today's versions; the worker keeps them and drops the others
        dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and set(stale) & set(driver.execute_async_script(_KEPT_URLS)):
            time.sleep(0.3)
        now_kept = set(driver.execute_async_script(_KEPT_URLS))
        assert not set(stale) & now_kept
        assert {suite, asset} <= now_kept
        assert dash_duo.get_logs() == []
    finally:
        server.stop()


def test_the_service_worker_is_served_from_the_root_and_never_as_a_page_script(app: dash.Dash) -> None:
    client = app.server.test_client()
    response = client.get("/wall-sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert 'addEventListener("fetch"' in response.get_data(as_text=True)
    page = client.get("/wall/city").get_data(as_text=True)
    assert "wall.js" in page and "wall-sw.js" not in page


class _Server:
    """The app on a fixed port in a thread that can be stopped and started again, as a wall's server restarts."""

    def __init__(self, app: dash.Dash) -> None:
        self.app = app
        self.port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app.server, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


# Every visible text on the page: its size in CSS px and its WCAG contrast against the first opaque
# background behind it (SVG text uses its fill; a text over a coloured badge is measured on the badge).
_TEXT_LEGIBILITY_JS = """
function rgba(text) {
  var m = text.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
  var p = m[1].split(',').map(function (v) { return parseFloat(v); });
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function luminance(c) {
  var v = c.slice(0, 3).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function background(el) {
  for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
    var c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0.5) return c;
  }
  return [255, 255, 255, 1];
}
var out = [];
var all = document.querySelectorAll('body *');
for (var i = 0; i < all.length; i++) {
  var el = all[i];
  var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
  if (!own) continue;
  var r = el.getBoundingClientRect();
  if (!r.width || !r.height || r.bottom < 0 || r.top > innerHeight) continue;
  var style = getComputedStyle(el);
  if (style.visibility === 'hidden' || parseFloat(style.opacity) === 0) continue;
  var svg = el instanceof SVGElement;
  var fg = rgba(svg ? style.fill : style.color);
  if (!fg) continue;
  var icon = el.getAttribute('data-icon-for');
  var under = icon && el.closest('svg').querySelector('path[data-unit-code="' + icon + '"]');
  var bg = under ? rgba(getComputedStyle(under).fill) : background(svg ? el.closest('svg').parentElement : el);
  var a = luminance(fg), b = luminance(bg);
  // SVG text is sized in the drawing's units: its size on screen is that times the drawing's scale.
  var size = parseFloat(style.fontSize) * (svg && el.getScreenCTM() ? el.getScreenCTM().a : 1);
  out.push([el.textContent.trim().slice(0, 40), size, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), !!icon]);
}
return out;
"""


def _texts(driver) -> list[tuple[str, float, float, bool]]:  # type: ignore[no-untyped-def]
    """(text, font size px, contrast ratio, is a map icon) of every visible text of the page; a map icon is
    measured against the fill of the unit it marks."""
    return [tuple(item) for item in driver.execute_script(_TEXT_LEGIBILITY_JS)]  # type: ignore[misc]


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/wall/city", f"/wall/commune/{UNIT}"])
def test_every_wall_text_is_large_enough_and_contrasted_for_five_metres(dash_duo, app: dash.Dash, path: str) -> None:  # type: ignore[no-untyped-def]
    """Labels at least 24 px at 1080p (48 px at 4K) with text contrast 4.5:1; status icons 3:1 on what is behind them."""
    dash_duo.start_server(app)
    for width, height in ((1920, 1080), (3840, 2160)):
        _set_viewport(dash_duo.driver, width, height)
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}{path}", timeout=15)
        dash_duo.wait_for_element(".kpi-value", timeout=15)
        time.sleep(1.5)  # the map, the chart and the clock fill in
        texts = _texts(dash_duo.driver)
        # A status glyph on its own (on the map, in a legend swatch) is an icon beside words, not a label.
        glyph = [icon or (len(text) == 1 and not text.isalnum()) for text, _, _, icon in texts]
        labels = [(text, size, contrast) for (text, size, contrast, _), g in zip(texts, glyph, strict=True) if not g]
        icons = [(text, contrast) for (text, _, contrast, _), g in zip(texts, glyph, strict=True) if g]
        assert len(labels) > 40 and len(icons) > 4
        scale = width / 1920
        small = [(text, size) for text, size, _ in labels if size < 24 * scale - 0.5]
        faint = [(text, round(contrast, 2)) for text, _, contrast in labels if contrast < 4.5]
        faint_icons = [(text, round(contrast, 2)) for text, contrast in icons if contrast < 3]
        assert not small, f"{width}x{height}: text under {24 * scale:.0f} px: {small[:10]}"
        assert not faint, f"{width}x{height}: text contrast under 4.5:1: {faint[:10]}"
        assert not faint_icons, f"{width}x{height}: status icons under 3:1 on what is behind them: {faint_icons[:10]}"
