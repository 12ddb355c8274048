"""`geopanel dea` and `geopanel malmquist`: efficiency scores and productivity indices of any panel (a warehouse
table or view, a SQL query, or a file) from the command line. Registered in geopanel/cli.py by `register(app)`."""

from __future__ import annotations

import json
import math
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from analyses.efficiency import EfficiencyError
from geopanel.output import console, err, fail, print_frame

DataOption = Annotated[str, typer.Option("--data", help="A warehouse table or view, a SQL query, or a "
                                                      ".csv/.parquet/.xlsx/.dta file.")]
UnitOption = Annotated[str | None, typer.Option(help="Unit-id column (default: the data's *_code column).")]
TimeOption = Annotated[str | None, typer.Option(help="Period column (default: year when present).")]
InputsOption = Annotated[str, typer.Option(help="Input columns, comma-separated, e.g. labour,capital.")]
OutputsOption = Annotated[str, typer.Option(help="Desirable output columns, comma-separated, e.g. gdp.")]
BadOption = Annotated[str | None, typer.Option(help="Undesirable output columns, e.g. so2,co2.")]
WhereOption = Annotated[str | None, typer.Option(help="SQL condition on the rows, e.g. \"year >= 2011\".")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON records on stdout.")]
OutOption = Annotated[Path | None, typer.Option(help="Write the whole table to .csv, .xlsx, .dta or .parquet.")]
LimitOption = Annotated[int, typer.Option(help="Rows to print.")]
DeflateOption = Annotated[str | None, typer.Option(help="Real values: VARIABLE=DEFLATOR_COLUMN pairs, e.g. "
                                                        "gdp=gdp_deflator,capital=fai_price_index.")]
BaseYearOption = Annotated[str | None, typer.Option("--base-year", help="Period the deflators are rescaled to 1 "
                                                    "in, per unit (default: read them as indices with base 100).")]
StoreOption = Annotated[bool, typer.Option("--store/--no-store", help="With a warehouse: write the run to "
                                          "analysis.model_runs and analysis.efficiency_results (default).")]
AllowOption = Annotated[bool, typer.Option("--allow-failing-checks", help="Run even if `geopanel check` failed "
                                           "or is out of date for the warehouse data read (recorded).")]
DbOption = Annotated[Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or "
                                                            "data/geopanel.duckdb).")]
DIGITS = 4  # printed tables (DEAP prints 3); --json and --out carry full precision
MODELS = {"ccr": "crs", "bcc": "vrs", "sbm": None, "super-sbm": None, "ddf": None}


def _errors():
    from warehouse.db import WarehouseError
    from warehouse.errors import DataError

    return (EfficiencyError, DataError, WarehouseError, FileNotFoundError)


def _con(db: Path | None, data: str):
    """A read-only warehouse connection when the data are not a file on disk and the warehouse exists."""
    from warehouse.db import connection
    from warehouse.settings import db_path

    if Path(data).suffix and Path(data).exists():
        return nullcontext()
    return connection(db, read_only=True) if db_path(db).exists() else nullcontext()


def _pairs(text: str | None) -> dict[str, str] | None:
    """`gdp=gdp_deflator,capital=pi` as {'gdp': 'gdp_deflator', 'capital': 'pi'}."""
    if not text:
        return None
    pairs = [p.partition("=") for p in text.split(",") if p.strip()]
    bad = [a for a, eq, b in pairs if not eq or not a.strip() or not b.strip()]
    if bad:
        fail(f"--deflate {text!r}: write VARIABLE=DEFLATOR pairs, e.g. gdp=gdp_deflator,capital=fai_price_index")
    return {a.strip(): b.strip() for a, _, b in pairs}


def _direction(text: str | None):
    """--direction: graph | output | numbers `0,0,1,1` (one per input, output, undesirable output) |
    `capital=1,gdp=g_gdp` (a number or a column per variable; unnamed variables 0)."""
    if not text or text.strip() in ("graph", "output"):
        return (text or "graph").strip()

    def number(v: str):
        try:
            return float(v)
        except ValueError:
            return None

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if all("=" in p for p in parts):
        pairs = [p.partition("=") for p in parts]
        return {a.strip(): (number(b.strip()) if number(b.strip()) is not None else b.strip()) for a, _, b in pairs}
    if all(number(p) is not None for p in parts):
        return [number(p) for p in parts]
    fail(f"--direction {text!r}: use graph, output, numbers (0,0,1,1) or VARIABLE=NUMBER|COLUMN pairs")
    return None


def _base(text: str | None):
    """--base-year as an integer when it is one (periods are integers in the panels), else the text."""
    return int(text) if text and text.strip().lstrip("-").isdigit() else text


def _store(result, store: bool, db: Path | None, spec: dict) -> str | None:
    """Write the run when asked and a warehouse exists; the run id (printed on stderr), else None."""
    from warehouse.db import connection
    from warehouse.settings import db_path

    if not store or not db_path(db).exists():
        return None
    from analyses.efficiency.store import store_efficiency

    try:
        with connection(db) as con:
            run_id = store_efficiency(con, result, spec)
    except _errors() as exc:
        fail(str(exc))
    err.print(f"run {run_id} → analysis.model_runs, analysis.efficiency_results", highlight=False)
    return run_id


