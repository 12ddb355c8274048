"""Reading a yearbook file into tables of text: CSV in UTF-8 (with or without BOM), GBK or GB18030, and
.xls / .xlsx / .xlsm / .ods workbooks through python-calamine (Rust calamine: reads legacy .xls, which
openpyxl cannot, and is several times faster).

A table is the title rows above the header, a header of one or more rows joined per column (a merged
upper cell is carried to the columns it spans, so 地区生产总值(万元) over 全市 | 市辖区 gives
地区生产总值(万元)·全市 and 地区生产总值(万元)·市辖区), rows to skip under it (a units row), and the body
with each row's number in the file. Headers, labels and numbers are compared after Unicode NFKC
normalisation with spaces removed, so full-width brackets, digits and spaces match their ASCII forms.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from warehouse.errors import IngestError

CSV_SUFFIXES = (".csv", ".txt")
BOOK_SUFFIXES = (".xls", ".xlsx", ".xlsm", ".ods")
JOIN = "·"
_DOTS = str.maketrans({"・": JOIN, "•": JOIN, "‧": JOIN, "∙": JOIN, "|": JOIN})
# footnote marks printed after names (北京①, 吉林*): dropped before NFKC, which would turn ① into 1
_MARKS = re.compile(r"[\u2460-\u24ff\u2776-\u2793*#△▲※]+")


@dataclass
class Table:
    """One sheet (or the CSV) after the layout is applied."""

    sheet: str
    titles: list[str]
    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]


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


def read_grids(path: Path, encoding: str = "auto") -> tuple[list[tuple[str, list[list[str]]]], str]:
    """Every sheet of the file as (name, rows of cell text), and the encoding (or file kind) used."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        data = path.read_bytes()
        try:
            used = detect_encoding(data) if encoding == "auto" else encoding
        except IngestError as exc:
            raise IngestError(f"{path}: {exc}") from exc
        try:
            text = data.decode(used)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path}: not {used} (byte {exc.start}); set encoding: auto or the right one") from exc
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
        return [("", rows)], used
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


def make_table(sheet: str, grid: list[list[str]], skip_rows: int, header_rows: int, skip_after: int,
               where: str) -> Table:
    """Apply the layout: titles, a (multi-row) header joined per column, skipped rows, the body."""
    width = max((len(r) for r in grid), default=0)
    grid = [r + [""] * (width - len(r)) for r in grid]
    first_body = skip_rows + header_rows + skip_after
    if len(grid) < skip_rows + header_rows:
        raise IngestError(f"{where}: no header after skipping {skip_rows} title rows (the table has {len(grid)} "
                          "rows); check skip_rows")
    head = [[norm_header(c) for c in row] for row in grid[skip_rows:skip_rows + header_rows]]
    header = [JOIN.join(_dedupe([head[i][j] or _carried(head, i, j) for i in range(header_rows)]))
              for j in range(width)]
    titles = [" ".join(c for c in row if c) for row in grid[:skip_rows]]
    body = grid[first_body:]
    return Table(sheet, titles, header, body, list(range(first_body + 1, first_body + 1 + len(body))))


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
