"""Web app checks without a browser: /health, /api/version, page layouts in both languages, i18n formats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import dash
import pytest
from flask.testing import FlaskClient
from plotly.utils import PlotlyJSONEncoder

from ioc import cache
from ioc.db import Database
from ioc.i18n import format_number, format_percent, t
from ioc.scheduler import SchedulerAlreadyStartedError, start_scheduler, stop_scheduler
from ioc.web import create_app
from tests.web_fixtures import FIXED_NOW, add_dossier_received_now, app_config, live_store, pinned_clock


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    yield from live_store(tmp_path / "web.duckdb")


@pytest.fixture
def app(db: Database) -> dash.Dash:
    return create_app(db, app_config(), clock=pinned_clock, connector_intervals={"simulator": 5})


@pytest.fixture
def client(app: dash.Dash) -> FlaskClient:
    return app.server.test_client()


def render_page(app: dash.Dash, pathname: str, search: str = "") -> str:
    """Build a page as Dash's router does (path variables and query string as keyword arguments), as JSON."""
    query = {key: values[0] for key, values in parse_qs(search.lstrip("?")).items()}
    with app.server.test_request_context(pathname + search):
        app.server.preprocess_request()
        for page in dash.page_registry.values():
            variables = _match(page, pathname)
            if variables is not None:
                return json.dumps(page["layout"](**variables, **query), cls=PlotlyJSONEncoder, ensure_ascii=False)
    raise AssertionError(f"no page for {pathname}")


def _match(page: dict, pathname: str) -> dict[str, str] | None:
    template = page.get("path_template")
    if not template:
        return {} if page["path"] == pathname else None
    prefix = template.split("<", 1)[0]
    if not pathname.startswith(prefix) or "/" in pathname[len(prefix) :]:
        return None
    name = template[len(prefix) + 1 : -1]
    return {name: pathname[len(prefix) :]}


def test_health_reports_each_connector(client: FlaskClient, db: Database) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    report = response.get_json()
    assert report["data_version"] == db.data_version
    simulator = next(item for item in report["connectors"] if item["connector"] == "simulator")
    assert simulator["last_success_at"] is not None
    assert simulator["last_error"] is None
    assert simulator["last_run"]["status"] == "ok"
    assert simulator["lag_seconds"] >= 0
    assert set(simulator) >= {"last_success_at", "lag_seconds", "last_error", "stale"}


def test_api_version_goes_up_after_a_write(client: FlaskClient, db: Database) -> None:
    before = client.get("/api/version").get_json()["data_version"]
    add_dossier_received_now(db, "20194")
    after = client.get("/api/version").get_json()["data_version"]
    assert after > before


def test_every_page_is_registered_from_the_layouts_folder(app: dash.Dash) -> None:
    paths = {page["path"] for page in dash.page_registry.values()}
    templates = {page.get("path_template") for page in dash.page_registry.values()}
    assert {"/", "/wall/city"} <= paths
    assert "/commune/<unit_code>" in templates


@pytest.mark.parametrize("pathname", ["/", "/wall/city", "/commune/20194"])
def test_pages_render_in_english(app: dash.Dash, pathname: str) -> None:
    page = render_page(app, pathname, "?lang=en")
    assert t("tile.received_today", "en") in page
    assert t("flow.title", "en") in page
    assert t("tile.received_today", "vi") not in page


def test_city_page_in_vietnamese_by_default(app: dash.Dash) -> None:
    page = render_page(app, "/")
    assert t("tile.received_today", "vi") in page
    assert "/commune/" in page


def test_commune_page_shows_its_full_name(app: dash.Dash) -> None:
    assert "Phường Hải Vân" in render_page(app, "/commune/20194")


def test_commune_page_links_to_its_own_wall_in_its_language(app: dash.Dash) -> None:
    assert '"/wall/commune/20194"' in render_page(app, "/commune/20194")
    english = render_page(app, "/commune/20194", "?lang=en")
    assert '"/wall/commune/20194?lang=en"' in english and "This unit's wall screen" in english


def test_unknown_commune_is_a_clear_message_not_an_error(app: dash.Dash) -> None:
    assert t("commune.not_found", "vi", code="99999") in render_page(app, "/commune/99999")


def test_a_unit_that_is_not_a_commune_is_named_and_explained(app: dash.Dash, db: Database) -> None:
    """A hotline sample's unit (kind 'other', registered by its mapping) has no commune page: say why, in each language."""
    db.execute_write(
        "INSERT INTO units (unit_code, name, full_name, kind) VALUES ('EXT-NYC-1', 'Queens', 'Queens (NYC 311)', 'other')"
    )
    for lang in ("vi", "en"):
        for path in ("/commune/EXT-NYC-1", "/wall/commune/EXT-NYC-1"):
            page = render_page(app, path, f"?lang={lang}")
            assert t("commune.not_a_commune", lang, code="EXT-NYC-1", name="Queens (NYC 311)") in page, (path, lang)
    assert t("commune.not_found", "en", code="EXT-NYC-2") in render_page(app, "/wall/commune/EXT-NYC-2", "?lang=en")


def test_markup_in_a_unit_code_is_sent_as_text(app: dash.Dash) -> None:
    page = render_page(app, "/commune/<b>x")
    assert "<b>x" in page  # shown back as text in the not-found message
    # Dash sends strings as JSON and React renders them as text nodes: no element is created.
    assert '"type": "Script"' not in page and '"type":"Script"' not in page


def test_snapshot_is_computed_once_per_version(db: Database) -> None:
    today = FIXED_NOW.date()
    first = cache.city_snapshot(db, today)
    assert cache.city_snapshot(db, today) is first
    add_dossier_received_now(db, "20194")
    second = cache.city_snapshot(db, today)
    assert second is not first
    assert second["day"]["received"] == first["day"]["received"] + 1


def test_numbers_use_vietnamese_separators() -> None:
    assert format_number(12345, "vi") == "12.345"
    assert format_number(12345, "en") == "12,345"
    assert format_percent(0.987, "vi") == "98,7 %"
    assert format_percent(0.987, "en") == "98.7%"
    assert format_percent(None, "vi") == "—"


def test_the_scheduler_starts_only_once_per_process(db: Database) -> None:
    scheduler = start_scheduler(db, [], initial_run=False)
    try:
        with pytest.raises(SchedulerAlreadyStartedError):
            start_scheduler(db, [], initial_run=False)
    finally:
        stop_scheduler(scheduler)


def test_ranking_puts_units_with_too_few_dossiers_apart_never_first(db: Database) -> None:
    today = FIXED_NOW.date()
    ranking = cache.ranking_frame(db, today)
    ranked = ranking[ranking["rank"].notna()]
    unranked = ranking[ranking["rank"].isna()]
    assert len(ranking) == 94
    assert ranked["rank"].iloc[0] == 1
    assert (ranked["resolved"] >= 5).all()
    assert (unranked["resolved"] < 5).all() or unranked["on_time_rate"].isna().all()
    assert list(ranking.index[: len(ranked)]) == list(ranked.index)  # ranked first, the rest after
    hoang_sa = cache.unit_snapshot(db, "20333", today)  # Đặc khu Hoàng Sa: almost no dossiers
    assert hoang_sa is not None and hoang_sa["unit"]["rank"] is None
    page = render_page(create_app(db, app_config(), clock=pinned_clock), "/commune/20333")
    assert "Chưa xếp hạng" in page
