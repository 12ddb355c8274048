"""Absurd magnitudes are errors, not warnings (issue 19): a value two orders of magnitude outside its
variable's plausible range (seeds/variables.csv, or meta.variables for a variable a mapping registered)
refuses the whole file with a one-line error naming the file, row, unit, year, value and unit — the
warehouse file byte-identical — while values inside the range, and outliers short of 100×, load."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.ingest import absurd_limits
from warehouse.variables import standard_variables


def digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def one_file(folder: Path, name: str, text: str, **spec) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    p.with_name(p.name + ".yml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return p


def ingest(db: Path, path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ingest", str(path), "--db", str(db)])
    if result.exit_code:
        assert result.output.count("\n") <= 1, result.output  # an error is one line
    return result.exit_code, " ".join(result.output.split())


GDP = dict(table="prov_gdp", level="province", year="年份", unit={"name": "地区"})


def test_a_file_in_yuan_mapped_as_yi_yuan_is_refused_and_changes_nothing(warehouse, tmp_path):
    # 河北 2022 GDP is 42,370.4 亿元 = 4,237,040,000,000 元; the mapping wrongly says 亿元
    p = one_file(tmp_path, "gdp_yuan.csv", "地区,年份,地区生产总值\n广东,2022,1291186000000\n河北,2022,4237040000000\n",
                 **GDP, variables={"地区生产总值": {"name": "gdp", "unit": "亿元"}})
    before = digest(warehouse)
    code, out = ingest(warehouse, p)
    assert code == 1, out
    assert digest(warehouse) == before
    assert out.startswith("error:") and "gdp_yuan.csv row 2" in out
    assert "gdp of 广东 (440000) 2022 is 1291186000000 亿元" in out
    assert "plausible range 1–1,000,000 亿元 (from seeds/variables.csv) (and 1 more)" in out
    assert "check the unit" in out and "nothing was loaded" in out


def test_values_in_range_and_outliers_short_of_100x_load(warehouse, tmp_path):
    # the same figures in 万元 load; 5,000,000 亿元 is 5× the plausible maximum: an outlier, not a unit error
    p = one_file(tmp_path, "gdp_wan.csv", "地区,年份,地区生产总值\n广东,2022,1291186000\n河北,2022,50000000000\n",
                 **GDP, variables={"地区生产总值": {"name": "gdp", "unit": "万元"}})
    code, out = ingest(warehouse, p)
    assert code == 0 and "2 loaded" in out, out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        got = dict(con.execute("select unit_code, value from raw.prov_gdp").fetchall())
    assert got == {"440000": pytest.approx(129118.6), "130000": pytest.approx(5_000_000)}


def test_a_range_given_in_the_mapping_is_registered_and_guards_later_files(warehouse, tmp_path):
    spec = dict(table="prov_forest", level="province", year="年份", unit={"name": "地区"})
    first = one_file(tmp_path, "forest.csv", "地区,年份,森林覆盖率\n广东,2022,0.58\n", **spec,
                     variables={"森林覆盖率": {"name": "forest_cover", "unit": "fraction",
                                            "plausible_min": 0, "plausible_max": 1}})
    code, out = ingest(warehouse, first)
    assert code == 0 and "1 loaded" in out, out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select plausible_min, plausible_max, plausible_source from meta.variables "
                           "where name = 'forest_cover'").fetchone()[:2] == (0.0, 1.0)
    # a later file of the same variable with a value 580× the maximum (a ‰ figure written as a fraction)
    later = one_file(tmp_path, "forest2.csv", "地区,年份,森林覆盖率\n河北,2022,580\n", **spec,
                     variables={"森林覆盖率": {"name": "forest_cover", "unit": "fraction"}})
    before = digest(warehouse)
    code, out = ingest(warehouse, later)
    assert code == 1 and "forest2.csv row 2: forest_cover of 河北 (130000) 2022 is 580" in out, out
    assert "plausible range 0–1 fraction (from the mapping" in out and digest(warehouse) == before


def test_a_bad_range_in_a_mapping_is_an_error(warehouse, tmp_path):
    p = one_file(tmp_path, "bad.csv", "地区,年份,x\n广东,2022,1\n", table="t", level="province", year="年份",
                 unit={"name": "地区"}, variables={"x": {"name": "x_var", "unit": "fraction", "plausible_min": "low"}})
    code, out = ingest(warehouse, p)
    assert code == 1 and "plausible_min must be a number" in out, out


def test_absurd_limits_are_two_orders_of_magnitude_outside():
    assert absurd_limits(1, 1e6) == (0.01, 1e8)
    low, high = absurd_limits(0, 1)
    assert high == 100 and low == -100
    assert absurd_limits(None, None) == (None, None)
    assert absurd_limits(None, 50) == (None, 5000)


def test_every_standard_variable_has_a_plausible_range_with_its_source():
    std = standard_variables()
    low, high = std["plausible_min"].astype(float), std["plausible_max"].astype(float)
    assert not low.isna().any() and not high.isna().any() and (low < high).all()
    assert std["plausible_source"].str.len().gt(20).all()
    gdp = std[(std["level"] == "province") & (std["name"] == "gdp")].iloc[0]
    assert (float(gdp["plausible_min"]), float(gdp["plausible_max"])) == (1.0, 1e6) and gdp["unit"] == "亿元"
    assert not math.isnan(float(gdp["plausible_max"]))
