"""`geopanel build --var`: names the project's models read are passed to dbt as --vars; anything else is refused
with the nearest name, so a misspelt var never builds silently as if it had not been given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warehouse.dbt_vars import known_vars, vars_args
from warehouse.errors import WarehouseError


def project(tmp_path: Path) -> Path:
    (tmp_path / "models" / "x").mkdir(parents=True)
    (tmp_path / "macros").mkdir()
    (tmp_path / "models" / "x" / "m.sql").write_text(
        "select {{ var('industry_code_version', none) }}, {{ var(\"green_tfp_run\") }}", encoding="utf-8")
    (tmp_path / "macros" / "k.sql").write_text("{% set v = var( 'city_size_base_year', 2009) %}", encoding="utf-8")
    return tmp_path


def test_the_names_are_the_ones_models_and_macros_read(tmp_path):
    assert known_vars(project(tmp_path)) == {"industry_code_version", "green_tfp_run", "city_size_base_year"}
    assert {"industry_code_version", "green_tfp_run", "lq_province_industry"} <= known_vars()


def test_values_are_read_as_yaml_scalars(tmp_path):
    root = project(tmp_path)
    args = vars_args(["industry_code_version=2011", "green_tfp_run=a4f5-01", "city_size_base_year= 2012"], root)
    assert args[0] == "--vars"
    assert json.loads(args[1]) == {"industry_code_version": 2011, "green_tfp_run": "a4f5-01",
                                   "city_size_base_year": 2012}
    assert vars_args([], root) == []


@pytest.mark.parametrize("pair, message", [
    ("industry_code_versoin=2011", "did you mean 'industry_code_version'"),
    ("industry_code_version", "write KEY=VALUE"),
    ("=2011", "write KEY=VALUE"),
    ("green_tfp_run=[1, 2", "is not a plain value"),
])
def test_mistakes_are_one_line_errors(tmp_path, pair, message):
    with pytest.raises(WarehouseError) as err:
        vars_args([pair], project(tmp_path))
    assert message in str(err.value) and "\n" not in str(err.value)
