"""Raster zonal statistics (warehouse/rasters.py) on a small synthetic GeoTIFF.

References: rasterstats.zonal_stats called directly on each raster (all_touched, the per-call
rasterisation the loader replaces by reusing pixel sets), and means worked by hand on a 4 x 4 grid.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterstats import zonal_stats
from shapely.geometry import box

from warehouse.rasters import RasterError, zonal_table

NODATA = -9999.0


def write(path: Path, data: np.ndarray, crs: str | None = "EPSG:4326", west: float = 100.0, north: float = 30.0):
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1, "dtype": "float32",
               "transform": from_origin(west, north, 1.0, 1.0), "nodata": NODATA}
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype("float32"), 1)
    return path


@pytest.fixture
def counties() -> gpd.GeoDataFrame:
    # a 4 x 4 grid of 1° pixels from (100, 26) to (104, 30); A covers the top-left 2 x 2 pixels (inset so
    # all_touched takes exactly those), B the right half, C one pixel at the bottom left
    return gpd.GeoDataFrame({"county_code": ["A", "B", "C"]},
                            geometry=[box(100.1, 28.1, 101.9, 29.9), box(102.1, 26.1, 103.9, 29.9),
                                      box(100.1, 26.1, 100.9, 26.9)], crs="EPSG:4490")


def test_means_sums_counts_by_hand_and_against_rasterstats(tmp_path, counties):
    data = np.arange(16, dtype=float).reshape(4, 4)
    data[1, 3] = NODATA  # one pixel of B without a value
    path = write(tmp_path / "ntl_2015.tif", data)
    out = zonal_table(path, counties).set_index("county_code")
    # A: pixels 0, 1, 4, 5 -> mean 2.5; C: pixel 12
    assert out.loc["A", "ntl_mean"] == pytest.approx(2.5) and out.loc["A", "pixel_count"] == 4
    assert out.loc["C", "ntl_sum"] == pytest.approx(12.0)
    # B: pixels 2, 3, 6, (7 nodata), 10, 11, 14, 15 -> 7 valid of 8 touched
    assert out.loc["B", "pixel_count"] == 7 and out.loc["B", "coverage"] == pytest.approx(7 / 8)
    assert out.loc["B", "ntl_sum"] == pytest.approx(2 + 3 + 6 + 10 + 11 + 14 + 15)
    ref = zonal_stats(list(counties.geometry), str(path), stats=["mean", "sum", "count"], all_touched=True)
    np.testing.assert_allclose(out["ntl_mean"], [r["mean"] for r in ref], rtol=1e-6)
    np.testing.assert_array_equal(out["pixel_count"], [r["count"] for r in ref])


def test_pixel_sets_are_reused_across_years_on_the_same_grid(tmp_path, counties):
    cache: dict = {}
    rng = np.random.default_rng(3)
    for year in (2016, 2017):
        data = rng.gamma(2, 3, (4, 4))
        path = write(tmp_path / f"ntl_{year}.tif", data)
        out = zonal_table(path, counties, cache)
        ref = zonal_stats(list(counties.geometry), str(path), stats=["mean"], all_touched=True)
        np.testing.assert_allclose(out["ntl_mean"], [r["mean"] for r in ref], rtol=1e-6)
    assert len(cache) == 1


def test_bad_rasters_are_refused_with_the_file_named(tmp_path, counties):
    with pytest.raises(RasterError, match="no CRS"):
        zonal_table(write(tmp_path / "ntl_2001.tif", np.ones((4, 4)), crs=None), counties)
    with pytest.raises(RasterError, match="does not cover the counties"):
        zonal_table(write(tmp_path / "ntl_2002.tif", np.ones((4, 4)), west=101.0), counties)
    holes = np.ones((4, 4))
    holes[3, 0] = NODATA  # county C's only pixel
    with pytest.raises(RasterError, match=r"ntl_2003.tif: 1 counties have no valid pixel \(first: C\)"):
        zonal_table(write(tmp_path / "ntl_2003.tif", holes), counties)
