"""Inputs and outputs: bad data get clear errors and write nothing; W from files; tables; stored runs; CLI."""

from __future__ import annotations

import json

import duckdb
import libpysal
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.spatial_panel import SpatialPanelError, regression_table, spatial_panel
from geopanel.cli import app
from warehouse.db import connection

SIDE, T = 5, 6


@pytest.fixture(scope="module")
def w():
    return libpysal.weights.lat2W(SIDE, SIDE, rook=False)  # binary queen lattice, 25 units, ids 0..24


@pytest.fixture(scope="module")
def data(w):
    rng = np.random.default_rng(0)
    n = w.n
    wd = w.full()[0] / w.full()[0].sum(axis=1, keepdims=True)
    x = rng.normal(size=(T, n, 2))
    y = np.stack([np.linalg.solve(np.eye(n) - 0.4 * wd, x[t] @ [1.0, -1.0] + rng.normal(size=n)) for t in range(T)])
    return pd.DataFrame({"unit": np.tile(np.arange(n), T), "year": np.repeat(np.arange(2001, 2001 + T), n),
                         "y": y.ravel(), "x1": x[:, :, 0].ravel(), "x2": x[:, :, 1].ravel()})


def fit(data, w, **kw):
    kw.setdefault("draws", 100)
    kw.setdefault("effects", "individual")
    return spatial_panel("y ~ x1 + x2", data, w, "unit", "year", **kw)


def write_gal(w, path) -> None:
    f = libpysal.io.open(str(path), "w")
    f.write(w)
    f.close()


def test_unbalanced_panel_is_refused_with_the_units_named(data, w):
    with pytest.raises(SpatialPanelError, match=r"unbalanced panel: 1 units .* e\.g\. 7 \(5 of 6 periods\)"):
        fit(data.drop(index=data.index[(data.unit == 7) & (data.year == 2003)]), w)


def test_missing_values_are_refused(data, w):
    bad = data.copy()
    bad.loc[3, "x1"] = np.nan
    with pytest.raises(SpatialPanelError, match="missing or non-finite"):
        fit(bad, w)


def test_w_units_must_match_the_data(data, w):
    with pytest.raises(SpatialPanelError, match="units of the data and of W differ: 0 only in the data .* 1 only in W"):
        fit(data[data.unit != 24], w)


def test_collinear_regressors_are_named(data, w):
    bad = data.assign(x3=2 * data.x1)
    with pytest.raises(SpatialPanelError, match="collinear .*x1, x3"):
        spatial_panel("y ~ x1 + x2 + x3", bad, w, "unit", "year", effects="individual")
    constant = data.assign(z=data.unit * 1.0)
    with pytest.raises(SpatialPanelError, match="absorbed by the fixed effects"):
        spatial_panel("y ~ x1 + z", constant, w, "unit", "year", effects="individual")


def test_rho_at_the_boundary_is_reported(data, w):
    rng = np.random.default_rng(1)
    common = data.assign(y=data.year * 1.0 + 1e-9 * rng.normal(size=len(data)))  # y identical across units
    with pytest.raises(SpatialPanelError, match="boundary of its parameter space"):
        fit(common, w, model="sar")


def test_non_convergence_is_reported(data, w):
    with pytest.raises(SpatialPanelError, match="did not converge in 2 iterations"):
        fit(data, w, model="sar", maxiter=2)


def test_lee_yu_needs_fixed_effects_and_a_row_standardised_w_for_time_effects(data, w):
    with pytest.raises(SpatialPanelError, match="corrects fixed-effects"):
        fit(data, w, effects="pooled", lee_yu=True)
    with pytest.raises(SpatialPanelError, match="row-standardised W"):
        fit(data, w, effects="twoways", lee_yu=True, w_transform=None)


