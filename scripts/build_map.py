"""Simplify Đà Nẵng's 94 unit boundaries into assets/danang_units_94.geojson, with Hoàng Sa as an inset.

Source: ../shared/data/real/vn-admin-2025/danang_wards_94_2025.geojson, derived from
thanglequoc/vietnamese-provinces-database (MIT, Copyright (c) 2021 Thang Le Quoc), boundaries traced from
sapnhap.bando.com.vn; see ../shared/data/real/vn-admin-2025/SOURCE.md §A and data/sample/SOURCE.md.

Run once and commit the output: ``python scripts/build_map.py [SOURCE] [--out PATH] [--tolerance DEG]``.

How:
- Topology-preserving Douglas-Peucker with no dependency (shapely is not needed for one file): every
  ring is cut into arcs at its junctions (points where three or more rings meet, or where a shared
  border begins or ends), and each arc is simplified once and reused by both neighbours, so
  neighbouring units keep one common border: no gaps, no overlaps.
- Coordinates are rounded to 4 decimals (about 11 m), far below what a wall map can show.
- Đặc khu Hoàng Sa (20333) lies 300 km offshore: drawn at its true place it would squeeze the
  mainland into a corner. Its islands are scaled and moved into an inset box in the sea north-east of
  the mainland (each island enlarged about its own centre so it stays visible); the box, the scale
  and the true extent are written into the FeatureCollection's ``ioc_inset`` member, and the feature
  carries ``inset: true``, so the map draws a frame and a label saying it is not to scale.
- Each feature keeps ``code`` and ``name`` and gains ``label_lon``/``label_lat``: a point inside the
  unit's largest polygon where the map puts a status icon (status is never colour alone).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "real" / "vn-admin-2025" / "danang_wards_94_2025.geojson"
OUT = ROOT / "assets" / "danang_units_94.geojson"

INSET_CODE = "20333"
# The inset box (lon_min, lat_min, lon_max, lat_max): open sea east of Đà Nẵng and north of Cù Lao Chàm.
INSET_BOX = (108.62, 15.74, 109.12, 16.22)
# Islands of a few km would be a pixel at the inset's scale: enlarge each one about its own centre.
INSET_ISLAND_ZOOM = 2.5
DECIMALS = 4
DEFAULT_TOLERANCE = 0.0006  # degrees, about 65 m: invisible on a 94-unit city map

Point = tuple[float, float]
Ring = list[Point]


def _perpendicular_distance(point: Point, start: Point, end: Point) -> float:
    (x, y), (x1, y1), (x2, y2) = point, start, end
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def douglas_peucker(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker on an open polyline (iterative: long borders would overflow recursion)."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        farthest, index = 0.0, -1
        for i in range(first + 1, last):
            distance = _perpendicular_distance(points[i], points[first], points[last])
            if distance > farthest:
                farthest, index = distance, i
        if index >= 0 and farthest > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def _open_ring(ring: list[list[float]]) -> Ring:
    points = [(float(x), float(y)) for x, y, *_ in ring]
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    # Drop consecutive duplicates: they would make a point look like a junction.
    return [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]


def find_junctions(rings: list[Ring]) -> set[Point]:
    """Points where a ring's neighbour changes: more than two distinct adjacent points across all rings."""
    neighbours: dict[Point, set[Point]] = defaultdict(set)
    for ring in rings:
        count = len(ring)
        for i, point in enumerate(ring):
            neighbours[point].add(ring[i - 1])
            neighbours[point].add(ring[(i + 1) % count])
    return {point for point, adjacent in neighbours.items() if len(adjacent) > 2}


class ArcSimplifier:
    """Simplifies each arc once, in a canonical direction, so both units sharing it get the same points."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self._done: dict[tuple[Point, ...], list[Point]] = {}

    def arc(self, points: list[Point]) -> list[Point]:
        forward = tuple(points)
        backward = forward[::-1]
        key, flipped = (forward, False) if forward <= backward else (backward, True)
        if key not in self._done:
            self._done[key] = douglas_peucker(list(key), self.tolerance)
        simplified = self._done[key]
        return simplified[::-1] if flipped else list(simplified)

    def ring(self, ring: Ring, junctions: set[Point]) -> Ring:
        cuts = [i for i, point in enumerate(ring) if point in junctions]
        if not cuts:
            # A ring no other ring touches (an island): start at its smallest point, a canonical place,
            # and split it at the point farthest from there so the two halves are open polylines.
            start = ring.index(min(ring))
            rotated = ring[start:] + ring[:start]
            far = max(range(len(rotated)), key=lambda i: math.dist(rotated[0], rotated[i]))
            first = self.arc(rotated[: far + 1])
            second = self.arc([*rotated[far:], rotated[0]])
            return first[:-1] + second[:-1]
        rotated = ring[cuts[0] :] + ring[: cuts[0]]
        offsets = [i - cuts[0] for i in cuts] + [len(ring)]
        closed = [*rotated, rotated[0]]
        result: Ring = []
        for begin, end in itertools.pairwise(offsets):
            result.extend(self.arc(closed[begin : end + 1])[:-1])
        return result


def _rounded(ring: Ring) -> list[list[float]]:
    points = [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring]
    points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    return [*points, points[0]]


def ring_area(ring: Ring) -> float:
    """Signed shoelace area in square degrees (positive counter-clockwise)."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def _inside(point: Point, ring: Ring) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def label_point(ring: Ring) -> Point:
    """A point inside ``ring``: its centroid when inside, else the middle of the widest horizontal chord
    through the ring's vertical middle (concave units such as a crescent-shaped ward)."""
    area = ring_area(ring)
    if area:
        cx = sum((x1 + x2) * (x1 * y2 - x2 * y1) for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))
        cy = sum((y1 + y2) * (x1 * y2 - x2 * y1) for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))
        centroid = (cx / (6 * area), cy / (6 * area))
        if _inside(centroid, ring):
            return centroid
    ys = [y for _, y in ring]
    y = (min(ys) + max(ys)) / 2
    crossings = sorted(
        x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True)
        if (y1 > y) != (y2 > y)
    )
    pairs = list(zip(crossings[::2], crossings[1::2], strict=False))
    left, right = max(pairs, key=lambda pair: pair[1] - pair[0])
    return ((left + right) / 2, y)


