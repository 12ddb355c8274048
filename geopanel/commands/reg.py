"""`geopanel reg` (regressions with any fixed effects, IV with weak-instrument diagnostics, stepwise columns) and
`geopanel threshold` (Hansen's panel threshold): flags → one call of analyses.reg, tables / JSON out, runs stored."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from analyses.reg.prepare import RegError
from warehouse.db import WarehouseError
from warehouse.errors import DataError

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
ERRORS = (RegError, DataError, WarehouseError, FileNotFoundError)

DataOpt = Annotated[str, typer.Option("--data", help="Warehouse table/view (e.g. fct_city_year), a SQL query "
                                      "(\"select …\") or a file (.csv, .parquet, .xlsx, .dta).")]
UnitOpt = Annotated[str | None, typer.Option("--unit", help="Unit column (for L./F., --by-year; default: the *_code "
                                             "column).")]
TimeOpt = Annotated[str | None, typer.Option("--time", help="Period column (default: year).")]
WhereOpt = Annotated[str | None, typer.Option("--where", help="SQL condition selecting rows of the data.")]
VceOpt = Annotated[str, typer.Option("--vce", help="iid | hetero | cluster:COL | twoway:COL1,COL2")]
TableOpt = Annotated[str, typer.Option("--table", help="markdown | latex | html")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print every estimate, SE and diagnostic as JSON on stdout.")]
StoreOpt = Annotated[bool, typer.Option(help="Store the run(s) in analysis.model_* (when there is a warehouse).")]
AllowOpt = Annotated[bool, typer.Option("--allow-failing-checks", help="Estimate even if `geopanel check` failed or "
                                        "is out of date (recorded with the run).")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB).")]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def _open(db: Path | None, data: str, store: bool):
    """A writable warehouse connection when the data are in it or the run is stored there, else None."""
    from warehouse.db import connection
    from warehouse.panel_data import FILE_SUFFIXES
    from warehouse.settings import db_path

    in_warehouse = Path(data).suffix.lower() not in FILE_SUFFIXES
    if not db_path(db).exists():
        if in_warehouse:
            _fail(f"{db_path(db)}: no warehouse for --data {data!r}; run `geopanel demo`, pass --db, or give a file")
        return nullcontext(None)
    if not (in_warehouse or store):
        return nullcontext(None)
    return connection(db)


def reg(
    formula: Annotated[str, typer.Argument(help="pyfixest formula: 'y ~ x1 + L.x2 | city + province^year' or "
                                           "'y ~ exog | fe | endog ~ z1 + z2' (IV); 0 for no fixed effects.")],
    data: DataOpt,
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    vce: VceOpt = "iid",
    stat: Annotated[str, typer.Option("--stat", help="se | t: what the table's parentheses hold.")] = "se",
    stepwise: Annotated[bool, typer.Option("--stepwise", help="One column per block of controls, added one at a "
                                           "time on the full model's sample.")] = False,
    blocks: Annotated[str | None, typer.Option("--blocks", help="Blocks of --stepwise, e.g. 'pop + fai; hum' "
                                               "(default: one regressor at a time after the first).")] = None,
    liml: Annotated[bool, typer.Option("--liml", help="IV formula: LIML instead of 2SLS (diagnostics unchanged).")]
    = False,
    winsor: Annotated[float | None, typer.Option("--winsor", help="Winsorise the model's continuous variables at "
                                                 "this tail share, e.g. 0.01.")] = None,
    by_year: Annotated[bool, typer.Option("--by-year", help="Winsorise within each period.")] = False,
    moderator: Annotated[str | None, typer.Option("--moderator", help="Moderation of the first regressor by this "
                                                  "variable (centred interaction).")] = None,
    mediator: Annotated[str | None, typer.Option("--mediator", help="Mediation of the first regressor through this "
                                                 "variable (Baron-Kenny three steps, Sobel, cluster bootstrap).")]
    = None,
    two_step: Annotated[bool, typer.Option("--two-step", help="With --mediator: Jiang Ting's two steps only.")] = False,
    split: Annotated[str | None, typer.Option("--split", help="Two-valued column: the first regressor's effect by "
                                              "group, Chow, stacked and permutation tests.")] = None,
    selection: Annotated[bool, typer.Option("--selection", help="Altonji-Elder-Taber ratio and Oster's delta "
                                            "(short model: the first regressor and the fixed effects).")] = False,
    hausman: Annotated[bool, typer.Option("--hausman", help="FE vs RE Hausman test (needs --unit and --time).")]
    = False,
    reps: Annotated[int, typer.Option("--reps", help="Bootstrap / permutation draws of --mediator and --split.")]
    = 500,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws.")] = 20240601,
    table: TableOpt = "markdown",
    out: Annotated[Path | None, typer.Option("--out", help="Also write the table to this file: .xlsx, .tex, .html "
                                             "or .md by its suffix.")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = True,
    allow_failing_checks: AllowOpt = False,
    db: DbOpt = None,
) -> None:
    """Regression with any fixed effects (pyfixest), clustered SEs, lags and leads, IV diagnostics, paper table;
    mechanisms (--moderator, --mediator, --split) and selection / Hausman tests for the first regressor.

    Example: geopanel reg "lngdp ~ L.lnde + pop | city_code + province_code^year" --data fct_city_year
    --vce cluster:city_code --winsor 0.01 --by-year --stepwise

    Example: geopanel reg "lwage ~ exper + expersq | 0 | educ ~ motheduc + fatheduc" --data mroz.csv --vce hetero
    """
    from analyses.reg.fit import reg as fit_reg
    from analyses.reg.fit import stepwise as fit_stepwise
    from analyses.reg.store import store_reg
    from analyses.reg.tables import reg_table, write_table

    if stat not in ("se", "t"):
        _fail(f"--stat {stat!r}: use se or t")
    if liml and stepwise:
        _fail("--liml fits one column: leave out --stepwise")
    if blocks and not stepwise:
        _fail("--blocks sets the blocks of --stepwise: add --stepwise")
    started = datetime.now(UTC)
    kw = {"unit": unit, "time": time, "where": where, "vce": vce, "winsor": winsor, "winsor_by_year": by_year,
          "allow_failing_checks": allow_failing_checks}
    spec = {"formula": formula, "data": data, **kw, "stepwise": stepwise, "blocks": blocks}
    if moderator or mediator or split or selection or hausman:
        if stepwise:
            _fail("--stepwise and the mechanism flags make different tables: run them separately")
        spec.update(moderator=moderator, mediator=mediator, two_step=two_step, split=split, selection=selection,
                    hausman=hausman, reps=reps, seed=seed)
        _battery(formula, data, kw, spec, started, table=table, stat=stat, out=out, as_json=as_json, store=store,
                 db=db)
        return
    if two_step:
        _fail("--two-step sets the mediation of --mediator: add --mediator")
    try:
        with _open(db, data, store) as con:
            if stepwise:
                fits = fit_stepwise(data, formula, con=con, blocks=[b for b in (blocks or "").split(";") if b.strip()]
                                    or None, **kw)
            else:
                fits = [fit_reg(data, formula, con=con, estimator="liml" if liml else "2sls", **kw)]
            run_ids = [store_reg(con, f, spec, started) for f in fits] if store and con is not None else []
            text = reg_table(fits, fmt=table, stat=stat)
    except ValueError as exc:  # RegError, and a bad --table
        _fail(str(exc))
    except ERRORS as exc:
        _fail(str(exc))
    if out is not None:
        write_table(fits, out, fmt=table, stat=stat)
    if as_json:
        payload = {"models": [f.as_dict() for f in fits], "run_ids": run_ids}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=1) + "\n")
        return
    for f in fits:
        if f.quality not in ("passed", "not-checked"):
            err.print(f"[yellow]quality gate: {f.quality}[/]", highlight=False)
            break
    console.print(text, highlight=False, markup=False)
    if fits[-1].iv is not None:
        console.print(_iv_summary(fits[-1].iv), highlight=False, markup=False)
    console.print(f"stored as run {', '.join(run_ids)} in analysis.model_runs" if run_ids else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


def _battery(formula: str, data: str, kw: dict, spec: dict, started: datetime, *, table: str, stat: str,
             out: Path | None, as_json: bool, store: bool, db: Path | None) -> None:
    """The mechanism battery (analyses.reg.battery): table of its fits, its tests, runs stored."""
    from analyses.reg.battery import battery
    from analyses.reg.store import store_reg, store_tests
    from analyses.reg.tables import reg_table, write_table

    try:
        with _open(db, data, store) as con:
            result = battery(data, formula, con=con, moderator=spec["moderator"], mediator=spec["mediator"],
                             steps=2 if spec["two_step"] else 3, split=spec["split"], selection=spec["selection"],
                             hausman=spec["hausman"], reps=spec["reps"], seed=spec["seed"], **kw)
            run_ids = []
            if store and con is not None:
                run_ids = [store_reg(con, f, {**spec, "label": lab}, started)
                           for lab, f in zip(result.labels, result.fits, strict=True)]
                if len(result.tests):
                    run_ids.append(store_tests(con, result.tests, spec, started, result))
            text = reg_table(result.fits, fmt=table, stat=stat) if result.fits else ""
    except ValueError as exc:
        _fail(str(exc))
    except ERRORS as exc:
        _fail(str(exc))
    if out is not None and text:
        write_table(result.fits, out, fmt=table, stat=stat)
    if as_json:
        sys.stdout.write(json.dumps({**result.as_dict(), "run_ids": run_ids}, ensure_ascii=False, indent=1) + "\n")
        return
    if text:
        console.print(text, highlight=False, markup=False)
        console.print("columns: " + "; ".join(f"({i + 1}) {lab}" for i, lab in enumerate(result.labels)),
                      highlight=False, markup=False)
    if len(result.tests):
        console.print(result.tests.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False,
                      markup=False)
    console.print(f"stored as runs {', '.join(run_ids)} in analysis.model_runs" if run_ids else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


def _iv_summary(iv) -> str:
    lines = ["first stage (excluded instruments):"]
    lines += [f"  {r.endogenous} ~ {r.term}: {r.coef:.4f} (se {r.se:.4f}, t {r.t:.2f})" for r in
              iv.first_stage.itertuples()]
    lines.append(f"Kleibergen-Paap rk LM = {iv.kp_lm:.3f}, chi2({iv.kp_lm_df}) p = {iv.kp_lm_p:.4f}")
    lines.append(f"Kleibergen-Paap rk Wald F = {iv.kp_f:.3f}; Cragg-Donald Wald F = {iv.cd_f:.3f}")
    if iv.stock_yogo:
        lines.append("Stock-Yogo critical values: " + "; ".join(f"{k} {v:.2f}" for k, v in iv.stock_yogo.items()))
    else:
        lines.append("Stock-Yogo critical values: not tabulated here for this number of endogenous regressors and "
                     "instruments")
    lines.append(f"Hansen J = {iv.hansen_j:.4f}, chi2({iv.hansen_j_df}) p = {iv.hansen_j_p:.4f}"
                 if iv.hansen_j_df else "Hansen J: exactly identified")
    return "\n".join(lines)


def threshold(
    y: Annotated[str, typer.Argument(help="Dependent variable.")],
    data: DataOpt,
    x: Annotated[str, typer.Option("--x", help="Regressor(s) whose slope changes at the threshold, e.g. lnde.")],
    q: Annotated[str, typer.Option("--q", help="Threshold variable.")],
    controls: Annotated[str, typer.Option("--controls", help="Controls with one slope, e.g. pop,fai.")] = "",
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    thresholds: Annotated[int, typer.Option("--thresholds", help="1, 2 or 3 (sequential, Hansen 1999 §4).")] = 1,
    trim: Annotated[float, typer.Option("--trim", help="Share of observations left out at each end of the grid.")]
    = 0.01,
    grid: Annotated[int, typer.Option("--grid", help="Quantile levels of the grid of candidate thresholds.")] = 300,
    reps: Annotated[int, typer.Option("--reps", help="Bootstrap draws of each F test.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 20240601,
    vce: Annotated[str | None, typer.Option("--vce", help="Variance of the regime coefficients (default "
                                            "cluster:<unit>).")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the LR(γ) plot to this .png.")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = True,
    allow_failing_checks: AllowOpt = False,
    db: DbOpt = None,
) -> None:
    """Hansen (1999) panel threshold with unit fixed effects: thresholds, bootstrap F tests, LR intervals.

    Example: geopanel threshold lngdp --x lnde --q lnde --controls pop,fai --data fct_city_year --thresholds 2
    """
    from analyses.reg.store import store_threshold
    from analyses.reg.threshold import threshold as fit_threshold

    started = datetime.now(UTC)
    names = [c.strip() for c in controls.split(",") if c.strip()]
    xs = [c.strip() for c in x.split(",") if c.strip()]
    spec = {"y": y, "x": xs, "q": q, "controls": names, "data": data, "unit": unit, "time": time, "where": where,
            "thresholds": thresholds, "trim": trim, "grid": grid, "reps": reps, "seed": seed, "vce": vce}
    try:
        with _open(db, data, store) as con:
            with console.status("threshold search and bootstrap …") as status:
                result = fit_threshold(data, y, xs, q, names, unit=unit, time=time, con=con, where=where,
                                       n_thresholds=thresholds, trim=trim, grid=grid, reps=reps, seed=seed, vce=vce,
                                       allow_failing_checks=allow_failing_checks,
                                       progress=lambda done, total: status.update(f"bootstrap {done}/{total}"))
            run_id = store_threshold(con, result, spec, started) if store and con is not None else None
    except ERRORS as exc:
        _fail(str(exc))
    if plot is not None:
        result.plot_lr(plot)
    if as_json:
        sys.stdout.write(json.dumps({**result.as_dict(), "run_id": run_id}, ensure_ascii=False, indent=1) + "\n")
        return
    for k, (g, (lo, hi)) in enumerate(zip(result.thresholds, result.ci, strict=True)):
        console.print(f"threshold {k + 1}: {g:.4f}, 95% interval {lo:.4f}..{hi:.4f}", highlight=False)
    console.print(result.tests.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False,
                  markup=False)
    console.print(result.coefficients.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False,
                  markup=False)
    console.print(f"stored as run {run_id} in analysis.model_runs" if run_id else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


def system(
    equations: Annotated[list[str], typer.Argument(help="One formula per equation, 'y ~ x1 + L.x2' (a constant is "
                                                   "added).")],
    data: DataOpt,
    endog: Annotated[str, typer.Option("--endog", help="The system's endogenous regressors, e.g. cprofits,w,gnp.")]
    = "",
    instruments: Annotated[str, typer.Option("--instruments", help="Exogenous variables outside the equations, "
                                             "e.g. gexpenditure,taxes.")] = "",
    method: Annotated[str, typer.Option("--method", help="3sls | sur")] = "3sls",
    vce: Annotated[str, typer.Option("--vce", help="unadjusted | robust")] = "unadjusted",
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    table: TableOpt = "markdown",
    stat: Annotated[str, typer.Option("--stat", help="se | t")] = "se",
    out: Annotated[Path | None, typer.Option("--out", help="Also write the table (.xlsx, .tex, .html, .md).")] = None,
    as_json: JsonOpt = False,
    store: StoreOpt = True,
    allow_failing_checks: AllowOpt = False,
    db: DbOpt = None,
) -> None:
    """Simultaneous equations by 3SLS (every exogenous variable instruments every equation, as reg3) or SUR.

    Example: geopanel system "consumption ~ cprofits + L.cprofits + w" "invest ~ cprofits + L.cprofits + L.capital"
    "pwage ~ gnp + L.gnp + trend" --endog cprofits,w,gnp --instruments gexpenditure,taxes,gwage --data klein.csv
    --time year
    """
    from analyses.reg.store import store_reg
    from analyses.reg.system import system as fit_system
    from analyses.reg.tables import reg_table, write_table

    started = datetime.now(UTC)
    names = [c.strip() for c in endog.split(",") if c.strip()]
    inst = [c.strip() for c in instruments.split(",") if c.strip()]
    spec = {"equations": equations, "data": data, "endog": names, "instruments": inst, "method": method, "vce": vce,
            "unit": unit, "time": time, "where": where}
    try:
        with _open(db, data, store) as con:
            result = fit_system(data, equations, endogenous=names, instruments=inst, method=method, vce=vce,
                                con=con, unit=unit, time=time, where=where,
                                allow_failing_checks=allow_failing_checks)
            run_ids = ([store_reg(con, c, spec, started, kind=f"system-{method}") for c in result.columns]
                       if store and con is not None else [])
            text = reg_table(result.columns, fmt=table, stat=stat, intercept=True)
    except ValueError as exc:
        _fail(str(exc))
    except ERRORS as exc:
        _fail(str(exc))
    if out is not None:
        write_table(result.columns, out, fmt=table, stat=stat, intercept=True)
    if as_json:
        sys.stdout.write(json.dumps({**result.as_dict(), "run_ids": run_ids}, ensure_ascii=False, indent=1) + "\n")
        return
    console.print(text, highlight=False, markup=False)
    console.print(f"stored as runs {', '.join(run_ids)} in analysis.model_runs" if run_ids else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


def gmm(
    y: Annotated[str, typer.Argument(help="Dependent variable.")],
    data: DataOpt,
    lags: Annotated[int, typer.Option("--lags", help="Lags of y on the right-hand side.")] = 1,
    exog: Annotated[str, typer.Option("--exog", help="Strictly exogenous regressors (L. allowed), e.g. "
                                      "w,L.w,k,L.k.")] = "",
    unit: UnitOpt = None,
    time: TimeOpt = None,
    where: WhereOpt = None,
    two_step: Annotated[bool, typer.Option("--two-step", help="Two-step GMM (Windmeijer-corrected SEs).")] = False,
    robust: Annotated[bool, typer.Option(help="Robust (one-step) / Windmeijer (two-step) SEs.")] = True,
    collapse: Annotated[bool, typer.Option("--collapse", help="One instrument column per lag (Roodman 2009).")]
    = False,
    max_lag: Annotated[int | None, typer.Option("--max-lag", help="Deepest lag of y used as instrument.")] = None,
    time_dummies: Annotated[bool, typer.Option(help="Year effects in the equation (differenced; in system GMM "
                                               "also in levels, instrumenting the levels equation).")] = True,
    system: Annotated[bool, typer.Option("--system", help="Blundell–Bond system GMM: adds the levels equation, "
                                         "instrumented by lagged differences (difference-in-Hansen reported).")]
    = False,
    endogenous: Annotated[str, typer.Option("--endogenous", help="Variables of --exog instrumented GMM-style by "
                                            "their levels at t−2 and earlier (xtabond2 gmm(L.w)).")] = "",
    predetermined: Annotated[str, typer.Option("--predetermined", help="Variables of --exog instrumented "
                                               "GMM-style from t−1 (xtabond2 gmm(w)).")] = "",
    small: Annotated[bool, typer.Option("--small", help="t tests and xtabond2's small-sample variance factor.")]
    = False,
    as_json: JsonOpt = False,
    store: StoreOpt = True,
    allow_failing_checks: AllowOpt = False,
    db: DbOpt = None,
) -> None:
    """Arellano–Bond difference GMM or (--system) Blundell–Bond system GMM: coefficients, AR(1)/AR(2), Sargan,
    Hansen, difference-in-Hansen and the instrument count, as xtabond2 reports them.

    Example: geopanel gmm n --lags 2 --exog w,L.w,k,L.k,L2.k,ys,L.ys,L2.ys --data abdata.csv --unit id --time year

    System GMM (Roodman 2009's example): geopanel gmm n --exog w,L.w,k,L.k --endogenous w,k --system --small ...
    """
    from analyses.reg.gmm import difference_gmm, system_gmm
    from analyses.reg.store import store_gmm

    started = datetime.now(UTC)
    names = [c.strip() for c in exog.split(",") if c.strip()]
    endo = [c.strip() for c in endogenous.split(",") if c.strip()]
    pre = [c.strip() for c in predetermined.split(",") if c.strip()]
    spec = {"y": y, "lags": lags, "exog": names, "data": data, "unit": unit, "time": time, "where": where,
            "steps": 2 if two_step else 1, "robust": robust, "collapse": collapse, "max_lag": max_lag,
            "time_dummies": time_dummies, "system": system, "endogenous": endo, "predetermined": pre,
            "small": small}
    general = system or endo or pre or small
    try:
        with _open(db, data, store) as con:
            if general:
                fit = system_gmm(data, y, lags=lags, exog=names, endogenous=endo, predetermined=pre, unit=unit,
                                 time=time, steps=2 if two_step else 1, robust=robust, small=small,
                                 time_dummies=time_dummies, collapse=collapse, max_lag=max_lag, level=system,
                                 con=con, where=where, allow_failing_checks=allow_failing_checks)
            else:
                fit = difference_gmm(data, y, lags=lags, exog=names, unit=unit, time=time,
                                     steps=2 if two_step else 1, robust=robust, time_dummies=time_dummies,
                                     collapse=collapse, max_lag=max_lag, con=con, where=where,
                                     allow_failing_checks=allow_failing_checks)
            run_id = store_gmm(con, fit, spec, started) if store and con is not None else None
    except ERRORS as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps({**fit.as_dict(), "run_id": run_id}, ensure_ascii=False, indent=1) + "\n")
        return
    console.print(f"{'system' if system else 'difference'} GMM, {'two' if two_step else 'one'}-step: {fit.nobs} "
                  f"observations, {fit.n_units} units, {fit.n_instruments} instruments", highlight=False,
                  markup=False)
    console.print(fit.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False,
                  markup=False)
    console.print(fit.tests.to_string(index=False, float_format=lambda v: f"{v:.4f}"), highlight=False,
                  markup=False)
    console.print(f"stored as run {run_id} in analysis.model_runs" if run_id else
                  "not stored (no warehouse; pass --db to keep the run)", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add `reg`, `threshold`, `system` and `gmm` to the main `geopanel` app."""
    app.command("reg")(reg)
    app.command("threshold")(threshold)
    app.command("system")(system)
    app.command("gmm")(gmm)
