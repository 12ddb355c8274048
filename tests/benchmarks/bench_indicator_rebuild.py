"""Benchmark: rebuild every indicator layer of a demo warehouse (`dbt build` of the indicator models and
their tests, on a copy), and the raster step (county zonal statistics of every demo GeoTIFF).

    .venv/bin/python tests/benchmarks/bench_indicator_rebuild.py DEMO_DB DEMO_FILES_DIR

DEMO_DB is a warehouse built by `geopanel demo --db DEMO_DB --out DEMO_FILES_DIR`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from warehouse.build import run_dbt
from warehouse.db import connection
from warehouse.rasters import ingest_rasters

SELECT = [
    "index_systems", "index_definitions", "market_goods", "market_adjacent_provinces", "market_pair_adjustments",
    "agglomeration_sectors", "stg_raster__county_nightlight", "path:models/intermediate/indicators",
    "path:models/intermediate/market", "path:models/intermediate/agglomeration",
    "path:models/intermediate/nightlight", "path:models/marts/indicators",
]


def main(db: Path, files: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w.duckdb"
        shutil.copyfile(db, work)
        t0 = time.perf_counter()
        with connection(work) as con:
            con.execute("drop table if exists raw.county_nightlight")
            results = ingest_rasters(con, sorted(files.glob("ntl_*.tif")), sensor="synthetic")
        t1 = time.perf_counter()
        result = run_dbt(["build", "--select", *SELECT], db=work, progress=lambda m: None)
        t2 = time.perf_counter()
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.counts.items()))
    print(f"raster zonal statistics: {len(results)} rasters in {t1 - t0:.1f}s")
    print(f"indicator rebuild (dbt build of the indicator layers and their tests): {t2 - t1:.1f}s "
          f"({counts}); success = {result.success}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
