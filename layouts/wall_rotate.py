"""A wall playlist at /wall/rotate: ?screens=/wall/city:30,/wall/commune/20194:15 and/or ?worst=5&kpi=on_time_rate&seconds=20.

The server renders each slide; the browser (assets/wall.js, ``wall.rotate``) puts it on screen and keeps
every slide it has shown, so while the server is unreachable the rotation goes on through those, with
their last figures and the offline banner, and picks up the server's playlist again when it returns.
"""

from __future__ import annotations

import importlib
from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, dcc, html

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
RENDERED = page_id(__name__, "rendered")


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


def rotation_state(index: int, slides: list[Slide]) -> dict[str, Any]:
    """What the browser keeps about the rotation: the slide on screen and the playlist (to go on offline)."""
    return {"index": index, "path": slides[index]["path"] if slides else None, "slides": slides}


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
            dcc.Store(id=STATE, data=rotation_state(0, slides)),
            dcc.Store(id=RENDERED),
            dcc.Interval(id=TIMER, interval=(first["seconds"] if first else DEFAULT_SECONDS) * 1000, disabled=len(slides) < 2),
            html.Div(render(first, lang), id=SLIDE, className="wall-slide"),
        ],
        className="wall-rotate",
    )


@dash.callback(
    Output(RENDERED, "data"),
    Input(TIMER, "n_intervals"),
    State(PARAMS, "data"),
    State(STATE, "data"),
    prevent_initial_call=True,
)
def next_slide(_ticks: int | None, params: dict[str, Any] | None, state: dict[str, Any] | None) -> dict[str, Any]:
    """The next slide of the playlist as it is now (the worst units may have changed since), for wall.rotate to show.

    ``layout`` is the slide, ``state`` what STATE becomes, ``seconds`` its duration and ``disabled`` whether the
    timer stops (fewer than two slides).
    """
    params = params or {}
    lang = normalize_lang(params.get("lang"))
    slides = playlist(params)
    if not slides:
        return {"layout": render(None, lang), "state": rotation_state(0, []), "seconds": DEFAULT_SECONDS, "disabled": True}
    index = (int((state or {}).get("index", 0)) + 1) % len(slides)
    slide = slides[index]
    return {
        "layout": render(slide, lang),
        "state": rotation_state(index, slides),
        "seconds": slide["seconds"],
        "disabled": len(slides) < 2,
    }


# The one writer of the slide, the timer and the state: the server's next slide when it answers, else (the
# server unreachable) the next slide already shown, from the browser's own copies.
dash.clientside_callback(
    ClientsideFunction("wall", "rotate"),
    Output(SLIDE, "children"),
    Output(TIMER, "interval"),
    Output(TIMER, "disabled"),
    Output(STATE, "data"),
    Input(TIMER, "n_intervals"),
    Input(RENDERED, "data"),
    State(SLIDE, "children"),
    State(STATE, "data"),
    prevent_initial_call=True,
)
