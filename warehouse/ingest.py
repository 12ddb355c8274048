"""Ingest yearbook files (CSV, .xls, .xlsx, .ods; long, wide-by-year, sheet-per-year or one-year tables)
into `raw.<table>`.

The mapping (warehouse/mapping.py, checked key by key) says where the header is, which column names the
unit, where the year comes from, and which columns are which variables in which unit of measure. Every
value cell of a mapped column ends as exactly one of: a loaded value (converted to its variable's
registered unit, warehouse/units.py), an empty cell (counted), a cell of an excluded total or footnote
row (counted, listed in raw.excluded_rows), a duplicate of a value already loaded, or a reject with its
reason (raw.rejects). Labels are resolved to unit codes through the crosswalk (warehouse/resolve.py).

Loading the same file with the same mapping again changes nothing; a different mapping for a loaded
file needs `--replace` (or `geopanel unload`). A revised figure from another source within the relative
tolerance (default 0.1%) is the same figure; beyond it, it is a conflict unless `--prefer new|old` says
which wins, and the choice is recorded in raw.revisions. A refused load writes nothing; a load is one
transaction. `plan_ingest` does everything but the write (`--dry-run`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from warehouse.db import table_exists, transaction
from warehouse.errors import IngestError
from warehouse.mapping import Mapping, VariableSpec, load_mapping  # noqa: F401  (load_mapping re-exported)
from warehouse.readers import Table, detect_encoding, make_table, norm_header, norm_label, read_grids  # noqa: F401
from warehouse.resolve import check_level, resolve_units
from warehouse.units import Unit, canonical_unit, conversion, lookup, norm_unit
from warehouse.variables import RAW_COLUMNS, ensure_tables, level_tables, register_table, registered, table_grain

MISSING_MARKS = {"", "-", "--", "—", "——", "…", "...", "……", "na", "n/a", "nan", "null", "none", "/", "－"}
FIRST_YEAR, LAST_YEAR = 1949, datetime.now(UTC).year
DEFAULT_TOLERANCE = 1e-3
PREFER = ("new", "old")
TOTAL_LABELS = {"全国", "全国合计", "全国总计", "中国", "全省", "全省合计", "全省总计", "全市", "全市合计", "全区",
                "全区合计", "合计", "总计", "小计", "总体", "全部", "总数", "市辖区", "东部", "中部", "西部", "东北",
                "东部地区", "中部地区", "西部地区", "东北地区", "东部合计", "中部合计", "西部合计", "地区合计"}
_TOTAL = re.compile(r"^(其中|#).*|.*(合计|总计|小计)$")
_FOOTNOTE = re.compile(r"^(注|资料来源|数据来源|来源|说明|备注)(\d|[:：.、,，(]|$)")
_UNIT_IN_TEXT = re.compile(r"\(([^()]+)\)")
_UNIT_TITLE = re.compile(r"单位[:：]\s*([^\s;；,，)）]+)")
_YEAR_HEADER = re.compile(r"((?:19|20)\d{2})(?:年)?(?:\.0)?")
REASON_CODES = (("conflict", "conflict"), ("not a number", "not_a_number"), ("no unit label", "no_label"),
                ("is not a year", "bad_year"), ("ambiguous", "ambiguous_unit"), ("is not valid in", "unit_not_valid"),
                ("under '", "unit_not_under_parent"), ("unknown", "unknown_unit"), ("is not a ", "wrong_level_unit"))


@dataclass
class IngestResult:
    """What a load did (or, for a dry run, would do), for the command's summary."""

    file: str
    table: str
    status: str  # loaded | unchanged | dry-run
    encoding: str = ""
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    cells_empty: int = 0
    rows_excluded: int = 0
    rows_revised: int = 0
    reject_examples: list[dict] = field(default_factory=list)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    excluded_by_kind: dict[str, int] = field(default_factory=dict)
    conversions: list[str] = field(default_factory=list)
    new_variables: list[str] = field(default_factory=list)
    preview: pd.DataFrame | None = None
    replaced: int = 0


@dataclass
class _Column:
    index: int
    spec: VariableSpec
    year: int | None = None  # wide: the year of the column
    header: str = ""


# ---------------------------------------------------------------- layout → long cells


def _nearest(name: str, options: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, [o for o in options if o], n=3, cutoff=0.3)
    return ", ".join(f"'{n}'" for n in near) if near else ", ".join(f"'{o}'" for o in options[:8] if o)


def _find(table: Table, name: str, what: str, where: str, mapping: Mapping) -> int:
    """Column index of a mapped header: exact after normalisation, or the one header that differs only by
    its trailing (unit)."""
    key = norm_header(name)
    exact = [j for j, h in enumerate(table.header) if h == key]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise IngestError(f"{where}: {len(exact)} columns are headed '{key}' ({what}); give header_rows so that "
                          "each header is distinct, or rename one")
    loose = [j for j, h in enumerate(table.header) if re.sub(r"\([^()]*\)$", "", h) == key]
    if len(loose) == 1:
        return loose[0]
    raise IngestError(f"{where}: the mapping {mapping.source} names {what} '{key}' but the file has no such "
                      f"header; nearest: {_nearest(key, table.header)}")


