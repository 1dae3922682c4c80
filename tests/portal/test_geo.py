"""The shipped region outlines and the SVG region map (pure functions and one template: no database)."""

import importlib.util
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation

from apps.portal.geo import Marker, region_map, regions

DEMO_CODES = {"320000", "340000", "320100", "321100", "340500", "340200", "320106", "340503"}
WIDTH, HEIGHT = 640, 480


def marker(region_code="320106", severity=1, lat=None, lon=None, title="Spill", url="/incidents/1/"):
    return Marker(latitude=lat, longitude=lon, region_code=region_code, severity=severity, title=title, url=url)


def path_bbox(d: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    xs, ys = numbers[::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def path_of(result, code):
    return next(p for p in result.paths if p.code == code)


# --- the data file ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def geojson():
    path = finders.find("geo/regions.geojson")
    assert path, "static/geo/regions.geojson is not found by the staticfiles finders"
    return Path(path)


def test_shipped_file_is_small_valid_geojson_with_the_demo_regions(geojson):
    # Given the file the platform serves
    data = json.loads(geojson.read_text(encoding="utf-8"))

    # Then it is a FeatureCollection of (Multi)Polygons with closed rings in lon/lat order
    assert data["type"] == "FeatureCollection"
    assert geojson.stat().st_size < 400_000
    by_code = {}
    for feature in data["features"]:
        assert feature["type"] == "Feature"
        props, geometry = feature["properties"], feature["geometry"]
        assert re.fullmatch(r"\d{6}", props["code"]) and props["name"]
        assert props["code"] not in by_code, "duplicate code"
        by_code[props["code"]] = props
        assert geometry["type"] in {"Polygon", "MultiPolygon"}
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        for polygon in polygons:
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]
                assert all(105 < lon < 125 and 25 < lat < 40 for lon, lat in ring)  # east China

    # And the demo scenario's regions are there, each under the right parent
    assert DEMO_CODES <= by_code.keys()
    for code, props in by_code.items():
        expected = {"province": None, "city": code[:2] + "0000", "county": code[:4] + "00"}[props["level"]]
        assert props["parent"] == expected
    assert by_code["320100"]["name"] == "南京市" and by_code["340503"]["name"] == "花山区"
    cities = [p for p in by_code.values() if p["level"] == "city"]
    assert len([c for c in cities if c["parent"] == "320000"]) == 13
    assert len([c for c in cities if c["parent"] == "340000"]) == 16


def test_readme_names_source_and_licence():
    readme = (Path(settings.BASE_DIR) / "static" / "geo" / "README.md").read_text(encoding="utf-8")
    assert "echarts" in readme and "Apache-2.0" in readme and "scripts/geo_build.py" in readme


# --- region_map -------------------------------------------------------------------------------


def test_county_code_draws_its_province_cities_and_places_the_marker_inside_the_viewbox():
    # Given an incident in 鼓楼区, Nanjing, with its coordinates
    result = region_map(["320106"], [marker(lat=32.066, lon=118.770)])

    # Then Jiangsu and all its cities are drawn, plus the county; Anhui is not
    codes = {p.code for p in result.paths}
    assert {"320000", "320100", "321100", "320106"} <= codes
    assert {code for code in codes if code.endswith("00") and code != "320000"} == {
        code for code, r in regions().items() if r.parent == "320000"
    }
    assert not any(code.startswith("34") for code in codes)
    assert result.viewbox == f"0 0 {WIDTH} {HEIGHT}"

    # And the marker sits inside the viewbox, inside Nanjing's drawn outline's box
    (m,) = result.markers
    assert 0 <= m.x <= WIDTH and 0 <= m.y <= HEIGHT
    x0, y0, x1, y1 = path_bbox(path_of(result, "320100").d)
    assert x0 <= m.x <= x1 and y0 <= m.y <= y1
    assert not m.approximate and m.colour == "#c0392b" and m.url == "/incidents/1/"


def test_marker_without_coordinates_lands_at_its_region_centroid():
    # Given incidents with no coordinates, in a county and in a city
    result = region_map(["320000", "340000"], [marker("340503", severity=2), marker("321100", severity=3)])

    # Then each sits inside its region's drawn bounding box, flagged as approximate
    for m, code in zip(sorted(result.markers, key=lambda m: m.severity), ["340503", "321100"], strict=True):
        x0, y0, x1, y1 = path_bbox(path_of(result, code).d)
        assert x0 <= m.x <= x1 and y0 <= m.y <= y1
        assert m.approximate


def test_north_is_up_and_east_is_right():
    result = region_map(["320000"], [marker(lat=34.26, lon=117.18, title="Xuzhou"), marker(lat=31.3, lon=120.6)])
    north_west, south_east = sorted(result.markers, key=lambda m: m.title != "Xuzhou")
    assert north_west.y < south_east.y and north_west.x < south_east.x


def test_drawing_is_not_squashed():
    # Equirectangular with x scaled by cos(mean latitude): Jiangsu keeps its proportions.
    min_lon, min_lat, max_lon, max_lat = regions()["320000"].bbox
    expected = (max_lon - min_lon) * math.cos(math.radians((min_lat + max_lat) / 2)) / (max_lat - min_lat)
    x0, y0, x1, y1 = path_bbox(path_of(region_map(["320000"], []), "320000").d)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(expected, rel=0.02)


def test_affected_regions_are_tinted_by_their_worst_incident():
    result = region_map(["320000"], [marker("320106", severity=3), marker("320106", severity=1)])
    nanjing, wuxi = path_of(result, "320100"), path_of(result, "320200")
    assert "affected" in nanjing.css_class and "severity-1" in nanjing.css_class and nanjing.fill
    assert "affected" not in wuxi.css_class and wuxi.fill is None
    assert path_of(result, "320000").fill is None  # the province is an outline only


def test_markers_sharing_a_point_are_fanned_out():
    result = region_map([], [marker("321100", title="a"), marker("321100", title="b")])
    a, b = result.markers
    assert (a.x, a.y) != (b.x, b.y)


def test_decimal_coordinates_and_a_marker_outside_the_shown_provinces():
    result = region_map(
        ["320000"],
        [
            marker(lat=Decimal("32.066"), lon=Decimal("118.770")),
            marker(lat=Decimal("39.9"), lon=Decimal("116.4"), region_code="320100"),  # Beijing: not drawn
            marker(region_code="110101"),  # no coordinates, no shipped outline
        ],
    )
    placed = sorted(result.markers, key=lambda m: m.approximate)
    assert [m.approximate for m in placed] == [False, True]  # the second falls back to Nanjing's centroid
    assert len(result.unplaced) == 1 and result.unplaced[0].region_code == "110101"


def test_no_known_region_gives_an_empty_map():
    result = region_map(["110000"], [])
    assert result.is_empty and result.markers == []
    assert "region-map-empty" in render_to_string("includes/region_map.html", {"region_map": result})


def test_outlines_are_projected_once_per_province_set():
    from apps.portal import geo

    geo._base.cache_clear()
    region_map(["320000"], [])
    region_map(["320100"], [marker("321100", severity=2)])  # same province, no county outline: reused
    info = geo._base.cache_info()
    assert (info.misses, info.hits) == (1, 1)


# --- the include ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_include_renders_an_inline_svg_with_a_path_per_region_and_no_outside_urls(language):
    # Given a map with one incident whose page lives on the intranet portal
    url = "https://portal.intranet.example/incidents/7/?a=1&b=2"
    result = region_map(["320000", "340000"], [marker("320106", lat=32.066, lon=118.770, title="<泄漏>", url=url)])

    # When the include is rendered
    with translation.override(language):
        html = render_to_string("includes/region_map.html", {"region_map": result})

    # Then it is one inline SVG with a path per region and a linked, titled marker
    assert html.count("<svg") == 1 + 4  # the map and the legend's four swatches
    # a group, not an image: an image's content is presentational, and the markers are links
    assert 'class="region-map-svg" role="group"' in html and "aria-label=" in html
    assert len(re.findall(r"<path ", html)) == len(result.paths)
    for path in result.paths:
        assert f'data-code="{path.code}"' in html
    assert html.count("<circle") == 1 + 4
    assert 'href="https://portal.intranet.example/incidents/7/?a=1&amp;b=2"' in html
    assert "&lt;泄漏&gt;" in html and "<泄漏>" not in html  # user text is escaped
    assert "南京市" in html  # city labels
    legend = "特别重大" if language == "zh-hans" else "especially serious"
    assert legend in html

    # And nothing points outside the platform, nothing needs JavaScript or inline CSS
    rest = html.replace("https://portal.intranet.example/incidents/7/?a=1&amp;b=2", "")
    assert "http" not in rest and "//" not in rest
    assert "<script" not in html and "style" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no event-handler attributes


# --- the build script -------------------------------------------------------------------------


def test_build_script_decodes_echarts_compressed_coordinates():
    spec = importlib.util.spec_from_file_location("geo_build", Path(settings.BASE_DIR) / "scripts" / "geo_build.py")
    geo_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(geo_build)

    def encode(points, offset):  # the inverse of decodePolygon, as ECharts' map tools write it
        out, prev = [], offset
        for x, y in points:
            for value, before in ((x, prev[0]), (y, prev[1])):
                delta = value - before
                out.append(chr(((delta << 1) ^ (delta >> 31)) + 64))
            prev = (x, y)
        return "".join(out)

    points = [(121722, 32278), (121730, 32270), (121700, 32300), (121722, 32278)]
    collection = {
        "UTF8Encoding": True,
        "features": [
            {"geometry": {"type": "Polygon", "coordinates": [encode(points, (121700, 32250))],
                          "encodeOffsets": [[121700, 32250]]}}
        ],
    }  # fmt: skip
    decoded = geo_build.decode_collection(collection)
    assert decoded["features"][0]["geometry"]["coordinates"] == [[[x / 1024, y / 1024] for x, y in points]]
