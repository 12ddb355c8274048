"""End to end: weights, Moran, LISA and maps through the `geopanel` commands, on the demo warehouse and on
a user's own (non-Chinese) boundary file and panel CSV; the SQL spatial-lag views against libpysal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pytest
from libpysal.examples import get_path
from libpysal.weights import lag_spatial
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.weights import DDL, read_w

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return " ".join(result.output.split())


@pytest.fixture(scope="module")
def db(demo, tmp_path_factory) -> str:
    """A writable copy of the demo warehouse with province and city queen matrices."""
    path = tmp_path_factory.mktemp("esda") / "geopanel.duckdb"
    shutil.copyfile(demo[0], path)
    out = run("weights", "build", "queen_province", "--kind", "queen", "--level", "province", "--islands", "manual",
              "--db", str(path))
    assert "1 unit(s) without a contiguous neighbour: 460000; policy manual; manual links 460000–440000" in out
    run("weights", "build", "queen_city", "--kind", "queen", "--level", "city", "--islands", "manual",
        "--db", str(path))
    run("check", "--db", str(path), "--out", str(path.parent / "reports"))  # the gate wants checked data
    return str(path)


def test_moran_refuses_unchecked_data_unless_allowed(demo, tmp_path):
    path = tmp_path / "geopanel.duckdb"
    shutil.copyfile(demo[0], path)
    run("weights", "build", "queen_province", "--kind", "queen", "--level", "province", "--islands", "manual",
        "--db", str(path))
    args = ["moran", "gdp", "--level", "province", "--w", "queen_province", "--years", "2022", "--db", str(path)]
    assert "quality gate: refusing to estimate on main.fct_province_year" in fails(*args)
    run(*args, "--allow-failing-checks")
    params = duckdb.connect(str(path), read_only=True).execute(
        "select distinct params from analysis.moran_global").fetchall()
    assert [json.loads(p[0])["quality_status"] for p in params] == ["unchecked-allowed"]


def test_moran_by_year_with_a_scatter_plot_in_one_command(db, tmp_path):
    png = tmp_path / "moran.png"
    out = run("moran", "gdp", "--level", "province", "--w", "queen_province", "--years", "2020-2022",
              "--permutations", "99", "--scatter", str(png), "--db", db)
    assert "SYNTHETIC" in out and f"wrote {png}" in " ".join(out.split()) and png.stat().st_size > 20_000
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute("select * from analysis.moran_global order by year, statistic").df()
        runs = con.execute("select * from analysis.esda_runs").df()
    assert sorted(rows["statistic"].unique()) == ["geary", "getis_ord", "moran"]
    assert list(rows.loc[rows["statistic"] == "moran", "year"]) == [2020, 2021, 2022]
    assert rows["run_id"].nunique() == 1 and rows["run_id"].iloc[0] in set(runs["run_id"])
    params = json.loads(rows["params"].iloc[0])
    assert params["w_name"] == "queen_province" and params["permutations"] == 99 and params["seed"] == 12345
    assert rows["is_synthetic"].all() and rows["data_hash"].notna().all()


def test_lisa_map_and_a_choropleth_in_one_command_each(db, tmp_path):
    out = run("lisa", "gdp", "--level", "city", "--w", "queen_city", "--years", "2022", "--correction", "fdr",
              "--map", str(tmp_path / "lisa.png"), "--db", db)
    assert "run " in out and (tmp_path / "lisa.png").stat().st_size > 50_000
    with duckdb.connect(db, read_only=True) as con:
        n, clusters = con.execute("select count(*), list(distinct cluster) from analysis.lisa "
                                  "where indicator = 'gdp' and year = 2022").fetchone()
        expected = con.execute("select count(gdp) from fct_city_year where year = 2022 and city_code in "
                               "(select code from weights.w_units where w_name = 'queen_city')").fetchone()[0]
    assert n == expected > 330 and set(clusters) <= {"HH", "LH", "LL", "HL", "ns"}
    run("map", "gdp", "--level", "county", "--year", "2022", "--scheme", "natural_breaks", "--out",
        str(tmp_path / "county.png"), "--db", db)
    assert (tmp_path / "county.png").stat().st_size > 50_000


def test_bad_input_through_the_commands(db):
    assert "no weight matrix named 'queen_nowhere'" in fails("moran", "gdp", "--w", "queen_nowhere", "--level",
                                                            "province", "--db", db)
    assert "column 'name_zh' of fct_province_year is not numeric" in fails(
        "moran", "name_zh", "--w", "queen_province", "--db", db)
    # 莱芜 (371200) existed until 2018 and has no polygon of its own in current boundaries
    msg = fails("moran", "gdp", "--level", "city", "--w", "queen_city", "--years", "2015", "--db", db)
    assert "unit set does not match weight matrix 'queen_city'" in msg and "371200 莱芜市" in msg
    assert "--drop-unmatched" in msg
    ok = run("moran", "gdp", "--level", "city", "--w", "queen_city", "--years", "2015", "--drop-unmatched",
             "--permutations", "0", "--no-save", "--db", db)
    assert "panel units not in the matrix were left out" in " ".join(ok.split())


def test_all_missing_year_names_the_column_and_year(db):
    with duckdb.connect(db, read_only=True) as con:
        found = con.execute(
            "select year from fct_province_year group by year having count(dfi_index) = 0 order by year limit 1"
        ).fetchone()
    if found is None:
        pytest.skip("the demo panel has no all-missing year for dfi_index")
    msg = fails("moran", "dfi_index", "--w", "queen_province", "--years", str(found[0]), "--db", db)
    assert f"column 'dfi_index' of fct_province_year has no values in {found[0]}" in msg


def test_spatial_lag_view_equals_libpysal(db):
    with duckdb.connect(db) as con:
        view = con.execute("select province_code, gdp, w_gdp, n_neighbors from fct_province_year_spatial_lag "
                           "where w_name = 'queen_province' and year = 2021 order by province_code").df()
        w = read_w(con, "queen_province", ids=view["province_code"].tolist())
    np.testing.assert_allclose(view["w_gdp"].to_numpy(), lag_spatial(w, view["gdp"].to_numpy()), rtol=1e-12)
    assert view.loc[view["province_code"] == "460000", "n_neighbors"].item() == 1  # Hainan, via the manual link


def test_dbt_creates_the_weights_tables_as_python_does(demo):
    with duckdb.connect(str(demo[0]), read_only=True) as dbt_made:
        fresh = duckdb.connect()
        from warehouse.weights import ensure_tables

        ensure_tables(fresh)
        for table in DDL:
            q = f"select column_name, data_type from information_schema.columns where table_schema = 'weights' " \
                f"and table_name = '{table}' order by ordinal_position"
            assert dbt_made.execute(q).fetchall() == fresh.execute(q).fetchall(), table


def test_a_users_own_boundaries_and_panel_csv(tmp_path):
    """Columbus (the libpysal wheel's example data) through the same commands: no Chinese codes, no dims."""
    shp = get_path("columbus.shp")
    csv = tmp_path / "columbus.csv"
    gpd.read_file(shp).drop(columns="geometry").to_csv(csv, index=False)
    db = str(tmp_path / "mine.duckdb")
    out = run("weights", "build", "queen_columbus", "--kind", "queen", "--level", "columbus", "--boundary-file",
              shp, "--id-column", "POLYID", "--islands", "error", "--db", db)
    assert "queen over 49 columbus units" in out
    out = run("moran", "CRIME", "--w", "queen_columbus", "--data", str(csv), "--id-column", "POLYID",
              "--no-getis-ord", "--db", db)
    with duckdb.connect(db, read_only=True) as con:
        i, c = con.execute("select max(value) filter (where statistic = 'moran'), "
                           "max(value) filter (where statistic = 'geary') from analysis.moran_global").fetchone()
    assert i == pytest.approx(0.5001885571828611, abs=1e-12) and c == pytest.approx(0.5405282027020684, abs=1e-12)
    png = tmp_path / "lisa.png"
    run("lisa", "CRIME", "--w", "queen_columbus", "--data", str(csv), "--id-column", "POLYID", "--boundary-file",
        shp, "--map", str(png), "--db", db)
    assert png.stat().st_size > 20_000
    assert Path(db).exists()


def test_an_indicator_layer_by_year_without_tibet(db):
    """The digital–real index covers 30 provinces: Tibet is left out of the matrix, rows re-standardised."""
    from analyses.esda import moran

    with duckdb.connect(db, read_only=True) as con:
        res = moran("ind_digital_real_province_year", "de_index", "queen_province", years=range(2012, 2023),
                    permutations=99, con=con)
    t = res.long
    assert list(t["year"]) == list(range(2012, 2023))
    assert (t["n"] == 30).all() and (t["n_missing"] == 1).all() and (t["level"] == "province").all()
    assert res.prepared.slices[0].w.transform == "R"
    np.testing.assert_allclose(np.asarray(res.prepared.slices[0].w.matrix.sum(axis=1)).ravel(), 1.0)


def test_dbt_refreshes_the_standard_moran_table_equal_to_esda(demo, tmp_path):
    """ind_moran_year (a dbt Python model) against PySAL's esda.Moran on the same values, matrix and seed."""
    import esda

    with duckdb.connect(str(demo[0]), read_only=True) as con:
        table = con.execute("select * from ind_moran_year").df()
        values = con.execute("select province_code, segmentation from ind_market_segmentation_province_year "
                             "where year = 2015").df().set_index("province_code")["segmentation"]
        w = read_w(con, "queen_province")
    assert set(table["layer"]) == {"ind_nqp_city_year", "ind_digital_real_province_year", "ind_ntl_gini_city_year",
                                   "ind_market_segmentation_province_year", "ind_coagglomeration_city_year",
                                   "ind_nightlight_county_year"}
    row = table[(table["layer"] == "ind_market_segmentation_province_year") & (table["year"] == 2015)].iloc[0]
    assert row["n"] == w.n == 31 and row["n_missing"] == 0
    np.random.seed(12345)
    ref = esda.Moran(values.loc[w.id_order].to_numpy(float), w, permutations=999)
    assert row["moran_i"] == pytest.approx(ref.I, rel=1e-12)
    assert row["p_sim"] == pytest.approx(ref.p_sim, rel=1e-12) and row["z_norm"] == pytest.approx(ref.z_norm)
    # without its standard matrix the model stops with what to run, and the warehouse stays as it was
    import warehouse.build as build

    copy = tmp_path / "geopanel.duckdb"
    shutil.copyfile(demo[0], copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from weights.w_catalog where w_name = 'queen_county'")
    result = build.run_dbt(["run", "--select", "ind_moran_year"], db=copy, progress=lambda m: None)
    assert not result.success
    assert any("geopanel weights build queen_county --kind queen --level county" in message
               for _, message in result.failures)
