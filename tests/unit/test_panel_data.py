"""The data contract: every source read the same way, ids as text, W ids matched exactly or refused clearly.

Real public data: the libpysal wheel's us_income example (usjoin.csv: per-capita income of the 48 lower
states by year 1929–2009, wide by year, STATE_FIPS as integers; us48.shp: the same states with STATE_FIPS as
two-digit text, "01" for Alabama).
"""

from __future__ import annotations

import duckdb
import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal.examples import get_path

from warehouse.errors import DataError
from warehouse.panel_data import PanelData, as_text, check_w_ids, padding_hint, read_panel


@pytest.fixture(scope="module")
def us48():
    """(queen W over the 48 states with text FIPS ids as in the shapefile, the wide income table as shipped)."""
    shp = gpd.read_file(get_path("us48.shp"))
    w = libpysal.weights.Queen.from_dataframe(shp, ids=shp["STATE_FIPS"].tolist(), use_index=False)
    return w, pd.read_csv(get_path("usjoin.csv"))


@pytest.fixture
def padded_csv(us48, tmp_path):
    """usjoin.csv with the FIPS codes written as the shapefile writes them ("01")."""
    _, wide = us48
    path = tmp_path / "usjoin_padded.csv"
    wide.assign(STATE_FIPS=wide["STATE_FIPS"].map(lambda v: f"{v:02d}")).to_csv(path, index=False)
    return path


def test_zero_padded_codes_stay_text_and_match_the_shapefile_ids_exactly(us48, padded_csv):
    w, _ = us48
    panel = read_panel(padded_csv, unit="STATE_FIPS", w_ids=w.id_order, value_name="income")
    assert panel.unit == "STATE_FIPS" and panel.time == "year"
    assert "wide by year 1929–2009 melted to long" in panel.source
    assert set(panel.units) == set(w.id_order) and "01" in panel.units and len(panel.units) == 48
    y = panel.frame[panel.frame["year"] == 2009].set_index("STATE_FIPS").loc[w.id_order, "income"].to_numpy(float)
    w.transform = "r"
    # esda 2.9 on the same values in the W's order: all 48 states take part
    moran_i = esda.Moran(y, w, permutations=0).I
    assert moran_i == pytest.approx(0.4287689505041785, abs=1e-12)


def test_integer_codes_are_refused_with_the_padding_named(us48, tmp_path):
    w, wide = us48
    # read as a plain CSV reader would, "01" has become 1: only 42 of the 48 states would match
    assert len(set(wide["STATE_FIPS"].astype(str)) & set(w.id_order)) == 42
    path = tmp_path / "usjoin.csv"
    wide.to_csv(path, index=False)
    for mode in ("subset", "drop"):
        with pytest.raises(DataError, match=r"6 ids differ only by zero padding \(data '1' vs W '01'\).*"
                                            r"pad it to 2 digits .*zfill\(2\)"):
            read_panel(path, unit="STATE_FIPS", w_ids=w.id_order, w_match=mode)


def test_partial_matches_list_both_sides_and_drop_is_explicit():
    frame = pd.DataFrame({"code": ["a", "b", "c", "x"], "year": 2020, "v": [1.0, 2, 3, 4]})
    with pytest.raises(DataError, match=r"1 of 4 units of DataFrame are not in W \(x\); 1 of W's 4 units have no "
                                        r"data \(d\).*--drop-unmatched"):
        read_panel(frame, unit="code", w_ids=["a", "b", "c", "d"])
    dropped = read_panel(frame, unit="code", w_ids=["a", "b", "c", "d"], w_match="drop")
    assert dropped.dropped == ["x"] and len(dropped.frame) == 3 and "1 units not in W left out" in dropped.source
    assert read_panel(frame.iloc[:3], unit="code", w_ids=["a", "b", "c", "d"]).units == ["a", "b", "c"]
    with pytest.raises(DataError, match=r"1 of the 4 units of W have no data .*\(d\)"):
        read_panel(frame.iloc[:3], unit="code", w_ids=["a", "b", "c", "d"], w_match="exact")


def test_text_and_integer_mixes():
    assert as_text(pd.Series([1, 2.0, "01", " 3 ", None, np.nan, "4.0", 110000.0])).tolist() == [
        "1", "2", "01", "3", None, None, "4", "110000"]
    ints = pd.DataFrame({"unit": [1, 2, 3], "year": [2020] * 3, "v": [1.0, 2.0, 3.0]})
    assert read_panel(ints, unit="unit", w_ids=["1", "2", "3"]).frame["unit"].tolist() == ["1", "2", "3"]
    with pytest.raises(DataError, match="zero padding"):
        read_panel(ints, unit="unit", w_ids=["01", "02", "03"])
    assert padding_hint(["01"], ["1"]).startswith("1 ids differ only by zero padding (data '01' vs W '1')")
    assert padding_hint(["a"], ["b"]) is None
    assert check_w_ids(["1", "2"], ["1", "2", "3"]) == []


