"""esttab-style paper tables of `reg` fits: one column per model, coefficients with stars, SE or t in parentheses,
fixed-effect rows, N, R², and the IV / threshold diagnostics rows the papers print.

    print(reg_table([fit1, fit2, fit3], fmt="latex", stat="t"))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analyses.reg.fit import RegResult
from analyses.tables import render, stars

STATS = ("se", "t")


def reg_table(fits: Sequence[RegResult], fmt: str = "markdown", stat: str = "se", digits: int = 3,
              keep: Sequence[str] | None = None, intercept: bool = False) -> str:
    """The fits side by side as Markdown, LaTeX (booktabs) or HTML; `stat` is what the parentheses hold."""
    return render(reg_grid(fits, stat=stat, digits=digits, keep=keep, intercept=intercept), fmt, _note(fits, stat))


def reg_grid(fits: Sequence[RegResult], stat: str = "se", digits: int = 3, keep: Sequence[str] | None = None,
             intercept: bool = False) -> pd.DataFrame:
    """The table as a grid of strings (index: row labels; a label ending in a space prints blank)."""
    if stat not in STATS:
        raise ValueError(f"stat {stat!r}: use se or t")
    columns = [f"({i + 1})" for i in range(len(fits))]
    terms: list[str] = []
    for f in fits:
        terms += [t for t in f.table["term"] if t not in terms]
    if keep is not None:
        terms = [t for t in keep if t in terms]
    elif not intercept:
        terms = [t for t in terms if t != "Intercept"]
    rows: dict[str, list[str]] = {"Dependent": [f.dependent for f in fits]}
    for term in terms:
        coef_row, stat_row = [], []
        for f in fits:
            r = f.table.set_index("term")
            if term not in r.index:
                coef_row.append("")
                stat_row.append("")
                continue
            coef, se, t, p = (float(r.loc[term, c]) for c in ("coef", "se", "t", "p"))
            coef_row.append(f"{coef:.{digits}f}{stars(p) if math.isfinite(p) else ''}")
            stat_row.append(f"({(se if stat == 'se' else t):.{digits}f})")
        rows[term] = coef_row
        rows[term + " "] = stat_row
    effects = list(dict.fromkeys(e for f in fits for e in f.fixef))
    for e in effects:
        rows[f"FE: {e}"] = ["Yes" if e in f.fixef else "No" for f in fits]
    rows["N"] = [f"{f.nobs:,}" for f in fits]
    rows["R²"] = [_fmt(f.r2, digits) for f in fits]
    if effects:
        rows["Within R²"] = [_fmt(f.r2_within, digits) for f in fits]
    if any(f.iv is not None for f in fits):
        rows["KP rk LM p"] = [_fmt(f.iv.kp_lm_p, 3) if f.iv else "" for f in fits]
        rows["KP rk Wald F"] = [_fmt(f.iv.kp_f, 2) if f.iv else "" for f in fits]
        rows["Cragg-Donald F"] = [_fmt(f.iv.cd_f, 2) if f.iv else "" for f in fits]
        rows["Hansen J p"] = [(_fmt(f.iv.hansen_j_p, 3) if f.iv.hansen_j_df else "exact") if f.iv else ""
                              for f in fits]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def write_table(fits: Sequence[RegResult], path, fmt: str = "markdown", stat: str = "se", digits: int = 3,
                intercept: bool = False) -> None:
    """Write the table to `path`: .xlsx (the grid, with the note below it), .tex, .html or .md by suffix, else `fmt`."""
    from pathlib import Path

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        grid = reg_grid(fits, stat=stat, digits=digits, intercept=intercept)
        grid.index = [str(i) if not str(i).endswith(" ") else "" for i in grid.index]
        note = pd.DataFrame([[_note(fits, stat)] + [""] * (len(grid.columns) - 1)], columns=grid.columns, index=[""])
        pd.concat([grid, note]).to_excel(path, sheet_name="table")
        return
    fmt = {".tex": "latex", ".html": "html", ".htm": "html", ".md": "markdown"}.get(suffix, fmt)
    path.write_text(reg_table(fits, fmt=fmt, stat=stat, digits=digits, intercept=intercept) + "\n", encoding="utf-8")


def stars_agree(fits: Sequence[RegResult], stat: str = "se", digits: int = 3) -> list[str]:
    """Cells whose stars disagree with what a reader recomputes from the printed coefficient and SE (or t) with the
    normal approximation; empty when every printed star is reproducible (borderline cells are listed)."""
    from scipy import stats as st

    problems = []
    for i, f in enumerate(fits):
        for r in f.table.itertuples():
            coef, se = round(r.coef, digits), round(r.se, digits)
            t = round(r.t, digits) if stat == "t" else (coef / se if se else math.nan)
            if not math.isfinite(t):
                continue
            if stars(2 * st.norm.sf(abs(t))) != stars(r.p):
                problems.append(f"({i + 1}) {r.term}: printed {stars(r.p) or 'no star'}, |t| {abs(t):.2f} "
                                f"from the printed numbers")
    return problems


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else ""


def _note(fits: Sequence[RegResult], stat: str) -> str:
    vces = sorted({f.vce for f in fits})
    what = "Standard errors" if stat == "se" else "t statistics"
    return f"{what} in parentheses ({', '.join(vces)}). * p<0.1, ** p<0.05, *** p<0.01."
