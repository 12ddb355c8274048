"""Where things live: the warehouse file, the dbt project, raw drops and reports (overridable by env)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GEOPANEL_DATA", PROJECT_DIR / "data"))
DEFAULT_DB = Path(os.environ.get("GEOPANEL_DB", DATA_DIR / "geopanel.duckdb"))
SEEDS_DIR = PROJECT_DIR / "seeds"


def db_path(path: str | Path | None = None) -> Path:
    """The warehouse file to use, absolute: an explicit path (relative to the current directory), else
    $GEOPANEL_DB, else data/geopanel.duckdb."""
    return (Path(path) if path else DEFAULT_DB).expanduser().resolve()


def reports_dir(db: str | Path | None = None) -> Path:
    """Where commands write reports by default: a `reports` folder beside the warehouse file."""
    return db_path(db).resolve().parent / "reports"
