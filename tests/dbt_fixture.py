"""Run a small dbt project from tests/fixtures with geopanel's macros copied in (shared by tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_project(name: str, dest: Path) -> Path:
    """Copy tests/fixtures/<name> and the project's macros/ into dest; return the project dir."""
    project = dest / name
    shutil.copytree(ROOT / "tests" / "fixtures" / name, project)
    shutil.copytree(ROOT / "macros", project / "macros")
    return project


def dbt(project: Path, db: Path, *args: str) -> subprocess.CompletedProcess:
    """Run dbt in `project` on the DuckDB file `db`; returns the finished process (stdout has the log)."""
    exe = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "FIXTURE_DB": str(db), "GEOPANEL_DB": str(db), "DO_NOT_TRACK": "1"}
    return subprocess.run([str(exe), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
                          env=env, cwd=project, capture_output=True, text=True)
