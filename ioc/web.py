"""The Dash app factory: pages from layouts/, the app shell, the data-version poll, /health, /api/version and the wall service worker."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

import dash
import flask
from dash import Input, Output, State, dcc, html, no_update

from ioc import cache, health
from ioc.config import PROJECT_ROOT, Config
from ioc.db import Database
from ioc.i18n import format_data_time, normalize_lang, t
from ioc.timeutil import LOCAL_TZ, now_utc

PAGES_FOLDER = PROJECT_ROOT / "layouts"
ASSETS_FOLDER = PROJECT_ROOT / "assets"
# Served from the app's root (its scope may then cover <prefix>wall/); assets/wall.js registers it on wall pages.
WALL_SERVICE_WORKER = "wall-sw.js"

# App-shell component ids; pages take VERSION_STORE as an Input so they re-render only on a new version.
LOCATION = "app-location"
VERSION_STORE = "app-data-version"
REFRESH_INTERVAL = "app-refresh-interval"
CLOCK_INTERVAL = "app-clock-interval"
NAV = "app-nav"
DATA_TIME = "app-data-time"

# The data-time line re-checks staleness this often even when no data arrives (that is when it matters).
CLOCK_INTERVAL_MS = 15_000
# Screen readers announce the data time when it changes.
_ARIA_LIVE: dict[str, Any] = {"aria-live": "polite"}

_DB_KEY = "IOC_DB"
_CONFIG_KEY = "IOC_CONFIG"
_CLOCK_KEY = "IOC_CLOCK"
_INTERVALS_KEY = "IOC_CONNECTOR_INTERVALS"
_PROBLEMS_KEY = "IOC_SOURCE_PROBLEMS"


def get_db() -> Database:
    """The store of the app serving the current request (set by create_app; no import-time globals)."""
    return flask.current_app.config[_DB_KEY]  # type: ignore[no-any-return]


def get_config() -> Config:
    return flask.current_app.config[_CONFIG_KEY]  # type: ignore[no-any-return]


def now() -> datetime:
    """The app's clock: real time, or the fixed time a test passed to create_app."""
    clock: Callable[[], datetime] = flask.current_app.config[_CLOCK_KEY]
    return clock()


def today() -> date:
    """Today's local date by the app's clock."""
    return now().astimezone(LOCAL_TZ).date()


def _reset_dash_globals() -> None:
    # Dash keeps the page registry and @dash.callback registrations in module globals; the factory
    # re-imports the pages for every app (tests build many), so start each app from a clean slate.
    from dash import _callback, _pages

    _pages.PAGE_REGISTRY.clear()
    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_CALLBACK_MAP.clear()


def _compress_responses(app: dash.Dash) -> None:
    """Compress what the server sends (zstd, brotli or gzip): plotly.js alone is 4.6 MB raw, and the
    unit boundaries are GeoJSON, which flask-compress does not compress by default."""
    from flask_compress import Compress

    app.server.config["COMPRESS_MIMETYPES"] = [
        "text/html", "text/css", "text/plain", "text/xml", "text/javascript",
        "application/javascript", "application/json", "application/geo+json",
    ]  # fmt: skip
    Compress(app.server)


def create_app(
    db: Database,
    config: Config,
    *,
    clock: Callable[[], datetime] = now_utc,
    connector_intervals: Mapping[str, int] | None = None,
    source_problems: Mapping[str, str] | None = None,
) -> dash.Dash:
    """A Dash app showing ``db``. Starts nothing: the scheduler is app.main's business.

    ``connector_intervals`` are the sources that run (ioc.scheduler.ConnectorPlan.intervals); ``source_problems``
    what should run and cannot, kept nowhere else (ConnectorPlan.unstored_problems): both feed every health view.
    """
    _reset_dash_globals()
    app = dash.Dash(
        # Dash names page modules from the root of this import name: "app" (app.py beside layouts/) gives
        # "layouts.city" rather than a name built from the checkout's absolute path.
        "app",
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        # The wall service worker runs in its own context, never as a page script: served by wall_service_worker.
        assets_ignore=WALL_SERVICE_WORKER.replace(".", r"\.") + "$",
        suppress_callback_exceptions=True,
        title=f"IOC {config.city_name}",
        update_title="",  # no "Updating..." flashing in the tab title on every refresh
        serve_locally=True,  # nothing is fetched from a CDN: walls may sit on a closed network
    )
    _compress_responses(app)
    if connector_intervals is None:
        connector_intervals = {"simulator": config.simulator_interval_seconds} if config.simulator_enabled else {}
    app.server.config.update(
        {
            _DB_KEY: db,
            _CONFIG_KEY: config,
            _CLOCK_KEY: clock,
            _INTERVALS_KEY: dict(connector_intervals),
            _PROBLEMS_KEY: dict(source_problems or {}),
        }
    )

    def shell() -> html.Div:
        return html.Div(
            [
                dcc.Location(id=LOCATION),
                dcc.Store(id=VERSION_STORE, data=db.data_version),
                dcc.Interval(id=REFRESH_INTERVAL, interval=int(config.refresh_interval_ms)),
                dcc.Interval(id=CLOCK_INTERVAL, interval=CLOCK_INTERVAL_MS),
                html.Header(id=NAV, className="app-nav app-nav-pending"),
                html.Div(id=DATA_TIME, className="data-time", **_ARIA_LIVE),
                html.Main(dash.page_container, className="app-main"),
            ],
            className="app-shell",
        )

    app.layout = shell
    _register_shell_callbacks(app)
    _register_routes(app)
    return app


