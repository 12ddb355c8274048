"""Run the DID battery on a warehouse panel and write its tables, plots and treatment table."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from scipy import stats

from analyses.did.bacon import BaconResult, bacon
from analyses.did.callaway_santanna import callaway_santanna
from analyses.did.estimators import EventStudyResult, TWFEResult, event_study, imputation, sun_abraham, twfe
from analyses.did.placebo import PlaceboResult, placebo
from analyses.did.psm import PSMResult, psm_did
from analyses.did.sample import PolicySample, policy_sample
from analyses.runs import store_run
from analyses.tables import render
from warehouse.quality.gate import GateStatus, require_checked
from warehouse.quality.results import fingerprint


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

    def markdown(self, outcome: str) -> str:
        """A paper-style summary: baseline, event study, Bacon weights, placebo."""
        s, t = self.sample, self.twfe
        lines = [
            f"# DID: {outcome} on {s.policy} (timing rule: {s.rule})", "",
            f"Data quality gate: {self.quality.status}.", "",
            f"Sample: {s.data['unit'].nunique()} units × {s.data['year'].nunique()} years, {s.n_treated} treated "
            f"(adoption years {', '.join(map(str, s.adoption_years))}); {len(s.dropped)} units left out "
            "(listed in dropped_units.csv).", "",
            did_table(self), "",
            "## Event study", "", self.event_study.table.round(4).to_markdown(index=False), "",
            "## Heterogeneity-robust estimators", "", self.robust.round(4).to_markdown(index=False), "",
            "Dynamic effects by estimator (event time 0 = adoption year; Callaway–Sant'Anna pre-periods use the "
            "varying base t−1, so they are one-year differences, not differences from t = −1):", "",
            self.dynamic.round(4).to_markdown(index=False), "",
            "## Robustness", "", self.robustness.round(4).to_markdown(index=False), "",
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
        return "\n".join(lines)


def _stars(p: float) -> str:
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def did_table(battery: DIDBattery, fmt: str = "markdown") -> str:
    """The baseline table in the papers' layout (001, Table 3): one column per estimator, the treatment
    coefficient with stars and its SE in parentheses, N and the fixed effects; Markdown, LaTeX or HTML."""
    columns: dict[str, list[str]] = {}
    fits = [("TWFE", battery.twfe.coef, battery.twfe.se, battery.twfe.nobs)]
    fits += [(r.estimator, r.att, r.se, battery.twfe.nobs) for r in battery.robust.iloc[1:].itertuples()]
    if battery.psm is not None:
        fits.append(("PSM-DID", battery.psm.did.coef, battery.psm.did.se, battery.psm.did.nobs))
    for i, (name, coef, se, nobs) in enumerate(fits):
        p = float(2 * stats.norm.sf(abs(coef / se))) if se > 0 else 1.0
        columns[f"({i + 1}) {name}"] = [f"{coef:.4f}{_stars(p)}", f"({se:.4f})", str(nobs), "yes", "yes"]
    grid = pd.DataFrame(columns, index=["treated", "treated ", "N", "unit FE", "year FE"])
    note = ("Standard errors clustered by unit in parentheses (normal p-values for the stars); "
            "*** p<0.01, ** p<0.05, * p<0.1.")
    return render(grid, fmt, note)


def run_battery(
    con: duckdb.DuckDBPyConnection, outcome: str, out_dir: Path, policy: str = "demonstration_zone",
    level: str = "city", rule: str = "calendar", log_outcome: bool = False, window: tuple[int, int] = (-5, 5),
    reference: int = -1, placebo_reps: int = 500, seed: int = 20240601, covariates: tuple[str, ...] = (),
    allow_failing_checks: bool = False, progress: Callable[[int, int], None] | None = None,
) -> DIDBattery:
    """Quality gate → sample → TWFE → event study → Bacon → robust estimators → placebo → PSM-DID.

    Refuses (QualityGateError) when fct_<level>_year failed an error-level check, was never checked or
    changed since, unless `allow_failing_checks`. Plots and tables go into `out_dir`; with
    `log_outcome`, covariates are logged too.
    """
    gate = require_checked(con, [f"main.fct_{level}_year"], allow_failing_checks=allow_failing_checks)
    sample = policy_sample(con, policy, [outcome, *covariates], level=level, rule=rule, log_outcomes=log_outcome)
    data = sample.data
    base = twfe(data, outcome)
    dynamic = event_study(data, outcome, window=window, reference=reference)
    decomposition = bacon(data, outcome)
    robust = robust_estimates(data, outcome, base)
    by_event_time = dynamic_by_estimator(data, outcome, dynamic)
    checks = robustness(data, outcome, base)
    pseudo = None
    if placebo_reps > 0:
        pseudo = placebo(data, outcome, base.coef, sample.n_treated, sample.adoption_years, reps=placebo_reps,
                         seed=seed, progress=progress)
    matched = psm_did(data, outcome, list(covariates)) if covariates else None
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [dynamic.plot(out_dir / "event_study.png")]
    if pseudo is not None:
        files.append(pseudo.plot(out_dir / "placebo.png"))
    if matched is not None:
        files.append(matched.plot(out_dir / "psm_density.png"))
    sample.dropped.to_csv(out_dir / "dropped_units.csv", index=False)
    battery = DIDBattery(sample, base, dynamic, decomposition, robust, by_event_time, checks, pseudo, matched, gate,
                         files)
    report = out_dir / "did_report.md"
    report.write_text(battery.markdown(outcome), encoding="utf-8")
    tables = [out_dir / f"did_table.{suffix}" for suffix in ("tex", "html")]
    for path, fmt in zip(tables, ("latex", "html"), strict=True):
        path.write_text(did_table(battery, fmt), encoding="utf-8")
    battery.files += [report, *tables, out_dir / "dropped_units.csv"]
    return battery


def robust_estimates(data: pd.DataFrame, outcome: str, base: TWFEResult) -> pd.DataFrame:
    """Overall ATT by estimator: TWFE, Callaway–Sant'Anna (never / not-yet treated), two-stage imputation."""
    rows = [{"estimator": "TWFE", "att": base.coef, "se": base.se}]
    for control, label in (("never", "never treated"), ("notyet", "not-yet treated")):
        simple = callaway_santanna(data, outcome, control=control).aggregate("simple").iloc[0]
        rows.append({"estimator": f"Callaway–Sant'Anna ({label})", "att": simple["att"], "se": simple["se"]})
    two_stage = imputation(data, outcome)
    rows.append({"estimator": "two-stage imputation (Gardner)", "att": two_stage.coef, "se": two_stage.se})
    return pd.DataFrame(rows)


