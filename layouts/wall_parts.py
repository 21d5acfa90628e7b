"""Pieces of the wall screens: header, tiles with change, unit map, rankings, charts, alert strip and item lists."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dash
import pandas as pd
from dash import ClientsideFunction, Input, Output, State, dcc, html

from ioc.i18n import (
    format_data_time,
    format_day,
    format_duration,
    format_minute,
    format_number,
    format_percent,
    normalize_lang,
    t,
)
from ioc.web import CLOCK_INTERVAL, VERSION_STORE, data_health
from kpis import REGISTRY, status_of, thresholds_of
from layouts import wall_svg
from layouts.components import SOURCE_BADGE, STATUS_ICON, kpi_status, kpi_tile, page_id, status_badge

STATUS_ORDER = ("good", "watch", "bad", "no_data")
_ARIA_HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
_ARIA_LIVE: dict[str, Any] = {"aria-live": "polite"}


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


def source_marker(item: dict[str, Any], lang: str) -> html.Span:
    """One source in a wall's header: icon and word, and for a source in trouble how long since it last succeeded.

    The last error is the marker's tooltip (escaped like every text): too long to read from five metres.
    """
    from ioc.health import source_status

    status = source_status(item)
    word = (
        t("wall.source_ok", lang)
        if status == "ok"
        else t("wall.source_stale", lang)
        if status == "stale"
        else t(f"source_status.{status}", lang).lower()
    )
    text = f"{item['connector']}: {word}"
    if status in ("error", "stale"):
        lag = item.get("lag_seconds")
        since = t("sources.ago", lang, duration=format_duration(lag, lang)) if lag is not None else t("sources.never", lang)
        text += f" · {since.lower()}"
    return _marker(status, text, str(item.get("last_error") or "") or None)


# Beside the title at 1080p the header has room for this many named markers on one line.
NAMED_SOURCES = 2
_IN_TROUBLE = ("error", "stale", "waiting")


def source_markers(report: list[dict[str, Any]], lang: str) -> list[html.Span]:
    """The sources' markers, worst first. A province has several sources: when they are more than the header
    holds, the worst keeps its own marker, the others in trouble become one count and the healthy ones another;
    the alert strip and the tooltips still name every one."""
    from ioc.health import SOURCE_STATUSES, source_status

    # Each item's status once; a source that does not run (a one-off import, one taken out of the sources file)
    # is no news on a wall.
    statuses = [(item, source_status(item)) for item in report]
    ranked = sorted(
        ((item, status) for item, status in statuses if status != "unscheduled"), key=lambda pair: SOURCE_STATUSES.index(pair[1])
    )
    if not ranked:
        # Nothing feeds the figures: they stay as they are (no sources file, the simulator switched off).
        return [_marker("unscheduled", t("wall.sources_none", lang), None)]
    if len(ranked) <= NAMED_SOURCES:
        return [source_marker(item, lang) for item, _ in ranked]
    trouble = [item for item, status in ranked if status in _IN_TROUBLE]
    healthy = [item for item, status in ranked if status == "ok"]
    shown, more = trouble[:1], trouble[1:]
    markers = [source_marker(item, lang) for item in shown]
    if more:
        worst = source_status(more[0])
        markers.append(_count_marker(worst, t("wall.sources_more", lang, count=len(more)), more))
    if healthy:
        markers.append(_count_marker("ok", t("wall.sources_ok_count", lang, count=len(healthy)), healthy))
    return markers


def _count_marker(status: str, text: str, items: list[dict[str, Any]]) -> html.Span:
    return _marker(status, text, ", ".join(str(item["connector"]) for item in items), "wall-source-count")


def _marker(status: str, text: str, tooltip: str | None, extra_class: str = "") -> html.Span:
    """A header marker: the status icon (shape, not colour alone) and its text, with a tooltip."""
    _, icon = SOURCE_BADGE[status]
    return html.Span(
        [html.Span(icon, className="source-icon", **_ARIA_HIDDEN), text],
        className=f"wall-source wall-source-{status} {extra_class}".strip(),
        title=tooltip,
    )


def header_status(lang: str) -> list[Any]:
    """Data time and the sources' markers (DESIGN §5): on time, stale or failing, with how long since the last success."""
    from ioc import health

    report = data_health()
    sources = source_markers(report, lang)
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
    """Sources the alert strip names: those whose last attempt failed or that are overdue for a success."""
    from ioc.health import in_trouble

    return [str(item["connector"]) for item in in_trouble(data_health())]


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


