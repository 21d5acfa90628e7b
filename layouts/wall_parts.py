"""Pieces of the wall screens: header, tiles with change, unit map, rankings, charts, alert strip and item lists."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from ioc.config import PROJECT_ROOT
from ioc.i18n import format_data_time, format_number, format_percent, normalize_lang, t
from ioc.web import CLOCK_INTERVAL, VERSION_STORE, data_health
from kpis import REGISTRY, status_of, thresholds_of
from kpis.breakdown import URGENCY_LABELS_VI
from layouts.components import OKABE_ITO, STATUS_ICON, flow_figure, kpi_status, kpi_tile, page_id, status_badge

MAP_ASSET = "danang_units_94.geojson"
MAP_PATH = PROJECT_ROOT / "assets" / MAP_ASSET
STATUS_ORDER = ("good", "watch", "bad", "no_data")
MAP_COLOURS = {
    "good": OKABE_ITO["bluish_green"],
    "watch": OKABE_ITO["orange"],
    "bad": OKABE_ITO["vermillion"],
    "no_data": OKABE_ITO["grey"],
}
WALL_TEXT = "#f2f2f2"
WALL_MUTED = "#c9d3e0"
WALL_BACKGROUND = "#0b1320"
# Plotly sizes text in px: wall charts are laid out for a 1920×1080 screen and scaled as a whole by
# assets/wall-scale.js, so these are the px sizes at 1080p (labels at least ~24 px, DESIGN of issue 5).
CHART_FONT = 22
# Static charts: a wall has no mouse, and no hover layer or mode bar means less work for the browser.
STATIC_GRAPH: dict[str, Any] = {"staticPlot": True, "responsive": True}
_ARIA_HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
_ARIA_LIVE: dict[str, Any] = {"aria-live": "polite"}


# -- the map asset ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def map_asset() -> dict[str, Any]:
    """The simplified unit boundaries (scripts/build_map.py): codes, label points and the Hoàng Sa inset box."""
    data = json.loads(MAP_PATH.read_text(encoding="utf-8"))
    return {
        "codes": [feature["properties"]["code"] for feature in data["features"]],
        "labels": {
            feature["properties"]["code"]: (feature["properties"]["label_lon"], feature["properties"]["label_lat"])
            for feature in data["features"]
        },
        "inset": data.get("ioc_inset"),
        "bbox": _bbox(data),
    }


def _bbox(data: dict[str, Any]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for feature in data["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            for x, y in polygon[0]:
                xs.append(x)
                ys.append(y)
    return min(xs), min(ys), max(xs), max(ys)


def map_url() -> str:
    """Where the browser fetches the boundaries: a static asset it caches, never part of a callback's payload."""
    return dash.get_asset_url(MAP_ASSET)


# -- header -----------------------------------------------------------------------------------------


def header(module_name: str, title: str, subtitle: str | None, lang: str) -> html.Header:
    """Title, a live clock (assets/wall.js ticks it in the browser, so it keeps going offline), data time and sources."""
    return html.Header(
        [
            html.Div(
                [html.H1(title, className="wall-title", id=page_id(module_name, "title"))]
                + ([html.Div(subtitle, className="wall-subtitle", id=page_id(module_name, "subtitle"))] if subtitle else []),
                className="wall-heading",
            ),
            html.Div(
                [
                    html.Div(className="wall-clock"),
                    html.Div(header_status(lang), id=page_id(module_name, "status"), className="wall-status", **_ARIA_LIVE),
                ],
                className="wall-header-right",
            ),
        ],
        className="wall-header",
    )


def header_status(lang: str) -> list[Any]:
    """Data time and one marker per source: ✓ on time, ⚠ stale (DESIGN §5)."""
    from ioc import health

    report = data_health()
    sources = [
        html.Span(
            [
                html.Span("⚠" if item["stale"] else "✓", className="source-icon", **_ARIA_HIDDEN),
                f"{item['connector']}: {t('wall.source_stale' if item['stale'] else 'wall.source_ok', lang)}",
            ],
            className="wall-source wall-source-stale" if item["stale"] else "wall-source",
        )
        for item in report
    ]
    return [
        html.Div(
            [
                html.Span(t("data_time.label", lang) + " ", className="data-time-label"),
                html.Span(format_data_time(health.last_success_time(report), lang), className="data-time-value"),
            ],
            className="wall-data-time",
        ),
        html.Div([html.Span(t("wall.sources", lang) + ":", className="wall-sources-label"), *sources], className="wall-sources"),
    ]


