"""Shared page pieces: component ids, KPI tile with status badge, unit ranking, 30-day flow chart, data sources panel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html

from ioc.cache import not_a_commune
from ioc.health import SOURCE_STATUSES, source_status
from ioc.i18n import format_data_time, format_day, format_duration, format_number, format_percent, normalize_lang, t
from ioc.web import CLOCK_INTERVAL, VERSION_STORE, data_health, get_db, with_lang
from kpis import REGISTRY, status_of

# Okabe-Ito colour-blind-safe palette; status is never shown by colour alone (icon + word too).
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}
STATUS_ICON = {"good": "✓", "watch": "▲", "bad": "✕", "no_data": "–"}
# The badge word says the status; the icon is decoration for screen readers.
_ARIA_HIDDEN: dict[str, Any] = {"aria-hidden": "true"}
FLOW_COLOURS = {"received": OKABE_ITO["sky_blue"], "resolved": OKABE_ITO["orange"]}


def page_id(module_name: str, name: str) -> str:
    """A component id unique to one page module: ``page_id(__name__, "tiles")`` → ``city-tiles``."""
    return f"{module_name.rsplit('.', 1)[-1].replace('_', '-')}-{name}"


def missing_unit_text(unit_code: str, lang: str) -> str:
    """Why a commune page or wall has nothing for ``unit_code``: no such unit, or a unit that is not a commune."""
    name = not_a_commune(get_db(), unit_code) if unit_code else None
    if name is None:
        return t("commune.not_found", lang, code=unit_code)
    return t("commune.not_a_commune", lang, code=unit_code, name=name)


def kpi_status(kpi_id: str, figures: dict[str, Any]) -> str | None:
    """good / watch / bad / no_data for a figure of compute(), judged on its own denominator."""
    declared = REGISTRY.get(kpi_id)
    if declared is None:
        return None
    denominator = figures.get(declared.denominator) if declared.denominator else None
    return status_of(kpi_id, figures.get(kpi_id), None if denominator is None else int(denominator))


def status_badge(status: str | None, lang: str) -> html.Span | None:
    """Icon + word + colour, so the status reads without colour vision (DESIGN §4)."""
    if status is None:
        return None
    return html.Span(
        [html.Span(STATUS_ICON[status], className="badge-icon", **_ARIA_HIDDEN), t(f"status.{status}", lang)],
        className=f"badge badge-{status}",
        title=t(f"status.{status}", lang),
    )


def kpi_tile(
    tile_id: str,
    label: str,
    value_text: str,
    lang: str,
    status: str | None = None,
    note: str | None = None,
    emphasis: str | None = None,
) -> html.Div:
    """A KPI tile: the big number, its label, an optional status badge and a small note.

    ``emphasis`` ("alert") marks counts that need action, such as overdue dossiers, when non-zero.
    """
    classes = ["kpi-tile"]
    if status:
        classes.append(f"kpi-tile-{status}")
    if emphasis:
        classes.append(f"kpi-tile-{emphasis}")
    children: list[Any] = [
        html.Div(label, className="kpi-label"),
        html.Div(_value_parts(value_text), className="kpi-value", id=f"{tile_id}-value"),
    ]
    badge = status_badge(status, lang)
    footer = [part for part in (badge, html.Span(note, className="kpi-note") if note else None) if part is not None]
    children.append(html.Div(footer, className="kpi-footer"))
    return html.Div(children, className=" ".join(classes), id=tile_id)


def _value_parts(value_text: str) -> str | list[Any]:
    """A figure with its percent sign in a smaller span: "97,4 %" at figure size is wider than a seventh of a wall."""
    if not value_text.endswith("%"):
        return value_text
    number = value_text[:-1].rstrip()
    return [number, html.Span(value_text[len(number) :], className="kpi-unit")]


def standard_tiles(module_name: str, snapshot: dict[str, Any], lang: str) -> list[html.Div]:
    """The seven tiles of DESIGN §6 city screens: today's flow, this month's on-time rate, backlog, hotline."""
    day, month = snapshot["day"], snapshot["month"]

    def count_tile(name: str, label_key: str, value: Any, alert: bool = False) -> html.Div:
        return kpi_tile(
            page_id(module_name, name),
            t(label_key, lang),
            format_number(value, lang),
            lang,
            emphasis="alert" if alert and value else None,
        )

    on_time = kpi_tile(
        page_id(module_name, "on-time-rate"),
        t("tile.on_time_rate_month", lang),
        format_percent(month.get("on_time_rate"), lang),
        lang,
        status=kpi_status("on_time_rate", month),
        note=t("tile.of_resolved", lang, n=format_number(month.get("resolved"), lang)),
    )
    return [
        count_tile("received-today", "tile.received_today", day.get("received")),
        count_tile("resolved-today", "tile.resolved_today", day.get("resolved")),
        on_time,
        count_tile("overdue", "tile.in_progress_overdue", day.get("in_progress_overdue"), alert=True),
        count_tile("at-risk", "tile.at_risk", day.get("at_risk"), alert=True),
        count_tile("hotline-open", "tile.hotline_open", day.get("hotline_open")),
        count_tile("hotline-overdue", "tile.hotline_open_overdue", day.get("hotline_open_overdue"), alert=True),
    ]


def _rate_cell(rate: Any, resolved: Any, lang: str) -> html.Td:
    figures = {"on_time_rate": rate, "resolved": resolved}
    status = kpi_status("on_time_rate", figures)
    return html.Td(
        [html.Span(format_percent(rate, lang), className="rank-rate"), status_badge(status, lang)],
        className="rank-rate-cell",
    )


def _ranking_rows(frame: pd.DataFrame, lang: str, link_class: str) -> list[html.Tr]:
    rows = []
    for unit_code, unit in frame.iterrows():
        # Unit names come from the store: passed as strings, Dash escapes them (never raw HTML).
        rows.append(
            html.Tr(
                [
                    html.Td("–" if pd.isna(unit["rank"]) else str(int(unit["rank"])), className="rank-number"),
                    html.Td(
                        dcc.Link(str(unit["name"]), href=with_lang(f"/commune/{unit_code}", lang), className=link_class),
                        className="rank-unit",
                    ),
                    _rate_cell(unit["on_time_rate"], unit["resolved"], lang),
                    html.Td(format_number(unit["resolved"], lang), className="rank-count"),
                    html.Td(format_number(unit["in_progress_overdue"], lang), className="rank-count"),
                ],
                id=f"rank-row-{unit_code}",
            )
        )
    return rows


def ranking_table(table_id: str, frame: pd.DataFrame, lang: str, limit: int | None = None) -> html.Table:
    """Units by on-time rate this month, each linking to ``/commune/<unit_code>`` (keeping the language)."""
    shown = frame.head(limit) if limit else frame
    header = html.Thead(
        html.Tr(
            [
                html.Th(t("ranking.rank", lang), className="rank-number"),
                html.Th(t("ranking.unit", lang)),
                html.Th(t("ranking.on_time_rate", lang)),
                html.Th(t("ranking.resolved", lang), className="rank-count"),
                html.Th(t("ranking.overdue", lang), className="rank-count"),
            ]
        )
    )
    return html.Table([header, html.Tbody(_ranking_rows(shown, lang, "rank-link"))], className="ranking-table", id=table_id)


def flow_figure(flow: pd.DataFrame, lang: str, dark: bool = False) -> go.Figure:
    """Received vs resolved per day: two colour-blind-safe series, labelled in the legend and the hover."""
    days = [format_day(day, lang) for day in flow["day"]]
    text_colour = "#F2F2F2" if dark else "#1A1A1A"
    grid_colour = "rgba(255,255,255,0.15)" if dark else "rgba(0,0,0,0.12)"
    figure = go.Figure()
    figure.add_bar(
        x=days,
        y=list(flow["received"]),
        name=t("flow.received", lang),
        marker_color=FLOW_COLOURS["received"],
        hovertemplate="%{x}: %{y}<extra>" + t("flow.received", lang) + "</extra>",
    )
    figure.add_scatter(
        x=days,
        y=list(flow["resolved"]),
        name=t("flow.resolved", lang),
        mode="lines+markers",
        line={"color": FLOW_COLOURS["resolved"], "width": 4},
        marker={"symbol": "diamond", "size": 9},
        hovertemplate="%{x}: %{y}<extra>" + t("flow.resolved", lang) + "</extra>",
    )
    figure.update_layout(
        margin={"l": 48, "r": 16, "t": 8, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": text_colour, "size": 18 if dark else 13},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        xaxis={"type": "category", "tickangle": 0, "nticks": 10, "gridcolor": grid_colour},
        # Counts: with a handful a day Plotly would tick 0.2, 0.4, …; whole steps then (a unit such as Hoàng Sa).
        yaxis={"gridcolor": grid_colour, "rangemode": "tozero", **({"dtick": 1} if _peak(flow) <= 5 else {})},
        bargap=0.25,
        uirevision="flow",  # keep zoom and legend toggles across refreshes
        separators=".," if lang == "en" else ",.",
    )
    return figure


def _peak(flow: pd.DataFrame) -> int:
    return int(max(flow["received"].max(), flow["resolved"].max())) if len(flow) else 0


# The office pages' flow chart height; its width follows the panel.
FLOW_GRAPH_HEIGHT = "420px"


def flow_graph(graph_id: str, figure: go.Figure, class_name: str = "flow-graph") -> dcc.Graph:
    """The flow chart as a Graph whose figure callbacks replace in place (Plotly.react: no flicker).

    The height is inline: a responsive Graph without one is given height 100% inline, which beats any class
    and, in a panel of no set height, comes to 0 (the chart then spills out of its panel over what follows).
    """
    return dcc.Graph(
        id=graph_id,
        figure=figure,
        config={"displayModeBar": False, "responsive": True},
        className=class_name,
        style={"height": FLOW_GRAPH_HEIGHT},
    )


# -- data sources panel -------------------------------------------------------------------------------

# Source status → badge colour class and icon: a distinct shape per status, so it reads without colour.
SOURCE_BADGE = {
    "ok": ("good", "✓"),
    "error": ("bad", "✕"),
    "stale": ("watch", "⚠"),
    "waiting": ("no_data", "…"),
    "unscheduled": ("no_data", "–"),
}
# An error longer than this is cut on the page (the whole text is in the cell's tooltip and on /health).
ERROR_SHOWN_CHARS = 240


def source_badge(status: str, lang: str) -> html.Span:
    """Icon + word + colour for a source's status (ioc.health.source_status)."""
    colour, icon = SOURCE_BADGE[status]
    word = t(f"source_status.{status}", lang)
    return html.Span(
        [html.Span(icon, className="badge-icon", **_ARIA_HIDDEN), word], className=f"badge badge-{colour}", title=word
    )


