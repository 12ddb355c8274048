"""DEAP-style Malmquist index (analyses/efficiency/malmquist.py) against DEAP 2.1's printed eg4 output, a plain
LP for the cross-period distances, and the index identities on random panels.

DEAP reference: Coelli (1996), "A Guide to DEAP Version 2.1", CEPA Working Paper 96/08, §5 example 4:
eg4-dta.txt (five firms, three years, one output and one input) and eg4-out.txt, output-orientated Malmquist DEA:
DISTANCES SUMMARY, MALMQUIST INDEX SUMMARY by year and SUMMARY OF ANNUAL MEANS. The printed numbers are those of
DEAP's eg4-out.txt (copy at jthuang.nccu.edu.tw/filedownload/495); no page numbers are cited (that copy has none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analyses.efficiency import EfficiencyError
from analyses.efficiency.malmquist import malmquist

_Y1 = pd.DataFrame({"firm": list("12345"), "y": [1, 2, 3, 4, 5], "x": [2, 4, 3, 5, 6], "year": 1})
_Y2 = pd.DataFrame({"firm": list("12345"), "y": [1, 3, 4, 3, 5], "x": [2, 4, 3, 5, 5], "year": 2})
EG4 = pd.concat([_Y1, _Y2, _Y2.assign(year=3)], ignore_index=True)  # eg4-dta.txt: years 2 and 3 are equal


def printed(expected, ours) -> bool:
    """Equal to DEAP's 3 printed decimals: within half a unit of the last digit."""
    return bool(np.all(np.abs(np.asarray(ours, float) - np.asarray(expected, float)) <= 0.0005 + 1e-9))


def test_eg4_equals_deap_printed_output():
    res = malmquist(EG4, ["x"], ["y"], unit="firm", time="year")
    d = res.distances.set_index(["year", "firm"])
    # DISTANCES SUMMARY (eg4-out.txt): crs te rel to tech in yr t-1, t, t+1, and vrs te
    assert printed([0.500, 0.500, 1.000, 0.800, 0.833], d.loc[1, "crs"])
    assert printed([0.375, 0.375, 0.750, 0.600, 0.625], d.loc[1, "crs_next"])
    assert printed([1.000, 0.545, 1.000, 0.923, 1.000], d.loc[1, "vrs"])
    assert printed([0.500, 0.750, 1.333, 0.600, 1.000], d.loc[2, "crs_prev"])
    assert printed([0.375, 0.563, 1.000, 0.450, 0.750], d.loc[2, "crs"])
    assert printed([0.375, 0.563, 1.000, 0.450, 0.750], d.loc[2, "crs_next"])
    assert printed([1.000, 0.667, 1.000, 0.600, 1.000], d.loc[2, "vrs"])
    assert printed([0.375, 0.563, 1.000, 0.450, 0.750], d.loc[3, "crs_prev"])
    assert printed([0.727, 0.545, 0.894], d.loc[1, ["crs", "crs_next", "vrs"]].mean())
    assert printed([0.837, 0.628, 0.628, 0.853], d.loc[2, ["crs_prev", "crs", "crs_next", "vrs"]].mean())
    # MALMQUIST INDEX SUMMARY, year = 2
    i = res.indices.set_index(["year", "firm"])
    assert printed([0.750, 1.125, 1.000, 0.562, 0.900], i.loc[2, "effch"])
    assert printed([1.333] * 5, i.loc[2, "techch"])
    assert printed([1.000, 1.222, 1.000, 0.650, 1.000], i.loc[2, "pech"])
    assert printed([0.750, 0.920, 1.000, 0.865, 0.900], i.loc[2, "sech"])
    assert printed([1.000, 1.500, 1.333, 0.750, 1.200], i.loc[2, "tfpch"])
    assert printed(1.0, i.loc[3].to_numpy())  # year = 3: all 1.000
    # MALMQUIST INDEX SUMMARY OF ANNUAL MEANS: year 2, year 3 and the mean row
    assert printed([0.844, 1.333, 0.955, 0.883, 1.125], res.period_means.loc[2])
    assert printed([1.000] * 5, res.period_means.loc[3])
    assert printed([0.918, 1.155, 0.977, 0.940, 1.061], res.mean)


def test_eg4_firm_means_are_geometric_means_over_years_and_cumulative_chains_tfpch():
    res = malmquist(EG4, ["x"], ["y"], unit="firm", time="year")
    i = res.indices.set_index(["year", "firm"])
    assert np.allclose(res.unit_means["tfpch"], np.sqrt(i.loc[2, "tfpch"] * i.loc[3, "tfpch"]))
    cum = res.cumulative.set_index(["firm", "year"])["tfpch"]
    assert np.allclose(cum.xs(1, level="year"), 1) and np.allclose(cum.xs(3, level="year"), [1, 1.5, 4 / 3, .75, 1.2])
    groups = pd.Series({"1": "a", "2": "a", "3": "b", "4": "b", "5": "b"})
    gm = res.group_means(groups)
    assert np.isclose(gm.loc[("a", 2), "tfpch"], np.sqrt(1.0 * 1.5))


