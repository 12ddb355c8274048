"""Weight matrices in the warehouse: `weights.w_edges`, `weights.w_units`, `weights.w_catalog`.

- `weights.w_edges` (w_name, focal, neighbor, weight): one row per non-zero weight, as used (after the
  recorded transform), so SQL computes W·x with one join (see the `spatial_lag` dbt macro).
- `weights.w_units` (w_name, position, code): the unit set in matrix order, islands included.
- `weights.w_catalog`: one row per matrix: kind, parameters (JSON text), level, unit set, n, links,
  islands (count and codes, after the island policy), units the policy linked, components, transform,
  build time.

Writing a matrix replaces every row of that name in one transaction. `read_w` is the public reader
other modules use: `read_w(con, "queen_city", ids=panel_codes)` returns a libpysal `W` over exactly
those codes, in that order.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from geo.weights import build as builders
from geo.weights.core import SpatialWeights, SubsetReport, WeightsError, _preview
from geo.weights.io import check_codes, read_matrix_file
from warehouse.db import insert_frame, transaction

LEVELS = ("province", "city", "county")
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

DDL = {
    "w_edges": "w_name varchar not null, focal varchar not null, neighbor varchar not null, weight double not null",
    "w_units": "w_name varchar not null, position integer not null, code varchar not null",
    "w_catalog": """w_name varchar primary key, kind varchar, params varchar, level varchar, unit_set varchar,
        units_hash varchar, n integer, n_links bigint, mean_neighbors double, min_neighbors integer,
        max_neighbors integer, islands integer, island_codes varchar, islands_linked integer,
        islands_linked_codes varchar, components integer, is_symmetric boolean, transform varchar,
        description varchar, built_at timestamp""",
}
CATALOG_COLUMNS = [c.strip().split()[0] for c in DDL["w_catalog"].split(",")]


class WeightsSubsetWarning(UserWarning):
    """A stored matrix was restricted to a smaller unit set (the message is the subset report)."""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the weights tables, and add catalog columns a table created elsewhere may lack."""
    con.execute("create schema if not exists weights")
    for table, cols in DDL.items():
        con.execute(f"create table if not exists weights.{table} ({cols})")
    have = {r[0] for r in con.execute("select column_name from information_schema.columns where "
                                      "table_schema = 'weights' and table_name = 'w_catalog'").fetchall()}
    for col in DDL["w_catalog"].split(","):
        name, ctype = col.split()[0], col.split()[1]
        if name not in have:
            con.execute(f"alter table weights.w_catalog add column {name} {ctype}")


# ----------------------------------------------------------------------------- write / read
def write_w(con: duckdb.DuckDBPyConnection, w, name: str, description: str | None = None,
            level: str | None = None) -> dict:
    """Store `w` (SpatialWeights, or a libpysal W / Graph) under `name`, replacing any matrix of that name
    atomically. Returns the catalog row."""
    if not isinstance(w, SpatialWeights):
        w = SpatialWeights.from_libpysal(w, kind="pysal", level=level)
    elif level is not None:
        w.level = level
    if not NAME_PATTERN.match(name or ""):
        raise WeightsError(f"matrix name {name!r}: use letters, digits and _ (starting with a letter), "
                           "e.g. queen_city or invdist2_province")
    ensure_tables(con)
    row = {"w_name": name, **w.summary(), "description": description,
           "built_at": datetime.now(UTC).replace(tzinfo=None)}
    edges = w.edges()
    edges.insert(0, "w_name", name)
    units = pd.DataFrame({"w_name": name, "position": np.arange(w.n, dtype=np.int32), "code": w.ids})
    catalog = pd.DataFrame([{c: row.get(c) for c in CATALOG_COLUMNS}])
    with transaction(con):
        for table in DDL:
            con.execute(f"delete from weights.{table} where w_name = ?", [name])
        for table, frame in (("w_edges", edges), ("w_units", units), ("w_catalog", catalog)):
            insert_frame(con, f"weights.{table}", frame)
    return row