def dynamic_by_estimator(data: pd.DataFrame, outcome: str, twfe_es: EventStudyResult) -> pd.DataFrame:
    """Event-time effects side by side: binned TWFE event study, Callaway–Sant'Anna (never treated), Sun–Abraham."""
    cs = callaway_santanna(data, outcome, control="never").aggregate("dynamic")
    sa = sun_abraham(data, outcome)
    low, high = twfe_es.window
    frame = twfe_es.table[["rel_time", "coef"]].rename(columns={"rel_time": "event_time", "coef": "TWFE event study"})
    frame = frame.merge(cs[["event_time", "att"]].rename(columns={"att": "Callaway–Sant'Anna"}), how="left")
    frame = frame.merge(sa[["event_time", "coef"]].rename(columns={"coef": "Sun–Abraham"}), how="left")
    return frame[(frame["event_time"] >= low) & (frame["event_time"] <= high)].reset_index(drop=True)


def robustness(data: pd.DataFrame, outcome: str, base: TWFEResult) -> pd.DataFrame:
    """The usual checks of the papers: anticipation, dropping municipalities / capitals, 1% winsorising."""
    rows = [{"check": "baseline", "term": "treated", "coef": base.coef, "se": base.se, "nobs": base.nobs}]
    anticipation = data.assign(pre_1=(data["rel_time"] == -1).fillna(False).astype(int))
    fit = twfe(anticipation, outcome, controls=["pre_1"])
    pre = fit.table.set_index("Coefficient").loc["pre_1"]
    rows.append({"check": "anticipation: dummy for the year before adoption", "term": "pre_1",
                 "coef": pre["Estimate"], "se": pre["Std. Error"], "nobs": fit.nobs})
    for flag, label in (("is_municipality", "without the four municipalities"),
                        ("is_provincial_capital", "without provincial capitals")):
        subset = data[~data[flag].fillna(False).astype(bool)]
        if len(subset) < len(data) and subset["ever_treated"].any():
            fit = twfe(subset, outcome)
            rows.append({"check": label, "term": "treated", "coef": fit.coef, "se": fit.se, "nobs": fit.nobs})
    low, high = data[outcome].quantile([0.01, 0.99])
    fit = twfe(data.assign(**{outcome: data[outcome].clip(low, high)}), outcome)
    rows.append({"check": "outcome winsorised at 1%/99% (pooled)", "term": "treated", "coef": fit.coef,
                 "se": fit.se, "nobs": fit.nobs})
    return pd.DataFrame(rows)


def store_battery(con: duckdb.DuckDBPyConnection, battery: DIDBattery, outcome: str, level: str,
                  started_at: datetime, spec: dict) -> str:
    """One row in analysis.model_runs (kind 'did'), the estimates of every estimator, and the tests."""
    t, s = battery.twfe, battery.sample
    table = f"main.fct_{level}_year"
    estimates = [{"term": "treated [TWFE]", "estimate": t.coef, "std_error": t.se, "z": t.coef / t.se,
                  "p_value": t.pvalue}]
    estimates += [{"term": f"treated [{r.estimator}]", "estimate": r.att, "std_error": r.se, "z": r.att / r.se,
                   "p_value": None} for r in battery.robust.iloc[1:].itertuples()]
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
    run = {
        "kind": "did", "model": "staggered DID battery", "effects": "twoways", "formula": t.formula,
        "dependent": outcome, "data_source": table, "unit_column": "unit", "time_column": "year",
        "n_units": int(s.data["unit"].nunique()), "n_periods": int(s.data["year"].nunique()), "nobs": t.nobs,
        "vcov_method": "CRV1 by unit", "data_fingerprint": fingerprint(con, table),
        "spec_json": json.dumps({**spec, "policy": s.policy, "rule": s.rule}, ensure_ascii=False, default=str),
        "quality_status": battery.quality.status, "started_at": started_at, "finished_at": datetime.now(UTC),
    }
    return store_run(con, run, pd.DataFrame(estimates), tests=pd.DataFrame(tests))


def store_treatment(con: duckdb.DuckDBPyConnection, sample: PolicySample, level: str) -> str:
    """Write the sample's treatment timing to analysis.treat_<policy>_<level>_year (replaced atomically)."""
    name = f"analysis.treat_{sample.policy}_{level}_year"
    frame = sample.data[["unit", "year", "cohort", "rel_time", "treated", "ever_treated"]].assign(rule=sample.rule)
    con.register("treatment_frame", pd.DataFrame(frame))
    con.execute(f"create or replace table {name} as select * from treatment_frame")
    con.unregister("treatment_frame")
    return name
