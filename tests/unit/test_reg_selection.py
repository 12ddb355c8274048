"""Altonji–Elder–Taber and Oster from statsmodels short and long fits computed by hand; Hausman FE vs RE on panels
simulated with and without correlated unit effects (the FE side equals pyfixest)."""

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
    assert res.oster_beta == pytest.approx(b1 - (b0 - b1) * (rm - r1) / (r1 - r0), rel=1e-10)  # Oster (2019) eq. 3
    assert res.oster_delta == pytest.approx(b1 * (r1 - r0) / ((b0 - b1) * (rm - r1)), rel=1e-10)
    assert res.as_dict()["r_max"] == pytest.approx(rm)


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