def drop_w(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Delete a stored matrix (all three tables, one transaction)."""
    _require(con, name)
    with transaction(con):
        for table in DDL:
            if _table_exists(con, table):
                con.execute(f"delete from weights.{table} where w_name = ?", [name])


def _text(value) -> str:
    """A catalog text cell as str ('' for NULL, which pandas may hand over as NaN)."""
    return value if isinstance(value, str) else ""


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = 'weights' "
                            "and table_name = ?", [table]).fetchone()[0])


def list_w(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The catalog, one row per stored matrix."""
    if not _has_tables(con):
        return pd.DataFrame(columns=CATALOG_COLUMNS)
    return con.execute("select * from weights.w_catalog order by w_name").df()


def _has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = 'weights' "
                            "and table_name in ('w_edges', 'w_catalog')").fetchone()[0] == 2)


def _units(con: duckdb.DuckDBPyConnection, name: str, meta: dict) -> list[str]:
    """The unit set in matrix order: weights.w_units, else (a matrix written by other code) the codes of its
    edges plus its catalogued islands, sorted."""
    try:
        units = [c for (c,) in con.execute("select code from weights.w_units where w_name = ? order by position",
                                           [name]).fetchall()]
    except duckdb.CatalogException:
        units = []
    if units:
        return units
    rows = con.execute("select focal from weights.w_edges where w_name = $1 union "
                       "select neighbor from weights.w_edges where w_name = $1", [name]).fetchall()
    codes = {c for (c,) in rows}
    codes |= {c for c in _text(meta.get("island_codes")).split(",") if c}
    return sorted(codes)


def _require(con: duckdb.DuckDBPyConnection, name: str) -> dict:
    if not _has_tables(con):
        raise WeightsError(f"no weight matrix named {name!r}: the warehouse has no matrices yet; build one with "
                           "`geopanel weights build NAME --kind queen --level city`")
    row = con.execute("select * from weights.w_catalog where w_name = ?", [name]).df()
    if row.empty:
        names = con.execute("select w_name from weights.w_catalog order by 1").fetchall()
        have = ", ".join(n for (n,) in names) or "none"
        raise WeightsError(f"no weight matrix named {name!r} in weights.w_catalog (stored: {have}); build it with "
                           "`geopanel weights build` or list them with `geopanel weights list`")
    return row.iloc[0].to_dict()


def load_weights(con: duckdb.DuckDBPyConnection, name: str, ids: Sequence[str] | None = None,
                 missing: str = "error") -> tuple[SpatialWeights, SubsetReport]:
    """A stored matrix as `SpatialWeights`, restricted to `ids` (in that order) if given.

    Units of the matrix not in `ids` are dropped (a row-standardised matrix is re-standardised) and
    reported. Codes of `ids` the matrix lacks are an error (`missing='error'`), or are left out with
    the rest of the report (`missing='drop'`).
    """
    import json

    meta = _require(con, name)
    units = _units(con, name, meta)
    edges = con.execute("select focal, neighbor, weight from weights.w_edges where w_name = ?", [name]).df()
    transform = str(meta.get("transform") or "O").strip().upper()[:1]
    linked = _text(meta.get("islands_linked_codes"))
    w = SpatialWeights.from_edges(edges, kind=meta["kind"], ids=units, level=meta.get("level"),
                                  transform=transform if transform in ("B", "O", "R") else "O",
                                  params=json.loads(_text(meta.get("params")) or "{}"),
                                  islands_linked=[c for c in linked.split(",") if c],
                                  unit_set=_text(meta.get("unit_set")))
    if ids is None:
        return w, SubsetReport(w_name=name, n_before=w.n, n_after=w.n)
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        dups = sorted({i for i in ids if ids.count(i) > 1})
        raise WeightsError(f"the unit set given for {name!r} repeats codes: {_preview(dups)}")
    sub, report = w.subset(ids, name=name)
    if report.missing and missing == "error":
        level = f"{meta['level']}-level " if meta["level"] else ""
        raise WeightsError(
            f"unit set does not match weight matrix {name!r} ({level}{w.n} units): {len(report.missing)} of the "
            f"{len(ids)} units have no row in it: {_preview(report.missing)}; use a matrix built for these units "
            "(same level and code vintage) or drop them from the panel"
        )
    return sub, report


