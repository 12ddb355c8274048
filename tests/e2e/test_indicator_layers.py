"""The indicator layers of the demo warehouse, against independent numpy/pandas/rasterstats computations.

References (all recomputed here from the panels or the raster files, never from geopanel's layers):
- digital–real integration: papers-003b.md §1.2 eqs (1)–(3) transcribed in numpy on fct_province_year;
- NQP entropy-TOPSIS: min–max, entropy weights and TOPSIS in numpy on fct_city_year;
- co-agglomeration: paper 001's ISAS/ISAM/ISA in pandas on fct_city_year;
- nighttime light: rasterstats.zonal_stats directly on a demo GeoTIFF; Gini by all pairs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import rasterio
from dbt_fixture import dbt
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["ind_weights", "ind_nqp_city_year", "ind_digital_real_province_year",
          "ind_market_segmentation_province_year", "ind_market_segmentation_city_year",
          "ind_location_quotient_city_year", "ind_coagglomeration_city_year", "ind_nightlight_county_year",
          "ind_ntl_gini_city_year", "ind_ntl_dagum_year", "ind_ntl_theil_year", "ind_weights_history"]
P9 = ["mobile_penetration", "telecom_business", "software_revenue", "it_service_revenue", "emp_ict",
      "optical_cable_length", "internet_ports", "domain_names", "ecommerce_sales", "ecommerce_purchases",
      "ecommerce_firms", "express_delivery", "dfi_digitization", "dfi_usage_depth", "dfi_coverage_breadth"]


def df(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def entropy_weights(m: np.ndarray) -> np.ndarray:
    p = m / m.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = -np.where(p > 0, p * np.log(p), 0).sum(axis=0) / np.log(len(m))
    return (1 - e) / (1 - e).sum()


def test_every_layer_is_built_and_printable(demo):
    from geopanel.cli import app

    db, _, _ = demo
    runner = CliRunner()
    for layer in LAYERS:
        res = runner.invoke(app, ["sql", f"select count(*) as n from {layer}", "--db", str(db)])
        assert res.exit_code == 0, res.output
        assert int("".join(ch for ch in res.output.splitlines()[-2] if ch.isdigit())) > 0, layer
    res = runner.invoke(app, ["sql", "select index_name, indicator, weight from ind_weights "
                          "where index_name = 'digital_real' order by weight desc", "--db", str(db)])
    assert res.exit_code == 0 and "express_delivery" in res.output


def test_digital_real_index_reproduces_the_paper_method(demo):
    db, _, _ = demo
    panel = df(db, f"select province_code, year, {', '.join(P9)} from fct_province_year "
                   "where year between 2012 and 2022 and province_code <> '540000' order by province_code, year")
    assert len(panel) == 330
    x = panel[P9].to_numpy()
    norm = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))  # pooled min–max, all indicators positive
    w = entropy_weights(norm)
    mart = df(db, "select * from ind_digital_real_province_year order by province_code, year")
    np.testing.assert_allclose(mart.de_index, norm @ w, atol=1e-12)
    weights = df(db, "select indicator, weight from ind_weights where index_name = 'digital_real'")
    assert weights.weight.sum() == pytest.approx(1, abs=1e-12)
    assert len(weights) == 15
    # coupling coordination of the two subsystems, from the mart's own U1, U2
    u1, u2 = mart.de_index.to_numpy(), mart.real_economy_index.to_numpy()
    c = 2 * np.sqrt(u1 * u2) / (u1 + u2)
    np.testing.assert_allclose(mart.coordination_d, np.sqrt(c * (u1 + u2) / 2), atol=1e-12)


def test_nqp_topsis_reproduces_entropy_topsis(demo):
    db, _, _ = demo
    cols = ["expenditure_science", "expenditure_education", "students_university", "bb", "mob", "dfi_index",
            "patent_grant_invention_digital", "telecom_business", "postal_business",
            "innovation_entrepreneurship_index", "ai_firms"]
    panel = df(db, "select city_code, year, *, 100 * broadband_subscribers / pop as bb, "
                   "100 * mobile_subscribers / pop as mob from fct_city_year where year between 2011 and 2022")
    panel = panel.dropna(subset=cols).sort_values(["city_code", "year"])
    x = panel[cols].to_numpy(dtype=float)
    norm = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0)) + 0.0001
    z = norm * entropy_weights(norm)
    dp = np.sqrt(((z - z.max(axis=0)) ** 2).sum(axis=1))
    dm = np.sqrt(((z - z.min(axis=0)) ** 2).sum(axis=1))
    mart = df(db, "select * from ind_nqp_city_year where index_name = 'nqp_topsis' order by city_code, year")
    assert len(mart) == len(panel)
    np.testing.assert_allclose(mart.nqp, 10 * dm / (dp + dm), atol=1e-12)
    assert mart.closeness.between(0, 1).all()


def test_coagglomeration_matches_pandas(demo):
    db, _, _ = demo
    ps = ["emp_transport", "emp_ict", "emp_finance", "emp_leasing_business", "emp_research_tech"]
    f = df(db, f"select city_code, year, emp_total, emp_manufacturing, {', '.join(ps)} from fct_city_year "
               "where year = 2015").dropna()
    f = f[f.emp_total > 0]
    f["ps"] = f[ps].sum(axis=1)
    isas = (f.ps / f.emp_total) / (f.ps.sum() / f.emp_total.sum())
    isam = (f.emp_manufacturing / f.emp_total) / (f.emp_manufacturing.sum() / f.emp_total.sum())
    ref = pd.Series((1 - (isas - isam).abs() / (isas + isam) + isas + isam).to_numpy(), index=f.city_code)
    mart = df(db, "select city_code, isa from ind_coagglomeration_city_year where year = 2015").set_index("city_code")
    np.testing.assert_allclose(mart.isa.loc[ref.index], ref, atol=1e-12)


def test_nightlight_layers_match_rasterstats_and_all_pairs(demo):
    from rasterstats import zonal_stats
    from shapely import from_wkb

    db, files, _ = demo
    light = df(db, "select n.county_code, n.ntl_mean, n.pixel_count, c.geometry from ind_nightlight_county_year n "
                   "join dim_county c using (county_code) where n.year = 2012 order by 1 limit 150")
    ref = zonal_stats([from_wkb(bytes(g)) for g in light.geometry], str(files / "ntl_2012.tif"),
                      stats=["mean", "count"], all_touched=True)
    np.testing.assert_allclose(light.ntl_mean, [r["mean"] for r in ref], rtol=1e-5)
    np.testing.assert_array_equal(light.pixel_count, [r["count"] for r in ref])
    counties = df(db, "select city_code, ntl from ind_nightlight_county_year where year = 2012 and city_code in "
                      "('320100', '420100', '510100')")
    gini = df(db, "select city_code, gini from ind_ntl_gini_city_year where year = 2012").set_index("city_code").gini
    for code, part in counties.groupby("city_code"):
        y = part.ntl.to_numpy()
        direct = np.abs(y[:, None] - y[None, :]).sum() / (2 * len(y) ** 2 * y.mean())
        assert gini[code] == pytest.approx(direct, abs=1e-12)
    dec = df(db, "select * from ind_ntl_dagum_year")
    assert len(dec) == 2 * 24
    np.testing.assert_allclose(dec.g_w + dec.g_nb + dec.g_t, dec.g, atol=1e-14)
    cities = df(db, "select city_code, avg(ntl) as y from ind_nightlight_county_year where year = 2012 "
                    "and city_code is not null group by 1")
    y = cities.y.to_numpy()
    theil = df(db, "select theil from ind_ntl_theil_year where year = 2012").theil.iloc[0]
    assert theil == pytest.approx(np.mean(y / y.mean() * np.log(y / y.mean())), abs=1e-12)


def _project_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", ".dbtignore"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, project / name)
    for name in ("models", "macros", "seeds", "analyses/sql", "tests/dbt"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, project / name)
    return project


def _snapshot(db: Path) -> dict[str, pd.DataFrame]:
    tables = {t: df(db, f"select * from {t}") for t in ("ind_nqp_city_year", "ind_digital_real_province_year")}
    tables["ind_weights"] = df(db, "select * exclude (build_id, built_at) from ind_weights")
    return tables


def test_changing_one_direction_changes_only_that_index(demo, tmp_path):
    db, _, _ = demo
    work = tmp_path / "w.duckdb"
    shutil.copyfile(db, work)
    before = _snapshot(work)
    project = _project_copy(tmp_path)
    seed = project / "seeds" / "index_systems.csv"
    text = seed.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("nqp_three_dim,ai_firms,"))
    seed.write_text(text.replace(line, line.replace(",+,", ",-,")), encoding="utf-8")
    done = dbt(project, work, "build", "--select", "index_systems+")
    assert done.returncode == 0, done.stdout[-3000:]
    after = _snapshot(work)
    for table, key in (("ind_nqp_city_year", ["index_name", "city_code", "year"]),
                       ("ind_weights", ["index_name", "weight_group", "indicator"])):
        b = before[table].sort_values(key).reset_index(drop=True)
        a = after[table].sort_values(key).reset_index(drop=True)
        changed = b.index[(b.select_dtypes("number") - a.select_dtypes("number")).abs().max(axis=1) > 1e-12]
        assert set(b.loc[changed, "index_name"]) == {"nqp_three_dim"}, table
        assert len(changed) > 0
    w = after["ind_weights"].set_index(["index_name", "indicator"]).direction
    assert w[("nqp_three_dim", "ai_firms")] == "-"
    pd.testing.assert_frame_equal(before["ind_digital_real_province_year"].sort_values(["province_code", "year"])
                                  .reset_index(drop=True),
                                  after["ind_digital_real_province_year"].sort_values(["province_code", "year"])
                                  .reset_index(drop=True))

    # an index system naming a missing column stops the build before any layer is rewritten
    seed.write_text(text.replace(",students_university\n", ",students_universty\n"), encoding="utf-8")
    done = dbt(project, work, "build", "--select", "index_systems+")
    assert done.returncode != 0
    assert "indicator higher_education: column students_universty is not in int_city_indicator_inputs" in done.stdout
    pd.testing.assert_frame_equal(df(work, "select * from ind_nqp_city_year"), after["ind_nqp_city_year"])


def test_ingest_raster_command_is_idempotent_and_refuses_bad_rasters(demo, tmp_path):
    from geopanel.cli import app

    db, files, _ = demo
    work = tmp_path / "w.duckdb"
    shutil.copyfile(db, work)
    runner = CliRunner()
    before = df(work, "select count(*) as n from raw.county_nightlight").n.iloc[0]
    res = runner.invoke(app, ["ingest-raster", *map(str, sorted(files.glob("ntl_201*.tif"))), "--db", str(work)])
    assert res.exit_code == 0 and "10 rasters already loaded" in res.output, res.output
    shifted = tmp_path / "ntl_2030.tif"  # the demo raster moved 10° east: no longer covers the counties
    with rasterio.open(files / "ntl_2012.tif") as src:
        profile, data = src.profile, src.read(1)
    profile["transform"] = profile["transform"] * profile["transform"].translation(100, 0)
    with rasterio.open(shifted, "w", **profile) as dst:
        dst.write(data, 1)
    res = runner.invoke(app, ["ingest-raster", str(shifted), "--db", str(work)])
    assert res.exit_code == 1 and "ntl_2030.tif: the raster" in res.output and "does not cover" in res.output
    assert df(work, "select count(*) as n from raw.county_nightlight").n.iloc[0] == before


def test_per_year_scope_normalises_and_weights_within_each_year(demo, tmp_path):
    db, _, _ = demo
    work = tmp_path / "w.duckdb"
    shutil.copyfile(db, work)
    project = _project_copy(tmp_path)
    seed = project / "seeds" / "index_definitions.csv"
    text = seed.read_text(encoding="utf-8")
    seed.write_text(text.replace("nqp_three_dim,city,weighted_sum,global,", "nqp_three_dim,city,weighted_sum,year,"),
                    encoding="utf-8")
    done = dbt(project, work, "build", "--select", "index_definitions+")
    assert done.returncode == 0, done.stdout[-3000:]
    # the nqp_three_dim system, its ratios recomputed here from the panel; primary share is negative
    panel = df(work, """select city_code, year, 1e4 * students_university / pop as a, 1e4 * expenditure_education / pop
                        as b, emp_research_tech / nullif(emp_total, 0) as c, 100 * broadband_subscribers / pop as d,
                        1e4 * telecom_business / pop as e, patent_grant_green_invention / pop as f, ai_firms as g,
                        va_primary / gdp as h from fct_city_year where year between 2011 and 2022""")
    panel = panel.dropna().sort_values(["year", "city_code"])
    mart = df(work, "select year, nqp from ind_nqp_city_year where index_name = 'nqp_three_dim' "
                    "order by year, city_code")
    assert len(mart) == len(panel)
    for year, part in panel.groupby("year"):
        x = part[list("abcdefgh")].to_numpy(dtype=float)
        norm = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
        norm[:, -1] = 1 - norm[:, -1]
        norm += 0.0001
        np.testing.assert_allclose(mart[mart.year == year].nqp, norm @ entropy_weights(norm), atol=1e-12)
    sums = df(work, "select weight_group, sum(weight) as s from ind_weights where index_name = 'nqp_three_dim' "
                    "group by 1")
    assert len(sums) == 12 and np.allclose(sums.s, 1, atol=1e-12)
