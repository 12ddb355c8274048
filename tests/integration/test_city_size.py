"""City size classes (国发〔2014〕51号) on the standard's own measure, 城区常住人口: ingested as `pop_urban_area`, it
sets dim_city_flags.size_class, and the classes equal the published ones; a city without it falls back to the
whole-prefecture registered population, labelled as a proxy.

Reference: 国家统计局《经济社会发展统计图表：第七次全国人口普查超大、特大城市人口基本情况》(《求是》2021年第18期),
as reported by 央视网 (2021-09-27) and others: 超大城市 上海, 北京, 深圳, 重庆, 广州, 成都, 天津; 特大城市 led by
武汉, 5万 short of 1,000万. The 城区人口 figures used (万人, rounded as the reports print them): 上海 1987, 北京 1775,
成都 1334, 武汉 995. 周口's registered population is only said to exceed 1,000万 (2012, "全市总人口均超过1000万人"
in a survey of city-size statistics); 1,100 stands for that.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from geopanel.cli import app

URBAN_2020 = {"上海市": "1987", "北京市": "1775", "成都市": "1334", "武汉市": "995"}
PUBLISHED = {"310000": "超大城市", "110000": "超大城市", "510100": "超大城市", "420100": "特大城市"}


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def flags(registry_db: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("city_size")
    db = root / "size.duckdb"
    shutil.copyfile(registry_db, db)
    urban = root / "urban.csv"
    urban.write_bytes(("\r\n".join(["表 城区人口（2020年）", "城市,城区人口(万人)"]
                                   + [f"{k},{v}" for k, v in URBAN_2020.items()])).encode("gbk"))
    urban.with_name("urban.csv.yml").write_text(yaml.safe_dump({
        "table": "city_urban_population", "level": "city", "year": 2020, "skip_rows": 1, "unit": {"name": "城市"},
        "variables": {"城区人口(万人)": {"name": "pop_urban_area", "label": "城区常住人口"}}}, allow_unicode=True),
        encoding="utf-8")
    registered = root / "registered.csv"
    registered.write_text("城市,年份,年末户籍人口(万人)\n周口市,2012,1100\n武汉市,2012,822\n", encoding="utf-8")
    registered.with_name("registered.csv.yml").write_text(yaml.safe_dump({
        "table": "city_registered_population", "level": "city", "year": "年份", "unit": {"name": "城市"},
        "variables": {"年末户籍人口(万人)": {"name": "pop"}}}, allow_unicode=True), encoding="utf-8")
    run("ingest", str(urban), "--db", str(db))
    run("ingest", str(registered), "--db", str(db))
    run("build", "--db", str(db))
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select city_code, size_class, size_basis, size_population, size_base_year "
                           "from dim_city_flags where size_class is not null").df().set_index("city_code")


def test_classes_on_urban_population_equal_the_published_ones(flags):
    got = flags.loc[list(PUBLISHED)]
    assert got["size_class"].to_dict() == PUBLISHED
    assert (got["size_basis"] == "pop_urban_area").all()
    # 武汉 has both: the standard's measure wins over its registered population, whatever the years
    assert flags.loc["420100", "size_population"] == 995 and flags.loc["420100", "size_base_year"] == 2020


def test_a_city_without_it_falls_back_to_the_labelled_proxy(flags):
    zhoukou = flags.loc["411600"]
    assert zhoukou["size_basis"] == "pop (proxy)"
    assert zhoukou["size_class"] == "超大城市"  # the proxy's known overstatement, visible in size_basis