def panel_coverage(con: duckdb.DuckDBPyConnection, name: str, data=None, *, unit: str | None = None,
                   year: int | None = None, column: str | None = None) -> SubsetReport:
    """How a stored matrix's units compare with a panel's: the matrix units subsetting to the panel would drop,
    and the panel units the matrix lacks (`report.missing`). `data` is anything `read_panel` reads (default
    fct_<level>_year of the matrix's level); only rows of `year` and with a value of `column`, if given.

        panel_coverage(con, "queen_city", year=2015, column="gdp").missing   # e.g. ['371200'] (莱芜)
    """
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    full, _ = load_weights(con, name)
    if data is None:
        if full.level not in LEVELS:
            raise WeightsError(f"{name!r} is not a province, city or county matrix: name the panel (--data)")
        data = f"fct_{full.level}_year"
    try:
        panel = read_panel(data, con=con, unit=unit or (f"{full.level}_code" if full.level in LEVELS and
                                                        data == f"fct_{full.level}_year" else None))
    except DataError as exc:
        raise WeightsError(str(exc)) from exc
    frame = panel.frame
    if year is not None:
        if panel.time is None:
            raise WeightsError(f"{panel.source} has no year column to select {year} from")
        frame = frame[frame[panel.time] == year]
    if column:
        if column not in frame.columns:
            raise WeightsError(f"{panel.source} has no column {column!r}")
        frame = frame[frame[column].notna()]
    codes = sorted(frame[panel.unit].astype(str).unique())
    return load_weights(con, name, codes, missing="drop")[1]


def read_w(con: duckdb.DuckDBPyConnection, name: str, ids: Sequence[str] | None = None):
    """The stored matrix `name` as a libpysal `W` whose ids are unit codes.

    With `ids` (unit codes, ordered) the W covers exactly those units in that order: units of the matrix
    that are not in `ids` are dropped (rows re-standardised for a row-standardised matrix; a
    `WeightsSubsetWarning` carries the report), and codes the matrix lacks raise `WeightsError` naming
    them. The W's `transform` is the stored one ('R' row-standardised, 'B' binary, else 'O').

    >>> w = read_w(con, "queen_province", ids=panel["province_code"].unique())   # doctest: +SKIP
    """
    sub, report = load_weights(con, name, ids)
    if report.dropped:
        warnings.warn(str(report), WeightsSubsetWarning, stacklevel=2)
    return sub.to_libpysal()


def read_graph(con: duckdb.DuckDBPyConnection, name: str, ids: Sequence[str] | None = None):
    """Like `read_w`, as a libpysal `Graph`."""
    sub, report = load_weights(con, name, ids)
    if report.dropped:
        warnings.warn(str(report), WeightsSubsetWarning, stacklevel=2)
    return sub.to_graph()


# ----------------------------------------------------------------------------- warehouse builders
def level_units(con: duckdb.DuckDBPyConnection, level: str, mainland_only: bool = True,
                with_geometry: bool = False, current_only: bool = True) -> pd.DataFrame:
    """Units of `dim_<level>`: code, name_zh, centroid_lon/lat (and capital_lon/lat for provinces)."""
    if level not in LEVELS:
        raise WeightsError(f"level {level!r}: use province, city or county (or --boundary-file for your own units)")
    key = f"{level}_code"
    extra = ", capital_lon, capital_lat" if level == "province" else ""
    geom = ", geometry" if with_geometry else ""
    where = ["geometry is not null"]
    if mainland_only:
        where.append("is_mainland")
    if current_only and level != "province":
        where.append("is_current")
    try:
        frame = con.execute(
            f"select {key} as code, name_zh, centroid_lon, centroid_lat{extra}{geom} from main.dim_{level} "
            f"where {' and '.join(where)} order by {key}"
        ).df()
    except duckdb.CatalogException as exc:
        raise WeightsError(f"no dim_{level} in the warehouse: run `geopanel init` (or `geopanel demo`) first") from exc
    if frame.empty:
        raise WeightsError(f"dim_{level} has no units with boundaries")
    return frame


