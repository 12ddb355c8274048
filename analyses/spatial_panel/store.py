"""Write a fitted spatial panel into analysis.model_runs / model_estimates / model_effects / model_tests."""

from __future__ import annotations

import json

from analyses.runs import store_run
from analyses.spatial_panel.result import SpatialPanelResult


def store_result(con, result: SpatialPanelResult) -> str:
    """Insert one run and its rows in a single transaction; returns the run id."""
    run = {
        "kind": "spatial_panel", "model": result.model, "effects": result.effects_kind,
        "lee_yu": result.lee_yu, "formula": result.formula, "dependent": result.y_name,
        "data_source": result.data_source, "w_source": result.w_source, "unit_column": result.unit,
        "time_column": result.time, "n_units": result.n_units, "n_periods": result.n_periods, "nobs": result.nobs,
        "loglik": result.loglik, "sigma2": result.sigma2, "r2": result.r2, "logdet_method": result.logdet_method,
        "vcov_method": result.vcov_method, "data_fingerprint": result.fingerprint,
        "spec_json": json.dumps(result.spec()), "quality_status": result.quality_status,
        "started_at": result.started_at, "finished_at": result.finished_at,
    }
    return store_run(con, run, result.to_frame(), result.effects, result.tests)
