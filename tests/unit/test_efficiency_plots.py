"""Small-multiple index plots of the efficiency commands in Chinese or English (`plot_tfpch(..., lang=)`,
`geopanel malmquist --plot PATH --lang zh|en`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.efficiency import malmquist, malmquist_luenberger
from analyses.efficiency.tables import plot_tfpch
from geopanel.cli import app

PROVINCES = ["山西", "安徽", "江西", "河南", "湖北", "湖南"]


def panel(names=PROVINCES, years=range(2002, 2006), seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k, year in enumerate(years):
        x = rng.uniform(1, 10, (len(names), 2))
        y = (x ** 0.45).prod(axis=1) * (1 + 0.05 * k) * rng.uniform(0.6, 1, len(names))
        rows.append(pd.DataFrame({"province": names, "year": year, "capital": x[:, 0], "labour": x[:, 1],
                                  "revenue": y, "co2": y * rng.uniform(0.4, 1, len(names))}))
    return pd.concat(rows, ignore_index=True)


def words(fig) -> tuple[list[str], list[str], list[str]]:
    axes = [a for a in fig.axes if a.get_visible()]
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    return legend, [a.get_xlabel() for a in axes if a.get_xlabel()], [a.get_title() for a in axes]


@pytest.mark.parametrize(("lang", "legend", "xlabel"), [
    ("zh", ["全要素生产率变化 TFPCH", "技术效率变化 EFFCH", "技术进步 TECHCH"], "年份"),
    ("en", ["TFPCH (TFP change)", "EFFCH (efficiency change)", "TECHCH (technical change)"], "year"),
])
def test_malmquist_plot_words_follow_lang(lang, legend, xlabel):
    res = malmquist(panel(), ["capital", "labour"], ["revenue"], unit="province", time="year")
    fig = plot_tfpch(res, lang=lang)
    got_legend, xlabels, titles = words(fig)
    assert got_legend == legend and set(xlabels) == {xlabel} and titles == sorted(PROVINCES)
    # the lines are the indices themselves
    line = fig.axes[0].get_lines()[0]
    first = res.indices[res.indices.province == sorted(PROVINCES)[0]].sort_values("year")
    assert np.allclose(line.get_ydata(), first.tfpch)
    plt.close(fig)


def test_default_language_follows_the_unit_names_and_ml_plots_its_own_indices():
    zh = plot_tfpch(malmquist(panel(), ["capital", "labour"], ["revenue"], unit="province", time="year"))
    assert words(zh)[1][0] == "年份"
    plt.close(zh)
    latin = panel(names=[f"p{i}" for i in range(6)])
    gml = malmquist_luenberger(latin, ["capital", "labour"], ["revenue"], ["co2"], unit="province", time="year")
    fig = plot_tfpch(gml, groups=pd.Series({f"p{i}": "east" if i < 3 else "west" for i in range(6)}))
    legend, xlabels, titles = words(fig)
    assert legend == ["GML index", "EC (efficiency change)", "TC (technical change)"] and xlabels[0] == "year"
    assert titles == ["east", "west"]
    east = gml.indices[gml.indices.province.isin(["p0", "p1", "p2"])]
    want = east.groupby("year").gml.apply(lambda v: np.exp(np.log(v).mean()))  # geometric mean per year
    assert np.allclose(fig.axes[0].get_lines()[0].get_ydata(), want.to_numpy())
    plt.close(fig)


def test_cli_plot_and_lang(tmp_path):
    path = tmp_path / "equipment.csv"
    panel().to_csv(path, index=False)
    base = ["malmquist", "--data", str(path), "--unit", "province", "--time", "year", "--inputs", "capital,labour",
            "--outputs", "revenue", "--no-store"]
    for lang in ("zh", "en"):
        png = tmp_path / f"tfpch_{lang}.png"
        r = CliRunner().invoke(app, [*base, "--plot", str(png), "--lang", lang])
        assert r.exit_code == 0, r.output
        assert png.exists() and png.stat().st_size > 10_000
    svg = tmp_path / "gml.svg"
    r = CliRunner().invoke(app, [*base, "--undesirable", "co2", "--plot", str(svg), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert "GML index" in svg.read_text(encoding="utf-8")
    r = CliRunner().invoke(app, [*base, "--plot", str(tmp_path / "x.png"), "--lang", "fr"])
    assert r.exit_code != 0 and "--lang" in r.output
    r = CliRunner().invoke(app, [*base, "--plot", str(tmp_path / "x.jpg")])
    assert r.exit_code != 0 and ".png" in r.output
