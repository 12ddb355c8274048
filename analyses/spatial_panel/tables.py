"""Paper-style tables (the layout of esttab and the papers): coefficient with stars, SE or z in parentheses,
ρ/λ and σ², then fixed effects, log L, R², N; several models side by side; Markdown, LaTeX or HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analyses.tables import render
from analyses.tables import stars as star_marks

if TYPE_CHECKING:  # annotations only: result.py imports this module to render its tables
    from analyses.spatial_panel.result import SpatialPanelResult


def _cell(est: float, p: float, digits: int, stars) -> str:
    return f"{est:.{digits}f}{star_marks(p, stars)}"


def coefficient_grid(results: list[SpatialPanelResult], stars=(0.1, 0.05, 0.01), stat: str = "se",
                     digits: int = 3) -> pd.DataFrame:
    """The table as strings: rows (term, then its SE/z row), one column per model."""
    terms: list[str] = []
    for r in results:
        for t in r.estimates.index:
            if t not in terms and t not in ("rho", "lambda", "sigma2"):
                terms.append(t)
    terms += [t for t in ("rho", "lambda", "sigma2") if any(t in r.estimates.index for r in results)]
    cols = [f"({i + 1}) {r.name}" for i, r in enumerate(results)]
    rows: dict[str, list[str]] = {}
    for t in terms:
        top, bottom = [], []
        for r in results:
            if t in r.estimates.index:
                e = r.estimates.loc[t]
                top.append(_cell(e["estimate"], e["p_value"], digits, stars))
                second = e["std_error"] if stat == "se" else e["z"]
                bottom.append(f"({second:.{digits}f})")
            else:
                top.append("")
                bottom.append("")
        rows[t] = top
        rows[f"{t} "] = bottom
    rows["Fixed effects"] = [r.effects_kind + (" (Lee–Yu)" if r.lee_yu else "") for r in results]
    rows["log L"] = [f"{r.loglik:.3f}" for r in results]
    rows["R²"] = [f"{r.r2:.3f}" for r in results]
    rows["N"] = [str(r.nobs) for r in results]
    return pd.DataFrame(rows, index=cols).T


def effects_grid(result: SpatialPanelResult, stars=(0.1, 0.05, 0.01), digits: int = 3) -> pd.DataFrame:
    """Direct / indirect / total effects per regressor (dynamic models: short- then long-run), z in parentheses
    (as in the papers' effect tables)."""
    kinds = list(dict.fromkeys(result.effects["effect"]))
    out = {}
    for var, g in result.effects.groupby("variable", sort=False):
        g = g.set_index("effect")
        out[var] = [f"{_cell(g.loc[k, 'estimate'], g.loc[k, 'p_value'], digits, stars)} "
                    f"({g.loc[k, 'z']:.{digits}f})" if g.loc[k, "std_error"] > 0 else "—"  # e.g. SEM: none
                    for k in kinds]
    return pd.DataFrame(out, index=kinds).T


VCE_LABELS = {"robust": "heteroskedasticity-robust", "cluster": "cluster-robust (by unit)"}


def _vce_note(results: list[SpatialPanelResult]) -> str:
    """Which variance the columns use, when any is a sandwich (vce robust / cluster)."""
    kinds = [VCE_LABELS.get(r.vce, "information-matrix") for r in results]
    if all(r.vce == "oim" for r in results):
        return ""
    if len(set(kinds)) == 1:
        return f" Standard errors {kinds[0]}."
    return " Standard errors: " + "; ".join(f"({i + 1}) {k}" for i, k in enumerate(kinds)) + "."


def regression_table(results: list[SpatialPanelResult], fmt: str = "markdown", stars=(0.1, 0.05, 0.01),
                     stat: str = "se") -> str:
    """Several models side by side, like esttab."""
    note = (f"{'Standard errors' if stat == 'se' else 'z statistics'} in parentheses; "
            + ", ".join(f"{'*' * (i + 1)} p < {s}" for i, s in enumerate(stars)) + "." + _vce_note(results))
    return render(coefficient_grid(results, stars, stat), fmt, note)


def effects_table(result: SpatialPanelResult, fmt: str = "markdown", stars=(0.1, 0.05, 0.01)) -> str:
    """The effects table of one model."""
    how = f"SE from {result.draws} simulation draws" if result.effects["draws"].max() > 0 else "exact SE"
    note = f"z in parentheses ({how}); " + ", ".join(
        f"{'*' * (i + 1)} p < {s}" for i, s in enumerate(stars)) + "." + _vce_note([result])
    return render(effects_grid(result, stars), fmt, note)
