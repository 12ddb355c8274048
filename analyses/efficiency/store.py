"""Efficiency and productivity results in the warehouse: one row of analysis.model_runs (kind 'efficiency') and
one row per DMU, period and measure in analysis.efficiency_results (long, so that a dbt model can pivot any
measure: `select unit, period::int as year, value as gtfp from analysis.efficiency_results where run_id = …
and measure = 'gml_cumulative'`). Written in one transaction: a failure leaves the warehouse as it was."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from analyses.efficiency.ddf import DDFResult
from analyses.efficiency.dea import DEAResult
from analyses.efficiency.luenberger import LuenbergerResult
from analyses.efficiency.malmquist import MalmquistResult
from analyses.efficiency.sbm import SBMResult
from analyses.runs import DDL, geopanel_version
from warehouse.db import insert_frame, transaction

RESULTS_DDL = "run_id varchar, unit varchar, period varchar, measure varchar, value double, label varchar"


def results_frame(result) -> tuple[pd.DataFrame, str, str | None, str]:
    """(long frame unit, period, measure, value, label; unit column; time column; model name) of a result."""
    if isinstance(result, DEAResult | SBMResult | DDFResult):
        frame = result.to_frame()
        ids = [c for c in result.index.names if c]
        unit, time = ids[0], (ids[1] if len(ids) > 1 else None)
        model = (f"dea-{result.rts}-{result.orientation}" if isinstance(result, DEAResult)
                 else f"ddf-{result.rts}" if isinstance(result, DDFResult)
                 else f"{'super-' if result.super_efficiency else ''}sbm-{result.rts}-{result.orientation}")
    elif isinstance(result, MalmquistResult | LuenbergerResult):
        unit, time = result.unit, result.time
        frame = result.to_frame().merge(result.cumulative.rename(columns=lambda c: c if c in (unit, time)
                                                                  else f"{c}_cumulative"), on=[unit, time],
                                        how="outer")
        model = (f"malmquist-{result.orientation}-{result.frontier}" if isinstance(result, MalmquistResult)
                 else f"{result.index_name}-{result.measure}-{result.rts}")
    else:
        raise TypeError(f"cannot store a {type(result).__name__}")
    text = [c for c in frame.columns if c not in (unit, time) and not pd.api.types.is_numeric_dtype(frame[c])]
    nums = [c for c in frame.columns if c not in (unit, time, *text)]
    base = frame[[unit] + ([time] if time else [])].astype(str)
    long = []
    for c in nums:
        part = base.copy()
        part["measure"], part["value"], part["label"] = c, frame[c].astype(float).to_numpy(), None
        if "status" in frame.columns:
            part["label"] = frame["status"].where(frame["status"] != "optimal", None).to_numpy()
        long.append(part)
    for c in (t for t in text if t != "status"):
        part = base.copy()
        part["measure"], part["value"], part["label"] = c, np.nan, frame[c].astype(str).to_numpy()
        long.append(part)
    out = pd.concat(long, ignore_index=True).rename(columns={unit: "unit", **({time: "period"} if time else {})})
    if time is None:
        out["period"] = None
    out = out[out["value"].notna() | out["label"].notna()]  # e.g. no index in the base period: no row
    return out[["unit", "period", "measure", "value", "label"]], unit, time, model


def store_efficiency(con, result, spec: dict, started_at: datetime | None = None) -> str:
    """Insert the run and its results; returns the run id."""
    frame, unit, time, model = results_frame(result)
    run_id = uuid.uuid4().hex[:16]
    means = frame.groupby("measure")["value"].mean().dropna()
    run = pd.DataFrame([{
        "run_id": run_id, "kind": "efficiency", "model": model, "data_source": getattr(result, "source", None),
        "unit_column": unit, "time_column": time, "n_units": int(frame["unit"].nunique()),
        "n_periods": int(frame["period"].nunique()) if time else 1,
        "nobs": int(len(frame[["unit", "period"]].drop_duplicates())),
        "spec_json": json.dumps(spec, ensure_ascii=False, default=str),
        "quality_status": getattr(result, "quality", "not-checked"),
        "started_at": started_at or datetime.now(UTC), "finished_at": datetime.now(UTC),
        "geopanel_version": geopanel_version()}])
    estimates = pd.DataFrame({"run_id": run_id, "term": [f"mean {m}" for m in means.index],
                              "estimate": means.to_numpy()})
    with transaction(con):
        con.execute("create schema if not exists analysis")
        for table in ("model_runs", "model_estimates"):
            con.execute(f"create table if not exists analysis.{table} ({DDL[table]})")
        con.execute(f"create table if not exists analysis.efficiency_results ({RESULTS_DDL})")
        insert_frame(con, "analysis.model_runs", run)
        insert_frame(con, "analysis.model_estimates", estimates)
        insert_frame(con, "analysis.efficiency_results", frame.assign(run_id=run_id))
    return run_id
