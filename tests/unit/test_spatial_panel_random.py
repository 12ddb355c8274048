"""Random-effects lag models: the concentrated estimator maximises the exact Gaussian likelihood."""

from __future__ import annotations

import libpysal
import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from analyses.spatial_panel import SpatialPanelError, spatial_panel

SIDE, T = 5, 6


@pytest.fixture(scope="module")
def setup():
    w = libpysal.weights.lat2W(SIDE, SIDE)
    w.transform = "r"
    wd = w.full()[0]
    n = w.n
    rng = np.random.default_rng(4)
    x = rng.normal(size=(T, n, 2))
    mu = 0.7 * rng.normal(size=n)
    a_inv = np.linalg.inv(np.eye(n) - 0.3 * wd)
    y = np.stack([a_inv @ (1.0 + x[t] @ [1.0, -0.5] + mu + 0.5 * rng.normal(size=n)) for t in range(T)])
    data = pd.DataFrame({"unit": np.tile(np.arange(n), T), "year": np.repeat(np.arange(T), n), "y": y.ravel(),
                         "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})
    return w, wd, data, y, x


def exact_loglik(params: np.ndarray, wd: np.ndarray, y: np.ndarray, x: np.ndarray) -> float:
    """log density of vec(y) under y_t = A^{-1}(c + X_tβ + μ + ε_t), μ ~ N(0, σ_μ²I), ε ~ N(0, σ²I), dense."""
    c, b1, b2, rho, s2mu, s2 = params
    n = wd.shape[0]
    a_inv = np.linalg.inv(np.eye(n) - rho * wd)
    big = np.kron(np.eye(T), a_inv)
    cov_u = s2mu * np.kron(np.ones((T, T)), np.eye(n)) + s2 * np.eye(n * T)
    mean = big @ (c + x.reshape(-1, 2) @ [b1, b2])
    return float(multivariate_normal(mean, big @ cov_u @ big.T).logpdf(y.ravel()))


def test_random_effects_sar_maximises_the_exact_likelihood(setup):
    w, wd, data, y, x = setup
    fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sar", effects="random", draws=50)
    p = fit.params
    s2mu = (p["sigma2"] / p["phi"] - p["sigma2"]) / T
    ours = np.array([p["Intercept"], p["x1"], p["x2"], p["rho"], s2mu, p["sigma2"]])
    # Elhorst's (2014 §3.4) concentrated likelihood equals the dense Gaussian log density at the estimates
    assert fit.loglik == pytest.approx(exact_loglik(ours, wd, y, x), abs=1e-6)
    # and it is a maximum of the exact likelihood: no step along any parameter improves it
    for i in range(len(ours)):
        for step in (-1, 1):
            q = ours.copy()
            q[i] += step * 1e-3 * max(abs(q[i]), 0.1)
            assert exact_loglik(q, wd, y, x) < fit.loglik + 1e-7
    tests = fit.tests.set_index("test")
    assert "Hausman FE vs RE" in tests.index and tests.loc["Hausman FE vs RE", "df"] == 3  # x1, x2, rho


def test_random_effects_is_refused_where_not_implemented(setup):
    w, _, data, _, _ = setup
    with pytest.raises(SpatialPanelError, match="random effects are implemented for"):
        spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sem", effects="random")
