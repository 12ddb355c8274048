"""XGBoost importances and TreeSHAP (analyses.drivers) on a small synthetic province panel with a known signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.drivers import IMPORTANCE_TYPES, Drivers, DriversError, drivers, importance_summary, rank_frequencies

FEATURES = ["elec", "second", "pgdp", "urban", "patents"]
LABELS = {"elec": "电力消费量", "second": "第二产业占比", "pgdp": "人均GDP", "urban": "城镇人口占比",
          "patents": "专利授权数", "energy_total": "能源消费总量", "carbon_total": "二氧化碳排放总量"}
SMALL = {"n_estimators": 60}  # a small model keeps the suite fast; the defaults are documented in the module
# shap 0.51 builds its colour maps with matplotlib calls that matplotlib 3.11 marks as pending deprecation
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n_units, years = 20, range(2013, 2023)
    df = pd.DataFrame({"province_code": np.repeat([f"{11 + i}0000" for i in range(n_units)], len(years)),
                       "year": np.tile(list(years), n_units)})
    for c in FEATURES:
        df[c] = rng.normal(size=len(df))
    df["energy_total"] = 3 * df["elec"] + df["second"] ** 2 + 0.5 * df["pgdp"] + rng.normal(size=len(df)) * 0.2
    df["carbon_total"] = 2 * df["elec"] - df["second"] + rng.normal(size=len(df)) * 0.2
    return df


@pytest.fixture(scope="module")
def fit(panel) -> Drivers:
    return drivers(panel, ["energy_total", "carbon_total"], FEATURES, labels=LABELS, params=SMALL, folds=3)


def test_total_cover_is_weight_times_cover_and_total_gain_weight_times_gain(fit):
    for target in fit.targets:
        imp = fit.importance(target)
        used = imp["weight"] > 0
        # XGBoost keeps the scores as float32 and reports gain = total_gain / weight: the identity holds to float32
        np.testing.assert_allclose(imp.loc[used, "total_cover"], imp.loc[used, "weight"] * imp.loc[used, "cover"],
                                   rtol=2e-7)
        np.testing.assert_allclose(imp.loc[used, "total_gain"], imp.loc[used, "weight"] * imp.loc[used, "gain"],
                                   rtol=2e-7)
        assert list(imp.columns) == list(IMPORTANCE_TYPES) and list(imp.index) == FEATURES


def test_shap_values_sum_to_prediction_minus_expected_value_for_every_row(fit):
    for target in fit.targets:
        f = fit.fits[target]
        margin = f.model.predict(f.X, output_margin=True)
        np.testing.assert_allclose(f.shap_values.sum(axis=1) + f.expected_value, margin,
                                   atol=1e-4 * np.abs(margin).max())


def test_the_known_drivers_come_first(fit):
    assert list(fit.shap_ranking("energy_total").index[:2]) == ["elec", "second"]
    assert fit.frequencies("energy_total").loc["elec", "top5"] == 5
    assert (fit.cv_fit()["r2_mean"] > 0.8).all()


def test_rankings_are_reproducible_with_a_seed(panel, fit):
    again = drivers(panel, ["energy_total", "carbon_total"], FEATURES, labels=LABELS, params=SMALL, folds=3)
    for target in fit.targets:
        pd.testing.assert_frame_equal(again.importance(target), fit.importance(target))
        np.testing.assert_array_equal(again.fits[target].shap_values, fit.fits[target].shap_values)
        pd.testing.assert_frame_equal(again.fits[target].cv, fit.fits[target].cv)


def test_stability_over_seeds_reports_the_same_top_drivers(fit):
    table = fit.stability(seeds=[1, 2], k=2).set_index(["target", "importance"])
    assert table.loc[("energy_total", "shap"), "same_top2"] == 1.0
    assert set(table.index.get_level_values("importance")) == {*IMPORTANCE_TYPES, "shap"}


def test_summary_table_by_hand():
    imp = pd.DataFrame({"weight": [10.0, 4.0, 1.0, 5.0]}, index=["a", "b", "c", "d"])
    row = importance_summary(imp, top=2, bottom=1, labels={"a": "甲"}).loc["weight"]
    # mean 5, sample SD sqrt(((5)^2 + 1 + 16 + 0) / 3) = sqrt(14)
    assert row["mean"] == 5 and row["sd"] == pytest.approx(np.sqrt(14)) and row["cv"] == pytest.approx(np.sqrt(14) / 5)
    assert (row["n_above_mean"], row["n_below_mean"]) == (1, 2)
    assert row["top2"] == "甲, d" and row["bottom1"] == "c"
    freq = rank_frequencies(pd.DataFrame({"weight": [3.0, 2, 1], "gain": [1.0, 2, 3]}, index=["x", "y", "z"]),
                            top=1, bottom=1)
    assert freq.loc["x"].tolist() == [1, 1] and freq.loc["y"].tolist() == [0, 0]


def test_paper_table_has_labelled_rows_then_mean_sd_cv(fit):
    table = fit.paper_table("energy_total")
    assert table.index[0] == "电力消费量" and list(table.index[-3:]) == ["均值 mean", "标准差 SD", "变异系数 CV"]


def test_a_csv_through_the_data_contract_gives_the_same_model(panel, fit, tmp_path):
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    again = drivers(str(path), ["energy_total"], FEATURES, labels=LABELS, params=SMALL, folds=3)
    pd.testing.assert_frame_equal(again.importance("energy_total"), fit.importance("energy_total"))


def test_other_targets_can_be_features(panel):
    both = drivers(panel, ["energy_total", "carbon_total"], FEATURES, params={"n_estimators": 10}, folds=0,
                   other_targets_as_features=True)
    assert both.fits["energy_total"].features == [*FEATURES, "carbon_total"]


def test_plots_with_chinese_labels_are_written(fit, tmp_path):
    written = fit.write(tmp_path)
    pngs = [p for p in written if p.suffix == ".png"]
    assert len(pngs) == 6 and all(p.stat().st_size > 10_000 for p in pngs)
    assert (tmp_path / "energy_total_summary.csv").read_text(encoding="utf-8-sig").startswith("type,mean,sd,cv")


def test_bad_columns_are_refused(panel):
    with pytest.raises(DriversError, match="no column 'nope'"):
        drivers(panel, ["energy_total"], ["nope"])
    with pytest.raises(DriversError, match="not numeric"):
        drivers(panel.assign(urban="x"), ["energy_total"], ["urban"])


def test_geopanel_drivers_json_and_plots(panel, tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from geopanel.commands.qca import register

    app = typer.Typer()
    register(app)
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    result = CliRunner().invoke(app, [
        "drivers", "--data", str(path), "--targets", "energy_total", "--features", ",".join(FEATURES),
        "--labels", "elec=电力消费量,pgdp=人均GDP,energy_total=能源消费总量", "--n-estimators", "30", "--folds", "2",
        "--json", "--out", str(tmp_path / "out"), "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert list(got["targets"]["energy_total"]["shap_mean_abs"])[0] == "elec"
    assert (tmp_path / "out" / "energy_total_shap_beeswarm.png").exists()


def test_store_writes_runs_cv_and_importances(fit, tmp_path):
    from datetime import UTC, datetime

    from analyses.drivers import store_drivers
    from warehouse.db import connection

    with connection(tmp_path / "w.duckdb") as con:
        ids = store_drivers(con, fit, {"targets": fit.targets}, datetime.now(UTC))
        runs = con.execute("select dependent, kind from analysis.model_runs order by dependent").fetchall()
        n_tests = con.execute("select count(*) from analysis.model_tests").fetchone()[0]
        top = con.execute("select feature from analysis.driver_importance where target = 'energy_total' "
                          "and importance = 'mean_abs_shap' and rank = 1").fetchone()[0]
    assert len(ids) == 2 and runs == [("carbon_total", "xgboost"), ("energy_total", "xgboost")]
    assert n_tests == 4 and top == "elec"


def test_shap_values_equal_xgboosts_own_treeshap(fit):
    # an independent implementation: XGBoost's C++ TreeSHAP (pred_contribs), last column the bias
    import xgboost as xgb

    f = fit.fits["energy_total"]
    contribs = f.model.get_booster().predict(xgb.DMatrix(f.X), pred_contribs=True)
    np.testing.assert_allclose(f.shap_values, contribs[:, :-1], atol=1e-4)
    np.testing.assert_allclose(contribs[:, -1], f.expected_value, atol=1e-4)
