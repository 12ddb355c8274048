"""Hansen (1999) panel threshold: the estimate equals a brute-force grid search with unit dummies written here, LR
follows from its SSRs, and on simulated data with known thresholds the estimate, F test and interval recover them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analyses.reg import RegError
from analyses.reg.threshold import lr_critical, threshold


def simulate(n_units: int, n_periods: int, cuts: list[float], slopes: list[float], seed: int) -> pd.DataFrame:
    """y = μ_i + β(q)·x + 0.5 z + e with β stepping at `cuts` of q ~ U(0, 10)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_units):
        mu = rng.normal()
        for t in range(n_periods):
            q, x, z = rng.uniform(0, 10), rng.normal(), rng.normal()
            beta = slopes[int(np.searchsorted(cuts, q, side="left"))]
            rows.append({"unit": f"u{i:03d}", "year": 2000 + t, "q": q, "x": x, "z": z,
                         "y": mu + beta * x + 0.5 * z + rng.normal(scale=0.5)})
    return pd.DataFrame(rows)


def test_single_threshold_equals_brute_force_grid_search():
    data = simulate(30, 6, [5.0], [1.0, 1.6], seed=11)
    result = threshold(data, "y", "x", "q", ["z"], unit="unit", time="year", reps=0, trim=0.05, grid=60)
    # the grid by hand: the order statistic q_(⌈p·n⌉) at 60 levels from 5% to 95%, distinct values
    qs = np.sort(data["q"].to_numpy())
    n = len(qs)
    levels = np.linspace(0.05, 0.95, 60)
    grid = np.unique([qs[max(math.ceil(p * n) - 1, 0)] for p in levels])
    dummies = pd.get_dummies(data["unit"], dtype=float).to_numpy()
    ssr = []
    for g in grid:
        low = data["x"] * (data["q"] <= g)
        high = data["x"] * (data["q"] > g)
        X = np.column_stack([low, high, data["z"], dummies])
        resid = data["y"].to_numpy() - X @ np.linalg.lstsq(X, data["y"].to_numpy(), rcond=None)[0]
        ssr.append(resid @ resid)
    ssr = np.array(ssr)
    best = int(np.argmin(ssr))
    assert result.thresholds[0] == grid[best]
    assert result.ssr[1] == pytest.approx(ssr[best], rel=1e-10)
    lr = result.lr[0].set_index("gamma")["LR"]
    sigma2 = ssr[best] / (30 * 5)
    np.testing.assert_allclose(lr.loc[grid].to_numpy(), (ssr - ssr[best]) / sigma2, rtol=1e-8, atol=1e-8)
    # F1 from the linear model's SSR
    X0 = np.column_stack([data["x"], data["z"], dummies])
    r0 = data["y"].to_numpy() - X0 @ np.linalg.lstsq(X0, data["y"].to_numpy(), rcond=None)[0]
    assert result.tests.loc[0, "F"] == pytest.approx((r0 @ r0 - ssr[best]) / sigma2, rel=1e-9)


def test_known_single_threshold_is_recovered_with_a_small_bootstrap_p():
    data = simulate(60, 8, [4.0], [0.5, 1.5], seed=3)
    result = threshold(data, "y", "x", "q", ["z"], unit="unit", time="year", reps=60, seed=1)
    low, high = result.ci[0]
    assert abs(result.thresholds[0] - 4.0) < 0.1 and low <= 4.0 + 0.05 and high >= 4.0 - 0.1
    assert result.tests.loc[0, "p_value"] == 0.0 and result.tests.loc[0, "reps"] == 60
    coef = result.coefficients.set_index("term")["coef"]
    assert coef["x_r1"] == pytest.approx(0.5, abs=0.1) and coef["x_r2"] == pytest.approx(1.5, abs=0.1)
    # the regime coefficients are pyfixest's unit-FE fit at the estimate
    d = data.assign(x_r1=data["x"] * (data["q"] <= result.thresholds[0]),
                    x_r2=data["x"] * (data["q"] > result.thresholds[0]))
    ref = pf.feols("y ~ x_r1 + x_r2 + z | unit", data=d, vcov={"CRV1": "unit"})
    np.testing.assert_allclose(result.coefficients["coef"], ref.coef().to_numpy(), rtol=1e-10)
    assert lr_critical(0.05) == pytest.approx(7.35, abs=0.005)  # Hansen (1999) Table / Hansen (2000) eq. 26


def test_no_threshold_gives_a_large_p_and_the_seed_reproduces_it():
    data = simulate(40, 6, [], [1.0], seed=8)
    a = threshold(data, "y", "x", "q", unit="unit", time="year", reps=40, seed=7)
    b = threshold(data, "y", "x", "q", unit="unit", time="year", reps=40, seed=7)
    assert a.tests.loc[0, "p_value"] == b.tests.loc[0, "p_value"] > 0.05


def test_double_threshold_recovers_both():
    data = simulate(80, 8, [3.0, 7.0], [1.0, 2.0, 0.0], seed=5)
    result = threshold(data, "y", "x", "q", ["z"], unit="unit", time="year", n_thresholds=2, reps=20, seed=2)
    assert result.thresholds[0] == pytest.approx(3.0, abs=0.25) and result.thresholds[1] == pytest.approx(7.0, abs=0.25)
    (lo1, hi1), (lo2, hi2) = result.ci
    assert lo1 <= 3.0 + 0.05 and hi1 >= 3.0 - 0.05 and lo2 <= 7.0 + 0.05 and hi2 >= 7.0 - 0.05
    assert list(result.tests["p_value"]) == [0.0, 0.0] and len(result.ci) == 2 and len(result.lr) == 2
    assert list(result.coefficients["term"]) == ["x_r1", "x_r2", "x_r3", "z"]


def test_unbalanced_panel_is_refused_by_name():
    data = simulate(10, 5, [5.0], [1.0, 2.0], seed=1).iloc[1:]
    with pytest.raises(RegError, match="balanced panel.*u000"):
        threshold(data, "y", "x", "q", unit="unit", time="year", reps=0)


def test_lr_plot_and_json(tmp_path):
    data = simulate(20, 5, [5.0], [1.0, 2.0], seed=4)
    result = threshold(data, "y", "x", "q", unit="unit", time="year", reps=10)
    result.plot_lr(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
    out = result.as_dict()
    assert out["thresholds"] == result.thresholds and out["tests"][0]["reps"] == 10


def test_triple_threshold_recovers_three_and_keeps_the_double_estimates():
    data = simulate(100, 8, [2.5, 5.0, 7.5], [0.0, 1.5, 0.0, 1.5], seed=6)
    triple = threshold(data, "y", "x", "q", unit="unit", time="year", n_thresholds=3, reps=10, seed=2)
    for got, true in zip(triple.thresholds, [2.5, 5.0, 7.5], strict=True):
        assert got == pytest.approx(true, abs=0.25)
    assert list(triple.tests["test"]) == ["single threshold (H0: linear)", "double threshold (H0: single)",
                                          "triple threshold (H0: double)"]
    assert triple.tests.loc[2, "p_value"] == 0.0 and len(triple.ci) == 3 and len(triple.draws) == 3
    double = threshold(data, "y", "x", "q", unit="unit", time="year", n_thresholds=2, reps=10, seed=2)
    assert set(double.thresholds) <= set(triple.thresholds)
    assert double.tests["F"].tolist() == pytest.approx(triple.tests["F"].tolist()[:2], rel=1e-12)
