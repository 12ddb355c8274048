"""Simultaneous equations: three-stage least squares (Zellner & Theil 1962) or SUR, by linearmodels' IV3SLS / SUR.

    fit = system("klein.csv", ["consumption ~ cprofits + L.cprofits + w",
                               "invest ~ cprofits + L.cprofits + L.capital",
                               "pwage ~ gnp + L.gnp + trend"],
                 endogenous=["cprofits", "w", "gnp"], instruments=["gexpenditure", "taxes", "gwage"], time="year")
    fit.table          # equation, term, coef, se, t, p;  fit.columns: one RegResult per equation for reg_table

Each equation is `y ~ regressors` with a constant; the regressors named in `endogenous` are instrumented by every
exogenous variable of the system (the other equations' exogenous regressors and `instruments`), as reg3 does.
`L.x` / `F.x` work as in `reg` (one time series when no unit is named). Variances are linearmodels' unadjusted
(σ_ij = e_i'e_j / T, as Greene's tables) unless vce='robust'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analyses.reg.fit import RegResult, _label, gate, split_formula
from analyses.reg.prepare import RegError, add_lags, operator_columns


@dataclass
class SystemResult:
    """Coefficients by equation, one RegResult per equation (for the paper table), and the fit."""

    method: str
    table: pd.DataFrame
    columns: list[RegResult]
    nobs: int
    quality: str = "not-checked"
    source: str = "DataFrame"
    model: Any = field(default=None, repr=False)

    def as_dict(self) -> dict:
        return {"method": self.method, "nobs": self.nobs, "quality": self.quality, "source": self.source,
                "estimates": self.table.to_dict("records"),
                "equations": [{"dependent": c.dependent, "formula": c.formula, "r2": c.r2} for c in self.columns]}


def system(data: Any, equations: Sequence[str], *, endogenous: Sequence[str] = (), instruments: Sequence[str] = (),
           method: str = "3sls", vce: str = "unadjusted", con=None, unit: str | None = None, time: str | None = None,
           where: str | None = None, allow_failing_checks: bool = False) -> SystemResult:
    """3SLS (method='3sls') or SUR (method='sur', no endogenous regressors) of the equations on `data`."""
    from linearmodels.system import IV3SLS, SUR

    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    if method not in ("3sls", "sur"):
        raise RegError(f"method {method!r}: 3sls or sur")
    if vce not in ("unadjusted", "robust"):
        raise RegError(f"vce {vce!r} of a system: unadjusted or robust")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where, require_unit=False)
    except DataError as exc:
        raise RegError(str(exc)) from exc
    parsed, made = [], {}
    for text in equations:
        fitted, ops = operator_columns(text)
        made.update(ops)
        y, rhs, fe, iv = split_formula(fitted)
        if fe or iv:
            raise RegError(f"{text}: a system equation is y ~ regressors (name instruments with --instruments)")
        parsed.append((text, y, rhs))
    frame = add_lags(panel.frame, made, panel.unit, panel.time)
    needed = list(dict.fromkeys([c for _, y, rhs in parsed for c in (y, *rhs)] + list(instruments)))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise RegError(f"{panel.source}: no column {missing[0]!r}")
    frame = frame.dropna(subset=needed).reset_index(drop=True).assign(const=1.0)
    endo = set(endogenous)
    if method == "sur" and endo:
        raise RegError("SUR has no endogenous regressors: use method 3sls")
    exog_all = list(dict.fromkeys([c for _, _, rhs in parsed for c in rhs if c not in endo] + list(instruments)))
    spec = {}
    for text, y, rhs in parsed:
        exog = ["const", *[c for c in rhs if c not in endo]]
        endog = [c for c in rhs if c in endo]
        eq = {"dependent": frame[y], "exog": frame[exog]}
        if method == "3sls":
            inst = [c for c in exog_all if c not in exog]
            if len(inst) < len(endog):
                raise RegError(f"{text}: {len(endog)} endogenous regressors but {len(inst)} excluded exogenous "
                               "variables: the equation is not identified (order condition)")
            eq.update(endog=frame[endog] if endog else None, instruments=frame[inst] if endog else None)
        spec[y] = eq
    try:
        fit = (IV3SLS(spec) if method == "3sls" else SUR(spec)).fit(cov_type=vce)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise RegError(f"linearmodels could not fit the system: {str(exc).splitlines()[0]}") from exc
    rows, columns = [], []
    quality = gate(con, panel, allow_failing_checks)
    for text, y, _ in parsed:
        eq = fit.equations[y]
        tab = pd.DataFrame({"term": [_label(str(t)).replace("const", "Intercept") for t in eq.params.index],
                            "coef": eq.params.to_numpy(), "se": eq.std_errors.to_numpy(),
                            "t": eq.tstats.to_numpy(), "p": eq.pvalues.to_numpy()})
        ci = eq.conf_int()
        tab["ci_low"], tab["ci_high"] = ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy()
        rows.append(tab.assign(equation=y))
        columns.append(RegResult(formula=text, fitted_formula=text, dependent=y, vce=vce, table=tab,
                                 nobs=int(eq.nobs), r2=float(eq.rsquared), r2_within=float("nan"), fixef=[],
                                 n_clusters={}, source=panel.source, quality=quality, unit=panel.unit,
                                 time=panel.time, estimator=method.upper()))
    table = pd.concat(rows, ignore_index=True)[["equation", "term", "coef", "se", "t", "p", "ci_low", "ci_high"]]
    return SystemResult(method=method, table=table, columns=columns, nobs=len(frame), quality=quality,
                        source=panel.source, model=fit)