def _emit(frame: pd.DataFrame, summary: dict, as_json: bool, out: Path | None, limit: int, title: str) -> None:
    if out is not None:
        from warehouse.export import write_frame

        write_frame(frame, out)
    if as_json:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v.item() if hasattr(v, "item") else v
        records = [{k: clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
        sys.stdout.write(json.dumps({**summary, "rows": records}, ensure_ascii=False, indent=1, default=str) + "\n")
        return
    console.print(title, highlight=False)
    print_frame(frame.round(DIGITS), limit)
    if out is not None:
        console.print(f"wrote {out} ({len(frame)} rows)")


def dea_command(
    data: DataOption,
    inputs: InputsOption,
    outputs: OutputsOption,
    unit: UnitOption = None,
    time: TimeOption = None,
    undesirable: BadOption = None,
    model: Annotated[str, typer.Option(help="ccr (CRS) | bcc (VRS) | sbm | super-sbm | ddf (directional "
                                            "distance function).")] = "ccr",
    orientation: Annotated[str | None, typer.Option(help="input | output (ccr/bcc; default input); none | input | "
                                                         "output (sbm; default none, non-oriented).")] = None,
    rts: Annotated[str | None, typer.Option(help="crs | vrs for sbm / super-sbm / ddf (ccr/bcc imply it).")]
    = None,
    direction: Annotated[str | None, typer.Option(help="ddf: graph (g = (−x, y, −b), default) | output "
                                                       "(g = (0, y, −b)) | numbers, one per input, output and "
                                                       "undesirable output | VARIABLE=NUMBER|COLUMN pairs.")] = None,
    super_efficiency: Annotated[bool, typer.Option("--super", help="Andersen–Petersen super-efficiency (ccr/bcc).")]
    = False,
    frontier: Annotated[str, typer.Option(help="period (one frontier per period) | pooled.")] = "period",
    where: WhereOption = None,
    as_json: JsonOption = False,
    out: OutOption = None,
    limit: LimitOption = 50,
    deflate: DeflateOption = None,
    base_year: BaseYearOption = None,
    store: StoreOption = True,
    allow_failing_checks: AllowOption = False,
    db: DbOption = None,
) -> None:
    """DEA efficiency of every unit × period: CCR/BCC (scores, CRS/VRS/scale, returns to scale, slacks, targets)
    or SBM / super-SBM with undesirable outputs, or the directional distance function (--model ddf).

    Example: geopanel dea --data provinces.csv --unit code --time year --inputs labour,capital --outputs gdp
    --model bcc --orientation output
    """
    from analyses.efficiency import ddf, dea, sbm

    if model not in MODELS:
        fail(f"--model {model!r}: use one of {', '.join(MODELS)}")
    if super_efficiency and model not in ("ccr", "bcc"):
        fail("--super is Andersen–Petersen super-efficiency of ccr/bcc; for SBM use --model super-sbm")
    if direction and model != "ddf":
        fail("--direction is the direction vector of --model ddf")
    if undesirable and model in ("ccr", "bcc"):
        fail("--undesirable needs --model sbm or super-sbm (radial CCR/BCC have no undesirable outputs)")
    try:
        with _con(db, data) as con:
            if model in ("ccr", "bcc"):
                res = dea(data, inputs, outputs, unit=unit, time=time, rts=MODELS[model],
                          orientation=orientation or "input", deflate=_pairs(deflate), base_year=_base(base_year),
                          super_efficiency=super_efficiency, frontier=frontier, con=con, where=where,
                          allow_failing_checks=allow_failing_checks)
            elif model == "ddf":
                res = ddf(data, inputs, outputs, undesirable or (), unit=unit, time=time, rts=rts or "crs",
                          direction=_direction(direction), frontier=frontier, con=con, where=where,
                          deflate=_pairs(deflate), base_year=_base(base_year),
                          allow_failing_checks=allow_failing_checks)
            else:
                res = sbm(data, inputs, outputs, undesirable or (), unit=unit, time=time, rts=rts or "vrs",
                          orientation=orientation or "none", super_efficiency=model == "super-sbm",
                          frontier=frontier, con=con, where=where, deflate=_pairs(deflate),
                          base_year=_base(base_year), allow_failing_checks=allow_failing_checks)
    except _errors() as exc:
        fail(str(exc))
    frame = res.to_frame()
    bad = frame[frame.status != "optimal"]
    run_id = _store(res, store, db, {"command": "dea", "data": data, "inputs": inputs, "outputs": outputs,
                                     "undesirable": undesirable, "model": model, "orientation": res.orientation,
                                     "rts": res.rts, "super": super_efficiency, "frontier": frontier, "where": where,
                                     "direction": direction})
    summary = {"model": model, "rts": res.rts, "orientation": res.orientation, "source": res.source,
               "dmus": len(frame), "mean_efficiency": float(res.efficiency.mean()), "not_optimal": len(bad),
               "run_id": run_id}
    _emit(frame, summary, as_json, out, limit,
          f"{model.upper()} ({res.rts}, {res.orientation}) on {res.source}: {len(frame)} DMUs, mean efficiency "
          f"{res.efficiency.mean():.4f}")
    if len(bad) and not as_json:
        console.print(f"[yellow]{len(bad)} DMU(s) without an optimum[/]: "
                      + ", ".join(f"{r.iloc[0]} ({r.status})" for _, r in bad.head(10).iterrows()), highlight=False)


def malmquist_command(
    data: DataOption,
    inputs: InputsOption,
    outputs: OutputsOption,
    unit: UnitOption = None,
    time: TimeOption = None,
    undesirable: Annotated[str | None, typer.Option(help="Undesirable outputs: Malmquist–Luenberger instead.")]
    = None,
    orientation: Annotated[str, typer.Option(help="output (DEAP's default) | input.")] = "output",
    frontier: Annotated[str | None, typer.Option(
        help="contemporaneous | sequential | global (default: contemporaneous; global with --undesirable).")] = None,
    measure: Annotated[str, typer.Option(help="With --undesirable: ddf (directional distance) | sbm.")] = "ddf",
    rts: Annotated[str, typer.Option(help="With --undesirable: crs | vrs.")] = "crs",
    cumulative: Annotated[bool, typer.Option("--cumulative", help="Print the index chained from the base period.")]
    = False,
    plot: Annotated[Path | None, typer.Option(help="Draw the small-multiple index lines (one panel per unit) to "
                                                   ".png/.svg/.pdf.")] = None,
    lang: Annotated[str | None, typer.Option(help="Plot words: zh | en (default: zh when unit names are "
                                                  "Chinese).")] = None,
    where: WhereOption = None,
    as_json: JsonOption = False,
    out: OutOption = None,
    limit: LimitOption = 50,
    deflate: DeflateOption = None,
    base_year: BaseYearOption = None,
    store: StoreOption = True,
    allow_failing_checks: AllowOption = False,
    db: DbOption = None,
) -> None:
    """Malmquist TFP index as DEAP 2.1 computes it (EFFCH, TECHCH, PECH, SECH, TFPCH and their geometric means),
    or with --undesirable the (global) Malmquist–Luenberger index and its decomposition.

    Example: geopanel malmquist --data equipment.csv --unit province --time year --inputs labour,capital
    --outputs output
    """
    from analyses.efficiency import malmquist, malmquist_luenberger

    if lang not in (None, "zh", "en"):
        fail(f"--lang {lang!r}: use zh or en")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg", ".pdf"):
        fail(f"--plot {plot}: write .png, .svg or .pdf")
    try:
        with _con(db, data) as con:
            if undesirable:
                kind = frontier or "global"
                if kind not in ("global", "contemporaneous", "sequential"):
                    fail(f"--frontier {kind!r} with --undesirable: use global, contemporaneous or sequential")
                res = malmquist_luenberger(data, inputs, outputs, undesirable, unit=unit, time=time, kind=kind,
                                           measure=measure, rts=rts, con=con, where=where,
                                           deflate=_pairs(deflate), base_year=_base(base_year),
                                           allow_failing_checks=allow_failing_checks)
                means = res.period_means
                title = f"{'' if kind == 'contemporaneous' else kind + ' '}Malmquist–Luenberger ({measure}, {rts})"
            else:
                res = malmquist(data, inputs, outputs, unit=unit, time=time, orientation=orientation,
                                frontier=frontier or "contemporaneous", con=con, where=where,
                                allow_failing_checks=allow_failing_checks,
                                deflate=_pairs(deflate), base_year=_base(base_year))
                means = res.period_means
                title = f"Malmquist ({orientation}-orientated, {res.frontier} frontier)"
    except _errors() as exc:
        fail(str(exc))
    if plot is not None:
        import matplotlib.pyplot as plt

        from analyses.efficiency.tables import plot_tfpch
        from analyses.plots import FontError

        try:
            plt.close(plot_tfpch(res, plot, lang=lang))
        except (FontError, ValueError) as exc:
            fail(str(exc))
        err.print(f"wrote {plot}", highlight=False)
    frame = res.cumulative if cumulative else res.to_frame()
    run_id = _store(res, store, db, {"command": "malmquist", "data": data, "inputs": inputs, "outputs": outputs,
                                     "undesirable": undesirable, "orientation": orientation, "frontier": frontier,
                                     "measure": measure, "rts": rts, "where": where})
    summary = {"index": title, "source": res.source, "run_id": run_id,
               "period_means": json.loads(means.reset_index().to_json(orient="records"))}
    if not undesirable:
        summary["mean"] = {k: float(v) for k, v in res.mean.items()}
    _emit(frame, summary, as_json, out, limit, f"{title} on {res.source}")
    if not as_json:
        console.print("geometric means by period:")
        print_frame(means.reset_index().round(DIGITS), 100)
        if not undesirable:
            console.print("mean: " + "  ".join(f"{k} {v:.3f}" for k, v in res.mean.items()), highlight=False)


def register(app: typer.Typer) -> None:
    """Add `dea` and `malmquist` to the main app."""
    app.command("dea")(dea_command)
    app.command("malmquist")(malmquist_command)
