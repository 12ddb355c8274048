"""Data simulated from known parameters: estimates recover the truth; effect intervals cover it."""

from __future__ import annotations

import libpysal
import numpy as np
import pandas as pd
import pytest

from analyses.spatial_panel import spatial_panel

N, T = 400, 10
BETA, THETA, RHO, SIGMA = np.array([1.0, -0.5]), np.array([0.5, 0.3]), 0.4, 0.5


def knn_w(n: int, seed: int) -> tuple[libpysal.weights.W, np.ndarray]:
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    w = libpysal.weights.KNN.from_array(pts, k=6)
    w.transform = "r"
    return w, w.full()[0]


def simulate(model: str, wd: np.ndarray, n: int = N, t: int = T, seed: int = 0,
             ainv: np.ndarray | None = None) -> pd.DataFrame:
    """Two-way FE panel: y_t = A(X_tβ + WX_tθ + μ + α_t) + ε-part, A = (I − ρW)^{-1} for lag models."""
    rng = np.random.default_rng(seed)
    mu, alpha = rng.normal(size=n), rng.normal(size=t)
    x = rng.normal(size=(t, n, 2))
    x[:, :, 0] += 0.5 * mu  # regressors correlated with the fixed effects
    x[:, :, 1] += 0.3 * alpha[:, None]
    eps = SIGMA * rng.normal(size=(t, n))
    ainv = np.linalg.inv(np.eye(n) - RHO * wd) if ainv is None else ainv
    theta = THETA if model in ("sdm", "sdem", "slx") else np.zeros(2)
    y = np.empty((t, n))
    for s in range(t):
        mean = x[s] @ BETA + (wd @ x[s]) @ theta + mu + alpha[s]
        if model in ("sar", "sdm"):
            y[s] = ainv @ (mean + eps[s])
        elif model in ("sem", "sdem"):
            y[s] = mean + ainv @ eps[s]
        elif model == "sac":
            y[s] = ainv @ (mean + ainv @ eps[s])
        else:
            y[s] = mean + eps[s]
    return pd.DataFrame({"unit": np.tile(np.arange(n), t), "year": np.repeat(np.arange(t), n),
                         "y": y.ravel(), "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})


@pytest.fixture(scope="module")
def w_pair():
    return knn_w(N, seed=1)


@pytest.mark.parametrize("model", ["sar", "sdm", "sem", "sdem", "slx", "sac"])
def test_estimates_recover_the_truth(w_pair, model):
    w, wd = w_pair
    data = simulate(model, wd, seed=7)
    fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model=model, effects="twoways", lee_yu=True,
                        draws=200, lr_tests=False)
    truth = {"x1": BETA[0], "x2": BETA[1], "sigma2": SIGMA**2}
    if model in ("sdm", "sdem", "slx"):
        truth |= {"W.x1": THETA[0], "W.x2": THETA[1]}
    if model in ("sar", "sdm", "sac"):
        truth["rho"] = RHO
    if model in ("sem", "sdem", "sac"):
        truth["lambda"] = RHO
    assert set(fit.params.index) == set(truth)
    z = (fit.params[list(truth)] - pd.Series(truth)) / fit.bse[list(truth)]
    assert (z.abs() < 3.5).all(), z


def test_direct_approach_biases_sigma2_and_lee_yu_removes_it(w_pair):
    """Lee & Yu (2010): with two-way effects the direct σ² is ≈ σ²(N−1)(T−1)/(NT); the transformation is not."""
    w, wd = w_pair
    data = simulate("sar", wd, seed=11)
    direct = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sar", effects="twoways", draws=50)
    ly = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sar", effects="twoways", lee_yu=True,
                       draws=50)
    se = ly.bse["sigma2"]
    assert abs(ly.sigma2 - SIGMA**2) < 3 * se
    assert abs(direct.sigma2 - SIGMA**2 * (N - 1) * (T - 1) / (N * T)) < 3 * se
    assert SIGMA**2 - direct.sigma2 > 2 * se


@pytest.mark.parametrize("model", ["sdm", "sem"])
def test_analytic_and_numerical_hessian_errors_agree_on_a_correct_model(w_pair, model):
    w, wd = w_pair
    data = simulate(model, wd, seed=3)
    kw = {"model": model, "effects": "twoways", "lee_yu": True, "draws": 50, "lr_tests": False}
    analytic = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", **kw)
    numeric = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", vcov="hessian", **kw)
    np.testing.assert_allclose(analytic.bse, numeric.bse, rtol=0.06)


def test_simulated_effect_intervals_cover_the_truth():
    """50 replications, N = 300, T = 10: 95% simulation intervals cover the true effects about 95% of the time."""
    n, reps = 300, 50
    w = libpysal.weights.lat2W(20, 15, rook=True)  # 300 units on a lattice, rook contiguity
    w.transform = "r"
    wd = w.full()[0]
    a = np.linalg.inv(np.eye(n) - RHO * wd)
    truth = {}
    for i, var in enumerate(("x1", "x2")):
        s = a @ (BETA[i] * np.eye(n) + THETA[i] * wd)
        truth[(var, "direct")] = np.trace(s) / n
        truth[(var, "total")] = s.sum() / n
        truth[(var, "indirect")] = truth[(var, "total")] - truth[(var, "direct")]
    hits = []
    for rep in range(reps):
        data = simulate("sdm", wd, n=n, seed=100 + rep, ainv=a)
        eff = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sdm", effects="twoways", lee_yu=True,
                            draws=500, seed=rep, lr_tests=False).effects
        for r in eff.itertuples():
            hits.append(r.ci_low <= truth[(r.variable, r.effect)] <= r.ci_high)
    coverage = np.mean(hits)
    assert 0.88 <= coverage <= 0.995, coverage
