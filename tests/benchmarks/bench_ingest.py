"""Ingest at DuckDB speed (issue 18, target 1): geopanel's ingest against DuckDB's own `read_csv` of the same
file, on a 1,000,000-row long-format CSV (a firm × year panel: firm code, registration city, year, R&D in 万元)
and on the same panel wide by year (100,000 firm rows × 10 year columns = 1,000,000 cells).

    .venv/bin/python tests/benchmarks/bench_ingest.py [--rows 1000000] [--repeat 3] [--registry FILE]
                                                      [--only long|wide]

geopanel: `ingest_file` (the in-process API) into a fresh copy of a `geopanel init` warehouse — reading,
NFKC/whitespace/thousands normalisation, 万元 → 亿元 conversion, resolving every (city, year) through the
crosswalk, duplicate and conflict detection, rejects/excluded bookkeeping and the write, in one
transaction. Peer: `create table … as select * from read_csv(file, header = true)` into a copy of the same
warehouse (type sniffing, parsing, the write). Runs alternate (geopanel, read_csv, geopanel, …) in one
process; the medians, their ratio (read_csv time / geopanel time; the target is ≥ 0.5) and the machine's
load average are printed, and the loaded rows are checked equal to what read_csv read (count, and every
value × 1e-4 by firm and year).
Copying the warehouse before each run is not timed. `--registry` reuses a warehouse made by `geopanel init`
(otherwise one is made first, about a minute). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from warehouse.ingest import ingest_file, load_mapping  # noqa: E402
from warehouse.resolve import resolve_units  # noqa: E402

YEARS = list(range(2011, 2021))


def cities(db: Path) -> list[str]:
    """Current prefecture-level city names that resolve to one city in every year of the panel."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("select name_zh from main.dim_city where is_current order by city_code")
                 .fetchall()]
        labels = pd.DataFrame({"unit_label": [n for n in names for _ in (YEARS[0], YEARS[-1])],
                               "parent_label": pd.array([pd.NA] * 2 * len(names), dtype="string"),
                               "year": pd.array([y for _ in names for y in (YEARS[0], YEARS[-1])], dtype="Int64")})
        out = resolve_units(con, labels, "city")
    good = out.groupby("unit_label")["status"].agg(lambda s: (s == "unit").all())
    return [n for n in names if good.get(n, False)]


def write_files(folder: Path, rows: int, names: list[str]) -> tuple[Path, Path]:
    """The long and the wide file (with their mappings beside them), the same panel."""
    rng = np.random.default_rng(18)
    firms = rows // len(YEARS)
    code = np.array([f"{i:06d}" for i in range(firms)])
    city = np.array(names)[rng.integers(0, len(names), firms)]
    values = rng.uniform(10, 90_000, (firms, len(YEARS))).round(2)
    long = pd.DataFrame({"证券代码": np.repeat(code, len(YEARS)), "注册地": np.repeat(city, len(YEARS)),
                         "年份": np.tile(YEARS, firms), "研发投入(万元)": values.ravel()})
    long_path = folder / "firms_long.csv"
    long.to_csv(long_path, index=False)
    (folder / "firms_long.csv.yml").write_text(yaml.safe_dump({
        "table": "firm_rd", "level": "city", "year": "年份", "unit": {"name": "注册地"}, "keys": {"firm": "证券代码"},
        "variables": {"研发投入(万元)": {"name": "rd_expenditure"}}}, allow_unicode=True), encoding="utf-8")
    wide = pd.DataFrame({"证券代码": code, "注册地": city, **{str(y): values[:, k] for k, y in enumerate(YEARS)}})
    wide_path = folder / "firms_wide.csv"
    wide.to_csv(wide_path, index=False)
    (folder / "firms_wide.csv.yml").write_text(yaml.safe_dump({
        "table": "firm_rd", "level": "city", "shape": "wide", "unit": {"name": "注册地"}, "keys": {"firm": "证券代码"},
        "variable": {"name": "rd_expenditure", "unit": "万元"}}, allow_unicode=True), encoding="utf-8")
    return long_path, wide_path


