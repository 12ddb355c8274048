"""Reference seeds a researcher can cite: every verified row has a source, the policy lists hold the rows their
sources state, and `geopanel status` says how many rows of each seed are unverified (issue 17)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.did import adoption_year
from geopanel.cli import app
from warehouse.settings import SEEDS_DIR

CHECKED_SEEDS = sorted(p.stem for p in SEEDS_DIR.glob("*.csv")
                       if "verified" in pd.read_csv(p, dtype=str, nrows=0).columns)


def seed(name: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS_DIR / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", CHECKED_SEEDS)
def test_no_row_is_verified_without_a_source(name):
    rows = seed(name)
    assert set(rows["verified"].str.lower()) <= {"true", "false"}
    unsourced = rows[(rows["verified"].str.lower() == "true") & (rows["source"].str.strip() == "")]
    assert unsourced.empty, f"{name}: verified rows without a source: {unsourced.index.tolist()}"


def test_information_consumption_pilots_follow_the_miit_notices():
    pilots = seed("policy_pilots").query("policy == 'info_consumption_pilot'")
    batch1, batch2 = pilots[pilots["batch"] == "1"], pilots[pilots["batch"] == "2"]
    # 公告〔2013〕67号 named 68 units in batch 1, the 公示 of end-2014 named 36 in batch 2; the seed holds
    # only the members confirmed in a source read, so it may be short but never over
    assert 0 < len(batch1) <= 68 and 0 < len(batch2) <= 36 and pilots["unit_code"].is_unique
    # batch 1 is dated by its pilot period (2014-01 to 2015-12, 工信厅信函〔2013〕701号), not by the naming
    # date 2013-12-31, so every timing rule codes it 2014, the year paper 003-P4 codes
    assert set(batch1["start_date"]) == {"2014-01-01"} and set(batch2["start_date"]) == {"2015-01-01"}
    for rule in ("calendar", "july"):
        assert set(adoption_year(batch1["start_date"], rule, 7)) == {2014}
    assert batch1["note"].str.contains("2013-12-31").all() and batch1["note"].str.contains("701号").all()
    # a sample of rows against the text their source column quotes
    weihai = batch1.set_index("unit_code").loc["371000"]
    assert "公告〔2013〕67号" in weihai["source"] and weihai["verified"] == "true"
    assert "第2批" in pilots.set_index("unit_code").loc["340300", "source"]  # 蚌埠
    assert "第二批36个" in pilots.set_index("unit_code").loc["520100", "source"]  # 贵阳


def test_demonstration_zone_rows_against_their_sources():
    zones = seed("policy_demonstration_zones")
    by_zone = zones.groupby("zone_id")["city_code"].apply(set)
    # 国函〔2010〕5号 plan: 9 cities plus 六安's 金安区 and 舒城县
    wanjiang = zones[zones["zone_id"] == "wanjiang"]
    assert len(wanjiang) == 10 and wanjiang["source"].str.contains("国函〔2010〕5号").all()
    liuan = wanjiang.set_index("city_code").loc["341500"]
    assert (liuan["coverage"], liuan["covered_counties"]) == ("partial", "金安区;舒城县")
    # Xinhua 2011-02-05: 涪陵、巴南、九龙坡、璧山、永川、双桥、荣昌 7 区县
    chongqing = zones.set_index("zone_id").loc["chongqing_yanjiang"]
    assert chongqing["coverage"] == "partial" and len(chongqing["covered_counties"].split(";")) == 7
    assert by_zone["huanghe_jinsanjiao"] == {"140800", "141000", "610500", "411200"}  # 运城、临汾、渭南、三门峡
    # approvals not found in a source read stay unverified and say so
    for zone in ("yinchuan_shizuishan", "jingzhou", "gannan", "lanbai"):
        rows = zones[zones["zone_id"] == zone]
        assert (rows["verified"] == "false").all() and rows["note"].str.contains("not confirmed|unconfirmed").all()


def test_beijing_tianjin_hebei_ftz_areas_give_paper_p12_its_cities_and_years():
    areas = seed("policy_ftz_areas")
    assert areas.groupby("ftz_id").size().to_dict() == {"beijing": 3, "hebei": 4, "tianjin": 3}
    first = areas.assign(year=pd.to_datetime(areas["start_date"]).dt.year).groupby("city_code")["year"].min()
    # paper 003-P12: Tianjin from 2015, Hebei 2019 (雄安/保定, 正定/石家庄, 曹妃甸/唐山, 大兴机场/廊坊), Beijing 2020
    assert first.to_dict() == {"120000": 2015, "130600": 2019, "130100": 2019, "130200": 2019, "131000": 2019,
                               "110000": 2020}
    # each FTZ starts in the year its province row in policy_pilots gives
    provinces = seed("policy_pilots").query("policy == 'pilot_ftz'").set_index("unit_code")["start_date"]
    for province, year in areas.groupby("province_code")["start_date"].min().str[:4].items():
        assert provinces[province][:4] == year
    # sample rows against their sources' text
    hebei = areas[areas["ftz_id"] == "hebei"].set_index("area_name_zh")
    assert hebei["source"].str.contains("国函〔2019〕72号").all()
    assert all(area.removesuffix("片区") in hebei.loc[area, "source"] for area in hebei.index)
    assert hebei.loc["大兴机场片区", "verified"] == "false"  # straddles 北京大兴 and 廊坊; the sources do not say
    tianjin = areas[areas["ftz_id"] == "tianjin"]
    assert all(a in tianjin["source"].iloc[0] for a in tianjin["area_name_zh"])


def test_status_counts_verified_and_unverified_rows_per_reference_seed(registry_db):
    result = CliRunner().invoke(app, ["status", "--db", str(registry_db)])
    assert result.exit_code == 0, result.output
    totals = {name: seed(name)["verified"].str.lower().value_counts() for name in CHECKED_SEEDS}
    unverified = sum(int(t.get("false", 0)) for t in totals.values())
    rows = sum(int(t.sum()) for t in totals.values())
    assert f"reference seeds: {unverified} of {rows} rows unverified" in result.output
    cells = [line.replace("│", " ").split() for line in result.output.splitlines()]
    lines = {c[0]: c[1:] for c in cells if c and c[0] in totals}  # the seed table's rows, not the table list
    for name, t in totals.items():
        assert lines[name][-3:] == [str(int(t.sum())), str(int(t.get("true", 0))), str(int(t.get("false", 0)))]
