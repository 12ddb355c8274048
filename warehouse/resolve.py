"""Resolve unit labels from data files (names, short names, codes, historical names) to warehouse unit codes.

A label is looked up at every level in `main.dim_unit_crosswalk` (plus the user aliases in `raw.unit_aliases`,
read directly so that `add_alias` works for the next ingest without a rebuild), and the outcome is one of:

- 'unit': exactly one unit of the file's level, and no unit of a higher level that the label could also mean;
- 'total': the label names only a higher-level unit (a province subtotal 河北 in a city table, a city subtotal
  南京市 or 市辖区 in a county table, 全国 / 合计 anywhere); the row is not data of this level;
- 'reject': anything else, with a message that says what to write instead — an ambiguous label (吉林 at city
  level is both 吉林省 and 吉林市; write one of them), a label that names only a lower-level unit (仙桃 at
  city level), several units of the level, or no unit at all in that year.

Municipalities (北京, 上海, 天津, 重庆) are one unit at province and city level with the same code, so they
resolve at city level as before. Province-administered county-level units (仙桃, 潜江, 天门, 神农架林区, 济源,
Hainan's 五指山/琼海/…, Xinjiang's 石河子/…) exist only in `dim_county`, under their province. `dim_city`
has no city-level unit for any of them, 济源 (419001) included (its only row is the county-level one), so at
city level they are rejected with their county code and "load it with level: county"; they are never folded
into a prefecture. Should `dim_city` gain such units, the label resolves at city level like any other.

`check_level` refuses a file whose labels mostly name units of another level (a province table loaded with
level: city). `add_alias` / `list_aliases` / `remove_alias` manage `raw.unit_aliases`; a user alias counts like a
full name, so it outranks short names at any level (adding 吉林 for 吉林市 makes 吉林 mean the city in city tables).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import duckdb
import pandas as pd

from warehouse.db import table_exists
from warehouse.errors import IngestError

LEVELS = ("province", "city", "county")
PLURAL = {"province": "provinces", "city": "cities", "county": "counties"}
TIER_ONE_KINDS = ("code", "name", "old_code", "old_name", "user_alias")
# yearbook rows that are sums of the rows around them, whatever the level (unless a unit has that name)
TOTAL_LABELS = {
    "全国": "national total", "全国合计": "national total", "全国总计": "national total",
    "合计": "total", "总计": "total", "总计合计": "total", "全省": "province total", "全省合计": "province total",
    "全市": "city total", "全市合计": "city total", "全区": "region total", "全州": "prefecture total",
    "全盟": "league total", "全地区": "prefecture total", "市辖区": "urban districts (市辖区) subtotal",
    "市区": "urban districts (市区) subtotal", "全县": "county total", "县合计": "counties subtotal",
}
ALIAS_COLUMNS = """
    alias varchar, level varchar, unit_code varchar, valid_from integer, valid_to integer, note varchar,
    added_at timestamp
"""
FIRST, LAST = 1949, 9999
OUTPUT_COLUMNS = ("unit_code", "status", "reason", "matched_level")


def _crosswalk_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The crosswalk, plus raw.unit_aliases when it exists (parent codes taken from the unit's code row)."""
    sql = ("select level, alias, alias_kind, unit_code, parent_code, valid_from, valid_to "
           "from main.dim_unit_crosswalk")
    if table_exists(con, "raw.unit_aliases"):
        sql += f"""
            union all
            select a.level, a.alias, 'user_alias', a.unit_code, c.parent_code,
                   coalesce(a.valid_from, {FIRST}), coalesce(a.valid_to, {LAST})
            from raw.unit_aliases as a
            inner join (select distinct level, unit_code, parent_code from main.dim_unit_crosswalk
                        where alias_kind = 'code') as c using (level, unit_code)"""
    return sql


def _require_crosswalk(con: duckdb.DuckDBPyConnection) -> None:
    if not table_exists(con, "main.dim_unit_crosswalk"):
        raise IngestError(
            "the warehouse has no dim_unit_crosswalk yet; run `geopanel init` (or `geopanel demo`) first"
        )


