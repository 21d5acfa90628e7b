"""The wall's unit map and flow chart as SVG element trees (JSON) that assets/wall.js draws: no plotly.js on a wall."""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from typing import Any

import pandas as pd

from ioc.config import PROJECT_ROOT
from ioc.i18n import format_day, format_number, t
from layouts.components import FLOW_COLOURS, OKABE_ITO, STATUS_ICON

MAP_PATH = PROJECT_ROOT / "assets" / "danang_units_94.geojson"
MAP_COLOURS = {
    "good": OKABE_ITO["bluish_green"],
    "watch": OKABE_ITO["orange"],
    "bad": OKABE_ITO["vermillion"],
    "no_data": OKABE_ITO["grey"],
}
WALL_TEXT = "#f2f2f2"
WALL_MUTED = "#c9d3e0"
WALL_BACKGROUND = "#0b1320"
GRID = "rgba(255,255,255,0.18)"
# Trees are laid out in the px of a 1920×1080 wall and the SVG is scaled to its box (viewBox), so a
# 4K wall draws everything twice as large: 24 is the smallest label size at 1080p (issue 5).
LABEL_PX = 24
INSET_LABEL_PX = round(LABEL_PX * 1.15)
ICON_PX = 17

# One SVG element: {"tag": "path", "attrs": {...}, "text": "…", "children": [...]}. wall.js builds it with
# createElementNS and sets text with textContent, so no string is ever parsed as markup.
Node = dict[str, Any]


def node(tag: str, attrs: dict[str, Any] | None = None, children: list[Node] | None = None, text: str | None = None) -> Node:
    element: Node = {"tag": tag, "attrs": attrs or {}}
    if children:
        element["children"] = children
    if text is not None:
        element["text"] = text
    return element


def _svg(width: int, height: int, label: str, children: list[Node], key: str) -> dict[str, Any]:
    root = node(
        "svg",
        {"viewBox": f"0 0 {width} {height}", "preserveAspectRatio": "xMidYMid meet", "role": "img", "aria-label": label},
        [node("title", text=label), *children],
    )
    return {"key": key, "svg": root}


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


