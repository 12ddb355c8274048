"""Paper-style tables: a grid of strings (coefficients with stars, SEs in parentheses, one column per
model, as esttab lays them out) rendered as Markdown, LaTeX (booktabs) or HTML."""

from __future__ import annotations

import html
import re

import pandas as pd


def stars(p: float, levels: tuple[float, ...] = (0.1, 0.05, 0.01)) -> str:
    """One star per significance level that p is below: *** p<0.01, ** p<0.05, * p<0.1 by default."""
    return "*" * sum(p < level for level in levels)


def render(grid: pd.DataFrame, fmt: str, note: str) -> str:
    """A string grid as Markdown, LaTeX (booktabs) or HTML."""
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
        head = "".join(f"<th>{html.escape(c)}</th>" for c in grid.columns)
        body = "".join("<tr><th>" + html.escape(i) + "</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in row)
                       + "</tr>" for i, row in zip(index, grid.to_numpy(), strict=True))
        table = f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f"{table}\n<p>{html.escape(note)}</p>"
    raise ValueError(f"table format {fmt!r}: use markdown, latex or html")