def _candidates(con: duckdb.DuckDBPyConnection, keys: pd.DataFrame) -> pd.DataFrame:
    """Every unit at every level a (label, parent, year) may mean, with its tier and whether the parent fits."""
    con.register("resolve_labels", keys)
    try:
        return con.execute(
            f"""
            with xw as ({_crosswalk_sql(con)}),
            names as (
                -- the latest full name of each unit, for messages
                select level, unit_code, arg_max(alias, valid_to) as unit_name
                from xw where alias_kind in ('name', 'old_name') group by all
            ),
            parents as (
                select distinct l.parent_label, p.unit_code
                from (select distinct parent_label from resolve_labels where parent_label is not null) as l
                inner join xw as p on p.alias = l.parent_label
            ),
            matches as (
                select l.unit_label, l.parent_label, l.year, x.level, x.unit_code, x.parent_code,
                       case when x.alias_kind in {TIER_ONE_KINDS} then 1 else 2 end as tier,
                       -- a unit of the file's level (or below): the parent may be printed as the city or the province
                       l.parent_label is null or exists (
                           select 1 from parents as p where p.parent_label = l.parent_label
                               and p.unit_code in (x.parent_code, left(x.unit_code, 2) || '0000')) as parent_fits,
                       -- a higher-level unit (a subtotal row): a parent label must be the unit's own parent
                       -- (or, for a province, the province itself)
                       l.parent_label is null or exists (
                           select 1 from parents as p where p.parent_label = l.parent_label
                               and p.unit_code = coalesce(x.parent_code, x.unit_code)) as parent_fits_above
                from resolve_labels as l
                inner join xw as x on x.alias = l.unit_label and l.year between x.valid_from and x.valid_to
            )
            select m.unit_label, m.parent_label, m.year, m.level, m.unit_code, n.unit_name,
                   min(m.tier) as tier, bool_or(m.parent_fits) as parent_fits,
                   bool_or(m.parent_fits_above) as parent_fits_above,
                   coalesce(bool_or(c.is_province_administered), false) as province_administered,
                   -- what `_decide` reads of a candidate, as text (years whose candidates read alike decide alike)
                   concat_ws('|', m.level, m.unit_code, coalesce(n.unit_name, ''), min(m.tier), bool_or(m.parent_fits),
                             bool_or(m.parent_fits_above), coalesce(bool_or(c.is_province_administered), false)) as sig
            from matches as m
            left join names as n on n.level = m.level and n.unit_code = m.unit_code
            left join main.dim_county as c on m.level = 'county' and c.county_code = m.unit_code
            group by m.unit_label, m.parent_label, m.year, m.level, m.unit_code, n.unit_name
            order by m.unit_label, m.parent_label, m.year, m.level, m.unit_code
            """
        ).df()
    finally:
        con.unregister("resolve_labels")


def _windows(con: duckdb.DuckDBPyConnection, level: str) -> dict[str, str]:
    """Labels of this level with the years they are valid: '1949–2011' (for 'not valid in that year')."""
    rows = con.execute(
        f"""select alias, string_agg(distinct span, ', ' order by span)
            from (select alias, valid_from || '–' || valid_to as span from ({_crosswalk_sql(con)}) where level = ?)
            group by alias""",
        [level],
    ).fetchall()
    return dict(rows)


def _county_kind(name: str | None) -> str:
    """'county-level city' for 仙桃市, 'forestry district' for 神农架林区, 'county' for 定安县."""
    for suffix, kind in (("林区", "forestry district"), ("市", "county-level city"), ("县", "county")):
        if (name or "").endswith(suffix):
            return kind
    return "county-level unit"


