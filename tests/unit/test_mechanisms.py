"""Mediation and split-sample tests on panels simulated with known paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analyses.did import DIDError
from analyses.did.mechanisms import _bootstrap_indirect, mediation, split_sample


def mediated_panel(seed: int = 2, n: int = 150, years: int = 8, a: float = 0.8, b: float = 0.5,
                   direct: float = 0.3) -> pd.DataFrame:
    """treat → m (a) → y (b), plus a direct effect; unit and year effects on both."""
    rng = np.random.default_rng(seed)
    start = rng.choice([3, 5, 99], size=n)
    rows = []
    for i in range(n):
        ui, um = rng.normal(size=2)
        for t in range(years):
            d = int(t >= start[i])
            m = um + 0.1 * t + a * d + rng.normal(scale=0.3)
            y = ui + 0.2 * t + b * m + direct * d + rng.normal(scale=0.3)
            rows.append((i, 2000 + t, d, m, y, i % 2 == 0))
    return pd.DataFrame(rows, columns=["unit", "year", "treated", "m", "y", "even"])


def test_mediation_recovers_the_paths_and_the_bootstrap_matches_the_regressions():
    data = mediated_panel()
    result = mediation(data, "y", "m", reps=300)
    assert result.a.coef == pytest.approx(0.8, abs=0.08)
    assert result.b == pytest.approx(0.5, abs=0.08)
    assert result.direct == pytest.approx(0.3, abs=0.08)
    assert result.boot_ci[0] < 0.4 < result.boot_ci[1]  # true a·b
    assert result.sobel_p < 0.001


def test_one_bootstrap_draw_equals_pyfixest_on_the_same_resample():
    data = mediated_panel(n=40)
    draw = _bootstrap_indirect(data, "y", "m", "treated", "unit", "year", reps=1, seed=9)[0]
    units = np.sort(data["unit"].unique())
    pick = np.random.default_rng(9).integers(0, len(units), size=len(units))  # the same draw
    resample = pd.concat([data[data["unit"] == units[p]].assign(unit=k) for k, p in enumerate(pick)])
    a = pf.feols("m ~ treated | unit + year", data=resample).coef()["treated"]
    b = pf.feols("y ~ treated + m | unit + year", data=resample).coef()["m"]
    assert draw == pytest.approx(a * b, rel=1e-9)


def test_split_sample_permutation_test():
    same = mediated_panel(seed=4)
    result = split_sample(same, "y", "even", reps=200)
    assert result.p_value > 0.05  # same effect in both halves
    different = same.assign(y=same["y"] + np.where(same["even"], 1.0, 0.0) * same["treated"])
    result = split_sample(different, "y", "even", reps=200)
    assert result.difference == pytest.approx(1.0, abs=0.15) and result.p_value < 0.01
    with pytest.raises(DIDError, match="does not split the units"):
        split_sample(same.assign(even=True), "y", "even")


def test_permutations_that_leave_a_group_untreated_are_not_counted():
    data = mediated_panel(seed=4)
    treated_units = data.loc[data["treated"] == 1, "unit"].unique()
    few = data.assign(treated=data["treated"] * data["unit"].isin(treated_units[:2]))  # two treated units
    few["flag"] = few["unit"].isin((set(range(30)) - {treated_units[1]}) | {treated_units[0]})  # one treated each
    result = split_sample(few, "y", "flag", reps=300)
    assert 0 < result.valid < 300 and 0 <= result.p_value <= 1  # draws with both treated in one group dropped
    with pytest.raises(DIDError, match="one group of 'flag' has no treated unit"):
        split_sample(few.assign(flag=few["unit"].isin(range(10)) & ~few["unit"].isin(treated_units[:2])), "y",
                     "flag")


def test_moderation_equals_dummy_ols_and_recovers_the_slope():
    import statsmodels.formula.api as smf

    from analyses.did.mechanisms import moderation

    rng = np.random.default_rng(5)
    data = mediated_panel()
    data["h"] = rng.normal(size=len(data)) + data["unit"] % 3  # a time-varying moderator
    data["y"] += 0.4 * data["treated"] * (data["h"] - data["h"].mean())  # the effect grows by 0.4 per unit of h
    table = moderation(data, "y", "h").set_index("term")
    # an independent reference: OLS with unit and year dummies (statsmodels), same centred interaction
    frame = data.assign(hc=data["h"] - data["h"].mean())
    ols = smf.ols("y ~ treated + treated:hc + h + C(unit) + C(year)", data=frame).fit()
    assert table.loc["treated", "coef"] == pytest.approx(ols.params["treated"], rel=1e-8)
    assert table.loc["treated_x_h", "coef"] == pytest.approx(ols.params["treated:hc"], rel=1e-8)
    assert abs(table.loc["treated_x_h", "coef"] - 0.4) < 3 * table.loc["treated_x_h", "se"]
    fixed = moderation(data.assign(g=data["unit"] % 3), "y", "g").set_index("term")  # constant within units
    assert "g" not in fixed.index and "treated_x_g" in fixed.index
