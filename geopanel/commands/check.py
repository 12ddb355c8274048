"""`geopanel check`: run every declared check, print a summary, write the reports, store the results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from warehouse.db import WarehouseError
from warehouse.quality.check import check_warehouse
from warehouse.quality.report import table_status
from warehouse.quality.runner import CheckRun
from warehouse.quality.spec import CheckConfigError
from warehouse.settings import db_path

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)
STATUS_STYLE = {"failed": "bold red", "warn": "yellow", "passed": "green", "skipped": "dim"}


def check(
    select: Annotated[list[str] | None, typer.Option(
        "--select", help="Only these tables (fct_city_year, main.dim_*, weights.w_edges) or check kinds "
        "(unit_jump, geometry_valid …); repeatable.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the HTML and Markdown reports.")] = None,
    examples: Annotated[int, typer.Option(help="Example rows to print per failing check.")] = 3,
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or "
                                                             "data/geopanel.duckdb).")] = None,
) -> None:
    """Check the data before estimating: keys, completeness, plausibility, geometry, weights, indicators.

    Checks are declared per table in `<model>.checks.yml` beside the dbt models. Results go to
    quality.check_results; reports to data/reports/ (or --out). Exits 1 if an error-level check failed.
    Example: geopanel check --select fct_city_year --select geometry_valid
    """
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("checking", total=None)
            run, html_path, md_path = check_warehouse(db, select, out, progress=lambda done, total, label: bar.update(
                task, completed=done, total=total, description=label))
    except (WarehouseError, CheckConfigError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    print_summary(run, examples)
    console.print(f"report: {html_path} (and {md_path.name}); results in quality.check_results of {db_path(db)}, "
                  f"run_id {run.run_id}", highlight=False)
    if not run.ok:
        raise typer.Exit(1)


def print_summary(run: CheckRun, examples: int) -> None:
    """Per-table status, then each failed check: where, how many rows, a few example rows."""
    table = Table(title=f"check run {run.run_id}", title_justify="left")
    for col in ("table", "status", "checks", "errors", "warnings", "skipped"):
        table.add_column(col)
    for t in table_status(run):
        table.add_row(escape(t["table"]), f"[{STATUS_STYLE[t['status']]}]{t['status']}[/]",
                      *(str(t[k]) for k in ("checks", "errors", "warnings", "skipped")))
    console.print(table)
    if run.provenance:
        console.print(run.provenance, highlight=False)
    problems = sorted((r for r in run.results if r.status in ("failed", "error")),
                      key=lambda r: (not r.blocking, r.table, r.check))
    for r in problems:
        style = "bold red" if r.blocking else "yellow"
        console.print(f"[{style}]{'ERROR' if r.blocking else 'warn '}[/] {escape(r.check)} · {escape(r.where)}: "
                      f"{r.n_failing} row(s) — {escape(r.message)}", highlight=False)
        for ex in r.examples[:examples]:
            console.print("      " + escape(", ".join(f"{k}={v}" for k, v in ex.items())), highlight=False)
    n_err = len(run.blocking)
    n_warn = sum(1 for r in problems if not r.blocking)
    verdict = f"[bold red]{n_err} error-level failure(s)[/]" if n_err else "[green]no error-level failure[/]"
    console.print(f"{verdict}, {n_warn} warning(s), {sum(r.status == 'passed' for r in run.results)} passed, "
                  f"{sum(r.status == 'skipped' for r in run.results)} skipped")