def _describe(units: list[dict]) -> str:
    """'the province 吉林省 (220000) and the city 吉林市 (220200)'."""
    parts = [f"the {u['level']} {u['unit_name'] or u['unit_code']} ({u['unit_code']})" for u in units]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _decide(label: str, parent: object, year: object, level: str, cands: list[dict],
            windows: dict[str, str]) -> tuple[object, str, object, object]:
    """(unit_code, status, reason, matched_level) for one label in one year."""
    rank = LEVELS.index(level)
    table = f"a {level} table"
    if not isinstance(label, str) or not label or label.lower() == "nan":
        return pd.NA, "reject", f"the row has no {level} label", pd.NA
    if pd.isna(year):
        return pd.NA, "reject", f"{level} '{label}': the row has no valid year", pd.NA
    same = [c for c in cands if c["level"] == level and c["parent_fits"]]
    above = [c for c in cands if LEVELS.index(c["level"]) < rank and c["parent_fits_above"]]
    below = [c for c in cands if LEVELS.index(c["level"]) > rank and c["parent_fits"]]
    # a full name or code beats a short name, across the levels that compete for the label
    best = min((c["tier"] for c in same + above), default=None)
    same = [c for c in same if c["tier"] == best]
    same_codes = sorted({c["unit_code"] for c in same})
    above = [c for c in above if c["tier"] == best and c["unit_code"] not in same_codes]
    # one unit per code, the nearest level first (北京市 is a city and a province with code 110000)
    above = list({c["unit_code"]: c for c in sorted(above, key=lambda c: LEVELS.index(c["level"]))}.values())
    above.sort(key=lambda c: -LEVELS.index(c["level"]))
    where = f" under '{parent}'" if isinstance(parent, str) else ""

    if len(same_codes) > 1:
        units = list({c["unit_code"]: c for c in same}.values())
        return pd.NA, "reject", (f"ambiguous {level} '{label}'{where} in {year}: matches {_describe(units)}; "
                                 f"add a unit.parent column to the mapping or write the full name"), pd.NA
    if same_codes and above:
        unit = next(c for c in same if c["unit_code"] == same_codes[0])
        others = " or ".join(f"{c['unit_name']}" for c in above if c["unit_name"])
        return pd.NA, "reject", (
            f"ambiguous '{label}' in {table}: it names {_describe(above + [unit])}; write {unit['unit_name']} "
            f"for the {level}" + (f", or {others} for the {above[0]['level']} subtotal" if others else "")
        ), above[0]["level"]  # counted by check_level: a province table at city level has many of these
    if same_codes:
        return same_codes[0], "unit", pd.NA, pd.NA
    if len(above) > 1:
        options = " or ".join(f"{c['unit_name']} for the {c['level']} subtotal" for c in above if c["unit_name"])
        return pd.NA, "reject", (f"ambiguous '{label}' in {table}: it names {_describe(above)}, no {level}; "
                                 f"write {options}"), above[0]["level"]
    if above:
        unit = above[0]
        return pd.NA, "total", (f"{unit['level']} subtotal {label} ({unit['unit_name']}, {unit['unit_code']}) "
                                f"in {table}"), unit["level"]
    if label in TOTAL_LABELS:
        return pd.NA, "total", f"{TOTAL_LABELS[label]} row '{label}' in {table}", pd.NA
    below = list({c["unit_code"]: c for c in below}.values())
    hint = ""
    if below:
        nearest = min(LEVELS.index(c["level"]) for c in below)
        below = [c for c in below if LEVELS.index(c["level"]) == nearest]
        hint = f"; in {year} '{label}' is {_describe(below)}"
    if isinstance(windows.get(label), str):
        return pd.NA, "reject", (f"{level} '{label}' is not valid in {year} (valid {windows[label]}){hint}"), pd.NA
    if below:
        lower = below[0]["level"]
        if level == "city" and all(c["province_administered"] for c in below):
            units = ", ".join(f"{_county_kind(c['unit_name'])} {c['unit_name']} ({c['unit_code']})" for c in below)
            return pd.NA, "reject", (f"{label} is a province-administered {units}, with no city-level unit; "
                                     f"load it with level: county"), lower
        return pd.NA, "reject", (f"'{label}'{where} is not a {level} in {year}: it is {_describe(below)}; "
                                 f"load the file with level: {lower}, or fix the label"), lower
    if isinstance(parent, str):
        return pd.NA, "reject", f"no {level} '{label}' under '{parent}' in {year}", pd.NA
    return pd.NA, "reject", f"unknown {level} '{label}': not a code or name in dim_unit_crosswalk", pd.NA


