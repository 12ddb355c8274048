"""Write `reg` fits into analysis.model_runs / model_estimates / model_tests (kind 'reg'), one run per column."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from analyses.reg.fit import RegResult
from analyses.reg.threshold import ThresholdResult
from analyses.runs import store_run


def store_reg(con, fit: RegResult, spec: dict, started_at: datetime, kind: str = "reg") -> str:
    """Insert one fitted column with its estimates and (IV) diagnostics; returns the run id."""
    estimates = fit.table.rename(columns={"se": "std_error", "t": "z", "p": "p_value", "coef": "estimate"})
    estimates = estimates[["term", "estimate", "std_error", "z", "p_value"]]
    tests = fit.iv.tests() if fit.iv is not None else pd.DataFrame()
    if fit.iv is not None and len(fit.iv.first_stage):
        fs = fit.iv.first_stage
        estimates = pd.concat([estimates, pd.DataFrame({
            "term": [f"{r.term} [first stage: {r.endogenous}]" for r in fs.itertuples()], "estimate": fs["coef"],
            "std_error": fs["se"], "z": fs["t"], "p_value": fs["p"]})], ignore_index=True)
    run = {
        "kind": kind, "model": fit.estimator, "effects": " + ".join(fit.fixef) or "none",
        "formula": fit.formula, "dependent": fit.dependent, "data_source": fit.source, "unit_column": fit.unit,
        "time_column": fit.time, "nobs": fit.nobs, "r2": fit.r2, "vcov_method": fit.vce,
        "data_fingerprint": fit.fingerprint, "spec_json": json.dumps(spec, ensure_ascii=False, default=str),
        "quality_status": fit.quality, "started_at": started_at, "finished_at": datetime.now(UTC),
    }
    return store_run(con, run, estimates, tests=tests)


def store_threshold(con, result: ThresholdResult, spec: dict, started_at: datetime) -> str:
    """Insert a threshold run: regime coefficients, thresholds with their 95% intervals, the bootstrap F tests."""
    estimates = result.coefficients.rename(columns={"se": "std_error", "t": "z", "p": "p_value", "coef": "estimate"})
    estimates = estimates[["term", "estimate", "std_error", "z", "p_value"]]
    rows = [{"term": f"threshold {k + 1} ({result.q})", "estimate": g, "std_error": None, "z": None, "p_value": None}
            for k, g in enumerate(result.thresholds)]
    estimates = pd.concat([estimates, pd.DataFrame(rows)], ignore_index=True)
    tests = pd.DataFrame([{"test": f"Hansen {r.test}", "statistic": r.F, "df": r.reps, "p_value": r.p_value,
                           "note": f"bootstrap critical values 10% {r.crit10:.3f}, 5% {r.crit5:.3f}, 1% {r.crit1:.3f}; "
                                   f"seed {result.seed}"} for r in result.tests.itertuples()])
    tests = pd.concat([tests, pd.DataFrame([
        {"test": f"threshold {k + 1}: 95% LR interval", "statistic": g, "df": None, "p_value": None,
         "note": f"{lo:.6g}..{hi:.6g}"} for k, (g, (lo, hi)) in enumerate(zip(result.thresholds, result.ci,
                                                                              strict=True))])], ignore_index=True)
    run = {
        "kind": "threshold", "model": f"Hansen panel threshold ({len(result.thresholds)})", "effects": "unit",
        "formula": f"{result.y} ~ {' + '.join(result.x)} by {result.q} + {' + '.join(result.controls) or '0'}",
        "dependent": result.y, "data_source": result.source, "unit_column": result.unit,
        "time_column": result.time, "n_units": result.n_units, "n_periods": result.n_periods, "nobs": result.nobs,
        "vcov_method": result.vce, "data_fingerprint": result.fingerprint,
        "spec_json": json.dumps(spec, ensure_ascii=False, default=str), "quality_status": result.quality,
        "started_at": started_at, "finished_at": datetime.now(UTC),
    }
    return store_run(con, run, estimates, tests=tests)


def store_tests(con, tests: pd.DataFrame, spec: dict, started_at: datetime, result) -> str:
    """One run (kind 'reg-tests') holding the battery's tests (Sobel, Chow, stacked, permutation, AET, Oster,
    Hausman) for the formula in `spec`."""
    frame = tests.assign(df=None)[["test", "statistic", "df", "p_value", "note"]]
    fit = result.fits[0] if result.fits else None
    run = {"kind": "reg-tests", "model": "mechanisms and selection", "formula": spec["formula"],
           "dependent": fit.dependent if fit else None, "data_source": fit.source if fit else spec["data"],
           "nobs": fit.nobs if fit else None, "vcov_method": spec.get("vce"),
           "data_fingerprint": fit.fingerprint if fit else None,
           "spec_json": json.dumps(spec, ensure_ascii=False, default=str), "quality_status": result.quality,
           "started_at": started_at, "finished_at": datetime.now(UTC)}
    return store_run(con, run, pd.DataFrame(), tests=frame)


def store_gmm(con, fit, spec: dict, started_at: datetime) -> str:
    """A difference- or system-GMM run: coefficients, AR / Sargan / Hansen / difference-in-Hansen tests, the
    instrument count in the spec."""
    estimates = fit.table.rename(columns={"coef": "estimate", "se": "std_error", "p": "p_value"})
    tests = fit.tests.assign(note=None)
    system = bool(fit.extras.get("system"))
    run = {"kind": "gmm", "model": f"{'system' if system else 'difference'} GMM ({fit.steps}-step)",
           "effects": "unit (differenced; levels instrumented by differences)" if system else "unit (differenced)",
           "formula": f"{fit.y} ~ {' + '.join(fit.table['term'])}", "dependent": fit.y, "data_source": fit.source,
           "unit_column": fit.unit, "time_column": fit.time, "n_units": fit.n_units, "nobs": fit.nobs,
           "vcov_method": ("Windmeijer" if fit.steps == 2 else "robust") if fit.robust else "conventional",
           "spec_json": json.dumps({**spec, "n_instruments": fit.n_instruments}, ensure_ascii=False, default=str),
           "quality_status": fit.quality, "started_at": started_at, "finished_at": datetime.now(UTC)}
    return store_run(con, run, estimates[["term", "estimate", "std_error", "z", "p_value"]], tests=tests)
