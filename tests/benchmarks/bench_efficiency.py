"""Benchmarks: analyses.efficiency vs a per-DMU loop of linprog calls, same data, same solver (HiGHS).

--model ccr (default): CCR (or BCC, --rts vrs) scores of 3,000 DMUs.
--model gml-sbm / gml-ddf: the global Malmquist–Luenberger index (Oh 2010) of --dmus DMUs × --years years with
one undesirable output, SBM-based or directional-distance-based; the loop solves, per DMU-year, one LP against
its own year and one against all years pooled. The issue's 3,000 × 10 is within reach of analyses.efficiency for
gml-sbm but not of the loop (30,000 LPs of 30,000 columns), hence the smaller default; --loop-sample K times the
loop on K randomly drawn DMU-years only (their two LPs each, checked against ours) and extrapolates its time to
all DMU-years (stated as such in the output).

The loop is what a user would otherwise write (and what pyfrontier / pyDEA do): one dense HiGHS LP per DMU with
all DMUs as the reference set. analyses.efficiency screens the frontier (hierarchical blocks) and solves the LPs
in block-diagonal batches against the frontier DMUs only. Same data, same solver, runs alternated
(ours, loop, ours, loop, …) so that load drifts hit both; prints the times, the ratio of the medians, the largest
score difference and the load average before and after.

    .venv/bin/python tests/benchmarks/bench_efficiency.py [--dmus 3000] [--inputs 3] [--outputs 2] [--rts crs]
        [--reps 2]
    .venv/bin/python tests/benchmarks/bench_efficiency.py --model gml-sbm --dmus 300 --years 10 [--reps 2]
    .venv/bin/python tests/benchmarks/bench_efficiency.py --model gml-sbm --dmus 3000 --years 10 --loop-sample 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from analyses.efficiency import efficiency_scores, malmquist_luenberger


def loop(X: np.ndarray, Y: np.ndarray, rts: str) -> np.ndarray:
    """min θ s.t. Xλ ≤ θx_o, Yλ ≥ y_o (VRS: Σλ = 1): one linprog per DMU."""
    m, n = X.shape
    s = Y.shape[0]
    out = np.empty(n)
    c = np.r_[1.0, np.zeros(n)]
    eq = dict(A_eq=np.r_[0.0, np.ones(n)][None, :], b_eq=[1.0]) if rts == "vrs" else {}
    for o in range(n):
        A = np.block([[-X[:, [o]], X], [np.zeros((s, 1)), -Y]])
        b = np.r_[np.zeros(m), -Y[:, o]]
        out[o] = linprog(c, A_ub=A, b_ub=b, bounds=[(None, None)] + [(0, None)] * n, method="highs", **eq).x[0]
    return out


def plain_ddf(x, y, b, X, Y, B) -> float:
    """max β s.t. Xλ ≤ x, Yλ ≥ (1+β)y, Bλ = (1−β)b, λ ≥ 0 (Chung, Färe & Grosskopf 1997)."""
    n = X.shape[1]
    r = linprog(np.r_[-1.0, np.zeros(n)], A_ub=np.block([[np.zeros((X.shape[0], 1)), X], [y[:, None], -Y]]),
                b_ub=np.r_[x, -y], A_eq=np.column_stack([b, B]), b_eq=b, bounds=[(None, None)] + [(0, None)] * n,
                method="highs")
    return 1.0 / (1.0 + r.x[0])


def plain_sbm(x, y, b, X, Y, B) -> float:
    """Non-oriented CRS SBM with bads (Tone 2004) by its Charnes–Cooper LP, all columns: [t, Λ, S⁻, S^g, S^b]."""
    m, n = X.shape
    s1, s2 = Y.shape[0], B.shape[0]
    c = np.r_[1.0, np.zeros(n), -1.0 / (m * x), np.zeros(s1 + s2)]
    A = np.block([[np.ones((1, 1)), np.zeros((1, n + m)), (1.0 / ((s1 + s2) * y))[None, :],
                   (1.0 / ((s1 + s2) * b))[None, :]],
                  [-x[:, None], X, np.eye(m), np.zeros((m, s1 + s2))],
                  [-y[:, None], Y, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))],
                  [-b[:, None], B, np.zeros((s2, m + s1)), np.eye(s2)]])
    rhs = np.r_[1.0, np.zeros(m + s1 + s2)]
    return linprog(c, A_eq=A, b_eq=rhs, bounds=(0, None), method="highs").fun


def gml_loop(data: pd.DataFrame, measure: str, rows: np.ndarray | None = None):
    """The GML index by the loop (all rows), or, given `rows`, the (own, global) efficiencies of those rows only."""
    one = plain_sbm if measure == "sbm" else plain_ddf
    years = sorted(data.year.unique())
    X, Y, B = data[["x1", "x2"]].to_numpy().T, data[["y"]].to_numpy().T, data[["b"]].to_numpy().T
    own, glob = np.full(len(data), np.nan), np.full(len(data), np.nan)
    for j in (range(len(data)) if rows is None else rows):
        same = (data.year == data.year.iloc[j]).to_numpy()
        own[j] = one(X[:, j], Y[:, j], B[:, j], X[:, same], Y[:, same], B[:, same])
        glob[j] = one(X[:, j], Y[:, j], B[:, j], X, Y, B)
    if rows is not None:
        return own[rows], glob[rows]
    g = glob.reshape(len(years), -1)
    return (g[1:] / g[:-1]).ravel()


def gml_main(args) -> None:
    rng = np.random.default_rng(2026)
    rows = []
    for t in range(args.years):
        x = rng.uniform(1, 100, (args.dmus, 2))
        y = (x ** 0.4).prod(axis=1) * (1 + 0.02 * t) * np.exp(-rng.exponential(0.3, args.dmus))
        rows.append(pd.DataFrame({"unit": [f"u{i:05d}" for i in range(args.dmus)], "year": 2011 + t, "x1": x[:, 0],
                                  "x2": x[:, 1], "y": y, "b": y * rng.uniform(0.2, 1, args.dmus)}))
    data = pd.concat(rows, ignore_index=True).sort_values(["year", "unit"]).reset_index(drop=True)
    measure = args.model.split("-")[1]
    if args.loop_sample:
        sampled_main(args, data, measure)
        return
    load_before = os.getloadavg()
    ours_t, loop_t = [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        res = malmquist_luenberger(data, ["x1", "x2"], ["y"], ["b"], unit="unit", time="year", measure=measure)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = gml_loop(data, measure)
        loop_t.append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    ours = res.indices.sort_values(["year", "unit"]).gml.to_numpy()
    ratio = statistics.median(loop_t) / statistics.median(ours_t)
    print(f"global Malmquist–Luenberger ({measure}, CRS): {args.dmus} DMUs × {args.years} years, 2 inputs, 1 output, "
          f"1 undesirable output, {args.reps} alternating runs each")
    print(f"analyses.efficiency: {', '.join(f'{t:.2f}' for t in ours_t)} s")
    print(f"per-DMU linprog loop: {', '.join(f'{t:.2f}' for t in loop_t)} s")
    print(f"ratio (median loop / median ours): {ratio:.1f}×; largest |ΔGML| {np.nanmax(np.abs(ours - ref)):.2e}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")


def sampled_main(args, data: pd.DataFrame, measure: str) -> None:
    """Ours on everything; the loop on a random sample of DMU-years, its time extrapolated to all of them."""
    rows = np.sort(np.random.default_rng(7).choice(len(data), args.loop_sample, replace=False))
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    res = malmquist_luenberger(data, ["x1", "x2"], ["y"], ["b"], unit="unit", time="year", measure=measure)
    ours_t = time.perf_counter() - t0
    t0 = time.perf_counter()
    own, glob = gml_loop(data, measure, rows)
    sample_t = time.perf_counter() - t0
    load_after = os.getloadavg()
    dist = res.distances.set_index(["year", "unit"]).loc[list(zip(data.year[rows], data.unit[rows], strict=True))]
    eff = (lambda d: 1.0 / (1.0 + d)) if measure == "ddf" else (lambda d: d)
    diff = max(np.nanmax(np.abs(eff(dist["own"].to_numpy()) - own)),
               np.nanmax(np.abs(eff(dist["global"].to_numpy()) - glob)))
    full = sample_t / args.loop_sample * len(data)
    print(f"global Malmquist–Luenberger ({measure}, CRS): {args.dmus} DMUs × {args.years} years, 2 inputs, 1 output, "
          f"1 undesirable output")
    print(f"analyses.efficiency: {ours_t:.2f} s (all {len(data)} DMU-years)")
    print(f"per-DMU linprog loop: {sample_t:.2f} s for {args.loop_sample} sampled DMU-years (2 LPs each) → "
          f"{full:.0f} s extrapolated to all {len(data)}")
    print(f"ratio (extrapolated loop / ours): {full / ours_t:.1f}×; largest |Δefficiency| on the sample {diff:.2e}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dmus", type=int, default=None, help="default 3000 (ccr), 300 (gml-*)")
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--outputs", type=int, default=2)
    parser.add_argument("--rts", default="crs")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--model", default="ccr", choices=["ccr", "gml-sbm", "gml-ddf"])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--loop-sample", type=int, default=0, help="gml-*: time the loop on this many DMU-years "
                        "and extrapolate (0: the whole loop)")
    args = parser.parse_args()
    if args.model != "ccr":
        args.dmus = args.dmus or 300
        gml_main(args)
        return
    args.dmus = args.dmus or 3000
    rng = np.random.default_rng(2026)
    X = rng.uniform(1, 100, (args.inputs, args.dmus))
    frontier = np.prod(X ** (0.8 / args.inputs), axis=0)
    share = rng.dirichlet(np.ones(args.outputs), args.dmus).T
    Y = frontier * share * np.exp(-rng.exponential(0.3, args.dmus))
    load_before = os.getloadavg()
    ours_t, loop_t = [], []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        ours = efficiency_scores(X, Y, rts=args.rts)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = loop(X, Y, args.rts)
        loop_t.append(time.perf_counter() - t0)
    load_after = os.getloadavg()
    ratio = statistics.median(loop_t) / statistics.median(ours_t)
    print(f"{args.dmus} DMUs, {args.inputs} inputs, {args.outputs} outputs, {args.rts.upper()} input-oriented, "
          f"{args.reps} alternating runs each")
    print(f"analyses.efficiency: {', '.join(f'{t:.2f}' for t in ours_t)} s")
    print(f"per-DMU linprog loop: {', '.join(f'{t:.2f}' for t in loop_t)} s")
    print(f"ratio (median loop / median ours): {ratio:.1f}×; largest |Δθ| {np.max(np.abs(ours - ref)):.2e}; "
          f"efficient DMUs {int((ours > 1 - 1e-7).sum())}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
