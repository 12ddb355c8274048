"""`reg`: fits equal pyfixest / statsmodels fits written here; L./F. follow the panel index; winsorising, stepwise
columns on one sample, vce parsing, errors, and the esttab-style table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

from analyses.reg import RegError, reg, stepwise
from analyses.reg.prepare import parse_vce
from analyses.reg.tables import reg_grid, reg_table, stars_agree


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """30 cities in 6 provinces × 8 years, with a gap (city c07 has no 2014 row)."""
    rng = np.random.default_rng(7)
    rows = []
    for c in range(30):
        alpha = rng.normal()
        for year in range(2010, 2018):
            if c == 7 and year == 2014:
                continue
            x1, x2 = rng.normal(size=2)
            rows.append({"city": f"c{c:02d}", "province": f"p{c % 6}", "year": year, "x1": x1, "x2": x2,
                         "pop": rng.lognormal(), "y": alpha + 0.5 * x1 - 0.3 * x2 + rng.normal()})
    return pd.DataFrame(rows)


def test_fixed_effects_and_cluster_equal_pyfixest(panel):
    fit = reg(panel, "y ~ x1 + x2 | city + province^year", vce="cluster:city")
    ref = pf.feols("y ~ x1 + x2 | city + province^year", data=panel, vcov={"CRV1": "city"})  # pyfixest directly
    np.testing.assert_allclose(fit.coef.to_numpy(), ref.coef().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(fit.se.to_numpy(), ref.se().to_numpy(), rtol=1e-12)
    assert fit.nobs == len(panel) and fit.fixef == ["city", "province^year"] and fit.n_clusters == {"city": 30}


def test_one_way_fe_hetero_equals_statsmodels_dummies(panel):
    fit = reg(panel, "y ~ x1 + x2 | city", vce="hetero")
    ols = smf.ols("y ~ x1 + x2 + C(city)", data=panel).fit(cov_type="HC1")  # LSDV with HC1
    np.testing.assert_allclose(fit.coef[["x1", "x2"]], ols.params[["x1", "x2"]], rtol=1e-10)
    np.testing.assert_allclose(fit.se[["x1", "x2"]], ols.bse[["x1", "x2"]], rtol=1e-10)
    assert fit.r2 == pytest.approx(ols.rsquared, rel=1e-10)


def test_twoway_clustering_equals_pyfixest(panel):
    fit = reg(panel, "y ~ x1 | city", vce="twoway:city,year")
    ref = pf.feols("y ~ x1 | city", data=panel, vcov={"CRV1": "city+year"})
    assert fit.se["x1"] == pytest.approx(float(ref.se()["x1"]), rel=1e-12)


def test_lags_and_leads_follow_the_panel_index_not_row_order(panel):
    shuffled = panel.sample(frac=1, random_state=1)
    fit = reg(shuffled, "y ~ L.x1 + F.x2 + L2.x1", unit="city", time="year")
    # the lag by hand: x1 of the same city one year earlier (missing after the c07 gap, not the 2013 value)
    keyed = panel.set_index(["city", "year"])
    manual = panel.assign(
        L_x1=[keyed["x1"].get((c, t - 1), np.nan) for c, t in zip(panel["city"], panel["year"], strict=True)],
        F_x2=[keyed["x2"].get((c, t + 1), np.nan) for c, t in zip(panel["city"], panel["year"], strict=True)],
        L2_x1=[keyed["x1"].get((c, t - 2), np.nan) for c, t in zip(panel["city"], panel["year"], strict=True)])
    ols = smf.ols("y ~ L_x1 + F_x2 + L2_x1", data=manual).fit()
    np.testing.assert_allclose(fit.coef[["L.x1", "F.x2", "L2.x1"]], ols.params[["L_x1", "F_x2", "L2_x1"]],
                               rtol=1e-10)
    assert fit.nobs == int(ols.nobs)
    c07 = manual[(manual["city"] == "c07") & (manual["year"] == 2015)]
    assert c07["L_x1"].isna().all()  # the gap year leaves the lag missing


def test_lag_without_panel_index_is_refused(panel):
    with pytest.raises(RegError, match="--unit, --time"):
        reg(panel.drop(columns=["year"]), "y ~ L.x1", unit="city")


def test_winsor_pooled_and_by_year_equal_clipping_by_hand(panel):
    data = panel.copy()
    data.loc[0, "y"] = 50.0  # an outlier
    fit = reg(data, "y ~ x1", winsor=0.05)
    clipped = data.copy()
    for c in ("y", "x1"):
        lo, hi = data[c].quantile([0.05, 0.95])
        clipped[c] = data[c].clip(lo, hi)
    ref = smf.ols("y ~ x1", data=clipped).fit()
    assert fit.coef["x1"] == pytest.approx(ref.params["x1"], rel=1e-10)
    fit_by = reg(data, "y ~ x1", winsor=0.05, winsor_by_year=True, unit="city", time="year")
    by = data.copy()
    for c in ("y", "x1"):
        g = data.groupby("year")[c]
        by[c] = data[c].clip(g.transform(lambda s: s.quantile(0.05)), g.transform(lambda s: s.quantile(0.95)))
    assert fit_by.coef["x1"] == pytest.approx(smf.ols("y ~ x1", data=by).fit().params["x1"], rel=1e-10)


def test_stepwise_adds_blocks_on_one_sample(panel):
    data = panel.copy()
    data.loc[data.index[:5], "pop"] = np.nan  # the full model's sample is used in every column
    fits = stepwise(data, "y ~ x1 + x2 + pop | city", blocks=["x2", "pop"], vce="cluster:city")
    assert [f.formula for f in fits] == ["y ~ x1 | city", "y ~ x1 + x2 | city", "y ~ x1 + x2 + pop | city"]
    sample = data.dropna()
    for f, text in zip(fits, ["y ~ x1 | city", "y ~ x1 + x2 | city", "y ~ x1 + x2 + pop | city"], strict=True):
        ref = pf.feols(text, data=sample, vcov={"CRV1": "city"})
        np.testing.assert_allclose(f.coef.to_numpy(), ref.coef().to_numpy(), rtol=1e-12)
        assert f.nobs == len(sample)
    default = stepwise(data, "y ~ x1 + x2 + pop")
    assert len(default) == 3 and default[1].formula == "y ~ x1 + x2"


def test_vce_strings():
    assert parse_vce("iid") == "iid" and parse_vce("robust") == "hetero"
    assert parse_vce("cluster:city") == {"CRV1": "city"}
    assert parse_vce("twoway:city,year") == {"CRV1": "city+year"}
    with pytest.raises(RegError, match="cluster:COL"):
        parse_vce("cluster")


def test_unknown_column_names_the_nearest(panel):
    with pytest.raises(RegError, match="no column 'x3'.*nearest: 'x[12]'"):
        reg(panel, "y ~ x3")


def test_reads_a_file_through_the_data_contract(panel, tmp_path):
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    from_file = reg(str(path), "y ~ x1 + x2 | city", vce="cluster:city", unit="city")
    from_frame = reg(panel, "y ~ x1 + x2 | city", vce="cluster:city")
    np.testing.assert_allclose(from_file.coef, from_frame.coef, rtol=1e-12)
    assert from_file.quality == "not-checked"


def test_paper_table_has_stars_fe_rows_and_stats(panel):
    fits = [reg(panel, "y ~ x1", vce="hetero"), reg(panel, "y ~ x1 + x2 | city + year", vce="cluster:city")]
    grid = reg_grid(fits)
    assert list(grid.columns) == ["(1)", "(2)"]
    assert grid.loc["x1", "(2)"].endswith("***") and grid.loc["x1 ", "(2)"].startswith("(")
    assert grid.loc["FE: city"].tolist() == ["No", "Yes"] and grid.loc["N", "(1)"] == f"{len(panel):,}"
    assert "Intercept" not in grid.index and grid.loc["x2", "(1)"] == ""
    tex = reg_table(fits, fmt="latex", stat="t")
    assert r"\toprule" in tex and "t statistics in parentheses" in tex
    assert "<table>" in reg_table(fits, fmt="html")
    assert stars_agree(fits) == [] or all("|t|" in p for p in stars_agree(fits))


def test_json_has_every_estimate(panel):
    out = reg(panel, "y ~ x1 + x2 | city", vce="cluster:city").as_dict()
    assert [e["term"] for e in out["estimates"]] == ["x1", "x2"]
    assert {"coef", "se", "t", "p", "ci_low", "ci_high"} <= set(out["estimates"][0])
    assert out["r2_within"] is not None and out["fixed_effects"] == ["city"]


def test_table_to_xlsx_by_suffix(panel, tmp_path):
    from analyses.reg.tables import write_table

    fits = [reg(panel, "y ~ x1"), reg(panel, "y ~ x1 + x2 | city", vce="cluster:city")]
    write_table(fits, tmp_path / "t.xlsx")
    sheet = pd.read_excel(tmp_path / "t.xlsx", sheet_name="table", index_col=0, dtype=str)
    assert list(sheet.columns) == ["(1)", "(2)"] and sheet.loc["x1", "(2)"] == reg_grid(fits).loc["x1", "(2)"]
    assert sheet.iloc[-1, 0].startswith("Standard errors in parentheses")
    write_table(fits, tmp_path / "t.tex")
    assert (tmp_path / "t.tex").read_text(encoding="utf-8").startswith(r"\begin{tabular}")
