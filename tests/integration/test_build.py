"""Builds run on a copy: readers are never blocked, a failed build leaves the previous file usable, one
writer at a time (a build holds the writer lock from before its copy until after its swap), a committed
write that was never checkpointed reaches the build, and a killed build's leftovers are cleaned."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import warehouse.build as build
from warehouse.db import connection, single_select
from warehouse.errors import WarehouseError
from warehouse.settings import db_path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the dbt project that builds use instead of the real one."""
    root = Path(build.PROJECT_DIR)
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds"):
        src = root / name
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, project / name)
    monkeypatch.setattr(build, "PROJECT_DIR", project)
    return project


@pytest.fixture
def broken_project(tmp_path, monkeypatch) -> Path:
    """A copy of the dbt project with one model that fails after the registry models succeed."""
    project = project_copy(tmp_path, monkeypatch)
    (project / "models" / "marts" / "zz_broken.sql").write_text(
        "select * from {{ ref('dim_city') }} where no_such_column > 0\n", encoding="utf-8")
    return project


def test_failed_build_leaves_the_previous_warehouse_unchanged(warehouse, broken_project):
    before = digest(warehouse)
    args = ["build", "--select", "+dim_city zz_broken", "--indirect-selection", "cautious"]
    result = build.run_dbt(args, db=warehouse, progress=lambda m: None)
    assert not result.success
    assert any("zz_broken" in label for label, _ in result.failures)
    assert digest(warehouse) == before
    assert not warehouse.with_name(warehouse.name + ".next").exists()
    with connection(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from dim_city").fetchone()[0] > 300


WRITER = "from warehouse.db import connect; connect(r'{}')"
SMALL_BUILD = ["build", "--select", "dim_province", "--indirect-selection", "cautious"]


def test_queries_read_the_previous_file_while_a_build_runs(warehouse):
    seen: list[int] = []
    refused: list[str] = []

    def query_during_build(message: str) -> None:
        if not seen:
            with connection(warehouse, read_only=True) as con:
                seen.append(con.execute("select count(*) from dim_county").fetchone()[0])
            # a writer in another process (an ingest) is refused, told who holds the lock
            other = subprocess.run([sys.executable, "-c", WRITER.format(warehouse)], capture_output=True, text=True,
                                   cwd=build.PROJECT_DIR)
            refused.append(other.stderr.strip().splitlines()[-1] if other.returncode else "not refused")

    args = ["build", "--select", "+dim_city", "--indirect-selection", "cautious"]
    result = build.run_dbt(args, db=warehouse, progress=query_during_build)
    assert result.success, result.failures
    assert seen and seen[0] > 2800
    assert "is being written by pid" in refused[0] and "geopanel build" in refused[0], refused
    with connection(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from meta.builds where status = 'success'").fetchone()[0] >= 2


def test_a_new_seed_column_reaches_an_existing_warehouse(warehouse, tmp_path, monkeypatch):
    """Users extend seeds (policy_pilots gained end_date): a rebuild recreates the seed table, not fails on it."""
    seed = project_copy(tmp_path, monkeypatch) / "seeds" / "policy_pilots.csv"
    lines = seed.read_text(encoding="utf-8").splitlines()
    seed.write_text("\n".join([lines[0] + ",document_url"] + [line + "," for line in lines[1:]]) + "\n",
                    encoding="utf-8")
    result = build.run_dbt(["seed", "--select", "policy_pilots"], db=warehouse, progress=lambda m: None)
    assert result.success, result.failures
    with connection(warehouse, read_only=True) as con:
        columns = [r[0] for r in con.execute("describe reference.policy_pilots").fetchall()]
    assert columns[-1] == "document_url"


def test_a_build_refuses_to_start_while_another_process_writes(warehouse):
    holder = subprocess.Popen([sys.executable, "-c", WRITER.format(warehouse) + "; import time; time.sleep(30)"],
                              cwd=build.PROJECT_DIR)
    try:
        for _ in range(100):  # until the other process holds the lock
            if warehouse.with_name(warehouse.name + ".lock").exists() and str(holder.pid) in \
                    warehouse.with_name(warehouse.name + ".lock").read_text():
                break
            subprocess.run(["sleep", "0.1"])
        before = digest(warehouse)
        with pytest.raises(WarehouseError, match=f"is being written by pid {holder.pid}"):
            build.run_dbt(SMALL_BUILD, db=warehouse, progress=lambda m: None)
        assert digest(warehouse) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_committed_write_never_checkpointed_reaches_the_build(warehouse):
    """kill -9 between COMMIT and the checkpoint leaves the data only in <db>.wal: the build must use it."""
    script = (f"import duckdb, os; con = duckdb.connect(r'{warehouse}'); "
              "con.execute('create table raw.late as select 42 as answer'); os._exit(0)")
    subprocess.run([sys.executable, "-c", script], check=True)
    assert Path(str(warehouse) + ".wal").exists()
    result = build.run_dbt(SMALL_BUILD, db=warehouse, progress=lambda m: None)
    assert result.success, result.failures
    assert not Path(str(warehouse) + ".wal").exists()
    with connection(warehouse, read_only=True) as con:
        assert con.execute("select answer from raw.late").fetchone()[0] == 42


def test_leftovers_of_a_killed_build_are_removed_with_a_note(warehouse):
    staged = warehouse.with_name(warehouse.name + ".next")
    staged.write_bytes(b"half a database")
    notes: list[str] = []
    result = build.run_dbt(SMALL_BUILD, db=warehouse, progress=notes.append)
    assert result.success and not staged.exists()
    assert any("removed geopanel.duckdb.next left by a build that did not finish" in n for n in notes)


def test_a_relative_db_is_resolved_against_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert db_path("w0.duckdb") == tmp_path / "w0.duckdb"
    with pytest.raises(WarehouseError, match="no warehouse here"):
        connection("missing.duckdb", create=False).__enter__()
    assert not (tmp_path / "missing.duckdb").exists()


def test_user_sql_runs_only_as_one_select():
    con = duckdb.connect()
    con.execute("create table t as select 1 as a")
    hostile = "select * from t where (1=1); drop table t; select * from t where (1)"
    with pytest.raises(WarehouseError, match="single SELECT"):
        single_select(con, hostile, "--where")
    assert con.execute("select count(*) from t").fetchone()[0] == 1


def test_a_killed_build_takes_its_dbt_with_it_and_the_next_build_recovers(warehouse):
    """SIGKILL of `geopanel build` mid-way: its dbt child is sent SIGTERM by the kernel (PR_SET_PDEATHSIG) and
    ends, releasing the writer lock it inherited; the next build removes the leftovers and succeeds."""
    import json
    import signal
    import time

    script = ("import warehouse.build as b; "
              f"b.run_dbt(['build', '--select', '+dim_county', '--indirect-selection', 'cautious'], db=r'{warehouse}')")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=build.PROJECT_DIR, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    lock = warehouse.with_name(warehouse.name + ".lock")
    child = None
    for _ in range(600):  # until dbt has started (its pid is in the lock file)
        info = json.loads(lock.read_text() or "{}") if lock.exists() else {}
        if info.get("pid") == parent.pid and info.get("child_pid"):
            child = info["child_pid"]
            break
        time.sleep(0.05)
    assert child, "the build never started dbt"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):  # dbt ends within seconds of its parent, not when it has finished building
        if subprocess.run(["kill", "-0", str(child)], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"dbt (pid {child}) still runs 10 s after its build was killed")
    other = subprocess.run([sys.executable, "-c", WRITER.format(warehouse)], capture_output=True, text=True,
                           cwd=build.PROJECT_DIR)
    assert other.returncode == 0, other.stderr  # nobody holds the lock any more
    notes: list[str] = []
    result = build.run_dbt(SMALL_BUILD, db=warehouse, progress=notes.append)
    assert result.success, result.failures
    assert not warehouse.with_name(warehouse.name + ".next").exists()
    with connection(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from dim_county").fetchone()[0] > 2800
