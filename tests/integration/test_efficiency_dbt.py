"""Efficiency results in dbt: source analysis.efficiency_results → stg_analysis__efficiency_results →
int_green_tfp_runs_pivoted → ind_green_tfp_province_year / ind_green_tfp_city_year. Built empty before any run is
stored; after stored global ML runs of a province and a city panel, each indicator read back from the warehouse
equals the Python result of its own run (cumulative GML from the base year)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.efficiency import dea, malmquist_luenberger
from analyses.efficiency.store import store_efficiency
from geopanel.cli import app
from warehouse.db import connection

SELECT = ("stg_analysis__efficiency_results int_green_tfp_runs_pivoted ind_green_tfp_province_year "
          "ind_green_tfp_city_year")


def build(db: Path) -> str:
    result = CliRunner().invoke(app, ["build", "--select", SELECT, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def read(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def province_panel(codes: list[str], years=range(2015, 2020), seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k, year in enumerate(years):
        x = rng.uniform(1, 10, (len(codes), 2))
        y = (x ** 0.45).prod(axis=1) * (1 + 0.04 * k) * rng.uniform(0.6, 1, len(codes))
        rows.append(pd.DataFrame({"province_code": codes, "year": year, "labour": x[:, 0], "capital": x[:, 1],
                                  "gdp": y, "so2": y * rng.uniform(0.3, 1, len(codes))}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def empty_built(registry_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("effdbt") / "geopanel.duckdb"
    shutil.copyfile(registry_db, db)
    build(db)
    return db


def test_builds_empty_without_a_stored_run(empty_built: Path):
    assert read(empty_built, "select count(*) as n from ind_green_tfp_province_year").n[0] == 0
    assert read(empty_built, "select count(*) as n from ind_green_tfp_city_year").n[0] == 0
    assert read(empty_built, "select count(*) as n from staging.stg_analysis__efficiency_results").n[0] == 0
    cols = read(empty_built, "describe ind_green_tfp_province_year").column_name.tolist()
    assert cols[:4] == ["province_code", "name_zh", "year", "green_tfp"]


def test_indicator_equals_the_python_cumulative_gml(empty_built: Path, tmp_path: Path):
    db = tmp_path / "geopanel.duckdb"
    shutil.copyfile(empty_built, db)
    codes = read(db, "select province_code from dim_province order by province_code limit 8").province_code.tolist()
    city_codes = read(db, "select city_code from dim_city where is_current order by city_code limit 7").city_code
    city_codes = city_codes.tolist()
    panel = province_panel(codes)
    gml = malmquist_luenberger(panel, ["labour", "capital"], ["gdp"], ["so2"], unit="province_code", time="year",
                               kind="global", measure="sbm", rts="vrs")
    older = malmquist_luenberger(province_panel(codes, seed=9), ["labour", "capital"], ["gdp"], ["so2"],
                                 unit="province_code", time="year")
    with connection(db) as con:
        store_efficiency(con, older, {"note": "an older run: not chosen"})
        run = store_efficiency(con, gml, {"model": "gml-sbm-vrs"})
        # a later run that is not a global ML index, and one whose units are not provinces: neither is chosen
        store_efficiency(con, dea(panel, ["labour", "capital"], ["gdp"], unit="province_code", time="year"), {})
        firms = panel.assign(province_code=lambda d: "firm-" + d.province_code)
        store_efficiency(con, malmquist_luenberger(firms, ["labour", "capital"], ["gdp"], ["so2"],
                                                   unit="province_code", time="year"), {})
        # the latest run of all is at city level: the city indicator takes it, the province one does not
        city_panel = province_panel(city_codes, seed=21).rename(columns={"province_code": "city_code"})
        city_gml = malmquist_luenberger(city_panel, ["labour", "capital"], ["gdp"], ["so2"], unit="city_code",
                                        time="year", measure="ddf", rts="crs")
        city_run = store_efficiency(con, city_gml, {})
    build(db)
    got = read(db, "select * from ind_green_tfp_province_year order by province_code, year")
    assert set(got.run_id) == {run} and set(got.model) == {"gml-sbm-vrs"}
    expected = gml.cumulative.sort_values(["province_code", "year"]).reset_index(drop=True)
    assert len(got) == len(codes) * 5 == len(expected)
    assert got.province_code.tolist() == expected.province_code.tolist()
    assert got.year.tolist() == expected.year.tolist()
    assert np.allclose(got.green_tfp, expected.gml, rtol=1e-12)
    assert np.allclose(got.green_ec_cumulative, expected.ec, rtol=1e-12)
    assert np.allclose(got.green_bpc_cumulative, expected.tc, rtol=1e-12)
    assert (got.loc[got.year == 2015, "green_tfp"] == 1).all() and got.loc[got.year == 2015, "gml"].isna().all()
    annual = gml.indices.sort_values(["province_code", "year"]).reset_index(drop=True)
    assert np.allclose(got.loc[got.year > 2015, "gml"], annual.gml, rtol=1e-12)
    # the chain is the product of the year's indices (computed here, not by geopanel)
    chained = annual.groupby("province_code").gml.prod()
    last = got[got.year == 2019].set_index("province_code").green_tfp
    assert np.allclose(last.loc[chained.index], chained, rtol=1e-12)

    cities = read(db, "select * from ind_green_tfp_city_year order by city_code, year")
    assert set(cities.run_id) == {city_run} and set(cities.model) == {"gml-ddf-crs"}
    want = city_gml.cumulative.sort_values(["city_code", "year"]).reset_index(drop=True)
    assert cities.city_code.tolist() == want.city_code.tolist() and len(cities) == 7 * 5
    assert np.allclose(cities.green_tfp, want.gml, rtol=1e-12)
    assert cities.name_zh.notna().all()
