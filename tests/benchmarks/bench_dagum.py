"""Benchmark: Dagum decomposition (analyses.inequality.dagum) against a straightforward all-pairs one.

40,000 units in 300 groups (lognormal values, uneven group sizes), a few years. The reference,
written here, takes every pair of groups (j, h) and sums |y_ji − y_hr| over all their unit pairs by numpy
broadcasting (1.6e9 unit pairs a year), then applies Dagum's formulas; analyses.inequality sorts once and
accumulates pair sums block by block. Runs alternate (geopanel, reference) per year; prints the median
times, the ratio, the largest absolute difference of G, G_w, G_nb, G_t and the load average.

    .venv/bin/python tests/benchmarks/bench_dagum.py [--years 9] [--units 40000] [--groups 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from analyses.inequality import dagum


def all_pairs(y: np.ndarray, groups: np.ndarray) -> tuple[float, float, float, float]:
    """S[j, h] = Σ_{i∈j} Σ_{r∈h} |y_i − y_r| by broadcasting over each group pair, then Dagum's formulas."""
    labels, codes = np.unique(groups, return_inverse=True)
    k = len(labels)
    members = [y[codes == j] for j in range(k)]
    s = np.empty((k, k))
    for j in range(k):
        for h in range(j, k):
            s[j, h] = s[h, j] = np.abs(members[j][:, None] - members[h][None, :]).sum()
    n = np.array([len(m) for m in members], dtype=float)
    mean = np.array([m.mean() for m in members])
    mu, total = y.mean(), len(y)
    p, sh = n / total, n * mean / (total * mu)
    within = np.diag(s) / (2 * n * n * mean)
    between = s / (np.outer(n, n) * (mean[:, None] + mean[None, :]))
    d = np.abs(mean[:, None] - mean[None, :]) / (s / np.outer(n, n))
    w = np.outer(p, sh) + np.outer(sh, p)
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    return (s.sum() / (2 * total * total * mu), float((within * p * sh).sum()),
            float((between * w * d)[upper].sum()), float((between * w * (1 - d))[upper].sum()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=40_000)
    parser.add_argument("--groups", type=int, default=300)
    parser.add_argument("--years", type=int, default=9)
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    sizes = rng.dirichlet(np.full(args.groups, 2.0))
    groups = rng.choice(args.groups, size=args.units, p=sizes)
    level = rng.normal(0, 0.5, args.groups)[groups]
    load_before = os.getloadavg()
    t_geo, t_ref = [], []
    max_diff = 0.0
    for year in range(args.years):
        y = np.exp(level + 0.02 * year + rng.normal(0, 0.6, args.units))
        t0 = time.perf_counter()
        res = dagum(y, groups)
        t1 = time.perf_counter()
        ref = all_pairs(y, groups)
        t2 = time.perf_counter()
        t_geo.append(t1 - t0)
        t_ref.append(t2 - t1)
        max_diff = max(max_diff, *(abs(a - b) for a, b in zip((res.g, res.g_w, res.g_nb, res.g_t), ref, strict=True)))
        print(f"year {year + 1}/{args.years}: geopanel {t1 - t0:.3f}s, all pairs {t2 - t1:.3f}s", flush=True)
    geo, direct = statistics.median(t_geo), statistics.median(t_ref)
    print(f"{args.units} units, {args.groups} groups, {args.years} years (medians per year): geopanel {geo:.3f}s, "
          f"all pairs by group pair {direct:.2f}s, ratio {direct / geo:.0f}x; max |difference| of G, G_w, G_nb, "
          f"G_t = {max_diff:.2e} ({'identical to 1e-12' if max_diff <= 1e-12 else 'NOT within 1e-12'}); "
          f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
