"""Plant one defect of each kind in a COPY of a warehouse, to show each is caught by exactly its check.

`plant_defects(db)` changes the file in place (never call it on a warehouse you want to keep) and returns
what it planted and which check must catch it. The unmapped city name goes through the real ingest path
(a one-row yearbook file); the island is cut out of a contiguity matrix (one is built from dim_province
when the warehouse has none), with the neighbours' rows re-standardised as a builder would have left them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from warehouse.db import connection, table_exists
from warehouse.ingest import ingest_file, load_mapping

BOWTIE = shapely.to_wkb(shapely.Polygon([(113, 30), (115, 32), (115, 30), (113, 32), (113, 30)]))
UNMAPPED_NAME = "新罗马市"


@dataclass(frozen=True)
class Defect:
    """A planted defect: what, where, and the check that must report it."""

    what: str
    check: str
    table: str
    column: str | None
    unit: str
    year: int | None


def plant_defects(db: str | Path, work_dir: str | Path) -> list[Defect]:
    """Plant the seven defects in `db` (a copy!); `work_dir` receives the one-row yearbook file."""
    with connection(db) as con:
        cities = con.execute(
            "select city_code from main.fct_city_year where gdp is not null group by city_code "
            "having min(year) <= 2005 and max(year) = 2023 order by city_code").fetchall()
        dup, jump, gap = (c[0] for c in cities[:3])
        con.execute("insert into main.fct_city_year select * from main.fct_city_year "
                    "where city_code = ? and year = 2012", [dup])
        con.execute("update main.fct_city_year set gdp = gdp * 10000 where city_code = ? and year = 2015", [jump])
        con.execute("delete from main.fct_city_year where city_code = ? and year = 2010", [gap])
        bad_geom = con.execute("select min(city_code) from main.dim_city where is_current and geometry is not null "
                               "and city_code not in (?, ?, ?)", [dup, jump, gap]).fetchone()[0]
        con.execute("update main.dim_city set geometry = ? where city_code = ?", [BOWTIE, bad_geom])
        share_unit = con.execute("select min(province_code) from main.fct_province_year "
                                 "where urbanization_rate is not null and year = 2018").fetchone()[0]
        con.execute("update main.fct_province_year set urbanization_rate = 1.3 where province_code = ? "
                    "and year = 2018", [share_unit])
        w_name, island = _cut_island(con)
        csv = Path(work_dir) / "unmapped_city.csv"
        # with one row already loaded (a duplicate), since a file of which nothing loads is refused
        known, value = con.execute("select unit_label, source_value from raw.city_economy where year = 2015 and "
                                   "variable = 'gdp' order by unit_code limit 1").fetchone()
        csv.write_text(f"地区,年份,地区生产总值\n{known},2015,{value}\n{UNMAPPED_NAME},2015,123.4\n",
                       encoding="utf-8")
        mapping = csv.with_name(csv.name + ".yml")
        mapping.write_text("table: city_economy\nlevel: city\nshape: long\nunit: {name: 地区}\nyear: 年份\n"
                           "synthetic: true\nvariables:\n  地区生产总值: {name: gdp, unit: 亿元}\n", encoding="utf-8")
        ingest_file(con, csv, load_mapping(mapping))
    return [
        Defect("duplicate unit-year", "unique_key", "main.fct_city_year", "city_code, year", dup, 2012),
        Defect("万元/亿元 jump", "unit_jump", "main.fct_city_year", "gdp", jump, 2015),
        Defect("missing year", "year_gaps", "main.fct_city_year", "year", gap, 2010),
        Defect("invalid polygon", "geometry_valid", "main.dim_city", "geometry", bad_geom, None),
        Defect("island in a contiguity matrix", "weights_islands", "weights.w_edges", w_name, island, None),
        Defect("unmapped city name", "unmapped_units", "raw.rejects", "unit_label", UNMAPPED_NAME, 2015),
        Defect("share above 1", "share", "main.fct_province_year", "urbanization_rate", share_unit, 2018),
    ]


def _cut_island(con) -> tuple[str, str]:
    """Remove every link of one unit from a contiguity matrix (whose removal splits nothing else)."""
    if not table_exists(con, "weights.w_catalog") or not con.execute(
            "select count(*) from weights.w_catalog where kind ilike '%queen%' or kind ilike '%rook%' "
            "or kind ilike '%contig%'").fetchone()[0]:
        _province_queen(con)
    w_name, transform = con.execute(
        "select w_name, transform from weights.w_catalog where kind ilike '%queen%' or kind ilike '%rook%' "
        "or kind ilike '%contig%' order by w_name limit 1").fetchone()
    edges = con.execute("select focal, neighbor, weight from weights.w_edges where w_name = ? and focal <> neighbor",
                        [w_name]).df()
    units = sorted(set(edges["focal"]) | set(edges["neighbor"]))
    base = _components(edges, units)
    degree = edges.groupby("focal").size().sort_values(ascending=False)
    island = next(u for u in degree.index if _components(
        edges[(edges.focal != u) & (edges.neighbor != u)], [x for x in units if x != u]) == base)
    con.execute("delete from weights.w_edges where w_name = ? and (focal = ? or neighbor = ?)",
                [w_name, island, island])
    if str(transform).strip().lower() in {"r", "row", "row_standardised", "row-standardised"}:
        con.execute("""update weights.w_edges as e set weight = e.weight / s.total
                       from (select focal, sum(weight) as total from weights.w_edges where w_name = $1 group by focal) s
                       where e.w_name = $1 and e.focal = s.focal""", [w_name])
    con.execute("update weights.w_catalog set n_links = (select count(*) from weights.w_edges where w_name = $1) "
                "where w_name = $1", [w_name])
    return w_name, island


def _components(edges: pd.DataFrame, units: list[str]) -> int:
    index = {u: i for i, u in enumerate(units)}
    graph = sparse.coo_matrix((np.ones(len(edges)), (edges["focal"].map(index), edges["neighbor"].map(index))),
                              shape=(len(units), len(units)))
    return connected_components(graph, directed=False)[0]


def _province_queen(con) -> None:
    """A row-standardised queen contiguity of the mainland provinces (shapely), Hainan a declared island."""
    dims = con.execute("select province_code, geometry from main.dim_province where is_mainland "
                       "and geometry is not null order by province_code").df()
    geoms = shapely.from_wkb([bytes(g) for g in dims["geometry"]])
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left != right
    codes = dims["province_code"].to_numpy()
    edges = pd.DataFrame({"focal": codes[left[keep]], "neighbor": codes[right[keep]]})
    edges["weight"] = 1.0 / edges.groupby("focal")["focal"].transform("size")
    islands = sorted(set(codes) - set(edges["focal"]))
    con.execute("create table if not exists weights.w_edges (w_name varchar, focal varchar, neighbor varchar, "
                "weight double)")
    con.execute("create table if not exists weights.w_catalog (w_name varchar, kind varchar, params varchar, "
                "level varchar, n integer, n_links bigint, islands integer, island_codes varchar, "
                "components integer, transform varchar, built_at timestamp)")
    con.register("_queen_edges", edges)
    con.execute("insert into weights.w_edges select 'queen_province_test', focal, neighbor, weight from _queen_edges")
    con.unregister("_queen_edges")
    con.execute("insert into weights.w_catalog by name select 'queen_province_test' as w_name, 'queen' as kind, "
                "'{}' as params, 'province' as level, ? as n, ? as n_links, ? as islands, ? as island_codes, "
                "? as components, 'R' as transform, ? as built_at",
                [len(codes), len(edges), len(islands), ",".join(islands),
                 _components(edges, sorted(set(codes) - set(islands))) + len(islands),
                 datetime.now(UTC).replace(tzinfo=None)])