# -- the map --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _geo() -> dict[str, Any]:
    return json.loads(MAP_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def map_codes() -> list[str]:
    return [str(feature["properties"]["code"]) for feature in _geo()["features"]]


@lru_cache(maxsize=256)
def map_shape(width: int, height: int, lang: str, selected: str | None = None) -> dict[str, Any]:
    """The 94 unit outlines projected once into a ``width``×``height`` box (1080p px), Hoàng Sa framed and labelled.

    Cached per box, language and outlined unit: a refresh sends only colours (map_paint), never the outlines.
    """
    data = _geo()
    inset = data.get("ioc_inset")
    points = [
        point
        for feature in data["features"]
        for polygon in feature["geometry"]["coordinates"]
        for ring in polygon
        for point in ring
    ]
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if inset:
        x1 = max(x1, inset["box"][2])
        y1 = max(y1, inset["box"][3])
    # Equirectangular with the mid-latitude's cosine: at a city's scale it is as good as Mercator.
    squash = math.cos(math.radians((y0 + y1) / 2))
    pad = 6
    scale = min((width - 2 * pad) / ((x1 - x0) * squash), (height - 2 * pad) / (y1 - y0))
    left = (width - (x1 - x0) * squash * scale) / 2
    top = (height - (y1 - y0) * scale) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return left + (lon - x0) * squash * scale, top + (y1 - lat) * scale

    def path_of(feature: dict[str, Any]) -> str:
        rings = []
        for polygon in feature["geometry"]["coordinates"]:
            for ring in polygon:
                coords = " ".join("{:.1f},{:.1f}".format(*project(x, y)) for x, y in ring)
                rings.append(f"M{coords}Z")
        return "".join(rings)

    units: list[Node] = []
    icons: list[Node] = []
    outline: list[Node] = []
    for feature in data["features"]:
        code = str(feature["properties"]["code"])
        d = path_of(feature)
        units.append(
            node(
                "path",
                {"d": d, "data-unit-code": code, "fill": MAP_COLOURS["no_data"], "stroke": WALL_BACKGROUND, "stroke-width": 0.8},
                # The unit's name for screen readers (reference data, set as text by wall.js).
                [node("title", text=str(feature["properties"]["name"]))],
            )
        )
        x, y = project(feature["properties"]["label_lon"], feature["properties"]["label_lat"])
        icons.append(node("text", {"x": round(x, 1), "y": round(y, 1), "data-icon-for": code}, text=""))
        if code == selected:
            outline.append(node("path", {"d": d, "fill": "none", "stroke": WALL_BACKGROUND, "stroke-width": 7}))
            outline.append(
                node("path", {"d": d, "fill": "none", "stroke": "#ffffff", "stroke-width": 3.5, "class": "map-selected"})
            )
    children: list[Node] = [
        node("g", {"class": "map-units", "stroke-linejoin": "round"}, units),
        node("g", {"class": "map-outline", "stroke-linejoin": "round"}, outline),
        node(
            "g",
            {
                "class": "map-icons",
                "font-size": ICON_PX,
                "font-weight": 700,
                "fill": "#000000",
                "text-anchor": "middle",
                "dominant-baseline": "central",
            },
            icons,
        ),
    ]
    if inset:
        bx0, by0 = project(inset["box"][0], inset["box"][3])
        bx1, by1 = project(inset["box"][2], inset["box"][1])
        children.append(
            node(
                "rect",
                {
                    "x": round(bx0, 1),
                    "y": round(by0, 1),
                    "width": round(bx1 - bx0, 1),
                    "height": round(by1 - by0, 1),
                    "fill": "none",
                    "stroke": WALL_MUTED,
                    "stroke-width": 1.5,
                    "stroke-dasharray": "4 4",
                },
            )
        )
        # The name in two short lines under the frame, right-aligned to it, so it stays over the sea beside the
        # coast; "inset, not to scale" is in the legend, where a line at wall size has room. A little larger than
        # other labels: the city wall draws the map at about 0.93 of its size, and 24 px must remain on screen.
        words = t("wall.map_inset", lang).partition(" (")[0].split()
        split = min(range(1, len(words) + 1), key=lambda at: max(len(" ".join(words[:at])), len(" ".join(words[at:]))))
        lines = [line for line in (" ".join(words[:split]), " ".join(words[split:])) if line]
        children.append(
            node(
                "text",
                {
                    "x": round(bx1, 1),
                    "y": round(by1 + INSET_LABEL_PX * 1.05, 1),
                    "font-size": INSET_LABEL_PX,
                    "fill": WALL_MUTED,
                    "text-anchor": "end",
                    "class": "map-inset-label",
                },
                [
                    node("tspan", {"x": round(bx1, 1), "dy": 0 if index == 0 else "1.1em"}, text=line)
                    for index, line in enumerate(lines)
                ],
            )
        )
    return _svg(width, height, t("wall.map_title", lang), children, f"map-{width}x{height}-{lang}-{selected or ''}")


def map_paint(statuses: dict[str, str]) -> dict[str, Any]:
    """The colours and icons of one refresh: a fill per unit, an icon on watch and poor units (never colour alone)."""
    fills = {code: MAP_COLOURS[statuses.get(code, "no_data")] for code in map_codes()}
    icons = {code: STATUS_ICON[status] for code, status in statuses.items() if status in ("watch", "bad")}
    return {"fills": fills, "icons": icons}


# -- received vs resolved ------------------------------------------------------------------------------


def _nice_step(top: float, ticks: int) -> float:
    # Whole steps only: these are counts of dossiers, and a step of 0.25 would print "0, 0, 1, 1".
    raw = max(top, 1) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return max(1, next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= raw and float(step * power).is_integer()))


def _diamond(x: float, y: float, r: float) -> str:
    return f"M{x:.1f},{y - r:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r:.1f}L{x - r:.1f},{y:.1f}Z"


