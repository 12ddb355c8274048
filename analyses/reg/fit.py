"""`reg`: one regression with any fixed effects, IV in pyfixest syntax, on any data the contract reads.

    fit = reg("fct_city_year", "lngdp ~ L.lnde + pop | city_code + province_code^year", con=con,
              vce="cluster:city_code", winsor=0.01, winsor_by_year=True)
    fit.table                       # term, coef, se, t, p, ci_low, ci_high
    fit.iv                          # IVDiagnostics of an IV formula (`y ~ x | fe | endog ~ z1 + z2`)
    fits = stepwise("panel.csv", "y ~ d + pop + fai + hum", blocks=["pop + fai", "hum"])

Estimation is pyfixest's `feols` (Bergé's fixest algorithm; 2SLS for IV formulas); `reg` adds the data contract,
Stata-style `L.` / `F.` operators on the panel index, winsorising, the weak-instrument diagnostics of
`analyses.reg.iv` and a result that tables, JSON and `analysis.model_runs` read.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analyses.reg.prepare import (
    RegError,
    add_lags,
    cluster_columns,
    is_binary,
    operator_columns,
    parse_vce,
    variables,
    winsorise,
)


@dataclass
class RegResult:
    """One fitted column: coefficients, fit statistics, fixed effects, and (IV) first-stage diagnostics."""

    formula: str
    fitted_formula: str
    dependent: str
    vce: str
    table: pd.DataFrame
    nobs: int
    r2: float
    r2_within: float
    fixef: list[str]
    n_clusters: dict[str, int]
    iv: Any | None = None  # analyses.reg.iv.IVDiagnostics
    estimator: str = "OLS"
    source: str = "DataFrame"
    quality: str = "not-checked"
    tables: list[str] = field(default_factory=list)
    fingerprint: str = ""
    unit: str | None = None
    time: str | None = None
    model: Any = None  # the pyfixest fit

    @property
    def coef(self) -> pd.Series:
        return self.table.set_index("term")["coef"]

    @property
    def se(self) -> pd.Series:
        return self.table.set_index("term")["se"]

    def as_dict(self) -> dict:
        """Every estimate with its SE, t, p and CI, the fit statistics and the IV diagnostics (JSON-ready)."""
        out = {"formula": self.formula, "estimator": self.estimator, "dependent": self.dependent, "vce": self.vce,
               "nobs": self.nobs,
               "r2": _num(self.r2), "r2_within": _num(self.r2_within), "fixed_effects": self.fixef,
               "n_clusters": self.n_clusters, "source": self.source, "quality": self.quality,
               "estimates": [{k: _num(v) if k != "term" else v for k, v in row.items()}
                             for row in self.table.to_dict("records")]}
        if self.iv is not None:
            out["iv"] = self.iv.as_dict()
        return out


def split_formula(formula: str) -> tuple[str, list[str], list[str], str | None]:
    """(dependent, regressors, fixed-effect terms, IV part) of `y ~ x1 + x2 | fe1 + fe2 | endog ~ z`."""
    parts = [p.strip() for p in formula.split("|")]
    if "~" not in parts[0]:
        raise RegError(f"formula {formula!r}: write y ~ x1 + x2 | fe1 + fe2 (pyfixest syntax)")
    lhs, rhs = (s.strip() for s in parts[0].split("~", 1))
    if len(parts) > 3:
        raise RegError(f"formula {formula!r}: at most three parts, y ~ exog | fe | endog ~ instruments")
    fe: list[str] = []
    iv = None
    for part in parts[1:]:
        if "~" in part:
            iv = part
        elif part not in ("0", ""):
            fe = _terms(part)
    return lhs, _terms(rhs), fe, iv


def _terms(text: str) -> list[str]:
    """Top-level `+`-separated terms (a `+` inside parentheses stays in its term)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return [t for t in out if t not in ("1", "0")]


def join_formula(y: str, regressors: list[str], fe: list[str], iv: str | None) -> str:
    """The pyfixest formula of these parts."""
    text = f"{y} ~ {' + '.join(regressors) if regressors else '1'}"
    if fe or iv:
        text += f" | {' + '.join(fe) if fe else '0'}"
    if iv:
        text += f" | {iv}"
    return text


