"""The DID battery as the papers print it (001, Tables 3, 5 and 6): baseline by estimator, robustness checks
and heterogeneity by city flags, each in Markdown, LaTeX or HTML through `analyses.tables.render`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from scipy import stats

from analyses.tables import render, stars

if TYPE_CHECKING:
    from analyses.did.report import DIDBattery

NOTE = ("Standard errors clustered by unit in parentheses (normal p-values for the stars); "
        "*** p<0.01, ** p<0.05, * p<0.1.")


def _coef(coef: float, se: float) -> str:
    if coef != coef:  # not estimable on this sample (the report's notes say why)
        return "—"
    p = float(2 * stats.norm.sf(abs(coef / se))) if se > 0 else 1.0
    return f"{coef:.4f}{stars(p)}"


def did_table(battery: DIDBattery, fmt: str = "markdown") -> str:
    """Baseline (001, Table 3): one column per estimator, the treatment coefficient with stars and its SE
    in parentheses, N and the fixed effects."""
    columns: dict[str, list[str]] = {}
    fits = [("TWFE", battery.twfe.coef, battery.twfe.se, battery.twfe.nobs)]
    fits += [(r.estimator, r.att, r.se, battery.twfe.nobs) for r in battery.robust.iloc[1:].itertuples()]
    if battery.psm is not None:
        fits.append(("PSM-DID", battery.psm.did.coef, battery.psm.did.se, battery.psm.did.nobs))
    for i, (name, coef, se, nobs) in enumerate(fits):
        columns[f"({i + 1}) {name}"] = [_coef(coef, se), f"({se:.4f})" if se == se else "", str(nobs), "yes", "yes"]
    grid = pd.DataFrame(columns, index=["treated", "treated ", "N", "unit FE", "year FE"])
    return render(grid, fmt, NOTE)


def robustness_table(battery: DIDBattery, fmt: str = "markdown") -> str:
    """Robustness (001, Table 5): one column per check (PSM-DID first when run), the treatment coefficient,
    the check's own terms (anticipation dummy, concurrent policies) and N."""
    checks = battery.robustness
    order = list(dict.fromkeys(checks["check"]))
    columns: dict[str, list[str]] = {}
    entries = []
    if battery.psm is not None:
        m = battery.psm.did
        entries.append(("PSM-DID (period-by-period matching)", m.coef, m.se, "", m.nobs))
    for check in order:
        rows = checks[checks["check"] == check]
        main = rows[rows["term"] == "treated"].iloc[0]
        extra = "; ".join(f"{r.term} {_coef(r.coef, r.se)} ({r.se:.4f})" for r in rows[rows["term"] != "treated"]
                          .itertuples())
        entries.append((check, main["coef"], main["se"], extra, int(main["nobs"])))
    for i, (check, coef, se, extra, nobs) in enumerate(entries):
        columns[f"({i + 1}) {check}"] = [_coef(coef, se), f"({se:.4f})", extra, str(nobs)]
    grid = pd.DataFrame(columns, index=["treated", "treated ", "other terms", "N"])
    return render(grid, fmt, NOTE + " Unit and year fixed effects in every column.")


def heterogeneity_table(battery: DIDBattery, fmt: str = "markdown") -> str:
    """Heterogeneity (001, Table 6): the split-sample effect in each group of each flag, N, and the
    difference with its z-test and permutation p-values."""
    frame = battery.heterogeneity
    if frame is None:
        raise ValueError("the battery was run without --by flags")
    columns: dict[str, list[str]] = {}
    for flag, rows in frame.groupby("flag", sort=False):
        diff = rows[rows["model"] == "difference"].iloc[0]
        for value in (1, 0):
            r = rows[rows["term"].str.endswith(f"{flag} = {value}") & (rows["model"] == "split")].iloc[0]
            test = (f"{diff['coef']:.4f} (z p {diff['pvalue']:.3f}; perm. p {diff['p_permutation']:.3f})"
                    if value == 1 else "")
            columns[f"({len(columns) + 1}) {flag} = {value}"] = [_coef(r["coef"], r["se"]), f"({r['se']:.4f})",
                                                                  str(int(r["nobs"])), test]
    grid = pd.DataFrame(columns, index=["treated", "treated ", "N", "difference 1 − 0"])
    return render(grid, fmt, NOTE + " Each column is a TWFE DID on one group; the difference is tested by z and by "
                             "permuting the flag over units.")


def stepwise_table(battery: DIDBattery, fmt: str = "markdown") -> str:
    """Baseline with controls added one at a time (001, Table 3): every coefficient with stars and SE, N,
    R² (with the fixed effects) and within R²."""
    fits = battery.stepwise
    if not fits:
        raise ValueError("the battery was run without --controls")
    terms = ["treated", *battery.controls]
    rows: dict[str, list[str]] = {}
    for term in terms:
        cells, ses = [], []
        for fit in fits:
            table = fit.table.set_index("Coefficient")
            if term in table.index:
                coef, se = float(table.loc[term, "Estimate"]), float(table.loc[term, "Std. Error"])
                cells.append(_coef(coef, se))
                ses.append(f"({se:.4f})")
            else:
                cells.append("")
                ses.append("")
        rows[term], rows[f"{term} "] = cells, ses
    rows["N"] = [str(f.nobs) for f in fits]
    rows["R²"] = [f"{f.r2:.4f}" for f in fits]
    rows["within R²"] = [f"{f.r2_within:.4f}" for f in fits]
    rows["unit FE / year FE"] = ["yes"] * len(fits)
    grid = pd.DataFrame.from_dict(rows, orient="index", columns=[f"({i + 1})" for i in range(len(fits))])
    return render(grid, fmt, NOTE)
