"""Crash trials (issue 19; not part of `make test`): kill each writing command with SIGKILL at random points,
many times, and check after every kill that

- the warehouse opens (read-only, as an analyst's query would),
- it holds exactly the state before or after the command (every table's row count and row hash; columns that
  record when something ran are left out, and tables that differ between two uninterrupted runs are compared
  by row count only),
- the next command (`geopanel build`, and the killed command run again) succeeds without manual cleanup,
- every committed value reaches its panel after that build (raw values = fct_city_year cells), and values of
  an unloaded file are gone from it.

    .venv/bin/python tests/benchmarks/crash_trials.py --trials 20
    .venv/bin/python tests/benchmarks/crash_trials.py --trials 5 --commands ingest,build --template my_init.duckdb

Commands: build (`geopanel build --select "dim_variable stg_raw__city_values fct_city_year"`: the models a new
raw file reaches the city panel through), ingest, unload, weights (`weights build`), check, fit
(`spatial-panel fit … --store`). The warehouse is small: `geopanel init` (or --template, a warehouse right
after init), one synthetic city file (120 cities × 8 years × 3 variables) ingested and fully built; the trials
ingest / unload a second file of two more variables. A kill time is drawn uniformly from 0 to 1.1× the
command's uninterrupted duration, so some commands finish first (counted as `finished`).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from warehouse.db import connect, table_digests  # noqa: E402

SKIP_COLUMNS = frozenset({"build_id", "run_id"})
ECON = {"地区生产总值(亿元)": ("gdp", "亿元"), "年末人口(万人)": ("pop", "万人"), "固定资产投资(亿元)": ("fai", "亿元")}
EXTRA = {"研发经费(亿元)": ("rd_spend", "亿元"), "高新技术产值(亿元)": ("hightech_output", "亿元")}
DB_NAME = "geopanel.duckdb"


def geopanel(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geopanel", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def must(result: subprocess.CompletedProcess, what: str) -> None:
    if result.returncode != 0:
        raise SystemExit(f"{what} failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def city_file(folder: Path, name: str, variables: dict, cities: list[str], seed: int) -> Path:
    rng = random.Random(seed)
    header = ["城市", "年份", *variables]
    lines = [",".join(header)]
    for city in cities:
        for year in range(2011, 2019):
            lines.append(",".join([city, str(year), *(f"{rng.uniform(50, 5000):.2f}" for _ in variables)]))
    data = folder / f"{name}.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = {"table": name, "level": "city", "shape": "long", "unit": {"name": "城市"}, "year": "年份",
               "variables": {label: {"name": v, "unit": u} for label, (v, u) in variables.items()}}
    (folder / f"{name}.csv.yml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return data


def digests(db: Path) -> dict[str, tuple[int, str]]:
    con = connect(db, read_only=True, spatial=False)
    try:
        return table_digests(con, skip_columns=SKIP_COLUMNS)
    finally:
        con.close()


def same(state: dict, other: dict, volatile: set[str]) -> bool:
    if state.keys() != other.keys():
        return False
    return all(state[t][0] == other[t][0] if t in volatile else state[t] == other[t] for t in state)


def panel_problems(db: Path) -> list[str]:
    """Raw values of the trial files missing from (or different in) fct_city_year, and panel values of a
    variable that no raw row holds any more (an unloaded file's)."""
    problems = []
    con = connect(db, read_only=True, spatial=False)
    try:
        columns = {r[0] for r in con.execute("describe fct_city_year").fetchall()}
        for table, variables in (("city_econ", ECON), ("city_extra", EXTRA)):
            exists = con.execute("select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?",
                                 [table]).fetchone()[0]
            for variable, _ in variables.values():
                raw = con.execute(f"select count(*) from raw.{table} where variable = ?", [variable]).fetchone()[0] \
                    if exists else 0
                if raw and variable not in columns:
                    problems.append(f"{variable}: {raw} raw values, no panel column")
                    continue
                if raw:
                    bad = con.execute(
                        f"""select count(*) from raw.{table} r left join fct_city_year f
                            on f.city_code = r.unit_code and f.year = r.year where r.variable = ?
                            and (f.{variable} is null or abs(f.{variable} - r.value) > 1e-9 * abs(r.value))""",
                        [variable]).fetchone()[0]
                    if bad:
                        problems.append(f"{variable}: {bad} of {raw} raw values not in the panel")
                elif variable in columns:
                    left = con.execute(f"select count({variable}) from fct_city_year").fetchone()[0]
                    if left:
                        problems.append(f"{variable}: unloaded, yet {left} panel values remain")
    finally:
        con.close()
    return problems


@dataclass
class Command:
    name: str
    start: Path  # the warehouse the command runs on
    args: list[str]
    seconds: float = 0.0
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    volatile: set[str] = field(default_factory=set)


@dataclass
class Tally:
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


def fresh(start: Path, folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    db = folder / DB_NAME
    shutil.copyfile(start, db)
    return db


def prepare(work: Path, template: Path | None, build_select: str) -> dict[str, Command]:
    base = work / "base"
    base.mkdir(parents=True, exist_ok=True)
    db = base / DB_NAME
    files = work / "files"
    files.mkdir(exist_ok=True)
    if not db.exists():
        t0 = time.perf_counter()
        if template:
            shutil.copyfile(template, db)
        else:
            must(geopanel("init", "--db", str(db)), "geopanel init")
        con = connect(db, read_only=True, spatial=False)
        cities = [r[0] for r in con.execute("select name_zh from dim_city where is_current and is_mainland and "
                                            "city_code not like '%0000' order by city_code limit 120").fetchall()]
        con.close()
        econ = city_file(files, "city_econ", ECON, cities, seed=1)
        city_file(files, "city_extra", EXTRA, cities, seed=2)
        must(geopanel("ingest", str(econ), "--db", str(db)), "ingest city_econ")
        must(geopanel("build", "--db", str(db)), "the first full build")
        must(geopanel("weights", "build", "queen_city_econ", "--kind", "queen", "--level", "city", "--db", str(db)),
             "weights build")
        print(f"base warehouse ready in {time.perf_counter() - t0:.0f} s: {db}", flush=True)
    loaded = base / "with_extra.duckdb"
    if not loaded.exists():
        shutil.copyfile(db, loaded)
        must(geopanel("ingest", str(files / "city_extra.csv"), "--db", str(loaded)), "ingest city_extra")
    extra = str(files / "city_extra.csv")
    fit = ["spatial-panel", "fit", "gdp ~ fai + pop", "--data", "fct_city_year", "--w", "queen_city",
           "--model", "sar", "--where", "gdp is not null", "--allow-failing-checks", "--store"]
    return {
        "build": Command("build", loaded, ["build", "--select", build_select]),
        "ingest": Command("ingest", db, ["ingest", extra]),
        "unload": Command("unload", loaded, ["unload", extra]),
        "weights": Command("weights", db, ["weights", "build", "rook_city", "--kind", "rook", "--level", "city"]),
        "check": Command("check", db, ["check", "--select", "fct_city_year", "--out", str(work / "reports")]),
        "fit": Command("fit", db, fit),
    }


def reference(cmd: Command, work: Path) -> None:
    """Run the command twice without a kill: its duration, its 'after' state and the tables that differ
    between two runs (compared by row count only)."""
    states = []
    for i in range(2):
        db = fresh(cmd.start, work / "ref" / f"{cmd.name}{i}")
        t0 = time.perf_counter()
        result = geopanel(*cmd.args, "--db", str(db))
        took = time.perf_counter() - t0
        cmd.seconds = took if i == 0 else min(cmd.seconds, took)  # the faster run: fewer finish before the kill
        if result.returncode not in (0, 1) or (result.returncode == 1 and cmd.name != "check"):
            must(result, f"reference run of {cmd.name}")
        states.append(digests(db))
    cmd.before, cmd.after = digests(cmd.start), states[0]
    cmd.volatile = {t for t in states[0] if states[0][t] != states[1].get(t)}
    if cmd.after == cmd.before:
        print(f"  note: {cmd.name} leaves the warehouse as it was (before = after)", flush=True)


def trial(cmd: Command, work: Path, rng: random.Random, build_select: str, tally: Tally, index: int) -> None:
    c = tally.counts
    folder = work / "trials" / f"{cmd.name}{index}"
    db = fresh(cmd.start, folder)
    delay = rng.uniform(0, 1.1 * cmd.seconds)
    proc = subprocess.Popen([sys.executable, "-m", "geopanel", *cmd.args, "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
        c["finished first"] += 1
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        c["killed"] += 1
    c["trials"] += 1
    leftovers = sorted(p.name.removeprefix(DB_NAME) for p in folder.iterdir()
                       if p.name not in (DB_NAME, DB_NAME + ".lock") and p.name.startswith(DB_NAME))
    if leftovers:
        c["files left"] += 1
    try:
        state = digests(db)
        c["opens"] += 1
    except Exception as exc:  # noqa: BLE001 - any failure to open is what the trial counts
        tally.notes.append(f"{cmd.name}#{index} at {delay:.1f}s: does not open: {str(exc).splitlines()[0]}")
        return
    if same(state, cmd.before, cmd.volatile):
        c["= before"] += 1
    elif same(state, cmd.after, cmd.volatile):
        c["= after"] += 1
    else:
        diff = [t for t in state if state[t] != cmd.before.get(t) and state[t] != cmd.after.get(t)]
        tally.notes.append(f"{cmd.name}#{index} at {delay:.1f}s: neither before nor after ({', '.join(diff[:5])})")
    nxt = geopanel("build", "--select", build_select, "--db", str(db))
    if nxt.returncode == 0:
        c["next build ok"] += 1
    else:
        tally.notes.append(f"{cmd.name}#{index} at {delay:.1f}s (left {leftovers}): next build failed: "
                           + (nxt.stderr.strip() or nxt.stdout.strip()).splitlines()[-1][:300])
        return
    problems = panel_problems(db)
    if problems:
        tally.notes.append(f"{cmd.name}#{index} at {delay:.1f}s: panel: {'; '.join(problems)}")
    else:
        c["panel ok"] += 1
    if cmd.name != "build":
        again = geopanel(*cmd.args, "--db", str(db))
        clean_refusal = again.returncode == 1 and "Traceback" not in again.stderr and (
            cmd.name == "check"  # failing checks exit 1
            or (cmd.name == "unload" and "not loaded in this warehouse" in again.stderr))  # it was unloaded
        if again.returncode == 0 or clean_refusal:
            c["rerun ok"] += 1
        else:
            tally.notes.append(f"{cmd.name}#{index} at {delay:.1f}s: rerun failed: "
                               + (again.stderr.strip() or again.stdout.strip()).splitlines()[-1][:300])
    shutil.rmtree(folder, ignore_errors=True)


COLUMNS = ["trials", "killed", "finished first", "opens", "= before", "= after", "next build ok", "panel ok",
           "rerun ok", "files left"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="kills per command (default 20)")
    parser.add_argument("--commands", default="build,ingest,unload,weights,check,fit")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "geopanel-crash-trials",
                        help="where the trial warehouses go (default: geopanel-crash-trials in the temp folder)")
    parser.add_argument("--template", type=Path, help="a warehouse right after `geopanel init` (saves the init)")
    parser.add_argument("--build-select", default="dim_variable stg_raw__city_values fct_city_year",
                        help="selector of the builds (the trial's and the next one after each kill)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = args.workdir.resolve()
    rng = random.Random(args.seed)
    commands = prepare(work, args.template, args.build_select)
    names = [n.strip() for n in args.commands.split(",") if n.strip()]
    tallies: dict[str, Tally] = {}
    for name in names:
        cmd = commands[name]
        reference(cmd, work)
        print(f"{name}: {' '.join(cmd.args)} — {cmd.seconds:.1f} s uninterrupted; volatile tables: "
              f"{', '.join(sorted(cmd.volatile)) or 'none'}", flush=True)
        tallies[name] = tally = Tally()
        for i in range(args.trials):
            trial(cmd, work, rng, args.build_select, tally, i)
            print(f"  {name} {i + 1}/{args.trials}: " + ", ".join(f"{k} {tally.counts[k]}" for k in COLUMNS
                                                                  if tally.counts[k]), flush=True)
    width = max(len(c) for c in COLUMNS)
    print("\n" + "command".ljust(10) + "".join(c.rjust(width + 1) for c in COLUMNS))
    for name, tally in tallies.items():
        print(name.ljust(10) + "".join(str(tally.counts[c]).rjust(width + 1) for c in COLUMNS))
    problems = [note for tally in tallies.values() for note in tally.notes]
    print(f"\n{len(problems)} problem(s)" + (":" if problems else ""))
    for note in problems:
        print("  " + note)
    os._exit(1 if problems else 0)


if __name__ == "__main__":
    main()
