"""`geopanel did`: the DID battery on a warehouse panel, from the command line."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from analyses.did.estimators import DIDError
from analyses.did.report import run_battery, store_battery, store_treatment
from analyses.did.treatment import TreatmentError
from analyses.plots import FontError
from analyses.spatial_panel.panel import SpatialPanelError
from geo.weights import WeightsSubsetWarning
from warehouse.db import WarehouseError, connection
from warehouse.settings import DATA_DIR

console = Console(soft_wrap=True)


def did(
    outcome: Annotated[str, typer.Argument(help="Outcome column of fct_<level>_year, e.g. gdp.")],
    policy: Annotated[str, typer.Option(help="demonstration_zone, or a policy in reference.policy_pilots.")] = (
        "demonstration_zone"),
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
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run even if `geopanel check` failed or is out of date (recorded).")] = False,
    db: Annotated[Path | None, typer.Option("--db", help="Warehouse file.")] = None,
) -> None:
    """Staggered DID of a policy: TWFE, event study, Bacon, Callaway–Sant'Anna, Sun–Abraham, imputation and
    stacked DID, robustness checks and placebo, with plots and paper-style tables; on request PSM-DID,
    heterogeneity by city flags, mediation, moderation and a spatial DID.

    Example: geopanel did gdp --log --rule july --by is_resource_based --mediator patent_app_invention --w queen_city
    """
    bounds, stacked_bounds = _window("--window", window), _window("--stacked-window", stacked_window)
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
        with (connection(db, read_only=True) as con, Progress(console=console, transient=True) as bar,
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
        with connection(db) as con:
            table = store_treatment(con, battery.sample, level)
            run_id = store_battery(con, battery, outcome, level, started, spec)
    except (DIDError, TreatmentError, WarehouseError, FontError, SpatialPanelError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    for note in caught:
        if issubclass(note.category, WeightsSubsetWarning):
            console.print(f"[yellow]note:[/] {note.message}", highlight=False)
    t = battery.twfe
    if not battery.quality.passed:
        console.print(f"[yellow]quality gate: {battery.quality.status}[/] — " + "; ".join(battery.quality.problems()),
                      highlight=False)
    console.print(f"TWFE {outcome}: {t.coef:.4f} (se {t.se:.4f}, p {t.pvalue:.3g}, N {t.nobs}); "
                  f"Bacon Σ = {battery.bacon.estimate:.4f}; pre-trend max |t| = "
                  f"{battery.event_study.pre_trend_max_abs_t():.2f}", highlight=False)
    if battery.placebo is not None:
        console.print(f"placebo: {placebo} draws, mean {battery.placebo.estimates.mean():.5f}, "
                      f"p = {battery.placebo.p_value:.3f}", highlight=False)
    if battery.psm is not None:
        console.print(f"PSM-DID: {battery.psm.did.coef:.4f} (se {battery.psm.did.se:.4f}) on "
                      f"{len(battery.psm.matched)} matched unit-years", highlight=False)
    stacked = battery.stacked
    console.print(f"stacked DID: {stacked.att:.4f} (se {stacked.se:.4f}); Callaway–Sant'Anna (never treated): "
                  f"{battery.robust.iloc[1]['att']:.4f}", highlight=False)
    if battery.mediation is not None:
        m = battery.mediation
        console.print(f"mediation by {mediator}: indirect a·b = {m.indirect:.4f}, bootstrap 95% CI "
                      f"{m.boot_ci[0]:.4f}..{m.boot_ci[1]:.4f}", highlight=False)
    if battery.spatial is not None:
        eff = battery.spatial.effects.set_index("effect")
        console.print(f"spatial DID: direct {eff.loc['direct', 'estimate']:.4f}, spillover "
                      f"{eff.loc['indirect', 'estimate']:.4f} (se {eff.loc['indirect', 'std_error']:.4f})",
                      highlight=False)
    console.print(f"run {run_id} → analysis.model_runs; treatment timing → {table}; report and plots → {out}",
                  highlight=False)


def _names(option: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in option.split(",") if c.strip())


def _window(flag: str, text: str) -> tuple[int, int]:
    try:
        low, _, high = text.partition(":")
        return int(low), int(high)
    except ValueError:
        console.print(f"[red]error:[/] {flag} {text!r}: write LOW:HIGH, e.g. -5:5")
        raise typer.Exit(1) from None
