"""`geopanel check` as one function: run the declared checks, write the reports, store the results."""

from __future__ import annotations

from pathlib import Path

from warehouse.db import WarehouseError, connection
from warehouse.quality.report import write_reports
from warehouse.quality.results import store
from warehouse.quality.runner import CheckRun, Progress, run_checks
from warehouse.settings import reports_dir


def check_warehouse(db: str | Path | None = None, select: list[str] | None = None, out: str | Path | None = None,
                    progress: Progress | None = None) -> tuple[CheckRun, Path, Path]:
    """Run every declared check (or those `select` names: tables such as fct_city_year, or check kinds such as
    unit_jump), write the HTML and Markdown reports to `out` (default data/reports/ beside the warehouse) and
    append the results to quality.check_results, which the estimation gate reads. Returns (run, html, md);
    `run.ok` is False when an error-level check failed.

        run, html, _ = check_warehouse("data/geopanel.duckdb", select=["fct_city_year"])
    """
    with connection(db, read_only=True) as con:
        run = run_checks(con, select, progress=progress)
    if not run.results:
        raise WarehouseError(f"--select {' '.join(select or [])}: matches no declared table or check kind")
    html_path, md_path = write_reports(run, Path(out) if out is not None else reports_dir(db))
    with connection(db) as con:
        store(con, run.run_id, run.results, run.finished_at, run.started_at, ",".join(run.selection), str(html_path))
    return run, html_path, md_path