def plain_distance(x_o, y_o, X, Y):
    """CRS output Farrell efficiency 1/φ of (x_o, y_o) against (X, Y): one dense linprog (FGNZ 1994 eq. (7))."""
    n = X.shape[1]
    c = np.r_[-1.0, np.zeros(n)]
    A = np.block([[np.zeros((X.shape[0], 1)), X], [y_o[:, None], -Y]])
    b = np.r_[x_o, np.zeros(Y.shape[0])]
    r = linprog(c, A_ub=A, b_ub=b, bounds=[(0, None)] * (n + 1), method="highs")
    return 1 / r.x[0]


def random_panel(seed: int, n: int = 8, periods: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(periods):
        x = rng.uniform(1, 10, (n, 2))
        y = (x ** 0.4).prod(axis=1) * (1 + 0.1 * p) * rng.uniform(0.5, 1, n)
        rows.append(pd.DataFrame({"u": [f"u{i}" for i in range(n)], "t": 2010 + p, "x1": x[:, 0], "x2": x[:, 1],
                                  "y": y, "y2": y * rng.uniform(0.5, 1.5, n)}))
    return pd.concat(rows, ignore_index=True)


def test_cross_period_distances_equal_a_plain_lp():
    panel = random_panel(11)
    res = malmquist(panel, ["x1", "x2"], ["y", "y2"], unit="u", time="t")
    d = res.distances.set_index(["t", "u"])
    P = {t: g.sort_values("u") for t, g in panel.groupby("t")}
    XY = {t: (g[["x1", "x2"]].to_numpy().T, g[["y", "y2"]].to_numpy().T) for t, g in P.items()}
    for k in range(8):
        assert np.isclose(d.loc[(2011, f"u{k}"), "crs_prev"], plain_distance(XY[2011][0][:, k], XY[2011][1][:, k],
                                                                              *XY[2010]), atol=1e-8)
        assert np.isclose(d.loc[(2011, f"u{k}"), "crs_next"], plain_distance(XY[2011][0][:, k], XY[2011][1][:, k],
                                                                              *XY[2012]), atol=1e-8)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(["contemporaneous", "sequential", "global"]),
       st.sampled_from(["input", "output"]))
def test_identities_on_random_panels(seed, frontier, orientation):
    res = malmquist(random_panel(seed, n=6), ["x1", "x2"], ["y"], unit="u", time="t", frontier=frontier,
                    orientation=orientation)
    i = res.indices
    assert np.allclose(i.tfpch, i.effch * i.techch)
    assert np.allclose(i.effch, i.pech * i.sech)
    pm = res.period_means
    assert np.allclose(pm.tfpch, pm.effch * pm.techch) and np.allclose(pm.effch, pm.pech * pm.sech)
    um = res.unit_means
    assert np.allclose(um.tfpch, um.effch * um.techch)
    if frontier == "global":  # a global index is circular: the chain equals the direct comparison
        g = res.distances.pivot(index="u", columns="t", values="global")
        cum = res.cumulative.pivot(index="u", columns="t", values="tfpch")
        assert np.allclose(cum[2012], g[2012] / g[2010])


def test_unbalanced_panel_is_refused_with_the_gap_named():
    with pytest.raises(EfficiencyError, match="unbalanced.*firm 3|unbalanced.* 3 has no year 2"):
        malmquist(EG4.drop(index=7), ["x"], ["y"], unit="firm", time="year")


def test_paper_table_and_small_multiples(tmp_path):
    from analyses.efficiency.tables import malmquist_table, plot_tfpch

    res = malmquist(EG4, ["x"], ["y"], unit="firm", time="year")
    table = malmquist_table(res)
    assert table.index.tolist() == ["1–2", "2–3", "mean"]
    assert table.loc["mean"].tolist() == [0.918, 1.155, 0.977, 0.94, 1.061]  # eg4-out.txt, mean row
    assert "TFPCH" in malmquist_table(res, fmt="latex") and len(malmquist_table(res, by="unit")) == 6
    plot_tfpch(res, tmp_path / "tfpch.png")
    assert (tmp_path / "tfpch.png").stat().st_size > 1000


def test_deflated_nominal_panel_equals_the_real_panel():
    price = {1: 100.0, 2: 110.0, 3: 121.0}  # output price index, base 100 in year 1; capital goods 5% a year
    nominal = EG4.assign(p=EG4.year.map(price), q=EG4.year.map({1: 2.0, 2: 2.1, 3: 2.205}))
    nominal = nominal.assign(y=nominal.y * nominal.p / 100, x=nominal.x * nominal.q / 2.0)
    real = malmquist(EG4, ["x"], ["y"], unit="firm", time="year").indices
    deflated = malmquist(nominal, ["x"], ["y"], unit="firm", time="year", deflate={"y": "p", "x": "q"}, base_year=1)
    assert np.allclose(deflated.indices[INDEX_COLS], real[INDEX_COLS])
    as_index = malmquist(nominal.assign(q=nominal.q * 50), ["x"], ["y"], unit="firm", time="year",
                         deflate={"y": "p", "x": "q"})  # no base year: deflators read as indices, base 100
    assert np.allclose(as_index.indices[INDEX_COLS], real[INDEX_COLS])
    undeflated = malmquist(nominal, ["x"], ["y"], unit="firm", time="year").indices
    assert not np.allclose(undeflated.techch, real.techch)  # price change would read as technical change
    with pytest.raises(EfficiencyError, match="p has no year 9 value for 1"):
        malmquist(nominal, ["x"], ["y"], unit="firm", time="year", deflate={"y": "p"}, base_year=9)


INDEX_COLS = ["effch", "techch", "pech", "sech", "tfpch"]
