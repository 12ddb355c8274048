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
which wins, and the choice is recorded in raw.revisions. A value two orders of magnitude outside its
variable's plausible range (seeds/variables.csv, meta.variables) refuses the whole file: that is a unit
mistake, not an outlier. A refused load writes nothing; a load is one transaction. `plan_ingest` does
everything but the write (`--dry-run`).

Why it is written as SQL: a yearbook table is a few hundred rows, but a firm panel or a grid-cell export
is millions, and per-cell Python (a regex per row, a lambda per cell, `to_numeric` on strings) ran at a
tenth of DuckDB's own CSV reader. So the file is read into a DuckDB temporary table (warehouse/readers.py)
and every step after it is set-based on the same connection: cells are unpivoted with UNION ALL, text is
normalised in SQL where it is ASCII and in Python only once per distinct non-ASCII value (NFKC, marks,
full-width digits — a few thousand labels, joined back), unit factors come from a join on the targets,
labels are resolved once per distinct (label, parent, year) (warehouse/resolve.py), and duplicates,
conflicts with earlier loads, the summary and the write are queries over the planned cells. The rules
are those of the per-cell version (tests/integration/test_ingest*.py, test_real_layouts.py); temporary
tables live only for one plan, so a refused or dry-run load leaves the warehouse file untouched.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse.db import table_exists, transaction
from warehouse.errors import IngestError
from warehouse.mapping import Mapping, VariableSpec, load_mapping  # noqa: F401  (load_mapping re-exported)
from warehouse.readers import (  # noqa: F401  (detect_encoding re-exported)
    WHITESPACE,
    Table,
    detect_encoding,
    load_grids,
    make_table,
    norm_header,
    norm_label,
)
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
_ASCII_SPACE = "".join(c for c in WHITESPACE if ord(c) < 128)
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


class _Scratch:
    """Names of the temporary tables one plan makes on the connection, dropped together at the end."""

    _count = itertools.count()

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.prefix = f"_ingest_{os.getpid()}_{next(self._count)}"
        self.names: list[str] = []
        self.rows: dict[str, int] = {}  # rows of the small tables made by `frame`

    def name(self, what: str) -> str:
        name = f"{self.prefix}_{what}"
        self.names.append(name)
        return name

    def frame(self, what: str, frame: pa.Table | pd.DataFrame) -> str:
        """A small Python-side table (a map of distinct values, the targets) as a temporary table."""
        name = self.name(what)
        self.rows[name] = len(frame)
        self.con.register(f"{name}_src", frame)
        try:
            self.con.execute(f"create or replace temp table {name} as select * from {name}_src")
        finally:
            self.con.unregister(f"{name}_src")
        return name

    def drop(self) -> None:
        for name in reversed(self.names):
            for kind in ("view", "table"):
                with suppress(duckdb.Error):
                    self.con.execute(f"drop {kind} if exists temp.{name}")
        self.names.clear()


def _q(text: object) -> str:
    """A SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _norm_column(s: _Scratch, column_sql: str, source: str, fn: Callable[[str], str], what: str,
                 every: bool = False) -> str:
    """A temporary table (raw, norm) of `fn` applied to the distinct non-ASCII values of a column: NFKC and
    the marks only change non-ASCII text, so ASCII values (codes, plain numbers) are normalised in SQL and
    Python sees a few thousand labels instead of a million cells."""
    values = [r[0] for r in s.con.execute(
        f"select distinct v from (select {column_sql} as v from {source}) "
        f"where v is not null {'' if every else 'and strlen(v) <> length(v)'}").fetchall()]
    return s.frame(what, pa.table({"raw": pa.array(values, pa.string()),
                                   "norm": pa.array([fn(v) for v in values], pa.string())}))


def _ascii_sql(expr: str, drop: str) -> str:
    """`expr` without the characters of the class `drop` (ASCII whitespace as str.split sees it, plus more);
    most cells have none, and finding that is cheaper than rewriting every one."""
    chars = _q("[" + drop + _ASCII_SPACE + "]")
    return f"case when regexp_matches({expr}, {chars}) then regexp_replace({expr}, {chars}, '', 'g') else {expr} end"


def _strip_sql(column: str) -> str:
    """str.strip() in SQL; DuckDB's trim(x, characters) is slow, so only cells that need it are stripped."""
    space = "[" + WHITESPACE + "]"
    return (f"case when regexp_matches({column}, {_q('^' + space + '|' + space + '$')}) "
            f"then regexp_replace({column}, {_q('^' + space + '+|' + space + '+$')}, '', 'g') "
            f"else coalesce({column}, '') end")


def _number_norm(text: str) -> str:
    return re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", text))


def _label_kinds(s: _Scratch, body: str, column: str, m: Mapping, extra_totals: set[str], what: str) -> str:
    """A temporary table (raw, label, foot, total) of the distinct unit labels: normalised, and whether the
    label marks a footnote or a total row."""
    raws = [r[0] for r in s.con.execute(f"select distinct {column} from {body}").fetchall()]
    labels = [norm_label(v) for v in raws]
    return s.frame(what, pa.table({
        "raw": pa.array(raws, pa.string()), "label": pa.array(labels, pa.string()),
        "foot": pa.array([bool(_FOOTNOTE.match(v)) for v in labels], pa.bool_()),
        "total": pa.array([_row_kind(v, "", m, extra_totals) == "total" for v in labels], pa.bool_())}))


