"""Paper-style tables: a grid of strings (coefficients with stars, SEs in parentheses, one column per
model, as esttab lays them out) rendered as Markdown, LaTeX (booktabs), HTML or XLSX.

The HTML is one styled renderer for every paper table (regression, DID battery, spatial effects): a
three-line table (三线表, as Chinese journals print it: a heavy rule above and below, a thin one under the
header) with cell borders from its own `<style>`, numbers aligned on the decimal point and the note under the
table in its footer. It is a single `<table>` element, so it stands alone as a file and can be embedded in a
larger page; `html_page` wraps tables into a full document.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd


def stars(p: float, levels: tuple[float, ...] = (0.1, 0.05, 0.01)) -> str:
    """One star per significance level that p is below: *** p<0.01, ** p<0.05, * p<0.1 by default."""
    return "*" * sum(p < level for level in levels)


# Rules scoped to the tables this module writes (the gp-* classes of their parts), so that a page embedding
# them keeps its own table style; :has() gives the table itself collapsed borders in current browsers.
TABLE_CSS = (
    "table:has(>tbody.gp-body){border-collapse:collapse;margin:.8em 0;font-variant-numeric:tabular-nums;"
    "font-family:'Times New Roman','SimSun','Songti SC','Noto Serif CJK SC',serif;font-size:14px}"
    "thead.gp-head th{border-top:2px solid #000;border-bottom:1px solid #000;padding:4px 12px;"
    "text-align:center;font-weight:bold}"
    "tbody.gp-body th,tbody.gp-body td{border:0 solid #000;padding:2px 12px;white-space:nowrap}"
    "tbody.gp-body th{text-align:left;font-weight:normal}"
    "tbody.gp-body td{text-align:center}"
    "tbody.gp-body tr:last-child th,tbody.gp-body tr:last-child td{border-bottom:2px solid #000}"
    "td.gp-num span{display:inline-block}td.gp-num .gp-i{text-align:right}td.gp-num .gp-f{text-align:left}"
    "tfoot.gp-foot td{border:0;padding:4px 2px;font-size:12px;text-align:left;white-space:normal;"
    "overflow-wrap:anywhere}"
)
_NUMBER = re.compile(r"^(\(?[−+-]?\d[\d,]*)(\.\d+)?(\D*)$")


def _split(cell: str) -> tuple[str, str] | None:
    """'(0.123)' → ('(0', '.123)'); '-1.5***' → ('-1', '.5***'); '1,234' → ('1,234', ''); text → None."""
    m = _NUMBER.match(cell.strip())
    if not m or not re.fullmatch(r"[*)%†‡]*", m.group(3)):
        return None
    return m.group(1), (m.group(2) or "") + m.group(3)


def _html_column(cells: list[str]) -> list[str]:
    """The <td>s of one column: number cells aligned on the decimal point (an integer part right-aligned and the
    rest left-aligned, in boxes as wide as the column's widest), other cells centred."""
    parts = [_split(c) for c in cells]
    wi = max((len(p[0]) for p in parts if p), default=0) + 0.5
    wf = max((len(p[1]) for p in parts if p), default=0) + 0.5
    out = []
    for cell, p in zip(cells, parts, strict=True):
        if p is None:
            out.append(f"<td>{html.escape(cell)}</td>")
        else:
            out.append(f'<td class="gp-num"><span class="gp-i" style="min-width:{wi}ch">{html.escape(p[0])}</span>'
                       f'<span class="gp-f" style="min-width:{wf}ch">{html.escape(p[1])}</span></td>')
    return out


def render_html(grid: pd.DataFrame, note: str = "", caption: str = "") -> str:
    """One `<table>`: its own style, a header row, the body (row labels as <th>) and the note in the footer."""
    index = ["" if str(i).endswith(" ") else str(i) for i in grid.index]
    columns = [_html_column([str(c) for c in grid[col]]) for col in grid.columns] if len(grid.columns) else []
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in grid.columns)
    body = "".join("<tr><th>" + html.escape(i) + "</th>" + "".join(col[r] for col in columns) + "</tr>"
                   for r, i in enumerate(index))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    foot = (f'<tfoot class="gp-foot"><tr><td colspan="{len(grid.columns) + 1}">{html.escape(note)}</td></tr></tfoot>'
            if note else "")
    # the charset first: the DID battery writes this fragment as its own .html file, and a browser looks for
    # <meta charset> in the first 1,024 bytes wherever it stands (in a page it moves before the table, harmless)
    return (f"<table><meta charset=\"utf-8\"><style>{TABLE_CSS}</style>{cap}"
            f"<thead class=\"gp-head\"><tr><th></th>{head}</tr></thead>"
            f"<tbody class=\"gp-body\">{body}</tbody>{foot}</table>")


