"""`geopanel report` on the demo warehouse (SYNTHETIC data), read as a person would: in headless Chromium at
1,400 × 900 px. From the DOM after layout (a test copy of the page with a small probe script, `--dump-dom`) and a
screenshot: no horizontal overflow, every table ruled, no numpy reprs or scientific notation, every image loaded,
Chinese text drawn in WenQuanYi Micro Hei. Chromium is Debian's (`make browser`)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geopanel.cli import app

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--window-size=1400,900"]
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

# Runs in the page after load; writes what it measured into <pre id="gp-probe"> for --dump-dom.
PROBE = """<script>
window.addEventListener('load', () => {
  const px = v => parseFloat(v) || 0;
  const ruled = (cell, side) => { const s = getComputedStyle(cell);
    return px(s['border' + side + 'Width']) > 0 && s['border' + side + 'Style'] !== 'none'; };
  const tables = Array.from(document.querySelectorAll('table'));
  const unruled = tables.filter(t => {
    const body = t.tBodies.length ? t.tBodies[t.tBodies.length - 1].rows : t.rows;
    if (!t.rows.length || !body.length) return true;
    const top = Array.from(t.rows[0].cells).every(c => ruled(c, 'Top'));
    const bottom = Array.from(body[body.length - 1].cells).every(c => ruled(c, 'Bottom'));
    return !(top && bottom);
  }).map(t => t.className || t.querySelector('th,td')?.textContent || '?');
  const images = Array.from(document.images);
  const ctx = document.createElement('canvas').getContext('2d');
  const width = (font, text) => { ctx.font = font; return ctx.measureText(text).width; };
  const body = getComputedStyle(document.body).fontFamily;
  const out = {
    innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth, tables: tables.length, unruled: unruled,
    images: images.length, broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    text: document.body.innerText, bodyFont: body,
    wqyLatin: width('40px "WenQuanYi Micro Hei", monospace', 'geopanel Moran 2023'),
    monoLatin: width('40px monospace', 'geopanel Moran 2023'),
    bodyCjk: width('40px ' + body, '地区生产总值数据来源'),
    wqyCjk: width('40px "WenQuanYi Micro Hei"', '地区生产总值数据来源'),
  };
  const pre = document.createElement('pre'); pre.id = 'gp-probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with a fresh profile and no background network."""
    assert CHROMIUM.exists(), "Debian's chromium is not installed: run `make browser`"
    profile = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=240, check=False)


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def warehouse(demo, tmp_path_factory) -> dict:
    """A copy of the demo warehouse after a check, a Moran and a LISA run, a spatial panel and a DID battery."""
    root = tmp_path_factory.mktemp("report")
    db = root / "geopanel.duckdb"
    shutil.copyfile(demo[0], db)
    d = ["--db", str(db)]
    CliRunner().invoke(app, ["check", "--out", str(root / "checks"), *d])  # warnings only; stored either way
    invoke("moran", "gdp", "--w", "queen_province", "--years", "2012-2023", "--permutations", "99",
           "--plot-years", str(root / "moran_en.png"), "--lang", "en", *d)
    invoke("lisa", "gdp", "--w", "queen_province", "--years", "2023", "--permutations", "99", *d)
    invoke("spatial-panel", "fit", "gdp ~ retail_sales + urbanization_rate", "--data", "fct_province_year",
           "--w", "queen_province", "--where", "year between 2011 and 2022", "--model", "sdm", "--draws", "100",
           "--allow-failing-checks", *d)
    invoke("did", "gdp", "--log", "--placebo", "0", "--boot", "20", "--out", str(root / "did"), "--lang", "en",
           "--allow-failing-checks", *d)
    out = invoke("report", *d)
    page = Path(re.search(r"report: (\S+report\.html)", out).group(1))
    return {"db": db, "root": root, "page": page, "output": out}


@pytest.fixture(scope="module")
def probe(warehouse, tmp_path_factory) -> dict:
    """What the probe script measured in the rendered report (a copy of it, beside the original)."""
    tmp = tmp_path_factory.mktemp("chromium")
    page = warehouse["page"]
    copy = page.with_name("probe.html")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = chromium(tmp, "--virtual-time-budget=20000", "--dump-dom", copy.as_uri())
    found = re.search(r'<pre id="gp-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe did not run: {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_report_lands_in_a_dated_folder_beside_the_warehouse(warehouse):
    page = warehouse["page"]
    assert page.parent.parent == warehouse["db"].parent / "reports"
    assert re.fullmatch(r"report_\d{8}T\d{6}Z(-\d+)?", page.parent.name)
    assert (page.parent.parent / "latest_report.html").read_bytes() == page.read_bytes()
    assert "SYNTHETIC data flagged" in warehouse["output"] and "2 model runs" in warehouse["output"]
    assert (warehouse["root"] / "moran_en.png").stat().st_size > 0  # --lang on a plotting command
    assert (warehouse["root"] / "did" / "event_study.png").stat().st_size > 0


def test_report_is_one_offline_page_with_every_section(warehouse):
    text = warehouse["page"].read_text(encoding="utf-8")
    for key in ("sources", "coverage", "quality", "weights", "moran", "maps", "runs"):
        assert f'<section id="{key}">' in text and f'href="#{key}"' in text
    assert 'id="synthetic-banner"' in text and "SYNTHETIC" in text  # the demo's rows are labelled synthetic
    ids = set(re.findall(r'id="([^"]+)"', text))
    assert set(re.findall(r'href="#([^"]+)"', text)) <= ids  # every table-of-contents entry has its target
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|<script""", text)
    sources = re.findall(r'<img src="([^"]{0,30})', text)
    assert len(sources) >= 7 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert text.count('<section class="run"') == 2 and text.count("gp-head") >= 5  # runs and their 三线表
    # every plot type: two choropleths, the LISA map, the Moran scatter, Moran by year, event study, coefficients
    for alt in ("map of gdp", "LISA cluster map", "Moran scatter plot", "Moran I by year", "event study",
                "coefficient plot"):
        assert f'alt="{alt}' in text, alt
    assert "事件研究" in text and "直接效应" in text and "queen_province" in text


def test_no_horizontal_overflow_at_1400_px(probe):
    assert probe["innerWidth"] == 1400
    assert probe["scrollWidth"] <= probe["innerWidth"] and probe["bodyScrollWidth"] <= probe["innerWidth"]


def test_every_table_is_ruled(probe):
    assert probe["tables"] >= 15
    assert probe["unruled"] == []


def test_no_numpy_reprs_or_scientific_notation(probe):
    text = probe["text"]
    assert "合成数据" in text and "模型结果" in text
    assert "np." not in text
    assert not re.search(r"\d[eE][+-]\d", text), re.search(r".{40}\d[eE][+-]\d.{20}", text)


def test_every_image_loads(probe):
    assert probe["images"] >= 7
    assert probe["broken"] == []


def test_chinese_text_is_drawn_in_wenquanyi_micro_hei(probe):
    assert len(re.findall(r"[\u4e00-\u9fff]", probe["text"])) > 500
    assert probe["bodyFont"].startswith('"WenQuanYi Micro Hei"')
    assert CJK_FONT.exists()
    families = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True).stdout
    assert "WenQuanYi Micro Hei" in families
    assert probe["wqyLatin"] != probe["monoLatin"]  # the browser has the font (its Latin differs from monospace)
    assert probe["bodyCjk"] == probe["wqyCjk"]  # and the page's Chinese is set in it


def test_screenshot_shows_the_synthetic_banner(warehouse, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={shot}", warehouse["page"].as_uri())
    assert shot.exists(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    r, g, b = image.getpixel((6, 6))  # the banner spans the top of the page in #b00020
    assert r > 150 and g < 60 and b < 80
    assert len(image.crop((0, 60, 1400, 900)).getcolors(maxcolors=1 << 20)) > 50  # text, tables: not a blank page


def test_partial_report_never_replaces_the_full_one(warehouse):
    latest = warehouse["page"].parent.parent / "latest_report.html"
    before = latest.read_bytes()
    out = invoke("report", "--db", str(warehouse["db"]), "--select", "quality,weights", "--lang", "en")
    page = Path(re.search(r"partial report: (\S+report\.html)", out).group(1))
    assert page.parent.name.endswith("_partial") and page.parent != warehouse["page"].parent
    assert latest.read_bytes() == before and warehouse["page"].exists()
    text = page.read_text(encoding="utf-8")
    assert '<section id="quality">' in text and '<section id="weights">' in text
    assert '<section id="runs">' not in text and '<section id="maps">' not in text
    assert "Latest data-quality check" in text and 'lang="en"' in text
    result = CliRunner().invoke(app, ["report", "--db", str(warehouse["db"]), "--select", "nonsense"])
    assert result.exit_code == 1 and "use one of sources" in result.output


# ----------------------------------------------------------------------------- pieces of the page (no warehouse)
def test_numbers_in_the_report_never_print_an_exponent():
    from analyses.report_sections import coef, num, pval

    assert coef(0.0002224) == "0.0002224" and coef(0.00001632) == "0.00001632"  # σ² keeps 4 digits
    assert coef(1036.61349) == "1,036.613" and coef(-0.588004) == "−0.588" and coef(0.0) == "0.000"
    assert num(45_800_000.0) == "45,800,000" and num(None) == "" and num(float("nan")) == ""
    assert pval(9.5e-199) == "<0.001" and pval(0.3116) == "0.312" and pval(None) == ""


def test_estimates_are_laid_out_as_in_the_papers():
    import pandas as pd

    from analyses.report_sections import estimates_grid, tests_grid

    est = pd.DataFrame({"term": ["x", "rho"], "estimate": [0.193731, 0.071361], "std_error": [0.030216, 0.070524],
                        "z": [6.41, 1.01], "p_value": [1.4e-10, None]})
    grid = estimates_grid(est, "sdm")
    assert grid.index.tolist() == ["x", "x ", "rho", "rho "]  # the SE row's label prints empty
    assert grid["sdm"].tolist() == ["0.194***", "(0.030)", "0.071", "(0.071)"]  # p from z when not stored
    tests = pd.DataFrame({"test": ["LM lag"], "statistic": [0.716991], "df": [1], "p_value": [0.397],
                          "note": ["np.float64(1.0) on 4.58e+07 rows"]})
    row = tests_grid(tests, "en").iloc[0].tolist()
    assert row == ["0.717", "1", "0.397", "1 on 45,800,000 rows"]


def test_select_names_sections_or_runs_and_each_run_gets_its_own_folder(tmp_path):
    from datetime import UTC, datetime

    from analyses.report import parse_select, report_folder

    assert parse_select(["quality, run:a4f5", "maps"]) == (("quality", "runs", "maps"), ("a4f5",))
    assert parse_select(None) == ((), ())
    with pytest.raises(ValueError, match="use one of sources"):
        parse_select(["quality,charts"])
    when = datetime(2026, 12, 8, 1, 2, 3, tzinfo=UTC)
    first, second = report_folder(tmp_path, False, when), report_folder(tmp_path, False, when)
    partial = report_folder(tmp_path, True, when)
    assert [p.name for p in (first, second, partial)] == ["report_20261208T010203Z", "report_20261208T010203Z-2",
                                                          "report_20261208T010203Z_partial"]