def _header_unit(text: str) -> str | None:
    """A unit printed in a header or label, '地区生产总值(万元)' -> '万元', if it is a registered unit."""
    from warehouse.units import registry

    found = [u for u in _UNIT_IN_TEXT.findall(norm_header(text)) if norm_unit(u) in registry()]
    return found[-1] if found else None


def _sheets(path: Path, sheets: list[tuple[str, list[list[str]]]], m: Mapping) -> list[tuple[str, int | None, list]]:
    names = [n for n, _ in sheets]
    if not names[0] and len(sheets) == 1:
        return [("", None, sheets[0][1])]
    if m.shape == "sheets" or (m.year.source == "sheet" and m.sheet is None):
        pattern = re.compile(m.sheet or m.year.pattern)
        chosen = [(n, int(mt.group(1)), g) for n, g in sheets if (mt := pattern.search(norm_header(n)))]
        if not chosen:
            raise IngestError(f"{path}: no sheet matches {pattern.pattern!r}; sheets are: {', '.join(names)}")
        return chosen
    if m.sheet is not None:
        key = norm_header(m.sheet)
        hit = [(n, None, g) for n, g in sheets if norm_header(n) == key]
        if not hit:
            raise IngestError(f"{path}: no sheet '{m.sheet}'; sheets are: {', '.join(names)}")
        return hit
    if len(sheets) > 1:
        raise IngestError(f"{path}: the workbook has {len(sheets)} sheets ({', '.join(names[:6])}); say which with "
                          "sheet: NAME (or shape: sheets with a year pattern)")
    return [(names[0], None, sheets[0][1])]


def _fixed_year(path: Path, m: Mapping, sheet: str, sheet_year: int | None, table: Table, where: str) -> int | None:
    y = m.year
    if sheet_year is not None:
        return sheet_year
    if y.fixed is not None:
        return y.fixed
    if y.source is None:
        return None
    text = {"title": " ".join(table.titles), "sheet": sheet, "file": path.stem}[y.source]
    match = re.search(y.pattern, norm_header(text))
    if not match:
        raise IngestError(f"{where}: year.from {y.source}: no match of {y.pattern!r} in {text[:60]!r}; "
                          "fix the pattern or give year: 2020")
    return int(match.group(1))


def _columns(table: Table, m: Mapping, where: str) -> tuple[list[_Column], int | None]:
    """The value columns (and the indicator column for wide + indicator)."""
    if m.shape == "wide":
        years = [(j, int(mt.group(1))) for j, h in enumerate(table.header) if (mt := _YEAR_HEADER.fullmatch(h))]
        if not years:
            raise IngestError(f"{where}: shape wide but no year columns (2003, 2003年 …) in the header; headers: "
                              f"{', '.join(h for h in table.header if h)[:200]}")
        if m.indicator:
            return [_Column(j, VariableSpec(name=""), year) for j, year in years], _find(table, m.indicator,
                                                                                        "the indicator column",
                                                                                        where, m)
        return [_Column(j, m.variable, year, table.header[j]) for j, year in years], None
    return [_Column(_find(table, col, f"the column for {spec.name}", where, m), spec, None, "")
            for col, spec in m.variables.items()], None


def _row_kind(label: str, first: str, m: Mapping, extra_totals: set[str]) -> str:
    if _FOOTNOTE.match(first) or _FOOTNOTE.match(label):
        return "footnote"
    if label in TOTAL_LABELS or label in extra_totals or _TOTAL.match(label):
        return "total"
    return "data"


