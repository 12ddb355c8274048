"""Benchmark: global Moran (999 permutations) and LISA (999 permutations) for every indicator and year of the
county panel, geopanel against calling esda once per indicator-year, on the same data, matrix and seed.

Run after `make demo`:  .venv/bin/python tests/benchmarks/bench_esda.py [--db PATH] [--limit N]

Both sides get the same aligned data (analyses.esda.prepare) and the same row-standardised county queen
matrix (islands linked to their nearest county), so the comparison times the statistics only. The script
also checks that the results are identical: I, its pseudo p-value, and every county's local I and pseudo
p-value.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from analyses.esda import lisa, moran, prepare
from warehouse.db import connection
from warehouse.weights import build_weights

SEED = 12345
PERMUTATIONS = 999


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="warehouse (default $GEOPANEL_DB or data/geopanel.duckdb)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N indicator-years (a quick run)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import esda

    with connection(args.db, read_only=True) as con:
        w = build_weights(con, "queen", "county", islands="knn")
        numeric = [c for c, t in con.execute("select column_name, column_type from (describe fct_county_year)")
                   .fetchall() if t in ("DOUBLE", "BIGINT", "INTEGER") and c != "year"]
        years = [y for (y,) in con.execute("select distinct year from fct_county_year order by 1").fetchall()]
        pairs = [(c, y) for c in numeric for y in years][: args.limit]
        columns = sorted({c for c, _ in pairs})
        wanted = sorted({y for _, y in pairs})
        kw = {"years": wanted, "permutations": PERMUTATIONS, "seed": SEED, "unmatched": "drop", "con": con,
              "allow_failing_checks": True}  # a benchmark, not an estimation: no `geopanel check` first
        print(f"county queen W: {w.n} units, {w.n_links} links; {len(columns)} indicators × {len(wanted)} years")

        start = time.perf_counter()
        g = moran("fct_county_year", columns, w, **kw)
        loc = lisa("fct_county_year", columns, w, gi_star=False, **kw)
        t_geopanel = time.perf_counter() - start

        prepared = prepare("fct_county_year", columns, w, years=wanted, unmatched="drop", con=con)
    slices = [s for s in prepared.slices if (s.column, s.year) in set(pairs)]
    pws = {}
    start = time.perf_counter()
    ref = {}
    for s in slices:
        key = tuple(s.ids)
        if key not in pws:
            pws[key] = s.w.to_libpysal()
        np.random.seed(SEED)
        m = esda.Moran(s.y, pws[key], permutations=PERMUTATIONS)
        lm = esda.Moran_Local(s.y, pws[key], permutations=PERMUTATIONS, seed=SEED)
        ref[(s.column, s.year)] = (m, lm)
    t_esda = time.perf_counter() - start

    glob = g.long.set_index(["indicator", "year"])
    local = loc.table.set_index(["indicator", "year"])
    worst_i = max(abs(glob.loc[k, "value"] - m.I) for k, (m, _) in ref.items())
    same_p = all(glob.loc[k, "p_sim"] == m.p_sim for k, (m, _) in ref.items())
    same_local = all(np.array_equal(local.loc[k, "p_sim"].to_numpy(), lm.p_sim)
                     and np.allclose(local.loc[k, "local_i"].to_numpy(), lm.Is, rtol=1e-12, atol=0)
                     for k, (_, lm) in ref.items())
    n = len(slices)
    print(f"{n} indicator-years, {PERMUTATIONS} permutations each, global Moran + LISA")
    print(f"geopanel (vectorised, shared permutation draws): {t_geopanel:8.1f} s ({t_geopanel / n * 1000:.0f} ms each)")
    print(f"esda, one call per indicator-year:               {t_esda:8.1f} s ({t_esda / n * 1000:.0f} ms each)")
    print(f"ratio esda / geopanel: {t_esda / t_geopanel:.2f}x")
    print(f"identical results: max |ΔI| = {worst_i:.1e}, global p_sim equal: {same_p}, "
          f"local I and p_sim equal for every county: {same_local}")


if __name__ == "__main__":
    main()