def _muted(text: str) -> html.Div:
    return html.Div(text, className="source-note")


def _source_row(item: dict[str, Any], lang: str) -> html.Tr:
    status = source_status(item)
    last_success = item["last_success_at"]
    success_cell = [format_data_time(datetime.fromisoformat(last_success), lang)] if last_success else [t("sources.never", lang)]
    lag = item["lag_seconds"]
    lag_cell: list[Any] = [t("sources.ago", lang, duration=format_duration(lag, lang)) if lag is not None else "—"]
    if item["interval_seconds"]:
        lag_cell.append(_muted(t("sources.every", lang, duration=format_duration(item["interval_seconds"], lang))))
    error = item["last_error"]
    error_cell: list[Any] = ["—"]
    if error:
        # Untrusted text (a source's own message): a plain string, so Dash renders it as text, never as HTML.
        shown = error if len(error) <= ERROR_SHOWN_CHARS else error[: ERROR_SHOWN_CHARS - 1] + "…"
        notes = []
        if item["last_error_at"]:
            notes.append(t("sources.error_at", lang, time=format_data_time(datetime.fromisoformat(item["last_error_at"]), lang)))
        if item["consecutive_failures"] > 1:
            notes.append(t("sources.failures", lang, n=format_number(item["consecutive_failures"], lang)))
        error_cell = [html.Div(shown, className="source-error-text", title=error)]
        if notes:
            error_cell.append(_muted(" · ".join(notes)))
    # data-label: on a phone the table stacks, and each cell shows its column name (assets/style.css).
    return html.Tr(
        [
            html.Th(str(item["connector"]), scope="row", className="source-name"),
            html.Td(source_badge(status, lang), className="source-status", **_label("sources.status", lang)),
            html.Td(success_cell, className="source-time", **_label("sources.last_success", lang)),
            html.Td(lag_cell, className="source-lag", **_label("sources.lag", lang)),
            html.Td(error_cell, className="source-error", **_label("sources.last_error", lang)),
        ],
        className=f"source-row source-row-{status}",
    )


