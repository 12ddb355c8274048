"""GB/T 4754 versions on a province × industry × year panel (paper 003-P7): a 中国工业统计年鉴-style GBK file
whose 2010–2011 rows use the 2002 division names and whose 2012–2013 rows use the 2011 names goes through
`geopanel ingest` (keys: {industry: 行业}) and `geopanel build`; fct_province_industry_harmonised_year must
equal the harmonisation done here by hand (2011 names renamed to their 2002 division; 汽车制造业 + 铁路、船舶、
航空航天和其他运输设备制造业 summed into 交通运输设备制造业), leave a group with a missing part null, and
keep bare codes unclassified with the reason. The harmonised panel then feeds P7's province-view Malmquist
index, equal to the index of the hand-harmonised file.

The figures are illustrative (made up for the arithmetic, not published values): what is checked is the
classification and the sums, which do not depend on them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from analyses.efficiency import malmquist
from geopanel.cli import app

# the 2002 division each printed name belongs to — written here from the standard, not read from the seed
NAMES_2002 = {"金属制品业": "C34", "通用设备制造业": "C35", "专用设备制造业": "C36", "交通运输设备制造业": "C37",
              "电气机械及器材制造业": "C39", "通信设备、计算机及其他电子设备制造业": "C40",
              "仪器仪表及文化、办公用机械制造业": "C41"}
NAMES_2011 = {"金属制品业": "C34", "通用设备制造业": "C35", "专用设备制造业": "C36", "汽车制造业": "C37",
              "铁路、船舶、航空航天和其他运输设备制造业": "C37", "电气机械和器材制造业": "C39",
              "计算机、通信和其他电子设备制造业": "C40", "仪器仪表制造业": "C41"}
PROVINCES = {"山西": "140000", "安徽": "340000", "江西": "360000", "河南": "410000", "湖北": "420000",
             "湖南": "430000"}
YEARS = (2010, 2011, 2012, 2013)


def industry_rows() -> pd.DataFrame:
    """Province × printed industry × year: net fixed assets and revenue (亿元), employees (万人)."""
    rng = np.random.default_rng(7)
    rows = []
    for name in PROVINCES:
        for year in YEARS:
            names = NAMES_2002 if year < 2012 else NAMES_2011
            for industry in names:
                if name == "江西" and year == 2013 and industry.startswith("铁路"):
                    continue  # a suppressed cell: 交通运输设备 of 江西 2013 cannot be summed
                rows.append({"地区": name, "行业": industry, "年份": year,
                             "固定资产净值": round(float(rng.uniform(50, 900)), 2),
                             "从业人员": round(float(rng.uniform(2, 40)), 2),
                             "主营业务收入": round(float(rng.uniform(200, 5000)), 2)})
    return pd.DataFrame(rows)


def write_file(folder: Path, frame: pd.DataFrame) -> Path:
    """GBK CSV with a title row, a units row, a 全国 total row per industry-year and two footnotes."""
    path = folder / "equipment.csv"
    lines = ["表 分地区分行业规模以上工业企业主要指标（2010—2013年）",
             "地区,行业,年份,固定资产净值,从业人员,主营业务收入", ",,,亿元,万人,亿元"]
    totals = frame.groupby(["行业", "年份"], sort=False)[["固定资产净值", "从业人员", "主营业务收入"]].sum().round(2)
    for (industry, year), t in totals.iterrows():
        lines.append(f"全国,{industry},{year},{t.iloc[0]},{t.iloc[1]},{t.iloc[2]}")
    lines += [f"{r.地区},{r.行业},{r.年份},{r.固定资产净值},{r.从业人员},{r.主营业务收入}" for r in frame.itertuples()]
    lines += ["注：2012年起按《国民经济行业分类》(GB/T 4754-2011)分组。", "资料来源：示例数据。"]
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    path.with_name(path.name + ".yml").write_text(yaml.safe_dump({
        "table": "province_equipment", "level": "province", "year": "年份", "skip_rows": 1,
        "skip_after_header": 1, "unit": {"name": "地区"}, "keys": {"industry": "行业"},
        "variables": {"固定资产净值": {"name": "net_fixed_assets", "unit": "亿元"},
                      "从业人员": {"name": "employees", "unit": "万人"},
                      "主营业务收入": {"name": "revenue", "unit": "亿元"}}}, allow_unicode=True), encoding="utf-8")
    return path


def by_hand(frame: pd.DataFrame) -> pd.DataFrame:
    """The P7 rule applied with pandas: each printed name to its 2002 division, parts summed, a group with a
    missing part dropped."""
    names = zip(frame["行业"], frame["年份"], strict=True)
    f = frame.assign(province_code=frame["地区"].map(PROVINCES),
                     industry=[(NAMES_2002 if y < 2012 else NAMES_2011)[n] for n, y in names])
    g = f.groupby(["province_code", "industry", "年份"]).agg(
        n=("行业", "size"), net_fixed_assets=("固定资产净值", "sum"), employees=("从业人员", "sum"),
        revenue=("主营业务收入", "sum")).reset_index().rename(columns={"年份": "year"})
    expected_parts = np.where((g["industry"] == "C37") & (g["year"] >= 2012), 2, 1)
    return g[g["n"] == expected_parts].drop(columns="n")


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(registry_db: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("industry")
    db = root / "industry.duckdb"
    shutil.copyfile(registry_db, db)
    frame = industry_rows()
    codes = root / "codes.csv"  # the same industries by bare 2011 code: meaning depends on the version
    codes.write_text("地区,行业代码,年份,主营业务收入(亿元)\n湖北,C36,2013,1234.5\n广东,C39,2013,987.6\n",
                     encoding="utf-8")
    codes.with_name("codes.csv.yml").write_text(yaml.safe_dump({
        "table": "province_industry_codes", "level": "province", "year": "年份", "unit": {"name": "地区"},
        "keys": {"industry": "行业代码"}, "variables": {"主营业务收入(亿元)": {"name": "revenue"}}},
        allow_unicode=True), encoding="utf-8")
    run("ingest", str(write_file(root, frame)), "--db", str(db))
    run("ingest", str(codes), "--db", str(db))
    run("build", "--db", str(db))
    return db, frame


def read(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def test_versions_are_harmonised_to_the_2002_divisions(built):
    db, frame = built
    got = read(db, "select province_code, industry, year, net_fixed_assets, employees, revenue "
                   "from fct_province_industry_harmonised_year where complete")
    want = by_hand(frame)
    merged = want.merge(got, on=["province_code", "industry", "year"], how="outer", suffixes=("", "_got"),
                        indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for v in ("net_fixed_assets", "employees", "revenue"):
        assert np.allclose(merged[v], merged[f"{v}_got"], rtol=0, atol=1e-9), v
    # renumbered, not re-read: 2011's C33 金属制品业 is 2002's C34, never the 2011 code's own meaning
    assert set(got["industry"]) == {"C34", "C35", "C36", "C37", "C39", "C40", "C41"}


def test_transport_is_the_sum_of_its_two_2011_parts(built):
    db, frame = built
    got = read(db, "select year, revenue, parts, n_parts from fct_province_industry_harmonised_year "
                   "where province_code = '420000' and industry = 'C37' order by year")
    hubei = frame[frame["地区"] == "湖北"]
    for row in got.itertuples():
        printed = hubei[(hubei["年份"] == row.year) & hubei["行业"].isin(
            ["交通运输设备制造业", "汽车制造业", "铁路、船舶、航空航天和其他运输设备制造业"])]
        assert row.n_parts == (1 if row.year < 2012 else 2)
        assert abs(row.revenue - printed["主营业务收入"].sum()) < 1e-9
    assert got["parts"].iloc[-1] == "汽车制造业 + 铁路、船舶、航空航天和其他运输设备制造业"


def test_a_group_with_a_missing_part_is_null_not_a_partial_sum(built):
    db, _ = built
    row = read(db, "select complete, mixed_versions, n_parts, revenue from fct_province_industry_harmonised_year "
                   "where province_code = '360000' and industry = 'C37' and year = 2013")
    assert len(row) == 1 and row["n_parts"][0] == 1
    assert not row["complete"][0] and not row["mixed_versions"][0] and pd.isna(row["revenue"][0])


def test_bare_codes_are_not_guessed(built):
    db, _ = built
    rows = read(db, "select industry, group_code, unclassified_reason from staging.int_province_industry_classified "
                    "where industry in ('C36', 'C39') order by industry")
    assert rows["group_code"].isna().all()
    assert rows["unclassified_reason"].str.contains("industry_code_version").all()


def test_the_harmonised_panel_feeds_the_province_view_malmquist_index(built):
    """P7's province view: industries summed to the province, output-oriented Malmquist over the six provinces;
    the warehouse path equals the index of the hand-harmonised file (complete groups only, both ways)."""
    db, frame = built
    sql = ("select province_code, year, sum(net_fixed_assets) as capital, sum(employees) as labour, "
           "sum(revenue) as output from fct_province_industry_harmonised_year "
           "where complete and province_code <> '360000' group by all")
    warehouse = read(db, sql)
    hand = by_hand(frame)
    hand = hand[hand["province_code"] != "360000"].groupby(["province_code", "year"], as_index=False).agg(
        capital=("net_fixed_assets", "sum"), labour=("employees", "sum"), output=("revenue", "sum"))
    a = malmquist(warehouse, ["capital", "labour"], ["output"], unit="province_code", time="year")
    b = malmquist(hand, ["capital", "labour"], ["output"], unit="province_code", time="year")
    cols = ["effch", "techch", "pech", "sech", "tfpch"]
    ta = a.indices.sort_values(["province_code", "year"]).reset_index(drop=True)
    tb = b.indices.sort_values(["province_code", "year"]).reset_index(drop=True)
    assert len(ta) == 5 * 3 and ta["province_code"].tolist() == tb["province_code"].tolist()
    assert np.allclose(ta[cols].to_numpy(float), tb[cols].to_numpy(float), atol=1e-10)


def test_codes_are_read_in_the_version_the_build_names(built, tmp_path):
    """`geopanel build --var industry_code_version=2011`: C36 and C39 are then 2011 codes — 汽车制造业 (half of
    2002's C37) and 计算机、通信和其他电子设备制造业 (2002's C40). 湖北's C36 of 2013 is the same industry as the
    汽车制造业 row of the yearbook file, so that build is refused as a double count (warehouse unchanged); without
    that row it builds and classifies both codes. A misspelt var is refused before anything runs."""
    db, _ = built
    copy = tmp_path / "codes.duckdb"
    shutil.copyfile(db, copy)
    before = copy.read_bytes()
    result = CliRunner().invoke(app, ["build", "--var", "industry_code_versoin=2011", "--db", str(copy)])
    assert result.exit_code == 1 and "did you mean 'industry_code_version'" in result.output
    result = CliRunner().invoke(app, ["build", "--var", "industry_code_version=2011", "--db", str(copy)])
    assert result.exit_code == 1 and "mixed_versions" in result.output
    assert copy.read_bytes() == before
    with duckdb.connect(str(copy)) as con:
        table = con.execute("select table_name from meta.raw_tables where table_name like '%codes'").fetchone()[0]
        con.execute(f"delete from raw.{table} where industry = 'C36'")
    run("build", "--var", "industry_code_version=2011", "--db", str(copy))
    rows = read(copy, "select province_code, industry, group_code, part_code, classified_by "
                      "from staging.int_province_industry_classified where industry = 'C39'")
    assert rows.to_dict("records") == [{"province_code": "440000", "industry": "C39", "group_code": "C40",
                                        "part_code": "C39", "classified_by": "code (2011)"}]
    got = read(copy, "select revenue, complete from fct_province_industry_harmonised_year "
                     "where province_code = '440000' and industry = 'C40' and year = 2013")
    assert got.to_dict("records") == [{"revenue": 987.6, "complete": True}]
