"""Ingest yearbook files (CSV / XLSX; long, wide-by-year or sheet-per-year) into `raw.<table>`.

A mapping (YAML beside the file, or given with --mapping) says which column names the unit, where
the years are, and which columns are which variables in which unit of measure. Every value lands as
one row (unit, year, variable) with its provenance; values are converted to canonical units (亿元,
万人, fractions for %); units are resolved to warehouse codes through `dim_unit_crosswalk`. Rows that
cannot be used go to `raw.rejects` with the reason. Loading the same file twice changes nothing, and a
failed load leaves the warehouse as it was (one transaction).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from warehouse.db import table_exists
from warehouse.errors import IngestError

LEVELS = ("province", "city", "county")
SHAPES = ("long", "wide", "sheets")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")
# unit of measure -> (canonical unit, factor to multiply by)
UNIT_CONVERSIONS: dict[str, tuple[str, float]] = {
    "元": ("亿元", 1e-8),
    "万元": ("亿元", 1e-4),
    "亿元": ("亿元", 1.0),
    "人": ("万人", 1e-4),
    "万人": ("万人", 1.0),
    "%": ("fraction", 0.01),
}
MISSING_MARKS = {"", "-", "--", "—", "——", "…", "...", "na", "n/a", "nan", "null", "none"}
FIRST_YEAR, LAST_YEAR = 1949, datetime.now(UTC).year
RAW_COLUMNS = """
    unit_label varchar, unit_code varchar, year integer, variable varchar, value double, unit varchar,
    source_value varchar, source_unit varchar, _source_file varchar, _sheet varchar, _row integer,
    _loaded_at timestamp, _content_hash varchar, _synthetic boolean
"""
REJECT_COLUMNS = """
    table_name varchar, level varchar, unit_label varchar, year integer, variable varchar,
    source_value varchar, reason varchar, _source_file varchar, _sheet varchar, _row integer,
    _loaded_at timestamp, _content_hash varchar
"""
LOG_COLUMNS = """
    table_name varchar, level varchar, _source_file varchar, _content_hash varchar, encoding varchar,
    rows_loaded integer, rows_duplicate integer, rows_rejected integer, cells_empty integer,
    _loaded_at timestamp, _synthetic boolean, mapping varchar
"""


@dataclass(frozen=True)
class VariableSpec:
    name: str
    unit: str | None = None


@dataclass
class Mapping:
    """How to read one file; see the README section "Ingest mappings" for the YAML format."""

    table: str
    level: str
    shape: str = "long"
    encoding: str = "auto"
    skip_rows: int = 0
    sheet: str | None = None
    unit_name: str | None = None
    unit_code: str | None = None
    unit_parent: str | None = None
    year: str | None = None
    indicator: str | None = None
    synthetic: bool = False
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    variable: VariableSpec | None = None
    source: str = "<command line>"


@dataclass
class IngestResult:
    """What a load did, for the command's summary."""

    file: str
    table: str
    status: str  # loaded | unchanged
    encoding: str = ""
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    cells_empty: int = 0
    reject_examples: list[dict] = field(default_factory=list)