# -- one wall page: its ids and callbacks ------------------------------------------------------------


@dataclass(frozen=True)
class WallIds:
    """The component ids every wall page has, built from its module name (layouts.components.page_id)."""

    module_name: str
    params: str
    tiles: str
    map: str
    flow: str
    alerts: str

    @classmethod
    def of(cls, module_name: str) -> WallIds:
        def name(part: str) -> str:
            return page_id(module_name, part)

        return cls(module_name, name("params"), name("tiles"), name("map"), name("flow"), name("alerts"))

    @property
    def map_paint(self) -> str:
        """The store of the map's colours (svg_box): a refresh sends these, never the outlines."""
        return f"{self.map}-paint"

    @property
    def flow_svg(self) -> str:
        """The store of the flow chart's SVG tree (svg_box)."""
        return f"{self.flow}-svg"


Refreshed = Sequence[tuple[str, str]]
"""(component id, property) pairs a refresh updates, in the order the page's figures function returns them."""


def register_wall_callbacks(
    ids: WallIds, refreshed: Refreshed, figures: Callable[[dict[str, Any]], Sequence[Any] | None]
) -> None:
    """Everything that keeps a wall page live: the header (register_header_callback), the browser-drawn map
    and chart (register_svg_callbacks), and the refresh of its figures in place on a new data version.

    ``figures(params)`` gets the page's params store (lang, unit code, …) and returns one value per
    ``refreshed`` pair, or None to leave the screen as it is (a unit that no longer exists).
    """
    register_header_callback(ids.module_name, ids.params)
    register_svg_callbacks(ids.map, ids.flow)

    @dash.callback(
        *[Output(component, prop) for component, prop in refreshed],
        Input(VERSION_STORE, "data"),
        State(ids.params, "data"),
        prevent_initial_call=True,
    )
    def refresh(_version: int | None, params: dict[str, Any] | None) -> tuple[Any, ...]:
        """New data version: children, map colours and the chart change in place; a wall never reloads."""
        values = figures(params or {})
        if values is None:
            return (dash.no_update,) * len(refreshed)
        return tuple(values)


# -- tiles --------------------------------------------------------------------------------------------


def change_text(change: float | int | None, unit: str, scope: str, lang: str, whole: bool = False) -> str:
    """▲ 12 / ▼ 3 / ±0 with what it compares against; ``unit`` "points" for rates (percentage points).

    ``scope`` "day" or "month": today so far against yesterday up to the same time, this month to date
    against last month up to the same day and time (``whole``: against the whole previous period).
    The arrow shows direction, not judgement.
    """
    suffix = t(f"wall.change_{scope}{'_whole' if whole else ''}", lang)
    if change is None:
        return f"— {suffix}"
    if unit == "points":
        if abs(change) < 0.05:
            return f"{t('wall.no_change', lang)} {suffix}"
        value = format_number(abs(change), lang, 1)
        return f"{'▲' if change > 0 else '▼'} {t('wall.change_points', lang, sign='', value=value)} {suffix}"
    if change == 0:
        return f"{t('wall.no_change', lang)} {suffix}"
    return f"{'▲' if change > 0 else '▼'} {format_number(abs(change), lang)} {suffix}"


def change_title(until: datetime | None, lang: str) -> str | None:
    """The tile's tooltip: the exact moment the previous figures stand at (None when compared whole)."""
    if until is None:
        return None
    return t("wall.change_until", lang, when=format_minute(until, lang))