def to_cells(path: Path, tables: list[tuple[str, int | None, Table]], m: Mapping) -> tuple[pd.DataFrame, dict]:
    """One row per mapped value cell: sheet, row, unit label, parent, year text, variable spec key, text,
    and the row's kind (data | blank | footnote | total). Also the header units found per variable."""
    parts, header_units = [], {}
    extra_totals = {norm_label(t) for t in m.totals}
    for sheet, sheet_year, table in tables:
        where = f"{path}" + (f" sheet '{sheet}'" if sheet else "")
        unit_col = _find(table, m.unit_code or m.unit_name, "the unit column", where, m)
        parent_col = _find(table, m.unit_parent, "the parent column", where, m) if m.unit_parent else None
        year_col = _find(table, m.year.column, "the year column", where, m) if m.year.column else None
        key_cols = {k: _find(table, col, f"the {k} key column", where, m) for k, col in m.keys.items()}
        fixed = _fixed_year(path, m, sheet, sheet_year, table, where)
        columns, indicator_col = _columns(table, m, where)
        body = pd.DataFrame(table.rows, dtype=object) if table.rows else pd.DataFrame(columns=range(len(table.header)))
        if body.empty:
            continue
        cells_text = np.char.strip(body.fillna("").to_numpy(dtype=str))
        filled = cells_text != ""
        blank = pd.Series(~filled.any(axis=1), index=body.index)
        first = pd.Series(cells_text[np.arange(len(body)), filled.argmax(axis=1)], index=body.index)
        labels = _normalised(body[unit_col], norm_label)
        firsts = _normalised(first, norm_label)
        kinds = pd.Series([_row_kind(a, b, m, extra_totals) for a, b in zip(labels, firsts, strict=True)],
                          index=body.index)
        # everything after the first footnote row is the footnote's continuation
        after = (kinds == "footnote").cummax()
        kinds[after] = "footnote"
        kinds[blank & ~after] = "blank"
        base = pd.DataFrame({
            "_sheet": sheet, "_row": table.row_numbers, "unit_label": labels, "_kind": kinds,
            "parent_label": _normalised(body[parent_col], norm_label) if parent_col is not None else "",
            "year_text": body[year_col].astype(str) if year_col is not None else (str(fixed) if fixed else ""),
            **{f"_key_{k}": _normalised(body[j], norm_label) for k, j in key_cols.items()},
        })
        if indicator_col is not None:
            specs = {norm_header(k): v for k, v in m.variables.items()}
            ind = body[indicator_col].map(norm_header)
            missing = [k for k in specs if not (ind == k).any()]
            if missing:
                raise IngestError(f"{where}: the mapping {m.source} names indicator '{missing[0]}' but column "
                                  f"'{m.indicator}' has no such label; nearest: "
                                  f"{_nearest(missing[0], sorted(set(ind)))}")
            for key, spec in specs.items():
                header_units.setdefault(spec.name, _header_unit(key))
            for col in columns:
                part = base.assign(year_text=str(col.year), source_value=body[col.index].astype(str).to_numpy(),
                                   _var=ind.map({k: v.name for k, v in specs.items()}).to_numpy())
                # rows of other indicators are not mapped cells; blank rows and total/footnote rows stay
                keep = part["_var"].notna() | part["_kind"].isin(["footnote", "blank"])
                parts.append(part[keep].assign(_var=part["_var"].fillna("")))
        else:
            for col in columns:
                header = table.header[col.index]
                header_units.setdefault(col.spec.name, _header_unit(header) or _title_unit(table, m))
                year_text = str(col.year) if col.year is not None else base["year_text"]
                parts.append(base.assign(year_text=year_text, source_value=body[col.index].astype(str).to_numpy(),
                                         _var=col.spec.name))
    if not parts:
        raise IngestError(f"{path}: no rows under the header; check skip_rows, header_rows and the sheet")
    return pd.concat(parts, ignore_index=True), header_units


def _normalised(column: pd.Series, norm) -> pd.Series:
    """`norm` applied once per distinct value (a county file repeats each label 24 times)."""
    text = column.fillna("").astype(str)
    uniques = text.unique()
    return text.map(dict(zip(uniques, (norm(u) for u in uniques), strict=True)))


def _title_unit(table: Table, m: Mapping) -> str | None:
    if m.shape != "wide":
        return None
    from warehouse.units import registry

    for title in table.titles:
        match = _UNIT_TITLE.search(norm_header(title))
        if match and norm_unit(match.group(1)) in registry():
            return match.group(1)
    return None


# ---------------------------------------------------------------- units, variables, values


@dataclass
class _Target:
    spec: VariableSpec
    source: Unit | None
    target: str | None
    factor: float
    new: bool


def variable_targets(con: duckdb.DuckDBPyConnection, m: Mapping, header_units: dict) -> dict[str, _Target]:
    """For each mapped variable: the file's unit, the registered unit it is stored in and the factor."""
    known = registered(con, m.level, grain_of(m))
    out: dict[str, _Target] = {}
    for spec in m.all_variables():
        where = f"{m.source}: variable {spec.name}"
        printed = header_units.get(spec.name)
        if spec.as_is:
            unit = spec.unit or printed
            reg = known.get(spec.name)
            if reg and reg.get("unit") and norm_unit(reg["unit"]) != norm_unit(unit or ""):
                raise IngestError(f"{where}: registered at {m.level} level in {reg['unit']}; as_is would store "
                                  f"{unit}: convert it (remove as_is) or map it to another variable name")
            out[spec.name] = _Target(spec, None, unit, 1.0, spec.name not in known)
            continue
        if spec.unit is None and printed is None:
            raise IngestError(f"{where}: no unit given and none printed in the header; add unit: (亿元, 万人, % …) "
                              "or as_is: true")
        if spec.unit is not None and printed is not None and not _same_unit(spec.unit, printed, where):
            raise IngestError(f"{where}: the mapping says unit {spec.unit} but the file prints ({printed}); "
                              "correct the mapping's unit")
        source = lookup(spec.unit or printed, where)
        reg = known.get(spec.name)
        if reg is None:
            target = canonical_unit(source)
            new = True
        else:
            target = lookup(reg["unit"], f"registry entry {m.level}.{spec.name}") if reg.get("unit") else source
            new = False
            if target.dimension != source.dimension:
                raise IngestError(f"{where}: registered at {m.level} level in {target.name} ({target.dimension}) by "
                                  f"{reg.get('origin')}; the file gives {source.name} ({source.dimension}) — map "
                                  "the column to another variable (e.g. gdp_per_capita)")
        out[spec.name] = _Target(spec, source, target.name, conversion(source, target, where), new)
    return out