def load_mapping(path: str | Path, **overrides: object) -> Mapping:
    """Read and check a mapping YAML; keyword overrides (table, level) win over the file."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: mapping file not found; write one (see README 'Ingest mappings')")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise IngestError(f"{path}: not valid YAML ({exc.__class__.__name__}); fix the syntax") from exc
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return mapping_from_dict(spec, source=str(path))


def mapping_from_dict(spec: dict, source: str) -> Mapping:
    """Build a Mapping from parsed YAML, naming the offending key in every error."""
    def need(key: str) -> object:
        if spec.get(key) in (None, ""):
            raise IngestError(f"{source}: missing '{key}'; add it to the mapping (or pass --{key})")
        return spec[key]

    table = str(need("table"))
    if not re.fullmatch(r"[a-z][a-z0-9_]*", table):
        raise IngestError(f"{source}: table {table!r} must be snake_case (letters, digits, _)")
    level, shape = str(need("level")), str(spec.get("shape", "long"))
    if level not in LEVELS:
        raise IngestError(f"{source}: level {level!r} is not one of {', '.join(LEVELS)}")
    if shape not in SHAPES:
        raise IngestError(f"{source}: shape {shape!r} is not one of {', '.join(SHAPES)}")
    encoding = str(spec.get("encoding", "auto")).lower()
    if encoding not in ENCODINGS:
        raise IngestError(f"{source}: encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    unit = spec.get("unit") or {}
    if isinstance(unit, str):
        unit = {"name": unit}
    if not (unit.get("name") or unit.get("code")):
        raise IngestError(
            f"{source}: 'unit' must name the column with the unit name or code (unit: {{name: 地区}})"
        )
    variables = {str(k): _variable_spec(v, source, str(k)) for k, v in (spec.get("variables") or {}).items()}
    variable = _variable_spec(spec["variable"], source, "variable") if spec.get("variable") else None
    mapping = Mapping(
        table=table, level=level, shape=shape, encoding=encoding, skip_rows=int(spec.get("skip_rows") or 0),
        sheet=spec.get("sheet"), unit_name=unit.get("name"), unit_code=unit.get("code"),
        unit_parent=unit.get("parent"), year=spec.get("year"), indicator=spec.get("indicator"),
        synthetic=bool(spec.get("synthetic", False)), variables=variables, variable=variable, source=source,
    )
    if shape == "long" and not mapping.year:
        raise IngestError(f"{source}: shape long needs 'year' (the column holding the year)")
    if shape == "sheets" and not mapping.sheet:
        raise IngestError(
            f"{source}: shape sheets needs 'sheet', a regex whose group 1 is the year, e.g. '^(\\d{{4}})年$'"
        )
    if shape == "wide" and not mapping.indicator and not mapping.variable:
        raise IngestError(f"{source}: shape wide needs 'variable' (or 'indicator' with 'variables')")
    if shape != "wide" and not variables:
        raise IngestError(f"{source}: 'variables' is empty; map at least one source column to a variable")
    return mapping


def _variable_spec(value: object, source: str, key: str) -> VariableSpec:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not value.get("name"):
        raise IngestError(f"{source}: variable {key!r} needs a name: {{name: gdp, unit: 亿元}}")
    name = str(value["name"])
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise IngestError(f"{source}: variable name {name!r} (for {key!r}) must be snake_case")
    return VariableSpec(name=name, unit=value.get("unit"))


# ---------------------------------------------------------------- reading


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def detect_encoding(data: bytes) -> str:
    """UTF-8 with BOM, UTF-8, GBK or GB18030, by strict decoding in that order."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    raise IngestError("cannot decode as UTF-8, GBK or GB18030; save the file as UTF-8 or set 'encoding'")


