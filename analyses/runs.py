"""Model runs in the warehouse: analysis.model_runs (one row per estimation, with its specification,
data fingerprint and quality-gate status) and its model_estimates, model_effects and model_tests.

Every estimator (spatial panels, DID) stores through `store_run`, so all runs are queryable together.
"""

from __future__ import annotations

import uuid
from importlib.metadata import PackageNotFoundError, version

import duckdb
import pandas as pd

from warehouse.db import insert_frame, transaction

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


def geopanel_version() -> str:
    try:
        return version("geopanel")
    except PackageNotFoundError:
        return "unknown"


def store_run(
    con: duckdb.DuckDBPyConnection, run: dict, estimates: pd.DataFrame, effects: pd.DataFrame | None = None,
    tests: pd.DataFrame | None = None,
) -> str:
    """Insert one run (columns of model_runs; missing ones stay null) and its rows in one transaction."""
    run_id = uuid.uuid4().hex[:16]
    frames = {
        "model_runs": pd.DataFrame([{**run, "run_id": run_id, "geopanel_version": geopanel_version()}]),
        "model_estimates": estimates,
        "model_effects": effects if effects is not None else pd.DataFrame(),
        "model_tests": tests if tests is not None else pd.DataFrame(),
    }
    with transaction(con):
        for table, ddl in DDL.items():
            con.execute(f"create table if not exists analysis.{table} ({ddl})")
            frame = frames[table].copy()
            if len(frame) == 0:
                continue
            if "run_id" not in frame.columns:
                frame.insert(0, "run_id", run_id)
            insert_frame(con, f"analysis.{table}", frame)
    return run_id
