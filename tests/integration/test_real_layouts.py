"""Real yearbook layouts, first time right: eight files in the layouts Chinese yearbooks and data vendors
use, written here and filled with published figures, go through `geopanel ingest` and `geopanel build`
into a warehouse made by `geopanel init`, and every panel cell is checked against the figure written.

Figures (亿元 unless said), as first published by the National Bureau of Statistics (国家统计局, 分省年度数据
地区生产总值; China Statistical Yearbook 2021–2023, table 3-9) and the provinces' and cities' statistical
communiqués for 2020–2022: provincial GDP 2020–2022, provincial resident population 2021–2022 (万人),
provincial GDP per capita 2021–2022 (元/人), city GDP 2022. For cities whose whole territory is districts
(北京, 上海, 广州, 深圳, 武汉, 南京) the yearbook's 市辖区 column equals the 全市 column. The checks do not
depend on the figures being the latest revision: they compare the panel with what the file says.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from geopanel.cli import app

GDP = {  # province: (2020, 2021, 2022) GDP, 亿元
    "北京": ("36102.6", "40269.6", "41610.9"), "天津": ("14083.7", "15695.1", "16311.3"),
    "河北": ("36206.9", "40391.3", "42370.4"), "吉林": ("12311.3", "13235.5", "13070.2"),
    "上海": ("38700.6", "43214.9", "44652.8"), "江苏": ("102719.0", "116364.2", "122875.6"),
    "广东": ("110760.9", "124369.7", "129118.6"), "海南": ("5532.4", "6475.2", "6818.2"),
}
CODE = {"北京": "110000", "天津": "120000", "河北": "130000", "吉林": "220000", "上海": "310000",
        "江苏": "320000", "广东": "440000", "海南": "460000"}
FULL = {"北京": "北京市", "天津": "天津市", "河北": "河北省", "吉林": "吉林省", "上海": "上海市", "江苏": "江苏省",
        "广东": "广东省", "海南": "海南省"}
POP = {"北京": ("2188.6", "2184.3"), "上海": ("2489.4", "2475.9"), "江苏": ("8505.4", "8515"),
       "广东": ("12684", "12656.8")}  # 年末常住人口 2021, 2022, 万人
PER_CAPITA = {"北京": ("183980", "190313"), "上海": ("173630", "179907"), "江苏": ("137039", "144390"),
              "广东": ("98285", "101905")}  # 人均地区生产总值 2021, 2022, 元/人
CITY_GDP_2022 = {"北京市": ("110000", "41610.9"), "上海市": ("310000", "44652.8"), "广州市": ("440100", "28839.0"),
                 "深圳市": ("440300", "32387.7"), "武汉市": ("420100", "18866.4"), "南京市": ("320100", "16907.9")}
FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def wan(yi: str) -> str:
    """亿元 → 万元 as a yearbook prints it (whole 万元)."""
    return str(round(float(yi) * 10_000))


def mapping(path: Path, **spec) -> None:
    path.with_name(path.name + ".yml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")


def write_files(folder: Path) -> list[Path]:
    """The eight real-layout files and their mappings."""
    files = []

    # 1. GBK CSV, wide by year, two title rows, full-width header and padded names, a 全国 row, footnotes
    p = folder / "1_prov_gdp_wide_gbk.csv"
    lines = ["表3-9 地区生产总值（2021—2022年）", "单位：亿元", "地　区,2021年,2022年", "全国,1149237.0,1210207.2"]
    lines += [f"{'　'.join(name)},{v[1]},{v[2]}" for name, v in GDP.items()]
    lines += ["注：本表按当年价格计算。", "资料来源：国家统计局。"]
    p.write_bytes("\r\n".join(lines).encode("gbk"))
    mapping(p, table="province_gdp", level="province", shape="wide", skip_rows=2, unit={"name": "地区"},
            variable={"name": "gdp", "unit": "亿元"}, source="国家统计局 中国统计年鉴 表3-9")
    files.append(p)

    # 2. 中国城市统计年鉴 layout (.xlsx): two-row header 地区生产总值(万元) over 全市 | 市辖区, province
    #    subtotal rows, the year only in the title
    p = folder / "2_city_two_row_header.xlsx"
    rows = [["2022年 地级及以上城市主要经济指标", None, None], ["地区", "地区生产总值（万元）", None],
            [None, "全市", "市辖区"], ["广东省", wan("129118.6"), None]]
    for name in ("广州市", "深圳市"):
        rows.append([name, int(wan(CITY_GDP_2022[name][1])), int(wan(CITY_GDP_2022[name][1]))])
    rows.append(["湖北省", None, None])
    rows.append(["武汉市", int(wan(CITY_GDP_2022["武汉市"][1])), int(wan(CITY_GDP_2022["武汉市"][1]))])
    for name in ("北京市", "上海市", "南京市"):
        rows.append([name, int(wan(CITY_GDP_2022[name][1])), int(wan(CITY_GDP_2022[name][1]))])
    pd.DataFrame(rows).to_excel(p, header=False, index=False, sheet_name="城市")
    mapping(p, table="city_gdp_2022", level="city", shape="long", sheet="城市", skip_rows=1, header_rows=2,
            year={"from": "title"}, unit={"name": "地区"},
            variables={"地区生产总值(万元)·全市": {"name": "gdp"},
                       "地区生产总值(万元)·市辖区": {"name": "gdp_district", "label": "地区生产总值(市辖区)"}})
    files.append(p)

    # 3. legacy .xls, one year, a units row under the header, full-width digits in two cells
    import xlwt

    p = folder / "3_prov_gdp_2020.xls"
    book = xlwt.Workbook()
    sheet = book.add_sheet("2020")
    for r, row in enumerate([["地区", "地区生产总值"], ["", "亿元"]] +
                            [[FULL[n], v[0].translate(FULLWIDTH) if n in ("海南", "吉林") else float(v[0])]
                             for n, v in GDP.items()]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(p))
    mapping(p, table="province_gdp_2020", level="province", shape="long", year=2020, skip_after_header=1,
            unit={"name": "地区"}, variables={"地区生产总值": {"name": "gdp", "unit": "亿元"}})
    files.append(p)

    # 4. data-vendor export (CSMAR/CNRDS): English header, Chinese header, units row; codes, UTF-8 with BOM
    p = folder / "4_vendor_export.csv"
    lines = ["Prvcd,Sgnyea,Gdp", "省份代码,统计年度,地区生产总值", "没有单位,年,亿元"]
    lines += [f"{CODE[n]},2021,{v[1]}" for n, v in GDP.items()]
    p.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8"))
    mapping(p, table="province_vendor", level="province", shape="long", skip_after_header=2, year="Sgnyea",
            unit={"code": "Prvcd"}, variables={"Gdp": {"name": "gdp", "unit": "亿元"}})
    files.append(p)

    # 5. OpenDocument spreadsheet, one sheet per year, per-capita GDP in 元/人 (stays 元/人)
    p = folder / "5_per_capita.ods"
    with pd.ExcelWriter(p, engine="odf") as xl:
        for k, year in enumerate((2021, 2022)):
            frame = pd.DataFrame({"地区": list(PER_CAPITA), "人均地区生产总值(元/人)":
                                  [int(v[k]) for v in PER_CAPITA.values()]})
            frame.to_excel(xl, sheet_name=f"{year}年", index=False)
    mapping(p, table="province_per_capita", level="province", shape="sheets", sheet=r"^(\d{4})年$",
            unit={"name": "地区"}, variables={"人均地区生产总值(元/人)": {"name": "gdp_per_capita",
                                                                    "label_en": "GDP per capita"}})
    files.append(p)

    # 6. wide with an indicator column whose labels carry the units (UTF-8)
    p = folder / "6_indicators_wide.csv"
    lines = ["地区,指标,2021,2022"]
    for n in POP:
        lines += [f"{n},地区生产总值(亿元),{GDP[n][1]},{GDP[n][2]}", f"{n},年末常住人口(万人),{POP[n][0]},{POP[n][1]}",
                  f"{n},一般公共预算收入(亿元),…,…"]
    p.write_text("\n".join(lines), encoding="utf-8")
    mapping(p, table="province_indicators", level="province", shape="wide", indicator="指标", unit={"name": "地区"},
            variables={"地区生产总值(亿元)": {"name": "gdp"}, "年末常住人口(万人)": {"name": "pop_resident"}})
    files.append(p)

    # 7. GB18030 with thousands separators, a yearbook gap mark and a 合计 row; the same GDP as file 1
    p = folder / "7_thousands_gb18030.csv"
    lines = ["地区,年份,地区生产总值(亿元)"]
    lines += [f'{n},2022,"{float(v[2]):,.1f}"' for n, v in GDP.items()]
    lines += ["西藏,2022,-", "合计,2022,\"999,999.9\""]
    p.write_bytes("\n".join(lines).encode("gb18030"))
    mapping(p, table="province_gdp_b", level="province", shape="long", year="年份", unit={"name": "地区"},
            variables={"地区生产总值(亿元)": {"name": "gdp"}})
    files.append(p)

    # 8. a second source printing more decimals (129118.58 for 129118.6): within the revision tolerance
    p = folder / "8_second_source.csv"
    p.write_text("地区,年份,GDP(亿元)\n广东省,2022,129118.58\n江苏省,2022,122875.60\n", encoding="utf-8")
    mapping(p, table="province_gdp_c", level="province", shape="long", year="年份", unit={"name": "地区"},
            variables={"GDP(亿元)": {"name": "gdp"}})
    files.append(p)
    return files


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def built(registry_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A warehouse from `geopanel init` with the eight files ingested and built: (db, ingest output by file)."""
    root = tmp_path_factory.mktemp("real")
    db = root / "real.duckdb"
    shutil.copyfile(registry_db, db)
    outputs = {p.name: run("ingest", str(p), "--db", str(db)) for p in write_files(root)}
    run("build", "--db", str(db))
    return db, outputs


