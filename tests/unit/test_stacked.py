"""Stacked DID against plain group means (Wing, Freedman & Hollingsworth 2024: the weighted stack equals the
treated-share-weighted average of each cohort's 2×2 DID), and recovery where TWFE is biased."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.did import DIDError, twfe
from analyses.did.stacked import stacked_did


def panel(seed: int = 11, n: int = 300, years: range = range(2000, 2016)) -> pd.DataFrame:
    """Cohorts 2004/2007/2010/2013 and never treated; effects grow with time since adoption and differ by
    cohort, the case where TWFE's forbidden comparisons bias it."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([2004, 2007, 2010, 2013, np.nan], size=n, p=[0.15, 0.2, 0.2, 0.15, 0.3])
    rows = []
    for i in range(n):
        a = rng.normal()
        for t in years:
            e = t - cohort[i] if cohort[i] == cohort[i] else np.nan
            effect = (0.5 + 0.2 * e + 0.05 * (cohort[i] - 2004)) if e >= 0 else 0.0
            rows.append((i, t, cohort[i], a + 0.05 * (t - 2000) + effect + rng.normal(scale=0.3), effect))
    frame = pd.DataFrame(rows, columns=["unit", "year", "cohort", "y", "effect"])
    frame["treated"] = (frame["year"] >= frame["cohort"]).astype(int)
    return frame


def by_means(data: pd.DataFrame, window: tuple[int, int], reference: int = -1) -> tuple[float, dict[int, float]]:
    """Each cohort's 2×2 DID of plain means against never-treated units, weighted by treated counts."""
    low, high = window
    att, dyn, total = 0.0, {}, 0
    for g, treated in data[data["cohort"].notna()].groupby("cohort"):
        g = int(g)
        controls = data[data["cohort"].isna()]
        if g + low < data["year"].min() or g + high > data["year"].max():
            continue
        n = treated["unit"].nunique()
        total += n
        t_mean = treated.groupby("year")["y"].mean()
        c_mean = controls.groupby("year")["y"].mean()
        gap = (t_mean - c_mean).loc[g + low:g + high]
        gap.index = gap.index - g
        att += n * (gap[gap.index >= 0].mean() - gap[gap.index < 0].mean())
        for e in gap.index:
            dyn[e] = dyn.get(e, 0.0) + n * (gap[e] - gap[reference])
    return att / total, {e: v / total for e, v in dyn.items()}


def test_weighted_stack_equals_the_cohort_weighted_2x2s_of_means():
    data = panel()
    result = stacked_did(data, "y", window=(-3, 2))
    att, dynamic = by_means(data, (-3, 2))
    assert result.att == pytest.approx(att, abs=1e-10)
    for row in result.event_study.itertuples():
        assert row.coef == pytest.approx(dynamic[row.event_time], abs=1e-10)
    assert result.cohorts.set_index("cohort")["included"].to_dict() == {2004: True, 2007: True, 2010: True,
                                                                        2013: True}
    short = stacked_did(data, "y", window=(-5, 3))  # 2004 has only four pre-years: trimmed, and said so
    assert short.cohorts.set_index("cohort").loc[2004, "reason"] == "window years outside the panel"


def test_stacked_recovers_the_trimmed_att_where_twfe_does_not():
    data = panel(n=600)
    result = stacked_did(data, "y", window=(-3, 2))
    inside = data[(data["year"] - data["cohort"]).between(0, 2)]
    truth = inside["effect"].mean()  # every included cohort contributes the same number of post years
    assert abs(result.att - truth) < 3 * result.se
    assert abs(twfe(data, "y").coef - truth) > 5 * result.se  # the forbidden comparisons bias TWFE here


def test_not_yet_treated_controls_and_errors():
    data = panel()
    notyet = stacked_did(data, "y", window=(-2, 1), control="notyet")
    never = stacked_did(data, "y", window=(-2, 1), control="never")
    counts = notyet.cohorts.set_index("cohort")["n_controls"] - never.cohorts.set_index("cohort")["n_controls"]
    assert counts[2004] > 0 and counts[2013] == 0  # later cohorts serve as controls for earlier ones
    with pytest.raises(DIDError, match="must start before adoption"):
        stacked_did(data, "y", window=(0, 2))
    with pytest.raises(DIDError, match="no cohort has a full window -9:9"):
        stacked_did(data, "y", window=(-9, 9))
    with pytest.raises(DIDError, match="cohort 2004: some units lack y"):
        stacked_did(data.drop(index=data.index[(data["unit"] == data["unit"].min()) & (data["year"] == 2003)]), "y",
                    window=(-2, 1))