def known_codes(con: duckdb.DuckDBPyConnection, level: str) -> set[str]:
    key = f"{level}_code"
    return {c for (c,) in con.execute(f"select {key} from main.dim_{level}").fetchall()}


def _unit_set_label(level: str, mainland_only: bool, n: int) -> str:
    return f"dim_{level}{' mainland' if mainland_only else ''}, current units with boundaries ({n})"


def manual_links(con: duckdb.DuckDBPyConnection | None, level: str) -> tuple[pd.DataFrame, str]:
    """The manual links for a level: reference.manual_links (dbt seed) if built, else seeds/manual_links.csv."""
    from warehouse.settings import SEEDS_DIR

    frame, source = None, ""
    if con is not None:
        try:
            frame = con.execute("select * from reference.manual_links").df()
            source = "reference.manual_links"
        except duckdb.Error:
            frame = None
    if frame is None:
        path = SEEDS_DIR / "manual_links.csv"
        frame = pd.read_csv(path, dtype=str) if path.exists() else pd.DataFrame(
            columns=["level", "focal_code", "neighbor_code"])
        source = "seeds/manual_links.csv"
    frame = frame[frame["level"] == level][["focal_code", "neighbor_code"]].astype(str)
    return frame.reset_index(drop=True), source


def panel_means(con: duckdb.DuckDBPyConnection, level: str, variable: str, years: tuple[int, int] | None,
                table: str | None = None) -> pd.Series:
    """Period mean of `variable` per unit code from `fct_<level>_year` (or `table`)."""
    table = table or f"main.fct_{level}_year"
    key = f"{level}_code"
    cols = {r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()}
    if variable not in cols:
        raise WeightsError(f"{table} has no column {variable!r}")
    where = f"where year between {int(years[0])} and {int(years[1])}" if years else ""
    frame = con.execute(f"select {key} as code, avg({variable}) as mean from {table} {where} group by 1").df()
    return frame.set_index("code")["mean"]