def resolve_units(con: duckdb.DuckDBPyConnection, labels: pd.DataFrame, level: str) -> pd.DataFrame:
    """Resolve (unit_label, parent_label, year) rows at `level`: adds unit_code, status, reason, matched_level.

    status is 'unit' (unit_code set), 'total' (a subtotal of a higher level; reason says which) or 'reject'
    (reason says what to write). matched_level is the other level the label names when it names no unit of
    this one (what `check_level` counts). Labels must already be NFKC-normalised without whitespace.

    >>> resolve_units(con, pd.DataFrame({"unit_label": ["河北", "石家庄"], "parent_label": [pd.NA] * 2,
    ...                                  "year": pd.array([2020, 2020], dtype="Int64")}), "city")
    """
    if level not in LEVELS:
        raise IngestError(f"level '{level}' is not one of {', '.join(LEVELS)}")
    _require_crosswalk(con)
    norm = pd.DataFrame({
        "unit_label": labels["unit_label"].astype("string").to_numpy(),
        "parent_label": labels["parent_label"].astype("string").to_numpy(),
        "year": labels["year"].astype("Int64").to_numpy(),
    })
    keys = norm.drop_duplicates().reset_index(drop=True)
    cands = _candidates(con, keys) if len(keys) else pd.DataFrame(columns=["unit_label", "parent_label", "year",
                                                                            "sig"])
    cands["parent_label"] = cands["parent_label"].astype("string")
    cands["year"] = cands["year"].astype("Int64")
    at = ["unit_label", "parent_label", "year"]
    # a label means the same in every year with the same candidates (a county file repeats each label for 24
    # years): decided once per (label, parent, candidates), except rejects, whose messages name the year
    con.register("resolve_cands", cands[[*at, "level", "unit_code", "sig"]])
    try:
        joined = con.execute("select unit_label, parent_label, year, string_agg(sig, ';' order by level, unit_code) "
                             "as sig from resolve_cands group by all").df()
    finally:
        con.unregister("resolve_cands")
    joined = joined.astype({"unit_label": "string", "parent_label": "string", "year": "Int64"})
    sigs = keys.merge(joined, on=at, how="left")
    sigs["sig"] = sigs["sig"].fillna("").astype(str)
    group = sigs.groupby(["unit_label", "parent_label", "sig"], dropna=False, sort=False).ngroup().to_numpy()
    windows = _windows(con, level)
    rows = list(zip(keys["unit_label"], keys["parent_label"], keys["year"], strict=True))
    by_group: dict[int, tuple] = {}
    decided: list[tuple] = [()] * len(keys)
    pending = list(range(len(keys)))
    for per_key in (False, True):
        wanted = [i for i in pending if per_key or group[i] not in by_group and
                  by_group.setdefault(group[i], ()) == ()]
        chosen = keys.iloc[wanted]
        subset = cands.merge(chosen, on=at, how="inner") if len(chosen) else cands.iloc[:0]
        grouped: dict[tuple, list[dict]] = {}
        for c in subset.to_dict("records"):
            parent = c["parent_label"] if isinstance(c["parent_label"], str) else None
            grouped.setdefault((c["unit_label"], parent, int(c["year"])), []).append(c)
        for i in wanted:
            label, parent, year = rows[i]
            parent = parent if isinstance(parent, str) else None
            year = None if pd.isna(year) else int(year)
            found = grouped.get((label, parent, year), []) if year is not None else []
            decided[i] = _decide(label, parent, pd.NA if year is None else year, level, found, windows)
            if not per_key:
                by_group[group[i]] = decided[i]
        if per_key:
            break
        for i in pending:
            if not decided[i] and by_group[group[i]][1] != "reject" and not pd.isna(rows[i][2]):
                decided[i] = by_group[group[i]]
        pending = [i for i in pending if not decided[i]]
    keys["unit_code"] = pd.array([d[0] for d in decided], dtype="string")
    keys["status"] = pd.array([d[1] for d in decided], dtype="string")
    keys["reason"] = pd.array([d[2] for d in decided], dtype="string")
    keys["matched_level"] = pd.array([d[3] for d in decided], dtype="string")
    # a left merge keeps the order of the left rows; NA keys (no parent) match each other
    found = norm.merge(keys, on=["unit_label", "parent_label", "year"], how="left")
    out = labels.drop(columns=[c for c in OUTPUT_COLUMNS if c in labels.columns])
    for col in OUTPUT_COLUMNS:
        out[col] = found[col].array
    return out


