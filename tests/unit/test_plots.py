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


# ----------------------------------------------------------------------------- legends, labels, lang (issue 16)
PROVINCES = ["海南省", "广东省", "广西壮族自治区", "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省",
             "吉林省", "黑龙江省", "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省",
             "湖北省", "湖南省", "重庆市", "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省",
             "宁夏回族自治区", "新疆维吾尔自治区"]


def test_numbers_are_printed_for_people():
    assert plots.format_number(45_800_000.0) == "45,800,000"
    assert plots.format_number(17740.0) == "17,740"
    assert plots.format_number(1.5) == "1.5" and plots.format_number(0.0123) == "0.0123"
    assert plots.format_number(-3.5) == "−3.5" and plots.format_number(2.0, decimals=2) == "2.00"
    assert plots.class_labels(100.0, [17740.4, 45_800_000.0]) == ["100 – 17,740", "17,740 – 45,800,000"]


def test_variable_labels_come_from_the_registry_in_either_language():
    # seeds/variables.csv: gdp is 地区生产总值, GDP, in 亿元
    assert plots.variable_label("gdp", "zh") == "地区生产总值（亿元）"
    assert plots.variable_label("gdp", "en") == "GDP (100 million yuan)"
    own = gpd.pd.DataFrame({"name": ["nqp"], "label_zh": ["新质生产力指数"], "label_en": ["NQP index"],
                            "unit": ["index"]})
    assert plots.variable_label("nqp", "zh", registry=own) == "新质生产力指数"
    assert plots.variable_label("not_registered", "zh") == "not_registered"
    assert plots.resolve_lang(None, "2022 年地区生产总值") == "zh" and plots.resolve_lang(None, "GDP 2022") == "en"
    with pytest.raises(ValueError, match="'zh' or 'en'"):
        plots.resolve_lang("fr")


def _legend(fig):
    legend = fig.axes[0].get_legend()
    return legend.get_title().get_text(), [t.get_text() for t in legend.get_texts()]


def test_choropleth_legend_has_formatted_numbers_and_a_chinese_title(columbus, tmp_path):
    frame = columbus.assign(gdp=columbus["CRIME"] * 1000)  # values in the tens of thousands
    title, labels = _legend(plots.choropleth(frame, "gdp", title="2022 年地区生产总值", path=tmp_path / "zh.png"))
    assert title == "地区生产总值（亿元）" and len(labels) == 5
    assert all("e+" not in t and "," in t.split(" – ")[1] for t in labels), labels
    title, labels = _legend(plots.choropleth(frame, "gdp", lang="en", bins=[20000, 40000, 80000]))
    assert title == "GDP (100 million yuan)"
    assert labels[1:] == ["20,000 – 40,000", "40,000 – 80,000"]


def _boxes(fig, artists):
    """Display boxes of the visible artists; of a label its text alone (a leader line may cross other lines)."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    return [Text.get_window_extent(a, renderer) if isinstance(a, Text) else a.get_window_extent(renderer)
            for a in artists if a.get_visible()]


def test_moran_scatter_labels_never_overlap_each_other_the_counts_or_the_legend(columbus):
    w = contiguity(columbus, id_column="code", islands="error")
    names = [PROVINCES[i % len(PROVINCES)] for i in range(len(columbus))]  # 49 crowded labels
    fig = plots.moran_scatter(columbus["CRIME"].to_numpy(), w, labels=names, max_labels=49, title="省域经济集聚",
                              variable="gdp")
    fig.canvas.draw()
    ax = fig.axes[0]
    boxes = _boxes(fig, [*ax.texts, ax.get_legend()])  # labels, the four quadrant counts, the legend
    assert len(boxes) >= 45  # at most a few labels hidden
    pairs = [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert pairs == []
    assert ax.get_xlabel() == "地区生产总值（标准化值 z）" and "空间滞后" in ax.get_ylabel()
    english = plots.moran_scatter(columbus["CRIME"].to_numpy(), w, title="Crime", lang="en")
    assert english.axes[0].get_xlabel() == "z (standardised value)"


def test_event_study_end_bins_are_labelled(tmp_path):
    import numpy as np

    k = np.array([-5, -4, -3, -2, 0, 1, 2, 3, 4, 5])
    table = gpd.pd.DataFrame({"rel_time": k, "coef": 0.1 * k, "ci_low": 0.1 * k - 0.1, "ci_high": 0.1 * k + 0.1})
    fig = plots.event_study_plot(table, (-5, 5), -1, title="事件研究", path=tmp_path / "es.png")
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks[0] == "≤−5" and ticks[-1] == "≥5" and "0" in ticks
    assert fig.axes[0].get_xlabel() == "相对政策实施的年份"
    assert (tmp_path / "es.png").stat().st_size > 10_000


def test_moran_over_years_speaks_the_title_language(columbus):
    w = contiguity(columbus, id_column="code", islands="error")
    table = moran(columbus.assign(year=2020), "CRIME", w, id_column="code", permutations=0).long
    assert plots.moran_over_years(table, title="逐年 Moran's I").axes[0].get_xlabel() == "年份"
    assert plots.moran_over_years(table, lang="en").axes[0].get_xlabel() == "year"


def test_lisa_legend_speaks_one_language_on_request_and_lists_units_without_data(columbus):
    frame = columbus.assign(cluster=["HH", "LL", "ns", None] * 12 + ["HL"])
    legend = [t.get_text() for t in plots.lisa_cluster_map(frame, lang="en").axes[0].get_legend().get_texts()]
    assert "HH high-high (12)" in legend and "no data (12)" in legend
    legend = [t.get_text() for t in plots.lisa_cluster_map(frame, title="2022 年 LISA 聚类").axes[0]
              .get_legend().get_texts()]
    assert "不显著 (12)" in legend and "无数据 (12)" in legend
