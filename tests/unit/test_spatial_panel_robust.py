"""Robust and cluster-robust (sandwich) variances: analytic scores, the sandwich, OLS references, a Monte Carlo."""

from __future__ import annotations

import duckdb
import libpysal
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.spatial_panel import SpatialPanelError, spatial_panel
from geopanel.cli import app
from warehouse.db import connection

SIDE, T = 6, 5


def lattice(side: int) -> tuple[libpysal.weights.W, np.ndarray]:
    w = libpysal.weights.lat2W(side, side)
    w.transform = "r"
    return w, w.full()[0]


def simulate(wd: np.ndarray, t: int, seed: int, rho: float = 0.4) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """SAR panel with unit effects and heteroskedastic errors: sd = 0.2 + 0.8|x1|."""
    n = wd.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n, 2))
    mu = rng.normal(size=n)
    eps = (0.2 + 0.8 * np.abs(x[:, :, 0])) * rng.normal(size=(t, n))
    a_inv = np.linalg.inv(np.eye(n) - rho * wd)
    y = np.stack([a_inv @ (x[s] @ [1.0, -0.5] + mu + eps[s]) for s in range(t)])
    data = pd.DataFrame({"unit": np.tile(np.arange(n), t), "year": np.repeat(np.arange(t), n), "y": y.ravel(),
                         "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})
    return data, y, x


def demean(a: np.ndarray, effects: str) -> np.ndarray:
    """Plain within transformation of a (T, N, ...) array."""
    if effects == "individual":
        return a - a.mean(axis=0)
    if effects == "time":
        return a - a.mean(axis=1, keepdims=True)
    return a - a.mean(axis=0) - a.mean(axis=1, keepdims=True) + a.mean(axis=(0, 1))


def row_loglik(p: pd.Series, model: str, effects: str, lee_yu: bool, y: np.ndarray, x: np.ndarray,
               wd: np.ndarray) -> np.ndarray:
    """Per-row log-likelihood, written out densely: Gaussian term of each row plus an equal share 1/NT of the
    log-determinant (and, for random effects, of N/2·log φ) terms; Elhorst 2014 ch. 3, Lee & Yu 2010."""
    t, n = y.shape
    nt = n * t
    ld = {r: np.linalg.slogdet(np.eye(n) - p[r] * wd)[1] for r in ("rho", "lambda") if r in p}
    lag = np.einsum("ij,tj...->ti...", wd, np.concatenate([y[:, :, None], x], axis=2))
    wy, wx = lag[:, :, 0], lag[:, :, 1:]
    xs = np.concatenate([x, wx], axis=2) if model == "sdm" else x
    if effects == "random":
        xs = np.concatenate([np.ones((t, n, 1)), xs], axis=2)
        z = np.concatenate([y[:, :, None], wy[:, :, None], xs], axis=2)
        z = z - (1 - np.sqrt(p["phi"])) * z.mean(axis=0)
        e = z[:, :, 0] - p["rho"] * z[:, :, 1] - z[:, :, 2:] @ p.iloc[:xs.shape[2]].to_numpy()
        const = n / 2 * np.log(p["phi"]) + t * ld["rho"]
        n_eff = nt
    else:
        beta = p.iloc[:xs.shape[2]].to_numpy()
        yd, wyd, xd, wxd = (demean(a, effects) for a in (y, wy, xs, wx))
        wwy = demean(np.einsum("ij,tj->ti", wd, wy), effects)
        if model in ("sar", "sdm"):
            e = yd - p["rho"] * wyd - xd @ beta
        elif model == "sem":
            e = (yd - p["lambda"] * wyd) - (xd - p["lambda"] * wxd) @ beta
        else:  # sac
            e = (yd - p["lambda"] * wyd) - p["rho"] * (wyd - p["lambda"] * wwy) - (xd - p["lambda"] * wxd) @ beta
        # direct approach: log-determinants counted T times, n = NT; Lee–Yu (2010) transformation approach:
        # individual T − 1 times, n = N(T−1); time T times, n = (N−1)T, minus log(1 − ρ); two-way T − 1 times,
        # n = (N−1)(T−1), minus log(1 − ρ) (row-standardised W)
        lee_yu_conventions = {"individual": (t - 1, n * (t - 1), 0), "time": (t, (n - 1) * t, 1),
                              "twoways": (t - 1, (n - 1) * (t - 1), 1)}
        a, n_eff, s = lee_yu_conventions[effects] if lee_yu else (t, nt, 0)
        const = sum(a * (v - s * np.log(1 - p[r])) for r, v in ld.items())
    s2 = p["sigma2"]
    return (-n_eff / nt / 2 * np.log(2 * np.pi * s2) + const / nt - e.ravel() ** 2 / (2 * s2))


def numerical_scores(p: pd.Series, fun) -> np.ndarray:
    h = 1e-6 * np.maximum(np.abs(p.to_numpy()), 1e-2)
    cols = []
    for i in range(len(p)):
        up, down = p.copy(), p.copy()
        up.iloc[i] += h[i]
        down.iloc[i] -= h[i]
        cols.append((fun(up) - fun(down)) / (2 * h[i]))
    return np.column_stack(cols)


def numerical_hessian(p: pd.Series, fun) -> np.ndarray:
    k = len(p)
    h = 1e-4 * np.maximum(np.abs(p.to_numpy()), 1e-2)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            def f(a: float, b: float, i: int = i, j: int = j) -> float:
                q = p.copy()
                q.iloc[i] += a
                q.iloc[j] += b
                return float(fun(q).sum())
            out[i, j] = (f(h[i], h[j]) - f(h[i], -h[j]) - f(-h[i], h[j]) + f(-h[i], -h[j])) / (4 * h[i] * h[j])
    return out


CASES = [("sdm", "twoways", False), ("sar", "twoways", True), ("sdm", "individual", True), ("sem", "time", True),
         ("sem", "individual", False), ("sac", "individual", False), ("sar", "random", False),
         ("sdm", "random", False)]


@pytest.fixture(scope="module")
def small():
    w, wd = lattice(SIDE)
    data, y, x = simulate(wd, T, seed=3)
    return w, wd, data, y, x


@pytest.mark.parametrize(("model", "effects", "lee_yu"), CASES)
@pytest.mark.parametrize("vce", ["robust", "cluster"])
def test_scores_and_sandwich_equal_a_numerical_computation(small, model, effects, lee_yu, vce):
    w, wd, data, y, x = small
    fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model=model, effects=effects, lee_yu=lee_yu,
                        vce=vce, draws=20, lr_tests=False)

    def fun(q: pd.Series) -> np.ndarray:
        return row_loglik(q, model, effects, lee_yu, y, x, wd)

    g = fit.scores
    scale = np.sqrt((g**2).sum(axis=0))
    # (a) the analytic scores sum to ~0 at the optimum and equal central differences of each row's log L
    assert np.all(np.abs(g.sum(axis=0)) < 1e-5 * scale), g.sum(axis=0) / scale
    num = numerical_scores(fit.params, fun)
    np.testing.assert_allclose(g, num, rtol=0, atol=1e-6 * np.abs(num).max())
    # (b) the sandwich from numerical scores and a numerical Hessian equals the reported variance
    if vce == "cluster":
        meat_rows = num.reshape(T, -1, num.shape[1]).sum(axis=0)
        factor = meat_rows.shape[0] / (meat_rows.shape[0] - 1)
    else:
        meat_rows, factor = num, len(num) / (len(num) - 1)
    bread = np.linalg.inv(-numerical_hessian(fit.params, fun))
    expected = bread @ (factor * meat_rows.T @ meat_rows) @ bread
    np.testing.assert_allclose(fit.vcov.to_numpy(), expected, rtol=2e-3, atol=1e-9)
    assert fit.vce == vce and fit.vcov_method.startswith("robust" if vce == "robust" else "cluster")


def test_slx_sandwich_equals_statsmodels_up_to_the_small_sample_factor(small):
    """Pooled SLX by ML: cluster = statsmodels CR1 × (n − k)/(n − 1), robust = HC0 × n/(n − 1)."""
    import statsmodels.api as sm

    w, wd, data, y, x = small
    n = len(data)
    wx = np.einsum("ij,tjk->tik", wd, x).reshape(-1, 2)
    design = np.column_stack([np.ones(n), x.reshape(-1, 2), wx])
    k = design.shape[1]
    ols = sm.OLS(y.ravel(), design)
    units = np.tile(np.arange(wd.shape[0]), T)
    cr1 = ols.fit(cov_type="cluster", cov_kwds={"groups": units}).cov_params()  # G/(G−1)·(n−1)/(n−k)
    hc0 = ols.fit(cov_type="HC0").cov_params()
    terms = ["Intercept", "x1", "x2", "W.x1", "W.x2"]
    ours = {vce: spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="slx", effects="pooled", vce=vce,
                               draws=20).vcov.loc[terms, terms].to_numpy() for vce in ("cluster", "robust")}
    np.testing.assert_allclose(ours["cluster"] * (n - 1) / (n - k), cr1, rtol=1e-8)
    np.testing.assert_allclose(ours["robust"], hc0 * n / (n - 1), rtol=1e-8)


