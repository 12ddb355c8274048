"""`geopanel qca` (fsQCA) and `geopanel drivers` (XGBoost importance and TreeSHAP) on any data through the
data contract; each translates its flags into one call of analyses.qca.fsqca / analyses.drivers.drivers."""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from geopanel.output import console, fail, print_frame

DataOption = Annotated[str, typer.Option(help="A warehouse table or view, a SQL query, or a .csv/.parquet/.xlsx/.dta "
                                              "file.")]
DbOption = Annotated[Path | None, typer.Option("--db", help="Warehouse file (for tables and queries).")]


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_anchors(text: str | None) -> dict[str, tuple] | tuple | None:
    """'DEV=400,550,900;STB=15,9.5,5' (per column) or 'p5,p50,p95' (every column): full-out, crossover, full-in."""
    if not text:
        return None
    if "=" not in text:
        parts = _names(text)
        if len(parts) != 3:
            raise typer.BadParameter(f"--anchors {text!r}: three anchors, full-out,crossover,full-in (e.g. p5,p50,p95)")
        return tuple(parts)
    out = {}
    for item in filter(None, (p.strip() for p in text.split(";"))):
        name, _, values = item.partition("=")
        parts = _names(values)
        if not name.strip() or len(parts) != 3:
            raise typer.BadParameter(f"--anchors {item!r}: write COLUMN=full-out,crossover,full-in, "
                                     "e.g. DEV=400,550,900")
        out[name.strip()] = tuple(parts)
    return out


def parse_labels(text: str | None) -> dict[str, str]:
    """'pgdp=人均GDP,elec=电力消费量' → {'pgdp': '人均GDP', 'elec': '电力消费量'}."""
    out = {}
    for item in _names(text or ""):
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--labels {item!r}: write COLUMN=标签")
        out[key.strip()] = value.strip()
    return out


