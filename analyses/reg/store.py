"""Write `reg` fits into analysis.model_runs / model_estimates / model_tests (kind 'reg'), one run per column."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from analyses.reg.fit import RegResult
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
        "kind": kind, "model": "2SLS" if fit.iv is not None else "OLS", "effects": " + ".join(fit.fixef) or "none",
        "formula": fit.formula, "dependent": fit.dependent, "data_source": fit.source, "unit_column": fit.unit,
        "time_column": fit.time, "nobs": fit.nobs, "r2": fit.r2, "vcov_method": fit.vce,
        "data_fingerprint": fit.fingerprint, "spec_json": json.dumps(spec, ensure_ascii=False, default=str),
        "quality_status": fit.quality, "started_at": started_at, "finished_at": datetime.now(UTC),
    }
    return store_run(con, run, estimates, tests=tests)