def test_w_files_give_the_same_estimates(data, w, tmp_path):
    ref = fit(data, w, model="sdm").params
    gal = tmp_path / "w.gal"
    write_gal(w, gal)
    rows = [(i, j, 1.0) for i, nb in w.neighbors.items() for j in nb]
    edges = tmp_path / "edges.csv"
    pd.DataFrame(rows, columns=["focal", "neighbor", "weight"]).to_csv(edges, index=False)
    dense = tmp_path / "dense.csv"
    pd.DataFrame(w.full()[0], index=range(w.n)).to_csv(dense, index=True)
    # the files hold the weights as written decimals: the same W up to rounding, so the same optimum up to the
    # optimiser's tolerance on rho (about 1e-8 here), not bit for bit
    for path in (gal, edges, dense):
        np.testing.assert_allclose(fit(data, str(path), model="sdm").params, ref, rtol=0, atol=1e-6)


def test_tables_put_models_side_by_side(data, w):
    sar, sdm = fit(data, w, model="sar"), fit(data, w, model="sdm")
    md = regression_table([sar, sdm])
    assert "| | (1) SAR | (2) SDM |" in md and "***" in md and "| rho |" in md
    x1 = sar.estimates.loc["x1"]
    assert f"({x1['std_error']:.3f})" in md
    assert "\\begin{tabular}{lcc}" in regression_table([sar, sdm], "latex")
    assert regression_table([sar], "html").startswith("<table>")
    assert "W.x1" in sdm.to_table() and "W.x1" not in sar.to_table().split("\n")[2]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "wh.duckdb"
    with connection(path):
        pass
    return path


def _count(db, table: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"select count(*) from analysis.{table}").fetchone()[0]
    except duckdb.CatalogException:
        return 0
    finally:
        con.close()


def test_cli_fit_stores_the_run_and_bad_input_writes_nothing(data, w, tmp_path, db):
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    data.to_csv(csv, index=False)
    write_gal(w, gal)
    args = ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit", "--time", "year",
            "--w", str(gal), "--model", "sdm", "--effects", "twoways", "--lee-yu", "--draws", "100", "--db", str(db)]
    bad = tmp_path / "bad.csv"
    data.iloc[1:].to_csv(bad, index=False)
    out = CliRunner().invoke(app, [a if a != str(csv) else str(bad) for a in args])
    assert out.exit_code == 1 and "unbalanced panel" in out.output
    assert _count(db, "model_runs") == 0
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["spec"]["lee_yu"] is True and payload["quality_status"] == "not-checked"
    con = duckdb.connect(str(db), read_only=True)
    run = con.execute("select model, effects, lee_yu, nobs, quality_status, data_fingerprint from analysis.model_runs"
                      ).fetchall()
    assert run == [("sdm", "twoways", True, 150, "not-checked", payload["fingerprint"])]
    assert con.execute("select count(*) from analysis.model_estimates").fetchone()[0] == 6  # β, θ, ρ, σ²
    assert con.execute("select count(*) from analysis.model_effects").fetchone()[0] == 6  # 2 vars × 3
    assert con.execute("select count(*) from analysis.model_tests where test like 'LR SDM%'").fetchone()[0] == 3
    con.close()


def test_cli_select_prints_the_decision_table(data, w, tmp_path):
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    data.to_csv(csv, index=False)
    write_gal(w, gal)
    out = CliRunner().invoke(app, ["spatial-panel", "select", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit",
                                   "--time", "year", "--w", str(gal), "--no-store"])
    assert out.exit_code == 0, out.output
    assert "LR unit effects" in out.output and "4 choice" in out.output
    # the data have no unit or time effects and a spatial lag: the search ends at a pooled lag model
    assert "SAR with pooled effects" in out.output or "SDM with pooled effects" in out.output


