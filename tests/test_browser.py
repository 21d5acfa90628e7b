"""Browser tests in headless Chromium (dash[testing]'s dash_duo): tiles, drill-down to a commune, live refresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dash
import pytest

from ioc.db import Database
from ioc.web import create_app
from tests.web_fixtures import add_dossier_received_now, app_config, live_store, pinned_clock

pytestmark = pytest.mark.browser


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    yield from live_store(tmp_path / "browser.duckdb")


@pytest.fixture
def app(db: Database) -> dash.Dash:
    return create_app(db, app_config(), clock=pinned_clock, connector_intervals={})


def tile_number(dash_duo, element_id: str) -> int:  # type: ignore[no-untyped-def]
    """A count tile's number as an int ("1.234" in Vietnamese)."""
    return int(dash_duo.find_element(f"#{element_id}-value").text.replace(".", ""))


def assert_flow_chart_inside_its_panel(dash_duo) -> None:  # type: ignore[no-untyped-def]
    """The chart fills its graph, which its panel holds: a figure replaced by a refresh had collapsed the graph to
    nothing, the chart spilling out of its panel over the ones below."""
    dash_duo.wait_for_element("#city-flow .main-svg", timeout=15)
    panel, graph, plot = dash_duo.driver.execute_script(
        "function box(e) { var r = e.getBoundingClientRect(); return [r.top, r.bottom]; }"
        "return [box(document.querySelector('.panel-flow')), box(document.querySelector('#city-flow')),"
        " box(document.querySelector('#city-flow .main-svg'))]"
    )
    assert graph[1] - graph[0] >= 400 and panel[0] <= graph[0] and graph[1] <= panel[1], (panel, graph)
    assert graph[0] <= plot[0] and plot[1] <= graph[1] + 1, (graph, plot)


def test_city_tiles_show_numbers(dash_duo, app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#city-received-today-value", timeout=15)
    assert tile_number(dash_duo, "city-received-today") > 0
    assert dash_duo.find_element("#city-on-time-rate-value").text.endswith("%")
    for tile in ("resolved-today", "overdue", "at-risk", "hotline-open", "hotline-overdue"):
        assert dash_duo.find_element(f"#city-{tile}-value").text.replace(".", "").isdigit()
    dash_duo.wait_for_contains_text("#app-data-time", "Dữ liệu lúc", timeout=10)
    assert dash_duo.get_logs() == []


def test_click_a_unit_in_the_ranking_opens_its_page(dash_duo, app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#city-ranking-table .rank-link", timeout=15)
    link = dash_duo.find_elements("#city-ranking-table .rank-link")[0]
    name = link.text
    link.click()
    dash_duo.wait_for_contains_text("#commune-title", name, timeout=15)
    assert "/commune/" in dash_duo.driver.current_url
    dash_duo.wait_for_element("#commune-received-today-value")
    assert dash_duo.find_element("#commune-received-today-value").text.replace(".", "").isdigit()
    assert dash_duo.find_element("#commune-on-time-rate-value").text
    assert dash_duo.get_logs() == []


def test_a_new_dossier_shows_up_without_reloading(dash_duo, app: dash.Dash, db: Database) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#city-received-today-value", timeout=15)
    before = tile_number(dash_duo, "city-received-today")
    # A marker that a page reload would wipe out.
    dash_duo.driver.execute_script("window.__marker = 1")

    add_dossier_received_now(db, "20194")

    expected = f"{before + 1:,}".replace(",", ".")
    dash_duo.wait_for_text_to_equal("#city-received-today-value", expected, timeout=15)
    assert_flow_chart_inside_its_panel(dash_duo)
    assert dash_duo.driver.execute_script("return window.__marker") == 1
    assert dash_duo.get_logs() == []


def test_wall_has_no_navigation_and_english_works(dash_duo, app: dash.Dash) -> None:  # type: ignore[no-untyped-def]
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/wall/city?lang=en", timeout=15)
    dash_duo.wait_for_element("#wall-city-received-today-value", timeout=15)
    dash_duo.wait_for_contains_text(".wall-title", "City overview", timeout=10)
    assert not dash_duo.find_element("#app-nav").is_displayed()
    assert dash_duo.get_logs() == []
