"""Region outline maps drawn as inline SVG from the GeoJSON the platform ships (no map tiles, no JS).

The outlines live in static/geo/regions.geojson (provinces, their cities and a few counties, keyed
by 6-digit division code; see static/geo/README.md). `region_map()` picks the provinces that contain
the given regions, projects them (equirectangular, x scaled by cos(mean latitude)) into a
width × height box and returns everything the include `includes/region_map.html` needs.
Projected outlines are cached per set of provinces and size, so a dashboard render only places
its markers.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured

from apps.incidents.choices import Severity

GEOJSON = "geo/regions.geojson"

# Marker colours by severity (I is the most severe) and the light tint of a region holding one.
SEVERITY_COLOURS = {
    Severity.I: "#c0392b",
    Severity.II: "#e67e22",
    Severity.III: "#f1c40f",
    Severity.IV: "#2e86c1",
}
SEVERITY_TINTS = {
    Severity.I: "#f2c4bf",
    Severity.II: "#f8dcc2",
    Severity.III: "#fbf0bd",
    Severity.IV: "#c9def0",
}
UNKNOWN_COLOUR = "#7f8c8d"

MARGIN = 0.04  # of the box, on each side
SPREAD_RADIUS = 9.0  # px: markers that would sit on one point are fanned out on a circle

Ring = tuple[tuple[float, float], ...]
Polygon = tuple[Ring, ...]  # outer ring, then holes


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # province, city or county
    parent: str | None
    polygons: tuple[Polygon, ...]  # lon/lat
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    anchor: tuple[float, float]  # lon/lat of the centroid (inside the region's largest part)


@dataclass(frozen=True)
class Marker:
    """An incident to pin: at its coordinates, or at its region's centroid when they are missing."""

    latitude: float | Decimal | None
    longitude: float | Decimal | None
    region_code: str
    severity: int
    title: str
    url: str


@dataclass(frozen=True)
class MapPath:
    code: str
    name: str
    level: str
    d: str
    css_class: str
    fill: str | None  # tint of the worst open incident inside, None when unaffected


@dataclass(frozen=True)
class MapLabel:
    name: str
    x: float
    y: float


@dataclass(frozen=True)
class MapMarker:
    x: float
    y: float
    severity: int
    title: str
    url: str
    colour: str
    severity_label: str
    approximate: bool  # placed at the region's centroid, not at its own coordinates


@dataclass(frozen=True)
class LegendItem:
    severity: int
    label: str
    colour: str


@dataclass(frozen=True)
class RegionMap:
    width: int
    height: int
    viewbox: str
    paths: list[MapPath]
    labels: list[MapLabel]
    markers: list[MapMarker]
    legend: list[LegendItem]
    unplaced: list[Marker]  # markers with neither usable coordinates nor a known region

    @property
    def is_empty(self) -> bool:
        return not self.paths


# --- data -------------------------------------------------------------------------------------


def province_code(code: str) -> str:
    return code[:2] + "0000"


def city_code(code: str) -> str:
    return code[:4] + "00"


