"""One commune at /commune/<unit_code>: its tiles, this month's rates, its rank, 30 days of flow and the data sources."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from ioc.cache import unit_snapshot
from ioc.i18n import format_number, format_percent, normalize_lang, t
from ioc.web import VERSION_STORE, get_db, today, with_lang
from layouts.components import (
    flow_figure,
    flow_graph,
    kpi_status,
    kpi_tile,
    missing_unit_text,
    page_id,
    register_sources_callback,
    sources_content,
    sources_panel,
    sources_summary_box,
    standard_tiles,
)

dash.register_page(
    __name__, path_template="/commune/<unit_code>", name="Xã, phường", title="IOC · Xã, phường", nav_key="nav.commune", order=5
)

PARAMS = page_id(__name__, "params")
TITLE = page_id(__name__, "title")
RANK = page_id(__name__, "rank")
TILES = page_id(__name__, "tiles")
MONTH_TILES = page_id(__name__, "month-tiles")
FLOW = page_id(__name__, "flow")


def _month_tiles(snapshot: dict[str, Any], lang: str) -> list[html.Div]:
    month = snapshot["month"]
    return [
        kpi_tile(
            page_id(__name__, "received-month"), t("commune.received_month", lang), format_number(month["received"], lang), lang
        ),
        kpi_tile(
            page_id(__name__, "resolved-month"), t("commune.resolved_month", lang), format_number(month["resolved"], lang), lang
        ),
        kpi_tile(
            page_id(__name__, "online-rate"),
            t("commune.online_rate", lang),
            format_percent(month["online_rate"], lang),
            lang,
            status=kpi_status("online_rate", month),
        ),
        kpi_tile(
            page_id(__name__, "hotline-on-time-rate"),
            t("commune.hotline_on_time_rate", lang),
            format_percent(month["hotline_on_time_rate"], lang),
            lang,
            status=kpi_status("hotline_on_time_rate", month),
        ),
    ]


def _rank_text(snapshot: dict[str, Any], lang: str) -> str:
    unit = snapshot["unit"]
    if unit["rank"] is None:
        return t("commune.not_ranked", lang)
    return t("commune.rank", lang, rank=unit["rank"], total=unit["units"])


def not_found(unit_code: str, lang: str) -> html.Div:
    """A clear message for an unknown code (the code is shown as text, escaped like all strings)."""
    return html.Div(
        [
            html.H1(missing_unit_text(unit_code, lang), className="page-title", id=TITLE),
            dcc.Link(t("commune.back", lang), href=with_lang("/", lang), className="back-link"),
        ],
        className="page page-commune page-not-found",
    )


def layout(unit_code: str | None = None, lang: str | None = None, **_query: Any) -> html.Div:
    """The unit's page, or a not-found message for an unknown code."""
    lang = normalize_lang(lang)
    code = (unit_code or "").strip()[:40]
    snapshot = unit_snapshot(get_db(), code, today()) if code else None
    if snapshot is None:
        return not_found(code, lang)
    summary, sources = sources_content(__name__, lang)
    return html.Div(
        [
            dcc.Store(id=PARAMS, data={"lang": lang, "unit_code": code}),
            html.Div(
                [
                    dcc.Link("← " + t("commune.back", lang), href=with_lang("/", lang), className="back-link"),
                    # The unit's own wall (the lists of overdue dossiers and open tickets), for a chair to open or cast.
                    dcc.Link(
                        t("commune.wall", lang) + " →", href=with_lang(f"/wall/commune/{code}", lang), className="back-link"
                    ),
                ],
                className="page-links",
            ),
            html.Div(
                [
                    html.H1(snapshot["unit"]["full_name"], className="page-title", id=TITLE),
                    sources_summary_box(__name__, summary),
                ],
                className="page-heading",
            ),
            html.P(_rank_text(snapshot, lang), className="page-subtitle", id=RANK),
            html.Div(standard_tiles(__name__, snapshot, lang), id=TILES, className="kpi-grid"),
            html.Div(_month_tiles(snapshot, lang), id=MONTH_TILES, className="kpi-grid kpi-grid-small"),
            html.Section(
                [html.H2(t("flow.title", lang)), flow_graph(FLOW, flow_figure(snapshot["flow"], lang))],
                className="panel panel-flow",
            ),
            sources_panel(__name__, sources, lang),
        ],
        className="page page-commune",
    )


@dash.callback(
    Output(TILES, "children"),
    Output(MONTH_TILES, "children"),
    Output(RANK, "children"),
    Output(FLOW, "figure"),
    Input(VERSION_STORE, "data"),
    State(PARAMS, "data"),
    prevent_initial_call=True,
)
def refresh(_version: int | None, params: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
    """New data version: update the unit's figures in place."""
    params = params or {}
    lang = normalize_lang(params.get("lang"))
    snapshot = unit_snapshot(get_db(), str(params.get("unit_code", "")), today())
    if snapshot is None:
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update
    return (
        standard_tiles(__name__, snapshot, lang),
        _month_tiles(snapshot, lang),
        _rank_text(snapshot, lang),
        flow_figure(snapshot["flow"], lang),
    )


register_sources_callback(__name__, PARAMS)
