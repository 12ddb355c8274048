"""Spatial panels at a million units (issue 18, part 2): two-way SDM, T = 10, 6-nearest-neighbour W (directed,
row-standardised) on uniform random points, with effects (1,000 draws), their simulated SEs, the information-
matrix SEs and the LR tests against SAR, SEM and SLX (not part of `make test`).

Run: .venv/bin/python tests/benchmarks/bench_spatial_panel_large.py [--sizes 10000,200000,1000000]
- N = 10,000: the exact method (sparse LU) against the large-N methods, times and the largest differences.
- N = 200,000 and 1,000,000: the automatic choice (Barry–Pace series for this non-symmetric W), time and peak
  memory. Each size runs in its own process, so the peak resident memory (getrusage) is that size's alone; it
  includes building the simulated data (reported separately: "before fit").
The load average is printed with every timing: on a shared machine the times are only as good as it is quiet;
the CPU time (user + system, both threads) of each fit is printed too, as a measure of the work done.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

T = 10


def knn(n: int, k: int = 6, seed: int = 0) -> sp.csr_matrix:
    pts = np.random.default_rng(seed).uniform(size=(n, 2))
    _, idx = cKDTree(pts).query(pts, k + 1)
    return sp.csr_matrix((np.full(n * k, 1.0 / k), (np.repeat(np.arange(n), k), idx[:, 1:].ravel())), shape=(n, n))


def simulate(w: sp.csr_matrix, rho: float = 0.4, seed: int = 1) -> pd.DataFrame:
    """y_t = (I − ρW)^{-1}(X_tβ + WX_tθ + μ + α_t + ε_t), the inverse applied by its Neumann series."""
    from analyses.spatial_panel.spectrum import _Operator

    n = w.shape[0]
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, n, 2))
    mu, alpha = rng.normal(size=n), rng.normal(size=T)
    rhs = np.stack([x[s] @ [1.0, -0.5] + w @ x[s] @ [0.5, 0.3] + mu + alpha[s] + 0.5 * rng.normal(size=n)
                    for s in range(T)], axis=1)
    y = _Operator(w).neumann(rho, rhs).T
    return pd.DataFrame({"unit": np.tile(np.arange(n), T), "year": np.repeat(np.arange(T), n), "y": y.ravel(),
                         "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def load() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def fit(data: pd.DataFrame, w: sp.csr_matrix, logdet: str):
    from analyses.spatial_panel import spatial_panel

    start, cpu0 = time.perf_counter(), cpu()
    res = spatial_panel("y ~ x1 + x2", data, (w, list(range(w.shape[0]))), "unit", "year", model="sdm",
                        effects="twoways", w_transform=None, logdet=logdet)
    elapsed = time.perf_counter() - start
    print(f"  [{logdet}: wall {elapsed:.1f} s, CPU (user + system, all threads) {cpu() - cpu0:.1f} s]", flush=True)
    return res, elapsed


def one(n: int) -> None:
    import analyses.spatial_panel  # noqa: F401  (imports outside the timing)

    w = knn(n)
    data = simulate(w)
    before = peak_gb()
    print(f"N = {n:,}, T = {T}: data ready ({before:.2f} GB peak before fit; {load()})", flush=True)
    if n <= 20_000:
        exact, t_exact = fit(data, w, "exact")
        print(f"  exact ({exact.logdet_method}): {t_exact:.1f} s ({load()})", flush=True)
        for method in ("mc",):
            res, t = fit(data, w, method)
            d = {"params": np.abs(res.params - exact.params).max(), "SEs": np.abs(res.bse - exact.bse).max(),
                 "effects": np.abs(res.effects["estimate"] - exact.effects["estimate"]).max(),
                 "effect SEs": np.abs(res.effects["std_error"] - exact.effects["std_error"]).max(),
                 "log L": abs(res.loglik - exact.loglik),
                 "test statistics (relative)": (np.abs(res.tests["statistic"] - exact.tests["statistic"])
                                                / np.abs(exact.tests["statistic"])).max()}
            print(f"  {method}: {t:.1f} s ({load()}); ratio exact/{method} {t_exact / t:.2f}; max |difference|: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in d.items()), flush=True)
            lr = res.tests["test"].str.startswith("LR SDM")
            for (_, a), (_, b) in zip(exact.tests[lr].iterrows(), res.tests[lr].iterrows(), strict=True):
                print(f"    {a['test']}: exact {a['statistic']:.3f}, {method} {b['statistic']:.3f} ({b['note']})")
        return
    res, t = fit(data, w, "auto")
    print(f"  {res.logdet_detail}")
    print(f"  {t:.1f} s, peak memory {peak_gb():.2f} GB ({load()})", flush=True)
    print(res.estimates.round(5).to_string())
    print(res.effects[["variable", "effect", "estimate", "std_error"]].round(5).to_string(index=False))
    print(res.tests[["test", "statistic", "df"]].round(3).to_string(index=False), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,200000,1000000")
    parser.add_argument("--one", type=int)
    args = parser.parse_args()
    if args.one:
        one(args.one)
    else:
        for size in (int(s) for s in args.sizes.split(",")):
            subprocess.run([sys.executable, __file__, "--one", str(size)], check=True)