def build_weights(con: duckdb.DuckDBPyConnection, kind: str, level: str, *, row_standardise: bool = True,
                  islands: str = "knn", k: int | None = None, power: float | None = None,
                  cutoff_km: float | None = None, threshold_km: float | None = None, points: str = "centroid",
                  variable: str | None = None, years: tuple[int, int] | None = None, base: str | None = None,
                  mainland_only: bool = True, path: str | Path | None = None, fmt: str | None = None,
                  ids_file: str | Path | None = None, boundary_file: str | Path | None = None,
                  id_column: str | None = None) -> SpatialWeights:
    """Build a matrix of `kind` over the units of `level` (dim_<level>, or a user's boundary file).

    kinds: queen, rook, knn, distance_band, inverse_distance (power 1 or 2 …), economic_distance,
    nested_economic_geographic (base = a stored geographic matrix), import (path = GAL/GWT/CSV).
    """
    if boundary_file is not None:
        return _build_from_file(kind, level, boundary_file, id_column or "code", row_standardise=row_standardise,
                                islands=islands, k=k, power=power, cutoff_km=cutoff_km, threshold_km=threshold_km)
    if kind == "import":
        if path is None:
            raise WeightsError("import needs the matrix file (--file)")
        ids = None
        if ids_file is not None:
            ids = [line.strip() for line in Path(ids_file).read_text(encoding="utf-8").splitlines() if line.strip()]
        w = read_matrix_file(path, fmt=fmt, level=level, ids=ids)
        if level in LEVELS:
            check_codes(w, known_codes(con, level), f"dim_{level}")
        w.params["row_standardised"] = bool(row_standardise)
        w.unit_set = f"codes of {Path(path).name} ({w.n})"
        return w.row_standardise() if row_standardise else w
    if kind == "nested_economic_geographic":
        if not base or not variable:
            raise WeightsError("the nested matrix needs --base (a stored geographic matrix, e.g. invdist2_province) "
                               "and --variable (e.g. gdp)")
        geo, _ = load_weights(con, base)
        if geo.transform == "R":
            warnings.warn(f"base matrix {base!r} is row-standardised; the paper's W_d is usually not", stacklevel=2)
        means = panel_means(con, geo.level or level, variable, years)
        return builders.nested_economic_geographic(
            geo, means.reindex(geo.ids).to_numpy(), row_standardise=row_standardise, variable=variable,
            years=list(years) if years else None, base_name=base)
    units = level_units(con, level, mainland_only=mainland_only, with_geometry=kind in ("queen", "rook"))
    label = _unit_set_label(level, mainland_only, len(units))
    lon, lat = _points(units, level, points)
    ids = units["code"].tolist()
    if kind in ("queen", "rook"):
        import geopandas as gpd
        import shapely

        gdf = gpd.GeoDataFrame(units.drop(columns="geometry"),
                               geometry=shapely.from_wkb([bytes(g) for g in units["geometry"]]), crs=4490)
        links, source = manual_links(con, level)
        w = builders.contiguity(gdf, id_column="code", rule=kind, islands=islands, k=k or 1, manual_links=links,
                                row_standardise=row_standardise, level=level, lon=lon, lat=lat, unit_set=label)
        if islands == "manual":
            w.params["manual_links_source"] = source
        return w
    if kind == "knn":
        return builders.knn(ids, lon, lat, k=k or 5, row_standardise=row_standardise, level=level, points=points,
                            unit_set=label)
    if kind == "distance_band":
        if threshold_km is None:
            raise WeightsError("distance_band needs --threshold (km)")
        return builders.distance_band(ids, lon, lat, threshold_km, islands=islands, k=k or 1,
                                      row_standardise=row_standardise, level=level, points=points, unit_set=label)
    if kind in ("inverse_distance", "inverse_distance_squared"):
        power = power if power is not None else (2.0 if kind == "inverse_distance_squared" else 1.0)
        return builders.inverse_distance(ids, lon, lat, power=power, cutoff_km=cutoff_km,
                                         row_standardise=row_standardise, level=level, points=points, unit_set=label)
    if kind == "economic_distance":
        if not variable:
            raise WeightsError("economic_distance needs --variable (e.g. gdp) and usually --years")
        means = panel_means(con, level, variable, years)
        return builders.economic_distance(ids, means.reindex(ids).to_numpy(), row_standardise=row_standardise,
                                          level=level, variable=variable, years=list(years) if years else None,
                                          unit_set=label)
    raise WeightsError(f"unknown kind {kind!r}: use queen, rook, knn, distance_band, inverse_distance, "
                       "inverse_distance_squared, economic_distance, nested_economic_geographic or import")


def _points(units: pd.DataFrame, level: str, points: str) -> tuple[np.ndarray, np.ndarray]:
    if points == "centroid":
        return units["centroid_lon"].to_numpy(float), units["centroid_lat"].to_numpy(float)
    if points == "capital":
        if level != "province":
            raise WeightsError("--points capital is available for provinces (provincial capitals); "
                               "use centroid for other levels")
        return units["capital_lon"].to_numpy(float), units["capital_lat"].to_numpy(float)
    raise WeightsError(f"--points {points!r}: use centroid or capital")