def run_geopanel(registry: Path, work: Path, data: Path) -> tuple[float, Path]:
    db = work / "g.duckdb"
    shutil.copyfile(registry, db)
    mapping = load_mapping(data.with_name(data.name + ".yml"))
    with duckdb.connect(str(db)) as con:
        t0 = time.perf_counter()
        result = ingest_file(con, data, mapping)
        seconds = time.perf_counter() - t0
    assert result.status == "loaded" and result.rows_rejected == 0, result
    return seconds, db


def run_read_csv(registry: Path, work: Path, data: Path) -> tuple[float, Path]:
    db = work / "p.duckdb"
    shutil.copyfile(registry, db)
    with duckdb.connect(str(db)) as con:
        t0 = time.perf_counter()
        con.execute("create table main.peer as select * from read_csv(?, header = true)", [str(data)])
        seconds = time.perf_counter() - t0
    return seconds, db


def check_equal(gdb: Path, pdb: Path, wide: bool) -> int:
    """The rows geopanel loaded are the file's values (万元 → 亿元) by firm and year, as read_csv read them."""
    with duckdb.connect(str(gdb), read_only=True) as con:
        con.execute(f"attach '{pdb}' as peer (read_only)")
        years = ", ".join(f'"{y}"' for y in YEARS)
        peer = f"(unpivot peer.main.peer on {years} into name year_text value v)" if wide else "peer.main.peer"
        year = "cast(year_text as integer)" if wide else "年份"
        value = "v" if wide else '"研发投入(万元)"'
        n_peer = con.execute(f"select count(*) from {peer}").fetchone()[0]
        n_ours, n_same = con.execute(f"""
            select (select count(*) from raw.firm_rd), count(*)
            from raw.firm_rd as r join (select lpad(cast(证券代码 as varchar), 6, '0') as firm, {year} as year,
                                               {value} as v from {peer}) as p
              on r.firm = p.firm and r.year = p.year
            where abs(r.value - p.v * 1e-4) <= 1e-12 * abs(p.v)""").fetchone()
    assert n_ours == n_peer == n_same, (n_ours, n_peer, n_same)
    return n_ours


def bench(label: str, registry: Path, work: Path, data: Path, repeat: int, wide: bool) -> None:
    ours, peers = [], []
    for k in range(repeat):
        g, gdb = run_geopanel(registry, work, data)
        p, pdb = run_read_csv(registry, work, data)
        ours.append(g)
        peers.append(p)
        if k == 0:
            rows = check_equal(gdb, pdb, wide)
        print(f"  run {k + 1}: geopanel {g:6.2f} s   read_csv {p:6.2f} s   load {os.getloadavg()[0]:.1f}", flush=True)
    g, p = statistics.median(ours), statistics.median(peers)
    print(f"{label}: {rows:,} rows equal; median geopanel {g:.2f} s ({rows / g:,.0f} rows/s), read_csv {p:.2f} s "
          f"({rows / p:,.0f} rows/s); ratio read_csv/geopanel {p / g:.2f} (target ≥ 0.5); "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--registry", type=Path, help="a warehouse made by geopanel init (copied, never written)")
    parser.add_argument("--only", choices=("long", "wide"), help="time one of the two files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        registry = work / "registry.duckdb"
        if args.registry:
            shutil.copyfile(args.registry, registry)
        else:
            from warehouse.build import init_warehouse

            print("making a warehouse with geopanel init …", flush=True)
            _, result = init_warehouse(registry, progress=lambda m: None)
            assert result.success, result.failures
        long_path, wide_path = write_files(work, args.rows, cities(registry))
        print(f"files: {long_path.stat().st_size / 1e6:.0f} MB long, {wide_path.stat().st_size / 1e6:.0f} MB wide; "
              f"load average at start {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        if args.only != "wide":
            bench("long", registry, work, long_path, args.repeat, wide=False)
        if args.only != "long":
            bench("wide", registry, work, wide_path, args.repeat, wide=True)


if __name__ == "__main__":
    main()
