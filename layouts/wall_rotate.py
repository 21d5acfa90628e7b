"""A wall playlist at /wall/rotate: ?screens=/wall/city:30,/wall/commune/20194:15 and/or ?worst=5&kpi=on_time_rate&seconds=20."""

from __future__ import annotations

import importlib
from typing import Any

import dash
from dash import Input, Output, State, dcc, html

from ioc.i18n import normalize_lang, t
from ioc.wall import worst_units
from ioc.web import get_db, today
from kpis import REGISTRY
from layouts.components import page_id
from layouts.wall_parts import DEFAULT_SECONDS, MAX_WORST, Slide, parse_screens, slide_seconds

dash.register_page(__name__, path="/wall/rotate", name="Màn hình tường luân phiên", title="IOC · Luân phiên", order=12)

PARAMS = page_id(__name__, "params")
STATE = page_id(__name__, "state")
TIMER = page_id(__name__, "timer")
SLIDE = page_id(__name__, "slide")


def playlist(params: dict[str, Any]) -> list[Slide]:
    """The slides now: the listed screens, then the N worst units by the KPI, re-chosen from the current data."""
    slides = parse_screens(params.get("screens"))
    worst = params.get("worst")
    if worst:
        try:
            count = max(1, min(MAX_WORST, int(str(worst))))
            kpi_id = str(params.get("kpi") or "on_time_rate")
            codes = worst_units(get_db(), today(), kpi_id, count) if kpi_id in REGISTRY else []
        except ValueError:
            codes = []  # a KPI that cannot rank units (a count): nothing to rotate through
        seconds = slide_seconds(params.get("seconds"))
        slides += [{"path": f"/wall/commune/{code}", "seconds": seconds} for code in codes]
    return slides


def render(slide: Slide | None, lang: str) -> html.Div:
    if slide is None:
        return html.Div(html.H1(t("wall.rotate_empty", lang), className="wall-title"), className="page wall wall-not-found")
    path = slide["path"]
    # Imported when a slide is drawn, not at import: Dash loads page modules in directory order, and
    # importing a page from another page first would register its callbacks twice.
    if path == "/wall/city":
        return importlib.import_module("layouts.wall_city").content(lang)  # type: ignore[no-any-return]
    return importlib.import_module("layouts.wall_commune").content(path.rsplit("/", 1)[-1], lang)  # type: ignore[no-any-return]


def layout(
    screens: str | None = None,
    worst: str | None = None,
    kpi: str | None = None,
    seconds: str | None = None,
    lang: str | None = None,
    **_query: Any,
) -> html.Div:
    """The first slide rendered at once; a timer whose period is the current slide's duration moves on."""
    lang = normalize_lang(lang)
    params = {"screens": screens, "worst": worst, "kpi": kpi, "seconds": seconds, "lang": lang}
    slides = playlist(params)
    first = slides[0] if slides else None
    return html.Div(
        [
            dcc.Store(id=PARAMS, data=params),
            dcc.Store(id=STATE, data={"index": 0, "path": first["path"] if first else None}),
            dcc.Interval(id=TIMER, interval=(first["seconds"] if first else DEFAULT_SECONDS) * 1000, disabled=len(slides) < 2),
            html.Div(render(first, lang), id=SLIDE, className="wall-slide"),
        ],
        className="wall-rotate",
    )


@dash.callback(
    Output(SLIDE, "children"),
    Output(TIMER, "interval"),
    Output(TIMER, "disabled"),
    Output(STATE, "data"),
    Input(TIMER, "n_intervals"),
    State(PARAMS, "data"),
    State(STATE, "data"),
    prevent_initial_call=True,
)
def next_slide(_ticks: int | None, params: dict[str, Any] | None, state: dict[str, Any] | None) -> tuple[Any, ...]:
    """Move to the next slide of the playlist as it is now (the worst units may have changed since)."""
    params = params or {}
    lang = normalize_lang(params.get("lang"))
    slides = playlist(params)
    if not slides:
        return render(None, lang), DEFAULT_SECONDS * 1000, True, {"index": 0, "path": None}
    index = (int((state or {}).get("index", 0)) + 1) % len(slides)
    slide = slides[index]
    return render(slide, lang), slide["seconds"] * 1000, len(slides) < 2, {"index": index, "path": slide["path"]}