def prepare_data(data: Any, formula: str, *, con=None, unit: str | None = None, time: str | None = None,
                 where: str | None = None, vce: str = "iid", winsor: float | None = None,
                 winsor_by_year: bool = False) -> tuple[pd.DataFrame, str, Any]:
    """Read `data` through the data contract, winsorise, add `L.` / `F.` columns: (frame, pyfixest formula, panel)."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where, require_unit=False)
    except DataError as exc:
        raise RegError(str(exc)) from exc
    fitted, made = operator_columns(formula)
    frame = panel.frame
    y, rhs, fe, iv = split_formula(fitted)
    model_vars = variables(" + ".join([y, *rhs, iv or ""]))
    raw_vars = [made[c][0] if c in made else c for c in model_vars]
    fe_vars = variables(" + ".join(fe).replace("^", " + "))
    needed = list(dict.fromkeys([*raw_vars, *fe_vars, *cluster_columns(vce)]))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        near = difflib.get_close_matches(missing[0], [str(c) for c in frame.columns], n=1, cutoff=0.5)
        hint = f"; nearest: {near[0]!r}" if near else ""
        raise RegError(f"{panel.source}: no column {missing[0]!r}{hint}")
    if winsor:
        cols = [c for c in dict.fromkeys(raw_vars) if not is_binary(frame[c])]
        if winsor_by_year and panel.time is None:
            raise RegError("--by-year needs the period column: name it with --time")
        frame = winsorise(frame, cols, winsor, by=panel.time if winsor_by_year else None)
    frame = add_lags(frame, made, panel.unit, panel.time)
    return frame, fitted, panel


def reg(data: Any, formula: str, *, con=None, unit: str | None = None, time: str | None = None,
        where: str | None = None, vce: str = "iid", winsor: float | None = None, winsor_by_year: bool = False,
        allow_failing_checks: bool = False, diagnostics: bool = True, estimator: str = "2sls") -> RegResult:
    """Fit `formula` (pyfixest syntax, with `L.x` / `F.x`) on `data` with the variance `vce`.

    data: a DataFrame, a warehouse table or view, a SQL query, or a file (warehouse.panel_data.read_panel);
    warehouse data pass the quality gate (warehouse.quality.gate.require_checked) unless allow_failing_checks.
    """
    frame, fitted, panel = prepare_data(data, formula, con=con, unit=unit, time=time, where=where, vce=vce,
                                        winsor=winsor, winsor_by_year=winsor_by_year)
    quality = gate(con, panel, allow_failing_checks)
    return fit_frame(frame, formula, fitted, vce, diagnostics=diagnostics, source=panel.source, quality=quality,
                     tables=panel.tables, unit=panel.unit, time=panel.time, estimator=estimator)


def fit_frame(frame: pd.DataFrame, formula: str, fitted: str, vce: str, *, diagnostics: bool = True,
              source: str = "DataFrame", quality: str = "not-checked", tables: list[str] | None = None,
              unit: str | None = None, time: str | None = None, estimator: str = "2sls") -> RegResult:
    """pyfixest's feols of the prepared frame, as a RegResult (IV diagnostics from analyses.reg.iv); with
    estimator='liml' the IV coefficients and SEs are LIML's (analyses.reg.iv.liml)."""
    import pyfixest as pf

    y, _, fe, iv = split_formula(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pf.feols(fitted, data=frame, vcov=parse_vce(vce))
        except Exception as exc:  # pyfixest's own errors, restated on one line
            raise RegError(f"{formula}: pyfixest could not fit it: {str(exc).splitlines()[0]}") from exc
    labels = {c: _label(c) for c in model._coefnames}
    tidy = model.tidy()
    table = pd.DataFrame({"term": [labels.get(t, t) for t in tidy.index], "coef": tidy["Estimate"].to_numpy(),
                          "se": tidy["Std. Error"].to_numpy(), "t": tidy["t value"].to_numpy(),
                          "p": tidy["Pr(>|t|)"].to_numpy(), "ci_low": tidy["2.5%"].to_numpy(),
                          "ci_high": tidy["97.5%"].to_numpy()})
    r2, r2_within = _r2(model)
    if estimator not in ("2sls", "liml"):
        raise RegError(f"estimator {estimator!r}: 2sls or liml")
    if estimator == "liml":
        if iv is None:
            raise RegError("LIML needs an IV formula: y ~ exog | fe | endog ~ instruments")
        from analyses.reg.iv import liml

        table = liml(model, vce).assign(term=lambda t: [labels.get(x, x) for x in t["term"]])
    clusters = {c: int(model._data[c].nunique()) for c in cluster_columns(vce)}
    diag = None
    if iv is not None and diagnostics:
        from analyses.reg.iv import iv_diagnostics

        diag = iv_diagnostics(model, vce, estimator)
    used = model._data
    digest = hashlib.sha256(pd.util.hash_pandas_object(used, index=False).to_numpy().tobytes()).hexdigest()[:16]
    kind = "OLS" if iv is None else estimator.upper()
    return RegResult(formula=formula, fitted_formula=fitted, dependent=y, vce=vce, table=table, nobs=int(model._N),
                     estimator=kind,
                     r2=r2, r2_within=r2_within, fixef=fe, n_clusters=clusters, iv=diag, source=source,
                     quality=quality, tables=list(tables or []), fingerprint=digest, unit=unit, time=time,
                     model=model)


def stepwise(data: Any, formula: str, *, blocks: list[str] | None = None, con=None, unit: str | None = None,
             time: str | None = None, where: str | None = None, vce: str = "iid", winsor: float | None = None,
             winsor_by_year: bool = False, allow_failing_checks: bool = False) -> list[RegResult]:
    """Columns adding the controls one block at a time on one sample (the full model's), as papers' Table 2 does.

    Column 1 has the first regressor (with the fixed effects and IV part of `formula`); each next column adds a
    block: `blocks` (e.g. ["pop + fai", "hum"]), by default one regressor at a time.
    """
    frame, fitted, panel = prepare_data(data, formula, con=con, unit=unit, time=time, where=where, vce=vce,
                                        winsor=winsor, winsor_by_year=winsor_by_year)
    quality = gate(con, panel, allow_failing_checks)
    y, rhs, fe, iv = split_formula(fitted)
    if len(rhs) < 1:
        raise RegError(f"{formula}: stepwise needs a key regressor before the controls")
    if blocks:
        block_terms = [_terms(operator_columns(b)[0]) for b in blocks]
        listed = [t for b in block_terms for t in b]
        unknown = [t for t in listed if t not in rhs]
        if unknown:
            raise RegError(f"--blocks names {unknown[0]!r}, not a regressor of {formula!r}")
        key = [t for t in rhs if t not in listed]
    else:
        key, block_terms = rhs[:1], [[t] for t in rhs[1:]]
    used = variables(" + ".join([y, *rhs, iv or "", *[f.replace("^", "+") for f in fe],
                                 *cluster_columns(vce)]))
    sample = frame.dropna(subset=[c for c in used if c in frame.columns])
    fits, current = [], list(key)
    for block in [[], *block_terms]:
        current = current + block
        text = join_formula(y, current, fe, iv)
        shown = _unfit(text, formula)
        fits.append(fit_frame(sample, shown, text, vce, source=panel.source, quality=quality, tables=panel.tables,
                              unit=panel.unit, time=panel.time))
    return fits


def gate(con, panel, allow_failing_checks: bool = False) -> str:
    """The quality-gate status of the warehouse tables `panel` read; files and frames are 'not-checked'."""
    from warehouse.quality.gate import gate_status

    return gate_status(con, panel.tables if panel.from_warehouse else [], allow_failing_checks).status


def _r2(model) -> tuple[float, float]:
    """R² (with the fixed effects) and within R²; for IV, 1 − RSS/TSS of the 2SLS residuals, as ivreg2 prints."""
    if not model._is_iv:
        return float(model._r2), float(model._r2_within) if model._has_fixef else float(model._r2)
    u = np.asarray(model._u_hat, dtype=float).ravel()
    y = np.asarray(model._Y_untransformed, dtype=float).ravel()
    rss = float(u @ u)
    r2 = 1 - rss / float(((y - y.mean()) ** 2).sum())
    yd = np.asarray(model._Y, dtype=float).ravel()
    r2_within = 1 - rss / float((yd**2).sum()) if model._has_fixef else r2
    return r2, r2_within


_OP_COL = re.compile(r"^([LF])(\d*)_(.+)$")


def _label(column: str) -> str:
    """`L2_x` → `L2.x`: the name as the formula wrote it."""
    m = _OP_COL.match(column)
    return f"{m.group(1)}{m.group(2)}.{m.group(3)}" if m else column


def _unfit(fitted: str, original: str) -> str:
    """The fitted formula with operator columns written back as `L.x`."""
    _, made = operator_columns(original)
    out = fitted
    for column in sorted(made, key=len, reverse=True):
        out = re.sub(rf"\b{re.escape(column)}\b", _label(column), out)
    return out


def _num(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
