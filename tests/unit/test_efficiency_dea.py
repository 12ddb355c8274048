"""Radial DEA (analyses/efficiency/dea.py) against DEAP 2.1's printed output, an independent LP and identities.

DEAP references: Coelli (1996), "A Guide to DEAP Version 2.1: A Data Envelopment Analysis (Computer) Program",
CEPA Working Paper 96/08, University of New England, §5 (the worked examples): example 1 (eg1-dta.txt,
eg1-out.txt: five firms, one output, two inputs, CRS input-orientated) and example 4 (eg4-dta.txt, eg4-out.txt:
the Malmquist example; its year-1 data are five firms with one input and one output). The printed numbers are
those of the output files DEAP 2.1 ships (eg1-out.txt, eg4-out.txt, read from the copy at
jthuang.nccu.edu.tw/filedownload/495); the data are recovered from them (targets, peers, distances) and match
the eg*-dta.txt files of the guide. Page numbers of the guide are not cited: the copy read here had none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analyses.efficiency import EfficiencyError, dea, efficiency_scores

# eg1-dta.txt: output y, inputs x1 x2 (Coelli 1996 §5, example 1)
EG1 = pd.DataFrame({"firm": ["1", "2", "3", "4", "5"], "y": [1, 2, 3, 1, 2], "x1": [2, 2, 6, 3, 6],
                    "x2": [5, 4, 6, 2, 2]})
# eg4-dta.txt, year 1 (Coelli 1996 §5, example 4): output y, input x
EG4_Y1 = pd.DataFrame({"firm": ["1", "2", "3", "4", "5"], "y": [1, 2, 3, 4, 5], "x": [2, 4, 3, 5, 6]})


def printed(value: float, ours: float) -> bool:
    """DEAP prints 3 decimals (F-format): equal to the printed digits means within half a unit of the last one."""
    return abs(ours - value) <= 0.0005 + 1e-9


def test_eg1_crs_input_equals_deap_printed_output():
    res = dea(EG1, ["x1", "x2"], ["y"], unit="firm", rts="crs", orientation="input")
    # eg1-out.txt, EFFICIENCY SUMMARY
    for ours, te in zip(res.efficiency, [0.500, 1.000, 0.833, 0.714, 1.000], strict=True):
        assert printed(te, ours)
    assert printed(0.810, res.efficiency.mean())
    # SUMMARY OF INPUT SLACKS: only firm 1 has a slack, 0.500 in input 2; output slacks all 0
    assert np.allclose(res.slacks_input.to_numpy(), [[0, 0.5], [0, 0], [0, 0], [0, 0], [0, 0]], atol=1e-9)
    assert np.allclose(res.slacks_output.to_numpy(), 0, atol=1e-9)
    # SUMMARY OF PEERS and PEER WEIGHTS: 1: 2 (0.500); 3: 5, 2 (0.500, 1.000); 4: 5, 2 (0.286, 0.214)
    w = res.peers.set_index(["firm", "peer"])["weight"]
    assert printed(0.500, w["1", "2"]) and printed(0.500, w["3", "5"]) and printed(1.000, w["3", "2"])
    assert printed(0.286, w["4", "5"]) and printed(0.214, w["4", "2"])
    others = res.peers[res.peers.firm != res.peers.peer]  # PEER COUNT SUMMARY counts peers of other firms
    assert others.groupby("peer").size().to_dict() == {"2": 3, "5": 2}
    # SUMMARY OF INPUT TARGETS: firm 4 → 2.143, 1.429; firm 1 → 1.000, 2.000; firm 3 → 5.000, 5.000
    t = res.targets
    assert printed(2.143, t.loc["4", "x1"]) and printed(1.429, t.loc["4", "x2"])
    assert np.allclose(t.loc["1", ["x1", "x2"]], [1, 2]) and np.allclose(t.loc["3", ["x1", "x2"]], [5, 5])
    assert (res.status == "optimal").all()


def test_eg4_year1_vrs_output_equals_deap_printed_distances():
    # eg4-out.txt, DISTANCES SUMMARY, year 1: crs te (t) and vrs te, output-orientated
    res = dea(EG4_Y1, ["x"], ["y"], unit="firm", rts="vrs", orientation="output")
    for ours, te in zip(res.crs, [0.500, 0.500, 1.000, 0.800, 0.833], strict=True):
        assert printed(te, ours)
    for ours, te in zip(res.vrs, [1.000, 0.545, 1.000, 0.923, 1.000], strict=True):
        assert printed(te, ours)
    assert printed(0.727, res.crs.mean()) and printed(0.894, res.vrs.mean())


def test_eg4_year1_vrs_input_scale_and_returns_to_scale_by_hand():
    # hand computation on the one-input frontier (2,1)-(3,3)-(6,5): firm 2 (x=4, y=2) needs x = 2.5 under VRS
    # (θ = 0.625) and x = 2 under CRS (θ = 0.5); scale 0.8, below the most productive scale size: irs
    res = dea(EG4_Y1, ["x"], ["y"], unit="firm", rts="vrs", orientation="input")
    assert np.allclose(res.crs, [0.5, 0.5, 1.0, 0.8, 5 / 6])
    assert np.allclose(res.vrs, [1.0, 0.625, 1.0, 0.9, 1.0])
    assert np.allclose(res.scale, [0.5, 0.8, 1.0, 0.8 / 0.9, 5 / 6])
    assert res.returns_to_scale.tolist() == ["irs", "irs", "crs", "drs", "drs"]


def test_super_efficiency_reports_infeasible_dmus():
    res = dea(EG4_Y1, ["x"], ["y"], unit="firm", rts="vrs", orientation="output", super_efficiency=True)
    # firm 1 uses the least input: no convex combination of the others uses ≤ 2, so the output LP is infeasible
    assert np.isnan(res.super_efficiency["1"]) and res.status["1"] == "super-efficiency infeasible"
    # firm 3 without itself: frontier (2,1)-(4,2)-(5,4)-(6,5) gives y = 1.5 at x = 3, so φ = 0.5, 1/φ = ... 3/2
    assert np.isclose(res.super_efficiency["3"], 1.5)
    # inefficient firms keep their score
    assert np.isclose(res.super_efficiency["2"], res.vrs["2"])
    crs = dea(EG1, ["x1", "x2"], ["y"], unit="firm", super_efficiency=True)
    assert (crs.super_efficiency[["2", "5"]] > 1).all() and crs.status.eq("optimal").all()


def plain_lp(X, Y, o, rts, orientation):
    """Independent formulation: one linprog per DMU, dense, all DMUs as reference (Cooper et al. 2007 (3.6))."""
    m, n = X.shape
    s = Y.shape[0]
    c = np.r_[1.0 if orientation == "input" else -1.0, np.zeros(n)]
    if orientation == "input":
        A = np.block([[-X[:, [o]], X], [np.zeros((s, 1)), -Y]])
        b = np.r_[np.zeros(m), -Y[:, o]]
    else:
        A = np.block([[np.zeros((m, 1)), X], [Y[:, [o]], -Y]])
        b = np.r_[X[:, o], np.zeros(s)]
    eq = dict(A_eq=np.r_[0.0, np.ones(n)][None, :], b_eq=[1.0]) if rts == "vrs" else {}
    r = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] + [(0, None)] * n, method="highs", **eq)
    return r.x[0] if orientation == "input" else 1 / r.x[0]


data_sets = st.integers(min_value=0, max_value=2**31 - 1).map(
    lambda seed: np.random.default_rng(seed).uniform(1, 10, size=(3, np.random.default_rng(seed).integers(4, 25))))


@settings(max_examples=12, deadline=None)
@given(data_sets)
def test_identities_on_random_data(Z):
    frame = pd.DataFrame(Z.T, columns=["x1", "x2", "y"]).assign(id=lambda d: d.index.astype(str))
    inp = dea(frame, ["x1", "x2"], ["y"], unit="id", rts="vrs", orientation="input")
    out = dea(frame, ["x1", "x2"], ["y"], unit="id", rts="vrs", orientation="output")
    assert (inp.crs <= inp.vrs + 1e-8).all() and (out.crs <= out.vrs + 1e-8).all()
    assert np.allclose(inp.scale, inp.crs / inp.vrs)
    assert np.allclose(inp.crs, out.crs, atol=1e-8)  # CRS: θ* = 1/φ*
    assert ((inp.vrs > 0) & (inp.vrs <= 1 + 1e-9)).all()
    # targets lie on the frontier: every target scores 1 under the same model
    tgt = inp.targets
    again = efficiency_scores(tgt[["x1", "x2"]].to_numpy().T, tgt[["y"]].to_numpy().T, rts="vrs",
                              X_ref=Z[:2], Y_ref=Z[2:])
    assert np.allclose(again, 1, atol=1e-6)


@pytest.mark.parametrize("rts", ["crs", "vrs"])
@pytest.mark.parametrize("orientation", ["input", "output"])
def test_equals_plain_per_dmu_linprog(rts, orientation):
    rng = np.random.default_rng(7)
    X, Y = rng.uniform(1, 10, (3, 40)), rng.uniform(1, 10, (2, 40))
    frame = pd.DataFrame(np.vstack([X, Y]).T, columns=["a", "b", "c", "y1", "y2"])
    frame["id"] = [f"{i:02d}" for i in range(40)]
    res = dea(frame, ["a", "b", "c"], ["y1", "y2"], unit="id", rts=rts, orientation=orientation)
    ref = [plain_lp(X, Y, o, rts, orientation) for o in range(40)]
    assert np.allclose(res.efficiency.to_numpy(), ref, atol=1e-8)


def test_screened_frontier_equals_full_reference_on_many_dmus():
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(1, 10, (2, 700)), rng.uniform(1, 10, (1, 700))
    ours = efficiency_scores(X, Y, rts="vrs", orientation="output")  # > 500 DMUs: scored against the screened set
    idx = rng.choice(700, 25, replace=False)
    assert np.allclose(ours[idx], [plain_lp(X, Y, o, "vrs", "output") for o in idx], atol=1e-8)


def test_periods_are_separate_frontiers_and_errors_name_the_unit():
    panel = pd.concat([EG1.assign(year=2020), EG1.assign(year=2021, y=EG1.y * 2)])
    res = dea(panel, ["x1", "x2"], ["y"], unit="firm", time="year")
    assert np.allclose(res.efficiency.loc[:, 2020], res.efficiency.loc[:, 2021])
    bad = EG1.assign(x2=[5, 4, -6, 2, 2])
    with pytest.raises(EfficiencyError, match="x2 is -6.* firm 3"):
        dea(bad, ["x1", "x2"], ["y"], unit="firm")
    with pytest.raises(EfficiencyError, match="rts 'drs'"):
        dea(EG1, ["x1"], ["y"], unit="firm", rts="drs")


def test_same_scores_from_a_warehouse_table_a_query_and_a_csv(tmp_path):
    import duckdb

    con = duckdb.connect()
    con.execute("create table eg1 as select * from EG1")
    path = tmp_path / "eg1.csv"
    EG1.to_csv(path, index=False)
    base = dea(EG1, ["x1", "x2"], ["y"], unit="firm").efficiency
    for source in ("eg1", "select * from eg1 where y > 0", str(path)):
        fit = dea(source, ["x1", "x2"], ["y"], unit="firm", con=con, allow_failing_checks=True)
        got = fit.efficiency
        assert got.index.tolist() == ["1", "2", "3", "4", "5"] and np.allclose(got, base)
        assert fit.quality == ("not-checked" if source == str(path) else "unchecked-allowed")
    # the Python API gates as the command line does: an unchecked warehouse table is refused
    with pytest.raises(EfficiencyError, match="quality gate: refusing to estimate on main.eg1"):
        dea("eg1", ["x1", "x2"], ["y"], unit="firm", con=con)


@pytest.mark.parametrize("rts", ["crs", "vrs", "nirs", "ndrs"])
@pytest.mark.parametrize("orientation", ["input", "output"])
def test_warm_started_highspy_equals_batched_linprog_with_statuses(rts, orientation):
    from analyses.efficiency.lp import radial_scores

    rng = np.random.default_rng(5)
    X, Y = rng.uniform(1, 10, (2, 30)), rng.uniform(1, 10, (2, 30))
    exclude = np.arange(30)  # super-efficiency: some LPs infeasible under VRS / NDRS
    a, sa = radial_scores(X, Y, X, Y, rts=rts, orientation=orientation, exclude=exclude, solver="highspy")
    b, sb = radial_scores(X, Y, X, Y, rts=rts, orientation=orientation, exclude=exclude, solver="linprog")
    assert np.allclose(a, b, equal_nan=True, atol=1e-9)
    assert [s.status for s in sa] == [s.status for s in sb]
