"""HTML that people read: the quality report and the paper tables, parsed with the standard library's
html.parser — every table bordered by the page's CSS, no numpy reprs (`np.`) and no scientific notation
(`e+0`) in the text, Chinese text kept, long cells allowed to wrap (no horizontal overflow at 1,400 px), and a
partial `geopanel check --select` never replacing latest.html."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from warehouse.quality.report import render_html, render_markdown, write_reports
from warehouse.quality.results import CheckResult
from warehouse.quality.runner import CheckRun


class Page(HTMLParser):
    """Text outside <style>, the CSS, tables (by position: rows of cell texts) and any external reference."""

    def __init__(self):
        super().__init__()
        self.text, self.css, self.tables, self.external = [], [], [], []
        self._in_style, self._cell = False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[key])
        if tag == "style":
            self._in_style = True
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def body(self) -> str:
        return "".join(self.text)

    def rule(self, selector: str) -> str:
        """The declarations of every CSS rule whose selector list names `selector` (e.g. 'td')."""
        css = "".join(self.css)
        return ";".join(decl for sels, decl in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
                        if selector in [s.strip() for s in sels.split(",")])

    def styles_of(self, tag: str) -> str:
        """The declarations of every CSS rule that applies to `tag` elements (its selector ends in the tag,
        e.g. 'td', 'tbody.gp-body td', 'tr:last-child td')."""
        css = "".join(self.css)
        last = re.compile(rf"(?:^|[\s>+~]){tag}(?:[.:#\[][^\s>+~]*)?$")
        return ";".join(decl for sels, decl in re.findall(r"([^{}]+)\{([^{}]*)\}", css)
                        if any(last.search(s.strip()) for s in sels.split(",")))


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    return p


def assert_readable(page: str) -> Page:
    """What every HTML page a person reads must satisfy."""
    p = parse(page)
    assert p.tables, "no table"
    assert re.search(r"border(-\w+)?:\s*\d+px solid", p.styles_of("td")), "data cells without borders"
    assert re.search(r"border(-\w+)?:\s*\d+px solid", p.styles_of("th")), "header cells without borders"
    assert "border-collapse:collapse" in p.rule("table") + p.rule("table:has(>tbody.gp-body)")
    assert "np." not in p.body and not re.search(r"\de[+-]0", p.body), re.findall(r".{20}(?:np\.|e\+0).{20}", p.body)
    assert re.search(r"[\u4e00-\u9fff]", p.body), "Chinese text lost"
    assert p.external == [] and "<script" not in page
    return p


LONG = "main.fct_city_year.gdp:" + "新罗马市2021年地区生产总值异常" * 20 + "x" * 300  # no space to break at


@pytest.fixture
def run():
    t = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    results = [
        CheckResult("unit_jump", "main.fct_city_year", "gdp", "error", "failed",
                    "main.fct_city_year.gdp: 1 unit-year(s) jump by a power of ten (万元 read as 亿元) — "
                    "新罗马市 2021: "
                    "1e+04× its 2020 value", observed=1.0,
                    threshold="|log10 ratio − k| > 0.15 for k in [np.float64(1.0), np.float64(10000.0)]",
                    n_failing=1, n_checked=12_345,
                    examples=[{"city_code": "990100", "year": 2021, "gdp": 45_800_000.0, "previous_year": 2020,
                               "previous": 4580.0, "ratio": 10000.0}]),
        CheckResult("range", "main.fct_city_year", "pop", "warn", "failed", LONG, observed=45_800_000.0,
                    threshold="≤ 4.58e+07", n_failing=3, n_checked=300),
        CheckResult("not_null", "main.dim_city", "city_code", "error", "passed", "no missing codes", observed=0.0,
                    threshold="0 rows", n_checked=300),
    ]
    return CheckRun("abc123", t, t, [], results, provenance="SYNTHETIC demo data: 100% of raw rows")


def test_quality_report_prints_numbers_for_people_and_borders_every_table(run):
    page = render_html(run)
    p = assert_readable(page)
    assert "45,800,000" in p.body and "4.58e+07" not in p.body and "np.float64" not in page
    assert "k in [1, 10000]" in p.body  # np.float64(1.0) as a person writes it
    examples = next(t for t in p.tables if t and t[0][:2] == ["city_code", "year"])
    assert examples[1][:3] == ["990100", "2021", "45,800,000"]  # codes and years unchanged, GDP grouped
    md = render_markdown(run)
    assert "np." not in md and "e+0" not in md and "45,800,000" in md


def test_quality_report_wraps_long_cells_to_fit_a_laptop_window(run):
    p = parse(render_html(run))
    body = p.rule("body")
    assert re.search(r"max-width:\s*1200px", body)  # the page is at most 1,200 px wide inside a 1,400 px window
    cells = p.rule("td")
    assert "overflow-wrap:anywhere" in cells and re.search(r"max-width:\s*\d+em", cells)
    assert "max-width:100%" in p.rule("table")
    assert any(LONG[:40] in cell for table in p.tables for row in table for cell in row)


def test_a_partial_check_does_not_overwrite_the_full_latest_report(run, tmp_path):
    write_reports(run, tmp_path)
    full = (tmp_path / "latest.html").read_text(encoding="utf-8")
    partial = CheckRun("def456", run.started_at, run.finished_at, ["fct_city_year"], run.results[:1])
    html_path, md_path = write_reports(partial, tmp_path)
    assert html_path.name == "check_def456.html" and md_path.exists()
    assert (tmp_path / "latest.html").read_text(encoding="utf-8") == full
    assert "abc123" in (tmp_path / "latest.md").read_text(encoding="utf-8")
    assert "partial run" in html_path.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- paper tables
@pytest.fixture(scope="module")
def grid():
    """A DID table as the battery lays it out: coefficient with stars, SE in parentheses, FE and N rows."""
    import pandas as pd

    return pd.DataFrame({"(1)": ["lngdp", "0.123***", "(0.045)", "是", "1,234"],
                         "(2)": ["lngdp", "-12.5**", "(3.210)", "是", "45,800"]},
                        index=["被解释变量", "数字经济试点 did", "did ", "城市固定效应", "N"])


NOTE = "注：括号内为聚类到城市的稳健标准误；*** p<0.01，** p<0.05，* p<0.1。"


def test_paper_table_html_has_borders_aligned_decimals_and_the_note_underneath(grid):
    from analyses.tables import render

    page = render(grid, "html", NOTE)
    assert page.startswith("<table>")  # one element: a file of its own or a part of a report
    p = assert_readable(page)
    css = "".join(p.css)
    assert "border-top:2px solid" in css and "border-bottom:1px solid" in css  # 三线表: the three rules
    assert "border-bottom:2px solid" in p.rule("tbody.gp-body tr:last-child td")
    header, *rows = p.tables[0]
    assert header == ["", "(1)", "(2)"] and rows[-1] == [NOTE]  # the note in the footer, under the body
    assert rows[1] == ["数字经济试点 did", "0.123***", "-12.5**"] and rows[2][0] == ""  # the SE row label blank
    # decimal alignment: an integer part and the rest in boxes as wide as the column's widest
    widths = re.findall(r'<td class="gp-num"><span class="gp-i" style="min-width:([\d.]+)ch">', page)
    assert len(widths) == 6 and len(set(widths[0::2])) == 1 and len(set(widths[1::2])) == 1
    assert '<span class="gp-f" style="min-width:7.5ch">.045)</span>' in page
    assert "<td>是</td>" in page  # text cells are not split


def test_regression_table_in_html_through_the_same_renderer():
    import numpy as np
    import pandas as pd

    from analyses.reg import reg
    from analyses.reg.tables import reg_table

    rng = np.random.default_rng(3)
    panel = pd.DataFrame({"city": [f"c{i % 20:02d}" for i in range(160)], "x": rng.normal(size=160)})
    panel["y"] = 0.5 * panel["x"] + rng.normal(size=160) + 1e6  # a large intercept: no e+0 anywhere
    page = reg_table([reg(panel, "y ~ x", vce="hetero"), reg(panel, "y ~ x | city", vce="cluster:city")],
                     fmt="html")
    p = assert_readable(page.replace("</tfoot>", "<tr><td>城市</td></tr></tfoot>"))  # the note is English here
    assert p.tables[0][0] == ["", "(1)", "(2)"] and "gp-num" in page


def test_tables_are_written_as_a_page_and_as_xlsx_beside_md_and_tex(grid, tmp_path):
    from openpyxl import load_workbook

    from analyses.tables import write_grid

    page = write_grid(grid, tmp_path / "did.html", NOTE).read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert_readable(page)
    assert r"\toprule" in write_grid(grid, tmp_path / "did.tex", NOTE).read_text(encoding="utf-8")
    assert "| 数字经济试点 did |" in write_grid(grid, tmp_path / "did.md", NOTE).read_text(encoding="utf-8")
    sheet = load_workbook(write_grid(grid, tmp_path / "did.xlsx", NOTE)).active
    assert [c.value for c in sheet[1]] == [None, "(1)", "(2)"]
    assert [c.value for c in sheet[3]] == ["数字经济试点 did", "0.123***", "-12.5**"]
    assert sheet.cell(7, 1).value == NOTE and sheet.cell(1, 2).border.top.style == "medium"
    assert sheet.cell(6, 2).border.bottom.style == "medium"
    with pytest.raises(ValueError, match=r"\.xlsx"):
        write_grid(grid, tmp_path / "did.docx")