def lang_of_search(search: str | None) -> str:
    """The language asked for in a query string such as ``?lang=en``."""
    query = parse_qs((search or "").lstrip("?"))
    return normalize_lang(query.get("lang", [None])[0])


def with_lang(href: str, lang: str) -> str:
    """``href`` carrying ``?lang=en`` when the page is in English (Vietnamese is the default: no parameter)."""
    if normalize_lang(lang) != "en":
        return href
    return f"{href}{'&' if '?' in href else '?'}lang=en"


def nav_pages() -> list[dict[str, Any]]:
    """Pages listed in the navigation: every registered page without path variables, in registry order."""
    return [page for page in dash.page_registry.values() if not page.get("path_template") and page.get("nav_key")]


def _register_shell_callbacks(app: dash.Dash) -> None:
    @app.callback(
        Output(VERSION_STORE, "data"),
        Input(REFRESH_INTERVAL, "n_intervals"),
        State(VERSION_STORE, "data"),
        prevent_initial_call=True,
    )
    def poll_version(_ticks: int | None, known: int | None) -> Any:
        # Same version: send nothing, so no page callback fires and nothing re-renders.
        version = get_db().data_version
        return no_update if version == known else version

    @app.callback(
        Output(NAV, "children"),
        Output(NAV, "className"),
        Input(LOCATION, "pathname"),
        Input(LOCATION, "search"),
    )
    def render_nav(pathname: str | None, search: str | None) -> tuple[Any, str]:
        # Wall screens run unattended with no chrome (DESIGN §6).
        if (pathname or "/").startswith("/wall"):
            return [], "app-nav app-nav-hidden"
        lang = lang_of_search(search)
        links = [
            dcc.Link(
                t(page["nav_key"], lang),
                href=with_lang(page["relative_path"], lang),
                className="nav-link nav-link-active" if page["path"] == (pathname or "/") else "nav-link",
            )
            for page in nav_pages()
        ]
        other = "vi" if lang == "en" else "en"
        switch = dcc.Link(
            "Tiếng Việt" if other == "vi" else "English",
            href=with_lang(pathname or "/", other),
            className="nav-link nav-lang",
        )
        brand = html.Span([t("app.title", lang), " · ", get_config().city_name], className="nav-brand")
        return [brand, html.Nav(links, className="nav-links"), switch], "app-nav"

    @app.callback(
        Output(DATA_TIME, "children"),
        Output(DATA_TIME, "className"),
        Input(VERSION_STORE, "data"),
        Input(CLOCK_INTERVAL, "n_intervals"),
        Input(LOCATION, "search"),
        Input(LOCATION, "pathname"),
    )
    def render_data_time(_version: int | None, _ticks: int | None, search: str | None, pathname: str | None) -> tuple[Any, str]:
        lang = lang_of_search(search)
        report = data_health()
        wall = " data-time-wall" if (pathname or "").startswith("/wall") else ""
        flagged = " data-time-stale-on" if health.in_trouble(report) else ""
        return data_time_line(report, lang), "data-time" + wall + flagged


def data_time_line(report: list[dict[str, Any]], lang: str) -> list[Any]:
    """The page header's data time, then a warning when a source is in trouble, worded by the worst of them."""
    children: list[Any] = [
        html.Span(t("data_time.label", lang) + " ", className="data-time-label"),
        html.Span(format_data_time(health.last_success_time(report), lang), className="data-time-value"),
    ]
    trouble = {health.source_status(item) for item in health.in_trouble(report)}
    if trouble:
        # A source that fails is not merely late.
        word = t("data_time.error" if "error" in trouble else "data_time.stale", lang)
        children.append(html.Span(["⚠ ", word], className="badge badge-bad data-time-stale"))
    return children


def data_health() -> list[dict[str, Any]]:
    """Connector health for the current request's app, cached per data version and per 15 s of wall time."""
    server = flask.current_app
    db: Database = server.config[_DB_KEY]
    bucket = int(time.time() // (CLOCK_INTERVAL_MS / 1000))
    return cache.cached(db, _health_report, server, bucket)


def _health_report(db: Database, server: flask.Flask, _bucket: int = 0) -> list[dict[str, Any]]:
    """The sources' health as this app sees it: what it runs, at what interval, and what could not start.

    ``_bucket`` only keys data_health's cache (one report per 15 s of wall time).
    """
    return health.connector_health(
        db,
        server.config[_INTERVALS_KEY],
        stale_after_factor=int(server.config[_CONFIG_KEY].stale_after_factor),
        problems=server.config[_PROBLEMS_KEY],
    )


def _register_routes(app: dash.Dash) -> None:
    server = app.server

    @server.route("/health")
    def health_route() -> flask.Response:
        db: Database = server.config[_DB_KEY]
        report = _health_report(db, server)
        # The same judgement as every screen's (ioc.health.source_status): a quiet success writes no run row, so
        # the last stored run alone would keep a recovered source degraded.
        degraded = [item["connector"] for item in health.in_trouble(report)]
        return flask.jsonify(
            {
                "status": "degraded" if degraded else "ok",
                "degraded": degraded,
                "data_version": db.data_version,
                "checked_at": now_utc().isoformat(),
                "connectors": report,
            }
        )

    @server.route("/api/version")
    def version_route() -> flask.Response:
        return flask.jsonify({"data_version": server.config[_DB_KEY].data_version})

    @server.route(f"{app.config.routes_pathname_prefix}{WALL_SERVICE_WORKER}")
    def wall_service_worker() -> flask.Response:
        # Revalidated on every registration check, so a new version reaches the walls at their next load.
        response = flask.send_from_directory(ASSETS_FOLDER, WALL_SERVICE_WORKER, mimetype="text/javascript", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
