"""Reading a yearbook file into tables of text: CSV in UTF-8 (with or without BOM), GBK or GB18030, and
.xls / .xlsx / .xlsm / .ods workbooks through python-calamine (Rust calamine: reads legacy .xls, which
openpyxl cannot, and is several times faster).

Every sheet lands in a DuckDB temporary table of text columns c0 … c{width-1} in file order (its rowid is
the row's index in the file), so that what follows runs set-based in SQL rather than per cell in Python:
a million-row CSV is parsed by DuckDB's own reader (`read_csv`, all columns as text), not row by row. The
file is still read as Python's `csv` module reads it (the format the project has always accepted): DuckDB
reads it only when it would give the same cells — no blank line (DuckDB skips them; `csv` yields an empty
row, and row numbers in messages must be the file's), no lone carriage return, no row wider than the first
thousand — and anything DuckDB refuses (a stray quote, a megabyte cell) is read by `csv` instead. Non-UTF-8
files are decoded here and handed to DuckDB as UTF-8.

A table is the title rows above the header, a header of one or more rows joined per column (a merged
upper cell is carried to the columns it spans, so 地区生产总值(万元) over 全市 | 市辖区 gives
地区生产总值(万元)·全市 and 地区生产总值(万元)·市辖区), rows to skip under it (a units row), and the body.
Headers, labels and numbers are compared after Unicode NFKC normalisation with spaces removed, so
full-width brackets, digits and spaces match their ASCII forms. Cells are stripped of whitespace as
`str.strip` does (`WHITESPACE`, the same set in SQL).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse.errors import IngestError

CSV_SUFFIXES = (".csv", ".txt")
BOOK_SUFFIXES = (".xls", ".xlsx", ".xlsm", ".ods")
JOIN = "·"
_DOTS = str.maketrans({"・": JOIN, "•": JOIN, "‧": JOIN, "∙": JOIN, "|": JOIN})
# footnote marks printed after names (北京①, 吉林*): dropped before NFKC, which would turn ① into 1
_MARKS = re.compile(r"[\u2460-\u24ff\u2776-\u2793*#△▲※]+")
# what str.strip() / str.split() treat as whitespace
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_SNIFF_RECORDS = 1000


@dataclass
class Grid:
    """One sheet's cells in a DuckDB temporary table `name` (columns c0 … c{width-1}, text stripped as
    str.strip does, '' for none), rows in file order: rowid k is the file's row k + 1."""

    name: str
    width: int
    rows: int


@dataclass
class Table:
    """One sheet (or the CSV) after the layout is applied: the body is rows first_body … of the grid."""

    sheet: str
    titles: list[str]
    header: list[str]
    grid: Grid
    first_body: int  # rowid of the first body row; the file row number is rowid + 1

    @property
    def body_rows(self) -> int:
        return max(self.grid.rows - self.first_body, 0)


def norm_header(text: object) -> str:
    """'地区生产总值（亿元）' -> '地区生产总值(亿元)'; '全市 · GDP' -> '全市·GDP'."""
    value = unicodedata.normalize("NFKC", str(text or "")).translate(_DOTS)
    return "".join(value.split())


def norm_label(text: object) -> str:
    """Unit labels as yearbooks print them, minus padding and marks: '北　京①' -> '北京'."""
    value = unicodedata.normalize("NFKC", _MARKS.sub("", str(text or "")))
    return "".join(value.split())


def norm_number(text: str) -> str:
    """'４，４６０．８２' -> '4460.82': NFKC, thousands separators and spaces removed."""
    value = unicodedata.normalize("NFKC", text)
    return "".join(value.split()).replace(",", "")


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


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a reader sees: 2009.0 -> '2009', 15616.06 -> '15616.06'."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _decode(path: Path, data: bytes, encoding: str) -> tuple[str, str]:
    try:
        used = detect_encoding(data) if encoding == "auto" else encoding
    except IngestError as exc:
        raise IngestError(f"{path}: {exc}") from exc
    try:
        return data.decode(used), used
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not {used} (byte {exc.start}); set encoding: auto or the right one") from exc


