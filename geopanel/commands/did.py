"""`geopanel did`: the DID battery on a warehouse panel, or on any panel with a cohort column, from the command
line."""

from __future__ import annotations

import json
import re
import sys
import warnings
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from analyses.did.estimators import DIDError
from analyses.did.report import DIDBattery, run_battery, run_battery_on_data, store_battery, store_treatment
from analyses.did.treatment import TreatmentError
from analyses.plots import FontError
from analyses.spatial_panel.panel import SpatialPanelError
from warehouse.db import WarehouseError, connection
from warehouse.errors import DataError
from warehouse.settings import DATA_DIR, db_path
from warehouse.weights import WeightsSubsetWarning

console = Console(soft_wrap=True)


def did(
    outcome: Annotated[str, typer.Argument(help="Outcome column of fct_<level>_year (or of --data), e.g. gdp.")],
    policy: Annotated[str | None, typer.Option(help="demonstration_zone (default), or a policy in "
                                                    "reference.policy_pilots.")] = None,
    data: Annotated[str | None, typer.Option(
        help="Any panel instead of fct_<level>_year: a warehouse table or view, a SQL query, or a "
             ".csv/.parquet/.xlsx/.dta file; with --cohort.")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit-id column of --data (default: its *_code column).")] = None,
    time: Annotated[str | None, typer.Option(help="Period column of --data (default: year).")] = None,
    cohort: Annotated[str | None, typer.Option(help="Column of first-treated periods (never treated: empty, 0, inf or "
                                                    "after the panel), instead of --policy.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every estimate with its SE and every aggregate as "
                                                         "JSON on stdout (messages go to stderr).")] = False,
    level: Annotated[str, typer.Option(help="city | province | county.")] = "city",
    rule: Annotated[str, typer.Option(help="Timing: calendar (paper 001) | july (paper 000) | cutoff.")] = "calendar",
    cutoff_month: Annotated[int, typer.Option(help="With --rule cutoff: approvals from this month count from the "
                                                   "next year.")] = 7,
    exclude_units: Annotated[str, typer.Option(help="Units to drop from the sample, e.g. 340100,430400.")] = "",
    exclude_zones: Annotated[str, typer.Option(help="Zones / policy groups not counted as treatment.")] = "",
    exclude_batches: Annotated[str, typer.Option(help="Batches not counted as treatment, e.g. 10,11.")] = "",
    include_partial: Annotated[bool, typer.Option("--include-partial", help="Count partially covered units as "
                                                  "treated (default: left out of the sample).")] = False,
    provinces: Annotated[str, typer.Option(help="Keep only units of these provinces (a restricted comparison "
                                                "sample), e.g. 510000,500000,450000,430000.")] = "",
    exclude_provinces: Annotated[str, typer.Option(help="Drop units of these provinces.")] = "",
    log: Annotated[bool, typer.Option("--log", help="Use the natural log of the outcome.")] = False,
    window: Annotated[str, typer.Option(help="Event window LOW:HIGH, end points binned.")] = "-5:5",
    reference: Annotated[int, typer.Option(help="Omitted relative period.")] = -1,
    placebo: Annotated[int, typer.Option(help="Placebo replications (0 = none).")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the placebo draws.")] = 20240601,
    covariates: Annotated[str, typer.Option(help="Matching covariates for PSM-DID, e.g. pop,fai.")] = "",
    controls: Annotated[str, typer.Option(help="Controls of TWFE, event study and Bacon, e.g. pop,fai.")] = "",
    stacked_window: Annotated[str, typer.Option(help="Event window of the stacked DID, LOW:HIGH.")] = "-3:3",
    concurrent: Annotated[str, typer.Option(help="Other policies to control for, e.g. info_consumption_pilot.")] = "",
    by: Annotated[str, typer.Option(help="Heterogeneity by 0/1 flags of dim_city_flags, e.g. "
                                         "is_resource_based,is_old_revolutionary_base.")] = "",
    mediator: Annotated[str | None, typer.Option(help="Mechanism variable for the three-step mediation.")] = None,
    moderator: Annotated[str | None, typer.Option(help="Continuous moderator: treated × (m − mean m).")] = None,
    w: Annotated[str | None, typer.Option("--w", help="Stored weights matrix for a spatial DID (SDM with W·treated), "
                                                       "e.g. queen_city.")] = None,
    boot: Annotated[int, typer.Option(help="Bootstrap / permutation draws of mediation and heterogeneity.")] = 500,
    out: Annotated[Path | None, typer.Option(help="Folder for the report and plots.")] = None,
    lang: Annotated[str | None, typer.Option(help="Words on the plots: zh | en (default: Chinese titles).")] = None,
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run even if `geopanel check` failed or is out of date (recorded).")] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse file.")] = None,
) -> None:
    """Staggered DID of a policy: TWFE, event study, Bacon, Callaway–Sant'Anna, Sun–Abraham, imputation and
    stacked DID, robustness checks and placebo, with plots and paper-style tables; on request PSM-DID,
    heterogeneity by city flags, mediation, moderation and a spatial DID.

    Any panel: --data (table, view, SQL query or file) with --cohort, a column of first-treated periods, and
    --unit / --time; the same battery runs. Warehouse tables (also those a query reads) pass the quality gate;
    files are 'not-checked'.

    Example: geopanel did gdp --log --rule july --by is_resource_based --mediator patent_app_invention --w queen_city

    Example: geopanel did lemp --data mpdta.csv --unit countyreal --cohort first.treat --window -3:3 --json
    """
    out_console = Console(soft_wrap=True, stderr=True) if as_json else console
    if lang not in (None, "zh", "en"):
        _fail(out_console, f"--lang {lang!r}: use zh or en")
    bounds, stacked_bounds = _window("--window", window), _window("--stacked-window", stacked_window)
    if data is not None or cohort is not None:
        policy_only = {"--policy": policy is not None, "--rule": rule != "calendar",
                       "--cutoff-month": cutoff_month != 7,
                       "--exclude-zones": bool(exclude_zones), "--exclude-batches": bool(exclude_batches),
                       "--include-partial": include_partial, "--provinces": bool(provinces),
                       "--exclude-provinces": bool(exclude_provinces)}
        given = [flag for flag, on in policy_only.items() if on]
        if cohort is None:
            _fail(out_console, "--data needs --cohort, the column of first-treated periods (the policy seeds apply "
                               "to the warehouse panels: leave --data out to use --policy)")
        if given:
            _fail(out_console, f"{given[0]} sets the timing of a seeded policy; with --cohort the timing is the "
                               "column's: leave it out")
        spec = {"outcome": outcome, "data": data or f"fct_{level}_year", "unit": unit, "time": time,
                "cohort": cohort, "log": log, "window": bounds, "reference": reference, "placebo": placebo,
                "seed": seed, "covariates": covariates, "controls": controls, "stacked_window": stacked_bounds,
                "concurrent": concurrent, "by": by, "mediator": mediator, "moderator": moderator, "w": w,
                "boot": boot, "exclude_units": _names(exclude_units)}
        _did_on_data(spec, level=level, out=out, allow_failing_checks=allow_failing_checks, db=db,
                     as_json=as_json, out_console=out_console, lang=lang)
        return
    for flag, value in (("--unit", unit), ("--time", time)):
        if value is not None:
            _fail(out_console, f"{flag} names a column of --data or of the panel with --cohort: give --cohort (and "
                               "--data), or leave it out for a seeded policy")
    policy = policy or "demonstration_zone"
    try:
        batches = tuple(int(b) for b in _names(exclude_batches))
    except ValueError:
        console.print(f"[red]error:[/] --exclude-batches {exclude_batches!r}: write batch numbers, e.g. 10,11")
        raise typer.Exit(1) from None
    timing = {"cutoff_month": cutoff_month, "include_partial": include_partial,
              "exclude_units": _names(exclude_units), "exclude_groups": _names(exclude_zones),
              "exclude_batches": batches, "provinces": _names(provinces),
              "exclude_provinces": _names(exclude_provinces)}
    out = out or DATA_DIR / "reports" / f"did_{policy}_{level}_{outcome}"
    started = datetime.now(UTC)
    spec = {"outcome": outcome, "level": level, "log": log, "window": bounds, "reference": reference,
            "placebo": placebo, "seed": seed, "covariates": covariates, "controls": controls,
            "stacked_window": stacked_bounds, "concurrent": concurrent, "by": by, "mediator": mediator,
            "moderator": moderator, "w": w, "boot": boot, **timing}
    try:
        with (connection(db, read_only=True) as con, Progress(console=out_console, transient=True) as bar,
              warnings.catch_warnings(record=True) as caught):
            warnings.simplefilter("always", WeightsSubsetWarning)  # the spatial DID's W restricted to the sample
            task = bar.add_task("placebo", total=max(placebo, 1))
            battery = run_battery(con, outcome, out, policy=policy, level=level, rule=rule, log_outcome=log,
                                  window=bounds, reference=reference, placebo_reps=placebo, seed=seed,
                                  covariates=_names(covariates), allow_failing_checks=allow_failing_checks,
                                  progress=lambda done, total: bar.update(task, completed=done),
                                  controls=_names(controls), stacked_window=stacked_bounds,
                                  concurrent=_names(concurrent), by=_names(by), mediator=mediator,
                                  moderator=moderator, w=w, boot_reps=boot, **timing)
        _redraw(battery, out, lang)
        with connection(db) as con:
            table = store_treatment(con, battery.sample, level)
            run_id = store_battery(con, battery, outcome, level, started, spec)
    except (DIDError, TreatmentError, WarehouseError, FontError, SpatialPanelError) as exc:
        _fail(out_console, str(exc))
    for note in caught:
        if issubclass(note.category, WeightsSubsetWarning):
            out_console.print(f"[yellow]note:[/] {note.message}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps({**battery.as_dict(outcome), "run_id": run_id, "treatment_table": table,
                                    "report": str(out)}, ensure_ascii=False, indent=1) + "\n")
        return
    _summary(out_console, battery, outcome, placebo, mediator)
    out_console.print(f"run {run_id} → analysis.model_runs; treatment timing → {table}; report and plots → {out}",
                      highlight=False)


