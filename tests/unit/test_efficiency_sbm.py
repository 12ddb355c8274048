"""SBM and super-SBM with undesirable outputs (analyses/efficiency/sbm.py) against an independent solution of the
fractional programs (Dinkelbach's parametric method with plain linprog, in the original variables), hand
computations and Tone's theorems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analyses.efficiency import EfficiencyError, dea
from analyses.efficiency.sbm import sbm, sbm_scores

EG2 = pd.DataFrame({"firm": list("12345"), "y": [1, 2, 3, 4, 5], "x": [2, 4, 3, 5, 6]})


def dinkelbach(X, Yg, Yb, o, rts, sup=False):
    """min N(v)/D(v) by Dinkelbach (1967): repeat min N − qD (an LP in λ, s⁻, s^g, s^b), q ← N/D, until N − qD = 0.
    SBM (Tone 2001 (10), bads as Cooper et al. 2007 (13.34)):  N = 1 − Σs⁻/(m x), D = 1 + Σ(s^g/y^g + s^b/y^b)/q.
    super-SBM (Tone 2002 (5)):  N = 1 + Σs⁻/(m x), D = 1 − Σ(s^g/y^g + s^b/y^b)/q, o out of the reference."""
    m, n = X.shape
    s1, s2 = Yg.shape[0], Yb.shape[0]
    x, yg, yb = X[:, o], Yg[:, o], Yb[:, o]
    sign = 1.0 if sup else -1.0
    nx = np.r_[np.zeros(n), sign / (m * x), np.zeros(s1 + s2)]  # N = 1 + nx·v
    dy = np.r_[np.zeros(n + m), -sign / ((s1 + s2) * yg), -sign / ((s1 + s2) * yb)]  # D = 1 + dy·v
    if sup:  # Σλx − s⁻ ≤ x, −Σλy^g − s^g ≤ −y^g, Σλy^b − s^b ≤ y^b, s^g ≤ y^g, D ≥ 1e-9
        A = np.block([[X, -np.eye(m), np.zeros((m, s1 + s2))],
                      [-Yg, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))],
                      [Yb, np.zeros((s2, m + s1)), -np.eye(s2)],
                      [np.zeros((s1, n + m)), np.eye(s1), np.zeros((s1, s2))],
                      [-dy[None, :]]])
        b = np.r_[x, -yg, yb, yg, 1 - 1e-9]
        eq_a, eq_b = np.zeros((0, n + m + s1 + s2)), np.zeros(0)
        bounds = [(0, 0) if j == o else (0, None) for j in range(n)] + [(0, None)] * (m + s1 + s2)
    else:  # Xλ + s⁻ = x, Y^gλ − s^g = y^g, Y^bλ + s^b = y^b
        A, b = None, None
        eq_a = np.block([[X, np.eye(m), np.zeros((m, s1 + s2))],
                         [Yg, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))],
                         [Yb, np.zeros((s2, m + s1)), np.eye(s2)]])
        eq_b = np.r_[x, yg, yb]
        bounds = [(0, None)] * (n + m + s1 + s2)
    if rts == "vrs":
        eq_a = np.vstack([eq_a, np.r_[np.ones(n), np.zeros(m + s1 + s2)]])
        eq_b = np.r_[eq_b, 1.0]
    q = 1.0
    for _ in range(100):
        r = linprog(nx - q * dy, A_ub=A, b_ub=b, A_eq=eq_a if len(eq_b) else None, b_eq=eq_b if len(eq_b) else None,
                    bounds=bounds, method="highs")
        value = 1 + nx @ r.x - q * (1 + dy @ r.x)
        q = (1 + nx @ r.x) / (1 + dy @ r.x)
        if abs(value) < 1e-12:
            break
    return q


def test_one_input_one_output_crs_sbm_equals_ccr_and_super_sbm_by_hand():
    res = sbm(EG2, ["x"], ["y"], unit="firm", super_efficiency=True)
    ccr = dea(EG2, ["x"], ["y"], unit="firm")
    assert np.allclose(res.sbm, ccr.efficiency)  # one input, one output: ρ* = (y/x) / max(y/x) = θ*
    # firm 3 (3, 3) without itself: best ratio 5/6 (firm 5); (3 + 0.6, 3) or (3, 3 − 0.5) reach it: δ* = 1.2
    assert np.isclose(res.efficiency["3"], 1.2) and np.isclose(res.sbm["3"], 1.0)
    assert res.status.eq("optimal").all()


def panel(seed, n=12):
    rng = np.random.default_rng(seed)
    return rng.uniform(1, 10, (2, n)), rng.uniform(1, 10, (2, n)), rng.uniform(1, 10, (1, n))


@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_sbm_and_super_sbm_with_bads_equal_dinkelbach_on_the_fractional_program(rts):
    X, Yg, Yb = panel(5)
    out = sbm_scores(X, Yg, Yb, rts=rts, super_efficiency=True)
    for o in range(X.shape[1]):
        ref = dinkelbach(X, Yg, Yb, o, rts)
        assert np.isclose(out["rho"][o], ref, atol=1e-7)
        if ref >= 1 - 1e-7:
            assert np.isclose(out["score"][o], dinkelbach(X, Yg, Yb, o, rts, sup=True), atol=1e-7)
    assert (out["score"] >= 1 - 1e-9).sum() >= 2


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_tone_theorems_on_random_data(seed):
    X, Yg, Yb = panel(seed, n=10)
    crs = sbm_scores(X, Yg, rts="crs")
    vrs = sbm_scores(X, Yg, rts="vrs")
    ccr = dea(pd.DataFrame({"id": [str(i) for i in range(10)], "a": X[0], "b": X[1], "c": Yg[0], "d": Yg[1]}),
              ["a", "b"], ["c", "d"], unit="id")
    assert (crs["rho"] <= ccr.efficiency.to_numpy() + 1e-8).all()  # Tone 2001 Theorem 3: ρ* ≤ θ*_CCR
    assert (crs["rho"] <= vrs["rho"] + 1e-8).all()
    eff = crs["rho"] >= 1 - 1e-8  # SBM-efficient ⇔ all slacks zero (Tone 2001 Theorem 4)
    assert np.allclose(crs["slacks"][eff], 0, atol=1e-7)
    sup = sbm_scores(X, Yg, Yb, rts="vrs", super_efficiency=True)
    plain = sbm_scores(X, Yg, Yb, rts="vrs")
    ok = sup["status"] == "optimal"  # super only lifts the efficient; an infeasible one is said so, never hidden
    assert np.allclose(np.minimum(sup["score"][ok], 1), plain["rho"][ok], atol=1e-8)
    assert (plain["rho"][~ok] >= 1 - 1e-7).all() and np.isnan(sup["score"][~ok]).all()


def test_sbm_needs_positive_values_and_names_the_unit():
    with pytest.raises(EfficiencyError, match="x is 0.* firm 2.*positive"):
        sbm(EG2.assign(x=[2, 0, 3, 5, 6]), ["x"], ["y"], unit="firm")


def test_screened_reference_gives_the_scores_of_all_dmus():
    rng = np.random.default_rng(9)
    X, Yg, Yb = rng.uniform(1, 10, (2, 260)), rng.uniform(1, 10, (1, 260)), rng.uniform(1, 10, (1, 260))
    from analyses.efficiency.sbm import spanning

    R = spanning(X, Yg, Yb)
    assert len(R) < 260
    ours = sbm_scores(X[:, :40], Yg[:, :40], Yb[:, :40], rts="vrs", X_ref=X, Yg_ref=Yg, Yb_ref=Yb)["rho"]
    full = [dinkelbach(np.c_[X[:, :40], X], np.c_[Yg[:, :40], Yg], np.c_[Yb[:, :40], Yb], o, "vrs")
            for o in range(0, 40, 8)]
    assert np.allclose(ours[::8], full, atol=1e-7)


def test_warm_started_highspy_equals_batched_linprog_on_sbm_super_sbm_and_ddf():
    from analyses.efficiency.lp import solve_many
    from analyses.efficiency.luenberger import ddf_lp
    from analyses.efficiency.sbm import sbm_lp, super_sbm_lp

    X, Yg, Yb = panel(92218397, n=10)  # a seed where one super-SBM LP is infeasible
    for rts in ("crs", "vrs"):
        lps = [sbm_lp(X[:, k], Yg[:, k], Yb[:, k], X, Yg, Yb, rts=rts, orientation="none") for k in range(10)]
        lps += [super_sbm_lp(X[:, k], Yg[:, k], Yb[:, k], X, Yg, Yb, rts=rts, orientation="none", exclude=k)
                for k in range(10)]
        lps += [ddf_lp(X[:, k], Yg[:, k], Yb[:, k], X[:, :5], Yg[:, :5], Yb[:, :5], rts=rts) for k in range(10)]
        for group in (lps[:10], lps[10:20], lps[20:]):
            a, b = solve_many(group, solver="highspy"), solve_many(group, solver="linprog")
            assert [s.status for s in a] == [s.status for s in b]
            assert np.allclose([s.fun for s in a], [s.fun for s in b], equal_nan=True, atol=1e-9)
