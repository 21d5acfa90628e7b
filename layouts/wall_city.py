"""The city on a wall display at /wall/city: tiles with change, the unit map, best and worst, flow, hotline, alerts."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from ioc.i18n import normalize_lang, t
from ioc.wall import city_wall
from ioc.web import get_config, get_db, now, today
from layouts import wall_parts as parts
from layouts import wall_svg
from layouts.components import page_id

dash.register_page(
    __name__, path="/wall/city", name="Màn hình tường", title="IOC · Màn hình tường", nav_key="nav.wall_city", order=10
)

IDS = parts.WallIds.of(__name__)
RANKING = page_id(__name__, "ranking")
HOTLINE = page_id(__name__, "hotline")
# What a new data version updates in place, in the order _figures returns it.
REFRESHED = (
    (IDS.tiles, "children"),
    (IDS.map_paint, "data"),
    (RANKING, "children"),
    (IDS.flow_svg, "data"),
    (HOTLINE, "children"),
    (IDS.alerts, "children"),
)
# Six units each side stay legible at wall type size; the full ranking is on /.
RANKED_PER_SIDE = 6
# Lines the hotline-by-field panel holds (the fields beyond are counted on the last).
FIELD_ROWS = 6
# The map's and chart's boxes in px at 1920×1080 (their SVG scales with the screen from there).
MAP_BOX = (632, 475)
FLOW_BOX = (612, 235)


def _figures(lang: str) -> tuple[Any, ...]:
    snapshot = city_wall(get_db(), today(), now())
    best, worst = parts.best_and_worst(snapshot["ranking"], RANKED_PER_SIDE)
    return (
        parts.wall_tiles(__name__, snapshot, lang),
        parts.map_paint(snapshot["ranking"]),
        parts.ranking_table(
            page_id(__name__, "ranking-table"), [(t("ranking.best", lang), best), (t("ranking.worst", lang), worst)], lang
        ),
        wall_svg.flow_chart(snapshot["flow"], lang, *FLOW_BOX),
        parts.hotline_fields(page_id(__name__, "hotline-fields"), snapshot["hotline_fields"], lang, FIELD_ROWS),
        parts.unit_alerts(snapshot["alerts"], lang),
    )


def content(lang: str) -> html.Div:
    """The whole screen (also a slide of /wall/rotate)."""
    tiles, paint, ranking, flow, hotline, alerts = _figures(lang)
    shape = wall_svg.map_shape(*MAP_BOX, lang)
    return html.Div(
        [
            dcc.Store(id=IDS.params, data={"lang": lang}),
            parts.header(__name__, f"{t('page.city', lang)} {get_config().city_name}", None, lang),
            html.Div(tiles, id=IDS.tiles, className="kpi-grid wall-tiles"),
            html.Div(
                [
                    parts.panel(
                        t("wall.map_title", lang), [parts.svg_box(IDS.map, shape, paint), parts.map_legend(lang)], "wall-map"
                    ),
                    parts.panel(
                        t("wall.best_worst", lang),
                        html.Div(ranking, id=RANKING),
                        "wall-rank",
                    ),
                    html.Div(
                        [
                            parts.panel(t("flow.title", lang), parts.svg_box(IDS.flow, flow), "wall-flow"),
                            parts.panel(t("wall.hotline_by_field", lang), html.Div(hotline, id=HOTLINE), "wall-hotline"),
                        ],
                        className="wall-column",
                    ),
                ],
                className="wall-body wall-city-body",
            ),
            parts.alert_strip(__name__, alerts, lang),
        ],
        className="page wall wall-city",
    )


def layout(lang: str | None = None, **_query: Any) -> html.Div:
    """Rendered with its figures, so the first paint is never an empty chart."""
    return content(normalize_lang(lang))


parts.register_wall_callbacks(IDS, REFRESHED, lambda params: _figures(normalize_lang(params.get("lang"))))