def _same_unit(a: str, b: str, where: str) -> bool:
    """公里 and km, 平方公里 and km², ％ and %: the same unit under two names."""
    ua, ub = lookup(a, where), lookup(b, where)
    return ua.dimension == ub.dimension and ua.factor == ub.factor


def parse_values(cells: pd.DataFrame, targets: dict[str, _Target]) -> pd.DataFrame:
    """Add year, value (in the registered unit), unit, source unit and a reject reason."""
    text = cells["source_value"].fillna("").astype(str).str.strip()
    normal = text.str.normalize("NFKC").str.replace(r"[\s,]", "", regex=True)
    percent = cells["_var"].map(lambda v: v in targets and targets[v].source is not None
                                and targets[v].source.name == "%")
    normal = normal.where(~(percent & normal.str.endswith("%")), normal.str.rstrip("%"))
    empty = normal.str.lower().isin(MISSING_MARKS)
    number = pd.to_numeric(normal.where(~empty), errors="coerce")
    factor = cells["_var"].map(lambda v: targets[v].factor if v in targets else float("nan"))
    out = cells.assign(source_value=text, _empty=empty)
    out["value"] = number * factor
    out["unit"] = cells["_var"].map(lambda v: targets[v].target if v in targets else None)
    out["source_unit"] = cells["_var"].map(
        lambda v: (targets[v].spec.unit or (targets[v].source.name if targets[v].source else None))
        if v in targets else None)
    year_norm = out["year_text"].astype(str).str.normalize("NFKC").str.replace(r"[\s年]|\.0$", "", regex=True)
    year = pd.to_numeric(year_norm, errors="coerce")
    out["year"] = year.astype("Float64").round().astype("Int64").where(year % 1 == 0)
    reason = pd.Series(pd.NA, index=out.index, dtype="string")
    data = out["_kind"] == "data"
    bad_year = data & ~empty & (year.isna() | (year < FIRST_YEAR) | (year > LAST_YEAR) | (year % 1 != 0))
    reason[bad_year] = "year " + out["year_text"].astype(str) + f" is not a year in {FIRST_YEAR}–{LAST_YEAR}"
    no_label = data & ~empty & (out["unit_label"] == "")
    reason[no_label & ~bad_year] = "no unit label in a row with values"
    for key in [c for c in cells.columns if c.startswith("_key_")]:
        no_key = data & ~empty & (out[key] == "") & reason.isna()
        reason[no_key] = f"no {key[5:]} in a row with values"
    not_number = data & number.isna() & ~empty & ~bad_year & ~no_label & reason.isna()
    reason[not_number] = "not a number: " + text[not_number]
    out["reason"] = reason
    return out


def reason_code(reason: str) -> str:
    """A short code for a reject reason (what `geopanel rejects --ack` takes)."""
    return next((code for key, code in REASON_CODES if key in reason), "other")


# ---------------------------------------------------------------- duplicates and revisions


def _same(a: pd.Series, b: pd.Series, tolerance: float) -> pd.Series:
    return (a - b).abs() <= tolerance * b.abs().clip(lower=1e-12) + 1e-12


