"""One unit on a wall display at /wall/commune/<unit_code>: its tiles, place on the map, overdue dossiers and open hotline items."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from ioc.i18n import normalize_lang, t
from ioc.wall import unit_wall
from ioc.web import get_db, now, today
from layouts import wall_parts as parts
from layouts import wall_svg
from layouts.components import missing_unit_text, page_id

dash.register_page(
    __name__,
    path_template="/wall/commune/<unit_code>",
    name="Màn hình tường xã, phường",
    title="IOC · Màn hình tường xã, phường",
    order=11,
)

IDS = parts.WallIds.of(__name__)
SUBTITLE = page_id(__name__, "subtitle")
HOTLINE_CHART = page_id(__name__, "hotline-chart")
DOSSIERS = page_id(__name__, "dossiers")
HOTLINE = page_id(__name__, "hotline-items")
# What a new data version updates in place, in the order _figures returns it (then the unit's full name).
REFRESHED = (
    (SUBTITLE, "children"),
    (IDS.tiles, "children"),
    (IDS.map_paint, "data"),
    (IDS.flow_svg, "data"),
    (HOTLINE_CHART, "children"),
    (DOSSIERS, "children"),
    (HOTLINE, "children"),
    (IDS.alerts, "children"),
)
# Rows that fit their panels at 16:9 with wall type size (the rest is counted as "+ N more").
DOSSIER_ROWS = 4
HOTLINE_ROWS = 4
FIELD_ROWS = 4
# The map's and chart's boxes in px at 1920×1080 (their SVG scales with the screen from there).
MAP_BOX = (536, 408)
FLOW_BOX = (656, 143)


def _rank_text(snapshot: dict[str, Any], lang: str) -> str:
    unit = snapshot["unit"]
    if unit["rank"] is None:
        return t("commune.not_ranked", lang)
    return t("wall.rank", lang, rank=int(unit["rank"]), total=unit["units"])


def _figures(code: str, lang: str) -> tuple[Any, ...] | None:
    snapshot = unit_wall(get_db(), code, today(), now())
    if snapshot is None:
        return None
    day = snapshot["day"]
    dossiers_total = int(day.get("in_progress_overdue") or 0) + int(day.get("at_risk") or 0)
    return (
        _rank_text(snapshot, lang),
        parts.wall_tiles(__name__, snapshot, lang),
        parts.map_paint(snapshot["ranking"]),
        wall_svg.flow_chart(snapshot["flow"], lang, *FLOW_BOX),
        parts.hotline_fields(page_id(__name__, "hotline-fields"), snapshot["hotline_fields"], lang, FIELD_ROWS),
        parts.dossier_list(page_id(__name__, "dossier-table"), snapshot["dossiers"], dossiers_total, lang, DOSSIER_ROWS),
        parts.hotline_list(
            page_id(__name__, "hotline-table"), snapshot["hotline"], int(day.get("hotline_open") or 0), lang, HOTLINE_ROWS
        ),
        parts.unit_alerts(snapshot["alerts"], lang, count_units=False),
        snapshot["unit"]["full_name"],
    )


def not_found(code: str, lang: str) -> html.Div:
    """An unknown code on a wall: a clear message in wall type, never an error or a login page."""
    return html.Div(
        [html.H1(missing_unit_text(code, lang), className="wall-title", id=page_id(__name__, "title"))],
        className="page wall wall-not-found",
    )


def content(code: str, lang: str) -> html.Div:
    """The whole screen for one unit (also a slide of /wall/rotate)."""
    code = code.strip()[:40]
    figures = _figures(code, lang) if code else None
    if figures is None:
        return not_found(code, lang)
    rank, tiles, paint, flow, hotline_chart, dossiers, hotline, alerts, full_name = figures
    return html.Div(
        [
            dcc.Store(id=IDS.params, data={"lang": lang, "unit_code": code}),
            parts.header(__name__, str(full_name), rank, lang),
            html.Div(tiles, id=IDS.tiles, className="kpi-grid wall-tiles"),
            html.Div(
                [
                    parts.panel(
                        t("wall.map_title", lang),
                        [
                            parts.svg_box(IDS.map, wall_svg.map_shape(*MAP_BOX, lang, code), paint),
                            parts.map_legend(lang, selected=True),
                        ],
                        "wall-map",
                    ),
                    html.Div(
                        [
                            parts.panel(t("wall.dossiers_title", lang), html.Div(dossiers, id=DOSSIERS), "wall-dossiers"),
                            parts.panel(t("flow.title", lang), parts.svg_box(IDS.flow, flow), "wall-flow"),
                        ],
                        className="wall-column",
                    ),
                    html.Div(
                        [
                            parts.panel(t("wall.hotline_title", lang), html.Div(hotline, id=HOTLINE), "wall-hotline-items"),
                            parts.panel(
                                t("wall.hotline_by_field", lang), html.Div(hotline_chart, id=HOTLINE_CHART), "wall-hotline"
                            ),
                        ],
                        className="wall-column",
                    ),
                ],
                className="wall-body wall-commune-body",
            ),
            parts.alert_strip(__name__, alerts, lang),
        ],
        className="page wall wall-commune",
    )


def layout(unit_code: str | None = None, lang: str | None = None, **_query: Any) -> html.Div:
    return content(unit_code or "", normalize_lang(lang))


def _refreshed(params: dict[str, Any]) -> tuple[Any, ...] | None:
    figures = _figures(str(params.get("unit_code", "")), normalize_lang(params.get("lang")))
    return None if figures is None else figures[: len(REFRESHED)]


parts.register_wall_callbacks(IDS, REFRESHED, _refreshed)
