"""The specification tests: panel LM (classic and robust), LR tests of fixed effects, Wald tests of the SDM.

Panel LM tests on the non-spatial model (Anselin 1988; Anselin, Bera, Florax & Yoon 1996; Elhorst 2014
§3.5 / Elhorst 2010 eq. 14–17), with e the FE-OLS residuals, σ² = e'e/NT, T_W = tr(W'W + WW) and
J = [(WXβ)'M(WXβ) + T·T_W·σ²]/σ²:
    LM_lag = (e'Wy/σ²)²/J                       LM_err = (e'We/σ²)²/(T·T_W)
    robust LM_lag = (e'Wy/σ² − e'We/σ²)²/(J − T·T_W)
    robust LM_err = (e'We/σ² − T·T_W/J·e'Wy/σ²)²/(T·T_W·(1 − T·T_W/J))
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analyses.spatial_panel.panel import Panel, demean, lag, lstsq


def _row(test: str, statistic: float, df: int, note: str = "") -> dict:
    return {"test": test, "statistic": float(statistic), "df": df, "p_value": float(stats.chi2.sf(statistic, df)),
            "note": note}


def lm_tests(panel: Panel, effects: str) -> pd.DataFrame:
    """Classic and robust LM-lag / LM-error on the (FE-)OLS model of y on X."""
    w, t, x = panel.w, panel.t, panel.x
    y = demean(panel.y, effects).ravel()
    wy = demean(lag(w, panel.y), effects).ravel()
    xd = demean(x, effects).reshape(-1, x.shape[2])
    beta = lstsq(xd, y)
    e = y - xd @ beta
    s2 = float(e @ e) / len(e)
    we = lag(w, e.reshape(t, -1)).ravel()
    wxb = lag(w, (xd @ beta).reshape(t, -1)).ravel()
    coef = lstsq(xd, wxb)
    m_wxb = wxb - xd @ coef
    tw = float(w.multiply(w).sum() + w.multiply(w.T).sum())
    j = (m_wxb @ m_wxb + t * tw * s2) / s2
    g_lag, g_err = float(e @ wy) / s2, float(e @ we) / s2
    note = f"on the {effects} OLS model"
    return pd.DataFrame([
        _row("LM lag", g_lag**2 / j, 1, note),
        _row("LM error", g_err**2 / (t * tw), 1, note),
        _row("robust LM lag", (g_lag - g_err) ** 2 / (j - t * tw), 1, note),
        _row("robust LM error", (g_err - t * tw / j * g_lag) ** 2 / (t * tw * (1 - t * tw / j)), 1, note),
    ])


def ols_loglik(panel: Panel, effects: str) -> float:
    """log L of the OLS model with the given fixed effects (σ² = e'e/NT)."""
    x = panel.x
    if effects == "pooled":
        x = np.concatenate([np.ones((*x.shape[:2], 1)), x], axis=2)
    xd = demean(x, effects).reshape(-1, x.shape[2])
    y = demean(panel.y, effects).ravel()
    beta = lstsq(xd, y)
    e = y - xd @ beta
    n = len(e)
    return float(-n / 2 * (np.log(2 * np.pi * float(e @ e) / n) + 1))


def fe_lr_tests(panel: Panel) -> pd.DataFrame:
    """LR tests of the joint significance of unit and of time effects, on the non-spatial model.

    As in Elhorst (2014 §3.6.2): units = 2(log L two-way − log L time only), times = 2(log L two-way −
    log L unit only). Degrees of freedom N − 1 and T − 1 (Elhorst prints N and T).
    """
    ll = {e: ols_loglik(panel, e) for e in ("individual", "time", "twoways")}
    return pd.DataFrame([
        _row("LR unit effects", 2 * (ll["twoways"] - ll["time"]), panel.n - 1, "two-way vs time-only OLS"),
        _row("LR time effects", 2 * (ll["twoways"] - ll["individual"]), panel.t - 1, "two-way vs unit-only OLS"),
    ])


def wald(name: str, value: np.ndarray, jac: np.ndarray, vcov: np.ndarray, note: str = "") -> dict:
    """Wald statistic of H0: g(θ) = 0, with g's Jacobian (delta method for nonlinear restrictions)."""
    v = jac @ vcov @ jac.T
    stat = float(value @ np.linalg.solve(v, value))
    return _row(name, stat, len(value), note)


def lr(name: str, ll_full: float, ll_restricted: float, df: int, note: str = "") -> dict:
    """Likelihood-ratio statistic 2(log L_full − log L_restricted)."""
    return _row(name, 2 * (ll_full - ll_restricted), df, note)


def hausman(fe: pd.Series, fe_vcov: pd.DataFrame, re: pd.Series, re_vcov: pd.DataFrame) -> dict:
    """Hausman (1978) test of fixed against random effects on the slope and spatial parameters they share:
    H = d'(V_FE − V_RE)^{-1}d, d = b_FE − b_RE (a generalised inverse when the difference is not definite)."""
    common = [c for c in fe.index if c in re.index and c not in ("sigma2", "phi", "Intercept")]
    d = (fe[common] - re[common]).to_numpy()
    v = fe_vcov.loc[common, common].to_numpy() - re_vcov.loc[common, common].to_numpy()
    stat = float(d @ np.linalg.pinv(v) @ d)
    definite = bool(np.all(np.linalg.eigvalsh((v + v.T) / 2) > 0))
    return _row("Hausman FE vs RE", stat, len(common),
                "" if definite else "V_FE − V_RE not positive definite: generalised inverse")