def flow_chart(flow: pd.DataFrame, lang: str, width: int, height: int, days: int = 30) -> dict[str, Any]:
    """Received (bars) vs resolved (line with diamonds) per day: two shapes, so the series read without colour."""
    flow = flow.tail(days)
    received = [int(value or 0) for value in flow["received"]]
    resolved = [int(value or 0) for value in flow["resolved"]]
    labels = [format_day(day, lang) for day in flow["day"]]
    count = max(len(labels), 1)
    step = _nice_step(max([*received, *resolved, 1]), 4)
    top_value = step * math.ceil(max([*received, *resolved, 1]) / step)
    tick_labels = [format_number(step * index, lang) for index in range(round(top_value / step) + 1)]
    char = LABEL_PX * 0.56  # Liberation Sans digits are about 0.56 em wide
    left = max(len(text) for text in tick_labels) * char + 12
    legend_h, axis_h = LABEL_PX * 1.5, LABEL_PX * 1.4
    plot_top, plot_bottom, right = legend_h + 6, height - axis_h, width - 6
    slot = (right - left) / count

    def y_of(value: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * value / top_value

    grid: list[Node] = []
    for index, text in enumerate(tick_labels):
        y = round(y_of(step * index), 1)
        grid.append(node("line", {"x1": round(left, 1), "x2": right, "y1": y, "y2": y, "stroke": GRID, "stroke-width": 1}))
        grid.append(
            node("text", {"x": round(left - 8, 1), "y": y, "text-anchor": "end", "dominant-baseline": "central"}, text=text)
        )
    # A date label every few days, as many as fit at label size without touching.
    every = max(1, math.ceil(count / max(1, int((right - left) / (max(len(text) for text in labels or ["00/00"]) * char + 18)))))
    for index in range(0, count, every):
        x = left + slot * (index + 0.5)
        grid.append(node("text", {"x": round(x, 1), "y": round(height - 4, 1), "text-anchor": "middle"}, text=labels[index]))
    bars = [
        node(
            "rect",
            {
                "x": round(left + slot * (index + 0.125), 1),
                "y": round(y_of(value), 1),
                "width": round(slot * 0.75, 1),
                "height": round(plot_bottom - y_of(value), 1),
                "class": "flow-bar",
            },
        )
        for index, value in enumerate(received)
    ]
    points = [(left + slot * (index + 0.5), y_of(value)) for index, value in enumerate(resolved)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    diamonds = "".join(_diamond(x, y, 6.5) for x, y in points)
    received_label, resolved_label = t("flow.received", lang), t("flow.resolved", lang)
    legend_y = LABEL_PX * 0.7
    second = left + 28 + len(received_label) * LABEL_PX * 0.55 + 36
    legend = [
        node("rect", {"x": round(left, 1), "y": round(legend_y - 9, 1), "width": 18, "height": 18, "fill": FLOW_COLOURS["received"]}),
        node("text", {"x": round(left + 26, 1), "y": round(legend_y, 1), "dominant-baseline": "central"}, text=received_label),
        node("line", {"x1": round(second, 1), "x2": round(second + 36, 1), "y1": round(legend_y, 1), "y2": round(legend_y, 1), "stroke": FLOW_COLOURS["resolved"], "stroke-width": 4}),
        node("path", {"d": _diamond(second + 18, legend_y, 8), "fill": FLOW_COLOURS["resolved"], "stroke": WALL_BACKGROUND, "stroke-width": 1.5}),
        node("text", {"x": round(second + 44, 1), "y": round(legend_y, 1), "dominant-baseline": "central"}, text=resolved_label),
    ]  # fmt: skip
    children = [
        node("g", {"font-size": LABEL_PX, "fill": WALL_TEXT, "class": "flow-axes"}, grid),
        node("g", {"fill": FLOW_COLOURS["received"], "class": "flow-received"}, bars),
        node("polyline", {"points": line, "fill": "none", "stroke": FLOW_COLOURS["resolved"], "stroke-width": 4, "stroke-linejoin": "round", "class": "flow-resolved"}),
        node("path", {"d": diamonds, "fill": FLOW_COLOURS["resolved"], "stroke": WALL_BACKGROUND, "stroke-width": 1.5, "class": "flow-markers"}),
        node("g", {"font-size": LABEL_PX, "fill": WALL_TEXT, "class": "flow-legend"}, legend),
    ]  # fmt: skip
    chart = _svg(width, height, t("flow.title", lang), children, "")
    chart["key"] = _digest(chart["svg"])  # wall.js redraws only when the chart changed
    return chart
