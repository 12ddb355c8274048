"""Time `geopanel check` on a demo warehouse (a copy; the original is not written).

    .venv/bin/python tests/benchmarks/bench_check.py [data/geopanel.duckdb] [--repeat 2]

Prints the wall time of the whole command (a fresh process: imports, Great Expectations start-up, all
checks, reports, storing results) and, in-process, the time per table, so a slow check stands out. The
issue's target is under a minute on this machine; results are recorded in check_timing.md beside this file.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", nargs="?", default=str(ROOT / "data" / "geopanel.duckdb"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / Path(args.db).name  # same file name: dbt views name their catalog after it
        shutil.copyfile(args.db, db)
        walls = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            proc = subprocess.run([str(ROOT / ".venv" / "bin" / "geopanel"), "check", "--db", str(db),
                                   "--out", str(Path(tmp) / "reports")], capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            print(f"geopanel check: exit {proc.returncode}, {walls[-1]:.1f} s wall", flush=True)
        per_table = _per_table(db)
    print(f"best of {len(walls)}: {min(walls):.1f} s")
    for table, seconds in sorted(per_table.items(), key=lambda kv: -kv[1]):
        print(f"  {table:45s} {seconds:6.2f} s")


def _per_table(db: Path) -> dict[str, float]:
    """In-process: seconds spent per table (checks only; imports excluded)."""
    sys.path.insert(0, str(ROOT))
    from warehouse.db import connection
    from warehouse.quality.runner import run_checks

    spent: dict[str, float] = defaultdict(float)
    last = [time.perf_counter(), None]

    def progress(done: int, total: int, label: str) -> None:
        now = time.perf_counter()
        if last[1]:
            spent[last[1]] += now - last[0]
        last[:] = [now, label.split(":")[0]]

    with connection(db, read_only=True) as con:
        t0 = time.perf_counter()
        run_checks(con, progress=progress)
        print(f"in-process run_checks: {time.perf_counter() - t0:.1f} s")
    return dict(spent)


if __name__ == "__main__":
    main()