def flag_duplicates(con: duckdb.DuckDBPyConnection, long: pd.DataFrame, m: Mapping, tolerance: float,
                    prefer: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Within the file: equal values (within tolerance) load once, different ones are rejected. Against
    every raw table of the level: equal is a duplicate; different is a conflict, or with `prefer` a revision
    (new: the new value supersedes the old one; old: the new value is not loaded). Returns the cells with
    `_duplicate` and reasons set, and the revisions to record."""
    long = long.copy()
    long["_duplicate"] = False
    keys = [f"_key_{k}" for k in m.keys]
    key = ["unit_code", "year", "variable", *keys]
    ok = long["reason"].isna() & (long["_kind"] == "data") & ~long["_empty"]
    grouped = long[ok].groupby(key)["value"]
    lo, hi = grouped.transform("min"), grouped.transform("max")
    clash = ~_same(hi, lo, tolerance)
    for idx in clash[clash].index:
        row = long.loc[idx]
        same_key = long[ok & (long["unit_code"] == row["unit_code"]) & (long["year"] == row["year"])
                        & (long["variable"] == row["variable"])]
        long.loc[idx, "reason"] = (f"conflicting duplicate: {row['unit_code']} {row['year']} {row['variable']} has "
                                   f"values {', '.join(map(str, same_key['value'].tolist()))} in this file (rows "
                                   f"{', '.join(map(str, same_key['_row'].tolist()))})")
    ok = long["reason"].isna() & (long["_kind"] == "data") & ~long["_empty"]
    long.loc[ok & long.duplicated(key, keep="first") & ok, "_duplicate"] = True
    revisions = pd.DataFrame()
    tables = level_tables(con, m.level, grain_of(m))
    if not tables:
        return long, revisions
    key_select = "".join(f", {k} as _key_{k}" for k in m.keys)
    union = " union all ".join(
        f"select '{t}' as table_name, unit_code, year, variable, value, _source_file, _row, _content_hash"
        f"{key_select} from raw.{t}" for t in tables)
    superseded = ("and not exists (select 1 from raw.revisions r where r.kind = 'prefer_new' and r.old_hash = "
                  "e._content_hash and r.unit_code = e.unit_code and r.year = e.year and r.variable = e.variable)"
                  if table_exists(con, "raw.revisions") else "")
    fresh = long[ok & ~long["_duplicate"]][key].drop_duplicates()
    con.register("ingest_keys", fresh.astype({"year": "int64"}))
    on = " and ".join(f"e.{c} = k.{c}" for c in key)
    try:
        existing = con.execute(
            f"""select e.* from ({union}) as e inner join ingest_keys k on {on} where true {superseded}""").df()
    finally:
        con.unregister("ingest_keys")
    if existing.empty:
        return long, revisions
    existing = existing.drop_duplicates(key).astype({"year": "Int64"}).rename(columns={
        "value": "value_old", "_source_file": "_source_file_old", "_row": "_row_old", "_content_hash": "hash_old"})
    cand = long[ok & ~long["_duplicate"]].reset_index().merge(existing, on=key)
    same = _same(cand["value"], cand["value_old"], tolerance)
    exact = (cand["value"] - cand["value_old"]).abs() <= 1e-9 * cand["value_old"].abs().clip(lower=1)
    long.loc[cand.loc[same, "index"], "_duplicate"] = True
    differ = cand[~same]
    within = cand[same & ~exact]
    described = (differ["value_old"].astype(str) + " already loaded for " + differ["unit_code"] + " "
                 + differ["year"].astype(str) + " " + differ["variable"] + " from " + differ["_source_file_old"]
                 + " row " + differ["_row_old"].astype(str))
    if prefer is None:
        long.loc[differ["index"], "reason"] = (
            "conflicts with " + described + f" (beyond the {tolerance:g} relative tolerance; "
            "--prefer new or --prefer old decides)").to_numpy()
    elif prefer == "old":
        long.loc[differ["index"], "_duplicate"] = True
    kinds = [("within_tolerance", within)] + ([(f"prefer_{prefer}", differ)] if prefer else [])
    revisions = pd.concat([frame.assign(kind=kind) for kind, frame in kinds], ignore_index=True)
    if not revisions.empty:
        revisions = pd.DataFrame({
            "table_name": revisions["table_name"], "level": m.level, "unit_code": revisions["unit_code"],
            "year": revisions["year"].astype("int64"), "variable": revisions["variable"],
            "old_value": revisions["value_old"], "old_hash": revisions["hash_old"],
            "new_value": revisions["value"], "kind": revisions["kind"]})
    return long, revisions


# ---------------------------------------------------------------- plan and write


def grain_of(m: Mapping) -> str:
    """The grain beyond unit × year: '' or the key names joined, e.g. 'firm,industry'."""
    return ",".join(sorted(m.keys))


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _loads_of(con: duckdb.DuckDBPyConnection, digest: str, path: Path) -> pd.DataFrame:
    if not table_exists(con, "raw.ingest_log"):
        return pd.DataFrame()
    ensure_cols = {c[0] for c in con.execute("describe raw.ingest_log").fetchall()}
    status = "coalesce(status, 'loaded')" if "status" in ensure_cols else "'loaded'"
    by_path = "or source_path = ?" if "source_path" in ensure_cols else "or ? is null"
    return con.execute(
        f"""select table_name, _content_hash, {status} as status, mapping,
                   {'mapping_text' if 'mapping_text' in ensure_cols else 'null'} as mapping_text, _loaded_at
            from raw.ingest_log where (_content_hash = ? {by_path}) and {status} = 'loaded'""",
        [digest, str(path.resolve())]).df()


def _guard_demo(con: duckdb.DuckDBPyConnection, m: Mapping) -> None:
    """Real and synthetic data never share a warehouse."""
    if not table_exists(con, "raw.ingest_log"):
        return
    cols = {c[0] for c in con.execute("describe raw.ingest_log").fetchall()}
    status = "coalesce(status, 'loaded') = 'loaded'" if "status" in cols else "true"
    synthetic = con.execute(f"select count(*) from raw.ingest_log where _synthetic and {status}").fetchone()[0]
    real = con.execute(f"select count(*) from raw.ingest_log where not _synthetic and {status}").fetchone()[0]
    if synthetic and not m.synthetic:
        raise IngestError(f"{m.source}: this warehouse holds the SYNTHETIC demo panel; real data goes into a "
                          "warehouse of its own: geopanel init --db my.duckdb, then "
                          "geopanel ingest FILE --db my.duckdb")
    if real and m.synthetic:
        raise IngestError(f"{m.source}: synthetic: true, but this warehouse holds real data; load synthetic files "
                          "into a warehouse of their own (geopanel demo --db demo.duckdb)")


def plan_ingest(con: duckdb.DuckDBPyConnection, path: str | Path, mapping: Mapping,
                years: tuple[int, int] | None = None, tolerance: float = DEFAULT_TOLERANCE,
                prefer: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict, IngestResult]:
    """Read, check, resolve and compare a file without writing: (cells, revisions, targets, summary)."""
    path = Path(path)
    m = mapping
    if prefer not in (None, *PREFER):
        raise IngestError(f"--prefer {prefer!r}: use new or old")
    if not 0 <= tolerance < 1:
        raise IngestError(f"--tolerance {tolerance}: give a relative tolerance in [0, 1), e.g. 0.001")
    known = table_grain(con, m.table)
    if known is not None and known[0] != m.level:
        raise IngestError(f"{m.source}: raw.{m.table} holds {known[0]} data; load {m.level} data into a table "
                          f"of its own (table: {m.level}_…) or fix level:")
    if known is not None and known[1] != grain_of(m):
        raise IngestError(f"{m.source}: raw.{m.table} is keyed by {known[1] or 'unit and year only'}; this mapping "
                          f"has keys {grain_of(m) or 'none'}: load it into a table of its own")
    _guard_demo(con, m)
    grids, encoding = read_grids(path, m.encoding)
    tables = [(sheet, year, make_table(sheet, grid, m.skip_rows, m.header_rows, m.skip_after_header,
                                       f"{path}" + (f" sheet '{sheet}'" if sheet else "")))
              for sheet, year, grid in _sheets(path, grids, m)]
    cells, header_units = to_cells(path, tables, m)
    targets = variable_targets(con, m, header_units)
    cells = parse_values(cells, targets)
    if years is not None:
        in_range = cells["year"].between(*years).fillna(False).astype(bool) | (cells["_kind"] != "data")
        if not in_range[cells["_kind"] == "data"].any():
            have = cells.loc[cells["_kind"] == "data", "year"].dropna()
            span = f"{have.min()}–{have.max()}" if len(have) else "none"
            raise IngestError(f"{path}: no rows in years {years[0]}–{years[1]} (the file has {span}); fix --years")
        cells = cells[in_range]
    for name in targets:
        filled = cells[(cells["_var"] == name) & (cells["_kind"] == "data") & ~cells["_empty"]]
        if filled.empty:
            raise IngestError(f"{path}: variable {name} ({m.source}) has no value in any data row; check skip_rows, "
                              "header_rows and the column it names")
    cells = cells.rename(columns={"_var": "variable"})
    # every labelled data row is resolved, so that a subtotal row without values is still a total row
    data = cells[(cells["_kind"] == "data") & (cells["unit_label"] != "") & cells["year"].notna()]
    labels = data[["unit_label", "parent_label", "year"]].drop_duplicates()
    labels = labels.assign(parent_label=labels["parent_label"].replace("", pd.NA).astype("string"))
    resolved = resolve_units(con, labels, m.level) if len(labels) else labels.assign(
        unit_code=pd.NA, status=pd.NA, reason=pd.NA)
    if len(resolved):
        check_level(resolved, m.level, str(path))
    keys = ["unit_label", "parent_label", "year"]
    cells = cells.assign(parent_label=cells["parent_label"].replace("", pd.NA).astype("string"))
    merged = cells.merge(resolved[keys + ["unit_code", "status", "reason"]].rename(
        columns={"reason": "_unit_reason", "status": "_unit_status"}), on=keys, how="left")
    is_total = merged["_unit_status"] == "total"
    merged.loc[is_total, "_kind"] = "total"
    merged.loc[is_total, "_exclude_reason"] = merged.loc[is_total, "_unit_reason"]
    rejected_unit = (merged["_unit_status"] == "reject") & ~merged["_empty"]
    merged["reason"] = merged["reason"].where(~rejected_unit | merged["reason"].notna(), merged["_unit_reason"])
    long, revisions = flag_duplicates(con, merged, m, tolerance, prefer)
    summary = _summarise(path, m, encoding, long, revisions, targets)
    return long, revisions, targets, summary


def _summarise(path: Path, m: Mapping, encoding: str, long: pd.DataFrame, revisions: pd.DataFrame,
               targets: dict[str, _Target]) -> IngestResult:
    data = long["_kind"] == "data"
    good = data & long["reason"].isna() & ~long["_empty"] & ~long["_duplicate"]
    bad = data & long["reason"].notna()
    excluded = long[long["_kind"].isin(["total", "footnote"])].drop_duplicates(["_sheet", "_row"])
    conversions = [f"{t.spec.name}: {t.source.name if t.source else 'as is'} → {t.target} (× {t.factor:g})"
                   for t in targets.values()]
    preview = (long[good].groupby("variable", sort=False).head(3)
               [["variable", "unit_label", "unit_code", "year", "source_value", "value", "unit"]])
    reasons = long.loc[bad, "reason"].astype(str).map(reason_code).value_counts().to_dict()
    return IngestResult(
        file=str(path), table=m.table, status="planned", encoding=encoding, rows_loaded=int(good.sum()),
        rows_duplicate=int((data & long["_duplicate"]).sum()), rows_rejected=int(bad.sum()),
        cells_empty=int((long["_empty"] & (long["_kind"].isin(["data", "blank"]))).sum()),
        rows_excluded=len(excluded), rows_revised=int((revisions.get("kind", pd.Series()) == "prefer_new").sum()),
        reject_examples=long[bad].head(5)[["_sheet", "_row", "unit_label", "year", "variable", "reason"]]
        .to_dict("records"),
        rejects_by_reason=reasons, excluded_by_kind=excluded["_kind"].value_counts().to_dict(),
        conversions=conversions, new_variables=[t.spec.name for t in targets.values() if t.new], preview=preview)


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    mapping: Mapping,
    years: tuple[int, int] | None = None,
    dry_run: bool = False,
    replace: bool = False,
    prefer: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> IngestResult:
    """Load one file with its mapping in one transaction (or, with dry_run, say what would load)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: file not found; check the path")
    m = mapping
    digest = file_hash(path)
    previous = _loads_of(con, digest, path)
    same = previous[(previous["_content_hash"] == digest) & (previous["table_name"] == m.table)]
    if not replace and len(same) and (same["mapping_text"].isna() | (same["mapping_text"] == m.text)).any():
        return IngestResult(file=str(path), table=m.table, status="unchanged")
    if not replace and len(previous):
        when = previous["_loaded_at"].max()
        raise IngestError(f"{path}: already loaded into raw.{previous['table_name'].iloc[0]} at {when} "
                          "(with another mapping or content); load it again with --replace, or geopanel unload it")
    long, revisions, targets, result = plan_ingest(con, path, m, years, tolerance, prefer)
    if dry_run:
        result.status = "dry-run"
        return result
    if result.rows_loaded == 0 and result.rows_duplicate == 0:
        top = ", ".join(f"{k} ×{v}" for k, v in result.rejects_by_reason.items()) or "no data rows"
        first = result.reject_examples[0]["reason"] if result.reject_examples else ""
        raise IngestError(f"{path}: no value could be loaded ({top}){'; first: ' + first if first else ''} — "
                          "nothing was written; see geopanel ingest --dry-run")
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    data = long["_kind"] == "data"
    good = long[data & long["reason"].isna() & ~long["_empty"] & ~long["_duplicate"]]
    bad = long[data & long["reason"].notna()]
    excluded = long[long["_kind"].isin(["total", "footnote"])].drop_duplicates(["_sheet", "_row"])
    with _write_errors(path), transaction(con):
        ensure_tables(con)
        replaced = _unload(con, previous["_content_hash"].unique().tolist(), loaded_at) if replace else 0
        key_ddl = "".join(f", {k} varchar" for k in m.keys)
        con.execute(f"create table if not exists raw.{m.table} ({RAW_COLUMNS}{key_ddl})")
        register_table(con, m.table, m.level, grain_of(m))
        _register_variables(con, m, targets, digest, path, loaded_at)
        rows = good.assign(_source_file=str(path), _loaded_at=loaded_at, _content_hash=digest,
                           _synthetic=m.synthetic)[
            ["unit_label", "unit_code", "year", "variable", "value", "unit", "source_value", "source_unit",
             "_source_file", "_sheet", "_row", "_loaded_at", "_content_hash", "_synthetic",
             *[f"_key_{k}" for k in m.keys]]].rename(columns={f"_key_{k}": k for k in m.keys})
        _insert(con, f"raw.{m.table}", rows)
        rejects = bad.assign(table_name=m.table, level=m.level, _source_file=str(path), _loaded_at=loaded_at,
                             _content_hash=digest, reason_code=bad["reason"].astype(str).map(reason_code))[
            ["table_name", "level", "unit_label", "year", "variable", "source_value", "reason", "_source_file",
             "_sheet", "_row", "_loaded_at", "_content_hash", "reason_code"]]
        _insert(con, "raw.rejects", rejects)
        kind_reason = excluded.get("_exclude_reason", pd.Series(pd.NA, index=excluded.index))
        _insert(con, "raw.excluded_rows", pd.DataFrame({
            "table_name": m.table, "unit_label": excluded["unit_label"], "kind": excluded["_kind"],
            "reason": kind_reason.fillna(excluded["_kind"] + " row").astype(str), "_source_file": str(path),
            "_sheet": excluded["_sheet"], "_row": excluded["_row"], "_content_hash": digest}))
        if not revisions.empty:
            _insert(con, "raw.revisions", revisions.assign(new_hash=digest, _source_file=str(path),
                                                           recorded_at=loaded_at))
        con.execute(
            """insert into raw.ingest_log (table_name, level, _source_file, _content_hash, encoding, rows_loaded,
                   rows_duplicate, rows_rejected, cells_empty, _loaded_at, _synthetic, mapping, status, source_path,
                   mapping_text, rows_excluded, rows_revised)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?)""",
            [m.table, m.level, str(path), digest, result.encoding, result.rows_loaded, result.rows_duplicate,
             result.rows_rejected, result.cells_empty, loaded_at, m.synthetic, m.source, str(path.resolve()),
             m.text, result.rows_excluded, result.rows_revised])
    result.status = "loaded"
    result.replaced = replaced
    return result


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """A write the disk refuses (full, read-only) is a one-line error; the transaction has rolled back."""
    try:
        yield
    except duckdb.IOException as exc:
        raise IngestError(f"{path}: the warehouse could not be written ({str(exc).splitlines()[0]}); nothing was "
                          "loaded — check the free space (df -h) and permissions, then run again") from exc


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("ingest_frame", frame)
    try:
        con.execute(f"insert into {table} by name select * from ingest_frame")
    finally:
        con.unregister("ingest_frame")


def _register_variables(con: duckdb.DuckDBPyConnection, m: Mapping, targets: dict[str, _Target], digest: str,
                        path: Path, at: datetime) -> None:
    for t in targets.values():
        if not t.new:
            continue
        spec = t.spec
        label = spec.label or _without_units(next((k for k, v in m.variables.items() if v is spec), None)
                                             or spec.name)
        dimension = t.source.dimension if t.source else None
        con.execute("""insert into meta.variables (level, name, unit, dimension, label_zh, label_en, description,
                           source, registered_by, registered_from, registered_at, grain)
                       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [m.level, spec.name, t.target, dimension, label, spec.label_en, spec.description,
                     spec.source or m.citation, digest, str(path), at, grain_of(m)])


def _without_units(header: str) -> str:
    """'地区生产总值(万元)·全市' -> '地区生产总值·全市': the header as a label, without printed units."""
    from warehouse.units import registry

    text = norm_header(header)
    return _UNIT_IN_TEXT.sub(lambda mt: "" if norm_unit(mt.group(1)) in registry() else mt.group(0), text)


def _unload(con: duckdb.DuckDBPyConnection, digests: list[str], at: datetime) -> int:
    """Remove what the loads with these content hashes added; returns the number of raw rows removed."""
    removed = 0
    for digest in digests:
        for (table,) in con.execute("select distinct table_name from raw.ingest_log where _content_hash = ? and "
                                    "coalesce(status, 'loaded') = 'loaded'", [digest]).fetchall():
            if table_exists(con, f"raw.{table}"):
                removed += con.execute(f"select count(*) from raw.{table} where _content_hash = ?",
                                       [digest]).fetchone()[0]
                con.execute(f"delete from raw.{table} where _content_hash = ?", [digest])
        con.execute("delete from raw.rejects where _content_hash = ?", [digest])
        con.execute("delete from raw.excluded_rows where _content_hash = ?", [digest])
        con.execute("delete from raw.revisions where new_hash = ? or old_hash = ?", [digest, digest])
        con.execute("delete from raw.reject_acks where _content_hash = ?", [digest])
        con.execute("update raw.ingest_log set status = 'unloaded', unloaded_at = ? where _content_hash = ? and "
                    "coalesce(status, 'loaded') = 'loaded'", [at, digest])
        # variables this load introduced and nothing else holds any more
        for level, name, grain in con.execute("select level, name, coalesce(grain, '') from meta.variables "
                                              "where registered_by = ?", [digest]).fetchall():
            if not any(con.execute(f"select count(*) from raw.{t} where variable = ?", [name]).fetchone()[0]
                       for t in level_tables(con, level, grain)):
                con.execute("delete from meta.variables where level = ? and name = ? and coalesce(grain, '') = ?",
                            [level, name, grain])
    return removed


def unload_file(con: duckdb.DuckDBPyConnection, file: str | Path) -> dict:
    """Remove a loaded file's values, rejects and excluded rows in one transaction; the log keeps its history.

    The file is found by its content (if it still exists) or by the path it was loaded from."""
    path = Path(file)
    if not table_exists(con, "raw.ingest_log"):
        raise IngestError(f"{path}: nothing has been loaded into this warehouse")
    digest = file_hash(path) if path.exists() else None
    loads = con.execute(
        """select distinct _content_hash, table_name from raw.ingest_log
           where coalesce(status, 'loaded') = 'loaded'
             and (_content_hash = ? or source_path = ? or _source_file = ?)""",
        [digest, str(path.resolve()), str(file)]).df() if "status" in {
        c[0] for c in con.execute("describe raw.ingest_log").fetchall()} else pd.DataFrame()
    if loads.empty:
        raise IngestError(f"{path}: not loaded in this warehouse (see geopanel sql \"select _source_file, status "
                          "from raw.ingest_log\")")
    at = datetime.now(UTC).replace(tzinfo=None)
    with transaction(con):
        ensure_tables(con)
        removed = _unload(con, loads["_content_hash"].tolist(), at)
    return {"file": str(path), "tables": sorted(loads["table_name"].unique()), "rows_removed": removed}