def stale_sources(lang: str) -> list[str]:
    return [str(item["connector"]) for item in data_health() if item["stale"]]


def register_header_callback(module_name: str, params_id: str) -> None:
    """Refresh the header on a new data version and every 15 s, since a source goes stale with no data arriving."""

    @dash.callback(
        Output(page_id(module_name, "status"), "children"),
        Output(page_id(module_name, "stale-alert"), "children"),
        Input(VERSION_STORE, "data"),
        Input(CLOCK_INTERVAL, "n_intervals"),
        State(params_id, "data"),
        prevent_initial_call=True,
    )
    def refresh_header(_version: int | None, _ticks: int | None, params: dict[str, Any] | None) -> tuple[Any, Any]:
        lang = normalize_lang((params or {}).get("lang"))
        return header_status(lang), stale_alert(lang)


# -- tiles --------------------------------------------------------------------------------------------


def change_text(change: float | int | None, kind: str, lang: str) -> str:
    """▲ 12 / ▼ 3 / ±0 with its comparison; rates in percentage points. The arrow shows direction, not judgement."""
    suffix = t("wall.change_day" if kind == "day" else "wall.change_month", lang)
    if change is None:
        return f"— {suffix}"
    if kind == "points":
        if abs(change) < 0.05:
            return f"{t('wall.no_change', lang)} {t('wall.change_month', lang)}"
        arrow = "▲" if change > 0 else "▼"
        value = format_number(abs(change), lang, 1)
        return f"{arrow} {t('wall.change_points', lang, sign='', value=value)} {t('wall.change_month', lang)}"
    if change == 0:
        return f"{t('wall.no_change', lang)} {suffix}"
    arrow = "▲" if change > 0 else "▼"
    return f"{arrow} {format_number(abs(change), lang)} {suffix}"


def wall_tiles(module_name: str, snapshot: dict[str, Any], lang: str) -> list[html.Div]:
    """The seven wall tiles, each with a status where a threshold applies and the change against the previous period.

    Count tiles take the status of the rate they feed: resolved today → on-time rate of today's resolutions, overdue → backlog rate, hotline open → hotline
    on-time rate this month. Overdue and at-risk counts are also marked "alert" when non-zero.
    """
    day, month = snapshot["day"], snapshot["month"]
    day_change, month_change = snapshot["changes"]["day"], snapshot["changes"]["month"]

    def tile(
        name: str,
        label_key: str,
        figures: dict[str, Any],
        kpi_id: str,
        status_kpi: str | None = None,
        status_figures: dict[str, Any] | None = None,
        alert: bool = False,
    ) -> html.Div:
        value = figures.get(kpi_id)
        is_rate = kpi_id in REGISTRY and REGISTRY[kpi_id].unit == "rate"
        text = format_percent(value, lang) if is_rate else format_number(value, lang)
        status = kpi_status(status_kpi, status_figures or figures) if status_kpi else None
        changes = month_change if figures is month else day_change
        note = change_text(changes.get(kpi_id), "points" if is_rate else "day", lang)
        return kpi_tile(
            page_id(module_name, name),
            t(label_key, lang),
            text,
            lang,
            status=status,
            note=note,
            emphasis="alert" if alert and value else None,
        )

    return [
        tile("received-today", "tile.received_today", day, "received"),
        tile("resolved-today", "tile.resolved_today", day, "resolved", "on_time_rate"),
        tile("on-time-rate", "tile.on_time_rate_month", month, "on_time_rate", "on_time_rate"),
        tile("overdue", "tile.in_progress_overdue", day, "in_progress_overdue", "backlog_rate", alert=True),
        tile("at-risk", "tile.at_risk", day, "at_risk", alert=True),
        tile("hotline-open", "tile.hotline_open", day, "hotline_open", "hotline_on_time_rate", month),
        tile("hotline-overdue", "tile.hotline_open_overdue", day, "hotline_open_overdue", alert=True),
    ]


