"""`geopanel report`: one self-contained offline HTML report of the warehouse (analyses.report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geopanel.output import console, fail


def report(
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or "
                                                         "data/geopanel.duckdb).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder under which the report's dated folder is written "
                                             "(default: reports/ beside the warehouse).")] = None,
    select: Annotated[list[str] | None, typer.Option(
        "--select", help="Only these sections: sources, coverage, quality, weights, moran, maps, runs; or one run: "
        "run:<run id or prefix>. Repeatable or comma-separated; a partial report never replaces the full one.")] = None,
    lang: Annotated[str, typer.Option(help="Words of the report and its plots: zh | en.")] = "zh",
) -> None:
    """Write one HTML page about the warehouse: sources and provenance, panel coverage, the latest quality check,
    weight matrices, Moran by year, maps and every stored model run with its tables and plots.

    The page has no scripts and needs no network (figures are embedded); each run goes to its own dated folder.
    Example: geopanel report --select quality,runs --lang en
    """
    from analyses.plots import FontError
    from analyses.report import build_report
    from warehouse.db import WarehouseError

    try:
        with console.status("writing the report …") as status:
            result = build_report(db, out, select, lang=lang, progress=lambda m: status.update(m))
    except (ValueError, FileNotFoundError, WarehouseError, FontError) as exc:
        fail(str(exc))
    kind = "partial report" if result.partial else "report"
    console.print(f"{kind}: {result.path} ({len(result.sections)} sections, {result.n_runs} model runs"
                  + ("; SYNTHETIC data flagged" if result.synthetic else "") + ")", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `geopanel report` to the main app."""
    app.command("report")(report)
