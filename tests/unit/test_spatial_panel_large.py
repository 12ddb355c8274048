"""The large-N spatial panel path (Chebyshev and Monte Carlo log-determinants, trace moments, Neumann solves)
against exact references: sparse LU log-determinants, dense inverses, and a 100 × 100 torus whose eigenvalues
are known in closed form, so the exact fit at N = 10,000 needs no dense eigen-decomposition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from analyses.spatial_panel import SpatialPanelError, spatial_panel
from analyses.spatial_panel import spectrum as spm
from analyses.spatial_panel.spectrum import Spectrum


def knn(n: int, k: int = 6, symmetric: bool = False, seed: int = 0) -> sp.csr_matrix:
    """Row-standardised kNN W on uniform random points (symmetric=True: the union graph, a real spectrum)."""
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    _, idx = cKDTree(pts).query(pts, k + 1)
    c = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), idx[:, 1:].ravel())), shape=(n, n))
    if symmetric:
        c = ((c + c.T) > 0).astype(float)
    return sp.csr_matrix(sp.diags(1.0 / np.asarray(c.sum(axis=1)).ravel()) @ c)


def torus(side: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rook contiguity on a side × side torus, row-standardised (= symmetric, every unit has 4 neighbours), and
    its eigenvalues (cos(2πa/side) + cos(2πb/side))/2 (a circulant in two dimensions)."""
    i, j = np.divmod(np.arange(side * side), side)
    rows = np.repeat(np.arange(side * side), 4)
    cols = np.stack([((i + 1) % side) * side + j, ((i - 1) % side) * side + j,
                     i * side + (j + 1) % side, i * side + (j - 1) % side], axis=1).ravel()
    w = sp.csr_matrix((np.full(rows.size, 0.25), (rows, cols)), shape=(side * side,) * 2)
    c = np.cos(2 * np.pi * np.arange(side) / side)
    return w, ((c[:, None] + c[None, :]) / 2).ravel()


def lu_logdet(w: sp.csr_matrix, rho: float) -> float:
    lu = splu(sp.csc_matrix(sp.identity(w.shape[0]) - rho * w), permc_spec="COLAMD")
    return float(np.sum(np.log(np.abs(lu.U.diagonal()))))