def _did_on_data(spec: dict, *, level: str, out: Path | None, allow_failing_checks: bool, db: Path | None,
                 as_json: bool, out_console: Console, lang: str | None = None) -> None:
    """The battery on `spec['data']` with the timing of the cohort column (report.run_battery_on_data); stored in
    analysis.model_runs when there is a warehouse."""
    outcome = spec["outcome"]
    have_warehouse = db_path(db).exists()
    out = out or DATA_DIR / "reports" / f"did_{_slug(spec['cohort'])}_{outcome}"
    started = datetime.now(UTC)
    try:
        with (connection(db, read_only=True) if have_warehouse else nullcontext()) as con, \
                Progress(console=out_console, transient=True) as bar, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WeightsSubsetWarning)
            task = bar.add_task("placebo", total=max(spec["placebo"], 1))
            battery = run_battery_on_data(
                con, spec["data"], outcome, out, cohort=spec["cohort"], unit=spec["unit"], time=spec["time"],
                allow_failing_checks=allow_failing_checks, log_outcome=spec["log"],
                exclude_units=spec["exclude_units"], level=level, window=spec["window"],
                reference=spec["reference"], placebo_reps=spec["placebo"], seed=spec["seed"],
                covariates=_names(spec["covariates"]), controls=_names(spec["controls"]),
                progress=lambda done, total: bar.update(task, completed=done), stacked_window=spec["stacked_window"],
                concurrent=_names(spec["concurrent"]), by=_names(spec["by"]), mediator=spec["mediator"],
                moderator=spec["moderator"], w=spec["w"], boot_reps=spec["boot"])
            _redraw(battery, out, lang)
        run_id = None
        if have_warehouse:
            with connection(db) as con:
                run_id = store_battery(con, battery, outcome, level, started, spec)
    except (DIDError, DataError, TreatmentError, WarehouseError, FontError, SpatialPanelError) as exc:
        _fail(out_console, str(exc))
    for note in caught:
        if issubclass(note.category, WeightsSubsetWarning):
            out_console.print(f"[yellow]note:[/] {note.message}", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps({**battery.as_dict(outcome), "run_id": run_id, "report": str(out)},
                                    ensure_ascii=False, indent=1) + "\n")
        return
    _summary(out_console, battery, outcome, spec["placebo"], spec["mediator"])
    stored = f"run {run_id} → analysis.model_runs; " if run_id else "not stored (no warehouse; --db to store); "
    out_console.print(f"{stored}report and plots → {out}", highlight=False)


