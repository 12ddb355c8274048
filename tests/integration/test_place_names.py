"""Place-name resolution (warehouse/resolve.py) on a real warehouse: a label names one unit of the file's level,
a higher-level subtotal, or it is rejected with what to write — never a silent match at the wrong level."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.db import connect
from warehouse.errors import IngestError
from warehouse.resolve import add_alias, check_level, list_aliases, remove_alias, resolve_units


@pytest.fixture(scope="module")
def registry(registry_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to the session's registry warehouse (resolution never writes)."""
    con = connect(registry_db, read_only=True)
    yield con
    con.close()


@pytest.fixture
def con(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writable private warehouse, for aliases."""
    con = connect(warehouse)
    yield con
    con.close()


def labels(names: list[str], year: int | list[int], parents: list[str | None] | None = None) -> pd.DataFrame:
    years = year if isinstance(year, list) else [year] * len(names)
    return pd.DataFrame({
        "unit_label": pd.array(names, dtype="string"),
        "parent_label": pd.array(parents or [None] * len(names), dtype="string"),
        "year": pd.array(years, dtype="Int64"),
    })


def one(con: duckdb.DuckDBPyConnection, name: str, level: str, year: int = 2020, parent: str | None = None) -> dict:
    return resolve_units(con, labels([name], year, [parent]), level).iloc[0].to_dict()


# ---------------------------------------------------------------- names of another level


@pytest.mark.parametrize(("name", "province", "city"), [
    ("吉林", "吉林省 (220000)", "吉林市 (220200)"),
    ("海南", "海南省 (460000)", "海南藏族自治州 (632500)"),
])
def test_province_short_name_that_is_also_a_city_is_rejected_naming_both(registry, name, province, city):
    row = one(registry, name, "city")
    assert row["status"] == "reject" and pd.isna(row["unit_code"])
    assert province in row["reason"] and city in row["reason"]
    assert "write" in row["reason"]


@pytest.mark.parametrize("name", ["河北", "广东省", "130000"])
def test_province_only_name_at_city_level_is_a_province_subtotal(registry, name):
    row = one(registry, name, "city")
    assert row["status"] == "total" and pd.isna(row["unit_code"])
    assert "province subtotal" in row["reason"] and "in a city table" in row["reason"]


@pytest.mark.parametrize(("name", "code"), [("北京", "110000"), ("上海市", "310000"), ("天津", "120000"),
                                            ("重庆市", "500000"), ("吉林市", "220200"), ("石家庄", "130100")])
def test_municipalities_and_plain_cities_resolve_at_city_level(registry, name, code):
    row = one(registry, name, "city")
    assert (row["status"], row["unit_code"]) == ("unit", code)


@pytest.mark.parametrize("name", ["南京市", "市辖区", "北京市"])
def test_city_subtotal_in_a_county_table_is_a_total(registry, name):
    row = one(registry, name, "county")
    assert row["status"] == "total" and pd.isna(row["unit_code"])


def test_ambiguous_higher_level_name_in_a_county_table_is_rejected(registry):
    row = one(registry, "吉林", "county")
    assert row["status"] == "reject"
    assert "吉林省 (220000)" in row["reason"] and "吉林市 (220200)" in row["reason"]


def test_a_parent_column_decides_between_a_county_and_a_province(registry):
    # 河北区 is a district of 天津; without a parent 河北 could also be the province subtotal
    assert one(registry, "河北", "county")["status"] == "reject"
    assert one(registry, "河北", "county", parent="天津")["unit_code"] == "120105"


def test_city_name_in_a_province_table_is_rejected(registry):
    row = one(registry, "苏州", "province")
    assert row["status"] == "reject" and "苏州市 (320500)" in row["reason"] and "level: city" in row["reason"]


# ---------------------------------------------------------------- the wrong level for the whole file


def test_a_province_table_loaded_at_city_level_is_refused(registry):
    provinces = registry.execute(
        "select name_zh from main.dim_province where is_mainland order by province_code").df()["name_zh"].tolist()
    assert len(provinces) == 31
    resolved = resolve_units(registry, labels(provinces, 2020), "city")
    with pytest.raises(IngestError, match=r"prov\.xlsx: looks like a province table.* of 31 labels are provinces.*"
                                          r"use level: province"):
        check_level(resolved, "city", "prov.xlsx")
    check_level(resolve_units(registry, labels(provinces, 2020), "province"), "province", "prov.xlsx")


def test_a_city_table_at_city_level_passes_check_level(registry):
    cities = registry.execute(
        "select name_zh from main.dim_city where is_current and is_mainland order by city_code").df()["name_zh"]
    resolved = resolve_units(registry, labels(cities.tolist() + ["全国", "河北"], 2020), "city")
    assert (resolved["status"] == "unit").mean() > 0.95
    check_level(resolved, "city", "cities.csv")


def test_a_city_table_loaded_at_county_level_is_refused(registry):
    cities = registry.execute(
        "select name_zh from main.dim_city where province_code = '320000' order by city_code").df()["name_zh"]
    resolved = resolve_units(registry, labels(cities.tolist(), 2020), "county")
    assert (resolved["status"] == "total").all()  # each is a city subtotal in a county table
    with pytest.raises(IngestError, match="looks like a city table: 13 of 13 labels are cities, not counties"):
        check_level(resolved, "county", "jiangsu.csv")


def test_a_county_table_loaded_at_city_level_is_refused(registry):
    counties = ["溧水区", "高淳区", "江宁区", "六合区", "浦口区", "栖霞区", "雨花台区"]
    resolved = resolve_units(registry, labels(counties, 2020), "city")
    with pytest.raises(IngestError, match="looks like a county table: 7 of 7 labels are counties, not cities"):
        check_level(resolved, "city", "nanjing.csv")


# ---------------------------------------------------------------- abbreviations and aliases


@pytest.mark.parametrize(("name", "code"), [
    ("恩施州", "422800"), ("湘西州", "433100"), ("黔东南州", "522600"), ("延边州", "222400"), ("凉山州", "513400"),
    ("恩施自治州", "422800"), ("博州", "652700"), ("巴州", "652800"), ("克州", "653000"), ("伊犁州直", "654000"),
    ("大兴安岭地区", "232700"), ("锡林郭勒盟", "152500"), ("兴安", "152200"),
])
def test_prefecture_abbreviations_resolve(registry, name, code):
    row = one(registry, name, "city")
    assert (row["status"], row["unit_code"]) == ("unit", code)


def test_xinjiang_abbreviation_that_is_also_a_county_short_name_is_ambiguous_in_a_county_table(registry):
    row = one(registry, "巴州", "county")  # 巴州区 (511902) of 巴中, and 巴音郭楞 (巴州) as a subtotal
    assert row["status"] == "reject" and "511902" in row["reason"] and "652800" in row["reason"]


# ---------------------------------------------------------------- province-administered county-level units


@pytest.mark.parametrize(("name", "code"), [("神农架林区", "429021"), ("仙桃", "429004"), ("仙桃市", "429004"),
                                            ("济源", "419001"), ("石河子市", "659001"), ("琼海", "469002")])
def test_province_administered_units_are_rejected_at_city_level_with_their_county_code(registry, name, code):
    row = one(registry, name, "city")
    assert row["status"] == "reject" and code in row["reason"]
    assert "province-administered" in row["reason"] and "level: county" in row["reason"]
    assert row["matched_level"] == "county"


@pytest.mark.parametrize(("name", "code"), [("神农架林区", "429021"), ("仙桃", "429004"), ("济源市", "419001")])
def test_province_administered_units_resolve_at_county_level(registry, name, code):
    row = one(registry, name, "county")
    assert (row["status"], row["unit_code"]) == ("unit", code)


# ---------------------------------------------------------------- county-level change history


@pytest.mark.parametrize(("name", "year", "code"), [
    ("溧水县", 2012, "320117"), ("溧水县", 2013, "320117"), ("高淳县", 2012, "320118"), ("吴江市", 2011, "320509"),
    ("富阳市", 2013, "330111"), ("临安市", 2016, "330112"), ("从化市", 2013, "440117"), ("增城市", 2013, "440118"),
    ("萧山市", 2000, "330109"), ("余杭市", 2000, "330110"), ("番禺市", 2000, "440113"), ("花都市", 2000, "440114"),
    ("江宁县", 2000, "320115"), ("320124", 2012, "320117"),
    # the old short name is the new one's: no collision
    ("溧水", 2012, "320117"), ("溧水", 2015, "320117"), ("吴江", 2011, "320509"),
])
def test_pre_reform_county_names_resolve_up_to_their_change(registry, name, year, code):
    row = one(registry, name, "county", year)
    assert (row["status"], row["unit_code"]) == ("unit", code)


@pytest.mark.parametrize(("name", "year"), [("溧水县", 2015), ("吴江市", 2013), ("番禺市", 2005)])
def test_pre_reform_county_names_are_not_valid_after_their_change(registry, name, year):
    row = one(registry, name, "county", year)
    assert row["status"] == "reject" and f"not valid in {year}" in row["reason"]


def test_county_changes_carry_their_approval(registry):
    rows = registry.execute(
        "select old_name, new_code, effective_year, source, verified from reference.admin_changes "
        "where old_name in ('溧水县', '吴江市', '萧山市')").df().set_index("old_name")
    assert rows.loc["溧水县", "source"] == "国函〔2013〕24号" and rows.loc["溧水县", "effective_year"] == 2013
    assert rows.loc["吴江市", "new_code"] == "320509" and rows.loc["吴江市", "effective_year"] == 2012
    assert rows["verified"].all()


# ---------------------------------------------------------------- user aliases


def test_an_added_alias_resolves_at_the_next_resolution_without_a_rebuild(con):
    assert one(con, "金陵", "city")["status"] == "reject"
    added = add_alias(con, "金陵", "320100", note="old name of 南京")
    assert added["added"] and added["level"] == "city" and added["unit_name"] == "南京市"
    assert one(con, "金陵", "city")["unit_code"] == "320100"
    listed = list_aliases(con)
    assert listed.query("source == 'user'")[["alias", "unit_code", "unit_name"]].values.tolist() == [
        ["金陵", "320100", "南京市"]]
    assert {"博州", "伊犁州直"} <= set(listed.query("source == 'seed'")["alias"])


def test_an_alias_with_a_window_resolves_only_in_its_years(con):
    add_alias(con, "ＸＹ老城", "420600", valid_to=2009)  # full-width letters are stored NFKC-normalised
    assert one(con, "XY老城", "city", 2009)["unit_code"] == "420600"
    assert one(con, "XY老城", "city", 2010)["status"] == "reject"
    # the same label for another unit in later years is fine, in overlapping years it is refused
    add_alias(con, "XY老城", "420100", valid_from=2010)
    assert one(con, "XY老城", "city", 2015)["unit_code"] == "420100"
    with pytest.raises(IngestError, match="already means another city"):
        add_alias(con, "XY老城", "420500", valid_from=2005, valid_to=2012)


def test_add_alias_refuses_an_unknown_code(con):
    with pytest.raises(IngestError, match="unknown unit code '999999'"):
        add_alias(con, "某地", "999999")


def test_add_alias_refuses_a_label_that_already_means_another_unit(con):
    with pytest.raises(IngestError, match="alias '吉林' already means another city: 吉林市 \\(220200\\)"):
        add_alias(con, "吉林", "220100")


def test_add_alias_for_a_municipality_needs_the_level(con):
    with pytest.raises(IngestError, match="province and city level"):
        add_alias(con, "沪", "310000")
    assert add_alias(con, "沪", "310000", level="city")["added"]
    assert one(con, "沪", "city")["unit_code"] == "310000"


def test_add_alias_for_a_label_that_already_resolves_to_that_unit_adds_nothing(con):
    result = add_alias(con, "襄樊市", "420600", valid_to=2009)
    assert not result["added"] and "already resolves" in result["message"]


def test_a_user_alias_settles_a_short_name_shared_with_another_level(con):
    # the user says that in their city tables 吉林 is the city: the alias outranks the province's short name
    result = add_alias(con, "吉林", "220200")
    assert result["added"] and "吉林省 (220000)" in result["message"]
    assert one(con, "吉林", "city")["unit_code"] == "220200"
    assert one(con, "吉林", "province")["unit_code"] == "220000"
    assert remove_alias(con, "吉林") == 1
    assert one(con, "吉林", "city")["status"] == "reject"


# ---------------------------------------------------------------- every row comes back once


@pytest.fixture(scope="module")
def real_labels(registry) -> list[str]:
    return registry.execute(
        "select distinct alias from main.dim_unit_crosswalk order by alias").df()["alias"].tolist()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_row_comes_back_once_with_one_status_and_a_code_iff_unit(registry, real_labels, data):
    n = data.draw(st.integers(1, 40))
    extra = ["全国", "市辖区", "某某市", "", "吉林"]
    names = data.draw(st.lists(st.sampled_from(real_labels + extra), min_size=n, max_size=n))
    years = data.draw(st.lists(st.integers(1990, 2024), min_size=n, max_size=n))
    parents = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(real_labels)), min_size=n, max_size=n))
    level = data.draw(st.sampled_from(["province", "city", "county"]))
    frame = labels(names, years, parents).drop_duplicates().reset_index(drop=True)
    out = resolve_units(registry, frame, level)
    assert len(out) == len(frame)
    assert out[["unit_label", "parent_label", "year"]].reset_index(drop=True).equals(frame)
    assert out["status"].isin(["unit", "total", "reject"]).all()
    assert (out["unit_code"].notna() == (out["status"] == "unit")).all()
    assert (out["reason"].notna() == (out["status"] != "unit")).all()
