"""Heterogeneity by a flag and concurrent-policy controls, against pyfixest fits written out independently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analyses.did import DIDError
from analyses.did.heterogeneity import concurrent_policy_controls, heterogeneity


def flagged_panel(seed: int = 3, n: int = 120, years: int = 10) -> pd.DataFrame:
    """Staggered adoption; the effect is 0.5 in flagged units and 0.2 elsewhere; a second policy adds 0.3."""
    rng = np.random.default_rng(seed)
    start = rng.choice([3, 5, 7, 99], size=n)
    other = rng.choice([4, 6, 99], size=n)
    flag = rng.random(n) < 0.4
    rows = []
    for i in range(n):
        ui = rng.normal()
        for t in range(years):
            d, c = int(t >= start[i]), int(t >= other[i])
            y = ui + 0.1 * t + (0.5 if flag[i] else 0.2) * d + 0.3 * c + rng.normal(scale=0.3)
            rows.append((f"u{i:03d}", 2005 + t, d, c, int(flag[i]), y))
    return pd.DataFrame(rows, columns=["unit", "year", "treated", "concurrent_other", "big", "y"])


def test_moderation_and_split_samples_equal_separate_pyfixest_fits():
    data = flagged_panel()
    table = heterogeneity(data, "y", "big", reps=99).set_index(["model", "term"])
    # pyfixest on the same model written with its own interaction syntax
    fit = pf.feols("y ~ treated + treated:big | unit + year", data=data, vcov={"CRV1": "unit"})
    assert table.loc[("moderation", "treated"), "coef"] == pytest.approx(fit.coef()["treated"], rel=1e-9)
    assert table.loc[("moderation", "treated_x_big"), "coef"] == pytest.approx(fit.coef()["treated:big"], rel=1e-9)
    assert table.loc[("moderation", "treated_x_big"), "se"] == pytest.approx(fit.se()["treated:big"], rel=1e-9)
    fits = {v: pf.feols("y ~ treated | unit + year", data=data[data["big"] == v], vcov={"CRV1": "unit"})
            for v in (0, 1)}
    for v in (0, 1):
        row = table.loc[("split", f"treated | big = {v}")]
        assert row["coef"] == pytest.approx(fits[v].coef()["treated"], rel=1e-9)
        assert row["se"] == pytest.approx(fits[v].se()["treated"], rel=1e-9)
    diff = table.loc[("difference", "treated | big = 1 minus big = 0")]
    gap = fits[1].coef()["treated"] - fits[0].coef()["treated"]
    assert diff["coef"] == pytest.approx(gap, rel=1e-9)
    assert diff["se"] == pytest.approx(np.hypot(fits[1].se()["treated"], fits[0].se()["treated"]), rel=1e-9)
    # and the moderation recovers the simulated gap of 0.3
    assert table.loc[("moderation", "treated_x_big"), "coef"] == pytest.approx(0.3, abs=0.1)
    assert diff["p_permutation"] < 0.05


def test_flags_that_cannot_split_are_refused():
    data = flagged_panel(n=30)
    with pytest.raises(DIDError, match="missing for 1 units"):
        heterogeneity(data.assign(big=data["big"].where(data["unit"] != "u000")), "y", "big", reps=9)
    with pytest.raises(DIDError, match="not a 0/1 flag"):
        heterogeneity(data.assign(big=data["big"] * 2), "y", "big", reps=9)
    with pytest.raises(DIDError, match="changes within a unit"):
        heterogeneity(data.assign(big=(data["year"] > 2008).astype(int)), "y", "big", reps=9)


def test_concurrent_policy_control_equals_pyfixest_with_the_dummy():
    data = flagged_panel()
    rows = concurrent_policy_controls(data, "y", ["concurrent_other"])
    fit = pf.feols("y ~ treated + concurrent_other | unit + year", data=data, vcov={"CRV1": "unit"})
    base = pf.feols("y ~ treated | unit + year", data=data, vcov={"CRV1": "unit"})
    assert rows.loc[0, "coef"] == pytest.approx(base.coef()["treated"], rel=1e-9)
    assert rows.loc[1, "coef"] == pytest.approx(fit.coef()["treated"], rel=1e-9)
    assert rows.loc[1, "se"] == pytest.approx(fit.se()["treated"], rel=1e-9)
    assert rows.loc[2, "term"] == "concurrent_other" and rows.loc[2, "coef"] == pytest.approx(0.3, abs=0.1)
    assert rows.loc[1, "check"] == "controlling for concurrent policies: other"
    with pytest.raises(DIDError, match="does not vary in the sample"):
        concurrent_policy_controls(data.assign(concurrent_none=0), "y", ["concurrent_none"])
