"""`geopanel spatial-panel fit|select`: estimate from the command line and store the run in analysis.*."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from analyses.spatial_panel.panel import SpatialPanelError
from analyses.spatial_panel.store import store_result
from analyses.spatial_panel.tables import effects_table, regression_table
from warehouse.db import WarehouseError
from warehouse.errors import DataError

app = typer.Typer(help="Spatial panel models (SAR, SDM, SEM, SDEM, SLX, SAC) with fixed or random effects, LeSage–Pace "
                  "effects and the test battery.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(soft_wrap=True)
err = Console(stderr=True)

DataOpt = Annotated[str, typer.Option("--data", help="Warehouse table/view (e.g. fct_city_year), a SQL query "
                                      "(\"select …\") or a file (.csv in UTF-8/GBK, .parquet, .xlsx, .dta; "
                                      "wide-by-year files are melted).")]
WOpt = Annotated[str, typer.Option("--w", help="Warehouse matrix name, or a .gal/.gwt/.mat/.csv weights file.")]
WOrderOpt = Annotated[str | None, typer.Option(
    "--w-order", help="Row order of an id-less matrix (.mat, unlabelled dense CSV): ascending-text | "
    "ascending-numeric (the data's unit ids sorted as text / as numbers) | a file with one id per line.")]
UnitOpt = Annotated[str | None, typer.Option("--unit", "--id-column",
                                             help="Unit column (default: the *_code column); ids are read as text.")]
TimeOpt = Annotated[str | None, typer.Option("--time", help="Time column (default: year).")]
WhereOpt = Annotated[str | None, typer.Option("--where", help="SQL condition selecting rows of the data (any source), "
                                              "e.g. \"year between 2011 and 2022\".")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB).")]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _needs_warehouse(value: str) -> bool:
    from warehouse.panel_data import FILE_SUFFIXES

    return Path(value).suffix.lower() not in (*FILE_SUFFIXES, ".gal", ".gwt", ".mat")


def _open(db: Path | None, data: str, w: str, store: bool):
    """A warehouse connection when one is needed (warehouse inputs, or storing the run), else None."""
    from warehouse.db import connection
    from warehouse.settings import db_path

    if not (_needs_warehouse(data) or _needs_warehouse(w) or store):
        return nullcontext(None)
    if not db_path(db).exists():
        if _needs_warehouse(data) or _needs_warehouse(w):
            _fail(f"{db_path(db)}: no warehouse; run `geopanel demo` or pass --db, or use files for --data and --w")
        return nullcontext(None)
    return connection(db)


@app.command()
def fit(
    formula: Annotated[str, typer.Argument(help="Formula, e.g. 'inn ~ lnde + lnpgdp + hum'.")],
    data: DataOpt,
    w: WOpt,
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    w_order: WOrderOpt = None,
    model: Annotated[str, typer.Option(help="sar | sdm | sem | sdem | slx | sac | ols; several comma-separated "
                                            "models are fitted and shown side by side")] = "sdm",
    effects: Annotated[str, typer.Option(help="pooled | individual | time | twoways | random")] = "twoways",
    lee_yu: Annotated[bool, typer.Option("--lee-yu", help="Lee–Yu (2010) transformation approach.")] = False,
    durbin: Annotated[str | None, typer.Option(help="Comma-separated regressors to lag (default all).")] = None,
    vce: Annotated[str, typer.Option(help="oim (information matrix) | robust (heteroskedasticity-robust) | "
                                     "cluster (by unit): the variance of estimates, effects and Wald tests.")] = "oim",
    dynamic: Annotated[bool, typer.Option("--dynamic", help="Add y(t-1) and W·y(t-1) (SAR/SDM, individual or "
                                          "twoways effects): short- and long-run effects.")] = False,
    bias_correction: Annotated[bool, typer.Option(help="Dynamic model: Yu–de Jong–Lee (2008) bias "
                                                  "correction.")] = True,
    w_transform: Annotated[str, typer.Option(help="r (row-standardise) or none.")] = "r",
    logdet: Annotated[str, typer.Option(help="auto | exact | chebyshev | mc: log-determinant and traces, exact "
                                        "(eigenvalues or sparse LU) or approximated without factorising (Pace–LeSage "
                                        "Chebyshev, Barry–Pace series); auto: exact up to 20,000 units.")] = "auto",
    draws: Annotated[int, typer.Option(help="Simulation draws for the effects' standard errors.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the simulation draws.")] = 12345,
    table: Annotated[str, typer.Option(help="markdown | latex | html")] = "markdown",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    store: Annotated[bool, typer.Option(help="Store the run in analysis.model_* (needs a warehouse).")] = True,
    allow_failing_checks: Annotated[bool, typer.Option("--allow-failing-checks",
                                                       help="Estimate even if quality checks fail.")] = False,
    db: DbOpt = None,
) -> None:
    """Fit a spatial panel model (or several: --model sar,sdm,sem), print its tables and store the run.

    Nothing is stored unless every model fits. Example: geopanel spatial-panel fit "y ~ x1 + x2"
    --data fct_city_year --w queen_city --model sdm --effects twoways --lee-yu
    """
    from analyses.spatial_panel.model import spatial_panel

    try:
        with _open(db, data, w, store) as con:
            results = [spatial_panel(formula, data, w, unit, time, model=m.strip(), effects=effects, where=where,
                                     w_order=w_order, lee_yu=lee_yu, durbin=durbin.split(",") if durbin else None,
                                     draws=draws, seed=seed, w_transform=None if w_transform == "none" else w_transform,
                                     con=con, vce=vce, dynamic=dynamic, bias_correction=bias_correction, logdet=logdet,
                                     allow_failing_checks=allow_failing_checks)
                       for m in model.split(",")]
            run_ids = [store_result(con, result) for result in results] if store and con is not None else []
    except (SpatialPanelError, DataError, WarehouseError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        payload = [json.loads(r.to_json()) for r in results]
        console.print_json(json.dumps(payload[0] if len(payload) == 1 else payload))
        return
    for result in results:
        console.print(result.summary(), highlight=False, markup=False)
    console.print(regression_table(results, table), highlight=False, markup=False)
    for result in results:
        if len(result.effects):
            console.print(f"effects, {result.name}:", highlight=False, markup=False)
            console.print(effects_table(result, table), highlight=False, markup=False)
    console.print(f"stored as run {', '.join(run_ids)} in analysis.model_runs" if run_ids else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


@app.command()
def select(
    formula: Annotated[str, typer.Argument(help="Formula, e.g. 'inn ~ lnde + lnpgdp + hum'.")],
    data: DataOpt,
    w: WOpt,
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    w_order: WOrderOpt = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the decisions.")] = 0.05,
    lee_yu: Annotated[bool, typer.Option("--lee-yu", help="Lee–Yu (2010) transformation approach.")] = False,
    store: Annotated[bool, typer.Option(help="Store the chosen model's run.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decisions and the chosen model (estimates with "
                                          "standard errors and p-values, effects, tests) as JSON.")] = False,
    allow_failing_checks: Annotated[bool, typer.Option("--allow-failing-checks")] = False,
    db: DbOpt = None,
) -> None:
    """Elhorst's specification search: LR tests of effects, LM tests, SDM vs SAR/SEM; prints the decisions.

    Example: geopanel spatial-panel select "y ~ x1 + x2" --data panel.csv --unit code --time year --w w.gal
    """
    from analyses.spatial_panel.select import specification_search

    try:
        with _open(db, data, w, store) as con:
            decisions, result = specification_search(formula, data, w, unit, time, alpha=alpha, con=con,
                                                      lee_yu=lee_yu, where=where, w_order=w_order,
                                                      allow_failing_checks=allow_failing_checks)
            run_id = store_result(con, result) if store and con is not None else None
    except (SpatialPanelError, DataError, WarehouseError, FileNotFoundError) as exc:
        _fail(str(exc))
    if as_json:
        payload = {"decisions": json.loads(decisions.to_json(orient="records")), "chosen": json.loads(result.to_json()),
                   "run_id": run_id}
        console.print_json(json.dumps(payload))
        return
    console.print(decisions.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False, markup=False)
    console.print(result.to_table(), highlight=False, markup=False)
    if run_id:
        console.print(f"stored as run {run_id} in analysis.model_runs", highlight=False, markup=False)