def test_wide_by_year_with_chinese_year_headers_in_gbk(tmp_path):
    path = tmp_path / "gdp.csv"
    path.write_bytes("地区代码,地区,2011年,2012年\n110000,北京,16251.9,17879.4\n120000,天津,11307.3,12893.9\n"
                     .encode("gbk"))
    panel = read_panel(path, value_name="gdp")
    assert panel.unit == "地区代码" and panel.time == "year"
    assert panel.source == "gdp.csv (gbk) (wide by year 2011–2012 melted to long (year))"
    got = panel.frame.sort_values(["地区代码", "year"])
    assert got["year"].tolist() == [2011, 2012, 2011, 2012] and got["地区"].tolist()[0] == "北京"
    assert got["gdp"].tolist() == [16251.9, 17879.4, 11307.3, 12893.9]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    path = tmp_path / "p.csv"
    path.write_bytes("city_code,name_zh,year,gdp\n0731,长沙,2020,12142.52\n".encode(encoding))
    panel = read_panel(path)
    assert panel.unit == "city_code" and panel.frame.loc[0, "city_code"] == "0731"
    assert panel.frame.loc[0, "name_zh"] == "长沙" and panel.frame.loc[0, "gdp"] == 12142.52


def test_excel_stata_parquet_keep_text_ids(tmp_path):
    frame = pd.DataFrame({"code": ["01", "02", "10"], "year": [2020, 2020, 2020], "v": [1.5, 2.5, 3.5]})
    frame.to_excel(tmp_path / "p.xlsx", index=False)
    frame.to_stata(tmp_path / "p.dta", write_index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    for name in ("p.xlsx", "p.dta", "p.parquet"):
        panel = read_panel(tmp_path / name, unit="code")
        assert panel.frame["code"].tolist() == ["01", "02", "10"], name
        assert panel.frame["v"].tolist() == [1.5, 2.5, 3.5] and panel.frame["year"].tolist() == [2020] * 3


def test_warehouse_table_query_and_where():
    con = duckdb.connect()
    con.execute("create table fct_city_year as select * from (values ('430000', '430100', 2020, 1.0), "
                "('430000', '430200', 2020, 2.0), ('430000', '430100', 2021, 3.0)) "
                "v(province_code, city_code, year, x)")
    table = read_panel("fct_city_year", con=con)
    assert (table.unit, table.time, table.from_warehouse, table.source) == ("city_code", "year", True, "fct_city_year")
    query = read_panel("select city_code, year, x * 2 as x2 from fct_city_year", con=con, where="year = 2020")
    assert query.source.startswith("query: select city_code") and query.frame["x2"].tolist() == [2.0, 4.0]
    assert table.tables == ["fct_city_year"] and query.tables == ["fct_city_year"]
    joined = read_panel("select f.* from main.fct_city_year as f join fct_city_year g using (city_code, year)",
                        con=con)
    assert joined.tables == ["fct_city_year", "main.fct_city_year"]  # aliases dropped: names the gate can check
    assert read_panel(table, where="x > 1").frame["x"].tolist() == [2.0, 3.0]
    # a condition with a subquery on a warehouse table: in SQL for tables, on the connection for frames and files
    balanced = "city_code in (select city_code from fct_city_year group by city_code having count(*) = 2)"
    assert read_panel("fct_city_year", con=con, where=balanced).frame["x"].tolist() == [1.0, 3.0]
    assert read_panel(table.frame, con=con, where=balanced).frame["city_code"].tolist() == ["430100", "430100"]
    with pytest.raises(DataError, match="no such table or view in the warehouse; panels and indicator layers: "
                                        "fct_city_year"):
        read_panel("fct_nowhere", con=con)
    with pytest.raises(DataError, match="needs a connection"):
        read_panel("fct_city_year")


def test_clear_errors(tmp_path):
    with pytest.raises(DataError, match=r"nowhere\.csv: data file not found"):
        read_panel(tmp_path / "nowhere.csv")
    frame = pd.DataFrame({"a": [1], "b": [2]})
    with pytest.raises(DataError, match=r"DataFrame: no unit column 'code' \(columns: a, b\); name it with --unit"):
        read_panel(frame, unit="code")
    with pytest.raises(DataError, match="cannot tell which column holds the unit ids"):
        read_panel(frame)
    assert isinstance(read_panel(frame, require_unit=False), PanelData)
    with pytest.raises(DataError, match="no time column 'yr'"):
        read_panel(frame.assign(code="1"), time="yr")


def test_firm_entity_ids_stay_text_and_where_sees_every_column(tmp_path):
    """Stock codes are six digits with leading zeros (000001 is Ping An Bank): they must survive as text."""
    path = tmp_path / "firms.csv"
    path.write_text("stkcd,city_code,year,industry,sales\n000001,440300,2020,J,1.5\n600000,310000,2020,J,2.5\n"
                    "000002,440300,2020,K,3.5\n", encoding="utf-8")
    panel = read_panel(path, unit="city_code", entity="stkcd", columns=["sales"], where="industry = 'J'")
    assert panel.entity == "stkcd" and list(panel.frame.columns) == ["city_code", "stkcd", "year", "sales"]
    assert panel.frame["stkcd"].tolist() == ["000001", "600000"] and panel.frame["city_code"].tolist() == [
        "440300", "310000"]
    with pytest.raises(DataError, match="no entity column 'firm'"):
        read_panel(path, unit="city_code", entity="firm")
