"""The variable registry and the catalog of raw tables: variables are data, not project edits.

A variable is (level, name) with its unit of measure, dimension, Chinese and English label, description,
source and an optional plausible range (plausible_min, plausible_max in its unit, and where the range
comes from): ingest refuses a file with a value two orders of magnitude outside it, because that is a
unit mistake (a file in 元 mapped as 亿元), not an outlier. The standard ones ship in
`seeds/variables.csv`; ingest registers every other variable a mapping names in `meta.variables` (with the
file that did), and `meta.raw_tables` records each raw table
and its level. The panels `fct_<level>_year` pivot every registered variable of every raw table of that
level (`macros/panels.sql`), so a new table or variable reaches the panel after `geopanel build` with no
file of the project edited.

This module also creates the ingest bookkeeping tables (log, rejects, excluded rows, revisions,
acknowledged rejects), so that `geopanel init` and ingest agree on their columns.
"""

from __future__ import annotations

from functools import cache

import duckdb
import pandas as pd

from warehouse.db import table_exists
from warehouse.settings import SEEDS_DIR

VARIABLES_CSV = SEEDS_DIR / "variables.csv"
RAW_COLUMNS = """
    unit_label varchar, unit_code varchar, year integer, variable varchar, value double, unit varchar,
    source_value varchar, source_unit varchar, _source_file varchar, _sheet varchar, _row integer,
    _loaded_at timestamp, _content_hash varchar, _synthetic boolean
"""
BOOKKEEPING = {
    "meta.variables": """level varchar, name varchar, unit varchar, dimension varchar, label_zh varchar,
        label_en varchar, description varchar, source varchar, registered_by varchar, registered_from varchar,
        registered_at timestamp""",
    "meta.raw_tables": "table_name varchar, level varchar, created_at timestamp",
    "raw.rejects": """table_name varchar, level varchar, unit_label varchar, year integer, variable varchar,
        source_value varchar, reason varchar, _source_file varchar, _sheet varchar, _row integer,
        _loaded_at timestamp, _content_hash varchar, reason_code varchar""",
    "raw.excluded_rows": """table_name varchar, unit_label varchar, kind varchar, reason varchar,
        _source_file varchar, _sheet varchar, _row integer, _content_hash varchar""",
    "raw.revisions": """table_name varchar, level varchar, unit_code varchar, year integer, variable varchar,
        old_value double, old_hash varchar, new_value double, new_hash varchar, kind varchar,
        _source_file varchar, recorded_at timestamp""",
    "raw.reject_acks": "reason_code varchar, _content_hash varchar, note varchar, acked_at timestamp",
    "raw.ingest_log": """table_name varchar, level varchar, _source_file varchar, _content_hash varchar,
        encoding varchar, rows_loaded integer, rows_duplicate integer, rows_rejected integer,
        cells_empty integer, _loaded_at timestamp, _synthetic boolean, mapping varchar""",
}
# columns added after the first warehouses were made: added in place so old warehouses keep working
ADDED_COLUMNS = {
    "raw.rejects": {"reason_code": "varchar"},
    "meta.raw_tables": {"keys": "varchar default ''"},
    "meta.variables": {"grain": "varchar default ''", "plausible_min": "double", "plausible_max": "double",
                       "plausible_source": "varchar"},
    "raw.ingest_log": {"status": "varchar default 'loaded'", "source_path": "varchar", "mapping_text": "varchar",
                       "rows_excluded": "integer", "rows_revised": "integer", "unloaded_at": "timestamp"},
}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the registry and bookkeeping tables (and columns added since) where missing."""
    for table, ddl in BOOKKEEPING.items():
        con.execute(f"create table if not exists {table} ({ddl})")
    for table, columns in ADDED_COLUMNS.items():
        for column, kind in columns.items():
            con.execute(f"alter table {table} add column if not exists {column} {kind}")


@cache
def standard_variables() -> pd.DataFrame:
    """The variables shipped with the project (seeds/variables.csv)."""
    return pd.read_csv(VARIABLES_CSV, dtype=str, keep_default_na=False)


def registered(con: duckdb.DuckDBPyConnection, level: str, grain: str = "") -> dict[str, dict]:
    """Every variable of a level and grain ('' = unit × year; 'industry', 'firm' … for keyed tables), by name:
    the standard ones, then those ingest registered."""
    std = standard_variables()
    out = {} if grain else {r["name"]: dict(r, origin="seeds/variables.csv")
                            for r in std[std["level"] == level].to_dict("records")}
    if table_exists(con, "meta.variables"):
        has_grain = "grain" in {c[0] for c in con.execute("describe meta.variables").fetchall()}
        where = "and coalesce(grain, '') = ?" if has_grain else "and ? = ''"
        for r in con.execute(f"select * from meta.variables where level = ? {where}", [level, grain]).df() \
                .to_dict("records"):
            out.setdefault(r["name"], dict(r, origin=r["registered_from"]))
    return out


def table_grain(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, str] | None:
    """(level, keys) of a raw table — keys '' for unit × year, e.g. 'industry' for unit × industry × year —
    or None for a new table."""
    std = standard_variables()
    hit = std.loc[std["source_table"] == table, "level"]
    if len(hit):
        return str(hit.iloc[0]), ""
    if table_exists(con, "meta.raw_tables"):
        has_keys = "keys" in {c[0] for c in con.execute("describe meta.raw_tables").fetchall()}
        keys = "coalesce(keys, '')" if has_keys else "''"
        row = con.execute(f"select level, {keys} from meta.raw_tables where table_name = ?", [table]).fetchone()
        return (row[0], row[1]) if row else None
    return None


def level_tables(con: duckdb.DuckDBPyConnection, level: str, grain: str = "") -> list[str]:
    """Raw tables of a level and grain that exist in the warehouse."""
    std = standard_variables()
    names = set() if grain else set(std.loc[std["level"] == level, "source_table"])
    if table_exists(con, "meta.raw_tables"):
        has_keys = "keys" in {c[0] for c in con.execute("describe meta.raw_tables").fetchall()}
        where = "and coalesce(keys, '') = ?" if has_keys else "and ? = ''"
        names |= {r[0] for r in con.execute(f"select table_name from meta.raw_tables where level = ? {where}",
                                            [level, grain]).fetchall()}
    return sorted(t for t in names if table_exists(con, f"raw.{t}"))


def create_standard_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The raw tables of the standard variables and their catalog rows (what `geopanel init` makes)."""
    ensure_tables(con)
    pairs = standard_variables()[["source_table", "level"]].drop_duplicates()
    for table, level in pairs.itertuples(index=False):
        con.execute(f"create table if not exists raw.{table} ({RAW_COLUMNS})")
        register_table(con, table, level)


def register_table(con: duckdb.DuckDBPyConnection, table: str, level: str, keys: str = "") -> None:
    if not con.execute("select count(*) from meta.raw_tables where table_name = ?", [table]).fetchone()[0]:
        con.execute("insert into meta.raw_tables (table_name, level, created_at, keys) "
                    "values (?, ?, current_timestamp, ?)", [table, level, keys])


def variables_frame(con: duckdb.DuckDBPyConnection, level: str | None = None) -> pd.DataFrame:
    """The registry as a table (for `geopanel variables`): level, name, unit, labels, where it came from."""
    levels = [level] if level else ["province", "city", "county"]
    rows = []
    for lv in levels:
        for name, r in registered(con, lv).items():
            rows.append({"level": lv, "name": name, "unit": r.get("unit"), "label_zh": r.get("label_zh"),
                         "label_en": r.get("label_en"), "origin": r.get("origin")})
    return pd.DataFrame(rows)