def _label(key: str, lang: str) -> dict[str, Any]:
    return {"data-label": t(key, lang)}


def _by_attention(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sources needing attention first (the order changes only when a status does), then by name."""
    return sorted(report, key=lambda item: (SOURCE_STATUSES.index(source_status(item)), str(item["connector"])))


def sources_table(report: list[dict[str, Any]], lang: str) -> html.Table | html.P:
    """Each source's status, last success (local time), lag and last error."""
    if not report:
        return html.P(t("sources.none", lang), className="sources-empty")
    header = html.Thead(
        html.Tr(
            [
                html.Th(t("sources.source", lang), scope="col"),
                html.Th(t("sources.status", lang), scope="col"),
                html.Th(t("sources.last_success", lang), scope="col"),
                html.Th(t("sources.lag", lang), scope="col"),
                html.Th(t("sources.last_error", lang), scope="col"),
            ]
        )
    )
    return html.Table(
        [header, html.Tbody([_source_row(item, lang) for item in _by_attention(report)])], className="sources-table"
    )


def sources_summary(module_name: str, report: list[dict[str, Any]], lang: str) -> list[Any]:
    """One line for the top of the page: each source in error or stale by name, the rest counted, linked to the panel."""
    statuses = [(item, source_status(item)) for item in _by_attention(report)]
    chips: list[Any] = []
    for item, status in statuses:
        if status in ("error", "stale"):
            colour, icon = SOURCE_BADGE[status]
            chips.append(
                html.A(
                    [
                        html.Span(icon, className="badge-icon", **_ARIA_HIDDEN),
                        f"{item['connector']}: {t(f'source_status.{status}', lang)}",
                    ],
                    href=f"#{page_id(module_name, 'sources-panel')}",
                    className=f"badge badge-{colour} sources-chip",
                )
            )
    healthy = sum(1 for _, status in statuses if status == "ok")
    if healthy:
        colour, icon = SOURCE_BADGE["ok"]
        chips.append(
            html.Span(
                [html.Span(icon, className="badge-icon", **_ARIA_HIDDEN), t("sources.summary_ok", lang, n=healthy)],
                className=f"badge badge-{colour} sources-chip",
            )
        )
    if not chips:
        return []
    return [html.Span(t("sources.title", lang) + ":", className="sources-summary-label"), *chips]


def sources_content(module_name: str, lang: str) -> tuple[list[Any], html.Table | html.P]:
    """The summary line and the table, from the connectors' health (cached per data version and per 15 s)."""
    report = data_health()
    return sources_summary(module_name, report, lang), sources_table(report, lang)


def sources_summary_box(module_name: str, summary: list[Any]) -> html.Div:
    """Where the summary line goes on a page (next to its title); refreshed with the panel."""
    return html.Div(summary, id=page_id(module_name, "sources-summary"), className="sources-summary")


def sources_panel(module_name: str, table: html.Table | html.P, lang: str) -> html.Section:
    """The data sources panel of a page; ``register_sources_callback`` keeps it and the summary line fresh."""
    return html.Section(
        [
            html.H2(t("sources.title", lang)),
            html.Div(table, id=page_id(module_name, "sources"), className="sources-body"),
        ],
        id=page_id(module_name, "sources-panel"),
        className="panel panel-sources",
    )


def register_sources_callback(module_name: str, params_id: str) -> None:
    """Refresh the panel on a new data version and on the shell's clock: a source goes stale or fails with no new data."""

    @dash.callback(
        Output(page_id(module_name, "sources-summary"), "children"),
        Output(page_id(module_name, "sources"), "children"),
        Input(VERSION_STORE, "data"),
        Input(CLOCK_INTERVAL, "n_intervals"),
        State(params_id, "data"),
        prevent_initial_call=True,
    )
    def refresh_sources(_version: int | None, _ticks: int | None, params: dict[str, Any] | None) -> tuple[Any, Any]:
        return sources_content(module_name, normalize_lang((params or {}).get("lang")))
