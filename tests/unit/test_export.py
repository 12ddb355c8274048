"""Exports people open (CSV for Chinese Excel, .xlsx, Stata .dta with labels, Parquet) re-read to the same values,
and `geopanel sql` printing full precision with NaN and NULL told apart."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyreadstat
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from geopanel.cli import _fmt, app
from warehouse.errors import DataError
from warehouse.export import stata_name, write_frame
from warehouse.panel_data import read_panel

LABELS = {"gdp": "地区生产总值（亿元）", "name_zh": "城市名称"}


@pytest.fixture
def frame():
    return pd.DataFrame({"city_code": ["430100", "0731"], "name_zh": ["长沙", "湘潭"], "year": [2020, 2021],
                         "gdp": [12142.52, np.nan], "share": [0.1 + 0.2, 1 / 3]})


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".dta", ".parquet"])
def test_written_files_read_back_to_the_same_values(frame, tmp_path, suffix):
    path = write_frame(frame, tmp_path / f"out{suffix}", labels=LABELS)
    back = read_panel(path, unit="city_code").frame
    assert back["city_code"].tolist() == ["430100", "0731"]
    assert back["name_zh"].tolist() == ["长沙", "湘潭"] and back["year"].tolist() == [2020, 2021]
    assert back["gdp"].iloc[0] == 12142.52 and np.isnan(back["gdp"].iloc[1])
    # full precision: 0.1 + 0.2 is 0.30000000000000004, not 0.3 (Excel keeps 16 significant digits)
    rtol = 1e-15 if suffix == ".xlsx" else 0
    np.testing.assert_allclose(back["share"].to_numpy(float), frame["share"].to_numpy(float), rtol=rtol, atol=0)


def test_csv_has_a_bom_so_excel_reads_chinese(frame, tmp_path):
    raw = write_frame(frame, tmp_path / "out.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "长沙".encode() in raw
    assert not write_frame(frame, tmp_path / "plain.csv", bom=False).read_bytes().startswith(b"\xef\xbb\xbf")


def test_stata_file_carries_the_chinese_labels(frame, tmp_path):
    path = write_frame(frame, tmp_path / "out.dta", labels=LABELS)
    data, meta = pyreadstat.read_dta(str(path))
    assert dict(zip(meta.column_names, meta.column_labels, strict=True))["gdp"] == "地区生产总值（亿元）"
    assert data["name_zh"].tolist() == ["长沙", "湘潭"]


def test_excel_file_has_a_labels_sheet(frame, tmp_path):
    wb = load_workbook(write_frame(frame, tmp_path / "out.xlsx", labels=LABELS), read_only=True)
    assert wb.sheetnames == ["data", "labels"]
    assert [tuple(r) for r in wb["labels"].iter_rows(values_only=True)] == [
        ("variable", "label"), ("name_zh", "城市名称"), ("gdp", "地区生产总值（亿元）")]


def test_invalid_stata_names_and_unknown_formats_are_refused(frame, tmp_path):
    with pytest.raises(DataError, match=r"not valid Stata names .*'地区生产总值' → 'v4'.*'a very long"):
        write_frame(frame.rename(columns={"gdp": "地区生产总值", "share": "a very long name " * 3}), tmp_path / "x.dta")
    assert stata_name("GDP growth (%)") == "GDP_growth" and stata_name("2011年") == "v1_2011"
    assert len(stata_name("x" * 40)) == 32
    with pytest.raises(DataError, match=r"x\.json: cannot write \.json; use \.csv, \.xlsx, \.dta, \.parquet"):
        write_frame(frame, tmp_path / "x.json")


def test_fmt_full_precision():
    assert _fmt(15616.06) == "15616.06" and _fmt(0.1 + 0.2) == "0.30000000000000004"
    assert _fmt(1.2345678901234567e12) == "1234567890123.4568" and _fmt(1e16) == "10000000000000000"
    assert _fmt(1e-7) == "1e-07" and _fmt(np.float64(2.5)) == "2.5"
    assert _fmt(float("nan")) == "NaN" and _fmt(None) == "" and _fmt(pd.NA) == "" and _fmt(3) == "3"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select * from (values ('0731', 15616.06::double, 'nan'::double, null::double, "
                "'长沙')) v(city_code, gdp, a_nan, a_null, name_zh)")
    con.execute("create schema meta")
    con.execute("create table meta.variables (name varchar, level varchar, label_zh varchar)")
    con.execute("insert into meta.variables values ('gdp', 'city', '地区生产总值'), "
                "('gdp', 'province', '地区生产总值')")
    con.close()
    return path


def test_sql_prints_full_precision_and_tells_nan_from_null(db):
    out = CliRunner().invoke(app, ["sql", "select * from t", "--db", str(db)])
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "0731" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells == ["0731", "15616.06", "NaN", "", "长沙"]


def test_sql_out_writes_labelled_stata_and_bom_csv(db, tmp_path):
    dta = tmp_path / "t.dta"
    out = CliRunner().invoke(app, ["sql", "select city_code, gdp, name_zh from t", "--db", str(db), "--out", str(dta)])
    assert out.exit_code == 0, out.output
    data, meta = pyreadstat.read_dta(str(dta))
    assert meta.column_labels[1] == "地区生产总值" and data["city_code"].tolist() == ["0731"]
    csv = tmp_path / "t.csv"
    assert CliRunner().invoke(app, ["sql", "select * from t", "--db", str(db), "--out", str(csv)]).exit_code == 0
    assert csv.read_bytes().startswith("\ufeffcity_code,gdp".encode())
    bad = CliRunner().invoke(app, ["sql", "select * from t", "--db", str(db), "--out", str(tmp_path / "t.json")])
    assert bad.exit_code == 1 and "use .csv, .xlsx, .dta, .parquet" in bad.output


def test_parquet_keeps_geometry_bytes_other_formats_note_their_size(tmp_path):
    frame = pd.DataFrame({"code": ["01"], "geometry": [b"\x01\x02\x03"]})
    assert pd.read_parquet(write_frame(frame, tmp_path / "g.parquet"))["geometry"].tolist() == [b"\x01\x02\x03"]
    assert "<3 bytes>" in write_frame(frame, tmp_path / "g.csv").read_text(encoding="utf-8-sig")
