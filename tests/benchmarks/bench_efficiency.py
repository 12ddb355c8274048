"""Benchmark: CCR (or BCC) scores of 3,000 DMUs by analyses.efficiency vs a per-DMU loop of linprog calls.

The loop is what a user would otherwise write (and what pyfrontier / pyDEA do): one dense HiGHS LP per DMU with
all DMUs as the reference set. analyses.efficiency screens the frontier (hierarchical blocks) and solves the LPs
in block-diagonal batches against the frontier DMUs only. Same data, same solver, runs alternated
(ours, loop, ours, loop, …) so that load drifts hit both; prints the times, the ratio of the medians, the largest
score difference and the load average before and after.

    .venv/bin/python tests/benchmarks/bench_efficiency.py [--dmus 3000] [--inputs 3] [--outputs 2] [--rts crs]
        [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from scipy.optimize import linprog

from analyses.efficiency import efficiency_scores


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dmus", type=int, default=3000)
    parser.add_argument("--inputs", type=int, default=3)
    parser.add_argument("--outputs", type=int, default=2)
    parser.add_argument("--rts", default="crs")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
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
