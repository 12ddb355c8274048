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


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    return p


def assert_readable(page: str) -> Page:
    """What every HTML page a person reads must satisfy."""
    p = parse(page)
    assert p.tables, "no table"
    assert "border" in p.rule("td") and "border" in p.rule("th"), "cells without borders"
    assert "collapse" in p.rule("table")
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
