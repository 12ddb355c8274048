"""Nighttime-light rasters -> county zonal statistics in raw.county_nightlight.

Rasters are files, not dbt sources: this loader computes, per county and raster (one year each), the
mean and sum of valid pixel values, the valid pixel count and the share of the county's pixels that
hold a value (coverage), and writes them to raw.county_nightlight, which dbt stages and harmonises.

Which pixels belong to a county is decided by rasterstats (`zonal_stats(..., all_touched=True,
raster_out=True)`, run once per raster grid on an array of ones); the per-year statistics then reuse
those pixel sets, so 24 yearly rasters cost one rasterisation, not 24 (rasterstats alone takes ~9 s a
raster for 2,900 counties). A raster without a CRS, whose extent does not cover the counties, or that
leaves a county without any valid pixel stops the load with the file and the counties named; nothing
is written then.

Example::

    with connection(db) as con:
        results = ingest_rasters(con, sorted(Path("data/demo").glob("ntl_*.tif")))
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TABLE = "raw.county_nightlight"
COLUMNS = """
    county_code varchar, year integer, ntl_mean double, ntl_sum double, pixel_count integer,
    pixel_touched integer, coverage double, sensor varchar, _source_file varchar, _content_hash varchar,
    _loaded_at timestamp, _synthetic boolean