# -- map ----------------------------------------------------------------------------------------------


def unit_statuses(ranking: pd.DataFrame) -> dict[str, str]:
    """Each unit's on-time status this month (grey no_data below five resolved dossiers)."""
    statuses: dict[str, str] = {}
    for code, row in ranking.iterrows():
        rate = None if pd.isna(row["on_time_rate"]) else float(row["on_time_rate"])
        statuses[str(code)] = status_of("on_time_rate", rate, int(row["resolved"] or 0)) or "no_data"
    return statuses


def map_figure(ranking: pd.DataFrame, lang: str, selected: str | None = None) -> go.Figure:
    """The 94 units coloured by on-time status (Okabe-Ito), an icon on watch and poor units, Hoàng Sa in a framed inset.

    The boundaries are a URL (the cached asset), not inline data, so a refresh sends only colours.
    No basemap and no tiles: geo.visible is off, so Plotly fetches nothing but that asset.
    """
    asset = map_asset()
    statuses = unit_statuses(ranking)
    codes = asset["codes"]
    names = {str(code): str(name) for code, name in ranking["name"].items()}
    rates = {str(code): rate for code, rate in ranking["on_time_rate"].items()}
    z = [STATUS_ORDER.index(statuses.get(code, "no_data")) for code in codes]
    scale = []
    for index, status in enumerate(STATUS_ORDER):
        low, high = index / len(STATUS_ORDER), (index + 1) / len(STATUS_ORDER)
        scale += [[low, MAP_COLOURS[status]], [high, MAP_COLOURS[status]]]
    figure = go.Figure()
    figure.add_choropleth(
        geojson=map_url(),
        featureidkey="properties.code",
        locations=codes,
        z=z,
        zmin=-0.5,
        zmax=len(STATUS_ORDER) - 0.5,
        colorscale=scale,
        showscale=False,
        marker={"line": {"color": WALL_BACKGROUND, "width": 0.8}},
        text=[f"{names.get(code, code)}: {format_percent(rates.get(code), lang)}" for code in codes],
        hoverinfo="text",
        name="units",
    )
    if selected and selected in codes:
        figure.add_choropleth(
            geojson=map_url(),
            featureidkey="properties.code",
            locations=[selected],
            z=[0],
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
            showscale=False,
            marker={"line": {"color": "#ffffff", "width": 4}},
            hoverinfo="skip",
            name="selected",
        )
    # Status is never colour alone: an icon on each unit that needs attention.
    flagged = [code for code in codes if statuses.get(code) in ("watch", "bad")]
    if flagged:
        figure.add_scattergeo(
            lon=[asset["labels"][code][0] for code in flagged],
            lat=[asset["labels"][code][1] for code in flagged],
            text=[STATUS_ICON[statuses[code]] for code in flagged],
            mode="text",
            textfont={"size": 16, "color": "#000000"},
            hoverinfo="skip",
            name="icons",
        )
    inset = asset["inset"]
    if inset:
        x0, y0, x1, y1 = inset["box"]
        figure.add_scattergeo(
            lon=[x0, x1, x1, x0, x0],
            lat=[y0, y0, y1, y1, y0],
            mode="lines",
            line={"color": WALL_MUTED, "width": 1.5, "dash": "dot"},
            hoverinfo="skip",
            name="inset",
        )
        figure.add_scattergeo(
            lon=[(x0 + x1) / 2],
            lat=[y0],
            text=[t("wall.map_inset", lang).replace(" (", "<br>(")],
            mode="text",
            textposition="bottom center",
            textfont={"size": 17, "color": WALL_MUTED},
            hoverinfo="skip",
            name="inset-label",
        )
    # Explicit ranges rather than fitbounds="locations": fitbounds leaves a wide margin round the city,
    # and the ranges come from the asset, so the view is the same on every refresh and on every wall.
    x0, y0, x1, y1 = asset["bbox"]
    pad_x, pad_y = (x1 - x0) * 0.01, (y1 - y0) * 0.04
    figure.update_geos(
        visible=False,
        projection_type="mercator",
        lonaxis_range=[x0 - pad_x, x1 + pad_x * 8],  # room for the inset's label
        lataxis_range=[y0 - pad_y * 2.5, y1 + pad_y],
        bgcolor="rgba(0,0,0,0)",
    )
    figure.update_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        paper_bgcolor="rgba(0,0,0,0)",
        showlegend=False,
        uirevision="map",
        font={"color": WALL_TEXT, "size": CHART_FONT},
    )
    return figure