def check_level(resolved: pd.DataFrame, level: str, source: str) -> None:
    """Raise IngestError when most labels name units of another level and none of this one.

    'prov.xlsx: looks like a province table: 25 of 31 labels are provinces, not cities (e.g. 河北省, 山西省,
    内蒙古自治区); use level: province'. Counts distinct labels
    of `resolve_units` output (its matched_level column); an empty frame passes.
    """
    labels = resolved.drop_duplicates("unit_label")
    if labels.empty:
        return
    other = labels.loc[labels["status"] != "unit", "matched_level"].dropna()
    for lv, n in other.value_counts().items():
        if lv != level and n * 2 > len(labels):
            examples = ", ".join(labels.loc[labels["matched_level"] == lv, "unit_label"].head(3))
            raise IngestError(
                f"{source}: looks like a {lv} table: {n} of {len(labels)} labels are {PLURAL[lv]}, not "
                f"{PLURAL[level]} (e.g. {examples}); use level: {lv}"
            )


# ---------------------------------------------------------------- user aliases


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text)).split())


def add_alias(con: duckdb.DuckDBPyConnection, alias: str, code: str, level: str | None = None,
              valid_from: int | None = None, valid_to: int | None = None, note: str = "") -> dict:
    """Record in raw.unit_aliases that `alias` means unit `code` (in valid_from..valid_to, open ends allowed).

    The level is inferred from the code (pass it for a municipality, which is a province and a city). Refused
    with IngestError for an unknown code, or an alias that already means another unit of that level in
    overlapping years. Returns what was stored: alias, level, unit_code, unit_name, valid_from, valid_to, note,
    added (False when the alias already meant that unit) and message.
    """
    _require_crosswalk(con)
    alias, code = _norm(alias), _norm(code)
    if not alias:
        raise IngestError("an alias must not be empty")
    if valid_from is not None and valid_to is not None and valid_from > valid_to:
        raise IngestError(f"alias '{alias}': valid_from {valid_from} is after valid_to {valid_to}")
    units = con.execute(
        """select c.level, c.unit_code, max(n.alias) filter (n.alias_kind = 'name') as name
           from main.dim_unit_crosswalk as c
           left join main.dim_unit_crosswalk as n
               on n.level = c.level and n.unit_code = c.unit_code and n.alias_kind in ('name', 'old_name')
           where c.alias_kind = 'code' and c.unit_code = ?
           group by all order by c.level""",
        [code],
    ).fetchall()
    units = [u for u in units if level is None or u[0] == level]
    if not units:
        at = f" at level {level}" if level else ""
        raise IngestError(f"unknown unit code '{code}'{at}: not in dim_unit_crosswalk; "
                          f"look it up with `geopanel sql \"select * from dim_unit_crosswalk where alias = '...'\"`")
    if len(units) > 1:
        levels = [u[0] for u in sorted(units, key=lambda u: LEVELS.index(u[0]))]
        raise IngestError(f"code {code} ({units[0][2]}) is a unit at {' and '.join(levels)} level; "
                          f"say which level the alias is for ({' or '.join(levels)})")
    level, _, name = units[0]
    lo, hi = valid_from or FIRST, valid_to or LAST
    known = con.execute(
        f"""with xw as ({_crosswalk_sql(con)}),
            names as (select level, unit_code, arg_max(alias, valid_to) as unit_name
                      from xw where alias_kind in ('name', 'old_name') group by all)
            select x.level, x.unit_code, n.unit_name, x.valid_from, x.valid_to, x.alias_kind in {TIER_ONE_KINDS}
            from xw as x left join names as n using (level, unit_code)
            where x.alias = ? and x.valid_from <= ? and x.valid_to >= ? order by x.level, x.unit_code""",
        [alias, hi, lo],
    ).fetchall()
    other = [k for k in known if k[0] == level and k[1] != code]
    if other:
        means = ", ".join(f"{k[2]} ({k[1]}) in {k[3]}–{k[4]}" for k in other)
        raise IngestError(f"alias '{alias}' already means another {level}: {means}, in years overlapping "
                          f"{lo}–{hi}; pick another alias or narrow valid_from/valid_to")
    result = {"alias": alias, "level": level, "unit_code": code, "unit_name": name, "valid_from": valid_from,
              "valid_to": valid_to, "note": note}
    if any(k[0] == level and k[3] <= lo and k[4] >= hi and k[5] for k in known):
        return result | {"added": False, "message": f"'{alias}' already resolves to {name} ({code}); nothing added"}
    con.execute(f"create table if not exists raw.unit_aliases ({ALIAS_COLUMNS})")
    con.execute(
        "insert into raw.unit_aliases values (?, ?, ?, ?, ?, ?, ?)",
        [alias, level, code, valid_from, valid_to, note, datetime.now(UTC).replace(tzinfo=None)],
    )
    span = f" in {lo}–{hi}" if (valid_from or valid_to) else ""
    elsewhere = list({k[1]: k for k in known if k[0] != level}.values())
    also = (f" (it also names {_describe([dict(level=k[0], unit_code=k[1], unit_name=k[2]) for k in elsewhere])};"
            f" in {level} tables it now means {name})") if elsewhere else ""
    return result | {"added": True, "message": f"'{alias}' now resolves to {level} {name} ({code}){span}{also}"}


