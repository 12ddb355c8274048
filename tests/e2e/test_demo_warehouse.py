"""End to end: `geopanel demo` builds the whole warehouse from nothing, through the user's commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warehouse.build import run_dbt
from warehouse.db import connection

runner = CliRunner()


def one(db: Path, sql: str):
    with connection(db, read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_demo_loads_every_file_without_rejects_and_builds(demo):
    db, files, output = demo
    assert "demo warehouse ready" in output
    assert one(db, "select count(*) from raw.rejects") == 0
    assert one(db, "select count(*) from raw.ingest_log") == len(list(files.glob("*.yml")))
    assert one(db, "select bool_and(_synthetic) from raw.ingest_log")
    assert one(db, "select count(*) from meta.builds where status = 'success'") == 2  # registry + full


def test_panels_have_every_unit_year_and_history(demo):
    db, _, _ = demo
    assert one(db, "select count(*) from fct_province_year") == 31 * 24
    with connection(db, read_only=True) as con:
        spans = con.execute("select valid_from, valid_to from dim_city where is_mainland").fetchall()
    # every city in 2003-2023 within its own life (三沙 from 2012, 巢湖 to 2010, 莱芜 to 2018 …)
    expected = sum(len(range(max(2003, a or 2003), min(2023, b or 2023) + 1)) for a, b in spans)
    assert one(db, "select count(*) from fct_city_year") == expected
    assert one(db, "select count(*) from fct_city_year where city_code = '460300'") == 12  # 三沙 2012-2023
    assert one(db, "select max(year) from fct_city_year where city_code = '341400'") == 2010
    assert one(db, "select count(gdp) from fct_city_year where city_code = '420600'") == 21  # 襄樊 + 襄阳
    assert one(db, "select count(gdp) from fct_city_year where city_code = '520500'") == 21  # 毕节地区 + 毕节市
    with connection(db, read_only=True) as con:
        rows = con.execute("select distinct city_code from fct_city_year where gdp is null").fetchall()
    no_gdp = {r[0] for r in rows}
    # yearbooks print no GDP for Gansu's special areas, 三沙, or 儋州 before it became a prefecture city (2015)
    assert no_gdp == {"629700", "629800", "629900", "460300", "460400"}
    assert one(db, "select bool_and(is_synthetic) from fct_city_year where gdp is not null")
    assert one(db, "select count(*) from fct_county_year where gdp is not null") > 2800 * 20
    assert one(db, "select count(distinct goods) from fct_province_goods_price_year") == 16


def test_values_match_the_files_they_came_from(demo):
    db, files, _ = demo
    import pandas as pd

    frame = pd.read_csv(files / "city_economy.csv", dtype={"行政区划代码": str})
    row = frame[(frame["行政区划代码"] == "420600") & (frame["年份"] == 2008)].iloc[0]
    assert row["城市"] == "襄樊市"
    gdp = one(db, "select gdp from fct_city_year where city_code = '420600' and year = 2008")
    assert gdp == pytest.approx(row["地区生产总值(亿元)"])
    county = pd.read_csv(files / "county_economy.csv")
    c = county[(county["县(市、区)"] == "鼓楼区") & (county["所属地市"] == "南京市") & (county["年份"] == 2015)].iloc[0]
    assert one(db, "select gdp from fct_county_year where county_code = '320106' and year = 2015") == pytest.approx(
        c["地区生产总值(万元)"] / 1e4)  # 万元 -> 亿元


def test_cli_sql_status_and_idempotent_reingest(demo, tmp_path):
    db, files, _ = demo
    from geopanel.cli import app

    res = runner.invoke(app, ["sql", "select count(*) from dim_county where geometry is not null", "--db", str(db)])
    assert res.exit_code == 0 and int("".join(ch for ch in res.output if ch.isdigit())) > 2800
    out = tmp_path / "cities.parquet"
    query = "select * from fct_city_year where year = 2020"
    res = runner.invoke(app, ["sql", query, "--out", str(out), "--db", str(db)])
    assert res.exit_code == 0 and out.stat().st_size > 0
    res = runner.invoke(app, ["sql", "drop table dim_city", "--db", str(db)])
    assert res.exit_code == 1 and "read-only" in res.output
    res = runner.invoke(app, ["status", "--db", str(db)])
    assert res.exit_code == 0 and "synthetic (100%)" in res.output
    before = one(db, "select count(*) from raw.city_fiscal")
    res = runner.invoke(app, ["ingest", str(files / "city_fiscal_wide_gbk.csv"), "--db", str(db)])
    assert res.exit_code == 0 and "already loaded" in res.output
    assert one(db, "select count(*) from raw.city_fiscal") == before


def test_dbt_docs_generate_works_offline(demo, tmp_path):
    db, _, _ = demo
    result = run_dbt(["docs", "generate", "--target-path", str(tmp_path / "docs")], db=db, progress=lambda m: None)
    assert result.success, result.failures
    catalog = json.loads((tmp_path / "docs" / "catalog.json").read_text(encoding="utf-8"))
    assert any(key.endswith(".fct_city_year") for key in catalog["nodes"])


def test_a_copy_under_another_name_keeps_its_views_working(demo, tmp_path):
    import shutil

    db, _, _ = demo
    copy = tmp_path / "renamed_copy.duckdb"
    shutil.copyfile(db, copy)
    with connection(copy, read_only=True) as con:
        views = con.execute("""select schema_name, view_name from duckdb_views()
                               where not internal and database_name = current_database()""").fetchall()
        assert len(views) >= 10  # the staging layer at least
        for schema, name in views:
            con.execute(f'select * from "{schema}"."{name}" limit 1').fetchall()