def test_warehouse_w_is_read_through_warehouse_weights_on_the_data_units(data, w, monkeypatch):
    """W by name goes through warehouse.weights.read_w(con, name, ids=<the data's units>); its errors are explained."""
    import sys
    import types

    calls = []

    def read_w(con, name, ids=None):
        calls.append((name, list(ids)))
        if name == "missing":
            raise LookupError("no weight matrix 'missing'; see geopanel weights list")
        return w

    gated = []

    def require_checked(con, tables, allow_failing_checks=False):
        gated.append(list(tables))
        return types.SimpleNamespace(status="passed")

    monkeypatch.setitem(sys.modules, "warehouse.weights", types.SimpleNamespace(read_w=read_w))
    monkeypatch.setattr("warehouse.quality.gate.require_checked", require_checked)
    fit_ = spatial_panel("y ~ x1 + x2", data, "queen_test", "unit", "year", model="sar", effects="individual",
                         con=object(), draws=50)
    assert calls == [("queen_test", sorted(str(u) for u in range(25)))]
    # a stored matrix passes the quality gate like a warehouse table (the data here are a frame)
    assert gated == [["weights.w_edges:queen_test"]] and fit_.quality_status == "passed"
    assert fit_.w_source == "weights.queen_test, row-standardised"
    np.testing.assert_allclose(fit_.params, fit(data, w, model="sar").params, atol=1e-10)
    with pytest.raises(SpatialPanelError, match="W 'missing': no weight matrix 'missing'"):
        spatial_panel("y ~ x1 + x2", data, "missing", "unit", "year", con=object())


def test_cli_fits_several_models_side_by_side_and_stores_each(data, w, tmp_path, db):
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    data.to_csv(csv, index=False)
    write_gal(w, gal)
    args = ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit", "--time", "year",
            "--w", str(gal), "--effects", "individual", "--draws", "50", "--db", str(db)]
    out = CliRunner().invoke(app, [*args, "--model", "sem,sar,bogus"])
    assert out.exit_code == 1 and "model 'bogus'" in out.output
    assert _count(db, "model_runs") == 0  # one model failed: nothing stored
    out = CliRunner().invoke(app, [*args, "--model", "sem,sar"])
    assert out.exit_code == 0, out.output
    assert "| | (1) SEM | (2) SAR |" in out.output and "exact SE" in out.output
    assert _count(db, "model_runs") == 2


def test_singular_information_falls_back_to_the_numerical_hessian(data, w, monkeypatch):
    hessian = fit(data, w, model="sar", vcov="hessian")
    import analyses.spatial_panel.estimate as est

    monkeypatch.setattr(est, "_inverse", lambda info: np.full_like(info, np.nan))
    fallback = fit(data, w, model="sar")
    assert fallback.vcov_method == "hessian (analytic information singular)"
    np.testing.assert_allclose(fallback.bse, hessian.bse, rtol=1e-6)


# ----------------------------------------------------------------------------- id-less matrices, ids as text
def write_mat(w, path) -> None:
    f = libpysal.io.open(str(path), "w")
    f.write(w)
    f.close()


def test_mat_without_ids_is_refused_without_an_order_and_matched_with_one(data, w, tmp_path):
    from analyses.spatial_panel.sources import WFile

    mat = tmp_path / "w.mat"
    write_mat(w, mat)
    with pytest.raises(SpatialPanelError, match=r"w\.mat: the matrix has no unit ids; give the order of its rows: "
                                                r"w_order='ascending-text' or 'ascending-numeric'.*--w-order"):
        fit(data, str(mat), model="sar")
    ref = fit(data, w, model="sar")
    numeric = fit(data, WFile(mat, "ascending-numeric"), model="sar")
    np.testing.assert_allclose(numeric.params, ref.params, atol=1e-8)
    assert "ids: data units in ascending-numeric order" in numeric.w_source
    # as text the units sort 0, 1, 10, 11 … : another matrix, other estimates — the order matters
    text = fit(data, WFile(mat, "ascending-text"), model="sar")
    assert abs(text.params["rho"] - ref.params["rho"]) > 0.05
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(str(i) for i in range(25)) + "\n")
    np.testing.assert_allclose(fit(data, WFile(mat, ids), model="sar").params, ref.params, atol=1e-8)
    with pytest.raises(SpatialPanelError, match="say how the ids sort"):
        fit(data, WFile(mat, "ascending"), model="sar")
    letters = data.assign(unit=data["unit"].map(lambda u: f"s{u:02d}"))
    with pytest.raises(SpatialPanelError, match="are not numbers; use 'ascending-text'"):
        fit(letters, WFile(mat, "ascending-numeric"), model="sar")