def to_cells(s: _Scratch, path: Path, tables: list[tuple[str, int | None, Table]], m: Mapping
             ) -> tuple[str, dict, str, str]:
    """A temporary view of one row per mapped value cell: _cell (its order), _sheet, _row, unit_label,
    parent_label, year_text, _key_*, source_value (the cell stripped), _var, and the row's _kind (data |
    blank | footnote | total). Also the header units found per variable, and the queries of the distinct
    non-ASCII value texts and of the distinct year texts (straight from the bodies, a superset)."""
    con = s.con
    parts, header_units = [], {}
    extra_totals = {norm_label(t) for t in m.totals}
    part_no = 0
    values: list[tuple[str, list[int]]] = []  # the bodies and their value columns, for the number map
    years: list[tuple[str, int]] = []
    constant_years: set[str] = set()
    for sheet, sheet_year, table in tables:
        where = f"{path}" + (f" sheet '{sheet}'" if sheet else "")
        unit_col = _find(table, m.unit_code or m.unit_name, "the unit column", where, m)
        parent_col = _find(table, m.unit_parent, "the parent column", where, m) if m.unit_parent else None
        year_col = _find(table, m.year.column, "the year column", where, m) if m.year.column else None
        key_cols = {k: _find(table, col, f"the {k} key column", where, m) for k, col in m.keys.items()}
        fixed = _fixed_year(path, m, sheet, sheet_year, table, where)
        columns, indicator_col = _columns(table, m, where)
        if table.body_rows == 0:
            continue
        width = table.grid.width
        # the body (cells already stripped), its first filled cell (footnotes are recognised by it), blank rows
        body = s.name(f"body{part_no}")
        con.execute(f"""create temp view {body} as
            select rowid + 1 as _row, {', '.join(f'c{j} as t{j}' for j in range(width))},
                   coalesce({', '.join(f"nullif(c{j}, '')" for j in range(width))}, '') as _first_raw,
                   {' and '.join(f"c{j} = ''" for j in range(width))} as _blank
            from {table.grid.name} where rowid >= {table.first_body}""")
        # unit and parent labels: every distinct value through norm_label in Python (a few thousand), with the
        # row kind it implies; key columns (firm codes: many, mostly ASCII) in SQL where ASCII
        units = _label_kinds(s, body, f"t{unit_col}", m, extra_totals, f"ulab{part_no}")
        label_sql = {"unit_label": "u.label"}
        joins = f"left join {units} as u on u.raw = b.t{unit_col}"
        if parent_col is not None:
            parents = _norm_column(s, f"t{parent_col}", body, norm_label, f"plab{part_no}", every=True)
            label_sql["parent_label"] = "pl.norm"
            joins += f" left join {parents} as pl on pl.raw = b.t{parent_col}"
        for k, j in key_cols.items():
            keymap = _norm_column(s, f"t{j}", body, norm_label, f"key{part_no}_{k}")
            if s.rows[keymap]:
                label_sql[f"_key_{k}"] = f"coalesce(k_{k}.norm, {_ascii_sql(f'b.t{j}', '*#')})"
                joins += f" left join {keymap} as k_{k} on k_{k}.raw = b.t{j}"
            else:
                label_sql[f"_key_{k}"] = _ascii_sql(f"b.t{j}", "*#")
        # a footnote mark starts with a Chinese character: only non-ASCII first cells can carry one
        firsts = [r[0] for r in con.execute(
            f"select distinct _first_raw from {body} where strlen(_first_raw) <> length(_first_raw)").fetchall()]
        first_kinds = s.frame(f"fkind{part_no}", pa.table({
            "raw": pa.array(firsts, pa.string()),
            "foot": pa.array([bool(_FOOTNOTE.match(norm_label(v))) for v in firsts], pa.bool_())}))
        if any(_FOOTNOTE.match(norm_label(v)) for v in firsts):
            joins += f" left join {first_kinds} as fk on fk.raw = b._first_raw"
            foot = "(coalesce(fk.foot, false) or u.foot)"
        else:
            foot = "u.foot"
        # everything after the first footnote row is the footnote's continuation
        marked = foot != "u.foot" or con.execute(f"select bool_or(foot) from {units}").fetchone()[0]
        at = con.execute(f"select min(b._row) from {body} as b {joins} where {foot}").fetchone()[0] if marked else None
        kinded = s.name(f"kinded{part_no}")
        con.execute(f"""create temp view {kinded} as
            select b.* exclude (_first_raw, _blank),
                   {', '.join(f'{sql} as {c}' for c, sql in label_sql.items())},
                   case when b._row >= {at if at is not None else 2147483647} or {foot} then 'footnote'
                        when b._blank then 'blank' when u.total then 'total' else 'data' end as _kind
            from {body} as b {joins}""")
        values.append((body, [c.index for c in columns]))
        if year_col is not None:
            years.append((body, year_col))
        year_text = (f"t{year_col}" if year_col is not None else _q(str(fixed) if fixed else ""))
        if year_col is None:
            constant_years.add(str(fixed) if fixed else "")
        constant_years.update(str(c.year) for c in columns if c.year is not None)
        keys = "".join(f", _key_{k}" for k in key_cols)
        parent = "parent_label" if parent_col is not None else "''"
        if indicator_col is not None:
            specs = {norm_header(k): v for k, v in m.variables.items()}
            ind_map = _norm_column(s, f"t{indicator_col}", body, norm_header, f"ind{part_no}", every=True)
            ind = "coalesce(i.norm, '')"
            present = {r[0] for r in con.execute(
                f"select distinct {ind} from {kinded} as k left join {ind_map} as i on i.raw = k.t{indicator_col}"
            ).fetchall()}
            missing = [k for k in specs if k not in present]
            if missing:
                raise IngestError(f"{where}: the mapping {m.source} names indicator '{missing[0]}' but column "
                                  f"'{m.indicator}' has no such label; nearest: "
                                  f"{_nearest(missing[0], sorted(present - {None}))}")
            for key, spec in specs.items():
                header_units.setdefault(spec.name, _header_unit(key))
            var = "case " + " ".join(f"when {ind} = {_q(k)} then {_q(v.name)}" for k, v in specs.items()) + " end"
            for col in columns:
                # rows of other indicators are not mapped cells; blank rows and total/footnote rows stay
                parts.append(f"""select {part_no} as _part, k._row, {_q(sheet)} as _sheet, k.unit_label,
                                        {parent.replace('parent_label', 'k.parent_label')} as parent_label,
                                        {_q(str(col.year))} as year_text{keys.replace(', _key', ', k._key')},
                                        k.t{col.index} as source_value, coalesce({var}, '') as _var, k._kind
                                 from {kinded} as k left join {ind_map} as i on i.raw = k.t{indicator_col}
                                 where {var} is not null or k._kind in ('footnote', 'blank')""")
                part_no += 1
        else:
            for col in columns:
                header = table.header[col.index]
                header_units.setdefault(col.spec.name, _header_unit(header) or _title_unit(table, m))
                yt = _q(str(col.year)) if col.year is not None else year_text
                parts.append(f"""select {part_no} as _part, _row, {_q(sheet)} as _sheet, unit_label,
                                        {parent} as parent_label, {yt} as year_text{keys},
                                        t{col.index} as source_value, {_q(col.spec.name)} as _var, _kind
                                 from {kinded}""")
                part_no += 1
        part_no += 1
    if not parts:
        raise IngestError(f"{path}: no rows under the header; check skip_rows, header_rows and the sheet")
    out = s.name("cells")
    con.execute(f"create temp view {out} as select cast(_part as bigint) * 4294967296 + _row as _cell, * "
                f"exclude (_part) from ({' union all '.join(parts)})")
    value_texts = " union ".join(f"select distinct t{j} as v from {body} where strlen(t{j}) <> length(t{j})"
                                 for body, cols in values for j in cols) or "select '' as v where false"
    year_texts = " union ".join([f"select distinct t{j} as v from {body}" for body, j in years]
                                + [f"select {_q(v)} as v" for v in sorted(constant_years)])
    return out, header_units, value_texts, year_texts


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
    plausible: tuple[float | None, float | None] = (None, None)  # in the registered unit
    plausible_source: str = ""