def remove_alias(con: duckdb.DuckDBPyConnection, alias: str, level: str | None = None) -> int:
    """Delete a user alias from raw.unit_aliases (at one level or all); returns how many rows went."""
    alias = _norm(alias)
    if not table_exists(con, "raw.unit_aliases"):
        return 0
    where, params = "alias = ?", [alias]
    if level is not None:
        where, params = where + " and level = ?", params + [level]
    n = con.execute(f"select count(*) from raw.unit_aliases where {where}", params).fetchone()[0]
    con.execute(f"delete from raw.unit_aliases where {where}", params)
    return int(n)


def list_aliases(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """User aliases (raw.unit_aliases, source 'user') and the seed's standard ones (source 'seed'), with unit names.

    Columns: alias, level, unit_code, unit_name, valid_from, valid_to, note, source, added_at.
    """
    _require_crosswalk(con)
    parts = []
    if table_exists(con, "reference.unit_aliases"):  # the seed, as dbt loaded it
        parts.append("""select alias, level, unit_code, valid_from, valid_to, note, 'seed' as source,
                               cast(null as timestamp) as added_at from reference.unit_aliases""")
    if table_exists(con, "raw.unit_aliases"):
        parts.append("select alias, level, unit_code, valid_from, valid_to, note, 'user', added_at "
                     "from raw.unit_aliases")
    if not parts:
        return pd.DataFrame(columns=["alias", "level", "unit_code", "unit_name", "valid_from", "valid_to", "note",
                                     "source", "added_at"])
    return con.execute(
        f"""with a as ({' union all '.join(parts)}),
            names as (select level, unit_code, arg_max(alias, valid_to) as unit_name
                      from main.dim_unit_crosswalk where alias_kind in ('name', 'old_name') group by all)
            select a.alias, a.level, a.unit_code, n.unit_name, a.valid_from, a.valid_to, a.note, a.source, a.added_at
            from a left join names as n using (level, unit_code)
            order by a.source desc, a.added_at, a.level, a.alias"""
    ).df()