def sdm_data(w: sp.csr_matrix, t: int, rho: float = 0.4, seed: int = 1) -> pd.DataFrame:
    """A two-way fixed-effects SDM: y_t = (I − ρW)^{-1}(X_tβ + WX_tθ + μ + α_t + ε_t)."""
    n = w.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(t, n, 2))
    rhs = np.stack([x[s] @ [1.0, -0.5] + w @ x[s] @ [0.5, 0.3] + rng.normal(size=n) + rng.normal()
                    + 0.5 * rng.normal(size=n) for s in range(t)], axis=1)
    y = splu(sp.csc_matrix(sp.identity(n) - rho * w)).solve(rhs).T
    return pd.DataFrame({"unit": np.tile(np.arange(n), t), "year": np.repeat(np.arange(t), n), "y": y.ravel(),
                         "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})


@pytest.mark.parametrize(("symmetric", "method"), [(False, "mc"), (True, "mc"), (True, "chebyshev")])
def test_logdet_is_within_its_stated_bound_of_the_lu_value(symmetric, method):
    w = knn(3000, symmetric=symmetric)
    spec = Spectrum(w, method)
    assert spec.method == method and spec.probes == spm.MAX_PROBES
    for rho in (-0.6, 0.2, 0.5, 0.8, 0.95):
        exact = lu_logdet(w, rho)
        approx, bound = spec.logdet(rho), spec.logdet_error(rho)
        assert abs(approx - exact) <= bound, (rho, approx - exact, bound)
        assert bound < 0.02 * abs(exact)  # and the bound says something (at N = 3,000: 0.001–1.4%)
    # the bound is not vacuous: it excludes a log-determinant 1% off
    assert abs(1.01 * lu_logdet(w, 0.5) - spec.logdet(0.5)) > spec.logdet_error(0.5)


def test_traces_and_solves_match_dense_inverses():
    n = 800
    w = knn(n, symmetric=True)
    specs = [Spectrum(w, method) for method in ("mc", "chebyshev")]
    b = np.random.default_rng(2).normal(size=(n, 3))
    for rho in (-0.4, 0.3, 0.7):
        a = np.linalg.inv(np.eye(n) - rho * w.toarray())
        wa = w @ a
        for spec in specs:
            assert spec.tr_a(rho) == pytest.approx(np.trace(a), rel=1e-3)
            assert spec.tr_aw(rho) == pytest.approx(np.trace(wa), rel=2e-2, abs=0.5)
            assert spec.tr_aw2(rho) == pytest.approx(np.sum(wa * wa.T), rel=2e-2, abs=0.5)
            assert spec.tr_wtw(rho) == pytest.approx(np.sum(wa * wa), rel=2e-2)
            np.testing.assert_allclose(spec.resolvent_solve(rho, b), a @ b, atol=1e-9)
            np.testing.assert_allclose(spec.resolvent_solve(rho, b[:, 0], transpose=True), a.T @ b[:, 0], atol=1e-9)


def test_method_choice_and_refusals(monkeypatch):
    w_dir, w_sym = knn(600), knn(600, symmetric=True)
    assert Spectrum(w_dir).method == "lu" and Spectrum(w_sym, "exact").method == "eigen"  # N = 600: exact
    for name, value in (("EIGEN_MAX_N", 100), ("EIGEN_MAX_N_GENERAL", 100), ("LU_MAX_N", 500)):
        monkeypatch.setattr(spm, name, value)
    assert Spectrum(w_dir).method == "mc" and Spectrum(w_sym).method == "chebyshev"
    assert Spectrum(w_dir, "exact").method == "lu" and Spectrum(w_sym, "exact").method == "lu"
    with pytest.raises(SpatialPanelError, match="real spectrum"):
        Spectrum(w_dir, "chebyshev")
    with pytest.raises(SpatialPanelError, match="logdet method"):
        Spectrum(w_dir, "lanczos")


def _compare(exact, approx, tol: float) -> None:
    np.testing.assert_allclose(approx.params, exact.params, atol=tol, rtol=0)
    np.testing.assert_allclose(approx.bse, exact.bse, atol=tol, rtol=0)
    for col in ("estimate", "std_error", "std_error_delta"):
        np.testing.assert_allclose(approx.effects[col], exact.effects[col], atol=tol, rtol=0)
    assert approx.loglik == pytest.approx(exact.loglik, abs=0.5)  # N·T = 100,000 observations
    np.testing.assert_allclose(approx.tests["statistic"], exact.tests["statistic"], rtol=1e-3, atol=0.5)


@pytest.fixture(scope="module")
def torus_fits():
    w, omega = torus(100)
    data = sdm_data(w, 10)
    kw = {"model": "sdm", "effects": "twoways", "w_transform": None, "draws": 500}
    units = (w, list(range(w.shape[0])))
    exact = spatial_panel("y ~ x1 + x2", data, units, "unit", "year", logdet=Spectrum(w, eigenvalues=omega), **kw)
    return exact, {m: spatial_panel("y ~ x1 + x2", data, units, "unit", "year", logdet=m, **kw)
                   for m in ("chebyshev", "mc")}


@pytest.mark.parametrize("method", ["chebyshev", "mc"])
def test_large_n_fit_equals_the_exact_fit_at_ten_thousand_units(torus_fits, method):
    """Issue 18: estimates, SEs, effects and their SEs to 1e-4 of the exact method at N = 10,000."""
    exact, approx = torus_fits[0], torus_fits[1][method]
    assert exact.logdet_method == "eigen" and approx.logdet_method == method
    assert "error" in approx.logdet_detail and "probes" in approx.logdet_detail
    _compare(exact, approx, 1e-4)


def test_mc_fit_on_a_directed_knn_matches_sparse_lu():
    """Non-symmetric W (complex eigenvalues): Barry–Pace series and Neumann solves against LU at N = 5,000."""
    w = knn(5000)
    data = sdm_data(w, 6, rho=0.5)
    kw = {"model": "sdm", "effects": "twoways", "w_transform": None, "draws": 300}
    units = (w, list(range(5000)))
    lu = spatial_panel("y ~ x1 + x2", data, units, "unit", "year", logdet="exact", **kw)
    mc = spatial_panel("y ~ x1 + x2", data, units, "unit", "year", logdet="mc", **kw)
    assert lu.logdet_method == "lu"
    _compare(lu, mc, 2e-4)


def test_cli_takes_the_logdet_option(tmp_path):
    from geopanel.cli import app

    w, _ = torus(6)
    data = sdm_data(w, 5)
    csv, gwt = tmp_path / "panel.csv", tmp_path / "w.gwt"
    data.to_csv(csv, index=False)
    coo = w.tocoo()
    gwt.write_text(f"0 {w.shape[0]} w unit\n" + "".join(f"{i} {j} {v}\n" for i, j, v in
                                                        zip(coo.row, coo.col, coo.data, strict=True)))
    args = ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit", "--time", "year",
            "--w", str(gwt), "--draws", "50", "--no-store", "--json"]
    out = CliRunner().invoke(app, [*args, "--logdet", "mc"])
    assert out.exit_code == 0, out.output
    assert '"logdet": "mc"' in out.output and "probes" in out.output
    bad = CliRunner().invoke(app, [*args, "--logdet", "lanczos"])
    assert bad.exit_code == 1 and "logdet method" in bad.output
