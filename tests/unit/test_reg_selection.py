"""Altonji–Elder–Taber and Oster's approximations from statsmodels short and long fits computed by hand; Oster's exact δ
and β* (psacalc's formulas) on data simulated from her model, where they must recover the true β and δ (no printed
psacalc output on a dataset available here was found to test against); Hausman FE vs RE on panels simulated with and
without correlated unit effects (the FE side equals pyfixest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

from analyses.reg.hausman import hausman
from analyses.reg.selection import selection_ratios


def test_aet_and_oster_equal_the_formulas_on_statsmodels_fits():
    rng = np.random.default_rng(4)
    n = 500
    w1, w2 = rng.normal(size=(2, n))
    x = 0.5 * w1 + 0.3 * w2 + rng.normal(size=n)
    data = pd.DataFrame({"x": x, "w1": w1, "w2": w2, "y": 1.0 * x + 0.8 * w1 + 0.5 * w2 + rng.normal(size=n)})
    res = selection_ratios(data, "y", "x", ["w1", "w2"])
    short, long = smf.ols("y ~ x", data=data).fit(), smf.ols("y ~ x + w1 + w2", data=data).fit()
    b0, r0, b1, r1 = short.params["x"], short.rsquared, long.params["x"], long.rsquared
    rm = min(1.3 * r1, 1)
    assert res.aet_ratio == pytest.approx(b1 / (b0 - b1), rel=1e-10)  # Nunn & Wantchekon (2011) Table 3
    # Oster (2019) eq. 3, the approximations kept beside the exact solutions
    assert res.oster_beta_approx == pytest.approx(b1 - (b0 - b1) * (rm - r1) / (r1 - r0), rel=1e-10)
    assert res.oster_delta_approx == pytest.approx(b1 * (r1 - r0) / ((b0 - b1) * (rm - r1)), rel=1e-10)
    assert res.as_dict()["r_max"] == pytest.approx(rm)


def _oster_world(delta: float, n: int = 200_000, seed: int = 7) -> tuple[pd.DataFrame, float]:
    """Oster's (2019, section 3) model with β = 1: y = x + W1 + W2 + ε, W1 = 0.8·w (w observed), W2 unobserved and
    orthogonal to W1, x = 0.5·w + b·W2 + u with b chosen so that σ_2x/σ_22 = δ·σ_1x/σ_11 (proportional selection
    with the given δ); R_max is the R² of the regression that sees W2."""
    rng = np.random.default_rng(seed)
    w, w2, u, e = rng.normal(size=(4, n))
    x = 0.5 * w + delta * 0.5 / 0.8 * w2 + u
    data = pd.DataFrame({"y": x + 0.8 * w + w2 + e, "x": x, "w": w, "w2": w2})
    return data, float(smf.ols("y ~ x + w + w2", data=data).fit().rsquared)


@pytest.mark.parametrize("delta", [0.5, 1.0])
def test_oster_exact_beta_and_delta_recover_the_truth_in_her_model(delta):
    # an independent check of the psacalc formulas: under her assumptions, with the true δ and R_max, β* is the true
    # β (here 1) and the δ that brings β to 1 is the true δ — up to sampling error at n = 200,000
    data, r_max = _oster_world(delta)
    res = selection_ratios(data, "y", "x", ["w"], r_max=r_max, delta=delta, beta=1.0)
    assert res.long.coef["x"] > 1.2  # the controlled estimate is still biased (W2 omitted)
    assert res.oster_beta == pytest.approx(1.0, abs=0.01)
    assert res.oster_delta == pytest.approx(delta, abs=0.02)
    if delta != 1.0:  # eq. (3)'s approximation is exact only at δ = 1
        assert abs(res.oster_beta_approx - 1.0) > 0.02


def test_oster_delta_and_beta_are_inverse_and_match_the_cubic():
    from analyses.reg.selection import OsterInputs, oster_beta, oster_delta

    inp = OsterInputs(beta_short=1.62, r2_short=0.79, beta_long=1.44, r2_long=0.84, var_y=8.7, var_x=2.8, tau_x=2.5)
    for delta in (0.5, 1.0, 1.5):
        b, _ = oster_beta(inp, 0.95, delta)
        assert oster_delta(inp, 0.95, beta=b) == pytest.approx(delta, rel=1e-9)
        # psacalc's cubic written out again: f(β̃ − β*) = 0
        v, bo, s, t = inp.beta_long - b, inp.beta_short - inp.beta_long, inp.var_x, inp.tau_x
        rm, rt = (0.95 - inp.r2_long) * inp.var_y, (inp.r2_long - inp.r2_short) * inp.var_y
        f = ((delta - 1) * (t * s - t**2) * v**3 + t * bo * s * (delta - 2) * v**2
             + (delta * rm * (s - t) - rt * t - s * t * bo**2) * v + delta * rm * bo * s)
        assert abs(f) < 1e-9
        assert np.sign(b - inp.beta_long) == np.sign(inp.beta_long - inp.beta_short)  # Assumption 3 kept


def _panel(correlated: bool, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(100):
        u = rng.normal()
        for t in range(6):
            x = rng.normal() + (0.8 * u if correlated else 0.0)
            rows.append((i, t, x, u + 0.5 * x + rng.normal()))
    return pd.DataFrame(rows, columns=["unit", "year", "x", "y"])


def test_hausman_rejects_only_with_correlated_effects():
    bad, good = hausman(_panel(True), "y", ["x"], "unit", "year"), hausman(_panel(False), "y", ["x"], "unit", "year")
    assert bad.p_value < 0.001 and good.p_value > 0.05 and bad.df == 1
    fe = pf.feols("y ~ x | unit", data=_panel(True))
    assert bad.coefficients.loc[0, "fe"] == pytest.approx(fe.coef()["x"], rel=1e-10)
