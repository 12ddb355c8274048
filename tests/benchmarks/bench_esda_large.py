"""Benchmark: global and local Moran (999 permutations) at a million grid cells, and against esda 2.9 itself.

A side × side rook lattice (default 1000 × 1000 = 1,000,000 cells, 4 neighbours; --queen: 8; row-standardised,
built with scipy in about a second) and a spatially smoothed normal variable. Two parts:

1. At N = compare-side² (default 316² = 99,856): geopanel (analyses.esda.moran_global_arrays and
   moran_local_arrays) against esda.Moran (after np.random.seed) and esda.Moran_Local (seed=, n_jobs=1) on the
   same data, matrix and seed, in alternating runs; prints each side's median time and the ratio, and checks the
   results are equal: every simulated global I bit for bit, the LISA pseudo p-values and quadrants exactly, the
   means and s.d. of the simulated I_i to 1e-12.
2. At N = side²: geopanel alone — global Moran, local Moran, and both at once (moran_global_and_local, one on
   each core) — wall time, CPU time, tracemalloc peak and the peak resident memory of the phase (sampled every
   20 ms; numba's own allocations are not seen by tracemalloc). esda is not run there: Moran_Local keeps its
   simulations, N × 999 doubles (8 GB at a million cells).

Prints the load average before and after each phase: the machine is shared, so wall times are noisy; CPU time
is the steadier figure under load.

    .venv/bin/python tests/benchmarks/bench_esda_large.py [--side 1000] [--compare-side 316] [--reps 2] [--queen]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import tracemalloc
import warnings

import numpy as np
from scipy import sparse

from analyses.esda import moran_global_and_local, moran_global_arrays, moran_local_arrays
from geo.weights import SpatialWeights

SEED = 12345
PERMUTATIONS = 999


def lattice(side: int, queen: bool = False) -> SpatialWeights:
    """Row-standardised rook (or queen) contiguity on a side × side grid (cells numbered row by row)."""
    path = sparse.diags([np.ones(side - 1), np.ones(side - 1)], [1, -1])
    eye = sparse.eye(side)
    if queen:
        near = path + eye
        a = sparse.kron(near, near) - sparse.eye(side * side)
    else:
        a = sparse.kron(eye, path) + sparse.kron(path, eye)
    a = a.tocsr()
    a.eliminate_zeros()
    a.sort_indices()
    m = (sparse.diags(1.0 / np.asarray(a.sum(axis=1)).ravel()) @ a).tocsr()
    return SpatialWeights(ids=[str(i) for i in range(side * side)], matrix=m, kind="queen" if queen else "rook",
                          transform="R")


def variable(w: SpatialWeights, smooth: float) -> np.ndarray:
    e = np.random.default_rng(1).normal(size=w.n)
    return 10 + e + smooth * (w.matrix @ e)  # smooth > 0: positively autocorrelated


def _rss_gb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def measured(fn, *args, **kw):
    """(result, wall seconds, CPU seconds, tracemalloc peak GB, peak RSS GB during the call) of fn(*args)."""
    peak = [_rss_gb()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_gb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    traced = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    done.set()
    sampler.join()
    return out, wall, cpu, traced, max(peak[0], _rss_gb())


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def esda_global(w, y):
    import esda

    np.random.seed(SEED)
    return esda.Moran(y, w, permutations=PERMUTATIONS)


def esda_local(w, y):
    import esda

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.Moran_Local(y, w, transformation="r", permutations=PERMUTATIONS, seed=SEED, n_jobs=1)


def compare(side: int, reps: int, queen: bool) -> None:
    small = lattice(6, queen)  # compile both sides' numba kernels outside the timings
    esda_global(small.to_libpysal(), np.arange(36.0)), esda_local(small.to_libpysal(), np.arange(36.0))
    moran_global_arrays(small, np.arange(36.0), 9), moran_local_arrays(small, np.arange(36.0), 9)
    w = lattice(side, queen)
    pw = w.to_libpysal()
    y = variable(w, 0.5)
    times: dict[str, list[float]] = {k: [] for k in ("ours_g", "esda_g", "ours_l", "esda_l")}
    for rep in range(reps):
        ours_g, t_og, *_ = measured(moran_global_arrays, w, y, PERMUTATIONS, SEED)
        ref_g, t_eg, *_ = measured(esda_global, pw, y)
        ours_l, t_ol, *_ = measured(moran_local_arrays, w, y, PERMUTATIONS, SEED)
        ref_l, t_el, *_ = measured(esda_local, pw, y)
        for key, t in zip(times, (t_og, t_eg, t_ol, t_el), strict=True):
            times[key].append(t)
        assert ours_g["p_sim"] == ref_g.p_sim and ours_g["EI_sim"] == ref_g.EI_sim
        assert ours_g["seI_sim"] == ref_g.seI_sim  # from the same simulated I, bit for bit
        np.testing.assert_array_equal(ours_l["p_sim"][:, 0], ref_l.p_sim)
        np.testing.assert_array_equal(ours_l["q"][:, 0], ref_l.q)
        np.testing.assert_allclose(ours_l["EI_sim"][:, 0], ref_l.EI_sim, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ours_l["seI_sim"][:, 0], ref_l.seI_sim, rtol=1e-12, atol=1e-15)
        print(f"N = {w.n:,} run {rep + 1}: global geopanel {t_og:.1f}s, esda {t_eg:.1f}s; local geopanel "
              f"{t_ol:.1f}s, esda {t_el:.1f}s; results equal ({load()})", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"N = {w.n:,}, {PERMUTATIONS} permutations, medians of {reps} alternating runs: global geopanel "
          f"{med['ours_g']:.1f}s vs esda {med['esda_g']:.1f}s ({med['esda_g'] / med['ours_g']:.1f}x); local "
          f"geopanel {med['ours_l']:.1f}s vs esda {med['esda_l']:.1f}s ({med['esda_l'] / med['ours_l']:.1f}x); "
          "simulated global I equal bit for bit, LISA p_sim and quadrants equal", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="lattice side for the large run (N = side²)")
    parser.add_argument("--compare-side", type=int, default=316, help="lattice side for the esda comparison (0: skip)")
    parser.add_argument("--reps", type=int, default=2, help="alternating runs in the comparison")
    parser.add_argument("--queen", action="store_true", help="queen contiguity (8 neighbours) instead of rook")
    args = parser.parse_args()
    print(f"{load()}, {os.cpu_count()} cores", flush=True)
    if args.compare_side:
        compare(args.compare_side, args.reps, args.queen)

    t0 = time.perf_counter()
    w = lattice(args.side, args.queen)
    y = variable(w, 2.0)
    moran_global_arrays(lattice(6), np.arange(36.0), 9)  # compile the kernels outside the timings
    moran_local_arrays(lattice(6), np.arange(36.0), 9)
    print(f"N = {w.n:,} {w.kind} lattice and variable built, kernels compiled, in {time.perf_counter() - t0:.1f}s",
          flush=True)
    rows = []
    before = load()
    g, *m_g = measured(moran_global_arrays, w, y, PERMUTATIONS, SEED)
    rows.append(("global Moran", m_g, before, f"I {g['I']:.6f}, p_sim {g['p_sim']:.4f}"))
    before = load()
    loc, *m_l = measured(moran_local_arrays, w, y, PERMUTATIONS, SEED)
    rows.append(("local Moran (LISA)", m_l, before, f"{float((loc['p_sim'][:, 0] <= 0.05).mean()):.1%} p_sim <= 0.05"))
    before = load()
    (g2, loc2), *m_b = measured(moran_global_and_local, w, y, PERMUTATIONS, SEED)
    assert g2[0] == g and np.array_equal(loc2["p_sim"], loc["p_sim"])  # the same draws, both ways
    rows.append(("global + local at once", m_b, before, "results equal to the separate calls"))
    for name, (wall, cpu, traced, rss), before, note in rows:
        print(f"{name}, N = {w.n:,}, {PERMUTATIONS} permutations: {wall:.1f}s wall, {cpu:.1f}s CPU, tracemalloc "
              f"peak {traced:.2f} GB, RSS peak {rss:.2f} GB ({note}; {before} before)", flush=True)
    print(f"global then local: {m_g[0] + m_l[0]:.1f}s wall; both at once: {m_b[0]:.1f}s wall ({load()} after)",
          flush=True)


if __name__ == "__main__":
    main()