def map_legend(lang: str, selected: bool = False) -> html.Div:
    """Swatch + icon + word for every colour on the map, with the thresholds in force."""
    good, watch = thresholds_of("on_time_rate") or (0.99, 0.95)
    words = {
        "good": t("wall.legend_good", lang, good=format_percent(good, lang, 0)),
        "watch": t("wall.legend_watch", lang, watch=format_percent(watch, lang, 0)),
        "bad": t("wall.legend_bad", lang, watch=format_percent(watch, lang, 0)),
        "no_data": t("wall.legend_no_data", lang),
    }
    items = [
        html.Span(
            [html.Span(STATUS_ICON[status], className=f"legend-swatch legend-{status}", **_ARIA_HIDDEN), words[status]],
            className="legend-item",
        )
        for status in STATUS_ORDER
    ]
    if selected:
        items.append(
            html.Span(
                [html.Span(className="legend-swatch legend-selected", **_ARIA_HIDDEN), t("wall.legend_selected", lang)],
                className="legend-item",
            )
        )
    return html.Div(items, className="wall-legend")


def graph(graph_id: str, figure: go.Figure) -> html.Div:
    """A chart laid out at 1080p proportions and scaled to the screen (see wall.css .wall-graph).

    topojsonURL: Plotly fetches a world topojson for any choropleth, even with geo.visible off and our own
    GeoJSON, from its CDN by default; a wall on a closed network would log an error and draw nothing.
    assets/topojson/world_110m.json is an empty stand-in (no layer is shown, so none is needed).
    """
    config: Any = {**STATIC_GRAPH, "topojsonURL": dash.get_asset_url("topojson/")}
    return html.Div(dcc.Graph(id=graph_id, figure=figure, config=config, className="wall-graph"), className="wall-graph-box")


# -- rankings, charts -----------------------------------------------------------------------------------


