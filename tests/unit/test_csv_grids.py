"""The CSV reader that ingest uses (DuckDB's read_csv into a temporary table) gives exactly the cells and row
numbers Python's csv module gives — on the awkward files yearbooks and exports produce — or hands the file to
csv itself; never different cells."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.readers import _csv_by_duckdb, load_grids, read_grids

CASES = {
    "plain": "地区,年份,GDP\n合肥市,2010,1.5\n芜湖市,2010,2\n",
    "no_final_newline": "地区,年份,GDP\n合肥市,2010,1.5",
    "crlf": "地区,2009,2010\r\n合肥市,1,2\r\n芜湖市,3,4\r\n",
    "titles_narrower": "表 2-1 各市地区生产总值\n单位：万元\n地区,2009,2010\n合肥市,1,2\n注：本表按当年价格计算。\n",
    "blank_lines": "地区,GDP\n\n合肥市,1\n\n\n芜湖市,2\n",
    "crlf_blank": "地区,GDP\r\n\r\n合肥市,1\r\n",
    "leading_blank": "\n地区,GDP\n合肥市,1\n",
    "quoted_thousands": '地区,GDP\n合肥市,"1,234.5"\n芜湖市,"2,000"\n',
    "quoted_newline": '地区,GDP\n"合肥\n市",1\n芜湖市,2\n',
    "doubled_quotes": '地区,GDP\n"合肥""市",1\n',
    "stray_quote": '地区,GDP\n合"肥市,1\n"芜湖"市,2\n',
    "wider_row_late": "地区,GDP\n" + "合肥市,1\n" * 1500 + "芜湖市,2,3,4\n",
    "ragged": "地区,年份,GDP(亿元)\n河北,2022,=SUM(A1:A9),x,y\n广东\n",
    "padding": "地区,GDP\n  合肥市 ,\u30001\u3000\n\u3000\u3000,2\n   ,   \n",
    "lone_cr": "地区,GDP\r合肥市,1\r",
    "mixed_newlines": "地区,GDP\r\n合肥市,1\n芜湖市,2\r\n",
    "trailing_commas": "地区,GDP,,\n合肥市,1,,\n",
    "one_column": "地区\n合肥市\n芜湖市\n",
    "empty": "",
}


def grid_rows(con: duckdb.DuckDBPyConnection, name: str, width: int) -> list[list[str]]:
    return [list(r) for r in con.execute(f"select * from {name} order by rowid").fetchall()]


def csv_rows(path: Path) -> list[list[str]]:
    rows = read_grids(path)[0][0][1]
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_duckdb_grid_equals_csv_module(tmp_path: Path, name: str, encoding: str) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(CASES[name].encode(encoding))
    con = duckdb.connect()
    [(sheet, grid)], used = load_grids(con, path, "auto", "g")
    expected = csv_rows(path)
    got = grid_rows(con, grid.name, grid.width)
    assert grid.rows == len(expected)
    # the grid may be wider by empty columns only; cells equal, row for row (row numbers are rowid + 1)
    assert [r[:len(expected[0])] if expected else r for r in got] == expected
    assert all(c == "" for r in got for c in r[len(expected[0]) if expected else 0:])


def test_the_fast_path_is_taken_for_ordinary_files_and_not_for_blank_lines(tmp_path: Path) -> None:
    con = duckdb.connect()
    for name, fast in (("plain", True), ("crlf", True), ("quoted_thousands", True), ("titles_narrower", True),
                       ("blank_lines", False), ("stray_quote", False), ("lone_cr", False),
                       ("wider_row_late", False)):
        data = CASES[name].encode("utf-8")
        path = tmp_path / f"{name}.csv"
        path.write_bytes(data)
        grid = _csv_by_duckdb(con, path, data, data.decode("utf-8"), "utf-8", f"t_{name}")
        assert (grid is not None) == fast, name


def test_a_cell_beyond_the_csv_field_limit_is_a_one_line_error(tmp_path: Path) -> None:
    from warehouse.errors import IngestError

    path = tmp_path / "huge.csv"  # a blank line sends it to csv, whose field limit is 131,072 characters
    path.write_text("地区,GDP\n\n合肥市,\"" + "9" * 200_000 + "\"\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"huge.csv: cannot read as CSV \(field larger than field limit"):
        load_grids(duckdb.connect(), path, "auto", "g")
