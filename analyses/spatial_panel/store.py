"""Write a fitted model into analysis.model_runs / model_estimates / model_effects / model_tests, atomically."""

from __future__ import annotations

import json
import uuid
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from analyses.spatial_panel.result import SpatialPanelResult

DDL = {
    "model_runs": """run_id varchar primary key, kind varchar, model varchar, effects varchar, lee_yu boolean,
        formula varchar, dependent varchar, data_source varchar, w_source varchar, unit_column varchar,
        time_column varchar, n_units integer, n_periods integer, nobs integer, loglik double, sigma2 double,
        r2 double, logdet_method varchar, vcov_method varchar, data_fingerprint varchar, spec_json varchar,
        quality_status varchar, started_at timestamptz, finished_at timestamptz, geopanel_version varchar""",
    "model_estimates": "run_id varchar, term varchar, estimate double, std_error double, z double, p_value double",
    "model_effects": """run_id varchar, variable varchar, effect varchar, estimate double, std_error double,
        std_error_delta double, z double, p_value double, ci_low double, ci_high double, draws integer""",
    "model_tests": "run_id varchar, test varchar, statistic double, df integer, p_value double, note varchar",
}


def _version() -> str:
    try:
        return version("geopanel")
    except PackageNotFoundError:
        return "unknown"


def store_result(con, result: SpatialPanelResult) -> str:
    """Insert one run and its rows in a single transaction; returns the run id."""
    run_id = uuid.uuid4().hex[:16]
    run = pd.DataFrame([{
        "run_id": run_id, "kind": "spatial_panel", "model": result.model, "effects": result.effects_kind,
        "lee_yu": result.lee_yu, "formula": result.formula, "dependent": result.y_name,
        "data_source": result.data_source, "w_source": result.w_source, "unit_column": result.unit,
        "time_column": result.time, "n_units": result.n_units, "n_periods": result.n_periods, "nobs": result.nobs,
        "loglik": result.loglik, "sigma2": result.sigma2, "r2": result.r2, "logdet_method": result.logdet_method,
        "vcov_method": result.vcov_method, "data_fingerprint": result.fingerprint,
        "spec_json": json.dumps(result.spec()), "quality_status": result.quality_status,
        "started_at": result.started_at, "finished_at": result.finished_at, "geopanel_version": _version(),
    }])
    frames = {
        "model_runs": run,
        "model_estimates": result.to_frame(),
        "model_effects": result.effects,
        "model_tests": result.tests,
    }
    con.execute("begin transaction")
    try:
        for table, ddl in DDL.items():
            con.execute(f"create table if not exists analysis.{table} ({ddl})")
            frame = frames[table].copy()
            if len(frame) == 0:
                continue
            if "run_id" not in frame.columns:
                frame.insert(0, "run_id", run_id)
            con.register("_rows", frame)
            con.execute(f"insert into analysis.{table} by name select * from _rows")
            con.unregister("_rows")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return run_id
