"""City overview at /: today's tiles, this month's on-time rate, the unit ranking, 30 days of flow and the data sources."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from ioc.cache import city_snapshot
from ioc.i18n import normalize_lang, t
from ioc.web import VERSION_STORE, get_config, get_db, today
from layouts.components import (
    flow_figure,
    flow_graph,
    page_id,
    ranking_table,
    register_sources_callback,
    sources_content,
    sources_panel,
    sources_summary_box,
    standard_tiles,
)

dash.register_page(__name__, path="/", name="Toàn thành phố", title="IOC · Toàn thành phố", nav_key="nav.city", order=0)

PARAMS = page_id(__name__, "params")
TILES = page_id(__name__, "tiles")
RANKING = page_id(__name__, "ranking")
FLOW = page_id(__name__, "flow")


def _content(lang: str) -> tuple[list[Any], Any, Any]:
    snapshot = city_snapshot(get_db(), today())
    return (
        standard_tiles(__name__, snapshot, lang),
        ranking_table(page_id(__name__, "ranking-table"), snapshot["ranking"], lang),
        flow_figure(snapshot["flow"], lang),
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """The page with its figures already in it, so the first paint is never an empty chart."""
    lang = normalize_lang(lang)
    tiles, ranking, figure = _content(lang)
    summary, sources = sources_content(__name__, lang)
    return html.Div(
        [
            dcc.Store(id=PARAMS, data={"lang": lang}),
            html.Div(
                [
                    html.H1([t("page.city", lang), " ", get_config().city_name], className="page-title"),
                    sources_summary_box(__name__, summary),
                ],
                className="page-heading",
            ),
            html.Div(tiles, id=TILES, className="kpi-grid"),
            html.Div(
                [
                    html.Section(
                        [html.H2(t("flow.title", lang)), flow_graph(FLOW, figure)],
                        className="panel panel-flow",
                    ),
                    html.Section(
                        [html.H2(t("ranking.title", lang)), html.Div(ranking, id=RANKING, className="ranking-scroll")],
                        className="panel panel-ranking",
                    ),
                ],
                className="city-body",
            ),
            sources_panel(__name__, sources, lang),
        ],
        className="page page-city",
    )


@dash.callback(
    Output(TILES, "children"),
    Output(RANKING, "children"),
    Output(FLOW, "figure"),
    Input(VERSION_STORE, "data"),
    State(PARAMS, "data"),
    prevent_initial_call=True,
)
def refresh(_version: int | None, params: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """New data version: replace the tiles' children and the figure in place (no page reload, no flicker)."""
    return _content(normalize_lang((params or {}).get("lang")))


register_sources_callback(__name__, PARAMS)
