"""Dynamic SDM: reduces to the static SDM, its likelihood and effects match dense evaluations written here, the
Yu–de Jong–Lee correction recovers simulated truth and removes most of the QML's bias in tau."""

from __future__ import annotations

import json

import duckdb
import libpysal
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from analyses.spatial_panel import SpatialPanelError, effects_table, spatial_panel
from analyses.spatial_panel.dynamic import fit_dynamic, stability_radius
from analyses.spatial_panel.panel import build_panel
from analyses.spatial_panel.spectrum import Spectrum, spectrum_for
from geopanel.cli import app
from warehouse.db import connection

BETA, THETA = np.array([1.0, -0.5]), np.array([0.5, 0.3])
TAU, RHO, ETA, SIGMA = 0.4, 0.3, 0.1, 0.5


def knn_w(n: int, seed: int) -> tuple[libpysal.weights.W, np.ndarray]:
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    w = libpysal.weights.KNN.from_array(pts, k=6)
    w.transform = "r"
    return w, w.full()[0]


def simulate(wd: np.ndarray, periods: int, seed: int, tau: float = TAU, rho: float = RHO, eta: float = ETA,
             burn: int = 50) -> pd.DataFrame:
    """y_t = A y_{t−1} + S^{-1}(X_tβ + WX_tθ + μ + α_t + ε_t), A = S^{-1}(τI + ηW), S = I − ρW; `periods`
    periods are kept after a burn-in from y = 0, so the first kept one is a draw from the stationary process."""
    rng = np.random.default_rng(seed)
    n = wd.shape[0]
    total = periods + burn
    mu, alpha = rng.normal(size=n), rng.normal(size=total)
    x = rng.normal(size=(total, n, 2))
    x[:, :, 0] += 0.5 * mu  # regressors correlated with the unit effects
    s_inv = np.linalg.inv(np.eye(n) - rho * wd)
    a = s_inv @ (tau * np.eye(n) + eta * wd)
    y = np.zeros((total, n))
    for s in range(total):
        shock = x[s] @ BETA + wd @ x[s] @ THETA + mu + alpha[s] + SIGMA * rng.normal(size=n)
        y[s] = (a @ y[s - 1] if s else 0.0) + s_inv @ shock
    y, x = y[burn:], x[burn:]
    return pd.DataFrame({"unit": np.tile(np.arange(n), periods), "year": np.repeat(np.arange(2000, 2000 + periods), n),
                         "y": y.ravel(), "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})


@pytest.fixture(scope="module")
def small():
    """25 units (5×5 queen lattice, row-standardised), 8 periods: small enough for dense matrices."""
    w = libpysal.weights.lat2W(5, 5, rook=False)
    w.transform = "r"
    wd = w.full()[0]
    return w, wd, simulate(wd, 8, seed=3)


def dense_design(data: pd.DataFrame, wd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-way within-transformed y_t, Wy_t and [y_{t−1}, Wy_{t−1}, x, Wx] for t ≥ 1, built with pandas + numpy."""
    wide = {v: data.pivot(index="year", columns="unit", values=v).to_numpy() for v in ("y", "x1", "x2")}
    y = wide["y"]
    wy = y @ wd.T

    def within(a: np.ndarray) -> np.ndarray:
        return (a - a.mean(axis=0) - a.mean(axis=1, keepdims=True) + a.mean()).ravel()

    cols = [y[:-1], wy[:-1], wide["x1"][1:], wide["x2"][1:], wide["x1"][1:] @ wd.T, wide["x2"][1:] @ wd.T]
    return within(y[1:]), within(wy[1:]), np.column_stack([within(c) for c in cols])


def concentrated_loglik(rho: float, y: np.ndarray, wy: np.ndarray, z: np.ndarray, wd: np.ndarray) -> float:
    """−NT/2·(log(2πσ²(ρ)) + 1) + T·log|I − ρW|, σ²(ρ) the mean squared OLS residual of y − ρWy on Z."""
    n = wd.shape[0]
    nt = len(y)
    coef, *_ = np.linalg.lstsq(z, y - rho * wy, rcond=None)
    e = y - rho * wy - z @ coef
    return -nt / 2 * (np.log(2 * np.pi * (e @ e) / nt) + 1) + nt / n * np.linalg.slogdet(np.eye(n) - rho * wd)[1]


def fit(data, w, **kw):
    kw.setdefault("draws", 200)
    kw.setdefault("effects", "twoways")
    return spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sdm", dynamic=True, **kw)


@pytest.mark.parametrize("effects", ["individual", "twoways"])
def test_without_dynamic_terms_the_estimator_is_the_static_sdm(effects):
    """(a) τ = η = 0 in the data and the dynamic terms dropped: the static SDM on periods 1..T0−1."""
    w, wd = knn_w(300, seed=2)
    data = simulate(wd, 8, seed=5, tau=0.0, eta=0.0)
    panel = build_panel("y ~ x1 + x2", data, w, "unit", "year", intercept=False)
    dyn = fit_dynamic(panel, spectrum_for(panel.w), effects, np.arange(2), correct=False, terms=())
    static = spatial_panel("y ~ x1 + x2", data[data.year > 2000], w, "unit", "year", model="sdm", effects=effects,
                           draws=10, lr_tests=False)
    np.testing.assert_allclose(np.r_[dyn.fit.beta, dyn.fit.spatial, dyn.fit.sigma2], static.params, atol=1e-7)
    np.testing.assert_allclose(dyn.fit.vcov, static.vcov, rtol=1e-6)
    assert dyn.fit.loglik == pytest.approx(static.loglik, abs=1e-7)


def test_log_likelihood_at_the_optimum_equals_a_dense_evaluation(small):
    """(b) log L and the QML coefficients from numpy's slogdet and lstsq on a within transformation done here."""
    w, wd, data = small
    y, wy, z = dense_design(data, wd)
    qml = fit(data, w, bias_correction=False)
    rho = qml.params["rho"]
    assert qml.loglik == pytest.approx(concentrated_loglik(rho, y, wy, z, wd), abs=1e-8)
    assert all(concentrated_loglik(rho + d, y, wy, z, wd) < qml.loglik for d in (-1e-3, 1e-3))  # a maximum
    coef, *_ = np.linalg.lstsq(z, y - rho * wy, rcond=None)
    np.testing.assert_allclose(qml.params.iloc[:6], coef, atol=1e-7)
    corrected = fit(data, w)
    assert corrected.loglik == pytest.approx(qml.loglik, abs=1e-9)  # log L is reported at the QML optimum
    np.testing.assert_allclose(corrected.uncorrected, qml.params, atol=1e-9)


def test_bias_correction_equals_the_dense_formula(small):
    """θ_c − θ̂ = Î^{-1} b with b (Yu, de Jong & Lee 2008 Thm 3; Lee & Yu 2010 direct approach) from dense inverses."""
    w, wd, data = small
    panel = build_panel("y ~ x1 + x2", data, w, "unit", "year", intercept=False)
    for effects in ("individual", "twoways"):
        dyn = fit_dynamic(panel, spectrum_for(panel.w), effects, np.arange(2))
        q = dyn.uncorrected
        tau, eta, rho, s2 = q.beta[0], q.beta[1], q.spatial, q.sigma2
        n, t = wd.shape[0], panel.t - 1
        eye = np.eye(n)
        j = eye - np.ones((n, n)) / n if effects == "twoways" else eye
        g = wd @ np.linalg.inv(eye - rho * wd)
        big_l = np.linalg.inv((1 - tau) * eye - (rho + eta) * wd)
        b = np.zeros(8)
        b[0], b[1] = np.trace(j @ big_l), np.trace(j @ wd @ big_l)
        b[6] = tau * np.trace(j @ g @ big_l) + eta * np.trace(j @ g @ wd @ big_l) + np.trace(j @ g)
        b[7] = np.trace(j) / (2 * s2)
        if effects == "twoways":  # the period effects' O(1/N) terms
            b[6] += t * g.sum() / n
            b[7] += t / (2 * s2)
        step = np.r_[dyn.fit.beta, dyn.fit.spatial, dyn.fit.sigma2] - np.r_[q.beta, q.spatial, q.sigma2]
        np.testing.assert_allclose(step, q.vcov @ b, rtol=1e-8, atol=1e-12)


def test_short_and_long_run_effects_equal_the_dense_matrix_formulas(small):
    """(d) short run (I − ρW)^{-1}(β_k I + θ_k W), long run ((1 − τ)I − (ρ + η)W)^{-1}(β_k I + θ_k W):
    direct = mean diagonal, total = mean row sum, indirect = total − direct (Debarsy, Ertur & LeSage 2012)."""
    w, wd, data = small
    res = fit(data, w)
    p = res.params
    eye = np.eye(wd.shape[0])
    eff = res.effects.set_index(["variable", "effect"])["estimate"]
    for horizon, inverse in (("short-run", np.linalg.inv(eye - p["rho"] * wd)),
                             ("long-run", np.linalg.inv((1 - p["tau"]) * eye - (p["rho"] + p["eta"]) * wd))):
        for var in ("x1", "x2"):
            s_k = inverse @ (p[var] * eye + p[f"W.{var}"] * wd)
            direct, total = np.trace(s_k) / len(eye), s_k.sum() / len(eye)
            assert eff[var, f"{horizon} direct"] == pytest.approx(direct, abs=1e-10)
            assert eff[var, f"{horizon} total"] == pytest.approx(total, abs=1e-10)
            assert eff[var, f"{horizon} indirect"] == pytest.approx(total - direct, abs=1e-10)
    assert (res.effects["std_error"] > 0).all() and (res.effects["draws"] > 150).all()
    assert "long-run total" in effects_table(res) and "| tau |" in res.to_table() and "| eta |" in res.to_table()


def test_bias_corrected_estimates_recover_the_truth():
    """(c) N = 400, T = 10 usable periods, two-way effects: every parameter within 3.5 SE of the truth."""
    w, wd = knn_w(400, seed=1)
    res = fit(simulate(wd, 11, seed=7), w, draws=100)
    truth = pd.Series({"tau": TAU, "eta": ETA, "x1": BETA[0], "x2": BETA[1], "W.x1": THETA[0], "W.x2": THETA[1],
                       "rho": RHO, "sigma2": SIGMA**2})
    z = (res.params[truth.index] - truth) / res.bse[truth.index]
    assert (z.abs() < 3.5).all(), z
    assert res.n_periods == 10 and res.nobs == 4000


def test_monte_carlo_bias_correction_reduces_the_bias_of_tau():
    """(c) Nickell-type bias of the within QML in τ (and σ²) is O(1/T); the correction removes most of it."""
    w, wd = knn_w(300, seed=4)
    errors = {"qml": [], "corrected": []}
    for rep in range(10):
        panel = build_panel("y ~ x1 + x2", simulate(wd, 11, seed=100 + rep), w, "unit", "year", intercept=False)
        dyn = fit_dynamic(panel, spectrum_for(panel.w), "twoways", np.arange(2))
        errors["qml"].append([dyn.uncorrected.beta[0] - TAU, dyn.uncorrected.sigma2 - SIGMA**2])
        errors["corrected"].append([dyn.fit.beta[0] - TAU, dyn.fit.sigma2 - SIGMA**2])
    qml, corrected = np.array(errors["qml"]), np.array(errors["corrected"])
    mc_se = qml[:, 0].std(ddof=1) / np.sqrt(len(qml))
    assert qml[:, 0].mean() < -4 * mc_se  # the uncorrected QML is clearly biased downwards
    assert abs(corrected[:, 0].mean()) < 0.3 * abs(qml[:, 0].mean())
    # σ²: the first-order correction leaves an O(1/T²) part (10 reps at seed 100: −0.031 → −0.009)
    assert abs(corrected[:, 1].mean()) < 0.5 * abs(qml[:, 1].mean())


def test_sparse_trace_estimates_give_the_same_correction():
    """For large N the correction's traces are Hutchinson estimates with sparse solves: close to the exact ones."""
    w, wd = knn_w(300, seed=4)
    panel = build_panel("y ~ x1 + x2", simulate(wd, 11, seed=100), w, "unit", "year", intercept=False)
    exact = fit_dynamic(panel, Spectrum(panel.w, "eigen"), "twoways", np.arange(2))
    sparse = fit_dynamic(panel, Spectrum(panel.w, "lu"), "twoways", np.arange(2))
    se = np.sqrt(np.diag(exact.fit.vcov))
    diff = np.r_[sparse.fit.beta, sparse.fit.spatial, sparse.fit.sigma2] - np.r_[exact.fit.beta, exact.fit.spatial,
                                                                                exact.fit.sigma2]
    assert (np.abs(diff) < 0.05 * se).all(), diff / se


def test_stability_radius_matches_elhorsts_inequalities(small):
    """max |eig((I − ρW)^{-1}(τI + ηW))| < 1 exactly when Elhorst's (2012) four inequalities hold."""
    _, wd, _ = small
    spec = spectrum_for(sp.csr_matrix(wd))
    om = np.linalg.eigvals(wd).real
    lo, hi = om.min(), om.max()
    rng = np.random.default_rng(0)
    for tau, rho, eta in rng.uniform(-0.9, 0.9, size=(400, 3)):
        c, d = rho + eta, rho - eta
        elhorst = (tau < 1 - c * (hi if c >= 0 else lo)) and (tau > -1 + d * (hi if d >= 0 else lo))
        if 1 / lo < rho < 1 / hi:  # 1 − ρω > 0 for every eigenvalue ω
            assert (stability_radius(spec, tau, rho, eta) < 1) == elhorst, (tau, rho, eta)


def test_non_stationary_estimates_are_refused(small):
    w, wd, _ = small
    explosive = simulate(wd, 8, seed=9, tau=0.8, rho=0.4, eta=0.0, burn=0)  # τ + ρ + η = 1.2
    with pytest.raises(SpatialPanelError, match=r"not stationary: tau = .*\(tau \+ rho \+ eta = 1\.2"):
        fit(explosive, w)


def test_bad_dynamic_specifications_are_explained(small):
    w, _, data = small
    with pytest.raises(SpatialPanelError, match="SAR or SDM with individual or twoways"):
        fit(data, w, effects="time")
    with pytest.raises(SpatialPanelError, match="instead of --lee-yu"):
        fit(data, w, lee_yu=True)
    with pytest.raises(SpatialPanelError, match="equally spaced periods"):
        fit(data[data.year != 2003], w)
    with pytest.raises(SpatialPanelError, match="applies to dynamic models"):
        spatial_panel("y ~ x1 + x2", data, w, "unit", "year", bias_correction=False)


def test_cli_fits_and_stores_a_dynamic_sdm(small, tmp_path):
    _, _, data = small
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    data.to_csv(csv, index=False)
    f = libpysal.io.open(str(gal), "w")
    f.write(libpysal.weights.lat2W(5, 5, rook=False))  # the binary lattice; the CLI row-standardises it
    f.close()
    db = tmp_path / "wh.duckdb"
    with connection(db):
        pass
    args = ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit", "--time", "year",
            "--w", str(gal), "--model", "sdm", "--dynamic", "--draws", "100", "--db", str(db)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "dynamic SDM" in out.output and "long-run indirect" in out.output
    con = duckdb.connect(str(db), read_only=True)
    spec = json.loads(con.execute("select spec_json from analysis.model_runs").fetchone()[0])
    assert spec["dynamic"] is True and spec["bias_correction"] is True
    terms = {r[0] for r in con.execute("select term from analysis.model_estimates").fetchall()}
    assert {"tau", "eta", "rho", "W.x1"} <= terms
    assert con.execute("select count(*) from analysis.model_effects").fetchone()[0] == 12  # 2 vars × 2 × 3
    con.close()
