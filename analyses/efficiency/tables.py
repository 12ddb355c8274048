"""Paper tables and plots of the productivity indices: the annual-means table of DEAP-style Malmquist papers
(rows "2011–2012", …, "mean"; columns EFFCH, TECHCH, PECH, SECH, TFPCH to 3 decimals), the same by DMU, and
small-multiple TFPCH line plots (one panel per DMU or group, as the central-China equipment-manufacturing
paper draws them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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


def plot_tfpch(result: MalmquistResult, path: str | Path | None = None, columns: tuple[str, ...] = ("tfpch",
               "effch", "techch"), groups: pd.Series | None = None, ncols: int = 4):
    """Small multiples: one panel per DMU (or per group, geometric means, when `groups` maps unit → group), each
    a line per index over the later period of each pair, with the reference line 1. Returns the figure."""
    import matplotlib.pyplot as plt

    from analyses.plots import save_figure, use_cjk_font

    use_cjk_font()
    data = result.indices if groups is None else result.group_means(groups).reset_index()
    key = result.unit if groups is None else "group"
    names = list(dict.fromkeys(data[key]))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, min(ncols, len(names)), figsize=(3 * min(ncols, len(names)), 2.4 * nrows),
                             sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        part = data[data[key] == name].sort_values(result.time)
        for c in columns:
            ax.plot(part[result.time], part[c], marker="o", markersize=3, label=LABELS.get(c, c))
        ax.axhline(1, color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(str(name), fontsize=9)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return fig