def _build_from_file(kind: str, level: str, boundary_file: str | Path, id_column: str, **kw) -> SpatialWeights:
    """Weights over a user's own polygons (any codes, any country): contiguity or point distances."""
    import geopandas as gpd

    path = Path(boundary_file)
    if not path.exists():
        raise WeightsError(f"{path}: boundary file not found")
    gdf = gpd.read_file(path)
    if id_column not in gdf.columns:
        raise WeightsError(f"{path}: no column {id_column!r}; columns are "
                           f"{[c for c in gdf.columns if c != 'geometry']}")
    gdf[id_column] = gdf[id_column].map(lambda v: str(v).removesuffix(".0"))
    if gdf[id_column].duplicated().any():
        first = gdf.loc[gdf[id_column].duplicated(), id_column].iloc[0]
        raise WeightsError(f"{path}: {id_column} repeats codes ({first})")
    gdf, repaired = _valid_polygons(gdf, path, id_column, polygons_only=kind in ("queen", "rook"))
    label = f"{path.name} ({len(gdf)})"
    lon, lat = builders._centroid_points(gdf.to_crs(4326) if gdf.crs is not None else gdf)
    ids = gdf[id_column].tolist()
    rs, islands, k = kw["row_standardise"], kw["islands"], kw["k"]
    if kind in ("queen", "rook"):
        w = builders.contiguity(gdf, id_column=id_column, rule=kind, islands=islands, k=k or 1,
                                row_standardise=rs, level=level, lon=lon, lat=lat, unit_set=label)
    elif kind == "knn":
        w = builders.knn(ids, lon, lat, k=k or 5, row_standardise=rs, level=level, unit_set=label)
    elif kind == "distance_band":
        if kw["threshold_km"] is None:
            raise WeightsError("distance_band needs --threshold (km)")
        w = builders.distance_band(ids, lon, lat, kw["threshold_km"], islands=islands, k=k or 1,
                                   row_standardise=rs, level=level, unit_set=label)
    elif kind in ("inverse_distance", "inverse_distance_squared"):
        power = kw["power"] or (2.0 if kind == "inverse_distance_squared" else 1.0)
        w = builders.inverse_distance(ids, lon, lat, power=power, cutoff_km=kw["cutoff_km"], row_standardise=rs,
                                      level=level, unit_set=label)
    else:
        raise WeightsError(f"kind {kind!r} is not available for a boundary file; use queen, rook, knn, "
                           "distance_band or inverse_distance")
    w.params["boundary_file"] = str(path)
    w.params["id_column"] = id_column
    if repaired:
        w.params["repaired_ids"] = repaired
    return w


def _valid_polygons(gdf, path: Path, id_column: str, polygons_only: bool) -> tuple[object, list[str]]:
    """A user's polygons made fit for contiguity: units without a geometry (or, for contiguity, without a
    polygon) are refused by id; invalid polygons (bow-ties, spikes, self-touching rings) are repaired with
    shapely.make_valid keeping only their polygon parts (geo.boundaries' rule), and a note names them —
    an invalid ring's vertices would otherwise make silent wrong neighbours (a spike touching a far unit)."""
    import shapely

    from geo.boundaries import _polygonal_part

    def ids(mask) -> str:
        return _preview(gdf.loc[mask, id_column].tolist())

    geoms = gdf.geometry
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    if empty.any():
        raise WeightsError(f"{path}: {id_column} {ids(empty)} have no geometry; give each unit its polygon or "
                           "remove it from the file")
    if polygons_only:
        other = ~geoms.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
        if other.any():
            kinds = ", ".join(sorted(set(geoms[other].geom_type)))
            raise WeightsError(f"{path}: {id_column} {ids(other)} are not polygons ({kinds}); contiguity needs "
                               "polygons — use --kind knn or distance_band for points")
    invalid = ~geoms.is_valid.to_numpy()
    if not invalid.any():
        return gdf, []
    reasons = sorted({shapely.is_valid_reason(g).split("[")[0] for g in geoms[invalid]})
    fixed = [_polygonal_part(g) for g in shapely.make_valid(geoms[invalid].to_numpy())]
    lost = [code for code, g in zip(gdf.loc[invalid, id_column], fixed, strict=True) if g.is_empty or g.area == 0]
    if lost:
        raise WeightsError(f"{path}: {id_column} {_preview(lost)} have invalid polygons with no area left after "
                           "repair; fix them in a GIS (or remove them) and run again")
    gdf = gdf.copy()
    gdf.loc[invalid, gdf.geometry.name] = fixed
    repaired = gdf.loc[invalid, id_column].tolist()
    warnings.warn(f"{path.name}: repaired {len(repaired)} invalid polygon(s) ({'; '.join(reasons)}) with "
                  f"shapely.make_valid, keeping their polygon parts: {id_column} {_preview(repaired)}; "
                  "check them in a GIS", stacklevel=3)
    return gdf, repaired