def _inset_transform(polygons: list[list[Ring]]) -> tuple[list[list[Ring]], dict[str, Any]]:
    xs = [x for polygon in polygons for x, _ in polygon[0]]
    ys = [y for polygon in polygons for _, y in polygon[0]]
    true_box = (min(xs), min(ys), max(xs), max(ys))
    box_width, box_height = INSET_BOX[2] - INSET_BOX[0], INSET_BOX[3] - INSET_BOX[1]
    margin = 0.08
    scale = min(
        box_width * (1 - 2 * margin) / (true_box[2] - true_box[0]), box_height * (1 - 2 * margin) / (true_box[3] - true_box[1])
    )
    # Centre the archipelago in the box.
    offset_x = INSET_BOX[0] + (box_width - scale * (true_box[2] - true_box[0])) / 2
    offset_y = INSET_BOX[1] + (box_height - scale * (true_box[3] - true_box[1])) / 2

    def place(point: Point) -> Point:
        return (offset_x + scale * (point[0] - true_box[0]), offset_y + scale * (point[1] - true_box[1]))

    moved = []
    for polygon in polygons:
        outer = [place(point) for point in polygon[0]]
        cx, cy = sum(x for x, _ in outer) / len(outer), sum(y for _, y in outer) / len(outer)
        moved.append([[(cx + (x - cx) * INSET_ISLAND_ZOOM, cy + (y - cy) * INSET_ISLAND_ZOOM) for x, y in outer]])
    meta = {
        "code": INSET_CODE,
        "box": [round(value, DECIMALS) for value in INSET_BOX],
        "true_bbox": [round(value, DECIMALS) for value in true_box],
        "scale": round(scale, 4),
        "island_zoom": INSET_ISLAND_ZOOM,
        "note": "Hoàng Sa drawn as an inset: moved and scaled, not at its true place or scale",
    }
    return moved, meta


def build(source: Path, tolerance: float) -> dict[str, Any]:
    """The simplified FeatureCollection (94 features, properties code, name, label point; inset metadata)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    features = data["features"]
    shapes: dict[str, list[list[Ring]]] = {}
    for feature in features:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        shapes[feature["properties"]["code"]] = [[_open_ring(ring) for ring in polygon] for polygon in polygons]

    inset_meta: dict[str, Any] | None = None
    if INSET_CODE in shapes:
        shapes[INSET_CODE], inset_meta = _inset_transform(shapes[INSET_CODE])

    mainland_rings = [ring for code, polygons in shapes.items() if code != INSET_CODE for polygon in polygons for ring in polygon]
    junctions = find_junctions(mainland_rings)
    simplifier = ArcSimplifier(tolerance)
    inset_simplifier = ArcSimplifier(tolerance / 4)  # the inset is small: keep its islands' shapes

    out_features = []
    for feature in features:
        code = feature["properties"]["code"]
        is_inset = code == INSET_CODE
        polygons_out = []
        largest: tuple[float, Ring] | None = None
        for polygon in shapes[code]:
            rings_out = []
            for index, ring in enumerate(polygon):
                simplified = (inset_simplifier if is_inset else simplifier).ring(ring, set() if is_inset else junctions)
                if len(simplified) < 3:
                    # A sliver smaller than the tolerance: keep a hole out, keep an outer ring as it was.
                    if index > 0:
                        continue
                    simplified = ring
                rings_out.append(_rounded(simplified))
                if index == 0:
                    area = abs(ring_area(simplified))
                    if largest is None or area > largest[0]:
                        largest = (area, simplified)
            polygons_out.append(rings_out)
        assert largest is not None
        label = label_point(largest[1]) if not is_inset else _inset_label(inset_meta)
        properties: dict[str, Any] = {
            "code": code,
            "name": feature["properties"]["name"],
            "label_lon": round(label[0], DECIMALS),
            "label_lat": round(label[1], DECIMALS),
        }
        if is_inset:
            properties["inset"] = True
        out_features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": properties,
                "geometry": {"type": "MultiPolygon", "coordinates": polygons_out},
            }
        )
    collection: dict[str, Any] = {
        "type": "FeatureCollection",
        "source": "thanglequoc/vietnamese-provinces-database (MIT, Copyright (c) 2021 Thang Le Quoc), simplified by scripts/build_map.py",
        "features": out_features,
    }
    if inset_meta is not None:
        collection["ioc_inset"] = inset_meta
    return collection


def _inset_label(meta: dict[str, Any] | None) -> Point:
    assert meta is not None
    box = meta["box"]
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="Douglas-Peucker tolerance in degrees")
    args = parser.parse_args(argv)
    collection = build(args.source, args.tolerance)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    args.out.write_text(text, encoding="utf-8")
    points = sum(len(ring) for f in collection["features"] for polygon in f["geometry"]["coordinates"] for ring in polygon)
    print(f"{args.out}: {len(collection['features'])} features, {points} points, {len(text.encode()) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