def wall_tiles(module_name: str, snapshot: dict[str, Any], lang: str) -> list[html.Div]:
    """The seven wall tiles, each with a status where a threshold applies and the change against the previous period.

    The change compares like with like (ioc.wall.wall_changes): the day tiles with yesterday up to the
    same time of day, the month tile with last month up to the same day and time; the note says so and
    the tooltip gives the moment. Count tiles take the status of the rate they feed: resolved today →
    on-time rate of today's resolutions, overdue → backlog rate, hotline open → hotline on-time rate this
    month. Overdue and at-risk counts are also marked "alert" when non-zero.
    """
    day, month = snapshot["day"], snapshot["month"]
    changes = snapshot["changes"]
    until = changes.get("until", {})

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
        scope = "month" if figures is month else "day"
        moment = until.get(scope)
        note = change_text(changes[scope].get(kpi_id), "points" if is_rate else "count", scope, lang, whole=moment is None)
        element = kpi_tile(
            page_id(module_name, name),
            t(label_key, lang),
            text,
            lang,
            status=status,
            note=note,
            emphasis="alert" if alert and value else None,
        )
        title = change_title(moment, lang)
        if title:
            # kpi_tile takes no tooltip; html.Div has the prop, which its generated class sets dynamically.
            element.title = title  # type: ignore[attr-defined]
        return element

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


def svg_box(box_id: str, tree: dict[str, Any], paint: dict[str, Any] | None = None) -> html.Div:
    """A box that assets/wall.js fills with the SVG of ``tree`` (wall_svg), from stores a refresh updates in place.

    The stores are ``<box_id>-svg`` (the drawing) and, for the map, ``<box_id>-paint`` (its colours);
    register_svg_callbacks ties them to the drawing code.
    """
    stores = [dcc.Store(id=f"{box_id}-svg", data=tree)]
    if paint is not None:
        stores.append(dcc.Store(id=f"{box_id}-paint", data=paint))
    return html.Div([*stores, html.Div(id=box_id, className="wall-svg")], className="wall-graph-box")


def register_svg_callbacks(map_id: str, flow_id: str) -> None:
    """Clientside: the browser draws the map and chart as soon as their stores arrive or change, with no round trip."""
    dash.clientside_callback(
        ClientsideFunction("wall", "drawMap"),
        Output(map_id, "title"),  # never set (no_update): a callback needs an output
        Input(f"{map_id}-svg", "data"),
        Input(f"{map_id}-paint", "data"),
        State(map_id, "id"),
    )
    dash.clientside_callback(
        ClientsideFunction("wall", "drawChart"),
        Output(flow_id, "title"),
        Input(f"{flow_id}-svg", "data"),
        State(flow_id, "id"),
    )


def map_paint(ranking: pd.DataFrame) -> dict[str, Any]:
    """This refresh's map colours and icons by on-time status (the outlines never change: wall_svg.map_shape)."""
    return wall_svg.map_paint(unit_statuses(ranking))


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
    items.append(
        html.Span(
            [html.Span(className="legend-swatch legend-inset", **_ARIA_HIDDEN), t("wall.legend_inset", lang)],
            className="legend-item",
        )
    )
    if selected:
        items.append(
            html.Span(
                [html.Span(className="legend-swatch legend-selected", **_ARIA_HIDDEN), t("wall.legend_selected", lang)],
                className="legend-item",
            )
        )
    return html.Div(items, className="wall-legend")


# -- rankings, charts -----------------------------------------------------------------------------------


