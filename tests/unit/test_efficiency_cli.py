"""`geopanel dea` and `geopanel malmquist` on a CSV file: DEAP's eg4 numbers through the command line, --json,
and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from geopanel.cli import app

EG4 = pd.DataFrame({"firm": [str(i) for i in range(1, 6)] * 3, "year": [1] * 5 + [2] * 5 + [3] * 5,
                    "y": [1, 2, 3, 4, 5] + [1, 3, 4, 3, 5] * 2, "x": [2, 4, 3, 5, 6] + [2, 4, 3, 5, 5] * 2,
                    "co2": [1, 2, 2, 3, 4] + [1, 2, 3, 3, 3] * 2})


def run(tmp_path, *args):
    path = tmp_path / "eg4.csv"
    EG4.to_csv(path, index=False)
    return CliRunner().invoke(app, [*args, "--data", str(path), "--unit", "firm", "--time", "year", "--inputs", "x",
                                    "--outputs", "y", "--db", str(tmp_path / "none.duckdb")])


def test_malmquist_json_equals_deap_eg4_means(tmp_path):
    result = run(tmp_path, "malmquist", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # eg4-out.txt (Coelli 1996 §5, example 4): mean row of the summary of annual means
    assert {k: round(v, 3) for k, v in out["mean"].items()} == {"effch": 0.918, "techch": 1.155, "pech": 0.977,
                                                               "sech": 0.940, "tfpch": 1.061}
    assert len(out["rows"]) == 10 and not (tmp_path / "none.duckdb").exists()


def test_dea_table_sbm_and_ml_run_and_errors_are_one_line(tmp_path):
    result = run(tmp_path, "dea", "--model", "bcc", "--where", "year = 1")
    assert result.exit_code == 0 and "BCC (vrs, input)" in result.output and "0.625" in result.output
    sbm = run(tmp_path, "dea", "--model", "super-sbm", "--undesirable", "co2", "--json")
    assert sbm.exit_code == 0 and json.loads(sbm.stdout)["dmus"] == 15
    ml = run(tmp_path, "malmquist", "--undesirable", "co2", "--cumulative")
    assert ml.exit_code == 0 and "global Malmquist–Luenberger" in ml.output
    bad = run(tmp_path, "dea", "--model", "ccr", "--undesirable", "co2")
    assert bad.exit_code == 1 and "--undesirable needs --model sbm" in bad.output
    missing = run(tmp_path, "malmquist", "--where", "not (firm = '3' and year = 2)")
    assert missing.exit_code == 1 and "unbalanced" in missing.output


def test_deflate_flags(tmp_path):
    nominal = EG4.assign(p=EG4.year.map({1: 100.0, 2: 110.0, 3: 121.0}))
    nominal = nominal.assign(y=nominal.y * nominal.p / 100)
    path = tmp_path / "nominal.csv"
    nominal.to_csv(path, index=False)
    args = ["malmquist", "--data", str(path), "--unit", "firm", "--time", "year", "--inputs", "x", "--outputs", "y",
            "--db", str(tmp_path / "none.duckdb"), "--json"]
    out = json.loads(CliRunner().invoke(app, [*args, "--deflate", "y=p", "--base-year", "1"]).stdout)
    assert round(out["mean"]["tfpch"], 3) == 1.061 and "y by p, base 1" in out["source"]
    bad = CliRunner().invoke(app, [*args, "--deflate", "y"])
    assert bad.exit_code == 1 and "VARIABLE=DEFLATOR" in bad.output
