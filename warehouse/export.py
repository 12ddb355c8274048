"""Write a result or a query to the file people open: CSV that Chinese Excel reads, Excel, Stata, Parquet.

    write_frame(frame, "gdp.xlsx")                                  # by suffix: .csv .xlsx .dta .parquet
    write_frame(frame, "gdp.dta", labels={"gdp": "地区生产总值"})     # Stata variable labels

- .csv is UTF-8 with a byte-order mark (Excel on a Chinese Windows otherwise reads it as GBK and garbles it);
  floats are written with full precision.
- .xlsx through openpyxl, sheet `data`; column labels (if given) go to a second sheet `labels`. Excel keeps
  about 16 significant digits (openpyxl writes '%.16g'): 0.1 + 0.2 comes back as 0.3; use .parquet or .dta
  where the last bit matters.
- .dta through pyreadstat with variable labels; Stata names must be ≤ 32 characters of letters, digits and
  '_' not starting with a digit: a name that is not is refused, naming it and a valid replacement to use.
- anything else is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.errors import DataError

SUFFIXES = (".csv", ".xlsx", ".dta", ".parquet")
_STATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def write_frame(frame: pd.DataFrame, path: str | Path, labels: dict[str, str] | None = None, *,
                bom: bool = True) -> Path:
    """Write `frame` to `path` by its suffix (.csv with BOM, .xlsx, .dta with labels, .parquet); returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: cannot write {suffix or 'a file without suffix'}; use {', '.join(SUFFIXES)}")
    frame = _plain(frame, binary=suffix == ".parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    given = {str(k): str(v) for k, v in (labels or {}).items() if v is not None}
    labels = {c: given[c] for c in frame.columns if c in given}
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8", float_format=None)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".xlsx":
        _write_xlsx(frame, path, labels)
    else:
        _write_dta(frame, path, labels)
    return path


def stata_name(name: str, position: int = 1) -> str:
    """A valid Stata variable name close to `name` (ASCII letters, digits, '_', ≤ 32 characters); a name
    without ASCII letters becomes v<position>."""
    text = re.sub(r"[^A-Za-z0-9_]", "_", str(name))
    text = re.sub(r"_+", "_", text).strip("_")
    if not re.search(r"[A-Za-z]", text):
        text = f"v{position}" + (f"_{text}" if text else "")
    if text[0].isdigit():
        text = "v" + text
    return text[:32]


def _plain(frame: pd.DataFrame, binary: bool = False) -> pd.DataFrame:
    """Columns the writers understand: bytes (WKB geometry) as a size note and nested values as text, except
    for Parquet (`binary`), which keeps both; text ids stay text."""
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    if binary:
        return out
    for col in out.columns:
        s = out[col]
        if s.dtype == object:
            if s.map(lambda v: isinstance(v, bytes | bytearray)).any():
                out[col] = s.map(lambda v: f"<{len(v)} bytes>" if isinstance(v, bytes | bytearray) else v)
            elif s.map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any():
                out[col] = s.map(lambda v: None if v is None else str(v))
    return out


def _write_xlsx(frame: pd.DataFrame, path: Path, labels: dict[str, str]) -> None:
    tz = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    if tz:
        frame = frame.assign(**{c: frame[c].dt.tz_localize(None) for c in tz})
    if len(frame) > 1_048_575:
        raise DataError(f"{path}: {len(frame)} rows do not fit an Excel sheet (1,048,575); write .csv or .parquet")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name="data")
        if labels:
            pd.DataFrame({"variable": list(labels), "label": list(labels.values())}).to_excel(
                writer, index=False, sheet_name="labels")


def _write_dta(frame: pd.DataFrame, path: Path, labels: dict[str, str]) -> None:
    import pyreadstat

    bad = [(i + 1, c) for i, c in enumerate(frame.columns) if not _STATA_NAME.match(c)]
    if bad:
        pairs = ", ".join(f"{c!r} → {stata_name(c, i)!r}" for i, c in bad[:5])
        i, c = bad[0]
        raise DataError(f"{path}: {len(bad)} column names are not valid Stata names (≤ 32 ASCII letters, digits, '_'):"
                        f" {pairs}; rename them (SQL: select \"{c}\" as {stata_name(c, i)}) and keep the original "
                        "as a label")
    dup = {stata_name(c).lower() for c in frame.columns}
    if len(dup) < len(frame.columns):
        raise DataError(f"{path}: column names that differ only in case clash in Stata; rename them")
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("Int8") if s.isna().any() else s.astype("int8")
        elif isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_localize(None)
        elif pd.api.types.is_extension_array_dtype(s) and pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype("float64")
        elif not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    too_long = {c: v for c, v in labels.items() if len(v.encode("utf-8")) > 80}
    if too_long:
        c = next(iter(too_long))
        raise DataError(f"{path}: the label of {c!r} is longer than Stata's 80 bytes ({too_long[c]!r}); shorten it")
    try:
        pyreadstat.write_dta(out, str(path), column_labels=[labels.get(c) for c in out.columns], version=15)
    except Exception as exc:  # pyreadstat raises its own types; restate with the file
        raise DataError(f"{path}: cannot write Stata file ({str(exc).splitlines()[0]})") from exc