def panel(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def test_every_file_loads_with_a_short_mapping(built):
    _, out = built
    one = " ".join(out["1_prov_gdp_wide_gbk.csv"].split())
    assert "16 loaded" in one and "3 rows excluded (2 footnote, 1 total)" in one and "0 rejected" in one
    two = " ".join(out["2_city_two_row_header.xlsx"].split())
    assert "12 loaded" in two and "2 rows excluded (2 total)" in two and "0 rejected" in two
    assert "8 loaded" in out["3_prov_gdp_2020.xls"]
    assert "8 duplicates skipped" in out["4_vendor_export.csv"]          # same 2021 figures as file 1
    assert "8 loaded" in out["5_per_capita.ods"]
    six = " ".join(out["6_indicators_wide.csv"].split())
    assert "8 loaded" in six and "8 duplicates skipped" in six
    seven = " ".join(out["7_thousands_gb18030.csv"].split())
    assert "8 duplicates skipped" in seven and "1 empty cells" in seven and "1 rows excluded (1 total)" in seven
    assert "2 duplicates skipped" in out["8_second_source.csv"]         # 129118.58 ≈ 129118.6 within 0.1%


def test_province_panel_equals_the_published_figures_cell_by_cell(built):
    db, _ = built
    got = panel(db, "select province_code, year, gdp, pop_resident, gdp_per_capita from fct_province_year "
                    "where year between 2020 and 2022")
    got = got.set_index(["province_code", "year"])
    for name, values in GDP.items():
        for k, year in enumerate((2020, 2021, 2022)):
            assert got.loc[(CODE[name], year), "gdp"] == pytest.approx(float(values[k]), abs=1e-9), (name, year)
    for name, values in POP.items():
        for k, year in enumerate((2021, 2022)):
            assert got.loc[(CODE[name], year), "pop_resident"] == pytest.approx(float(values[k]))
    for name, values in PER_CAPITA.items():
        for k, year in enumerate((2021, 2022)):
            assert got.loc[(CODE[name], year), "gdp_per_capita"] == pytest.approx(float(values[k]))  # 元/人 kept
    assert got["gdp"].notna().sum() == 24  # nothing else: no total, footnote or 西藏 gap became a value


def test_two_row_header_gives_two_variables_and_subtotals_are_not_cities(built):
    db, _ = built
    got = panel(db, "select city_code, gdp, gdp_district from fct_city_year where year = 2022 and gdp is not null")
    assert len(got) == len(CITY_GDP_2022)
    got = got.set_index("city_code")
    for _name, (code, yi) in CITY_GDP_2022.items():
        assert got.loc[code, "gdp"] == pytest.approx(float(yi))            # 万元 → 亿元
        assert got.loc[code, "gdp_district"] == pytest.approx(float(yi))
    units = dict(panel(db, "select name, unit from dim_variable where level = 'city' and name like 'gdp%'").values)
    assert units["gdp"] == "亿元" and units["gdp_district"] == "亿元"


def test_new_variables_are_registered_with_their_unit_and_label(built):
    db, _ = built
    reg = panel(db, "select level, name, unit, label_zh, label_en from dim_variable where name in "
                    "('gdp_per_capita', 'gdp_district')").set_index("name")
    assert reg.loc["gdp_per_capita", "unit"] == "元/人" and reg.loc["gdp_per_capita", "label_en"] == "GDP per capita"
    assert reg.loc["gdp_per_capita", "label_zh"] == "人均地区生产总值"
    assert reg.loc["gdp_district", "label_zh"] == "地区生产总值(市辖区)"


def test_variables_command_lists_registered_variables(built):
    db, _ = built
    out = run("variables", "--level", "province", "--db", str(db))
    assert "gdp_per_capita" in out and "元/人" in out


# ---------------------------------------------------------------- mistakes: clear error, warehouse untouched


def digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def refused(db: Path, *args: str) -> str:
    before = digest(db)
    result = CliRunner().invoke(app, [*args, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert digest(db) == before, "a refused step changed the warehouse file"
    text = " ".join(result.output.split())
    assert text.startswith("error:") and result.output.count("\n") <= 2, result.output
    return text


def one_file(folder: Path, name: str, text: str, **spec) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    mapping(p, **spec)
    return p


GDP_CSV = "地区,年份,地区生产总值(万元)\n河北,2022,423704000\n广东,2022,1291186000\n"


def test_misspelled_keys_are_errors_with_the_nearest_key(warehouse, tmp_path):
    p = one_file(tmp_path, "a.csv", GDP_CSV, table="t", level="province", year="年份", unit={"name": "地区"},
                 variables={"地区生产总值(万元)": {"name": "gdp", "units": "万元"}})
    assert "unknown key 'units' under variables.地区生产总值(万元) — did you mean 'unit'?" in refused(
        warehouse, "ingest", str(p))
    p = one_file(tmp_path, "b.csv", GDP_CSV, table="t", level="province", year="年份", skip_row=1,
                 unit={"name": "地区"}, variables={"地区生产总值(万元)": "gdp"})
    assert "unknown key 'skip_row' — did you mean 'skip_rows'?" in refused(warehouse, "ingest", str(p))
    p = one_file(tmp_path, "c.csv", GDP_CSV, table="t", level="province", year="年份",
                 unit={"name": "地区", "parnet": "省"}, variables={"地区生产总值(万元)": "gdp"})
    assert "unknown key 'parnet' under 'unit' — did you mean 'parent'?" in refused(warehouse, "ingest", str(p))


def test_full_width_brackets_match_half_width_mapping(warehouse, tmp_path):
    p = one_file(tmp_path, "fw.csv", "地区,年份,地区生产总值（亿元）\n河北,2022,42370.4\n", table="t", level="province",
                 year="年份", unit={"name": "地区"}, variables={"地区生产总值(亿元)": {"name": "gdp", "unit": "亿元"}})
    assert "1 loaded" in run("ingest", str(p), "--db", str(warehouse))


def test_a_column_the_mapping_names_must_exist(warehouse, tmp_path):
    p = one_file(tmp_path, "m.csv", GDP_CSV, table="t", level="province", year="年份", unit={"name": "地区"},
                 variables={"生产总值": {"name": "gdp", "unit": "万元"}})
    text = refused(warehouse, "ingest", str(p))
    assert "names the column for gdp '生产总值' but the file has no such header; nearest: '地区生产总值(万元)'" in text


def test_per_capita_in_yuan_can_never_become_money(warehouse, tmp_path):
    text = "地区,年份,人均地区生产总值(元/人)\n河北,2022,56995\n"
    p = one_file(tmp_path, "pc.csv", text, table="t", level="province", year="年份", unit={"name": "地区"},
                 variables={"人均地区生产总值(元/人)": {"name": "gdp_per_capita", "unit": "元"}})
    assert "the mapping says unit 元 but the file prints (元/人)" in refused(warehouse, "ingest", str(p))
    # without a printed unit, a registered money variable cannot take a per-person unit
    p = one_file(tmp_path, "pc2.csv", "地区,年份,人均GDP\n河北,2022,56995\n", table="t", level="province",
                 year="年份", unit={"name": "地区"}, variables={"人均GDP": {"name": "gdp", "unit": "元/人"}})
    assert "registered at province level in 亿元 (money_cny)" in refused(warehouse, "ingest", str(p))


def test_unknown_unit_needs_as_is(warehouse, tmp_path):
    p = one_file(tmp_path, "u.csv", "地区,年份,拖拉机\n河北,2022,12\n", table="t", level="province", year="年份",
                 unit={"name": "地区"}, variables={"拖拉机": {"name": "tractors", "unit": "台"}})
    assert "unknown unit '台'" in refused(warehouse, "ingest", str(p))
    mapping(p, table="t", level="province", year="年份", unit={"name": "地区"},
            variables={"拖拉机": {"name": "tractors", "unit": "台", "as_is": True}})
    assert "1 loaded" in run("ingest", str(p), "--db", str(warehouse))


def test_province_table_at_city_level_is_refused(warehouse, tmp_path):
    lines = ["地区,年份,地区生产总值(亿元)"] + [f"{n},2022,{v[2]}" for n, v in GDP.items()]
    p = one_file(tmp_path, "lvl.csv", "\n".join(lines), table="t", level="city", year="年份", unit={"name": "地区"},
                 variables={"地区生产总值(亿元)": "gdp"})
    text = refused(warehouse, "ingest", str(p))
    assert "level: province" in text


def test_a_variable_without_cells_is_an_error_not_zero_loaded(warehouse, tmp_path):
    p = one_file(tmp_path, "e.csv", "地区,年份,地区生产总值(亿元)\n河北,2022,\n广东,2022,…\n", table="t",
                 level="province", year="年份", unit={"name": "地区"}, variables={"地区生产总值(亿元)": "gdp"})
    assert "variable gdp" in refused(warehouse, "ingest", str(p)) and "has no value in any data row" in refused(
        warehouse, "ingest", str(p))


def test_nothing_loadable_is_an_error(warehouse, tmp_path):
    p = one_file(tmp_path, "n.csv", "地区,年份,地区生产总值(亿元)\n某某省,2022,1\n", table="t", level="province",
                 year="年份", unit={"name": "地区"}, variables={"地区生产总值(亿元)": "gdp"})
    assert "no value could be loaded (unknown_unit ×1)" in refused(warehouse, "ingest", str(p))


def test_conflicting_revision_is_rejected_then_resolved_by_prefer(warehouse, tmp_path):
    first = one_file(tmp_path, "r1.csv", "地区,年份,GDP(亿元)\n广东,2022,129118.6\n", table="t1", level="province",
                     year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"})
    run("ingest", str(first), "--db", str(warehouse))
    second = one_file(tmp_path, "r2.csv", "地区,年份,GDP(亿元)\n广东,2022,130000.0\n", table="t2", level="province",
                      year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"})
    assert "conflicts with 129118.6 already loaded" in refused(warehouse, "ingest", str(second))
    out = run("ingest", str(second), "--prefer", "new", "--db", str(warehouse))
    assert "1 loaded" in out and "1 revised" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rev = con.execute("select old_value, new_value, kind from raw.revisions").fetchall()
    assert rev == [(129118.6, 130000.0, "prefer_new")]


def test_real_file_into_the_demo_is_refused(warehouse, tmp_path):
    demo = one_file(tmp_path, "d.csv", "地区,年份,GDP(亿元)\n广东,2022,1.0\n", table="t", level="province",
                    year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"}, synthetic=True)
    run("ingest", str(demo), "--db", str(warehouse))
    real = one_file(tmp_path, "r.csv", "地区,年份,GDP(亿元)\n河北,2022,42370.4\n", table="t", level="province",
                    year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"})
    assert "geopanel init --db" in refused(warehouse, "ingest", str(real))


def raw_state(db: Path) -> dict:
    """Everything ingest wrote, without load times and the log's history."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables where "
                                            "table_schema = 'raw' and table_name not in ('ingest_log', 'boundaries')"
                                            ).fetchall()]
        out = {t: sorted(map(str, con.execute(f"select * exclude (_loaded_at) from raw.{t}").fetchall()))
               if "_loaded_at" in [c[0] for c in con.execute(f"describe raw.{t}").fetchall()]
               else sorted(map(str, con.execute(f"select * from raw.{t}").fetchall())) for t in tables}
        out["variables"] = sorted(map(str, con.execute("select level, name, unit, label_zh from meta.variables")
                                      .fetchall()))
    return out


def test_unload_then_corrected_ingest_equals_a_first_time_correct_ingest(registry_db, tmp_path):
    wrong = tmp_path / "wrong.duckdb"
    right = tmp_path / "right.duckdb"
    for db in (wrong, right):
        shutil.copyfile(registry_db, db)
    text = "地区,年份,地区生产总值\n河北,2022,423704000\n广东,2022,1291186000\n"
    p = one_file(tmp_path, "g.csv", text, table="prov_gdp", level="province", year="年份", unit={"name": "地区"},
                 variables={"地区生产总值": {"name": "gdp_wrong", "unit": "元"}})   # wrong name and unit
    run("ingest", str(p), "--db", str(wrong))
    mapping(p, table="prov_gdp", level="province", year="年份", unit={"name": "地区"},
            variables={"地区生产总值": {"name": "gdp", "unit": "万元"}})
    assert "already loaded" in refused(wrong, "ingest", str(p))          # a changed mapping needs --replace
    assert "2 values removed" in run("unload", str(p), "--db", str(wrong))
    run("ingest", str(p), "--db", str(wrong))
    run("ingest", str(p), "--db", str(right))
    assert raw_state(wrong) == raw_state(right)
    # --replace does the same in one step
    again = tmp_path / "again.duckdb"
    shutil.copyfile(registry_db, again)
    mapping(p, table="prov_gdp", level="province", year="年份", unit={"name": "地区"},
            variables={"地区生产总值": {"name": "gdp_wrong", "unit": "元"}})
    run("ingest", str(p), "--db", str(again))
    mapping(p, table="prov_gdp", level="province", year="年份", unit={"name": "地区"},
            variables={"地区生产总值": {"name": "gdp", "unit": "万元"}})
    assert "replaced the previous load" in run("ingest", str(p), "--replace", "--db", str(again))
    assert raw_state(again) == raw_state(right)


def test_dry_run_shows_conversions_and_writes_nothing(warehouse, tmp_path):
    p = one_file(tmp_path, "dry.csv", GDP_CSV + "某某省,2022,1\n", table="t", level="province", year="年份",
                 unit={"name": "地区"}, variables={"地区生产总值(万元)": "gdp"})
    before = digest(warehouse)
    out = " ".join(run("ingest", str(p), "--dry-run", "--db", str(warehouse)).split())
    assert digest(warehouse) == before
    assert "2 would load" in out and "gdp: 万元 → 亿元 (× 0.0001)" in out and "unknown_unit ×1" in out
    assert "42370.4" in out


def test_rejects_can_be_acknowledged(warehouse, tmp_path):
    p = one_file(tmp_path, "ack.csv", GDP_CSV + "某某省,2022,1\n", table="t", level="province", year="年份",
                 unit={"name": "地区"}, variables={"地区生产总值(万元)": "gdp"})
    run("ingest", str(p), "--db", str(warehouse))
    listed = run("rejects", "--db", str(warehouse))
    assert "unknown_unit" in listed and "False" in listed
    failing = CliRunner().invoke(app, ["check", "--select", "raw.rejects", "--db", str(warehouse),
                                       "--out", str(tmp_path / "reports")])
    assert failing.exit_code == 1 and "某某省" in failing.output
    out = run("rejects", "--ack", "unknown_unit", "--note", "not a province", "--db", str(warehouse))
    assert "acknowledged 1" in out and "True" in out
    passing = run("check", "--select", "raw.rejects", "--db", str(warehouse), "--out", str(tmp_path / "reports"))
    assert "no error-level failure" in passing


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "no header after skipping 0 title rows"),
    ("header_only.csv", "地区,年份,GDP(亿元)\n".encode(), "no rows under the header"),
    ("binary.csv", bytes(range(256)) * 4, "cannot decode as UTF-8, GBK or GB18030"),
    ("ragged.csv", "地区,年份,GDP(亿元)\n河北,2022,=SUM(A1:A9),x,y\n广东\n".encode(), "no value could be loaded"),
])
def test_broken_files_are_one_line_errors_and_change_nothing(warehouse, tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    mapping(p, table="t", level="province", year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"})
    assert message in refused(warehouse, "ingest", str(p))


def test_labels_are_printed_as_text_not_markup(warehouse, tmp_path):
    p = one_file(tmp_path, "mk.csv", "地区,年份,GDP(亿元)\n河北,2022,1\n[/x]省[bold],2022,2\n", table="t",
                 level="province", year="年份", unit={"name": "地区"}, variables={"GDP(亿元)": "gdp"})
    out = run("ingest", str(p), "--db", str(warehouse))
    assert "[/x]省[bold]" in out and "1 rejected" in out
    assert "[/x]省[bold]" in run("rejects", "--db", str(warehouse))


def test_ingest_into_a_missing_warehouse_leaves_no_file(tmp_path):
    p = one_file(tmp_path, "g.csv", GDP_CSV, table="t", level="province", year="年份", unit={"name": "地区"},
                 variables={"地区生产总值(万元)": "gdp"})
    missing = tmp_path / "typo.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(p), "--db", str(missing)])
    assert result.exit_code == 1 and "geopanel init --db" in result.output
    assert not missing.exists()