def read_grids(path: Path, encoding: str = "auto") -> tuple[list[tuple[str, list[list[str]]]], str]:
    """Every sheet of the file as (name, rows of cell text) in Python lists, and the encoding (or file kind)
    used. `load_grids` is the same into DuckDB; this is its reference (and the reader of workbooks)."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        text, used = _decode(path, path.read_bytes(), encoding)
        return [("", _csv_rows(text, path))], used
    if suffix in BOOK_SUFFIXES:
        from python_calamine import CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(str(path))
            sheets = [(name, [[cell_text(v) for v in row]
                              for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False)])
                      for name in book.sheet_names]
        except Exception as exc:  # calamine raises its own error types for damaged or encrypted files
            raise IngestError(f"{path}: cannot read as a {suffix} workbook ({exc}); open and re-save it") from exc
        return sheets, suffix.lstrip(".")
    raise IngestError(f"{path}: unsupported file type {suffix!r}; use .csv, .xls, .xlsx or .ods")


def _csv_rows(text: str, path: Path) -> list[list[str]]:
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:  # a NUL byte, a cell over csv's field limit
        raise IngestError(f"{path}: cannot read as CSV ({exc}); open and re-save it as plain CSV") from exc


def load_grids(con: duckdb.DuckDBPyConnection, path: Path, encoding: str, prefix: str
               ) -> tuple[list[tuple[str, Grid]], str]:
    """Every sheet of the file as a Grid (temporary tables named prefix_0, prefix_1 …), and the encoding
    (or file kind) used. The caller drops the tables."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        data = path.read_bytes()
        text, used = _decode(path, data, encoding)
        grid = _csv_by_duckdb(con, path, data, text, used, f"{prefix}_0")
        if grid is None:
            grid = grid_from_rows(con, _csv_rows(text, path), f"{prefix}_0")
        return [("", grid)], used
    sheets, kind = read_grids(path, encoding)
    return [(name, grid_from_rows(con, rows, f"{prefix}_{k}")) for k, (name, rows) in enumerate(sheets)], kind


def grid_from_rows(con: duckdb.DuckDBPyConnection, rows: list[list[str]], name: str) -> Grid:
    """A grid from rows of text (a workbook sheet, or a CSV DuckDB could not read as `csv` does)."""
    width = max((len(r) for r in rows), default=0)
    columns = list(itertools.zip_longest(*rows, fillvalue="")) if rows else []
    frame = pa.table({f"c{j}": pa.array(columns[j] if j < len(columns) else [], type=pa.string())
                      for j in range(width)}) if width else pa.table({"c0": pa.array([""] * len(rows), pa.string())})
    con.register(f"{name}_arrow", frame)
    try:
        con.execute(f"create or replace temp table {name} as select "
                    f"{', '.join(f'{strip_sql(c)} as {c}' for c in frame.column_names)} from {name}_arrow")
    finally:
        con.unregister(f"{name}_arrow")
    return Grid(name, max(width, 1), len(rows))