def _clean(obj):
    """NaN and numpy scalars as JSON-ready values."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _have_warehouse(db: Path | None) -> bool:
    from warehouse.settings import db_path

    return db_path(db).exists()


def _connection(db: Path | None):
    from warehouse.db import connection

    return connection(db, read_only=True) if _have_warehouse(db) else nullcontext()


def qca(
    data: DataOption,
    outcome: Annotated[str, typer.Option(help="Outcome column.")],
    conditions: Annotated[str, typer.Option(help="Condition columns, e.g. DEV,URB,LIT,IND,STB.")],
    unit: Annotated[str | None, typer.Option(help="Case-id column (default: the data's *_code column).")] = None,
    anchors: Annotated[str | None, typer.Option(
        help="Calibration anchors full-out,crossover,full-in: per column 'DEV=400,550,900;SURV=-9,0,10', or one "
             "triple for every column, e.g. 'p5,p50,p95' (percentiles). Columns without anchors must be "
             "memberships already.")] = None,
    incl_cut: Annotated[float, typer.Option(help="Consistency cutoff of a truth-table row.")] = 0.8,
    n_cut: Annotated[int, typer.Option(help="Frequency cutoff: rows with fewer cases are remainders.")] = 1,
    pri_cut: Annotated[float, typer.Option(help="PRI cutoff of a truth-table row.")] = 0.0,
    dir_exp: Annotated[str | None, typer.Option(
        help="Directional expectations of the intermediate solution: 'present' (all), or e.g. 'DEV,URB,~IND' "
             "(~ = absent); conditions not named have none.")] = "present",
    necessity_cut: Annotated[float, typer.Option(help="Consistency from which a condition counts as "
                                                      "necessary.")] = 0.9,
    negate: Annotated[bool, typer.Option("--negate", help="Analyse the absence of the outcome (~Y = 1 − Y).")] = False,
    year: Annotated[str | None, typer.Option(help="For a panel: the year of the cases, or 'mean' for each unit's "
                                                  "mean over the years.")] = None,
    time: Annotated[str | None, typer.Option(help="Period column (default: year).")] = None,
    log_odds: Annotated[str, typer.Option(help="Calibration scale: ragin (±3, fsQCA 3.0) | r (R QCA, "
                                               "0.95).")] = "ragin",
    chart: Annotated[str, typer.Option(help="Configuration chart format: markdown | latex | html.")] = "markdown",
    labels: Annotated[str | None, typer.Option(help="Chart labels, e.g. 'DA=数字农业,G=政府支持'.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the chart and tables (CSV).")] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Write the run to analysis.model_runs and "
                                        "analysis.qca_results when there is a warehouse.")] = True,
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run on warehouse tables even if `geopanel check` failed or is out of date "
                                       "(recorded with the run).")] = False,
    db: DbOption = None,
) -> None:
    """fsQCA: calibration, necessity, truth table, complex / parsimonious / intermediate solutions and the
    configuration chart (● core, • peripheral, ⊗ / ⓧ absent).

    Example: geopanel qca --data lipset.csv --unit case --outcome SURV --conditions DEV,URB,LIT,IND,STB
    --anchors 'DEV=400,550,900;URB=25,50,65;LIT=50,75,90;IND=20,30,40;STB=15,9.5,5;SURV=-9,0,10'
    """
    from analyses.qca import R_LOG_ODDS, RAGIN_LOG_ODDS, QCAError, fsqca
    from warehouse.db import WarehouseError

    if log_odds not in ("ragin", "r"):
        fail(f"--log-odds {log_odds!r}: ragin or r")
    started = datetime.now(UTC)
    run_id = None
    try:
        with _connection(db) as con:
            fit = fsqca(data, outcome, _names(conditions), unit=unit, anchors=parse_anchors(anchors),
                        incl_cut=incl_cut, n_cut=n_cut, pri_cut=pri_cut, dir_exp=dir_exp,
                        necessity_cut=necessity_cut, period=year, time=time, con=con,
                        allow_failing_checks=allow_failing_checks, negate_outcome=negate,
                        log_odds=RAGIN_LOG_ODDS if log_odds == "ragin" else R_LOG_ODDS)
        text = fit.chart(chart, labels=parse_labels(labels))
        if store and _have_warehouse(db):
            from analyses.qca import store_qca
            from warehouse.db import connection

            spec = {"anchors": anchors, "incl_cut": incl_cut, "n_cut": n_cut, "pri_cut": pri_cut, "dir_exp": dir_exp,
                    "year": year, "log_odds": log_odds, "unit": unit}
            with connection(db) as con:
                run_id = store_qca(con, fit, spec, started)
    except (QCAError, WarehouseError, FileNotFoundError, typer.BadParameter) as exc:
        fail(str(exc))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        suffix = {"markdown": "md", "latex": "tex", "html": "html"}[chart]
        (out / f"configurations.{suffix}").write_text(text, encoding="utf-8")
        fit.memberships.to_csv(out / "memberships.csv", encoding="utf-8-sig", index_label="case")
        fit.necessity.to_csv(out / "necessity.csv", encoding="utf-8-sig", index=False)
        fit.truth_table.table.to_csv(out / "truth_table.csv", encoding="utf-8-sig")
        for s in (fit.complex, fit.parsimonious, fit.intermediate):
            s.fit.to_csv(out / f"solution_{s.kind}.csv", encoding="utf-8-sig", index=False)
    if as_json:
        typer.echo(json.dumps(_clean({**fit.as_dict(), "chart": text, "run_id": run_id}), ensure_ascii=False, indent=1))
        return
    console.print(f"fsQCA of {fit.outcome} on {', '.join(fit.conditions)}: {len(fit.memberships)} cases from "
                  f"{fit.source}", highlight=False)
    console.print(f"\nnecessity for {fit.outcome} (consistency, coverage, relevance) and for its negation; "
                  f"necessary from {necessity_cut}:", highlight=False)
    print_frame(fit.necessity_table().round(3), 100)
    console.print(f"\ntruth table (rows with cases; incl cut {incl_cut}, n cut {n_cut}, PRI cut {pri_cut}):")
    print_frame(fit.truth_table.observed().reset_index().round(3), 200)
    for s in (fit.complex, fit.parsimonious, fit.intermediate):
        console.print(f"\n{s.kind}: {s.expression} → {fit.outcome}   (consistency {s.inclS:.3f}, PRI {s.PRI:.3f}, "
                      f"coverage {s.covS:.3f})", highlight=False)
        if len(s.models) > 1:
            console.print(f"  {len(s.models)} equally minimal models; the first is shown")
        print_frame(s.fit.round(3), 50)
    console.print("\nconfiguration chart:")
    console.print(text, highlight=False, markup=False)
    if out is not None:
        console.print(f"chart and tables → {out}", highlight=False)
    if run_id:
        console.print(f"run {run_id} → analysis.model_runs, analysis.qca_results", highlight=False)


def drivers_command(
    data: DataOption,
    targets: Annotated[str, typer.Option(help="Target columns, one model each, e.g. energy_total,carbon_total.")],
    features: Annotated[str, typer.Option(help="Feature (driver) columns.")],
    unit: Annotated[str | None, typer.Option(help="Unit-id column (default: the data's *_code column).")] = None,
    time: Annotated[str | None, typer.Option(help="Period column (default: year).")] = None,
    where: Annotated[str | None, typer.Option(help="SQL condition on the rows, e.g. 'year >= 2011'.")] = None,
    labels: Annotated[str | None, typer.Option(help="Chinese labels of columns, e.g. 'pgdp=人均GDP,elec=电力消费量'.")]
    = None,
    other_targets: Annotated[bool, typer.Option("--other-targets", help="Use the other targets as features too "
                                                "(as paper 003-P11 does).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the boosting and the CV folds.")] = 20250401,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (0: none).")] = 5,
    n_estimators: Annotated[int, typer.Option(help="Trees.")] = 500,
    max_depth: Annotated[int, typer.Option(help="Tree depth.")] = 4,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 0.05,
    stability: Annotated[int, typer.Option(help="Refit with this many seeds and report how stable the rankings "
                                                "are (0: skip).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the tables (CSV) and plots (PNG).")] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Write the runs to analysis.model_runs and "
                                        "analysis.driver_importance when there is a warehouse.")] = True,
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run on warehouse tables even if `geopanel check` failed or is out of date "
                                       "(recorded with the run).")] = False,
    db: DbOption = None,
) -> None:
    """XGBoost per target: the five importance types with mean, SD, CV, above/below-mean counts, top-5 and
    bottom-3 frequencies, and TreeSHAP mean |SHAP| rankings; bar, beeswarm and importance plots with --out.

    Example: geopanel drivers --data fct_province_year --targets energy_total,carbon_total
    --features pgdp,urban,second,patents,elec --labels 'pgdp=人均GDP,elec=电力消费量' --out data/reports/drivers
    """
    from analyses.drivers import DriversError, drivers
    from analyses.plots import FontError
    from warehouse.db import WarehouseError

    params = {"n_estimators": n_estimators, "max_depth": max_depth, "learning_rate": learning_rate}
    started = datetime.now(UTC)
    run_ids: list[str] = []
    try:
        with _connection(db) as con:
            fit = drivers(data, _names(targets), _names(features), unit=unit, time=time, where=where,
                          labels=parse_labels(labels), params=params, seed=seed, folds=folds,
                          other_targets_as_features=other_targets, con=con,
                          allow_failing_checks=allow_failing_checks)
        stab = fit.stability(seeds=range(seed, seed + stability)) if stability > 1 else None
        written = fit.write(out) if out is not None else []
        if stab is not None and out is not None:
            stab.to_csv(out / "stability.csv", index=False, encoding="utf-8-sig")
        if store and _have_warehouse(db):
            from analyses.drivers import store_drivers
            from warehouse.db import connection

            with connection(db) as con:
                run_ids = store_drivers(con, fit, {"targets": targets, "features": features, "where": where,
                                                   "other_targets": other_targets, "folds": folds}, started)
    except (DriversError, WarehouseError, FileNotFoundError, FontError, typer.BadParameter) as exc:
        fail(str(exc))
    if as_json:
        payload = fit.as_dict()
        if stab is not None:
            payload["stability"] = stab.to_dict("records")
        payload["files"] = [str(p) for p in written]
        payload["run_ids"] = run_ids
        typer.echo(json.dumps(_clean(payload), ensure_ascii=False, indent=1))
        return
    console.print(f"XGBoost drivers of {', '.join(fit.targets)} ({fit.source}; seed {seed})", highlight=False)
    print_frame(fit.cv_fit().round(4), 20)
    for t in fit.targets:
        console.print(f"\n{fit.label(t)}: importance (five types), summary and mean |SHAP|", highlight=False)
        print_frame(fit.paper_table(t, digits=4).reset_index(names="feature"), 100)
        print_frame(fit.summary(t).round(4).reset_index(), 10)
        print_frame(fit.frequencies(t).reset_index(), 100)
        print_frame(fit.shap_ranking(t).round(6).reset_index().rename(columns={"index": "feature"}), 100)
    if stab is not None:
        console.print("\nstability of the rankings over seeds:")
        print_frame(stab.round(3), 100)
    if out is not None:
        console.print(f"\ntables and plots → {out}", highlight=False)
    if run_ids:
        console.print(f"runs {', '.join(run_ids)} → analysis.model_runs, analysis.driver_importance", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `qca` and `drivers` to the main `geopanel` app."""
    app.command("qca")(qca)
    app.command("drivers")(drivers_command)