def test_unlabelled_dense_csv_needs_the_order_too(data, w, tmp_path):
    from analyses.spatial_panel.sources import WFile

    dense = tmp_path / "bare.csv"
    pd.DataFrame(w.full()[0]).to_csv(dense, index=False, header=False)
    with pytest.raises(SpatialPanelError, match="bare.csv: the matrix has no unit ids"):
        fit(data, str(dense), model="sar")
    np.testing.assert_allclose(fit(data, WFile(dense, "ascending-numeric"), model="sar").params,
                               fit(data, w, model="sar").params, atol=1e-8)


def test_zero_padded_ids_in_a_csv_match_a_gal_with_padded_ids(data, w, tmp_path):
    padded = data.assign(unit=data["unit"].map(lambda u: f"{u:02d}"))
    csv, gal = tmp_path / "panel.csv", tmp_path / "w.gal"
    padded.to_csv(csv, index=False)
    wp = libpysal.weights.W({f"{k:02d}": [f"{j:02d}" for j in v] for k, v in w.neighbors.items()},
                            id_order=[f"{i:02d}" for i in w.id_order])
    write_gal(wp, gal)
    np.testing.assert_allclose(fit(str(csv), str(gal), model="sar").params, fit(data, w, model="sar").params,
                               atol=1e-8)
    # the same ids as integers: refused, naming the zero padding
    with pytest.raises(SpatialPanelError, match=r"10 ids differ only by zero padding \(data '0' vs W '00'\)"):
        fit(data, str(gal), model="sar")


def test_cli_takes_w_order_and_prints_json(data, w, tmp_path):
    csv, mat = tmp_path / "panel.csv", tmp_path / "w.mat"
    data.to_csv(csv, index=False)
    write_mat(w, mat)
    args = ["spatial-panel", "fit", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit", "--time", "year",
            "--w", str(mat), "--model", "sar", "--effects", "individual", "--draws", "50", "--no-store"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 1 and "--w-order" in out.output
    out = CliRunner().invoke(app, [*args, "--w-order", "ascending-numeric", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    rho = next(e for e in payload["estimates"] if e["term"] == "rho")
    assert payload["n_units"] == 25 and rho["std_error"] > 0 and 0 <= rho["p_value"] <= 1
    # the CSV holds the data as written decimals: the same optimum up to the optimiser tolerance
    assert rho["estimate"] == pytest.approx(fit(data, w, model="sar").params["rho"], abs=1e-6)
    sel = CliRunner().invoke(app, ["spatial-panel", "select", "y ~ x1 + x2", "--data", str(csv), "--unit", "unit",
                                   "--time", "year", "--w", str(mat), "--w-order", "ascending-numeric", "--no-store",
                                   "--json", "--where", "year >= 2002"])
    assert sel.exit_code == 0, sel.output
    chosen = json.loads(sel.output)
    assert chosen["decisions"][0]["test"].startswith("LR") and chosen["chosen"]["n_periods"] == T - 1


def test_w_order_and_named_columns_reach_the_readers(data, w, tmp_path):
    """spatial_panel / specification_search pass unit and time to the data reader and w_order to the W reader:
    a file whose columns are not the defaults (region, t) with an id-less .mat gives the in-memory fit."""
    from analyses.spatial_panel.select import specification_search

    csv, mat = tmp_path / "named.csv", tmp_path / "w.mat"
    data.rename(columns={"unit": "region", "year": "t"}).to_csv(csv, index=False)
    write_mat(w, mat)
    ref = fit(data, w, model="sar")
    got = spatial_panel("y ~ x1 + x2", str(csv), str(mat), "region", "t", model="sar", effects="individual",
                        draws=100, w_order="ascending-numeric")
    np.testing.assert_allclose(got.params, ref.params, atol=1e-6)
    assert "ascending-numeric" in got.w_source and (got.unit, got.time) == ("region", "t")
    decisions, chosen = specification_search("y ~ x1 + x2", str(csv), str(mat), "region", "t",
                                             w_order="ascending-numeric", draws=50)
    assert len(decisions) and chosen.n_units == 25