PLOT_TITLES = {"zh": ("事件研究", "安慰剂检验", "倾向得分匹配前后的核密度"),
               "en": ("Event study", "Placebo test", "Propensity-score densities before and after matching")}


def _redraw(battery: DIDBattery, out: Path, lang: str | None) -> None:
    """With --lang, the battery's plots drawn again in that language (same files)."""
    if lang is None:
        return
    event, placebo, psm = PLOT_TITLES[lang]
    battery.event_study.plot(out / "event_study.png", title=event, lang=lang)
    if battery.placebo is not None:
        battery.placebo.plot(out / "placebo.png", title=placebo)
    if battery.psm is not None:
        battery.psm.plot(out / "psm_density.png", title=psm)


def _summary(out: Console, battery: DIDBattery, outcome: str, placebo: int, mediator: str | None) -> None:
    """The battery's headline numbers."""
    t = battery.twfe
    if not battery.quality.passed:
        problems = "; ".join(battery.quality.problems()) or "file data are not checked by `geopanel check`"
        out.print(f"[yellow]quality gate: {battery.quality.status}[/] — {problems}", highlight=False)
    if battery.coding is not None:
        out.print(f"cohorts: {battery.coding.message}", highlight=False)
    out.print(f"TWFE {outcome}: {t.coef:.4f} (se {t.se:.4f}, p {t.pvalue:.3g}, N {t.nobs}); "
              f"Bacon Σ = {battery.bacon.estimate:.4f}; pre-trend max |t| = "
              f"{battery.event_study.pre_trend_max_abs_t():.2f}", highlight=False)
    if battery.placebo is not None:
        out.print(f"placebo: {placebo} draws, mean {battery.placebo.estimates.mean():.5f}, "
                  f"p = {battery.placebo.p_value:.3f}", highlight=False)
    if battery.psm is not None:
        out.print(f"PSM-DID: {battery.psm.did.coef:.4f} (se {battery.psm.did.se:.4f}) on "
                  f"{len(battery.psm.matched)} matched unit-years", highlight=False)
    stacked = battery.stacked
    out.print(f"stacked DID: {stacked.att:.4f} (se {stacked.se:.4f}); Callaway–Sant'Anna (never treated): "
              f"{battery.robust.iloc[1]['att']:.4f}", highlight=False)
    if battery.cs:
        overall = {kind: battery.cs["never"].overall(kind) for kind in ("group", "dynamic", "calendar")}
        out.print("Callaway–Sant'Anna overall (never treated): " + "; ".join(
            f"{kind} {o['att']:.4f} (se {o['se']:.4f})" for kind, o in overall.items()), highlight=False)
    for note in battery.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False)
    if battery.mediation is not None:
        m = battery.mediation
        out.print(f"mediation by {mediator}: indirect a·b = {m.indirect:.4f}, bootstrap 95% CI "
                  f"{m.boot_ci[0]:.4f}..{m.boot_ci[1]:.4f}", highlight=False)
    if battery.spatial is not None:
        eff = battery.spatial.effects.set_index("effect")
        out.print(f"spatial DID: direct {eff.loc['direct', 'estimate']:.4f}, spillover "
                  f"{eff.loc['indirect', 'estimate']:.4f} (se {eff.loc['indirect', 'std_error']:.4f})",
                  highlight=False)


def _fail(out: Console, message: str) -> NoReturn:
    out.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "cohort"


def _names(option: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in option.split(",") if c.strip())


def _window(flag: str, text: str) -> tuple[int, int]:
    try:
        low, _, high = text.partition(":")
        return int(low), int(high)
    except ValueError:
        console.print(f"[red]error:[/] {flag} {text!r}: write LOW:HIGH, e.g. -5:5")
        raise typer.Exit(1) from None
