"""The city on a wall display at /wall/city: the same figures as /, large type, no chrome, one screen."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from ioc.cache import city_snapshot
from ioc.i18n import normalize_lang, t
from ioc.web import VERSION_STORE, get_config, get_db, today
from layouts.components import best_and_worst, flow_figure, flow_graph, page_id, ranking_table, standard_tiles

dash.register_page(
    __name__, path="/wall/city", name="Màn hình tường", title="IOC · Màn hình tường", nav_key="nav.wall_city", order=10
)

PARAMS = page_id(__name__, "params")
TILES = page_id(__name__, "tiles")
BEST = page_id(__name__, "best")
WORST = page_id(__name__, "worst")
FLOW = page_id(__name__, "flow")
# Twelve units each side fit a 16:9 wall at wall type size without scrolling; the full list is on /.
RANKED_PER_SIDE = 12


def _content(lang: str) -> tuple[list[Any], Any, Any, Any]:
    snapshot = city_snapshot(get_db(), today())
    best, worst = best_and_worst(snapshot["ranking"], RANKED_PER_SIDE)
    return (
        standard_tiles(__name__, snapshot, lang),
        ranking_table(page_id(__name__, "best-table"), best, lang),
        ranking_table(page_id(__name__, "worst-table"), worst, lang),
        flow_figure(snapshot["flow"], lang, dark=True),
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """Wall layout: header, seven tiles, then the flow chart beside the best and worst units."""
    lang = normalize_lang(lang)
    tiles, best, worst, figure = _content(lang)
    return html.Div(
        [
            dcc.Store(id=PARAMS, data={"lang": lang}),
            html.H1([t("page.city", lang), " ", get_config().city_name], className="wall-title"),
            html.Div(tiles, id=TILES, className="kpi-grid wall-tiles"),
            html.Div(
                [
                    html.Section(
                        [
                            html.H2(t("flow.title", lang)),
                            html.Div(flow_graph(FLOW, figure, "wall-flow-graph"), className="wall-graph-box"),
                        ],
                        className="panel wall-panel wall-flow",
                    ),
                    html.Section(
                        [
                            html.H2(t("ranking.title", lang)),
                            html.Div(
                                [
                                    html.Div(
                                        [html.H3(t("ranking.best", lang)), html.Div(best, id=BEST)], className="wall-rank-col"
                                    ),
                                    html.Div(
                                        [html.H3(t("ranking.worst", lang)), html.Div(worst, id=WORST)], className="wall-rank-col"
                                    ),
                                ],
                                className="wall-rank-cols",
                            ),
                        ],
                        className="panel wall-panel wall-ranking",
                    ),
                ],
                className="wall-body",
            ),
        ],
        className="page wall wall-city",
    )


@dash.callback(
    Output(TILES, "children"),
    Output(BEST, "children"),
    Output(WORST, "children"),
    Output(FLOW, "figure"),
    Input(VERSION_STORE, "data"),
    State(PARAMS, "data"),
    prevent_initial_call=True,
)
def refresh(_version: int | None, params: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
    """New data version: update children and figure in place; a wall never reloads."""
    return _content(normalize_lang((params or {}).get("lang")))
