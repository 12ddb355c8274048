"""Efficiency runs in the warehouse: analysis.model_runs (kind 'efficiency') and analysis.efficiency_results, from
the Python API and from `geopanel malmquist --db`."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from typer.testing import CliRunner

from analyses.efficiency import dea, malmquist_luenberger
from analyses.efficiency.store import store_efficiency
from geopanel.cli import app
from warehouse.db import connection

EG4 = pd.DataFrame({"firm": [str(i) for i in range(1, 6)] * 3, "year": [1] * 5 + [2] * 5 + [3] * 5,
                    "y": [1, 2, 3, 4, 5] + [1, 3, 4, 3, 5] * 2, "x": [2, 4, 3, 5, 6] + [2, 4, 3, 5, 5] * 2,
                    "co2": [1, 2, 2, 3, 4] + [1, 2, 3, 3, 3] * 2})


def test_runs_and_long_results_are_queryable():
    con = duckdb.connect()
    res = dea(EG4, ["x"], ["y"], unit="firm", time="year", rts="vrs", super_efficiency=True)
    run = store_efficiency(con, res, {"model": "bcc"})
    row = con.sql(f"select kind, model, n_units, n_periods, nobs from analysis.model_runs where run_id = '{run}'")
    assert row.fetchone() == ("efficiency", "dea-vrs-input", 5, 3, 15)
    vrs = con.sql(f"select unit, period, value from analysis.efficiency_results where run_id = '{run}' and "
                  "measure = 'vrste' order by period, unit").df()
    assert np.allclose(vrs.value, res.vrs.sort_index(level=["year", "firm"]).to_numpy())
    rts = con.sql("select label from analysis.efficiency_results where measure = 'rts' and period = '1' "
                  "order by unit").fetchall()
    assert [r[0] for r in rts] == res.returns_to_scale.xs(1, level="year").tolist()
    gml = malmquist_luenberger(EG4, ["x"], ["y"], ["co2"], unit="firm", time="year")
    run2 = store_efficiency(con, gml, {})
    cum = con.sql(f"select value from analysis.efficiency_results where run_id = '{run2}' and "
                  "measure = 'gml_cumulative' and period = '3' order by unit").df()
    assert np.allclose(cum.value, gml.cumulative.query("year == 3").sort_values("firm").gml)


def test_cli_stores_with_a_warehouse(tmp_path):
    db = tmp_path / "w.duckdb"
    with connection(db):
        pass
    path = tmp_path / "eg4.csv"
    EG4.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["malmquist", "--data", str(path), "--unit", "firm", "--time", "year",
                                      "--inputs", "x", "--outputs", "y", "--db", str(db)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(db), read_only=True)
    assert con.sql("select count(*) from analysis.efficiency_results where measure = 'tfpch'").fetchone() == (10,)
    assert con.sql("select model from analysis.model_runs").fetchone() == ("malmquist-output-contemporaneous",)