def test_within_cluster_variance_equals_pyfixest_crv1(small):
    """Individual fixed effects, no spatial term: pyfixest CRV1 by unit with only the G/(G − 1) factor
    (ssc k_adj=False) equals ours."""
    import pyfixest as pf

    w, _, data, _, _ = small
    ref = pf.feols("y ~ x1 + x2 | unit", data=data, vcov={"CRV1": "unit"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    ours = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="ols", effects="individual", vce="cluster",
                         draws=20)
    np.testing.assert_allclose(ours.params[["x1", "x2"]], ref.coef()[["x1", "x2"]], rtol=1e-10)
    np.testing.assert_allclose(ours.vcov.loc[["x1", "x2"], ["x1", "x2"]].to_numpy(), ref._vcov, rtol=1e-8)


def test_robust_errors_track_the_sampling_spread_under_heteroskedasticity():
    """150 replications of a SAR with unit fixed effects and error sd 0.2 + 0.8|x1| (N = 49, T = 8): the robust
    and cluster-robust SEs of β̂₁ are closer to its Monte Carlo SD than the information-matrix SE, which is
    too small (measured: SD 0.085, OIM 0.049, robust 0.073, cluster 0.079)."""
    w, wd = lattice(7)
    b1, se = [], {"oim": [], "robust": [], "cluster": []}
    for rep in range(150):
        data, _, _ = simulate(wd, 8, seed=1000 + rep)
        for vce in se:
            fit = spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sar", effects="individual", vce=vce,
                                draws=20, lr_tests=False)
            se[vce].append(fit.bse["x1"])
        b1.append(fit.params["x1"])
    sd = np.std(b1, ddof=1)
    mean = {vce: np.mean(v) for vce, v in se.items()}
    assert abs(mean["robust"] - sd) < abs(mean["oim"] - sd), (mean, sd)
    assert abs(mean["cluster"] - sd) < abs(mean["oim"] - sd), (mean, sd)
    assert abs(mean["cluster"] / sd - 1) < 0.15, (mean, sd)
    assert mean["oim"] / sd < 0.8, (mean, sd)


def test_robust_variance_is_refused_for_random_effects_sem(small):
    w, _, data, _, _ = small
    with pytest.raises(SpatialPanelError, match="not available for random-effects SEM"):
        spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sem", effects="random", vce="robust")
    with pytest.raises(SpatialPanelError, match="vce 'hc1'"):
        spatial_panel("y ~ x1 + x2", data, w, "unit", "year", model="sar", vce="hc1")


def test_cli_vce_is_stored_and_noted_in_the_tables(small, tmp_path):
    w, _, data, _, _ = small
    db = tmp_path / "wh.duckdb"
    with connection(db):
        pass
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    data.to_csv(csv, index=False)
    f = libpysal.io.open(str(gal), "w")
    f.write(w)
    f.close()
    out = CliRunner().invoke(app, ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit",
                                   "--time", "year", "--w", str(gal), "--model", "sar", "--effects", "individual",
                                   "--vce", "cluster", "--draws", "50", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "Standard errors cluster-robust (by unit)." in out.output
    con = duckdb.connect(str(db), read_only=True)
    method, spec = con.execute("select vcov_method, spec_json from analysis.model_runs").fetchone()
    con.close()
    assert method.startswith("cluster by unit") and '"vce": "cluster"' in spec
