"""Pictures: Chinese labels render with a real font (never boxes), and each plot writes a file."""

from __future__ import annotations

import warnings

import geopandas as gpd
import libpysal
import matplotlib
import pytest
from libpysal.examples import get_path

from analyses import plots
from analyses.esda import lisa, moran
from geo.weights import SpatialWeights, contiguity

CHINESE = "海南省广东省乌鲁木齐市内蒙古自治区高-低不显著南海诸岛"


def test_a_cjk_font_is_installed_and_found():
    # fails on a machine without a CJK font: `make install` installs fonts-wqy-microhei
    family = plots.use_cjk_font()
    assert family is not None, plots.INSTALL_HINT
    assert plots.missing_glyphs(CHINESE) == []


def test_the_glyph_check_sees_boxes_when_only_a_latin_font_is_configured():
    plots.use_cjk_font()
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        assert set(plots.missing_glyphs("海南abc")) == {"海", "南"}
        with pytest.raises(plots.FontError, match="fonts-wqy-microhei"):
            plots.ensure_renderable("海南省")


def test_drawing_chinese_text_warns_of_no_missing_glyph(tmp_path):
    import matplotlib.pyplot as plt

    plots.use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title(CHINESE)
    ax.text(0.5, 0.5, "三沙市 Moran's I = −0.1")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")  # matplotlib's "Glyph … missing"
        fig.savefig(tmp_path / "t.png")
    plt.close(fig)


def test_short_names():
    assert [plots.short_name(n) for n in ("广西壮族自治区", "湖北省", "武汉市", "海西蒙古族藏族自治州", "北京市")] == [
        "广西", "湖北", "武汉", "海西蒙古族藏族自治州", "北京"]


@pytest.fixture(scope="module")
def columbus():
    df = gpd.read_file(get_path("columbus.shp"))
    df["code"] = df["POLYID"].astype(str)
    return df


def test_moran_scatter_slope_is_morans_i(columbus, tmp_path):
    w = contiguity(columbus, id_column="code", islands="error")
    res = moran(columbus, "CRIME", w, id_column="code", permutations=0)
    fig = res.plot_scatter(path=tmp_path / "scatter.png")
    line = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("slope"))
    (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
    assert (y1 - y0) / (x1 - x0) == pytest.approx(res.table.loc[0, "I"], rel=1e-10)
    assert (tmp_path / "scatter.png").stat().st_size > 10_000


def test_lisa_map_choropleth_and_years_write_png_and_svg(columbus, tmp_path):
    w = SpatialWeights.from_libpysal(libpysal.weights.Queen.from_dataframe(columbus, ids=columbus["code"].tolist(),
                                                                           use_index=False)).row_standardise()
    res = lisa(columbus, "CRIME", w, id_column="code", permutations=99, correction="fdr")
    res.plot_map(path=tmp_path / "lisa.svg", boundaries=columbus)
    assert "<svg" in (tmp_path / "lisa.svg").read_text(encoding="utf-8")[:500]
    plots.choropleth(columbus, "CRIME", scheme="quantiles", k=5, path=tmp_path / "crime.png")
    assert (tmp_path / "crime.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="cannot fill 60 classes"):
        plots.choropleth(columbus, "CRIME", k=60)
    table = moran(columbus.assign(year=2020), "CRIME", w, id_column="code", permutations=9).long
    plots.moran_over_years(table, path=tmp_path / "years.png")
    assert (tmp_path / "years.png").exists()
