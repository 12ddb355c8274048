"""Random-effects lag and error models: the concentrated estimators maximise the exact Gaussian likelihood."""

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
        spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sac", effects="random")


def sem_panel(wd: np.ndarray, t: int, lam: float, s2mu: float, s2: float, seed: int) -> tuple[pd.DataFrame, np.ndarray,
                                                                                                np.ndarray]:
    """y_t = 1 + X_t(1, −0.5) + μ + (I − λW)^{-1}ε_t: random effects with a spatial error (xsmle `sem, re`)."""
    n = wd.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n, 2))
    mu = np.sqrt(s2mu) * rng.normal(size=n)
    b_inv = np.linalg.inv(np.eye(n) - lam * wd)
    y = np.stack([1.0 + x[s] @ [1.0, -0.5] + mu + b_inv @ (np.sqrt(s2) * rng.normal(size=n)) for s in range(t)])
    data = pd.DataFrame({"unit": np.tile(np.arange(n), t), "year": np.repeat(np.arange(t), n), "y": y.ravel(),
                         "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})
    return data, y, x


def sem_exact_loglik(params: np.ndarray, wd: np.ndarray, y: np.ndarray, x: np.ndarray) -> float:
    """log density of vec(y) ~ N(c + Xβ, σ_μ²(J_T ⊗ I) + σ²(I_T ⊗ B^{-1}B^{-1}')), dense, parameterised by φ."""
    c, b1, b2, lam, phi, s2 = params
    t, n = y.shape
    s2mu = (s2 / phi - s2) / t
    b_inv = np.linalg.inv(np.eye(n) - lam * wd)
    cov = s2mu * np.kron(np.ones((t, t)), np.eye(n)) + s2 * np.kron(np.eye(t), b_inv @ b_inv.T)
    return float(multivariate_normal(c + x.reshape(-1, 2) @ [b1, b2], cov).logpdf(y.ravel()))


@pytest.fixture(scope="module")
def sem_setup(setup):
    w, wd = setup[0], setup[1]
    data, y, x = sem_panel(wd, T, lam=0.4, s2mu=0.5, s2=0.25, seed=8)
    return w, wd, data, y, x


def test_random_effects_sem_maximises_the_exact_likelihood(sem_setup):
    w, wd, data, y, x = sem_setup
    fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sem", effects="random", draws=50)
    ours = fit.params[["Intercept", "x1", "x2", "lambda", "phi", "sigma2"]].to_numpy()
    assert fit.loglik == pytest.approx(sem_exact_loglik(ours, wd, y, x), abs=1e-6)
    for i in range(len(ours)):
        for step in (-1, 1):
            q = ours.copy()
            q[i] += step * 1e-3 * max(abs(q[i]), 0.1)
            assert sem_exact_loglik(q, wd, y, x) < fit.loglik + 1e-7
    tests = fit.tests.set_index("test")
    assert tests.loc["Hausman FE vs RE", "df"] == 3  # x1, x2, lambda against the individual-effects SEM


def test_random_effects_sem_at_lambda_zero_is_the_random_intercept_model(sem_setup):
    """At λ = 0 the likelihood is the plain random-intercept one: statsmodels MixedLM (ML, not REML)."""
    import statsmodels.formula.api as smf

    from analyses.spatial_panel.estimate import loglik_error_random
    from analyses.spatial_panel.spectrum import Spectrum

    w, wd, data, y, x = sem_setup
    mlm = smf.mixedlm("y ~ x1 + x2", data, groups=data["unit"]).fit(reml=False)
    s2, s2mu = float(mlm.scale), float(mlm.cov_re.iloc[0, 0])
    phi = s2 / (T * s2mu + s2)
    spec = Spectrum(w.sparse)
    ones = np.ones((T, wd.shape[0], 1))
    xc = np.concatenate([ones, x], axis=2)
    wxc = np.einsum("ij,tjk->tik", wd, xc)
    wy = y @ wd.T

    def ll(p: np.ndarray) -> float:  # (β, φ, σ²) with λ = 0
        return loglik_error_random(np.r_[p[:3], 0.0, p[3:]], y, wy, xc, wxc, spec)

    point = np.r_[mlm.fe_params.to_numpy(), phi, s2]
    assert ll(point) == pytest.approx(mlm.llf, abs=1e-8)
    # MixedLM's estimates are the maximum of the λ = 0 likelihood: its gradient vanishes there (to MixedLM's
    # convergence tolerance)
    h = 1e-5 * np.maximum(np.abs(point), 1e-2)
    grad = [(ll(point + np.eye(5)[i] * h[i]) - ll(point - np.eye(5)[i] * h[i])) / (2 * h[i]) for i in range(5)]
    np.testing.assert_allclose(np.array(grad) * np.abs(point), 0.0, atol=1e-3)


def test_random_effects_sem_recovers_the_truth():
    """N = 300, T = 10, λ = 0.4: β, λ, σ², σ_μ² within 3.5 standard errors of the truth."""
    w = libpysal.weights.lat2W(20, 15, rook=True)
    w.transform = "r"
    t, s2mu, s2 = 10, 0.5, 0.25
    data, _, _ = sem_panel(w.full()[0], t, lam=0.4, s2mu=s2mu, s2=s2, seed=21)
    fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sem", effects="random", draws=50,
                        lr_tests=False)
    truth = pd.Series({"Intercept": 1.0, "x1": 1.0, "x2": -0.5, "lambda": 0.4, "sigma2": s2,
                       "phi": s2 / (t * s2mu + s2)})
    z = (fit.params[truth.index] - truth) / fit.bse[truth.index]
    assert (z.abs() < 3.5).all(), z
    # σ_μ² = σ²(1/φ − 1)/T, standard error by the delta method
    phi, sig = fit.params["phi"], fit.params["sigma2"]
    grad = np.array([-sig / phi**2 / t, (1 / phi - 1) / t])
    v = fit.vcov.loc[["phi", "sigma2"], ["phi", "sigma2"]].to_numpy()
    assert abs(sig * (1 / phi - 1) / t - s2mu) < 3.5 * np.sqrt(grad @ v @ grad)