def best_and_worst(ranking: pd.DataFrame, count: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``count`` best-ranked units and the ``count`` worst-ranked ones (worst first); unranked units are in neither."""
    ranked = ranking[ranking["rank"].notna()]
    best = ranked.head(count)
    worst = ranked.iloc[len(best) :].tail(count).iloc[::-1]
    return best, worst


def _rank_badge(status: str | None, lang: str) -> html.Span | None:
    """Icon + a short word: "Cần theo dõi" took so much of the row that unit names were cut ("Sông …")."""
    if status != "watch":
        return status_badge(status, lang)
    return html.Span(
        [html.Span(STATUS_ICON[status], className="badge-icon", **_ARIA_HIDDEN), t("wall.status_watch_short", lang)],
        className=f"badge badge-{status}",
        title=t(f"status.{status}", lang),
    )


def ranking_table(table_id: str, groups: Sequence[tuple[str, pd.DataFrame]], lang: str) -> html.Table | html.Div:
    """Rank, unit, on-time rate with its badge, under one heading row per group (the best, the worst): one table,
    so the groups' columns line up and take only the width their figures need. Plain text, no links (a wall has
    no pointer)."""
    if all(frame.empty for _, frame in groups):
        return html.Div(t("wall.ranking_none", lang), className="wall-empty", id=table_id)
    rows: list[html.Tr] = []
    for title, frame in groups:
        rows.append(html.Tr(html.Th(title, colSpan=4, scope="colgroup"), className="rank-group"))
        for _, unit in frame.iterrows():
            status = kpi_status("on_time_rate", {"on_time_rate": unit["on_time_rate"], "resolved": unit["resolved"]})
            rows.append(
                html.Tr(
                    [
                        html.Td("–" if pd.isna(unit["rank"]) else str(int(unit["rank"])), className="rank-number"),
                        html.Td(str(unit["name"]), className="rank-unit"),
                        html.Td(format_percent(unit["on_time_rate"], lang), className="rank-rate"),
                        html.Td(_rank_badge(status, lang), className="rank-badge"),
                    ]
                )
            )
    return html.Table(html.Tbody(rows), className="wall-ranking", id=table_id)


def hotline_fields(list_id: str, fields: pd.DataFrame, lang: str, rows: int) -> html.Div:
    """Open hotline items per field as HTML bars (within due date, overdue), each labelled with its counts.

    HTML rather than a Plotly bar chart: every field name stays readable (Plotly drops category labels
    it cannot fit) and the text scales with the wall like all other text. At most ``rows`` lines: when
    there are more fields, the last line counts the others.
    """
    if fields.empty:
        return html.Div(t("wall.hotline_none", lang), className="wall-empty", id=list_id)
    largest = max(int(fields["hotline_open"].max()), 1)
    shown = fields if len(fields) <= rows else fields.head(rows - 1)
    lines = []
    for _, field in shown.iterrows():
        total, overdue = int(field["hotline_open"]), int(field["hotline_open_overdue"])
        within = total - overdue
        count = [html.Span(format_number(total, lang), className="field-total")]
        if overdue:
            count.append(
                html.Span(
                    f" · {format_number(overdue, lang)} {t('wall.hotline_overdue', lang).lower()}", className="field-overdue"
                )
            )
        lines.append(
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
    others = fields.iloc[len(shown) :]
    if len(others):
        open_items = format_number(int(others["hotline_open"].sum()), lang)
        lines.append(html.Div(t("wall.fields_more", lang, n=len(others), count=open_items), className="list-more"))
    return html.Div(lines, className="wall-fields", id=list_id)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- alert strip ----------------------------------------------------------------------------------------


def unit_alerts(alerts: dict[str, list[dict[str, Any]]], lang: str, shown: int = 6, count_units: bool = True) -> list[Any]:
    """Units with dossiers overdue now (most first) and units with an at-risk spike, named after their count.

    The number of units comes first ("Quá hạn lúc này · 12 đơn vị: An Khê (26) · …"), then as many whole names
    as fit: assets/wall.js hides the last names that would be cut and counts them in "+ N khác" (it knows the
    strip's width; the server does not). A one-unit wall (``count_units`` False) names only itself, so it says
    no count.
    """
    parts: list[Any] = []
    for key, label_key in (("overdue", "wall.alert_overdue"), ("at_risk_spike", "wall.alert_at_risk")):
        items = alerts.get(key, [])
        if not items:
            continue
        # Each name after the first carries its separator, so hiding a name hides its " · " too.
        names = [
            html.Span(f"{' · ' if number else ''}{item['name']} ({format_number(item['count'], lang)})", className="alert-name")
            for number, item in enumerate(items[:shown])
        ]
        omitted = len(items) - len(names)
        counted: dict[str, Any] = {"data-omitted": str(omitted), "data-template": t("wall.alert_more", lang, n="{n}")}
        more = html.Span(
            t("wall.alert_more", lang, n=format_number(omitted, lang)), className="alert-more", hidden=not omitted, **counted
        )
        units = t("wall.alert_unit" if len(items) == 1 else "wall.alert_units", lang, n=format_number(len(items), lang))
        label = f"{t(label_key, lang)} · {units}: " if count_units else f"{t(label_key, lang)}: "
        parts.append(
            html.Span(
                [html.Span(["✕ " if key == "overdue" else "▲ ", label], className="alert-label"), *names, more],
                className=f"alert-item alert-{key}",
            )
        )
    if not parts:
        # An empty strip under its title reads as broken from across the room: say that all is quiet.
        return [html.Span(["✓ ", t("wall.alerts_none", lang)], className="alert-none")]
    return parts


# Sources the alert strip names before it counts the rest: the overdue and at-risk units keep most of the strip.
NAMED_IN_ALERT = 2


def stale_alert(lang: str) -> list[Any]:
    stale = stale_sources(lang)
    if not stale:
        return []
    named = ", ".join(stale[:NAMED_IN_ALERT])
    if len(stale) > NAMED_IN_ALERT:
        named += " " + t("wall.alert_sources_more", lang, n=len(stale) - NAMED_IN_ALERT)
    return [
        html.Span(
            [html.Span(["⚠ ", t("wall.alert_stale", lang), ": "], className="alert-label"), named],
            className="alert-item alert-stale",
            title=", ".join(stale),
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
                ["▲ ", t("wall.due_on", lang, day=format_day(item["due_date"], lang))], className="badge badge-watch"
            )
        # The procedure has the width to be read, the code (for a call) below it.
        procedure = str(item["procedure"] or item["procedure_code"] or "")
        body.append(_list_row(procedure, str(item["dossier_id"]), badge, "list-code"))
    head = html.Thead(
        html.Tr([html.Th(f"{t('wall.procedure', lang)} · {t('wall.dossier_code', lang)}"), html.Th(t("wall.days_late", lang))])
    )
    return html.Div(
        [
            html.Table([head, html.Tbody(body)], className="wall-list wall-list-dossiers"),
            *_list_more(total, rows, len(dossiers), "wall.list_more", lang),
        ],
        id=table_id,
    )


def _list_row(title: str, sub: str, badge: Any, sub_class: str = "", flag: html.Span | None = None) -> html.Tr:
    """A row of a wall list: a title (after its ``flag``) over a muted line, both cut with an ellipsis, and the badge column."""
    heading: Any = [flag, " ", _shorten(title, 80)] if flag is not None else _shorten(title, 80)
    text = html.Td(
        [html.Div(heading, className="list-title"), html.Div(sub, className=f"list-sub {sub_class}".strip())],
        className="list-text",
    )
    return html.Tr([text, html.Td(badge, className="list-badge")])


def _list_more(total: int, rows: int, listed: int, key: str, lang: str) -> list[html.Div]:
    """The "+ N more" line under a list that shows ``rows`` of ``total`` items, or nothing when all are shown."""
    more = max(0, total - min(rows, listed))
    return [html.Div(t(key, lang, n=format_number(more, lang)), className="list-more")] if more else []


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
        age: list[Any] = [html.Span(_age_text(item["age_hours"], lang), className="list-age")]
        if item["overdue"]:
            age.insert(0, html.Span(["✕ ", t("wall.overdue_mark", lang)], className="badge badge-bad"))
        # Urgent and quick items come first (kpis.lists): a word before the title says why. Normal, most items,
        # says nothing, which leaves the line below the width for the code and the whole field.
        flag = (
            html.Span(t(f"wall.urgency_{urgency}", lang), className="badge badge-urgency")
            if urgency in ("urgent", "quick")
            else None
        )
        body.append(_list_row(str(item["title"] or ""), f"{item['ticket_id']} · {item['field'] or ''}", age, flag=flag))
    head = html.Thead(html.Tr([html.Th(f"{t('wall.ticket', lang)} · {t('wall.field', lang)}"), html.Th(t("wall.age", lang))]))
    return html.Div(
        [
            html.Table([head, html.Tbody(body)], className="wall-list wall-list-hotline"),
            *_list_more(total, rows, len(items), "wall.hotline_more", lang),
        ],
        id=table_id,
    )


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
