"""Paper tables and plots of the productivity indices: the annual-means table of DEAP-style Malmquist papers
(rows "2011–2012", …, "mean"; columns EFFCH, TECHCH, PECH, SECH, TFPCH to 3 decimals), the same by DMU, and
small-multiple TFPCH line plots (one panel per DMU or group, as the central-China equipment-manufacturing
paper draws them), in Chinese or English."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analyses.efficiency.luenberger import LuenbergerResult
from analyses.efficiency.malmquist import INDICES, MalmquistResult

LABELS = {"effch": "EFFCH", "techch": "TECHCH", "pech": "PECH", "sech": "SECH", "tfpch": "TFPCH"}


def malmquist_table(result: MalmquistResult, by: str = "period", fmt: str = "frame", digits: int = 3):
    """Geometric means by period (rows 't−1–t') or by DMU, with the overall 'mean' row; fmt: frame | markdown |
    latex | html. The overall row is the geometric mean of the rows above, as DEAP takes it."""
    if by == "period":
        means = result.period_means
        periods = sorted(result.distances[result.time].unique())
        prev = dict(zip(periods[1:], periods[:-1], strict=True))
        means.index = [f"{prev[p]}–{p}" for p in means.index]
    elif by == "unit":
        means = result.unit_means
    else:
        raise ValueError(f"by {by!r}: use period or unit")
    mean = np.exp(np.log(means).mean())
    table = pd.concat([means, mean.to_frame("mean").T])[INDICES].rename(columns=LABELS).round(digits)
    table.index.name = "period" if by == "period" else result.unit
    if fmt == "frame":
        return table
    if fmt == "markdown":
        return table.to_markdown(floatfmt=f".{digits}f")
    if fmt == "latex":
        return table.to_latex(float_format=f"%.{digits}f")
    if fmt == "html":
        return table.to_html(float_format=f"%.{digits}f".__mod__)
    raise ValueError(f"fmt {fmt!r}: use frame, markdown, latex or html")


INDEX_WORDS = {  # (zh, en) legend labels of the indices
    "tfpch": ("全要素生产率变化 TFPCH", "TFPCH (TFP change)"),
    "effch": ("技术效率变化 EFFCH", "EFFCH (efficiency change)"),
    "techch": ("技术进步 TECHCH", "TECHCH (technical change)"),
    "pech": ("纯技术效率变化 PECH", "PECH (pure efficiency)"),
    "sech": ("规模效率变化 SECH", "SECH (scale efficiency)"),
    "gml": ("GML 指数", "GML index"), "ml": ("ML 指数", "ML index"), "sml": ("SML 指数", "SML index"),
    "ec": ("效率变化 EC", "EC (efficiency change)"), "tc": ("技术变化 TC", "TC (technical change)"),
}
AXIS_WORDS = {"year": ("年份", "year"), "index": ("指数（上一期 = 1）", "index (previous period = 1)")}


def plot_tfpch(result: MalmquistResult | LuenbergerResult, path: str | Path | None = None,
               columns: tuple[str, ...] | None = None, groups: pd.Series | None = None, ncols: int = 4,
               lang: str | None = None):
    """Small multiples: one panel per DMU (or per group, geometric means, when `groups` maps unit → group), each
    a line per index over the later period of each pair, with the reference line 1. Returns the figure.
    columns: default TFPCH, EFFCH, TECHCH (Malmquist) or the ML index, EC, TC (Malmquist–Luenberger).
    lang: 'zh' or 'en' for the legend and axis words (default: Chinese when a panel name is Chinese)."""
    import matplotlib.pyplot as plt

    from analyses.plots import ensure_renderable, resolve_lang, save_figure, use_cjk_font

    use_cjk_font()
    if columns is None:
        columns = (("tfpch", "effch", "techch") if isinstance(result, MalmquistResult)
                   else (result.index_name, "ec", "tc"))
    key = result.unit if groups is None else "group"
    data = result.indices
    if groups is not None:
        data = data.assign(group=data[result.unit].map(groups))
        data = np.exp(data.groupby(["group", result.time])[list(columns)].apply(lambda d: np.log(d).mean()))
        data = data.reset_index()
    names = list(dict.fromkeys(data[key]))
    lang = resolve_lang(lang, *map(str, names))
    i = 0 if lang == "zh" else 1
    words = [INDEX_WORDS.get(c, (c, c))[i] for c in columns] + [w[i] for w in AXIS_WORDS.values()]
    if lang == "zh":
        ensure_renderable(*words, *map(str, names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, min(ncols, len(names)), figsize=(3 * min(ncols, len(names)), 2.4 * nrows),
                             sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        part = data[data[key] == name].sort_values(result.time)
        for c, label in zip(columns, words, strict=False):
            ax.plot(part[result.time], part[c], marker="o", markersize=3, label=label)
        ax.axhline(1, color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(str(name), fontsize=9)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(AXIS_WORDS["year"][i], fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(AXIS_WORDS["index"][i], fontsize=8)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
