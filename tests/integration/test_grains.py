"""Panels of other grains: a firm-year panel whose registration cities are written with names and codes of
several vintages, and a province × industry × year panel, go through `geopanel ingest` (with `keys:`) and
`geopanel build`; the firm panel then runs the DID battery with firm and year fixed effects from the
warehouse table, equal to pyfixest's TWFE on the file itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import yaml
from typer.testing import CliRunner

from geopanel.cli import app

YEARS = range(2008, 2016)
# registration city of each firm group, as a file of that year prints it (older vintages before the change)
CITIES = [
    ("420600", lambda y: "襄樊市" if y < 2010 else "襄阳市"),      # renamed 2010 (the year accepts either)
    ("520500", lambda y: "522400" if y <= 2011 else "520500"),  # 毕节地区 (code 522400) became 毕节市 in 2011
    ("340100", lambda y: "合肥市"),
    ("420100", lambda y: "武汉"),
]


def firm_file(folder: Path) -> tuple[Path, pd.DataFrame]:
    """40 A-share-style firms (zero-padded codes), 2008–2015; outcome with firm and year effects and an
    effect of 0.5 from adoption; cohorts 2011 and 2013, never treated coded 0."""
    rng = np.random.default_rng(20240601)
    rows = []
    for i in range(40):
        code = f"{600000 + i:06d}" if i % 2 else f"{i:06d}"
        city, label = CITIES[i % 4]
        cohort = 2011 if i < 10 else 2013 if i < 20 else 0
        alpha = rng.normal(0, 1)
        for y in YEARS:
            treated = cohort > 0 and y >= cohort
            value = 10 + alpha + 0.1 * (y - 2008) + 0.5 * treated + rng.normal(0, 0.2)
            rows.append({"证券代码": code, "注册地": label(y), "年份": y, "行业代码": "C39" if i % 3 else "I65",
                         "创新产出": round(value, 6), "首次处理年份": cohort,
                         "研发投入(万元)": int(rng.integers(100, 9000)), "city": city})
    frame = pd.DataFrame(rows)
    path = folder / "firms.csv"
    frame.drop(columns="city").to_csv(path, index=False, encoding="utf-8-sig")
    path.with_name(path.name + ".yml").write_text(yaml.safe_dump({
        "table": "firm_panel", "level": "city", "year": "年份", "unit": {"name": "注册地"},
        "keys": {"firm": "证券代码", "industry": "行业代码"},
        "variables": {"创新产出": {"name": "innovation", "unit": "index"},
                      "首次处理年份": {"name": "first_treat", "unit": "年"},
                      "研发投入(万元)": {"name": "rd_expenditure"}}}, allow_unicode=True), encoding="utf-8")
    return path, frame


INDUSTRY = {  # province, industry, year: output (亿元), employment (万人) — written as 万元 and 人
    ("江苏", "C34", 2021): (1200.5, 35.2), ("江苏", "C35", 2021): (980.25, 30.1),
    ("湖北", "C34", 2021): (410.0, 12.4), ("湖北", "C35", 2021): (388.75, 11.0),
    ("江苏", "C34", 2022): (1260.0, 36.0), ("湖北", "C34", 2022): (450.5, 12.9),
}


PROVINCE_TOTAL = {("江苏", 2021): 148000.0, ("湖北", 2021): 52000.0, ("江苏", 2022): 155000.0,
                  ("湖北", 2022): 56000.0}  # total industrial output (亿元), made up for the arithmetic check


def industry_file(folder: Path) -> Path:
    lines = ["地区,行业代码,年份,工业总产值(万元),从业人员(人)"]
    lines += [f"{p},{ind},{y},{round(out * 1e4)},{round(emp * 1e4)}" for (p, ind, y), (out, emp) in INDUSTRY.items()]
    path = folder / "industry.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.with_name(path.name + ".yml").write_text(yaml.safe_dump({
        "table": "province_industry", "level": "province", "year": "年份", "unit": {"name": "地区"},
        "keys": {"industry": "行业代码"},
        "variables": {"工业总产值(万元)": {"name": "output"}, "从业人员(人)": {"name": "employment"}}},
        allow_unicode=True), encoding="utf-8")
    return path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(registry_db: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("grains")
    db = root / "grains.duckdb"
    shutil.copyfile(registry_db, db)
    firms, frame = firm_file(root)
    run("ingest", str(firms), "--db", str(db))
    run("ingest", str(industry_file(root)), "--db", str(db))
    totals = root / "totals.csv"
    lines = ["地区,年份,工业总产值(亿元)"] + [f"{p},{y},{v}" for (p, y), v in PROVINCE_TOTAL.items()]
    totals.write_text("\n".join(lines), encoding="utf-8")
    totals.with_name("totals.csv.yml").write_text(yaml.safe_dump({
        "table": "province_industry_totals", "level": "province", "year": "年份", "unit": {"name": "地区"},
        "variables": {"工业总产值(亿元)": {"name": "industrial_output"}}}, allow_unicode=True), encoding="utf-8")
    run("ingest", str(totals), "--db", str(db))
    run("build", "--db", str(db))
    return db, frame, root


def test_firm_panel_resolves_registration_cities_of_every_vintage(built):
    db, frame, _ = built
    with duckdb.connect(str(db), read_only=True) as con:
        panel = con.execute("select * from fct_firm_year order by firm, year").df()
    assert len(panel) == 40 * len(YEARS) and panel["n_city_codes"].eq(1).all()
    expected = frame.sort_values(["证券代码", "年份"]).reset_index(drop=True)
    assert panel["firm"].tolist() == expected["证券代码"].tolist()     # zero padding kept: 000002 stays text
    assert panel["year"].tolist() == expected["年份"].tolist()
    assert panel["city_code"].tolist() == expected["city"].tolist()    # 襄樊/522400 land on today's codes
    assert panel["industry"].tolist() == expected["行业代码"].tolist()
    assert np.allclose(panel["innovation"], expected["创新产出"], rtol=0, atol=1e-12)


def test_firm_panel_runs_the_did_battery_with_firm_and_year_effects(built):
    db, frame, root = built
    result = CliRunner().invoke(app, [
        "did", "innovation", "--data", "fct_firm_year", "--unit", "firm", "--time", "year", "--cohort", "first_treat",
        "--placebo", "0", "--boot", "20", "--window", "-2:2", "--stacked-window", "-1:1", "--allow-failing-checks",
        "--json", "--db", str(db), "--out", str(root / "did")])
    assert result.exit_code == 0, result.output
    twfe = next(e for e in json.loads(result.stdout)["estimates"] if e["estimator"] == "TWFE")
    # the reference: pyfixest on the file's own columns, firm and year fixed effects, clustered by firm
    data = frame.assign(treated=((frame["首次处理年份"] > 0) & (frame["年份"] >= frame["首次处理年份"])).astype(int))
    data = data.rename(columns={"创新产出": "y", "证券代码": "firm", "年份": "year"})
    fit = pf.feols("y ~ treated | firm + year", data=data, vcov={"CRV1": "firm"})
    assert twfe["estimate"] == pytest.approx(fit.coef()["treated"], abs=1e-10)
    assert twfe["se"] == pytest.approx(fit.se()["treated"], rel=1e-8)
    assert abs(twfe["estimate"] - 0.5) < 4 * twfe["se"]


def test_province_industry_panel_in_registered_units(built):
    db, _, _ = built
    with duckdb.connect(str(db), read_only=True) as con:
        panel = con.execute("select province_code, industry, year, output, employment "
                            "from fct_province_industry_year").df()
        units = dict(con.execute("select name, unit from dim_variable where grain = 'industry'").fetchall())
    assert units == {"output": "亿元", "employment": "万人"}
    code = {"江苏": "320000", "湖北": "420000"}
    got = panel.set_index(["province_code", "industry", "year"])
    assert len(got) == len(INDUSTRY)
    for (p, ind, y), (out, emp) in INDUSTRY.items():
        assert got.loc[(code[p], ind, y), "output"] == pytest.approx(out)
        assert got.loc[(code[p], ind, y), "employment"] == pytest.approx(emp)


def test_keyed_and_unkeyed_tables_do_not_mix(built, tmp_path):
    db, _, _ = built
    path = tmp_path / "x.csv"
    path.write_text("地区,年份,工业总产值(万元)\n江苏,2021,1\n", encoding="utf-8")
    path.with_name("x.csv.yml").write_text(yaml.safe_dump({
        "table": "province_industry", "level": "province", "year": "年份", "unit": {"name": "地区"},
        "variables": {"工业总产值(万元)": {"name": "output"}}}, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", str(path), "--db", str(db)])
    assert result.exit_code == 1 and "keyed by industry" in result.output


def test_firms_roll_up_to_their_registration_city(built):
    db, frame, _ = built
    with duckdb.connect(str(db), read_only=True) as con:
        cities = con.execute("select * from fct_city_firm_year order by city_code, year").df()
    expected = frame.groupby(["city", "年份"]).agg(n=("证券代码", "nunique"), rd=("研发投入(万元)", "sum"))
    expected = expected.reset_index()
    assert cities["city_code"].tolist() == expected["city"].tolist()
    assert cities["n_firms"].tolist() == expected["n"].tolist()
    assert np.allclose(cities["rd_expenditure"], expected["rd"] / 1e4)     # 万元 → 亿元, summed
    assert "innovation" not in cities.columns and "first_treat" not in cities.columns  # index and years not summed


def test_location_quotient_of_industries_equals_a_hand_computation(built):
    db, _, _ = built
    with duckdb.connect(str(db), read_only=True) as con:
        lq = con.execute("select province_code, industry, year, location_quotient "
                         "from ind_location_quotient_province_industry_year").df()
    code = {"江苏": "320000", "湖北": "420000"}
    rows = pd.DataFrame([(code[p], ind, y, out, PROVINCE_TOTAL[(p, y)]) for (p, ind, y), (out, _) in INDUSTRY.items()],
                        columns=["province_code", "industry", "year", "q_ij", "q_j"])
    q_i = rows.groupby(["industry", "year"])["q_ij"].transform("sum")
    q = rows.drop_duplicates(["province_code", "year"]).groupby("year")["q_j"].sum()
    rows["lq"] = (rows["q_ij"] / rows["q_j"]) / (q_i / rows["year"].map(q))   # paper 004: (q_ij/q_j)/(q_i/q)
    got = lq.merge(rows, on=["province_code", "industry", "year"])
    assert len(got) == len(INDUSTRY)
    assert np.allclose(got["location_quotient"], got["lq"], rtol=1e-12)


def test_cities_roll_up_to_provinces(built):
    db, frame, _ = built
    with duckdb.connect(str(db), read_only=True) as con:
        provinces = con.execute("select * from fct_province_firm_year order by province_code, year").df()
    frame = frame.assign(province=frame["city"].str[:2] + "0000")
    expected = frame.groupby(["province", "年份"]).agg(n=("证券代码", "nunique"), rd=("研发投入(万元)", "sum"),
                                                      cities=("city", "nunique")).reset_index()
    assert provinces["province_code"].tolist() == expected["province"].tolist()
    assert provinces["n_firms"].tolist() == expected["n"].tolist()
    assert provinces["n_cities"].tolist() == expected["cities"].tolist()
    assert np.allclose(provinces["rd_expenditure"], expected["rd"] / 1e4)