def _csv_by_duckdb(con: duckdb.DuckDBPyConnection, path: Path, data: bytes, text: str, encoding: str,
                   name: str) -> Grid | None:
    """The CSV read by DuckDB, or None where DuckDB's reading could differ from `csv`'s."""
    body = text[1:] if text.startswith("\ufeff") else text
    if not body.strip() or "\x00" in body:
        return None
    crlf = body.count("\r\n")
    if body.count("\r") != crlf or (crlf and crlf != body.count("\n")):
        return None  # lone or mixed carriage returns
    if body.startswith(("\n", "\r")) or "\n\n" in body or "\n\r\n" in body:
        return None  # a blank line: csv yields an empty row there, DuckDB skips it
    try:
        head = list(itertools.islice(csv.reader(io.StringIO(body[:1 << 20], newline="")), _SNIFF_RECORDS))
    except csv.Error:
        return None
    width = max((len(r) for r in head), default=0)
    if not width:
        return None
    source, tmp = str(path), None
    if encoding not in ("utf-8", "utf-8-sig"):
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False)  # noqa: SIM115
        tmp.write(body.encode("utf-8"))
        tmp.close()
        source = tmp.name
    columns = "{" + ", ".join(f"'c{j}': 'varchar'" for j in range(width)) + "}"
    try:
        for parallel in ("true", "false"):
            try:
                con.execute(
                    f"""create or replace temp table {name} as
                        select {', '.join(f'{strip_sql(f"c{j}")} as c{j}' for j in range(width))}
                        from read_csv(?, header = false,
                        auto_detect = false, columns = {columns}, delim = ',', quote = '"', escape = '"',
                        null_padding = true, strict_mode = true, parallel = {parallel},
                        max_line_size = 4000000)""", [source])
                break
            except duckdb.Error:
                continue
        else:
            return None
    finally:
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)
    # every line break ends a record except those inside quoted cells: a different count means DuckDB
    # read the file otherwise than csv would (it has silently dropped rows on unusual line ends)
    inside = "+".join(f"sum(strlen(c{j}) - strlen(replace(c{j}, chr(10), '')))" for j in range(width))
    rows, broken = con.execute(f"select count(*), {inside if chr(34) in body else '0'} from {name}").fetchone()
    if rows != body.count("\n") + (not body.endswith("\n")) - broken:
        con.execute(f"drop table if exists {name}")
        return None
    return Grid(name, width, rows)


def strip_sql(column: str) -> str:
    """str.strip() in SQL, NULL as ''. DuckDB's trim(x, characters) is slow on a million cells, so a regular
    expression finds the few cells that need stripping."""
    space = "[" + WHITESPACE + "]"
    return (f"case when regexp_matches({column}, '^{space}|{space}$') "
            f"then regexp_replace({column}, '^{space}+|{space}+$', '', 'g') else coalesce({column}, '') end")


def _strip(value: object) -> str:
    return "" if value is None else str(value).strip()


def make_table(con: duckdb.DuckDBPyConnection, sheet: str, grid: Grid, skip_rows: int, header_rows: int,
               skip_after: int, where: str) -> Table:
    """Apply the layout: titles, a (multi-row) header joined per column, skipped rows, the body."""
    first_body = skip_rows + header_rows + skip_after
    if grid.rows < skip_rows + header_rows:
        raise IngestError(f"{where}: no header after skipping {skip_rows} title rows (the table has {grid.rows} "
                          "rows); check skip_rows")
    top = [[_strip(c) for c in row] for row in con.execute(
        f"select * from {grid.name} where rowid < ? order by rowid", [skip_rows + header_rows]).fetchall()]
    head = [[norm_header(c) for c in row] for row in top[skip_rows:skip_rows + header_rows]]
    width = grid.width
    header = [JOIN.join(_dedupe([head[i][j] or _carried(head, i, j) for i in range(header_rows)]))
              for j in range(width)]
    titles = [" ".join(c for c in row if c) for row in top[:skip_rows]]
    return Table(sheet, titles, header, grid, first_body)


def _has_lower(head: list[list[str]], i: int, j: int) -> bool:
    return any(head[r][j] for r in range(i + 1, len(head)))


def _carried(head: list[list[str]], i: int, j: int) -> str:
    """An upper header cell merged across columns is stored in its first column only: carry it to the
    right over columns that have a lower header, when the cell it comes from is a group (has one too).
    A cell merged downwards (地区 over an empty lower cell) is not a group and is never carried."""
    if i == len(head) - 1 or not _has_lower(head, i, j):
        return ""
    k = j - 1
    while k >= 0 and not head[i][k]:
        if not _has_lower(head, i, k):
            return ""
        k -= 1
    return head[i][k] if k >= 0 and _has_lower(head, i, k) else ""


def _dedupe(parts: list[str]) -> list[str]:
    out: list[str] = []
    for p in parts:
        if p and (not out or out[-1] != p):
            out.append(p)
    return out
