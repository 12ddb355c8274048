"""PSM-DID: nearest-neighbour choice, caliper, balance improvement, and the DID on matched units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.did import DIDError
from analyses.did.psm import _nearest, psm_did, smd


def test_nearest_neighbours_by_hand():
    treated = pd.Series([0.30, 0.90], index=["t1", "t2"])
    control = pd.Series([0.10, 0.28, 0.33, 0.60], index=["c1", "c2", "c3", "c4"])
    one = _nearest(treated, control, ratio=1, caliper=0.05)
    assert one["controls"] == ["c2"] and one["has_match"].tolist() == [True, False]  # 0.90 has none within 0.05
    two = _nearest(treated, control, ratio=2, caliper=None)  # without replacement: t2 gets what is left
    assert sorted(two["controls"][:2]) == ["c2", "c3"] and two["controls"][2:] == ["c4", "c1"]


def selected_panel(seed: int = 5, n: int = 400, years: int = 8, effect: float = 0.5) -> pd.DataFrame:
    """Selection on x: high-x units are more often treated, and x also drives the outcome's trend."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    treated_unit = rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 1.0)))
    rows = []
    for i in range(n):
        for t in range(years):
            d = int(treated_unit[i] and t >= 4)
            rows.append((i, 2000 + t, x[i] + 0.05 * rng.normal(), bool(treated_unit[i]), d,
                         0.3 * x[i] * t + effect * d + rng.normal(scale=0.3)))
    return pd.DataFrame(rows, columns=["unit", "year", "x", "ever_treated", "treated", "y"])


def test_matching_balances_the_covariate_and_reduces_bias():
    data = selected_panel()
    result = psm_did(data, "y", ["x"], caliper=0.02)
    row = result.balance.set_index("covariate").loc["x"]
    assert abs(row["smd_before"]) > 0.5 and abs(row["smd_after"]) < 0.1
    assert row["smd_after"] == pytest.approx(smd(result.matched.loc[result.matched.ever_treated, "x"],
                                                 result.matched.loc[~result.matched.ever_treated, "x"]))
    assert result.scores["pscore"].between(0, 1).all()
    assert result.matched.groupby("year")["ever_treated"].any().all()


def test_psm_errors():
    data = selected_panel(n=50)
    with pytest.raises(DIDError, match="ratio 0 must be at least 1"):
        psm_did(data, "y", ["x"], ratio=0)
    with pytest.raises(DIDError, match="column 'z' is not in the data"):
        psm_did(data, "y", ["z"])


def test_matched_did_is_closer_to_the_truth_than_the_naive_did():
    from analyses.did import twfe

    data = selected_panel()
    naive = twfe(data, "y").coef
    matched = psm_did(data, "y", ["x"], caliper=0.02).did.coef
    assert abs(matched - 0.5) < abs(naive - 0.5) / 3  # x drives both selection and trends
