"""One data contract for every analysis: a DataFrame, a warehouse table or view, a SQL query, or a file
(.csv in UTF-8/GBK/GB18030, .parquet, .xlsx/.xls, .dta), with explicit unit / time (/ entity) columns
and ids kept as text.

    pd = read_panel("gdp_by_year.csv", unit="code")          # wide by year (2011, 2012 … or 2011年): melted
    pd.frame, pd.unit, pd.time, pd.source                    # source: "gdp_by_year.csv (gbk; wide … melted)"

Ids are text everywhere: CSV id columns are read as strings (so "01" stays "01"), integer ids from other
sources become "1", never "1.0". Given the ids of a weight matrix (`w_ids`), a data unit the matrix lacks
is an error listing unmatched ids on both sides, and ids that differ only by zero padding ("1" vs "01")
are called out as such, with what to do — never a silent partial match.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.errors import DataError

FILE_SUFFIXES = (".csv", ".txt", ".parquet", ".pq", ".xlsx", ".xls", ".dta")
W_MATCHES = ("subset", "exact", "drop")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_SQL = re.compile(r"^\s*\(?\s*(select|with|from|values|table)\b", re.IGNORECASE)
_YEAR_COL = re.compile(r"^\s*((?:19|20)\d\d)\s*(?:年|年度)?\s*$")
_ID_NAME = re.compile(r"(^|_)(code|id|adcode|fips)$|(代码|编码|编号)$", re.IGNORECASE)
_LEADING_ZERO = re.compile(r"^0\d+$")
_FINEST = ("county_code", "city_code", "province_code")


@dataclass
class PanelData:
    """A long frame with its unit / time (/ entity) columns named; ids are text."""

    frame: pd.DataFrame
    unit: str | None
    time: str | None
    entity: str | None = None
    source: str = "DataFrame"
    from_warehouse: bool = False
    dropped: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # warehouse tables read (the table, or those a query reads)

    @property
    def units(self) -> list[str]:
        """The distinct unit ids, sorted as text."""
        return sorted(self.frame[self.unit].dropna().unique().tolist()) if self.unit else []


def read_panel(data, *, con=None, unit: str | None = None, time: str | None = None, entity: str | None = None,
               where: str | None = None, w_ids: Iterable | None = None, columns: Sequence[str] | None = None,
               w_match: str = "subset", require_unit: bool = True, sheet: str | int | None = None,
               value_name: str | None = None) -> PanelData:
    """Read `data` (frame, table/view, SQL query or file) into a `PanelData` with ids as text.

    unit: the unit-id column (default: the finest *_code column, else code / unit_code / id); time: the
    period column (default `year`; a wide-by-year file is melted into it); entity: a firm/person id column.
    where: an SQL condition on the rows (any source). w_ids: the ids of a weight matrix to match the data's
    units against: 'subset' (every data unit must be in W), 'exact' (same units), 'drop' (units W lacks are
    left out and listed in `.dropped`; never when they differ from W's only by zero padding).
    columns: keep only these columns (plus the id and time columns). value_name: the column the values of a
    wide-by-year file go to (default: the one name in `columns`, else 'value').
    """
    if w_match not in W_MATCHES:
        raise DataError(f"w_match {w_match!r}: use one of {', '.join(W_MATCHES)}")
    frame, source, from_wh, text_cols, filtered = _read(data, con, unit, entity, sheet, where)
    tables = _tables_read(data, con)
    notes: list[str] = []
    year_cols = [c for c in frame.columns if _YEAR_COL.match(str(c))]
    time_col = time or "year"
    if time_col not in frame.columns and len(year_cols) >= 2:
        frame = _melt(frame, year_cols, time_col, [value_name] if value_name else columns)
        notes.append(f"wide by year {_year(year_cols[0])}–{_year(year_cols[-1])} melted to long ({time_col})")
    elif time is not None and time not in frame.columns:
        raise DataError(f"{source}: no time column {time!r} (columns: {_cols(frame)}); name it with --time")
    time = time_col if time_col in frame.columns else None
    unit = _unit_column(frame, source, unit, require_unit)
    if entity is not None and entity not in frame.columns:
        raise DataError(f"{source}: no entity column {entity!r} (columns: {_cols(frame)}); name it with --entity")
    frame = frame.copy()
    for col in dict.fromkeys([c for c in (unit, entity) if c] + text_cols):
        if col in frame.columns:
            frame[col] = as_text(frame[col])
    if time is not None:
        frame[time] = _as_period(frame[time], source, time)
    if where:
        frame = frame if filtered else _filter(frame, where, source, con)
        notes.append(f"where {where}")
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: no column {missing[0]!r} (columns: {_cols(frame)})")
        keep = list(dict.fromkeys([c for c in (unit, entity, time) if c] + list(columns)))
        frame = frame[keep]
    dropped: list[str] = []
    if w_ids is not None:
        if unit is None:
            raise DataError(f"{source}: name the unit column (unit=..., --unit) to match it with the weight matrix")
        frame, dropped = _match_w(frame, unit, w_ids, source, w_match)
        if dropped:
            notes.append(f"{len(dropped)} units not in W left out")
    desc = source + (f" ({'; '.join(notes)})" if notes else "")
    return PanelData(frame=frame.reset_index(drop=True), unit=unit, time=time, entity=entity, source=desc,
                     from_warehouse=from_wh, dropped=dropped, tables=tables)


def _tables_read(data, con=None) -> list[str]:
    """The warehouse tables `data` reads: itself for a table name, the tables a query reads (for the quality gate)."""
    if isinstance(data, PanelData):
        return list(data.tables)
    if not isinstance(data, str):
        return []
    text = data.strip()
    if not _SQL.match(text):
        return [text] if _IDENT.match(text) and Path(text).suffix.lower() not in FILE_SUFFIXES else []
    import duckdb

    try:
        names = duckdb.get_table_names(text, qualified=True)
    except duckdb.Error:  # duckdb binds some queries (join … using) without the catalog: read the names instead
        names = set(_FROM.findall(text))
    # duckdb lists 'main.x AS a' for an aliased table: keep the name, without quotes
    names = {re.split(r"\s+as\s+", n, flags=re.IGNORECASE)[0].replace('"', "") for n in names}
    if con is not None:
        from warehouse.db import table_exists

        names = {n for n in names if _table_exists(con, n, table_exists)}  # not a query's CTE names
    return sorted(names)


def _table_exists(con, name: str, table_exists) -> bool:
    try:
        return bool(table_exists(con, name))
    except Exception:  # a name the catalog cannot look up is not a warehouse table
        return False


_FROM = re.compile(r'\b(?:from|join)\s+((?:"[^"]+"|[A-Za-z_]\w*)(?:\.(?:"[^"]+"|[A-Za-z_]\w*))?)', re.IGNORECASE)


# ---------------------------------------------------------------------------- ids
def as_text(values: pd.Series) -> pd.Series:
    """Ids as text: strings stripped, integer-valued numbers without '.0', missing stays missing."""
    if pd.api.types.is_integer_dtype(values) and not values.isna().any():  # fast path: plain integers
        return pd.Series(values.astype("int64").astype(str).to_numpy(dtype=object), index=values.index, dtype=object)
    if pd.api.types.is_string_dtype(values) and values.dropna().map(type).eq(str).all():  # fast path: all text
        text = values.str.strip().str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
        out = text.astype(object).where(text.notna() & (text != ""), None)
        return pd.Series(out.to_numpy(dtype=object), index=values.index, dtype=object)

    def one(v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if isinstance(v, bool | np.bool_):
            return str(v)
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, int | np.integer):
            return str(int(v))
        text = str(v).strip()
        return re.sub(r"^(-?\d+)\.0+$", r"\1", text) if text else None
    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def padding_hint(data_only: Iterable[str], w_only: Iterable[str]) -> str | None:
    """If unmatched ids differ only by leading zeros ("1" vs "01"), a sentence saying so and what to do."""
    w_by = {}
    for c in w_only:
        w_by.setdefault(str(c).lstrip("0") or "0", str(c))
    pairs = [(str(d), w_by[str(d).lstrip("0") or "0"]) for d in data_only if (str(d).lstrip("0") or "0") in w_by]
    if not pairs:
        return None
    d, w = pairs[0]
    width = max(len(w) for _, w in pairs)
    if len(w) > len(d):
        fix = (f"the data's ids lost their leading zeros (an integer column, or a spreadsheet): read the id column "
               f"as text, or pad it to {width} digits (SQL lpad(code, {width}, '0'); pandas .str.zfill({width}))")
    else:
        fix = ("the weight matrix's ids lost their leading zeros: rebuild it with text ids, or strip the zeros "
               "from the data's ids")
    return (f"{len(pairs)} ids differ only by zero padding (data '{d}' vs W '{w}'): {fix}")


def check_w_ids(data_units: Iterable, w_ids: Iterable, *, source: str = "the data", w_name: str = "W",
                mode: str = "subset") -> list[str]:
    """Compare the data's unit ids with W's, as text. Returns the data units W lacks (mode 'drop'); raises
    DataError for any other mismatch, and always when the ids differ only by zero padding."""
    data_set = {str(u) for u in data_units if u is not None}
    w_set = {str(i).strip() for i in w_ids}
    data_only, w_only = sorted(data_set - w_set, key=_natural), sorted(w_set - data_set, key=_natural)
    hint = padding_hint(data_only, w_only)
    if hint:
        raise DataError(f"ids of {source} and {w_name} do not match: {hint}")
    if data_only and mode != "drop":
        raise DataError(f"{len(data_only)} of {len(data_set)} units of {source} are not in {w_name} "
                        f"({_preview(data_only)}); {len(w_only)} of W's {len(w_set)} units have no data "
                        f"({_preview(w_only)}); ids are matched as text: use a W over these units, or leave the "
                        "unmatched units out (--drop-unmatched)")
    if w_only and mode == "exact":
        raise DataError(f"{len(w_only)} of the {len(w_set)} units of {w_name} have no data in {source} "
                        f"({_preview(w_only)}); subset W or the data to the same units (ids are matched as text)")
    return data_only


def _match_w(frame, unit, w_ids, source, mode):
    dropped = check_w_ids(frame[unit].dropna().unique(), list(w_ids), source=source, mode=mode)
    if dropped:
        frame = frame[~frame[unit].isin(dropped)]
    return frame, dropped


def _natural(u: str):
    try:
        return (0, float(u), u)
    except ValueError:
        return (1, 0.0, u)


def _preview(ids: list[str], k: int = 5) -> str:
    return ", ".join(ids[:k]) + (f" … (+{len(ids) - k})" if len(ids) > k else "") if ids else "none"


# ---------------------------------------------------------------------------- reading
def _read(data, con, unit, entity, sheet, where) -> tuple[pd.DataFrame, str, bool, list[str], bool]:
    """(frame, description, from_warehouse, columns to keep as text, whether `where` was applied in SQL)."""
    wanted = [c for c in (unit, entity) if c]
    if isinstance(data, PanelData):
        return data.frame, data.source, data.from_warehouse, [], False
    if isinstance(data, pd.DataFrame):
        return data, "DataFrame", False, _id_like(data, wanted), False
    if data is None:
        raise DataError("name the data: a table or view (e.g. fct_city_year), a SQL query, a file or a DataFrame")
    text = str(data).strip()
    path = Path(text)
    cond = f" where ({where})" if where else ""
    if _SQL.match(text):
        what = f"query {_short(text)}" + (f" with --where {where!r}" if where else "")
        frame = _query(con, f"select * from ({text}) as _q{cond}" if where else text, what)
        return frame, f"query: {_short(text)}", True, _id_like(frame, wanted), True
    if path.suffix.lower() in FILE_SUFFIXES or (not _IDENT.match(text) and path.exists()):
        frame, desc, text_cols = _read_file(path, wanted, sheet)
        return frame, desc, False, text_cols, False
    if not _IDENT.match(text):
        raise DataError(f"data {text!r}: not a table or view name, a SQL query (select …) or a "
                        f"{'/'.join(FILE_SUFFIXES)} file")
    if con is None:
        raise DataError(f"data {text!r}: reading a warehouse table needs a connection (--db on the command line)")
    from warehouse.db import table_exists

    if not table_exists(con, text):
        try:
            like = [r[0] for r in con.execute(
                "select distinct table_name from information_schema.tables where table_name like 'fct_%' "
                "or table_name like 'ind_%' order by 1").fetchall()]
        except Exception:  # a connection without information_schema access: the list is only a courtesy
            like = []
        raise DataError(f"data {text!r}: no such table or view in the warehouse; panels and indicator layers: "
                        f"{_preview(like, 8)}")
    frame = _query(con, f"select * from {text}{cond}", f"{text}: --where {where!r}" if where else text)
    return frame, text, True, _id_like(frame, wanted), True


def _query(con, sql: str, what: str) -> pd.DataFrame:
    if con is None:
        raise DataError(f"{what}: running SQL needs a warehouse connection (--db on the command line)")
    _one_select(con, sql, what)
    try:
        return con.sql(sql).df()
    except Exception as exc:  # duckdb parser/binder/catalog errors: show the first line
        raise DataError(f"{what}: {str(exc).splitlines()[0]}") from exc


def _one_select(con, sql: str, what: str) -> None:
    """User SQL runs only as one SELECT: a --where of `1=1); drop table …` is refused, never executed."""
    from warehouse.db import single_select
    from warehouse.errors import WarehouseError

    try:
        single_select(con, sql, what)
    except WarehouseError as exc:
        raise DataError(str(exc)) from exc


def _read_file(path: Path, wanted: list[str], sheet) -> tuple[pd.DataFrame, str, list[str]]:
    if not path.exists():
        raise DataError(f"{path}: data file not found; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            return _read_csv(path, wanted)
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            return frame, path.name, _id_like(frame, wanted)
        if suffix in (".xlsx", ".xls"):
            # dtype=object: cells as stored (a text cell "01" stays "01"), numbers converted column by column
            frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, engine="calamine", dtype=object)
            frame.columns = [str(c).strip() for c in frame.columns]
            text_cols = _id_like(frame, wanted)
            _to_numbers(frame, text_cols)
            return frame, path.name + (f" [{sheet}]" if sheet is not None else ""), text_cols
        if suffix == ".dta":
            frame = pd.read_stata(path, convert_categoricals=False)
            return frame, path.name, _id_like(frame, wanted)
    except DataError:
        raise
    except Exception as exc:  # a reader's own error: restate it with the file
        raise DataError(f"{path}: cannot read as {suffix[1:]} ({str(exc).splitlines()[0]})") from exc
    raise DataError(f"{path}: unknown data format; use {', '.join(FILE_SUFFIXES)}")


def _read_csv(path: Path, wanted: list[str]) -> tuple[pd.DataFrame, str, list[str]]:
    from warehouse.ingest import detect_encoding

    raw = path.read_bytes()
    try:
        encoding = detect_encoding(raw)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    text = raw.decode(encoding)
    header = text.split("\n", 1)[0]
    sep = max((",", "\t", ";", "|"), key=header.count)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""], sep=sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    text_cols = _id_like(frame, wanted)
    _to_numbers(frame, text_cols)
    name = path.name if encoding in ("utf-8", "utf-8-sig") else f"{path.name} ({encoding})"
    return frame, name, text_cols


_MISSING = {"": None, "NA": None, "NaN": None, "nan": None, "null": None, "NULL": None, "-": None, "--": None,
            "…": None}


def _to_numbers(frame: pd.DataFrame, text_cols: list) -> None:
    """Convert, in place, every column whose non-missing cells are all numbers (1,234 allowed); ids stay text."""
    for col in frame.columns:
        if col in text_cols or pd.api.types.is_numeric_dtype(frame[col]):
            continue
        s = frame[col].map(lambda v: v.strip() if isinstance(v, str) else v)
        s = s.map(lambda v: _MISSING.get(v, v) if isinstance(v, str) else v)
        if s.map(lambda v: isinstance(v, bool)).any():
            continue
        num = pd.to_numeric(s.map(lambda v: v.replace(",", "") if isinstance(v, str) else v), errors="coerce")
        if s.notna().any() and num.notna().sum() == s.notna().sum():
            frame[col] = num


def _id_like(frame: pd.DataFrame, wanted: list[str]) -> list[str]:
    """Columns to keep as text: the named id columns, id-like names (*_code, code, id …), and columns of
    strings with a leading zero ("01", "0731")."""
    out = [c for c in wanted if c in frame.columns]
    for col in frame.columns:
        if col in out:
            continue
        name = str(col)
        if _ID_NAME.search(name) and not _YEAR_COL.match(name):
            out.append(col)
        elif frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            vals = frame[col].dropna().astype(str).str.strip()
            if len(vals) and vals.str.match(_LEADING_ZERO).any():
                out.append(col)
    return out


def _unit_column(frame: pd.DataFrame, source: str, unit: str | None, require: bool) -> str | None:
    if unit is not None:
        if unit not in frame.columns:
            raise DataError(f"{source}: no unit column {unit!r} (columns: {_cols(frame)}); name it with --unit")
        return unit
    codes = [c for c in _FINEST if c in frame.columns]
    if not codes:
        codes = [c for c in frame.columns if str(c).endswith("_code")]
        codes = codes if len(codes) == 1 else []
    codes = codes or [c for c in ("code", "unit_code", "unit", "id") if c in frame.columns]
    if not codes:
        named = [c for c in frame.columns if _ID_NAME.search(str(c))]
        codes = named if len(named) == 1 else []
    if codes:
        return codes[0]
    if require:
        raise DataError(f"{source}: cannot tell which column holds the unit ids (columns: {_cols(frame)}); "
                        "name it with --unit (unit=...)")
    return None


def _as_period(values: pd.Series, source: str, name: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(values):
        return values
    text = values.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).strip())
    years = text.str.extract(_YEAR_COL, expand=False)
    if years.notna().sum() == text.notna().sum() and text.notna().any():
        return _int(pd.to_numeric(years))
    num = pd.to_numeric(text, errors="coerce")
    if num.notna().sum() == text.notna().sum() and (num.dropna() % 1 == 0).all():
        return _int(num)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    bad = text[num.isna() & text.notna()]
    if len(bad) and len(bad) < text.notna().sum():
        raise DataError(f"{source}: time column {name!r} holds {bad.iloc[0]!r}, which is not a period; fix or "
                        "drop those rows")
    return values


def _int(values: pd.Series) -> pd.Series:
    return values.astype("int64") if values.notna().all() else values.astype("Int64")


def _melt(frame: pd.DataFrame, year_cols: list, time: str, columns) -> pd.DataFrame:
    value = columns[0] if columns is not None and len(columns) == 1 and columns[0] not in frame.columns else "value"
    ids = [c for c in frame.columns if c not in year_cols]
    long = frame.melt(id_vars=ids, value_vars=year_cols, var_name=time, value_name=value)
    long[time] = long[time].map(lambda c: int(_year(c)))
    if not pd.api.types.is_numeric_dtype(long[value]):
        num = pd.to_numeric(long[value], errors="coerce")
        if num.notna().sum() == long[value].notna().sum():
            long[value] = num
    return long


def _year(col) -> str:
    return _YEAR_COL.match(str(col)).group(1)


def _filter(frame: pd.DataFrame, where: str, source: str, con=None) -> pd.DataFrame:
    """Rows of a frame or file where the SQL condition holds; on the warehouse connection when there is one,
    so that the condition may use a subquery on warehouse tables."""
    import duckdb

    own = con is None
    con = duckdb.connect() if own else con
    name = "_geopanel_rows"
    try:
        con.register(name, frame)
        sql = f"select * from {name} where ({where})"
        _one_select(con, sql, f"{source}: --where {where!r}")
        out = con.sql(sql).df()
    except duckdb.Error as exc:
        raise DataError(f"{source}: --where {where!r}: {str(exc).splitlines()[0]}") from exc
    finally:
        try:
            con.unregister(name)
        finally:
            if own:
                con.close()
    for col in frame.columns:  # keep the dtypes the frame had (text ids stay text)
        if col in out.columns and frame[col].dtype == object:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _cols(frame: pd.DataFrame) -> str:
    return _preview([str(c) for c in frame.columns], 12)


def _short(sql: str) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= 60 else one[:57] + "…"
