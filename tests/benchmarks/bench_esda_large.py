"""Benchmark: global and local Moran (999 permutations) at a million grid cells, and streamed permutations
against the previous whole-array ones.

A side × side rook lattice (default 1000 × 1000 = 1,000,000 cells, row-standardised, built with scipy in
well under a second) and a spatially smoothed normal variable. Two parts:

1. At N = compare-side² (default 316² = 99,856), where the previous approach still fits: global Moran with
   the permutations drawn and used in chunks (analyses.esda.moran_global_arrays) against the previous
   approach, written below (all permutations kept as one N × 999 int64 array, used 500 columns at a time),
   in alternating runs; prints each side's median time and tracemalloc peak, the ratios, and checks that
   the pseudo p-values are equal and the mean and s.d. of the simulated I agree to 1e-12 (the previous
   approach sums each column in another order than esda, so single simulated values differ by ~1e-16).
2. At N = side²: global Moran and local Moran (LISA, conditional permutations, which only ever hold
   999 × max-neighbours ids) by geopanel alone, time and tracemalloc peak. The previous approach is not
   run there: its id array alone would be N × 999 × 8 bytes (8 GB at a million cells).

Prints the load average before and after and the process's peak resident memory.

    .venv/bin/python tests/benchmarks/bench_esda_large.py [--side 1000] [--compare-side 316] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
import tracemalloc

import numpy as np
from scipy import sparse

from analyses.esda import _global_sim_summary, moran_global_arrays, moran_local_arrays
from geo.weights import SpatialWeights

SEED = 12345
PERMUTATIONS = 999


def rook_lattice(side: int) -> SpatialWeights:
    """Row-standardised rook contiguity on a side × side grid (cells numbered row by row)."""
    path = sparse.diags([np.ones(side - 1), np.ones(side - 1)], [1, -1])
    eye = sparse.eye(side)
    a = (sparse.kron(eye, path) + sparse.kron(path, eye)).tocsr()
    m = (sparse.diags(1.0 / np.asarray(a.sum(axis=1)).ravel()) @ a).tocsr()
    return SpatialWeights(ids=[str(i) for i in range(side * side)], matrix=m, kind="rook", transform="R")


def variable(w: SpatialWeights, smooth: float) -> np.ndarray:
    e = np.random.default_rng(1).normal(size=w.n)
    return 10 + e + smooth * (w.matrix @ e)  # smooth > 0: positively autocorrelated


def previous_whole_array(w: SpatialWeights, y: np.ndarray, permutations: int = PERMUTATIONS,
                         seed: int = SEED) -> tuple[dict[str, float], np.ndarray]:
    """The previous approach: all permutations as one n × k int64 array, used 500 columns at a time."""
    m, n = w.matrix, len(y)
    z = y - y.mean()
    z2ss, s0 = (z * z).sum(), w.s0
    rs = np.random.RandomState(seed)
    perms = np.empty((n, permutations), dtype=np.int64)
    for r in range(permutations):
        perms[:, r] = rs.permutation(n)
    sim = np.empty(permutations)
    for start in range(0, permutations, 500):
        zp = z[perms[:, start:start + 500]]  # (n, c)
        sim[start:start + 500] = n / s0 * (zp * (m @ zp)).sum(axis=0) / z2ss
    stat = float(n / s0 * (z * (m @ z)).sum() / z2ss)
    return {"I": stat, **_global_sim_summary(stat, sim, permutations)}, sim


def measured(fn, *args):
    """(result, seconds, tracemalloc peak in GB) of fn(*args)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    return out, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="lattice side for the large run (N = side²)")
    parser.add_argument("--compare-side", type=int, default=316, help="lattice side for the comparison")
    parser.add_argument("--reps", type=int, default=2, help="alternating runs per side in the comparison")
    parser.add_argument("--no-local", action="store_true", help="skip LISA at the large N")
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, {os.cpu_count()} cores",
          flush=True)

    w = rook_lattice(args.compare_side)
    y = variable(w, 0.0)  # no autocorrelation: p_sim lies inside (0, 1), so equal p-values mean something
    times: dict[str, list[float]] = {"chunked": [], "whole": []}
    peaks: dict[str, list[float]] = {"chunked": [], "whole": []}
    for rep in range(args.reps):
        new, t_new, p_new = measured(moran_global_arrays, w, y, PERMUTATIONS, SEED)
        (old, old_sim), t_old, p_old = measured(previous_whole_array, w, y)
        times["chunked"].append(t_new)
        times["whole"].append(t_old)
        peaks["chunked"].append(p_new)
        peaks["whole"].append(p_old)
        assert new["p_sim"] == old["p_sim"], (new["p_sim"], old["p_sim"])
        assert abs(new["I"] - old["I"]) <= 1e-12  # and the simulations agree (summation order differs)
        assert abs(new["EI_sim"] - old["EI_sim"]) <= 1e-12 and abs(new["seI_sim"] - old["seI_sim"]) <= 1e-12
        print(f"N = {w.n:,} run {rep + 1}: chunked {t_new:.1f}s / {p_new:.2f} GB, whole array {t_old:.1f}s / "
              f"{p_old:.2f} GB (I {new['I']:.6f}, p_sim {new['p_sim']:.4f} both)", flush=True)
    t_new, t_old = statistics.median(times["chunked"]), statistics.median(times["whole"])
    p_new, p_old = max(peaks["chunked"]), max(peaks["whole"])
    print(f"global Moran, N = {w.n:,}, {PERMUTATIONS} permutations (medians of {args.reps} alternating runs): "
          f"chunked {t_new:.1f}s, peak {p_new:.2f} GB; whole array {t_old:.1f}s, peak {p_old:.2f} GB; "
          f"time ratio {t_old / t_new:.2f}x, memory ratio {p_old / p_new:.0f}x; p_sim equal", flush=True)

    t0 = time.perf_counter()
    w = rook_lattice(args.side)
    y = variable(w, 2.0)
    print(f"N = {w.n:,} rook lattice and variable built in {time.perf_counter() - t0:.1f}s", flush=True)
    g, t_g, p_g = measured(moran_global_arrays, w, y, PERMUTATIONS, SEED)
    print(f"global Moran, N = {w.n:,}: {t_g:.1f}s, peak {p_g:.2f} GB (I {g['I']:.6f}, p_sim {g['p_sim']:.4f}; "
          f"the whole array would hold {w.n * PERMUTATIONS * 8 / 1e9:.0f} GB of ids)", flush=True)
    if not args.no_local:
        loc, t_l, p_l = measured(moran_local_arrays, w, y, PERMUTATIONS, SEED)
        share = float((loc["p_sim"][:, 0] <= 0.05).mean())
        print(f"local Moran (LISA), N = {w.n:,}: {t_l:.1f}s, peak {p_l:.2f} GB ({share:.1%} of cells p_sim <= 0.05)",
              flush=True)
        print(f"global + local at N = {w.n:,}: {t_g + t_l:.1f}s, peak {max(p_g, p_l):.2f} GB", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    load_after = os.getloadavg()
    print(f"process peak RSS {rss:.2f} GB (whole script, including the comparison); load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after", flush=True)


if __name__ == "__main__":
    main()