def html_page(*tables: str, title: str = "") -> str:
    """Tables (and other HTML fragments) as one self-contained page: UTF-8, no scripts, no network."""
    return ("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{margin:2em auto;max-width:1200px;padding:0 1.5em;"
            "overflow-x:auto}</style></head><body>" + "\n".join(tables) + "</body></html>\n")


def render(grid: pd.DataFrame, fmt: str, note: str) -> str:
    """A string grid as Markdown, LaTeX (booktabs) or HTML (`render_html`)."""
    index = ["" if str(i).endswith(" ") else i for i in grid.index]
    if fmt == "markdown":
        lines = ["| | " + " | ".join(grid.columns) + " |", "|---" * (len(grid.columns) + 1) + "|"]
        lines += [f"| {i} | " + " | ".join(row) + " |" for i, row in zip(index, grid.to_numpy(), strict=True)]
        return "\n".join(lines) + f"\n\n{note}"
    if fmt == "latex":
        def esc(s: str) -> str:
            s = s.replace("_", r"\_").replace("%", r"\%").replace("²", "$^2$")
            return re.sub(r"(\*+)", r"$^{\1}$", s)
        body = [" & ".join([esc(i)] + [esc(c) for c in row]) + r" \\" for i, row in zip(index, grid.to_numpy(),
                                                                                          strict=True)]
        return "\n".join([r"\begin{tabular}{l" + "c" * len(grid.columns) + "}", r"\toprule",
                          " & ".join([""] + [esc(c) for c in grid.columns]) + r" \\", r"\midrule", *body,
                          r"\bottomrule", r"\end{tabular}", esc(note)])
    if fmt == "html":
        return render_html(grid, note)
    raise ValueError(f"table format {fmt!r}: use markdown, latex or html (or write_grid to a .xlsx file)")


def write_xlsx(grid: pd.DataFrame, path: str | Path, note: str = "", sheet: str = "table") -> Path:
    """The grid as an Excel sheet laid out like the paper table: a header row, row labels in column A, cells as
    printed (text: stars and parentheses kept), three rules and the note in the row under the table."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["", *[str(c) for c in grid.columns]])
    for i, row in zip(grid.index, grid.to_numpy(), strict=True):
        ws.append(["" if str(i).endswith(" ") else str(i), *[str(c) for c in row]])
    ncol, nrow = len(grid.columns) + 1, len(grid) + 1
    heavy, thin = Side(style="medium"), Side(style="thin")
    for c in range(1, ncol + 1):
        ws.cell(1, c).border = Border(top=heavy, bottom=thin)
        ws.cell(1, c).font = Font(bold=True)
        ws.cell(nrow, c).border = Border(bottom=heavy, top=thin if nrow == 1 else None)
        for r in range(1, nrow + 1):
            ws.cell(r, c).alignment = Alignment(horizontal="left" if c == 1 else "center")
    if note:
        ws.cell(nrow + 1, 1, note).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=nrow + 1, start_column=1, end_row=nrow + 1, end_column=ncol)
        ws.row_dimensions[nrow + 1].height = 15 * (1 + len(note) // 90)
    ws.column_dimensions["A"].width = max(12, min(40, max((len(str(i)) for i in grid.index), default=8) + 2))
    for c in range(2, ncol + 1):
        ws.column_dimensions[ws.cell(1, c).column_letter].width = max(
            10, min(30, max([len(str(v)) for v in grid.iloc[:, c - 2]] + [len(str(grid.columns[c - 2]))]) + 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_grid(grid: pd.DataFrame, path: str | Path, note: str = "") -> Path:
    """Write the table by the file's suffix: .md, .tex, .html (a full page) or .xlsx."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return write_xlsx(grid, path, note)
    fmt = {".md": "markdown", ".tex": "latex", ".html": "html", ".htm": "html"}.get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: write .md, .tex, .html or .xlsx")
    text = render(grid, fmt, note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_page(text, title=path.stem) if fmt == "html" else text + "\n", encoding="utf-8")
    return path
