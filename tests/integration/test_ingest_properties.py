"""Property: every value cell of a yearbook table ends as exactly one of loaded value, empty cell, cell of
an excluded total/footnote row, duplicate, or reject with a reason — nothing lost, nothing invented — for
random layouts (title rows, units rows), labels (real provinces padded with full-width spaces and footnote
marks, totals, unknown names, blank rows, footnotes) and numbers (plain, thousands separators, full-width
digits, yearbook gap marks, text)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warehouse.errors import IngestError
from warehouse.ingest import plan_ingest
from warehouse.mapping import load_mapping

PROVINCES = ["北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "上海市", "江苏省", "浙江省",
             "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省"]
TOTALS = ["全国", "合计", "东部地区"]
FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


@st.composite
def cell(draw) -> tuple[str, float | None, str]:
    """(text as printed, the number it means or None, kind: number | empty | junk)."""
    kind = draw(st.sampled_from(["number", "number", "number", "empty", "junk"]))
    if kind == "empty":
        return draw(st.sampled_from(["", "-", "…", "—"])), None, "empty"
    if kind == "junk":
        return draw(st.sampled_from(["abc", "n.a", "1.2.3", "约5"])), None, "junk"
    value = round(draw(st.floats(min_value=0, max_value=2e6, allow_nan=False)), 2)
    style = draw(st.sampled_from(["plain", "thousands", "fullwidth"]))
    text = {"plain": f"{value}", "thousands": f"{value:,.2f}", "fullwidth": f"{value}".translate(FULLWIDTH)}[style]
    return text, value, "number"


@st.composite
def table(draw):
    provinces = draw(st.lists(st.sampled_from(PROVINCES), min_size=1, max_size=8, unique=True))
    rows = []
    for name in provinces:
        label = name if draw(st.booleans()) else "　".join(name) + draw(st.sampled_from(["", "①", "*"]))
        rows.append(("data", label, [draw(cell()) for _ in range(2)]))
    for _ in range(draw(st.integers(0, 2))):
        rows.insert(draw(st.integers(0, len(rows))), ("total", draw(st.sampled_from(TOTALS)),
                                                      [draw(cell()) for _ in range(2)]))
    for _ in range(draw(st.integers(0, 2))):
        rows.insert(draw(st.integers(0, len(rows))), ("unknown", draw(st.sampled_from(["某某省", "火星"])),
                                                      [draw(cell()) for _ in range(2)]))
    if draw(st.booleans()):
        rows.insert(draw(st.integers(0, len(rows))), ("blank", "", [("", None, "empty")] * 2))
    footnotes = draw(st.integers(0, 2))
    return draw(st.integers(0, 2)), draw(st.booleans()), rows, footnotes


@pytest.fixture(scope="module")
def con(registry_db: Path):
    with duckdb.connect(str(registry_db), read_only=True) as c:
        yield c


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=table())
def test_every_cell_is_accounted_for_exactly_once(con, tmp_path_factory, spec):
    titles, units_row, rows, footnotes = spec
    folder = tmp_path_factory.mktemp("prop")
    lines = [f"表{i + 1} 标题" for i in range(titles)] + ["地区,地区生产总值(亿元),年末常住人口(万人)"]
    lines += [",亿元,万人"] if units_row else []
    lines += [",".join([label] + [f'"{c[0]}"' for c in cells]) for _, label, cells in rows]
    lines += ["注：本表按当年价格计算。", "资料来源：国家统计局"][:footnotes]
    path = folder / "t.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    (folder / "t.yml").write_text(yaml.safe_dump({
        "table": "prop", "level": "province", "year": 2020, "skip_rows": titles,
        "skip_after_header": int(units_row), "unit": {"name": "地区"},
        "variables": {"地区生产总值(亿元)": "gdp", "年末常住人口(万人)": "pop_resident"}}, allow_unicode=True),
        encoding="utf-8")
    mapping = load_mapping(folder / "t.yml")
    data_rows = [r for r in rows if r[0] == "data"]
    labelled = [cells for kind, _, cells in rows if kind in ("data", "unknown")]
    if any(not any(cells[k][2] != "empty" for cells in labelled) for k in (0, 1)):
        with pytest.raises(IngestError, match="has no value in any data row"):
            plan_ingest(con, path, mapping)
        return
    long, _, _, result = plan_ingest(con, path, mapping)
    # one outcome per written cell, in exactly one category
    cells_written = sum(len(cells) for _, _, cells in rows)
    assert len(long) == cells_written + 2 * footnotes
    data = long["_kind"] == "data"
    loaded = data & long["reason"].isna() & ~long["_empty"] & ~long["_duplicate"]
    empty = long["_empty"] & long["_kind"].isin(["data", "blank"])
    rejected = data & long["reason"].notna()
    excluded = long["_kind"].isin(["total", "footnote"])
    duplicate = data & long["_duplicate"]
    categories = loaded.astype(int) + empty.astype(int) + rejected.astype(int) + excluded.astype(int) + \
        duplicate.astype(int)
    assert (categories == 1).all()
    # nothing invented: loaded values are the numbers written, for the units they were written for
    expected = {(label_code, var): c[1] for kind, label, cells in data_rows
                for label_code in [label] for var, c in zip(("gdp", "pop_resident"), cells, strict=True)
                if c[2] == "number"}
    got = long[loaded]
    assert len(got) == len(expected)
    for r in got.itertuples():
        written = [c for kind, label, cells in data_rows
                   for var, c in zip(("gdp", "pop_resident"), cells, strict=True)
                   if var == r.variable and label.replace("　", "").rstrip("①*") == r.unit_label]
        assert len(written) == 1 and r.value == pytest.approx(written[0][1])
    # nothing lost: every number in a data row of a real province is loaded; junk is rejected with a reason
    assert rejected.sum() == sum(1 for _, _, cells in data_rows for c in cells if c[2] == "junk") + sum(
        1 for kind, _, cells in rows if kind == "unknown" for c in cells if c[2] != "empty")
    assert result.rows_loaded == len(expected)