def read_tables(path: Path, mapping: Mapping) -> tuple[list[tuple[str, int | None, pd.DataFrame]], str]:
    """The file's tables as (sheet, year-from-sheet, frame of strings), plus the encoding used."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        data = path.read_bytes()
        encoding = detect_encoding(data) if mapping.encoding == "auto" else mapping.encoding
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IngestError(
                f"{path}: not {encoding} (byte {exc.start}); set encoding: auto or the right one"
            ) from exc
        frame = pd.read_csv(io.StringIO(text), skiprows=mapping.skip_rows, dtype=str, keep_default_na=False)
        return [("", None, frame)], encoding
    if suffix in (".xlsx", ".xlsm"):
        try:
            sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
        except Exception as exc:
            raise IngestError(f"{path}: cannot read as an Excel workbook ({exc}); save it as .xlsx") from exc
        return _pick_sheets(path, sheets, mapping), "xlsx"
    raise IngestError(f"{path}: unsupported file type {suffix!r}; use .csv or .xlsx")


def _pick_sheets(
    path: Path, sheets: dict[str, pd.DataFrame], mapping: Mapping
) -> list[tuple[str, int | None, pd.DataFrame]]:
    names = list(sheets)
    if mapping.shape == "sheets":
        pattern = re.compile(mapping.sheet)
        chosen = [(n, int(m.group(1))) for n in names if (m := pattern.search(n))]
        if not chosen:
            raise IngestError(f"{path}: no sheet matches {mapping.sheet!r}; sheets are: {', '.join(names)}")
    elif mapping.sheet:
        if mapping.sheet not in sheets:
            raise IngestError(f"{path}: no sheet {mapping.sheet!r}; sheets are: {', '.join(names)}")
        chosen = [(mapping.sheet, None)]
    else:
        chosen = [(names[0], None)]
    out = []
    for name, year in chosen:
        raw = sheets[name].iloc[mapping.skip_rows:]
        if raw.empty:
            raise IngestError(f"{path} sheet {name!r}: no header row after skipping {mapping.skip_rows} rows")
        header = [_cell_text(v) for v in raw.iloc[0]]
        body = raw.iloc[1:].map(_cell_text)
        body.columns = header
        out.append((name, year, body.reset_index(drop=True)))
    return out


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # Excel stores 2009 and 12 as floats; keep them as written
    return str(value).strip()


def _norm_header(text: str) -> str:
    return re.sub(r"\s+", "", str(text))


def _year_of(column: str) -> int | None:
    match = re.fullmatch(r"(\d{4})(?:年)?(?:\.0)?", _norm_header(column))
    return int(match.group(1)) if match else None


def to_long(path: Path, tables: list[tuple[str, int | None, pd.DataFrame]], mapping: Mapping) -> pd.DataFrame:
    """Reshape the file's tables into rows of (sheet, row, unit label, parent, year, variable, text, unit)."""
    parts = []
    for sheet, sheet_year, frame in tables:
        frame = frame.rename(columns=_norm_header)
        where = f"{path}" + (f" sheet {sheet!r}" if sheet else "")
        # spreadsheet row of the first data row: title rows + header row, 1-based
        first_row = mapping.skip_rows + 2
        unit_col = _norm_header(mapping.unit_code or mapping.unit_name)
        needed = [unit_col] + ([_norm_header(mapping.unit_parent)] if mapping.unit_parent else [])
        if mapping.shape == "long":
            needed.append(_norm_header(mapping.year))
        if mapping.shape != "wide" or mapping.indicator:
            columns = [mapping.indicator] if mapping.indicator else list(mapping.variables)
            needed += [_norm_header(c) for c in columns]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            cols = ", ".join(map(str, frame.columns))
            raise IngestError(f"{where}: no column {missing[0]!r} (named in {mapping.source}); columns are: {cols}")
        base = pd.DataFrame({
            "_sheet": sheet,
            "_row": range(first_row, first_row + len(frame)),
            "unit_label": frame[unit_col].map(_norm_label),
            "parent_label": (frame[_norm_header(mapping.unit_parent)].map(_norm_label).replace("", None)
                             if mapping.unit_parent else None),
        })
        if mapping.shape == "wide":
            year_cols = [c for c in frame.columns if _year_of(c) is not None]
            if not year_cols:
                raise IngestError(f"{where}: shape wide but no year columns (2003, 2003年 …) in the header")
            for col in year_cols:
                part = base.assign(year_text=str(_year_of(col)), source_value=frame[col].to_numpy())
                if mapping.indicator:
                    labels = frame[_norm_header(mapping.indicator)].map(_norm_header)
                    specs = {_norm_header(k): v for k, v in mapping.variables.items()}
                    part = part.assign(_label=labels.to_numpy())
                    part = part[part["_label"].isin(specs)]
                    part = part.assign(
                        variable=part["_label"].map({k: v.name for k, v in specs.items()}),
                        source_unit=part["_label"].map({k: v.unit for k, v in specs.items()}),
                    ).drop(columns="_label")
                else:
                    part = part.assign(variable=mapping.variable.name, source_unit=mapping.variable.unit)
                parts.append(part)
        else:
            year_text = frame[_norm_header(mapping.year)].to_numpy() if mapping.shape == "long" else str(sheet_year)
            for col, spec in mapping.variables.items():
                parts.append(base.assign(year_text=year_text, variable=spec.name, source_unit=spec.unit,
                                         source_value=frame[_norm_header(col)].to_numpy()))
    long = pd.concat(parts, ignore_index=True)
    return long[long["unit_label"] != ""].reset_index(drop=True)


