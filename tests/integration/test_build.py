"""Builds run on a copy: readers are never blocked, and a failed build leaves the previous file usable."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import warehouse.build as build
from warehouse.db import WarehouseError, connect, connection, lock_path


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
    assert not lock_path(warehouse).exists()
    with connection(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from dim_city").fetchone()[0] > 300


def test_queries_read_the_previous_file_while_a_build_runs(warehouse):
    seen: list[int] = []

    def query_during_build(message: str) -> None:
        if not seen:
            with connection(warehouse, read_only=True) as con:
                seen.append(con.execute("select count(*) from dim_county").fetchone()[0])
            with pytest.raises(WarehouseError, match="is being rebuilt"):
                connect(warehouse)  # writers are told to wait

    args = ["build", "--select", "+dim_city", "--indirect-selection", "cautious"]
    result = build.run_dbt(args, db=warehouse, progress=query_during_build)
    assert result.success, result.failures
    assert seen and seen[0] > 2800
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
