"""Malmquist–Luenberger indices (analyses/efficiency/luenberger.py) against a plain linprog of the directional
distance function, the index identities of Oh (2010) and Chung et al. (1997), and a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analyses.efficiency import EfficiencyError
from analyses.efficiency.luenberger import malmquist_luenberger
from analyses.efficiency.sbm import sbm_scores


def plain_ddf(x, y, b, X, Y, B):
    """max β s.t. Xλ ≤ x, Yλ ≥ (1+β)y, Bλ = (1−β)b, λ ≥ 0 (Chung, Färe & Grosskopf 1997, eq. 5), dense."""
    n = X.shape[1]
    r = linprog(np.r_[-1.0, np.zeros(n)],
                A_ub=np.block([[np.zeros((X.shape[0], 1)), X], [y[:, None], -Y]]), b_ub=np.r_[x, -y],
                A_eq=np.column_stack([b, B]), b_eq=b, bounds=[(None, None)] + [(0, None)] * n, method="highs")
    return r.x[0]


def panel(seed: int, n: int = 7, periods: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(periods):
        x = rng.uniform(1, 10, (n, 2))
        y = (x ** 0.45).prod(axis=1) * (1 + 0.05 * p) * rng.uniform(0.6, 1, n)
        rows.append(pd.DataFrame({"city": [f"c{i}" for i in range(n)], "year": 2011 + p, "k": x[:, 0], "l": x[:, 1],
                                  "gdp": y, "co2": y * rng.uniform(0.3, 1, n)}))
    return pd.concat(rows, ignore_index=True)


def test_global_distances_equal_plain_linprog_and_gml_is_ec_times_bpc():
    data = panel(2)
    res = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year")
    pooled = data.sort_values(["year", "city"])
    X = pooled[["k", "l"]].to_numpy().T
    Y, B = pooled[["gdp"]].to_numpy().T, pooled[["co2"]].to_numpy().T
    d = res.distances.set_index(["year", "city"])
    for j, (_, row) in enumerate(pooled.iterrows()):
        if j % 3:
            continue
        ref = plain_ddf(X[:, j], Y[:, j], B[:, j], X, Y, B)
        assert np.isclose(d.loc[(row.year, row.city), "global"], ref, atol=1e-8)
        same = pooled.year == row.year
        own = plain_ddf(X[:, j], Y[:, j], B[:, j], X[:, same], Y[:, same], B[:, same])
        assert np.isclose(d.loc[(row.year, row.city), "own"], own, atol=1e-8)
    i = res.indices
    assert np.allclose(i.gml, i.ec * i.tc)
    # Oh (2010): the global index is circular, so the cumulative index is the direct base-to-last comparison
    g = res.distances.pivot(index="city", columns="year", values="global")
    cum = res.cumulative.pivot(index="city", columns="year", values="gml")
    assert np.allclose(cum[2014], (1 + g[2011]) / (1 + g[2014])) and np.allclose(cum[2011], 1)


def test_hand_computation_one_input_one_good_one_bad():
    # x = 1 everywhere; (y, b) = (1, 1) except city a in 2012, which makes y = 2 with the same bad.
    # Against λ_1·(1, 1, 1) + λ_2·(1, 2, 1): λ_1 + λ_2 ≤ 1, λ_1 + 2λ_2 ≥ 1 + β, λ_1 + λ_2 = 1 − β gives λ_2 ≥ 2β and
    # λ_2 ≤ 1 − β, so β* = 1/3 for every (1, 1, 1) point once a_2012 is in the reference set, 0 otherwise.
    data = pd.DataFrame({"city": ["a", "b", "a", "b"], "year": [2011, 2011, 2012, 2012], "x": [1.0, 1.0, 1.0, 1.0],
                         "y": [1.0, 1.0, 2.0, 1.0], "b": [1.0, 1.0, 1.0, 1.0]})
    res = malmquist_luenberger(data, ["x"], ["y"], ["b"], unit="city", time="year")
    d = res.distances.set_index(["year", "city"])
    assert np.allclose(d["global"], [1 / 3, 1 / 3, 0, 1 / 3]) and np.allclose(d["own"], [0, 0, 0, 1 / 3])
    i = res.indices.set_index("city")
    # a: GML = (1 + 1/3)/(1 + 0) = 4/3, EC = 1, BPC = 4/3; b: GML = 1, EC = 1/(1 + 1/3) = 3/4, BPC = 4/3
    assert np.allclose(i.loc["a", ["gml", "ec", "tc"]], [4 / 3, 1, 4 / 3])
    assert np.allclose(i.loc["b", ["gml", "ec", "tc"]], [1, 3 / 4, 4 / 3])


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["crs", "vrs"]))
def test_identities_contemporaneous_and_sbm_measure(seed, rts):
    data = panel(seed, n=6, periods=3)
    ml = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year", kind="contemporaneous",
                              rts=rts)
    ok = ml.indices.dropna()
    assert np.allclose(ok.ml, ok.ec * ok.tc)
    undefined = ml.indices.ml.isna()
    if undefined.any():  # an undefined index is explained in the status column, never silent
        bad = ml.distances[ml.distances.status != "optimal"]
        assert len(bad) > 0
    sg = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year", measure="sbm", rts=rts)
    p = data.sort_values(["year", "city"])
    rho = sbm_scores(p[["k", "l"]].to_numpy().T, p[["gdp"]].to_numpy().T, p[["co2"]].to_numpy().T, rts=rts)["rho"]
    g = pd.Series(rho, index=pd.MultiIndex.from_frame(p[["year", "city"]]))
    assert np.allclose(sg.distances.set_index(["year", "city"])["global"], g.loc[sg.distances.set_index(
        ["year", "city"]).index])
    assert np.allclose(sg.indices.gml, sg.indices.ec * sg.indices.tc)


def test_errors():
    with pytest.raises(EfficiencyError, match="kind 'x'"):
        malmquist_luenberger(panel(1), ["k"], ["gdp"], ["co2"], unit="city", kind="x")


def test_sbm_gml_with_screened_global_reference_equals_the_full_reference():
    data = panel(4, n=90, periods=3)  # 270 DMU-years pooled: the global reference is screened
    res = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year", measure="sbm")
    p = data.sort_values(["year", "city"])
    X, Y, B = p[["k", "l"]].to_numpy().T, p[["gdp"]].to_numpy().T, p[["co2"]].to_numpy().T
    full = sbm_scores(X, Y, B, X_ref=X, Yg_ref=Y, Yb_ref=B, screen=False)["rho"]
    assert np.allclose(res.distances.sort_values(["year", "city"])["global"], full, atol=1e-9)
