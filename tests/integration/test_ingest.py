"""Ingest: every shape and encoding, the crosswalk, rejects, idempotence and bad input."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection
from warehouse.ingest import IngestError, detect_encoding, ingest_file, load_mapping

# 襄樊 was renamed 襄阳 in 2010; 巢湖 (prefecture) was abolished in 2011; 某某市 does not exist.
ROWS = [("合肥市", 1.0), ("襄樊市", 2.0), ("巢湖市", 3.0), ("某某市", 4.0)]


def write_mapping(path: Path, **spec) -> Path:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def wide_gbk_csv(tmp_path: Path) -> tuple[Path, Path]:
    """A yearbook-style wide table: two title rows, years as columns, GBK-encoded, values in 万元."""
    lines = ["表 2-1 各市地区生产总值", "单位：万元", "地区,2009,2010"]
    lines += [f"{name},{v * 10000:.0f},{v * 10000 + 5000:.0f}" for name, v in ROWS]
    data = tmp_path / "gdp_wide_gbk.csv"
    data.write_bytes("\r\n".join(lines).encode("gbk"))
    mapping = write_mapping(tmp_path / "gdp_wide_gbk.yml", table="city_gdp", level="city", shape="wide",
                            skip_rows=2, unit={"name": "地区"}, variable={"name": "gdp", "unit": "万元"})
    return data, mapping


def sheets_xlsx(tmp_path: Path) -> tuple[Path, Path]:
    """One sheet per year, with a title row, as yearbooks are distributed."""
    data = tmp_path / "gdp_sheets.xlsx"
    with pd.ExcelWriter(data, engine="openpyxl") as xl:
        for year in (2009, 2010):
            values = [v + year - 2009 for _, v in ROWS]
            frame = pd.DataFrame({"地区": [n for n, _ in ROWS], "地区生产总值(亿元)": values})
            pd.DataFrame([[f"{year}年 主要指标"]]).to_excel(xl, sheet_name=f"{year}年", header=False, index=False)
            frame.to_excel(xl, sheet_name=f"{year}年", startrow=1, index=False)
    mapping = write_mapping(tmp_path / "gdp_sheets.yml", table="city_gdp", level="city", shape="sheets",
                            sheet=r"^(\d{4})年$", skip_rows=1, unit={"name": "地区"},
                            variables={"地区生产总值(亿元)": {"name": "gdp", "unit": "亿元"}})
    return data, mapping


def long_bom_csv(tmp_path: Path, body: str | None = None) -> tuple[Path, Path]:
    body = body or "城市,年份,年末人口(人),失业率(%)\n合肥市,2010,5700000,3.5\n芜湖市,2010,2300000,4\n"
    data = tmp_path / "pop_long_bom.csv"
    data.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    mapping = write_mapping(tmp_path / "pop_long_bom.yml", table="city_pop", level="city", shape="long",
                            unit={"name": "城市"}, year="年份",
                            variables={"年末人口(人)": {"name": "pop", "unit": "人"},
                                       "失业率(%)": {"name": "unemployment_rate", "unit": "%"}})
    return data, mapping


def snapshot(db: Path) -> dict[str, int]:
    with connection(db, read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()]
        return {n: con.execute(f"select count(*) from raw.{n}").fetchone()[0] for n in sorted(names)}


def load(db: Path, data: Path, mapping: Path, **kw):
    with connection(db) as con:
        return ingest_file(con, data, load_mapping(mapping), **kw)


@pytest.mark.parametrize("make_file", [wide_gbk_csv, sheets_xlsx], ids=["wide-gbk-csv", "sheets-xlsx"])
def test_old_and_abolished_names_resolve_and_unknown_is_rejected(warehouse, tmp_path, make_file):
    data, mapping = make_file(tmp_path)
    result = load(warehouse, data, mapping)
    with connection(warehouse, read_only=True) as con:
        loaded = dict(con.execute(
            "select unit_label || ' ' || year, unit_code from raw.city_gdp").fetchall())
        rejects = con.execute("select unit_label, year, reason from raw.rejects order by year").fetchall()
        gdp_2009 = con.execute(
            "select value from raw.city_gdp where unit_code = '340100' and year = 2009").fetchone()[0]
    assert loaded["襄樊市 2009"] == "420600"    # renamed 襄阳 in 2010: same unit
    assert loaded["襄樊市 2010"] == "420600"    # the year of the change accepts either name
    assert loaded["巢湖市 2010"] == "341400"    # last year of the abolished prefecture, kept under its own code
    assert loaded["合肥市 2010"] == "340100"
    assert gdp_2009 == pytest.approx(1.0)         # 万元 and 亿元 files both land in 亿元
    assert [(r[0], r[1]) for r in rejects] == [("某某市", 2009), ("某某市", 2010)]
    assert all("unknown city '某某市'" in r[2] for r in rejects)
    assert result.rows_loaded == 6 and result.rows_rejected == 2


@pytest.mark.parametrize("make_file", [wide_gbk_csv, sheets_xlsx, long_bom_csv])
def test_loading_the_same_file_twice_changes_nothing(warehouse, tmp_path, make_file):
    data, mapping = make_file(tmp_path)
    load(warehouse, data, mapping)
    before = snapshot(warehouse)
    again = load(warehouse, data, mapping)
    assert again.status == "unchanged"
    assert snapshot(warehouse) == before


def test_same_values_from_another_file_are_skipped_not_doubled(warehouse, tmp_path):
    wide, wide_map = wide_gbk_csv(tmp_path)
    load(warehouse, wide, wide_map)
    copy = tmp_path / "copy.csv"
    copy.write_bytes(wide.read_bytes() + "\r\n".encode("gbk"))  # different bytes, same content
    result = load(warehouse, copy, wide_map)
    assert result.rows_loaded == 0 and result.rows_duplicate == 6


def test_encodings_are_detected():
    text = "地区,2010\n襄阳市,1\n"
    assert detect_encoding(text.encode("gbk")) == "gbk"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding("𠮷".encode("gb18030")) == "gb18030"  # outside GBK


def test_long_bom_csv_converts_people_and_percent(warehouse, tmp_path):
    data, mapping = long_bom_csv(tmp_path)
    load(warehouse, data, mapping)
    with connection(warehouse, read_only=True) as con:
        rows = dict(con.execute("select variable || ' ' || unit_code, value from raw.city_pop").fetchall())
        units = dict(con.execute("select variable, any_value(unit) from raw.city_pop group by 1").fetchall())
        enc = con.execute("select encoding from raw.ingest_log").fetchone()[0]
    assert rows["pop 340100"] == pytest.approx(570.0)           # 人 -> 万人
    assert rows["unemployment_rate 340200"] == pytest.approx(0.04)  # % -> fraction
    assert units == {"pop": "万人", "unemployment_rate": "fraction"}
    assert enc == "utf-8-sig"


def test_non_numbers_and_conflicting_duplicates_go_to_rejects(warehouse, tmp_path):
    body = ("城市,年份,年末人口(人),失业率(%)\n合肥市,2010,abc,-\n芜湖市,2010,2300000,4\n"
            "芜湖市,2010,2400000,4\n马鞍山市,1800,100,1\n")
    data, mapping = long_bom_csv(tmp_path, body)
    result = load(warehouse, data, mapping)
    with connection(warehouse, read_only=True) as con:
        reasons = [r[0] for r in con.execute("select reason from raw.rejects order by _row, variable").fetchall()]
        kept = con.execute("select variable, value from raw.city_pop order by 1").fetchall()
    assert reasons[0] == "not a number: abc"
    assert sum(r.startswith("conflicting duplicate: 340200 2010 pop") for r in reasons) == 2
    assert sum("year 1800 is not a year" in r for r in reasons) == 2
    assert kept == [("unemployment_rate", pytest.approx(0.04))]  # equal duplicates load once
    assert result.cells_empty == 1                                 # '-' is a yearbook gap, not an error


def test_a_value_that_conflicts_with_an_earlier_file_is_rejected(warehouse, tmp_path):
    data, mapping = sheets_xlsx(tmp_path)
    load(warehouse, data, mapping)
    wide, wide_map = wide_gbk_csv(tmp_path)  # 2010 values differ from the workbook's
    result = load(warehouse, wide, wide_map)
    with connection(warehouse, read_only=True) as con:
        reason = con.execute(
            "select reason from raw.rejects where unit_label = '合肥市' and year = 2010").fetchone()[0]
    assert "conflicts with 2.0 already loaded for 340100 2010 gdp from" in reason
    assert "gdp_sheets.xlsx row 3" in reason
    assert result.rows_duplicate == 3  # the 2009 values agree


def test_county_names_need_a_parent_when_repeated(warehouse, tmp_path):
    data = tmp_path / "county.csv"
    data.write_text("县区,所属市,年份,GDP\n鼓楼区,南京市,2015,1\n鼓楼区,,2015,2\n", encoding="utf-8")
    mapping = write_mapping(tmp_path / "county.yml", table="county_gdp", level="county", shape="long",
                            unit={"name": "县区", "parent": "所属市"}, year="年份",
                            variables={"GDP": {"name": "gdp", "unit": "亿元"}})
    load(warehouse, data, mapping)
    with connection(warehouse, read_only=True) as con:
        code = con.execute("select unit_code from raw.county_gdp").fetchone()[0]
        reason = con.execute("select reason from raw.rejects").fetchone()[0]
    assert code == "320106"  # 鼓楼区 of 南京
    assert reason.startswith("ambiguous county '鼓楼区' in 2015: matches ") and "add a unit.parent column" in reason


def test_failed_load_leaves_the_warehouse_as_it_was(warehouse, tmp_path):
    data, mapping = wide_gbk_csv(tmp_path)
    with connection(warehouse) as con:  # a rejects table that cannot take the rows: the 2nd insert fails
        con.execute("drop table raw.rejects")
        con.execute("create table raw.rejects (table_name varchar)")
    before = snapshot(warehouse)
    with pytest.raises(duckdb.Error):
        load(warehouse, data, mapping)
    assert snapshot(warehouse) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"variable": {"name": "gdp", "unit": "万元"}, "unit": {"name": "城市名"}},
         r"gdp_wide_gbk.csv: the mapping .*gdp_wide_gbk.yml names the unit column '城市名' but the file has no such "
         r"header; nearest: '地区'"),
        ({"level": "town"}, r"gdp_wide_gbk.yml: level 'town' is not one of province, city, county"),
        ({"table": None}, r"gdp_wide_gbk.yml: missing 'table'"),
    ],
)
def test_bad_mappings_name_the_file_and_what_to_do(warehouse, tmp_path, change, message):
    data, mapping = wide_gbk_csv(tmp_path)
    spec = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    spec.update(change)
    write_mapping(mapping, **{k: v for k, v in spec.items() if v is not None})
    before = snapshot(warehouse)
    with pytest.raises(IngestError, match=message):
        load(warehouse, data, mapping)
    assert snapshot(warehouse) == before


def test_cli_bad_input_gives_one_line_errors_and_exit_1(warehouse, tmp_path):
    runner = CliRunner()
    data, mapping = sheets_xlsx(tmp_path)
    cases = [
        (["ingest", str(tmp_path / "missing.csv")], "missing.csv: file not found"),
        (["ingest", str(data), "--mapping", str(tmp_path / "none.yml")], "none.yml: mapping file not found"),
        (["ingest", str(data), "--mapping", str(mapping), "--years", "2030-2031"],
         "no rows in years 2030–2031 (the file has 2009–2010)"),
    ]
    spec = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    wrong_sheet = write_mapping(tmp_path / "wrong_sheet.yml",
                                **{**spec, "shape": "long", "sheet": "GDP", "year": "年份"})
    cases.append((["ingest", str(data), "--mapping", str(wrong_sheet)], "no sheet 'GDP'; sheets are: 2009年, 2010年"))
    before = snapshot(warehouse)
    for args, message in cases:
        result = runner.invoke(app, [*args, "--db", str(warehouse)])
        assert result.exit_code == 1, result.output
        assert message in " ".join(result.output.split()), result.output
    assert snapshot(warehouse) == before
    ok = runner.invoke(app, ["ingest", str(data), "--mapping", str(mapping), "--db", str(warehouse)])
    assert ok.exit_code == 0 and "6 loaded" in ok.output and "2 rejected" in ok.output
