"""Run the DID battery on a warehouse panel (treatment from the policy seeds) or on any panel with a column of
first-treated periods, and write its tables, plots and treatment table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from analyses.did.bacon import BaconResult, bacon
from analyses.did.callaway_santanna import AGGREGATIONS, CSResult, callaway_santanna
from analyses.did.cohorts import CodingReport, cohort_sample
from analyses.did.estimators import (
    DIDError,
    EventStudyResult,
    TWFEResult,
    event_study,
    imputation,
    stepwise,
    sun_abraham,
    twfe,
)
from analyses.did.heterogeneity import attach_flags, concurrent_dummies, concurrent_policy_controls, heterogeneity
from analyses.did.mechanisms import MediationResult, mediation, moderation
from analyses.did.paper_tables import did_table, heterogeneity_table, robustness_table, stepwise_table
from analyses.did.placebo import PlaceboResult, placebo
from analyses.did.psm import PSMResult, psm_did
from analyses.did.sample import PolicySample, policy_sample, require_never_treated
from analyses.did.spatial import spatial_did
from analyses.did.stacked import StackedResult, stacked_did
from analyses.runs import store_run
from analyses.spatial_panel import SpatialPanelResult
from warehouse.errors import DataError
from warehouse.panel_data import PanelData
from warehouse.quality.gate import GateStatus, gate_status, require_checked
from warehouse.quality.results import fingerprint
from warehouse.quality.spec import qualify


@dataclass
class DIDBattery:
    """Everything one `geopanel did` run estimated, plus the files it wrote."""

    sample: PolicySample
    twfe: TWFEResult
    event_study: EventStudyResult
    bacon: BaconResult
    robust: pd.DataFrame  # estimator, att, se: heterogeneity-robust alternatives to TWFE
    dynamic: pd.DataFrame  # event_time × estimator (TWFE event study, Callaway–Sant'Anna, Sun–Abraham)
    robustness: pd.DataFrame  # check, coef, se, nobs: the baseline re-estimated on altered samples
    placebo: PlaceboResult | None
    psm: PSMResult | None
    quality: GateStatus
    files: list[Path]
    stacked: StackedResult | None = None
    controls: tuple[str, ...] = ()
    heterogeneity: pd.DataFrame | None = None  # flag, model, term, coef, se, pvalue, p_permutation, nobs
    mediation: MediationResult | None = None
    mediator: str | None = None
    moderation: pd.DataFrame | None = None  # term, coef, se, pvalue, nobs of treat × centred moderator
    moderator: str | None = None
    spatial: SpatialPanelResult | None = None
    stepwise: list[TWFEResult] | None = None  # TWFE adding the controls one at a time
    cs_by_cohort: pd.DataFrame | None = None  # Callaway–Sant'Anna (never treated) by adoption cohort
    cs_by_year: pd.DataFrame | None = None  # … and by calendar year
    cs: dict[str, CSResult] | None = None  # Callaway–Sant'Anna by control group ('never', 'notyet')
    coding: CodingReport | None = None  # how a --cohort column was read
    source: str | None = None  # the data, when not fct_<level>_year: a table, a query or a file
    source_table: str | None = None  # the warehouse table behind `source`, for the run's data fingerprint
    notes: list[str] = field(default_factory=list)  # estimators that could not run on this sample, and why
    sun_abraham: pd.DataFrame | None = None  # event_time, coef, se

    def to_table(self, fmt: str = "markdown") -> str:
        """The baseline table of the papers (001, Table 3): one column per estimator (TWFE, Callaway–Sant'Anna,
        Sun–Abraham, imputation, stacked …), coefficient with stars and SE, N; Markdown, LaTeX or HTML."""
        return did_table(self, fmt)

    def markdown(self, outcome: str) -> str:
        """A paper-style summary: baseline, event study, Bacon weights, placebo."""
        s, t = self.sample, self.twfe
        title = (f"# DID: {outcome}, treatment timing from column {s.policy}" if s.rule == "cohort column"
                 else f"# DID: {outcome} on {s.policy} (timing rule: {s.rule})")
        lines = [
            title, "",
            *([f"Data: {self.source}.", ""] if self.source else []),
            f"Data quality gate: {self.quality.status}.", "",
            *([f"Cohorts: {self.coding.message}.", ""] if self.coding else []),
            f"Sample: {s.data['unit'].nunique()} units × {s.data['year'].nunique()} years, {s.n_treated} treated "
            f"(adoption years {', '.join(map(str, s.adoption_years))}); {len(s.dropped)} units left out "
            "(listed in dropped_units.csv).", "",
            *self._listing_lines(),
            *([f"Controls {', '.join(self.controls)} enter TWFE, the event study, the Bacon decomposition and the "
               "robustness checks; the heterogeneity-robust estimators, placebo, PSM-DID, heterogeneity, "
               "mechanisms and the spatial DID are unconditional.",
               ""] if self.controls else []),
            did_table(self), "",
            *(["Adding the controls one at a time:", "", stepwise_table(self), ""] if self.stepwise else []),
            "## Event study", "", self.event_study.table.round(4).to_markdown(index=False), "",
            "## Heterogeneity-robust estimators", "", self.robust.round(4).to_markdown(index=False), "",
            "Dynamic effects by estimator (event time 0 = adoption year; Callaway–Sant'Anna pre-periods use the "
            "varying base t−1, so they are one-year differences, not differences from t = −1):", "",
            self.dynamic.round(4).to_markdown(index=False), "",
            *self._cs_lines(),
            *(self._stacked_lines()),
            *(["## Notes", "", *[f"- {n}" for n in self.notes], ""] if self.notes else []),
            "## Robustness", "", robustness_table(self), "",
            "## Goodman-Bacon decomposition", "", self.bacon.by_type().round(4).to_markdown(index=False), "",
            f"Σ weight × estimate = {self.bacon.estimate:.6f} (TWFE {t.coef:.6f})", "",
        ]
        if self.placebo is not None:
            p = self.placebo
            lines += ["## Placebo", "", f"{len(p.estimates)} random pseudo-treatments of {p.n_treated} units "
                      f"(seed {p.seed}): mean {p.estimates.mean():.5f}, sd {p.estimates.std():.5f}, "
                      f"randomisation p = {p.p_value:.3f}", ""]
        if self.psm is not None:
            m = self.psm
            lines += ["## PSM-DID (period-by-period matching)", "",
                      f"Matched sample: {len(m.matched)} unit-years; DID {m.did.coef:.4f} (se {m.did.se:.4f}).", "",
                      m.balance.round(3).to_markdown(index=False), ""]
        if self.heterogeneity is not None:
            lines += ["## Heterogeneity by city flags", "",
                      "Moderation: TWFE with treated × flag; split: TWFE within each group; difference: z-test of the "
                      "two group estimates and a permutation p-value (flag reassigned over units).", "",
                      heterogeneity_table(self), "", "Moderation (one regression per flag):", "",
                      self.heterogeneity.query("model == 'moderation'").round(4).to_markdown(index=False), ""]
        if self.mediation is not None:
            m = self.mediation
            lines += [f"## Mechanism: {self.mediator}", "",
                      f"Three-step mediation with unit and year fixed effects; indirect effect a·b = {m.indirect:.4f}, "
                      f"Sobel p = {m.sobel_p:.3g}, unit-cluster bootstrap ({m.reps} draws) 95% CI "
                      f"{m.boot_ci[0]:.4f}..{m.boot_ci[1]:.4f}.", "", m.table().round(4).to_markdown(index=False), ""]
        if self.moderation is not None:
            lines += [f"## Moderation by {self.moderator}", "",
                      f"TWFE with treated × ({self.moderator} − its mean): the interaction says how the effect changes "
                      f"per unit of {self.moderator}; the coefficient of treated is the effect at the mean.", "",
                      self.moderation.round(4).to_markdown(index=False), ""]
        if self.spatial is not None:
            sp = self.spatial
            effects = sp.effects[sp.effects["variable"] == "treated"]
            lines += ["## Spatial DID (SDM, two-way fixed effects)", "",
                      f"ρ = {sp.params['rho']:.4f}; direct effect = the policy's effect on treated units (feedback "
                      "included), indirect = spillover to neighbours (LeSage–Pace, SEs by simulation).", "",
                      effects[["effect", "estimate", "std_error", "p_value"]].round(4).to_markdown(index=False), ""]
        return "\n".join(lines)

    def _listing_lines(self) -> list[str]:
        """Where the treatment coding comes from: how many seed rows of the treated units are verified against
        their source, and the unverified ones in full (they decide who is treated and when)."""
        listings = self.sample.listings
        if listings is None or listings.empty:
            return []
        bad = self.sample.unverified
        lines = [f"Treatment listings (seed rows of the treated units, in treatment_sources.csv): "
                 f"{len(listings) - len(bad)} verified against their source, {len(bad)} not verified.", ""]
        if len(bad):
            lines += ["Not verified — check these before relying on the estimates:", "",
                      bad[["unit", "group", "date", "batch", "note"]].to_markdown(index=False), ""]
        return lines

    def _cs_lines(self) -> list[str]:
        if self.cs_by_cohort is None or self.cs_by_year is None:
            return []
        lines = []
        if self.cs:
            lines += ["Callaway–Sant'Anna overall estimates as R did::aggte reports them (simple: post cells weighted "
                      "by cohort size; group: cohort ATTs weighted by cohort size; dynamic: mean of the event-time "
                      "effects e ≥ 0; calendar: mean of the calendar-year effects; SEs from the influence functions):",
                      "", cs_overall(self.cs).round(4).to_markdown(index=False), ""]
            notes = [f"{control}: {note}" for control, cs in self.cs.items() for note in cs.notes]
            lines += [*[f"- {n}" for n in notes], ""] if notes else []
        return [*lines, "Callaway–Sant'Anna (never-treated controls) by adoption cohort and by calendar year:", "",
                self.cs_by_cohort.round(4).to_markdown(index=False), "",
                self.cs_by_year.round(4).to_markdown(index=False), ""]

    def as_dict(self, outcome: str) -> dict:
        """Every estimate with its SE and every Callaway–Sant'Anna aggregate, as plain JSON-ready data (NaN as
        None): what `geopanel did --json` prints."""
        s = self.sample
        estimates = [{"estimator": "TWFE", "term": "treated", "estimate": self.twfe.coef, "se": self.twfe.se,
                      "nobs": self.twfe.nobs}]
        estimates += [{"estimator": r.estimator, "term": "treated", "estimate": r.att, "se": r.se}
                      for r in self.robust.iloc[1:].itertuples()]
        if self.psm is not None:
            estimates.append({"estimator": "PSM-DID", "term": "treated", "estimate": self.psm.did.coef,
                              "se": self.psm.did.se, "nobs": self.psm.did.nobs})
        out = {
            "outcome": outcome, "data": self.source, "quality": self.quality.status,
            "sample": {"units": int(s.data["unit"].nunique()), "periods": int(s.data["year"].nunique()),
                       "treated_units": s.n_treated, "adoption_years": s.adoption_years,
                       "dropped_units": int(len(s.dropped)), "timing": s.rule,
                       "cohorts": self.coding.counts if self.coding else None,
                       "never_code": self.coding.never_code if self.coding else None,
                       "listings_verified": None if s.listings is None else int(len(s.listings) - len(s.unverified)),
                       "listings_unverified": None if s.listings is None else s.unverified["unit"].tolist()},
            "coding": self.coding.message if self.coding else None,
            "estimates": estimates,
            "event_study": self.event_study.table.to_dict("records"),
            "dynamic_by_estimator": self.dynamic.to_dict("records"),
            "robustness": self.robustness.to_dict("records"),
            "bacon": {"estimate": self.bacon.estimate, "by_type": self.bacon.by_type().to_dict("records")},
            "callaway_santanna": {control: {"attgt": cs.attgt.to_dict("records"),
                                            "aggregates": cs.aggregates().to_dict("records"), "notes": cs.notes}
                                  for control, cs in (self.cs or {}).items()},
            "sun_abraham": self.sun_abraham.to_dict("records") if self.sun_abraham is not None else None,
            "notes": self.notes,
        }
        if self.heterogeneity is not None:
            out["heterogeneity"] = self.heterogeneity.to_dict("records")
        if self.mediation is not None:
            m = self.mediation
            out["mediation"] = {"mediator": self.mediator, "steps": m.table().to_dict("records"),
                                "indirect": m.indirect, "sobel_p": m.sobel_p, "boot_ci": list(m.boot_ci)}
        if self.moderation is not None:
            out["moderation"] = {"moderator": self.moderator, "terms": self.moderation.to_dict("records")}
        if self.spatial is not None:
            out["spatial_did"] = {"rho": float(self.spatial.params["rho"]), "rho_se": float(self.spatial.bse["rho"]),
                                  "effects": self.spatial.effects.to_dict("records")}
        if self.stepwise:
            out["stepwise"] = [{"controls": list(self.controls[:k]), "coef": f.coef, "se": f.se, "nobs": f.nobs,
                                "r2": f.r2, "r2_within": f.r2_within} for k, f in enumerate(self.stepwise)]
        if self.stacked is not None:
            out["stacked"] = {"att": self.stacked.att, "se": self.stacked.se, "nobs": self.stacked.nobs,
                              "event_study": self.stacked.event_study.to_dict("records")}
        if self.placebo is not None:
            p = self.placebo
            out["placebo"] = {"draws": len(p.estimates), "mean": float(p.estimates.mean()),
                              "sd": float(p.estimates.std()), "p_value": p.p_value, "seed": p.seed}
        return _plain(out)

    def _stacked_lines(self) -> list[str]:
        if self.stacked is None:
            return []
        st = self.stacked
        trimmed = st.cohorts[~st.cohorts["included"]]
        note = ("" if trimmed.empty else " Trimmed cohorts: " + "; ".join(
            f"{r.cohort} ({r.reason})" for r in trimmed.itertuples()) + ".")
        return ["## Stacked DID", "",
                f"Window {st.window[0]}:{st.window[1]}, {st.control}-treated controls, corrective weights of Wing, "
                f"Freedman & Hollingsworth (2024): trimmed aggregate ATT {st.att:.4f} (se {st.se:.4f}, "
                f"{st.nobs} stacked rows).{note}", ""]


def run_battery(
    con: duckdb.DuckDBPyConnection | None, outcome: str, out_dir: Path, policy: str = "demonstration_zone",
    level: str = "city", rule: str = "calendar", log_outcome: bool = False, window: tuple[int, int] = (-5, 5),
    reference: int = -1, placebo_reps: int = 500, seed: int = 20240601, covariates: tuple[str, ...] = (),
    allow_failing_checks: bool = False, progress: Callable[[int, int], None] | None = None,
    controls: tuple[str, ...] = (), stacked_window: tuple[int, int] = (-3, 3), concurrent: tuple[str, ...] = (),
    by: tuple[str, ...] = (), mediator: str | None = None, moderator: str | None = None, w: str | None = None,
    boot_reps: int = 500, sample: PolicySample | None = None, gate: GateStatus | None = None,
    coding: CodingReport | None = None, source: str | None = None, source_table: str | None = None,
    **timing: object,
) -> DIDBattery:
    """Quality gate → sample → TWFE → event study → Bacon → robust estimators (CS, imputation, stacked)
    → robustness → placebo → PSM-DID, and on request heterogeneity by city flags (`by`), a mediation
    analysis (`mediator`), a moderation analysis (`moderator`), concurrent-policy controls
    (`concurrent`) and a spatial DID (`w`, a stored weights matrix or a weights file). `timing` goes to the
    sample: provinces, exclude_provinces, cutoff_month, include_partial, exclude_units, exclude_groups,
    exclude_batches (see `policy_sample` and `treatment_panel`).

    Refuses (QualityGateError) when fct_<level>_year failed an error-level check, was never checked or
    changed since, unless `allow_failing_checks`. Plots and tables go into `out_dir`; with
    `log_outcome`, covariates, controls, the mediator and the moderator are logged too.

    Any other panel: pass a prepared `sample` (`cohort_sample`, treatment timing from a column of first-treated
    periods) with the `gate` status its source had, the cohort `coding` and a `source` description; the same
    estimators run. `con` may then be None unless `by`, `concurrent` or `w` need the warehouse.
    """
    if sample is None:
        gate = require_checked(con, [f"main.fct_{level}_year"], allow_failing_checks=allow_failing_checks)
        extra = [c for c in (mediator, moderator) if c]
        columns = list(dict.fromkeys([outcome, *covariates, *controls, *extra]))
        sample = policy_sample(con, policy, columns, level=level, rule=rule, log_outcomes=log_outcome, **timing)
        source = source_table = f"main.fct_{level}_year"
    elif gate is None:
        raise ValueError("run_battery with a prepared sample needs the gate status of its data")
    needs = [flag for flag, value in (("--by", by), ("--concurrent", concurrent), ("--w", w)) if value]
    if con is None and needs:
        raise DIDError(f"{needs[0]} reads the warehouse (city flags, policy seeds or stored weights): give --db, "
                       "or leave it out for data outside the warehouse")
    data = sample.data
    if sample.rule == "cohort column" and data["ever_treated"].all():
        last = int(data["cohort"].max())
        raise DIDError(f"every unit of {source or 'the data'} is treated by {last}: the estimators need "
                       "never-treated units (cohort empty, 0, inf or after the panel): end the sample before "
                       f"{last}, or leave that cohort's units out (--exclude-units)")
    require_never_treated(data)
    base = twfe(data, outcome, controls=controls)
    dynamic = event_study(data, outcome, window=window, reference=reference, controls=controls)
    decomposition = bacon(data, outcome, controls=controls)
    try:
        stacked = stacked_did(data, outcome, window=stacked_window)
    except DIDError as exc:
        raise DIDError(f"stacked DID: {exc} with --stacked-window LOW:HIGH (now {stacked_window[0]}:"
                       f"{stacked_window[1]})") from exc
    cs = {control: callaway_santanna(data, outcome, control=control) for control in ("never", "notyet")}
    notes: list[str] = []
    robust = robust_estimates(data, outcome, base, cs, stacked, notes=notes)
    sa = sun_abraham(data, outcome)
    by_event_time = dynamic_by_estimator(data, outcome, dynamic, cs["never"], stacked, sa=sa)
    checks = robustness(data, outcome, base, controls)
    if concurrent:
        with_dummies = concurrent_dummies(con, data, concurrent, level=level, rule=rule,
                                          cutoff_month=int(timing.get("cutoff_month", 7)))
        names = [f"concurrent_{p}" for p in concurrent]
        checks = pd.concat([checks, concurrent_policy_controls(with_dummies, outcome, names).iloc[1:]],
                           ignore_index=True)
    flags = None
    if by:
        if level != "city":
            raise DIDError("--by uses the city flags of dim_city_flags; use --level city")
        flagged = attach_flags(con, data)
        flags = pd.concat([heterogeneity(flagged, outcome, f, reps=boot_reps, seed=seed) for f in by],
                          ignore_index=True)
    mediated = mediation(data, outcome, mediator, reps=boot_reps, seed=seed) if mediator else None
    moderated = moderation(data, outcome, moderator) if moderator else None
    spatial = spatial_did(data, outcome, w, con=con, seed=seed,
                          allow_failing_checks=allow_failing_checks) if w else None
    pseudo = None
    if placebo_reps > 0:
        plain = twfe(data, outcome) if controls else base  # the placebo redraws the unconditional TWFE
        pseudo = placebo(data, outcome, plain.coef, sample.n_treated, sample.adoption_years, reps=placebo_reps,
                         seed=seed, progress=progress)
    matched = psm_did(data, outcome, list(covariates)) if covariates else None
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [dynamic.plot(out_dir / "event_study.png")]
    if pseudo is not None:
        files.append(pseudo.plot(out_dir / "placebo.png"))
    if matched is not None:
        files.append(matched.plot(out_dir / "psm_density.png"))
    sample.dropped.to_csv(out_dir / "dropped_units.csv", index=False)
    sources = out_dir / "treatment_sources.csv"
    if sample.listings is not None:
        sample.listings.to_csv(sources, index=False, encoding="utf-8-sig")
    elif sources.exists():  # left by an earlier run on a seeded policy
        sources.unlink()
    battery = DIDBattery(sample, base, dynamic, decomposition, robust, by_event_time, checks, pseudo, matched, gate,
                         files, stacked=stacked, controls=tuple(controls), heterogeneity=flags, mediation=mediated,
                         mediator=mediator, moderation=moderated, moderator=moderator, spatial=spatial,
                         stepwise=stepwise(data, outcome, controls) if controls else None,
                         cs_by_cohort=cs["never"].aggregate("group"), cs_by_year=cs["never"].aggregate("calendar"),
                         cs=cs, coding=coding, source=source, source_table=source_table, notes=notes,
                         sun_abraham=sa)
    report = out_dir / "did_report.md"
    report.write_text(battery.markdown(outcome), encoding="utf-8")
    makers = {"did_table": did_table, "did_robustness": robustness_table}
    optional = {"did_heterogeneity": (heterogeneity_table, flags is not None),
                "did_stepwise": (stepwise_table, bool(controls))}
    for name, (make, wanted) in optional.items():
        if wanted:
            makers[name] = make
        for stale in () if wanted else out_dir.glob(f"{name}.*"):  # left by an earlier run with that option
            stale.unlink()
    tables = []
    for name, make in makers.items():
        for suffix, fmt in (("tex", "latex"), ("html", "html")):
            tables.append(out_dir / f"{name}.{suffix}")
            tables[-1].write_text(make(battery, fmt), encoding="utf-8")
    battery.files += [report, *tables, out_dir / "dropped_units.csv", *([sources] if sources.exists() else [])]
    return battery


def run_battery_on_data(
    con: duckdb.DuckDBPyConnection | None, data: object, outcome: str, out_dir: Path, *, cohort: str,
    unit: str | None = None, time: str | None = None, allow_failing_checks: bool = False, log_outcome: bool = False,
    exclude_units: tuple[str, ...] = (), **battery: object,
) -> DIDBattery:
    """The battery on any panel whose treatment timing is a column of first-treated periods (`cohort`; never
    treated empty, 0, ±inf or after the panel). `data` is anything `warehouse.panel_data.read_panel` reads: a
    warehouse table or view, a SQL query, a .csv/.parquet/.xlsx/.dta file or a DataFrame; `unit` / `time` name its
    columns. A table, view or the warehouse tables a query reads pass the quality gate (`allow_failing_checks` as
    in `run_battery`); files and frames are 'not-checked'. `battery` takes the other options of `run_battery`.

        run_battery_on_data(None, "mpdta.csv", "lemp", Path("out"), cohort="first.treat", unit="countyreal",
                            window=(-3, 3), stacked_window=(-1, 1))
    """
    from warehouse.panel_data import read_panel

    panel = read_panel(data, con=con, unit=unit, time=time)
    if panel.time is None:
        raise DataError(f"{panel.source}: no period column 'year'; name it with time= (--time)")
    gate, table = data_gate(con, data, panel, allow_failing_checks)
    extra = [c for c in (battery.get("mediator"), battery.get("moderator")) if c]
    columns = list(dict.fromkeys([outcome, *battery.get("covariates", ()), *battery.get("controls", ()), *extra]))
    sample, coding = cohort_sample(panel.frame, columns, unit=panel.unit, time=panel.time, cohort=cohort,
                                   source=panel.source, log_outcomes=log_outcome, exclude_units=exclude_units)
    return run_battery(con, outcome, out_dir, sample=sample, gate=gate, coding=coding, source=panel.source,
                       source_table=table, allow_failing_checks=allow_failing_checks, **battery)


def data_gate(con: duckdb.DuckDBPyConnection | None, data: object, panel: PanelData,
              allow_failing_checks: bool = False) -> tuple[GateStatus, str | None]:
    """The quality gate of data read by read_panel: the table or view read, or every warehouse table a query
    reads (warehouse.quality.gate.require_checked); files and frames are 'not-checked'. Returns the status and
    the one table read (for the run's data fingerprint), None for a query."""
    gate = gate_status(con, panel.tables if panel.from_warehouse else [], allow_failing_checks)
    if gate.status == "not-checked":  # a file, a frame, or a query of files or literal values
        return gate, None
    one = qualify(str(data).strip()) if isinstance(data, str) and str(data).strip() in panel.tables else None
    return gate, one


def robust_estimates(data: pd.DataFrame, outcome: str, base: TWFEResult, cs: dict[str, CSResult],
                     stacked: StackedResult, notes: list[str] | None = None) -> pd.DataFrame:
    """Overall ATT by estimator: TWFE, Callaway–Sant'Anna (never / not-yet treated), two-stage imputation,
    weighted stacked DID. An estimator the sample cannot support (the imputation's first stage needs two untreated
    periods per unit) is NaN, with the reason appended to `notes`."""
    rows = [{"estimator": "TWFE", "att": base.coef, "se": base.se}]
    for control, label in (("never", "never treated"), ("notyet", "not-yet treated")):
        simple = cs[control].aggregate("simple").iloc[0]
        rows.append({"estimator": f"Callaway–Sant'Anna ({label})", "att": simple["att"], "se": simple["se"]})
    try:
        two_stage = imputation(data, outcome)
        rows.append({"estimator": "two-stage imputation (Gardner)", "att": two_stage.coef, "se": two_stage.se})
    except DIDError as exc:
        rows.append({"estimator": "two-stage imputation (Gardner)", "att": math.nan, "se": math.nan})
        if notes is not None:
            notes.append(f"not estimated: {exc}")
    rows.append({"estimator": "stacked DID (weighted)", "att": stacked.att, "se": stacked.se})
    return pd.DataFrame(rows)


def dynamic_by_estimator(data: pd.DataFrame, outcome: str, twfe_es: EventStudyResult, cs_never: CSResult,
                         stacked: StackedResult, sa: pd.DataFrame | None = None) -> pd.DataFrame:
    """Event-time effects side by side: binned TWFE event study, Callaway–Sant'Anna (never treated), Sun–Abraham
    (`sa`, estimated here when not given), stacked DID (inside its own window)."""
    cs = cs_never.aggregate("dynamic")
    sa = sun_abraham(data, outcome) if sa is None else sa
    low, high = twfe_es.window
    frame = twfe_es.table[["rel_time", "coef"]].rename(columns={"rel_time": "event_time", "coef": "TWFE event study"})
    frame = frame.merge(cs[["event_time", "att"]].rename(columns={"att": "Callaway–Sant'Anna"}), how="left")
    frame = frame.merge(sa[["event_time", "coef"]].rename(columns={"coef": "Sun–Abraham"}), how="left")
    frame = frame.merge(stacked.event_study[["event_time", "coef"]].rename(columns={"coef": "stacked"}), how="left")
    return frame[(frame["event_time"] >= low) & (frame["event_time"] <= high)].reset_index(drop=True)


def robustness(data: pd.DataFrame, outcome: str, base: TWFEResult, controls: tuple[str, ...] = ()) -> pd.DataFrame:
    """The usual checks of the papers: anticipation, dropping municipalities / capitals, 1% winsorising."""
    rows = [{"check": "baseline", "term": "treated", "coef": base.coef, "se": base.se, "nobs": base.nobs}]
    anticipation = data.assign(pre_1=(data["rel_time"] == -1).fillna(False).astype(int))
    fit = twfe(anticipation, outcome, controls=["pre_1", *controls])
    pre = fit.table.set_index("Coefficient").loc["pre_1"]
    label = "anticipation: dummy for the year before adoption"
    rows.append({"check": label, "term": "treated", "coef": fit.coef, "se": fit.se, "nobs": fit.nobs})
    rows.append({"check": label, "term": "pre_1", "coef": pre["Estimate"], "se": pre["Std. Error"], "nobs": fit.nobs})
    for flag, label in (("is_municipality", "without the four municipalities"),
                        ("is_provincial_capital", "without provincial capitals")):
        subset = data[~data[flag].fillna(False).astype(bool)]
        if len(subset) < len(data) and subset["ever_treated"].any():
            fit = twfe(subset, outcome, controls=controls)
            rows.append({"check": label, "term": "treated", "coef": fit.coef, "se": fit.se, "nobs": fit.nobs})
    low, high = data[outcome].quantile([0.01, 0.99])
    fit = twfe(data.assign(**{outcome: data[outcome].clip(low, high)}), outcome, controls=controls)
    rows.append({"check": "outcome winsorised at 1%/99% (pooled)", "term": "treated", "coef": fit.coef,
                 "se": fit.se, "nobs": fit.nobs})
    return pd.DataFrame(rows)


def store_battery(con: duckdb.DuckDBPyConnection, battery: DIDBattery, outcome: str, level: str,
                  started_at: datetime, spec: dict) -> str:
    """One row in analysis.model_runs (kind 'did'), the estimates of every estimator, and the tests."""
    t, s = battery.twfe, battery.sample
    table = battery.source_table if battery.source else f"main.fct_{level}_year"
    estimates = [{"term": "treated [TWFE]", "estimate": t.coef, "std_error": t.se, "z": t.coef / t.se,
                  "p_value": t.pvalue}]
    estimates += [{"term": f"treated [{r.estimator}]", "estimate": r.att, "std_error": r.se, "z": r.att / r.se,
                   "p_value": None} for r in battery.robust.iloc[1:].itertuples()]
    for control, cs in (battery.cs or {}).items():
        label = "never treated" if control == "never" else "not-yet treated"
        for kind in AGGREGATIONS[1:]:
            o = cs.overall(kind)
            estimates.append({"term": f"{kind} [Callaway–Sant'Anna ({label})]", "estimate": o["att"],
                              "std_error": o["se"], "z": o["z"], "p_value": o["p_value"]})
    estimates += [{"term": f"event_time {int(r.rel_time)}", "estimate": r.coef, "std_error": r.se,
                   "z": r.coef / r.se if r.se == r.se else None, "p_value": None}
                  for r in battery.event_study.table.itertuples()]
    tests = [{"test": "Bacon: sum of weight x 2x2 estimate", "statistic": battery.bacon.estimate, "df": None,
              "p_value": None, "note": f"equals TWFE {t.coef:.6f}"},
             {"test": "pre-trend: max |t| of pre-period event-study coefficients",
              "statistic": battery.event_study.pre_trend_max_abs_t(), "df": None, "p_value": None, "note": None}]
    if battery.placebo is not None:
        p = battery.placebo
        tests.append({"test": "randomisation placebo", "statistic": float(p.estimates.mean()), "df": len(p.estimates),
                      "p_value": p.p_value, "note": f"{p.n_treated} pseudo-treated units, seed {p.seed}"})
    if battery.psm is not None:
        m = battery.psm.did
        estimates.append({"term": "treated [PSM-DID]", "estimate": m.coef, "std_error": m.se, "z": m.coef / m.se,
                          "p_value": m.pvalue})
    if battery.heterogeneity is not None:
        estimates += [{"term": f"{r.term} [{r.model}]", "estimate": r.coef, "std_error": r.se, "z": r.coef / r.se,
                       "p_value": r.pvalue} for r in battery.heterogeneity.itertuples()]
    if battery.mediation is not None:
        md = battery.mediation
        tests.append({"test": f"mediation by {battery.mediator}: indirect effect a·b", "statistic": md.indirect,
                      "df": md.reps, "p_value": md.sobel_p,
                      "note": f"Sobel p; unit-cluster bootstrap 95% CI {md.boot_ci[0]:.4f}..{md.boot_ci[1]:.4f}"})
    if battery.moderation is not None:
        estimates += [{"term": f"{r.term} [moderation by {battery.moderator}]", "estimate": r.coef,
                       "std_error": r.se, "z": r.coef / r.se, "p_value": r.pvalue}
                      for r in battery.moderation.itertuples()]
    effects = None
    if battery.spatial is not None:
        sp = battery.spatial
        effects = sp.effects.assign(variable="treated [spatial DID]")
        estimates.append({"term": "rho [spatial DID]", "estimate": float(sp.params["rho"]),
                          "std_error": float(sp.bse["rho"]), "z": float(sp.params["rho"] / sp.bse["rho"]),
                          "p_value": None})
    run = {
        "kind": "did", "model": "staggered DID battery", "effects": "twoways", "formula": t.formula,
        "dependent": outcome, "data_source": battery.source or table, "unit_column": "unit", "time_column": "year",
        "n_units": int(s.data["unit"].nunique()), "n_periods": int(s.data["year"].nunique()), "nobs": t.nobs,
        "vcov_method": "CRV1 by unit", "data_fingerprint": fingerprint(con, table) if table else None,
        "spec_json": json.dumps({**spec, "policy": s.policy, "rule": s.rule}, ensure_ascii=False, default=str),
        "quality_status": battery.quality.status, "started_at": started_at, "finished_at": datetime.now(UTC),
    }
    return store_run(con, run, pd.DataFrame(estimates), effects=effects, tests=pd.DataFrame(tests))


def store_treatment(con: duckdb.DuckDBPyConnection, sample: PolicySample, level: str) -> str:
    """Write the sample's treatment timing to analysis.treat_<policy>_<level>_year (replaced atomically)."""
    name = f"analysis.treat_{sample.policy}_{level}_year"
    frame = sample.data[["unit", "year", "cohort", "rel_time", "treated", "ever_treated"]].assign(rule=sample.rule)
    con.register("treatment_frame", pd.DataFrame(frame))
    con.execute(f"create or replace table {name} as select * from treatment_frame")
    con.unregister("treatment_frame")
    return name


def cs_overall(cs: dict[str, CSResult]) -> pd.DataFrame:
    """Overall Callaway–Sant'Anna estimates of every aggregation (R did::aggte overall.att / overall.se), one row
    per control group and aggregation."""
    label = {"never": "never treated", "notyet": "not-yet treated"}
    rows = [{"controls": label.get(control, control), **{k: v for k, v in result.overall(kind).items() if k != "term"}}
            for control, result in cs.items() for kind in AGGREGATIONS]
    return pd.DataFrame(rows)[["controls", "kind", "att", "se", "z", "p_value"]]


def _plain(value: object) -> object:
    """JSON-ready: numpy scalars to Python, NaN to None, frames' keys to text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
