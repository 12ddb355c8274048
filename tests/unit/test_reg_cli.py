"""`geopanel reg` from the command line: a file without a warehouse (printed, not stored), a warehouse table behind
the quality gate (refused, then stored with --allow-failing-checks), stepwise columns into a LaTeX file."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from linearmodels.datasets import mroz
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection

IV = "lwage ~ exper + expersq | 0 | educ ~ motheduc + fatheduc"


@pytest.fixture(scope="module")
def women() -> pd.DataFrame:
    data = mroz.load()
    return data[data["inlf"] == 1].reset_index(drop=True)


def test_iv_on_a_csv_prints_json_and_stores_nothing_without_a_warehouse(women, tmp_path):
    csv = tmp_path / "mroz.csv"
    women.to_csv(csv, index=False)
    out = CliRunner().invoke(app, ["reg", IV, "--data", str(csv), "--vce", "hetero", "--json",
                                   "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    model = payload["models"][0]
    ref = pf.feols(IV, data=women, vcov="hetero")  # pyfixest directly
    got = {e["term"]: (e["coef"], e["se"]) for e in model["estimates"]}
    for term in ref.coef().index:
        assert got[term] == pytest.approx((ref.coef()[term], ref.se()[term]), rel=1e-10)
    assert model["iv"]["kleibergen_paap_rk_wald_f"] > 10 and model["iv"]["hansen_j_df"] == 1
    assert payload["run_ids"] == [] and model["quality"] == "not-checked"
    text = CliRunner().invoke(app, ["reg", IV, "--data", str(csv), "--db", str(tmp_path / "none.duckdb")])
    assert "Kleibergen-Paap rk Wald F" in text.output and "19.93" in text.output and "not stored" in text.output


def test_warehouse_table_passes_the_gate_and_is_stored(tmp_path):
    db = tmp_path / "wh.duckdb"
    rng = np.random.default_rng(1)
    panel = pd.DataFrame({"city_code": np.repeat([f"{i:06d}" for i in range(20)], 5),
                          "year": np.tile(range(2015, 2020), 20), "x": rng.normal(size=100)})
    panel["y"] = 0.4 * panel["x"] + rng.normal(size=100)
    with connection(db) as con:
        con.register("frame", panel)
        con.execute("create table main.panel as select * from frame")
    args = ["reg", "y ~ x + L.x | city_code + year", "--data", "panel", "--vce", "cluster:city_code",
            "--unit", "city_code", "--db", str(db)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "quality gate" in refused.output and "never checked" in refused.output
    out = CliRunner().invoke(app, [*args, "--allow-failing-checks", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    con = duckdb.connect(str(db), read_only=True)
    run = con.execute("select kind, model, formula, nobs, quality_status, vcov_method from analysis.model_runs"
                      ).fetchall()
    terms = con.execute("select term from analysis.model_estimates order by term").fetchall()
    con.close()
    assert run == [("reg", "OLS", "y ~ x + L.x | city_code + year", 80, "unchecked-allowed", "cluster:city_code")]
    assert terms == [("L.x",), ("x",)] and len(payload["run_ids"]) == 1


def test_stepwise_columns_to_a_latex_file(women, tmp_path):
    csv, tex = tmp_path / "mroz.csv", tmp_path / "table.tex"
    women.to_csv(csv, index=False)
    out = CliRunner().invoke(app, ["reg", "lwage ~ educ + exper + expersq", "--data", str(csv), "--stepwise",
                                   "--blocks", "exper + expersq", "--table", "latex", "--stat", "t", "--out", str(tex),
                                   "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 0, out.output
    text = tex.read_text(encoding="utf-8")
    assert r"\begin{tabular}{lcc}" in text and "t statistics in parentheses" in text


def test_bad_vce_is_one_line(women, tmp_path):
    csv = tmp_path / "mroz.csv"
    women.to_csv(csv, index=False)
    out = CliRunner().invoke(app, ["reg", "lwage ~ educ", "--data", str(csv), "--vce", "cluster",
                                   "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 1 and "cluster:COL" in out.output


def test_threshold_command_stores_thresholds_and_tests(tmp_path):
    db = tmp_path / "wh.duckdb"
    with connection(db):
        pass
    csv, png = tmp_path / "panel.csv", tmp_path / "lr.png"
    rng = np.random.default_rng(3)
    panel = pd.DataFrame({"unit": np.repeat([f"u{i:02d}" for i in range(40)], 6), "year": np.tile(range(6), 40),
                          "q": rng.uniform(0, 10, 240), "x": rng.normal(size=240), "z": rng.normal(size=240)})
    mu = np.repeat(rng.normal(size=40), 6)
    panel["y"] = mu + np.where(panel["q"] <= 5, 0.5, 1.5) * panel["x"] + 0.5 * panel["z"] + rng.normal(0, 0.5, 240)
    panel.to_csv(csv, index=False)
    out = CliRunner().invoke(app, ["threshold", "y", "--data", str(csv), "--x", "x", "--q", "q", "--controls", "z",
                                   "--unit", "unit", "--reps", "20", "--plot", str(png), "--json", "--db", str(db)])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert abs(payload["thresholds"][0] - 5.0) < 0.3 and payload["tests"][0]["p_value"] == 0.0 and png.exists()
    con = duckdb.connect(str(db), read_only=True)
    kinds = con.execute("select kind, n_units, n_periods, quality_status from analysis.model_runs").fetchall()
    terms = {t for (t,) in con.execute("select term from analysis.model_estimates").fetchall()}
    tests = {t for (t,) in con.execute("select test from analysis.model_tests").fetchall()}
    con.close()
    assert kinds == [("threshold", 40, 6, "not-checked")] and "threshold 1 (q)" in terms and "x_r2" in terms
    assert "Hansen single threshold (H0: linear)" in tests


def test_mechanism_flags_print_json_and_store_fits_and_tests(tmp_path):
    rng = np.random.default_rng(2)
    n, t = 40, 5
    panel = pd.DataFrame({"unit": np.repeat([f"u{i:02d}" for i in range(n)], t), "year": np.tile(range(t), n),
                          "x": rng.normal(size=n * t), "h": rng.normal(size=n * t)})
    panel["g"] = panel["unit"].str[-1].astype(int) % 2
    panel["m"] = 0.8 * panel["x"] + rng.normal(scale=0.3, size=n * t)
    panel["y"] = 0.5 * panel["m"] + 0.3 * panel["x"] + rng.normal(scale=0.3, size=n * t)
    csv, db = tmp_path / "p.csv", tmp_path / "wh.duckdb"
    panel.to_csv(csv, index=False)
    with connection(db):
        pass
    out = CliRunner().invoke(app, ["reg", "y ~ x + h | unit", "--data", str(csv), "--unit", "unit", "--time", "year",
                                   "--vce", "cluster:unit", "--moderator", "h", "--mediator", "m", "--split", "g",
                                   "--selection", "--hausman", "--reps", "10", "--json", "--db", str(db)])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    labels = [m["label"] for m in payload["models"]]
    assert labels == ["moderation by h", "(1) y on x", "(2) m on x", "(3) y on x and m", "g = 0", "g = 1"]
    tests = {t["test"] for t in payload["tests"]}
    assert {"Sobel: indirect effect of x through m", "Altonji-Elder-Taber ratio", "Hausman FE vs RE"} <= tests
    con = duckdb.connect(str(db), read_only=True)
    kinds = con.execute("select kind, count(*) from analysis.model_runs group by kind order by kind").fetchall()
    con.close()
    assert kinds == [("reg", 6), ("reg-tests", 1)] and len(payload["run_ids"]) == 7
    refused = CliRunner().invoke(app, ["reg", "y ~ x", "--data", str(csv), "--two-step", "--db", str(db)])
    assert refused.exit_code == 1 and "--mediator" in refused.output
