"""Mechanisms for any regressor: moderation and the mediation steps equal statsmodels dummy-variable fits written
here; one bootstrap draw equals pyfixest on the same cluster resample; split-sample tests equal a hand Chow F and the
interacted model; Jiang Ting's two steps stop at m on x."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

from analyses.reg.mechanisms import _cluster_bootstrap, mediation, moderation, sobel, split_sample


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """x → m (0.8) → y (0.5), direct effect 0.3; unit effects correlated with x; 60 units × 6 years."""
    rng = np.random.default_rng(2)
    rows = []
    for i in range(60):
        ui, um = rng.normal(size=2)
        for t in range(6):
            x = rng.normal() + 0.3 * ui
            h = rng.normal() + (i % 3)
            m = um + 0.8 * x + rng.normal(scale=0.3)
            y = ui + 0.5 * m + 0.3 * x + 0.2 * x * (h - 1) + rng.normal(scale=0.3)
            rows.append((f"u{i:02d}", 2000 + t, x, h, m, y, i % 2))
    return pd.DataFrame(rows, columns=["unit", "year", "x", "h", "m", "y", "g"])


def test_moderation_equals_statsmodels_dummies(panel):
    fit = moderation(panel, "y", "x", "h", fe=["unit", "year"], vce="cluster:unit")
    frame = panel.assign(hc=panel["h"] - panel["h"].mean())
    ols = smf.ols("y ~ x + x:hc + h + C(unit) + C(year)", data=frame).fit()
    assert fit.coef["x"] == pytest.approx(ols.params["x"], rel=1e-8)
    assert fit.coef["x_x_h"] == pytest.approx(ols.params["x:hc"], rel=1e-8)
    assert abs(fit.coef["x_x_h"] - 0.2) < 3 * fit.se["x_x_h"]
    constant = moderation(panel.assign(k=panel["unit"].str[-1].astype(int)), "y", "x", "k", fe=["unit"])
    assert "k" not in constant.coef.index and "x_x_k" in constant.coef.index  # absorbed by the unit effects


def test_three_step_mediation_equals_the_regressions_and_sobel(panel):
    med = mediation(panel, "y", "x", "m", fe=["unit", "year"], vce="cluster:unit", reps=50, seed=3)
    a = pf.feols("m ~ x | unit + year", data=panel, vcov={"CRV1": "unit"})
    b = pf.feols("y ~ x + m | unit + year", data=panel, vcov={"CRV1": "unit"})
    assert med.a == pytest.approx(a.coef()["x"], rel=1e-12) and med.b == pytest.approx(b.coef()["m"], rel=1e-12)
    assert med.direct == pytest.approx(b.coef()["x"], rel=1e-12)
    z = a.coef()["x"] * b.coef()["m"] / math.sqrt(b.coef()["m"] ** 2 * a.se()["x"] ** 2
                                                  + a.coef()["x"] ** 2 * b.se()["m"] ** 2)
    assert med.sobel_z == pytest.approx(z, rel=1e-10) and sobel(1.0, 0.5, 2.0, 1.0)[0] == pytest.approx(math.sqrt(2))
    assert med.boot_ci[0] < 0.4 < med.boot_ci[1]  # the true a·b
    assert list(med.table()["step"])[-1] == "indirect a·b"


def test_one_cluster_bootstrap_draw_equals_pyfixest_on_the_resample(panel):
    draw = _cluster_bootstrap(panel, "y", "x", "m", [], ["unit", "year"], "unit", reps=1, seed=9)[0]
    units = pd.factorize(panel["unit"])[1]
    pick = np.random.default_rng(9).integers(0, len(units), size=len(units))  # the same draw
    resample = pd.concat([panel[panel["unit"] == units[p]].assign(unit=f"copy{k}") for k, p in enumerate(pick)])
    a = pf.feols("m ~ x | unit + year", data=resample).coef()["x"]
    b = pf.feols("y ~ x + m | unit + year", data=resample).coef()["m"]
    assert draw == pytest.approx(a * b, rel=1e-6)  # pyfixest's demeaning tolerance


def test_jiang_ting_two_step_stops_at_m_on_x(panel):
    med = mediation(panel, "y", "x", "m", fe=["unit"], steps=2)
    assert med.outcome is None and math.isnan(med.indirect) and list(med.table()["step"]) == ["(1) y on x",
                                                                                               "(2) m on x"]


def test_split_sample_tests(panel):
    data = panel.assign(y=panel["y"] + 0.5 * panel["x"] * panel["g"])  # x's effect 0.5 larger when g = 1
    res = split_sample(data, "y", "x", "g", fe=["unit"], vce="cluster:unit", reps=20, seed=1)
    assert res.difference == pytest.approx(0.5, abs=0.15) and res.permutation_p < 0.1
    # Chow by hand: slopes by group (separate unit effects nest the group), restricted = common slope
    u = smf.ols("y ~ C(unit) + x:C(g)", data=data).fit()
    r = smf.ols("y ~ C(unit) + x", data=data).fit()
    f = (r.ssr - u.ssr) / 1 / (u.ssr / u.df_resid)
    assert res.chow_f == pytest.approx(f, rel=1e-8) and res.chow_df == (1, int(u.df_resid))
    # the stacked coefficient is the difference of the split fits
    assert res.stacked_z * 0 == 0 and res.effects["coef"].diff().iloc[1] == pytest.approx(res.difference)
    same = split_sample(panel, "y", "x", "g", fe=["unit"], reps=0)
    assert same.chow_p > 0.01 and math.isnan(same.permutation_p)