def _number(value: object) -> float | None:
    """A bound from the seed (text, '' for none) or meta.variables (a number, NaN or None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _plausible(reg: dict | None, spec: VariableSpec, m: Mapping) -> tuple[tuple[float | None, float | None], str]:
    """The variable's plausible range: the registry's, else the one its mapping gives for a new variable."""
    if reg is not None:
        bounds = (_number(reg.get("plausible_min")), _number(reg.get("plausible_max")))
        if bounds != (None, None):
            stored = reg.get("plausible_source")
            from_seed = reg.get("origin") == "seeds/variables.csv"
            return bounds, (stored if isinstance(stored, str) and stored and not from_seed else str(reg.get("origin")))
    if spec.plausible_min is not None or spec.plausible_max is not None:
        return (spec.plausible_min, spec.plausible_max), f"the mapping {m.source}"
    return (None, None), ""


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
            out[spec.name] = _Target(spec, None, unit, 1.0, spec.name not in known, *_plausible(reg, spec, m))
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
        out[spec.name] = _Target(spec, source, target.name, conversion(source, target, where), new,
                                 *_plausible(reg, spec, m))
    return out


def _same_unit(a: str, b: str, where: str) -> bool:
    """公里 and km, 平方公里 and km², ％ and %: the same unit under two names."""
    ua, ub = lookup(a, where), lookup(b, where)
    return ua.dimension == ub.dimension and ua.factor == ub.factor


def _targets_table(s: _Scratch, targets: dict[str, _Target]) -> str:
    """The mapped variables as a table: factor to the registered unit, units, % handling, plausible range."""
    rows = [{"_var": name, "factor": t.factor, "unit": t.target,
             "source_unit": t.spec.unit or (t.source.name if t.source else None),
             "pct": t.source is not None and t.source.name == "%",
             "plausible_min": t.plausible[0], "plausible_max": t.plausible[1]} for name, t in targets.items()]
    return s.frame("targets", pa.Table.from_pylist(rows, schema=pa.schema([
        ("_var", pa.string()), ("factor", pa.float64()), ("unit", pa.string()), ("source_unit", pa.string()),
        ("pct", pa.bool_()), ("plausible_min", pa.float64()), ("plausible_max", pa.float64())])))


def _year_of(text: str) -> float | None:
    """'2009年', '２００９', '2009.0' -> 2009.0; None when not a number (the year check is in SQL)."""
    value = re.sub(r"[\s年]|\.0$", "", unicodedata.normalize("NFKC", text))
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(number) else float(number)


def parse_values(s: _Scratch, cells: str, targets: dict[str, _Target], value_texts: str | None = None,
                 year_texts: str | None = None) -> str:
    """Add year, _empty, value (in the registered unit), unit, source unit and a reject reason: number
    text normalised in SQL (ASCII) or once per distinct non-ASCII text (full-width digits), the unit
    factor by a join on the targets."""
    con = s.con
    numbers = _norm_column(s, "v", f"({value_texts})" if value_texts else
                           f"(select source_value as v from {cells})", _number_norm, "numbers")
    texts = [r[0] for r in con.execute(f"select distinct v from ({year_texts})" if year_texts else
                                       f"select distinct year_text from {cells}").fetchall()]
    years = s.frame("years", pa.table({"year_text": pa.array(texts, pa.string()),
                                       "year_num": pa.array([_year_of(v or "") for v in texts], pa.float64())}))
    tt = _targets_table(s, targets)
    marks = ", ".join(_q(v) for v in sorted(MISSING_MARKS))
    normal = _ascii_sql("c.source_value", ",")
    keys = [d[0] for d in con.execute(f"select * from {cells} limit 0").description if d[0].startswith("_key_")]
    no_key = " ".join(f"when _kind = 'data' and not _empty and {k} = '' then 'no {k[5:]} in a row with values'"
                      for k in keys)
    out = s.name("parsed")
    con.execute(f"""create temp table {out} as
        with n as (
            select c.*, t.factor, t.unit, t.source_unit, t.pct,
                   {f"coalesce(nm.norm, {normal})" if s.rows[numbers] else normal} as _normal, y.year_num
            from {cells} as c
            left join {tt} as t on t._var = c._var
            {f"left join {numbers} as nm on nm.raw = c.source_value" if s.rows[numbers] else ""}
            left join {years} as y on y.year_text is not distinct from c.year_text
        ),
        p as (
            select * exclude (_normal),
                   case when coalesce(pct, false) and ends_with(_normal, '%') then rtrim(_normal, '%')
                        else _normal end as _normal
            from n
        ),
        e as (
            select *, lower(_normal) in ({marks}) as _empty from p
        ),
        v as (
            select *,
                   case when _empty or contains(_normal, '_') then null
                        else nullif(try_cast(_normal as double), 'nan'::double) end as _number,
                   year_num is null or year_num < {FIRST_YEAR} or year_num > {LAST_YEAR}
                       or year_num % 1 <> 0 as _year_bad
            from e
        )
        select * exclude (factor, pct, _normal, year_num, _number, _year_bad),
               _number * factor as value,
               case when year_num % 1 = 0 then cast(round(year_num) as bigint) end as year,
               case when _kind = 'data' and not _empty and _year_bad
                        then 'year ' || coalesce(year_text, '') || ' is not a year in {FIRST_YEAR}–{LAST_YEAR}'
                    when _kind = 'data' and not _empty and unit_label = '' then 'no unit label in a row with values'
                    {no_key}
                    when _kind = 'data' and not _empty and _number is null then 'not a number: ' || source_value
               end as reason
        from v""")
    return out


ABSURD = 100  # a value this many times beyond its variable's plausible range is an error, not a warning


def absurd_limits(low: float | None, high: float | None) -> tuple[float | None, float | None]:
    """The values beyond which a figure is absurd for a plausible range [low, high]: two orders of magnitude
    outside it (high × 100; low / 100 for a positive low, else low − 100 × the range's width)."""
    def ok(x: float | None) -> bool:
        return x is not None and not math.isnan(x)

    width = (high - low) if ok(low) and ok(high) else abs(high) if ok(high) else abs(low) if ok(low) else 0.0
    top = None if not ok(high) else (high * ABSURD if high > 0 else high + ABSURD * max(width, 1.0))
    bottom = None if not ok(low) else (low / ABSURD if low > 0 else low - ABSURD * max(width, 1.0))
    return bottom, top


def _refuse_absurd(s: _Scratch, path: Path, cells: str, targets: dict[str, _Target]) -> None:
    """Refuse the file when a value of a data row is orders of magnitude outside its variable's plausible
    range — almost always a unit mistake (a file in 元 mapped as 亿元) that would otherwise load. Cells
    rejected for another reason (an unknown unit) load nothing and are not checked; zero has no magnitude (no
    unit mistake makes it) and is left to the quality checks."""
    checks = []
    for name, t in targets.items():
        bottom, top = absurd_limits(*t.plausible)
        if bottom is None and top is None:
            continue
        cond = " or ".join(([f"value > {top!r}"] if top is not None else [])
                           + ([f"(value < {bottom!r} and value <> 0)"] if bottom is not None else []))
        checks.append(f"(variable = {_q(name)} and ({cond}))")
    if not checks:
        return
    bad = s.con.execute(f"""select _sheet, _row, unit_label, unit_code, year, variable, source_value, value, unit,
                                   count(*) over () as n
                            from {cells} where _kind = 'data' and reason is null and not _empty
                              and value is not null
                              and ({' or '.join(checks)})
                            order by _cell limit 1""").fetchone()
    if bad is None:
        return
    sheet, row, label, code, year, name, text, value, unit, n = bad
    t = targets[name]
    low, high = t.plausible
    span = f"{'…' if low is None else _fmt(low)}–{'…' if high is None else _fmt(high)} {unit}"
    source_unit = t.spec.unit or (t.source.name if t.source else unit)
    where = f"{path}" + (f" sheet '{sheet}'" if sheet else "") + f" row {row}"
    others = f" (and {n - 1} more)" if n > 1 else ""
    raise IngestError(
        f"{where}: {name} of {label}{f' ({code})' if code else ''} {year} is {text} {source_unit} = "
        f"{_fmt(value)} {unit}, orders of magnitude outside its plausible range {span} "
        f"(from {t.plausible_source})"
        f"{others}; check the unit — is the file in another unit than {source_unit}? Fix unit: in the mapping; "
        "nothing was loaded")


def _fmt(x: float) -> str:
    """1000000.0 -> '1,000,000'; 0.001 -> '0.001'; 1.5e20 -> '1.5e+20'."""
    return f"{int(x):,}" if x.is_integer() and abs(x) < 1e15 else f"{x:.6g}"


def reason_code(reason: str) -> str:
    """A short code for a reject reason (what `geopanel rejects --ack` takes)."""
    return next((code for key, code in REASON_CODES if key in reason), "other")


def _reason_code_sql(column: str) -> str:
    """`reason_code` in SQL."""
    return ("case " + " ".join(f"when contains({column}, {_q(key)}) then {_q(code)}" for key, code in REASON_CODES)
            + " else 'other' end")


# ---------------------------------------------------------------- duplicates and revisions


def _same_sql(a: str, b: str, tolerance: float) -> str:
    return f"(abs({a} - {b}) <= {tolerance!r} * greatest(abs({b}), 1e-12) + 1e-12)"


def flag_duplicates(s: _Scratch, cells: str, m: Mapping, tolerance: float, prefer: str | None) -> tuple[str, str]:
    """Within the file: equal values (within tolerance) load once, different ones are rejected. Against
    every raw table of the level: equal is a duplicate; different is a conflict, or with `prefer` a revision
    (new: the new value supersedes the old one; old: the new value is not loaded). Returns the cells with
    `_duplicate` and reasons set, and the revisions to record (temporary tables), all in SQL."""
    con = s.con
    keys = [f"_key_{k}" for k in m.keys]
    key = ["unit_code", "year", "variable", *keys]
    by = ", ".join(key)
    ok = "reason is null and _kind = 'data' and not _empty"
    # a key with values beyond the tolerance of each other in this file: every such cell is rejected, with
    # the values and rows of its unit, year and variable
    okc = f"(select _cell, value, _row, {by} from {cells} where {ok})"
    # keys with more than one loadable cell (few): the first loads, the others are duplicates — unless their
    # values differ beyond the tolerance, when every cell of the key is rejected with the values and rows of
    # its unit, year and variable
    multi = s.name("multi")
    con.execute(f"""create temp table {multi} as
        select {by}, min(_cell) as first, not {_same_sql('max(value)', 'min(value)', tolerance)} as clash
        from {okc} group by all having count(*) > 1""")
    clash = s.name("clash")
    con.execute(f"""create temp table {clash} as
        with o as (select * from {okc}),
        c as (select o.* from o semi join (select * from {multi} where clash) using ({by})),
        listed as (
            select unit_code, year, variable, string_agg(cast(value as varchar), ', ' order by _cell) as vals,
                   string_agg(cast(_row as varchar), ', ' order by _cell) as rws
            from o semi join (select distinct unit_code, year, variable from c) using (unit_code, year, variable)
            group by all
        )
        select c._cell, 'conflicting duplicate: ' || c.unit_code || ' ' || c.year || ' ' || c.variable
               || ' has values ' || l.vals || ' in this file (rows ' || l.rws || ')' as why
        from c join listed as l using (unit_code, year, variable)
        union all
        select o._cell, null from {okc} as o join {multi} as x using ({by}) where not x.clash and o._cell <> x.first
        """)
    within = s.name("within")
    con.execute(f"""create temp view {within} as
        select c.* exclude (reason), coalesce(c.reason, x.why) as reason,
               x._cell is not null and x.why is null as _duplicate
        from {cells} as c left join {clash} as x using (_cell)""")
    revisions = s.name("revisions")
    tables = level_tables(con, m.level, grain_of(m))
    out = s.name("flagged")
    if not tables:
        con.execute(f"create temp view {out} as select * from {within}")
        con.execute(f"create temp table {revisions} (table_name varchar, level varchar, unit_code varchar, "
                    "year bigint, variable varchar, old_value double, old_hash varchar, new_value double, "
                    "kind varchar)")
        return out, revisions
    key_select = "".join(f", {k} as _key_{k}" for k in m.keys)
    union = " union all ".join(
        f"select '{t}' as table_name, unit_code, year, variable, value, _source_file, _row, _content_hash"
        f"{key_select} from raw.{t}" for t in tables)
    superseded = ("and not exists (select 1 from raw.revisions r where r.kind = 'prefer_new' and r.old_hash = "
                  "e._content_hash and r.unit_code = e.unit_code and r.year = e.year and r.variable = e.variable)"
                  if table_exists(con, "raw.revisions") else "")
    fresh = f"{ok} and not _duplicate"
    on = " and ".join(f"e.{c} = k.{c}" for c in key)
    cand = s.name("cand")
    con.execute(f"""create temp table {cand} as
        with k as (select distinct {by} from {within} where {fresh}),
        e as (
            select e.* from ({union}) as e semi join k on {on} where true {superseded}
            qualify row_number() over (partition by {', '.join('e.' + c for c in key)}
                                       order by e.table_name, e._source_file, e._row) = 1
        )
        select w._cell, w.value, e.table_name, e.value as value_old, e._source_file as _source_file_old,
               e._row as _row_old, e._content_hash as hash_old, {', '.join('w.' + c for c in key)},
               {_same_sql('w.value', 'e.value', tolerance)} as same,
               abs(w.value - e.value) <= 1e-9 * greatest(abs(e.value), 1) as exact
        from {within} as w join e using ({by})
        where {fresh.replace('reason', 'w.reason').replace('_kind', 'w._kind').replace('_empty', 'w._empty')
               .replace('_duplicate', 'w._duplicate')}""")
    conflict = ("'conflicts with ' || cast(x.value_old as varchar) || ' already loaded for ' || x.unit_code || ' ' "
                "|| x.year || ' ' || x.variable || ' from ' || x._source_file_old || ' row ' || x._row_old || "
                f"' (beyond the {tolerance:g} relative tolerance; --prefer new or --prefer old decides)'")
    con.execute(f"""create temp view {out} as
        select w.* exclude (reason, _duplicate),
               case when x.same is null or x.same or {_q(prefer or '')} <> '' then w.reason
                    else {conflict} end as reason,
               w._duplicate or coalesce(x.same, false) or (x.same is not null and not x.same
                                                           and {_q(prefer or '')} = 'old') as _duplicate
        from {within} as w left join {cand} as x using (_cell)""")
    kinds = ["select *, 'within_tolerance' as kind from x where same and not exact"]
    if prefer:
        kinds.append(f"select *, 'prefer_{prefer}' from x where not same")
    con.execute(f"""create temp table {revisions} as
        with x as (select * from {cand})
        select table_name, {_q(m.level)} as level, unit_code, cast(year as bigint) as year, variable,
               value_old as old_value, hash_old as old_hash, value as new_value, kind
        from ({' union all '.join(kinds)})""")
    return out, revisions


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



@dataclass
class _Plan:
    """A planned load, held in temporary tables of the connection until written or dropped."""

    cells: str
    revisions: str
    targets: dict[str, _Target]
    result: IngestResult


def plan_ingest(con: duckdb.DuckDBPyConnection, path: str | Path, mapping: Mapping,
                years: tuple[int, int] | None = None, tolerance: float = DEFAULT_TOLERANCE,
                prefer: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict, IngestResult]:
    """Read, check, resolve and compare a file without writing: (cells, revisions, targets, summary)."""
    s = _Scratch(con)
    try:
        plan = _plan(s, Path(path), mapping, years, tolerance, prefer)
        long = con.execute(f"select * exclude (_cell) from {plan.cells} order by _cell").df()
        for col in ("reason", "unit_code", "_unit_status", "_unit_reason", "_exclude_reason"):
            long[col] = long[col].astype("string")
        long["year"] = long["year"].astype("Int64")
        revisions = con.execute(f"select * from {plan.revisions}").df()
        return long, revisions, plan.targets, plan.result
    finally:
        s.drop()


def _plan(s: _Scratch, path: Path, m: Mapping, years: tuple[int, int] | None, tolerance: float,
          prefer: str | None) -> _Plan:
    con = s.con
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
    grids, encoding = load_grids(con, path, m.encoding, s.name("grid"))
    s.names.extend(g.name for _, g in grids)
    tables = [(sheet, year, make_table(con, sheet, grid, m.skip_rows, m.header_rows, m.skip_after_header,
                                       f"{path}" + (f" sheet '{sheet}'" if sheet else "")))
              for sheet, year, grid in _sheets(path, grids, m)]
    cells, header_units, value_texts, year_texts = to_cells(s, path, tables, m)
    targets = variable_targets(con, m, header_units)
    cells = parse_values(s, cells, targets, value_texts, year_texts)
    if years is not None:
        inside = f"coalesce(year between {int(years[0])} and {int(years[1])}, false)"
        lo, hi, n = con.execute(f"select min(year), max(year), count(*) filter ({inside}) from {cells} "
                                "where _kind = 'data'").fetchone()
        if not n:
            span = f"{lo}–{hi}" if lo is not None else "none"
            raise IngestError(f"{path}: no rows in years {years[0]}–{years[1]} (the file has {span}); fix --years")
        con.execute(f"delete from {cells} where _kind = 'data' and not {inside}")
    filled = {r[0] for r in con.execute(f"select distinct _var from {cells} where _kind = 'data' and not _empty"
                                        ).fetchall()}
    for name in targets:
        if name not in filled:
            raise IngestError(f"{path}: variable {name} ({m.source}) has no value in any data row; check skip_rows, "
                              "header_rows and the column it names")
    # every labelled data row is resolved, so that a subtotal row without values is still a total row
    labels = con.execute(f"""select distinct unit_label, nullif(parent_label, '') as parent_label, year
                             from {cells} where _kind = 'data' and unit_label <> '' and year is not null""").df()
    labels = labels.assign(parent_label=labels["parent_label"].astype("string"),
                           year=labels["year"].astype("Int64"))
    resolved = resolve_units(con, labels, m.level) if len(labels) else labels.assign(
        unit_code=pd.NA, status=pd.NA, reason=pd.NA, matched_level=pd.NA)
    if len(resolved):
        check_level(resolved, m.level, str(path))
    units = s.frame("units", pa.Table.from_pandas(pd.DataFrame({
        "unit_label": resolved["unit_label"].astype("string"),
        "parent_label": resolved["parent_label"].astype("string"),
        "year": resolved["year"].astype("Int64"), "unit_code": resolved["unit_code"].astype("string"),
        "status": resolved["status"].astype("string"), "reason": resolved["reason"].astype("string")}),
        preserve_index=False))
    merged = s.name("merged")
    con.execute(f"""create temp view {merged} as
        select c.* exclude (_kind, reason, _var), c._var as variable, u.unit_code,
               u.status as _unit_status, u.reason as _unit_reason,
               case when u.status = 'total' then 'total' else c._kind end as _kind,
               case when u.status = 'total' then u.reason end as _exclude_reason,
               case when c.reason is null and u.status = 'reject' and not c._empty then u.reason
                    else c.reason end as reason
        from {cells} as c left join {units} as u
          on u.unit_label = c.unit_label and u.parent_label is not distinct from nullif(c.parent_label, '')
         and u.year = c.year""")
    _refuse_absurd(s, path, merged, targets)
    flagged, revisions = flag_duplicates(s, merged, m, tolerance, prefer)
    return _Plan(flagged, revisions, targets, _summarise(s, path, m, encoding, flagged, revisions, targets))


GOOD = "_kind = 'data' and reason is null and not _empty and not _duplicate"
BAD = "_kind = 'data' and reason is not null"


def _excluded_sql(cells: str) -> str:
    """Total and footnote rows, once per row (a row has a cell per mapped column)."""
    return f"""select * from {cells} where _kind in ('total', 'footnote')
               qualify row_number() over (partition by _sheet, _row order by _cell) = 1"""


def _summarise(s: _Scratch, path: Path, m: Mapping, encoding: str, cells: str, revisions: str,
               targets: dict[str, _Target]) -> IngestResult:
    con = s.con
    loaded, duplicate, rejected, empty = con.execute(f"""
        select count(*) filter ({GOOD}), count(*) filter (_kind = 'data' and _duplicate),
               count(*) filter ({BAD}), count(*) filter (_empty and _kind in ('data', 'blank'))
        from {cells}""").fetchone()
    excluded = dict(con.execute(f"select _kind, count(*) from ({_excluded_sql(cells)}) group by _kind "
                                "order by count(*) desc, min(_cell)").fetchall())
    reasons = dict(con.execute(f"select {_reason_code_sql('reason')} as code, count(*) from {cells} where {BAD} "
                               "group by code order by count(*) desc, min(_cell)").fetchall())
    examples = con.execute(f"""select _sheet, _row, unit_label, year, variable, reason from {cells}
                               where {BAD} order by _cell limit 5""").df()
    examples["year"] = examples["year"].astype("Int64")
    firsts = " union all ".join(
        f"""(select _cell, variable, unit_label, unit_code, year, source_value, value, unit from {cells}
             where {GOOD} and variable = {_q(name)} order by _cell limit 3)""" for name in targets)
    preview = con.execute(f"select * from ({firsts}) order by _cell").df().drop(columns="_cell")
    revised = con.execute(f"select count(*) from {revisions} where kind = 'prefer_new'").fetchone()[0]
    conversions = [f"{t.spec.name}: {t.source.name if t.source else 'as is'} → {t.target} (× {t.factor:g})"
                   for t in targets.values()]
    return IngestResult(
        file=str(path), table=m.table, status="planned", encoding=encoding, rows_loaded=int(loaded),
        rows_duplicate=int(duplicate), rows_rejected=int(rejected), cells_empty=int(empty),
        rows_excluded=int(sum(excluded.values())), rows_revised=int(revised),
        reject_examples=examples.to_dict("records"), rejects_by_reason=reasons, excluded_by_kind=excluded,
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
    s = _Scratch(con)
    try:
        plan = _plan(s, path, m, years, tolerance, prefer)
        result = plan.result
        if dry_run:
            result.status = "dry-run"
            return result
        if result.rows_loaded == 0 and result.rows_duplicate == 0:
            top = ", ".join(f"{k} ×{v}" for k, v in result.rejects_by_reason.items()) or "no data rows"
            first = result.reject_examples[0]["reason"] if result.reject_examples else ""
            raise IngestError(f"{path}: no value could be loaded ({top}){'; first: ' + first if first else ''} — "
                              "nothing was written; see geopanel ingest --dry-run")
        replaced = _write(con, path, m, plan, digest, previous if replace else None)
    finally:
        s.drop()
    result.status = "loaded"
    result.replaced = replaced
    return result


def _write(con: duckdb.DuckDBPyConnection, path: Path, m: Mapping, plan: _Plan, digest: str,
           previous: pd.DataFrame | None) -> int:
    """The planned load in one transaction, inserted from the plan's tables by SQL."""
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    result, cells = plan.result, plan.cells
    common = [str(path), loaded_at, digest]
    with _write_errors(path), transaction(con):
        ensure_tables(con)
        replaced = _unload(con, previous["_content_hash"].unique().tolist(), loaded_at) if previous is not None else 0
        key_ddl = "".join(f", {k} varchar" for k in m.keys)
        con.execute(f"create table if not exists raw.{m.table} ({RAW_COLUMNS}{key_ddl})")
        register_table(con, m.table, m.level, grain_of(m))
        _register_variables(con, m, plan.targets, digest, path, loaded_at)
        keys = "".join(f", _key_{k} as {k}" for k in m.keys)
        con.execute(f"""insert into raw.{m.table} by name
            select unit_label, unit_code, year, variable, value, unit, source_value, source_unit,
                   ? as _source_file, _sheet, _row, ? as _loaded_at, ? as _content_hash, ? as _synthetic{keys}
            from {cells} where {GOOD}""", [*common, m.synthetic])
        con.execute(f"""insert into raw.rejects by name
            select ? as table_name, ? as level, unit_label, year, variable, source_value, reason,
                   ? as _source_file, _sheet, _row, ? as _loaded_at, ? as _content_hash,
                   {_reason_code_sql('reason')} as reason_code
            from {cells} where {BAD} order by _cell""", [m.table, m.level, *common])
        con.execute(f"""insert into raw.excluded_rows by name
            select ? as table_name, unit_label, _kind as kind, coalesce(_exclude_reason, _kind || ' row') as reason,
                   ? as _source_file, _sheet, _row, ? as _content_hash
            from ({_excluded_sql(cells)}) order by _cell""", [m.table, str(path), digest])
        con.execute(f"""insert into raw.revisions by name
            select *, ? as new_hash, ? as _source_file, ? as recorded_at from {plan.revisions}""",
                    [digest, str(path), loaded_at])
        con.execute(
            """insert into raw.ingest_log (table_name, level, _source_file, _content_hash, encoding, rows_loaded,
                   rows_duplicate, rows_rejected, cells_empty, _loaded_at, _synthetic, mapping, status, source_path,
                   mapping_text, rows_excluded, rows_revised)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?)""",
            [m.table, m.level, str(path), digest, result.encoding, result.rows_loaded, result.rows_duplicate,
             result.rows_rejected, result.cells_empty, loaded_at, m.synthetic, m.source, str(path.resolve()),
             m.text, result.rows_excluded, result.rows_revised])
    return replaced


@contextmanager
def _write_errors(path: Path) -> Iterator[None]:
    """A write the disk refuses (full, read-only) is a one-line error; the transaction has rolled back."""
    try:
        yield
    except duckdb.IOException as exc:
        raise IngestError(f"{path}: the warehouse could not be written ({str(exc).splitlines()[0]}); nothing was "
                          "loaded — check the free space (df -h) and permissions, then run again") from exc


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
                           source, registered_by, registered_from, registered_at, grain, plausible_min,
                           plausible_max, plausible_source)
                       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [m.level, spec.name, t.target, dimension, label, spec.label_en, spec.description,
                     spec.source or m.citation, digest, str(path), at, grain_of(m), t.plausible[0], t.plausible[1],
                     t.plausible_source or None])


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