def _norm_label(text: object) -> str:
    """Unit labels as yearbooks print them, minus padding: '北　京' -> '北京', ' 110000 ' -> '110000'."""
    return re.sub(r"[\s\u3000*]+", "", str(text or ""))


def parse_values(long: pd.DataFrame) -> pd.DataFrame:
    """Add year, value (canonical unit), unit and a reject reason for cells that are not numbers."""
    text = long["source_value"].astype(str).str.strip()
    cleaned = text.str.replace(",", "", regex=False).str.replace("，", "", regex=False)
    value = pd.to_numeric(cleaned, errors="coerce")
    empty = text.str.lower().isin(MISSING_MARKS)
    long = long.assign(source_value=text, _empty=empty)
    factors = long["source_unit"].map(lambda u: UNIT_CONVERSIONS.get(u, (u, 1.0)) if u else (None, 1.0))
    long["unit"] = [f[0] for f in factors]
    long["value"] = value * [f[1] for f in factors]
    year = pd.to_numeric(long["year_text"].astype(str).str.replace("年", "").str.strip(), errors="coerce")
    long["year"] = year.astype("Int64")
    reason = pd.Series(pd.NA, index=long.index, dtype="string")
    bad_year = year.isna() | (year < FIRST_YEAR) | (year > LAST_YEAR) | (year % 1 != 0)
    reason[bad_year] = "year " + long["year_text"].astype(str) + f" is not a year in {FIRST_YEAR}–{LAST_YEAR}"
    not_number = value.isna() & ~empty & ~bad_year
    reason[not_number] = "not a number: " + text[not_number]
    long["reason"] = reason
    return long


# ---------------------------------------------------------------- resolving and writing