def best_and_worst(ranking: pd.DataFrame, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``count`` best-ranked units and the ``count`` worst-ranked ones (worst first); unranked units are in neither."""
    ranked = ranking[ranking["rank"].notna()]
    best = ranked.head(count)
    worst = ranked.iloc[len(best) :].tail(count).iloc[::-1]
    return best, worst


def ranking_list(table_id: str, frame: pd.DataFrame, lang: str, highlight: str | None = None) -> html.Table:
    """Rank, unit, on-time rate with its badge: plain text, no links (a wall has no pointer)."""
    rows = []
    for code, unit in frame.iterrows():
        status = kpi_status("on_time_rate", {"on_time_rate": unit["on_time_rate"], "resolved": unit["resolved"]})
        rows.append(
            html.Tr(
                [
                    html.Td("–" if pd.isna(unit["rank"]) else str(int(unit["rank"])), className="rank-number"),
                    html.Td(str(unit["name"]), className="rank-unit"),
                    html.Td(format_percent(unit["on_time_rate"], lang), className="rank-rate"),
                    html.Td(status_badge(status, lang), className="rank-badge"),
                ],
                className="rank-row-selected" if str(code) == highlight else None,
            )
        )
    return html.Table(html.Tbody(rows), className="wall-ranking", id=table_id)


def wall_flow_figure(flow: pd.DataFrame, lang: str, days: int = 30) -> go.Figure:
    """Received vs resolved per day, the last ``days`` days, in wall type sizes."""
    figure = flow_figure(flow.tail(days), lang, dark=True)
    figure.update_layout(
        font={"size": CHART_FONT, "color": WALL_TEXT},
        margin={"l": 64, "r": 12, "t": 8, "b": 44},
        legend={"font": {"size": CHART_FONT + 2}},
        xaxis={"nticks": 7},
        yaxis={"nticks": 5},
    )
    figure.update_traces(marker_size=12, selector={"type": "scatter"})
    return figure


def hotline_fields(list_id: str, fields: pd.DataFrame, lang: str) -> html.Div:
    """Open hotline items per field as HTML bars (within due date, overdue), each labelled with its counts.

    HTML rather than a Plotly bar chart: every field name stays readable (Plotly drops category labels
    it cannot fit) and the text scales with the wall like all other text.
    """
    if fields.empty:
        return html.Div(t("wall.hotline_none", lang), className="wall-empty", id=list_id)
    largest = max(int(fields["hotline_open"].max()), 1)
    rows = []
    for _, field in fields.iterrows():
        total, overdue = int(field["hotline_open"]), int(field["hotline_open_overdue"])
        within = total - overdue
        count = [html.Span(format_number(total, lang), className="field-total")]
        if overdue:
            count.append(
                html.Span(
                    f" · {format_number(overdue, lang)} {t('wall.hotline_overdue', lang).lower()}", className="field-overdue"
                )
            )
        rows.append(
            html.Div(
                [
                    html.Div(str(field["label"]), className="field-label"),
                    html.Div(
                        [
                            html.Span(className="field-bar field-bar-within", style={"width": f"{100 * within / largest:.1f}%"}),
                            html.Span(
                                className="field-bar field-bar-overdue", style={"width": f"{100 * overdue / largest:.1f}%"}
                            ),
                        ],
                        className="field-bars",
                        **_ARIA_HIDDEN,
                    ),
                    html.Div(count, className="field-count"),
                ],
                className="field-row",
            )
        )
    return html.Div(rows, className="wall-fields", id=list_id)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- alert strip ----------------------------------------------------------------------------------------


def unit_alerts(alerts: dict[str, list[dict[str, Any]]], lang: str, shown: int = 6) -> list[Any]:
    """Units with overdue dossiers (most first) and units with an at-risk spike, named, the rest counted."""
    parts: list[Any] = []
    for key, label_key in (("overdue", "wall.alert_overdue"), ("at_risk_spike", "wall.alert_at_risk")):
        items = alerts.get(key, [])
        if not items:
            continue
        names = [f"{item['name']} ({format_number(item['count'], lang)})" for item in items[:shown]]
        more = len(items) - shown
        text = " · ".join(names) + (f" · {t('wall.alert_more', lang, n=more)}" if more > 0 else "")
        parts.append(
            html.Span(
                [html.Span(["✕ " if key == "overdue" else "▲ ", t(label_key, lang), ": "], className="alert-label"), text],
                className=f"alert-item alert-{key}",
            )
        )
    return parts


def stale_alert(lang: str) -> list[Any]:
    stale = stale_sources(lang)
    if not stale:
        return []
    return [
        html.Span(
            [html.Span(["⚠ ", t("wall.alert_stale", lang), ": "], className="alert-label"), ", ".join(stale)],
            className="alert-item alert-stale",
        )
    ]


def alert_strip(module_name: str, units: list[Any], lang: str) -> html.Div:
    """The bottom strip: units to act on (refreshed with the data) and stale sources (refreshed with the clock)."""
    return html.Div(
        [
            html.Span(t("wall.alerts", lang), className="alert-title"),
            html.Div(units, id=page_id(module_name, "alerts"), className="alert-units"),
            html.Div(stale_alert(lang), id=page_id(module_name, "stale-alert"), className="alert-stale-box"),
        ],
        className="wall-alerts",
        role="status",
    )


# -- item lists (one unit) ---------------------------------------------------------------------------


def dossier_list(table_id: str, dossiers: pd.DataFrame, total: int, lang: str, rows: int) -> html.Div:
    """Overdue then at-risk dossiers: code, procedure, days late. No citizen data exists to show (kpis.lists)."""
    if dossiers.empty:
        return html.Div(t("wall.dossiers_none", lang), className="wall-empty", id=table_id)
    body = []
    for _, item in dossiers.head(rows).iterrows():
        late = int(item["days_past_due"])
        if item["state"] == "overdue":
            when = t("wall.days_late_value", lang, n=format_number(late, lang)) if late > 0 else t("wall.due_today", lang)
            badge = html.Span(["✕ ", when], className="badge badge-bad")
        else:
            badge = html.Span(
                ["▲ ", t("wall.due_on", lang, day=item["due_date"].strftime("%d/%m"))], className="badge badge-watch"
            )
        body.append(
            html.Tr(
                [
                    html.Td(str(item["dossier_id"]), className="list-code"),
                    html.Td(_shorten(str(item["procedure"] or item["procedure_code"] or ""), 60), className="list-text"),
                    html.Td(badge, className="list-badge"),
                ]
            )
        )
    head = html.Thead(
        html.Tr([html.Th(t("wall.dossier_code", lang)), html.Th(t("wall.procedure", lang)), html.Th(t("wall.days_late", lang))])
    )
    more = max(0, total - min(rows, len(dossiers)))
    footer = [html.Div(t("wall.list_more", lang, n=format_number(more, lang)), className="list-more")] if more else []
    return html.Div([html.Table([head, html.Tbody(body)], className="wall-list wall-list-dossiers"), *footer], id=table_id)


def _age_text(hours: float | None, lang: str) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return t("wall.age_hours", lang, n=format_number(hours, lang))
    return t("wall.age_days", lang, n=format_number(hours / 24, lang))


def hotline_list(table_id: str, items: pd.DataFrame, total: int, lang: str, rows: int) -> html.Div:
    """Open hotline items: ticket id, field, urgency, age and the title.

    The title is citizen text: passed as a plain string, which React renders as a text node (escaped),
    never as markup.
    """
    if items.empty:
        return html.Div(t("wall.hotline_none", lang), className="wall-empty", id=table_id)
    body = []
    for _, item in items.head(rows).iterrows():
        urgency = str(item["urgency"] or "normal")
        urgency_text = t(f"wall.urgency_{urgency}", lang) if urgency in URGENCY_LABELS_VI else urgency
        age: list[Any] = [html.Span(_age_text(item["age_hours"], lang), className="list-age")]
        if item["overdue"]:
            age.insert(0, html.Span(["✕ ", t("wall.overdue_mark", lang)], className="badge badge-bad"))
        body.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(_shorten(str(item["title"] or ""), 80), className="list-title"),
                            html.Div(f"{item['ticket_id']} · {item['field'] or ''} · {urgency_text}", className="list-sub"),
                        ],
                        className="list-text",
                    ),
                    html.Td(age, className="list-badge"),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th(f"{t('wall.ticket', lang)} · {t('wall.field', lang)} · {t('wall.urgency', lang)}"),
                html.Th(t("wall.age", lang)),
            ]
        )
    )
    more = max(0, total - min(rows, len(items)))
    footer = [html.Div(t("wall.list_more", lang, n=format_number(more, lang)), className="list-more")] if more else []
    return html.Div([html.Table([head, html.Tbody(body)], className="wall-list wall-list-hotline"), *footer], id=table_id)


def panel(title: str, children: Any, class_name: str = "") -> html.Section:
    return html.Section(
        [html.H2(title), *(children if isinstance(children, list) else [children])], className=f"wall-panel {class_name}".strip()
    )


# -- rotation playlist (/wall/rotate) -----------------------------------------------------------------

DEFAULT_SECONDS = 30
MIN_SECONDS, MAX_SECONDS = 3, 3600
MAX_SLIDES = 50
MAX_WORST = 20
# Only wall screens can be slides: a playlist URL must not turn a wall into a browser for any page.
_SCREEN = re.compile(r"^/wall/(city|commune/[0-9A-Za-z]{1,12})$")

Slide = dict[str, Any]


def slide_seconds(text: Any, default: int = DEFAULT_SECONDS) -> int:
    try:
        value = int(float(str(text)))
    except (TypeError, ValueError):
        return default
    return max(MIN_SECONDS, min(MAX_SECONDS, value))


def parse_screens(text: str | None) -> list[Slide]:
    """``/wall/city:30,/wall/commune/20194:15`` → slides with a path and seconds; anything else is skipped."""
    slides: list[Slide] = []
    for item in (text or "").split(","):
        path, _, seconds = item.strip().partition(":")
        path = path.strip().rstrip("/")
        if _SCREEN.match(path):
            slides.append({"path": path, "seconds": slide_seconds(seconds) if seconds else DEFAULT_SECONDS})
    return slides[:MAX_SLIDES]