def _ring_area_centroid(ring: Ring) -> tuple[float, float, float]:
    """Signed area and centroid of a closed ring (shoelace)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    area /= 2
    if area == 0:
        xs, ys = zip(*ring, strict=True)
        return 0.0, sum(xs) / len(xs), sum(ys) / len(ys)
    return area, cx / (6 * area), cy / (6 * area)


def _inside(point: tuple[float, float], polygon: Polygon) -> bool:
    """Even-odd rule over all rings, so a point in a hole is outside."""
    x, y = point
    inside = False
    for ring in polygon:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
    return inside


def _anchor(polygons: tuple[Polygon, ...]) -> tuple[float, float]:
    """The centroid of the largest part; for a concave part whose centroid falls outside it,
    the middle of the widest inside stretch of the horizontal line through the centroid."""
    largest = max(polygons, key=lambda p: abs(_ring_area_centroid(p[0])[0]))
    _, cx, cy = _ring_area_centroid(largest[0])
    if _inside((cx, cy), largest):
        return cx, cy
    crossings = sorted(
        x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
        for ring in largest
        for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)
        if (y0 > cy) != (y1 > cy)
    )
    stretches = list(zip(crossings[::2], crossings[1::2], strict=False))
    if not stretches:
        return cx, cy
    left, right = max(stretches, key=lambda s: s[1] - s[0])
    return (left + right) / 2, cy


def _region(feature: dict) -> Region:
    props, geometry = feature["properties"], feature["geometry"]
    parts = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    polygons = tuple(tuple(tuple((float(x), float(y)) for x, y in ring) for ring in part) for part in parts)
    lons = [x for part in polygons for x, _ in part[0]]
    lats = [y for part in polygons for _, y in part[0]]
    return Region(
        code=props["code"],
        name=props["name"],
        level=props["level"],
        parent=props.get("parent"),
        polygons=polygons,
        bbox=(min(lons), min(lats), max(lons), max(lats)),
        anchor=_anchor(polygons),
    )


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    """Every shipped outline by division code, read once per process."""
    path = finders.find(GEOJSON)
    if not path:
        raise ImproperlyConfigured(f"static file {GEOJSON} not found")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {f["properties"]["code"]: _region(f) for f in data["features"]}


def region_for(code: str) -> Region | None:
    """The outline of `code`, or of the nearest enclosing region that is shipped."""
    shapes = regions()
    for candidate in (code, city_code(code), province_code(code)):
        if candidate in shapes:
            return shapes[candidate]
    return None


# --- projection and drawing -------------------------------------------------------------------


@dataclass(frozen=True)
class _Projection:
    kx: float  # cos(mean latitude)
    scale: float
    dx: float
    dy: float
    bbox: tuple[float, float, float, float]  # lon/lat of what is drawn

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return round(lon * self.kx * self.scale + self.dx, 1), round(-lat * self.scale + self.dy, 1)

    def covers(self, lon: float, lat: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def _fit(bbox: tuple[float, float, float, float], width: int, height: int) -> _Projection:
    min_lon, min_lat, max_lon, max_lat = bbox
    kx = math.cos(math.radians((min_lat + max_lat) / 2))
    span_x, span_y = (max_lon - min_lon) * kx, max_lat - min_lat
    scale = min(width * (1 - 2 * MARGIN) / span_x, height * (1 - 2 * MARGIN) / span_y)
    # Centre the drawing: x = lon·kx·scale + dx, y = −lat·scale + dy (north up).
    dx = width / 2 - (min_lon + max_lon) / 2 * kx * scale
    dy = height / 2 + (min_lat + max_lat) / 2 * scale
    return _Projection(kx, scale, dx, dy, bbox)


def _path_d(region: Region, project: _Projection) -> str:
    commands = []
    for polygon in region.polygons:
        for ring in polygon:
            points = [project(lon, lat) for lon, lat in ring]
            if points[0] == points[-1]:
                points.pop()
            commands.append("M" + "L".join(f"{x:g} {y:g}" for x, y in points) + "Z")
    return "".join(commands)


@dataclass(frozen=True)
class _Base:
    project: _Projection
    shapes: tuple[tuple[Region, str], ...]  # region and its path, in drawing order
    labels: tuple[MapLabel, ...]


@lru_cache(maxsize=64)
def _base(provinces: tuple[str, ...], counties: tuple[str, ...], width: int, height: int) -> _Base:
    shapes = regions()
    drawn_provinces = [shapes[code] for code in provinces]
    cities = [r for r in shapes.values() if r.level == "city" and r.parent in provinces]
    min_lon = min(r.bbox[0] for r in drawn_provinces)
    min_lat = min(r.bbox[1] for r in drawn_provinces)
    max_lon = max(r.bbox[2] for r in drawn_provinces)
    max_lat = max(r.bbox[3] for r in drawn_provinces)
    project = _fit((min_lon, min_lat, max_lon, max_lat), width, height)
    # Cities filled first, province borders over them, counties (small, highlighted) on top.
    ordered = sorted(cities, key=lambda r: r.code) + drawn_provinces + [shapes[code] for code in counties]
    labels = tuple(MapLabel(r.name, *project(*r.anchor)) for r in sorted(cities, key=lambda r: r.code))
    return _Base(project, tuple((r, _path_d(r, project)) for r in ordered), labels)


def _number(value: float | Decimal | None) -> float | None:
    return None if value is None else float(value)


def _spread(markers: list[MapMarker]) -> list[MapMarker]:
    """Fan out markers that share a point (several incidents placed at one region's centroid)."""
    groups: dict[tuple[float, float], list[MapMarker]] = defaultdict(list)
    for marker in markers:
        groups[(marker.x, marker.y)].append(marker)
    placed = []
    for (x, y), group in groups.items():
        if len(group) == 1:
            placed.append(group[0])
            continue
        for i, marker in enumerate(group):
            angle = math.pi + 2 * math.pi * i / len(group)  # first to the left, then clockwise
            dx, dy = SPREAD_RADIUS * math.cos(angle), SPREAD_RADIUS * math.sin(angle)
            placed.append(replace(marker, x=round(x + dx, 1), y=round(y + dy, 1)))
    return placed


def legend() -> list[LegendItem]:
    return [LegendItem(s.value, s.label, SEVERITY_COLOURS[s]) for s in Severity]


def region_map(codes: list[str], markers: list[Marker], width: int = 640, height: int = 480) -> RegionMap:
    """The provinces holding `codes` and the markers' regions, with their cities, as SVG paths.

    Regions holding a marker get the class "affected" and the tint of their most severe marker.
    A marker whose coordinates are missing or outside the drawn provinces' bounding box is placed
    at its region's centroid (or its city's, or its province's, whichever is shipped).
    """
    shapes = regions()
    wanted = [*codes, *(m.region_code for m in markers)]
    provinces = tuple(sorted({province_code(c) for c in wanted} & shapes.keys()))
    if not provinces:
        return RegionMap(width, height, f"0 0 {width} {height}", [], [], [], legend(), list(markers))
    counties = tuple(sorted({c for c in wanted if c in shapes and shapes[c].level == "county"}))
    base = _base(provinces, counties, width, height)
    project = base.project

    worst: dict[str, int] = {}  # region code → most severe (lowest) level of the markers inside
    placed, unplaced = [], []
    labels = dict(Severity.choices)
    for marker in sorted(markers, key=lambda m: -m.severity):  # most severe drawn last, on top
        lat, lon = _number(marker.latitude), _number(marker.longitude)
        region = region_for(marker.region_code)
        approximate = lat is None or lon is None or not project.covers(lon, lat)
        if approximate:
            if region is None or province_code(region.code) not in provinces:
                unplaced.append(marker)
                continue
            lon, lat = region.anchor
        x, y = project(lon, lat)
        placed.append(
            MapMarker(
                x=x,
                y=y,
                severity=marker.severity,
                title=marker.title,
                url=marker.url,
                colour=SEVERITY_COLOURS.get(marker.severity, UNKNOWN_COLOUR),
                severity_label=str(labels.get(marker.severity, "")),
                approximate=approximate,
            )
        )
        code = marker.region_code
        for enclosing in {code, city_code(code), province_code(code)}:
            worst[enclosing] = min(worst.get(enclosing, marker.severity), marker.severity)

    paths = []
    for region, d in base.shapes:
        severity = worst.get(region.code)
        css = f"region region-{region.level}"
        if severity is not None:
            css += f" affected severity-{severity}"
        fill = SEVERITY_TINTS.get(severity) if severity is not None and region.level != "province" else None
        paths.append(MapPath(region.code, region.name, region.level, d, css, fill))

    return RegionMap(
        width=width,
        height=height,
        viewbox=f"0 0 {width} {height}",
        paths=paths,
        labels=list(base.labels),
        markers=_spread(placed),
        legend=legend(),
        unplaced=unplaced,
    )