"""


class RasterError(ValueError):
    """A raster cannot be used for the counties; the message names the file and what to do."""


@dataclass(frozen=True)
class RasterResult:
    """What loading one raster did."""

    file: str
    year: int
    counties: int
    status: str  # loaded | replaced | unchanged


@dataclass(frozen=True)
class _Zones:
    """Flat pixel indices of every county on one grid: county i owns pix[start[i]:start[i+1]]."""

    pix: np.ndarray
    owner: np.ndarray
    touched: np.ndarray  # pixels of each county (touched by its polygon) on the raster


def _year(path: Path) -> int:
    found = re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", path.stem)
    if not found:
        raise RasterError(f"{path}: no year (19xx/20xx) in the file name; name the file like ntl_2015.tif")
    return int(found[-1])


def _counties(con: duckdb.DuckDBPyConnection, exclude: Sequence[str] = ()):
    """Current counties with a polygon; when raw tables already hold county data, only counties that have
    some (三沙's island districts, 金门 and the special areas hold no yearbook data and no demo light)."""
    import geopandas as gpd
    import shapely

    frame = con.execute(
        """select county_code, geometry from main.dim_county
           where geometry is not null and is_current and not list_contains(?, county_code) order by 1""",
        [list(exclude)]).df()
    if frame.empty:
        raise RasterError("dim_county has no geometries: run `geopanel init` (or `geopanel demo`) first")
    raw_tables = [r[0] for r in con.execute(
        "select table_name from information_schema.columns where table_schema = 'raw' and column_name = 'unit_code'"
    ).fetchall()]
    if raw_tables:
        union = " union ".join(f'select unit_code from raw."{t}"' for t in raw_tables)
        with_data = {r[0] for r in con.execute(union).fetchall()} & set(frame["county_code"])
        if with_data:
            frame = frame[frame["county_code"].isin(with_data)]
    geoms = shapely.from_wkb(frame["geometry"].map(bytes).to_numpy())
    return gpd.GeoDataFrame({"county_code": frame["county_code"].to_numpy()}, geometry=geoms, crs="EPSG:4490")


def _zones(geoms, shape: tuple[int, int], transform) -> _Zones:
    """Pixels of each geometry on a grid, found by rasterstats on an array of ones."""
    from rasterstats import zonal_stats

    ones = np.ones(shape, dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = zonal_stats(list(geoms), ones, affine=transform, nodata=0, stats=["count"],
                            all_touched=True, raster_out=True, boundless=True)
    pix, owner, touched = [], [], np.zeros(len(stats), dtype=np.int64)
    height, width = shape
    for i, st in enumerate(stats):
        mini = st["mini_raster_array"]
        if mini is None:
            continue
        aff = st["mini_raster_affine"]
        row0 = int(round((aff.f - transform.f) / transform.e))
        col0 = int(round((aff.c - transform.c) / transform.a))
        # unmasked = inside the geometry and on the raster (padding beyond the extent is nodata = 0)
        rows, cols = np.nonzero(~np.ma.getmaskarray(mini))
        rows, cols = rows + row0, cols + col0
        touched[i] = len(rows)
        ok = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        pix.append(rows[ok] * width + cols[ok])
        owner.append(np.full(int(ok.sum()), i))
    return _Zones(np.concatenate(pix) if pix else np.zeros(0, dtype=np.int64),
                  np.concatenate(owner) if owner else np.zeros(0, dtype=np.int64), touched)


def zonal_table(path: Path, counties, cache: dict | None = None) -> pd.DataFrame:
    """Zonal mean, sum, valid count, touched count and coverage of one raster for every county."""
    import rasterio

    with rasterio.open(path) as src:
        if src.crs is None:
            raise RasterError(f"{path}: the raster has no CRS; set it (e.g. gdal_edit.py -a_srs EPSG:4326) and retry")
        geoms = counties.to_crs(src.crs) if src.crs.to_epsg() not in (4326, 4490) else counties
        left, bottom, right, top = geoms.total_bounds
        b = src.bounds
        if left < b.left or right > b.right or bottom < b.bottom or top > b.top:
            raise RasterError(f"{path}: the raster (bounds {b.left:.2f}, {b.bottom:.2f}, {b.right:.2f}, {b.top:.2f} "
                              f"in {src.crs}) does not cover the counties (bounds {left:.2f}, {bottom:.2f}, "
                              f"{right:.2f}, {top:.2f}); use a raster of the whole study area")
        data, nodata, transform, shape = src.read(1), src.nodata, src.transform, src.shape
        synthetic = str(src.tags().get("SYNTHETIC", "")).lower() == "true"
    key = (tuple(transform), shape, str(geoms.crs))
    cache = {} if cache is None else cache
    if key not in cache:
        cache[key] = _zones(geoms.geometry, shape, transform)
    zones = cache[key]
    values = data.ravel()[zones.pix].astype(float)
    valid = np.isfinite(values) & ((values != nodata) if nodata is not None else True)
    n = len(counties)
    count = np.bincount(zones.owner[valid], minlength=n)
    total = np.bincount(zones.owner[valid], weights=values[valid], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame({
            "county_code": counties["county_code"].to_numpy(), "ntl_sum": total,
            "ntl_mean": np.where(count > 0, total / np.maximum(count, 1), np.nan), "pixel_count": count,
            "pixel_touched": zones.touched, "coverage": count / np.maximum(zones.touched, 1),
        })
    uncovered = frame[frame["pixel_count"] == 0]
    if len(uncovered):
        codes = ", ".join(uncovered["county_code"].head(5))
        raise RasterError(f"{path}: {len(uncovered)} counties have no valid pixel (first: {codes}); the raster "
                          "does not cover the units — use a raster of the whole area, or fill its nodata")
    return frame.assign(_synthetic=synthetic)


def ingest_rasters(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], sensor: str = "unknown",
                   exclude: Sequence[str] = (), progress: Callable[[str], None] = lambda m: None,
                   ) -> list[RasterResult]:
    """Compute county zonal statistics of each raster (one year each) and store them in raw.county_nightlight.

    Every raster is checked before anything is written; a year already loaded from the same content is
    left as it is, a year loaded from other content is replaced. `exclude`: county codes to leave out.
    """
    counties = _counties(con, exclude)
    con.execute(f"create table if not exists {TABLE} ({COLUMNS})")
    cache: dict = {}
    frames, results = [], []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise RasterError(f"{path}: file not found")
        year, digest = _year(path), hashlib.sha256(path.read_bytes()).hexdigest()
        known = con.execute(f"select distinct _content_hash from {TABLE} where year = ?", [year]).fetchall()
        if [(digest,)] == known:
            results.append(RasterResult(str(path), year, 0, "unchanged"))
            continue
        progress(f"zonal statistics {path.name} …")
        table = zonal_table(path, counties, cache)
        frames.append(table.assign(year=year, sensor=sensor, _source_file=str(path), _content_hash=digest,
                                   _loaded_at=datetime.now(UTC).replace(tzinfo=None)))
        results.append(RasterResult(str(path), year, len(table), "replaced" if known else "loaded"))
    if frames:
        new = pd.concat(frames, ignore_index=True)
        con.execute("begin")
        try:
            years = sorted(new["year"].unique().tolist())
            con.execute(f"delete from {TABLE} where year in (select unnest(?))", [years])
            con.register("raster_rows", new)
            con.execute(f"insert into {TABLE} by name select * from raster_rows")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return results