def resolve_units(con: duckdb.DuckDBPyConnection, long: pd.DataFrame, level: str) -> pd.DataFrame:
    """Attach unit_code via dim_unit_crosswalk; unresolved or ambiguous labels get a reason."""
    if not table_exists(con, "main.dim_unit_crosswalk"):
        raise IngestError(
            "the warehouse has no dim_unit_crosswalk yet; run `geopanel init` (or `geopanel demo`) first"
        )
    labels = long[["unit_label", "parent_label", "year"]].drop_duplicates().copy()
    labels["year"] = labels["year"].astype("Int64")
    labels["parent_label"] = labels["parent_label"].astype("string")
    con.register("ingest_labels", labels)
    resolved = con.execute(
        """
        with candidates as (
            select l.unit_label, l.parent_label, l.year, x.unit_code,
                   case when x.alias_kind in ('code', 'name', 'old_code', 'old_name') then 1 else 2 end as tier
            from ingest_labels as l
            inner join main.dim_unit_crosswalk as x
                on x.level = $level and x.alias = l.unit_label and l.year between x.valid_from and x.valid_to
            where l.parent_label is null
               -- the parent may be printed as the city or, as older yearbooks do, the province
               or exists (select 1 from main.dim_unit_crosswalk as p
                          where p.alias = l.parent_label
                            and p.unit_code in (x.parent_code, left(x.unit_code, 2) || '0000'))
        ),
        best as (
            select * from candidates
            qualify tier = min(tier) over (partition by unit_label, parent_label, year)
        ),
        grouped as (
            select unit_label, parent_label, year, list(distinct unit_code order by unit_code) as codes
            from best group by all
        ),
        known as (
            -- where a label exists at this level but not in that year: its valid years
            select alias, string_agg(distinct valid_from || '–' || valid_to, ', ') as windows
            from main.dim_unit_crosswalk where level = $level group by alias
        )
        select l.unit_label, l.parent_label, l.year, g.codes, k.windows
        from ingest_labels as l
        left join grouped as g
            on g.unit_label = l.unit_label and g.parent_label is not distinct from l.parent_label and g.year = l.year
        left join known as k on k.alias = l.unit_label
        """,
        {"level": level},
    ).df()
    con.unregister("ingest_labels")

    def decide(row: dict) -> tuple[object, object]:
        codes = row["codes"]
        codes = list(codes) if isinstance(codes, list | tuple) or hasattr(codes, "__array__") else None
        if codes is not None and len(codes) == 1:
            return codes[0], pd.NA
        if codes is not None and len(codes) > 1:
            return pd.NA, (f"ambiguous {level} '{row['unit_label']}' in {row['year']}: matches "
                           f"{', '.join(codes)}; add a unit.parent column to the mapping")
        if isinstance(row["windows"], str) and isinstance(row["parent_label"], str):
            return pd.NA, f"no {level} '{row['unit_label']}' under '{row['parent_label']}' in {row['year']}"
        if isinstance(row["windows"], str):
            return pd.NA, f"{level} '{row['unit_label']}' is not valid in {row['year']} (valid {row['windows']})"
        return pd.NA, f"unknown {level} '{row['unit_label']}': not a code or name in dim_unit_crosswalk"

    decided = [decide(row) for row in resolved.to_dict("records")]
    resolved["unit_code"] = pd.array([d[0] for d in decided], dtype="string")
    resolved["unit_reason"] = pd.array([d[1] for d in decided], dtype="string")
    keys = ["unit_label", "parent_label", "year"]
    long = long.astype({"parent_label": "string"})
    merged = long.merge(resolved[keys + ["unit_code", "unit_reason"]], on=keys, how="left")
    merged["reason"] = merged["reason"].fillna(merged["unit_reason"])
    return merged.drop(columns="unit_reason")


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    mapping: Mapping,
    years: tuple[int, int] | None = None,
) -> IngestResult:
    """Load one file with its mapping in one transaction; re-loading the same content is a no-op."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: file not found; check the path")
    digest = file_hash(path)
    seen = table_exists(con, "raw.ingest_log") and con.execute(
        "select count(*) from raw.ingest_log where _content_hash = ? and table_name = ?", [digest, mapping.table]
    ).fetchone()[0]
    if seen:
        return IngestResult(file=str(path), table=mapping.table, status="unchanged")

    tables, encoding = read_tables(path, mapping)
    long = parse_values(to_long(path, tables, mapping))
    if years is not None:
        in_range = long["year"].between(*years).fillna(False).astype(bool)
        if not in_range.any():
            span = f"{long['year'].min()}–{long['year'].max()}" if long["year"].notna().any() else "none"
            raise IngestError(f"{path}: no rows in years {years[0]}–{years[1]} (the file has {span}); fix --years")
        long = long[in_range]
    cells_empty = int((long["_empty"] & long["reason"].isna()).sum())
    long = long[~long["_empty"] | long["reason"].notna()]
    long = resolve_units(con, long, mapping.level)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    long = long.assign(
        _source_file=str(path), _loaded_at=loaded_at, _content_hash=digest, _synthetic=mapping.synthetic
    )
    long = _flag_duplicates(con, long, mapping.table)

    good = long[long["reason"].isna() & ~long["_duplicate"]]
    bad = long[long["reason"].notna()]
    con.execute("begin transaction")
    try:
        for ddl in (f"raw.{mapping.table} ({RAW_COLUMNS})", f"raw.rejects ({REJECT_COLUMNS})",
                    f"raw.ingest_log ({LOG_COLUMNS})"):
            con.execute(f"create table if not exists {ddl}")
        con.register("ingest_good", good.drop(columns=["reason", "_duplicate", "_empty", "year_text", "parent_label"]))
        con.execute(f"insert into raw.{mapping.table} by name select * from ingest_good")
        con.register("ingest_bad", bad.assign(table_name=mapping.table, level=mapping.level))
        con.execute(
            """insert into raw.rejects by name
                select table_name, level, unit_label, year::integer as year, variable, source_value, reason,
                       _source_file, _sheet, _row, _loaded_at, _content_hash from ingest_bad"""
        )
        con.execute(
            "insert into raw.ingest_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [mapping.table, mapping.level, str(path), digest, encoding, len(good), int(long["_duplicate"].sum()),
             len(bad), cells_empty, loaded_at, mapping.synthetic, mapping.source],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        for name in ("ingest_good", "ingest_bad"):
            con.unregister(name)
    examples = bad.head(5)[["_sheet", "_row", "unit_label", "year", "variable", "reason"]].to_dict("records")
    return IngestResult(
        file=str(path), table=mapping.table, status="loaded", encoding=encoding, rows_loaded=len(good),
        rows_duplicate=int(long["_duplicate"].sum()), rows_rejected=len(bad), cells_empty=cells_empty,
        reject_examples=examples,
    )


def _flag_duplicates(con: duckdb.DuckDBPyConnection, long: pd.DataFrame, table: str) -> pd.DataFrame:
    """Same unit-year-variable twice: equal values are loaded once, conflicting ones are rejected."""
    long = long.copy()
    long["_duplicate"] = False
    key = ["unit_code", "year", "variable"]
    ok = long["reason"].isna()
    within = long[ok].groupby(key)["value"]
    spread = within.transform("max") - within.transform("min")
    conflict_idx = spread[spread.abs() > 1e-9 * long.loc[spread.index, "value"].abs().clip(lower=1)].index
    for idx in conflict_idx:
        row = long.loc[idx]
        others = long[ok & (long["unit_code"] == row["unit_code"]) & (long["year"] == row["year"])
                      & (long["variable"] == row["variable"])]
        long.loc[idx, "reason"] = (f"conflicting duplicate: {row['unit_code']} {row['year']} {row['variable']} "
                                   f"has values {', '.join(map(str, others['value'].tolist()))} "
                                   f"(rows {', '.join(map(str, others['_row'].tolist()))})")
    ok = long["reason"].isna()
    long.loc[ok & long.duplicated(key, keep="first") & ok, "_duplicate"] = True

    if not table_exists(con, f"raw.{table}"):
        return long
    existing = con.execute(f"select unit_code, year, variable, value, _source_file, _row from raw.{table}").df()
    if existing.empty:
        return long
    existing = existing.drop_duplicates(key).astype({"year": "Int64"})
    fresh = long[ok & ~long["_duplicate"]].reset_index()
    candidates = fresh.merge(existing, on=key, how="inner", suffixes=("", "_old"))
    same = (candidates["value"] - candidates["value_old"]).abs() <= 1e-9 * candidates["value_old"].abs().clip(lower=1)
    long.loc[candidates.loc[same, "index"], "_duplicate"] = True
    clash = candidates[~same]
    long.loc[clash["index"], "reason"] = (
        "conflicts with " + clash["value_old"].astype(str) + " already loaded for " + clash["unit_code"] + " "
        + clash["year"].astype(str) + " " + clash["variable"] + " from " + clash["_source_file_old"]
        + " row " + clash["_row_old"].astype(str)
    ).to_numpy()
    return long

