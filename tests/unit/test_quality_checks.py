"""Each custom and GE-backed check on small hand-made tables: it fires on the planted problem, names the
unit-year, and stays quiet on the clean version. References are hand computations given inline."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import shapely

from warehouse.quality.registry import KINDS
from warehouse.quality.runner import run_checks
from warehouse.quality.spec import CheckConfigError, load_file

YEARS = list(range(2010, 2016))


def _panel() -> pd.DataFrame:
    """Three units growing 5% a year from 100, 200, 400 (亿元), and a share column of 0.5."""
    rows = [{"unit_code": u, "year": y, "gdp": base * 1.05 ** (y - 2010), "rate": 0.5}
            for u, base in (("110000", 100.0), ("120000", 200.0), ("130000", 400.0)) for y in YEARS]
    return pd.DataFrame(rows)


def _decl(tmp_path: Path, text: str, name: str = "t.checks.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_file(path, KINDS)


def _run(frame: pd.DataFrame, decl, extra: dict[str, pd.DataFrame] | None = None):
    con = duckdb.connect()
    for schema in ("raw", "weights", "quality"):
        con.execute(f"create schema {schema}")
    con.register("_f", frame)
    con.execute("create table main.t as select * from _f")
    for name, df in (extra or {}).items():
        con.register("_x", df)
        con.execute(f"create table {name} as select * from _x")
        con.unregister("_x")
    return run_checks(con, declarations=[decl]).results


PANEL = "table: main.t\nunit: unit_code\nyear: year\nchecks:\n"


def _failed(results, kind):
    return [r for r in results if r.check == kind and r.status == "failed"]


def test_unit_jump_reports_the_wrong_year_once(tmp_path):
    df = _panel()
    df.loc[(df.unit_code == "120000") & (df.year == 2013), "gdp"] *= 10_000  # 万元 figure read as 亿元
    df.loc[(df.unit_code == "130000") & (df.year >= 2014), "gdp"] /= 100  # a lasting step of ×0.01 from 2014
    res = _run(df, _decl(tmp_path, PANEL + "  - {check: unit_jump, columns: [gdp]}"))
    (r,) = res
    assert r.status == "failed" and r.n_failing == 2  # 120000 2013 (undone in 2014: reported once) and 130000 2014
    assert {(e["unit_code"], e["year"]) for e in r.examples} == {("120000", 2013), ("130000", 2014)}
    # ratio 2013/2012 = 10,000 × 1.05 (hand computation)
    assert [e["ratio"] for e in r.examples if e["unit_code"] == "120000"] == [pytest.approx(10_500, rel=1e-9)]
    assert "main.t.gdp" in r.message and "120000 2013" in r.message


def test_unit_jump_quiet_on_growth(tmp_path):
    df = _panel()
    df.loc[df.unit_code == "110000", "gdp"] *= np.linspace(1, 3, len(YEARS))  # fast but smooth growth
    (r,) = _run(df, _decl(tmp_path, PANEL + "  - {check: unit_jump, columns: [gdp]}"))
    assert r.status == "passed"


def test_year_gaps_inner_only(tmp_path):
    df = _panel()
    df = df[~((df.unit_code == "110000") & (df.year == 2012))]  # missing inside the series
    df.loc[(df.unit_code == "120000") & (df.year == 2010), ["gdp", "rate"]] = np.nan  # leading: not a gap
    df.loc[(df.unit_code == "130000") & (df.year == 2013), ["gdp", "rate"]] = np.nan  # all-null row inside
    (r,) = _run(df, _decl(tmp_path, PANEL + "  - {check: year_gaps}"))
    assert r.status == "failed" and r.column == "year"
    assert [(e["unit_code"], e["year"]) for e in r.examples] == [("110000", 2012), ("130000", 2013)]


def test_series_gaps_coverage_and_balance(tmp_path):
    df = _panel()
    df.loc[(df.unit_code == "110000") & (df.year == 2012), "gdp"] = np.nan  # inner gap in gdp only
    df = df[~((df.unit_code == "130000") & (df.year == 2015))]  # 130000 ends a year early
    res = _run(df, _decl(tmp_path, PANEL + "  - {check: series_gaps, columns: [gdp]}\n"
                                            "  - {check: coverage, columns: [gdp], min_ratio: 0.7}\n"
                                            "  - {check: balanced_panel, min_share: 0.9}"))
    gaps, cov, bal = res
    assert gaps.status == "failed" and gaps.examples == [{"unit_code": "110000", "year": 2012}]
    # 2012: 2 of 3 reporting units have gdp -> 0.667 < 0.7 (hand computation); every other year 1.0
    assert cov.status == "failed" and cov.observed == pytest.approx(2 / 3)
    assert cov.examples == [{"year": 2012, "coverage": pytest.approx(0.6667, abs=1e-4)}]
    # 2 of 3 units have rows with data in all of 2010–2015
    assert bal.status == "failed" and bal.observed == pytest.approx(2 / 3)


def test_outliers_skip_what_a_jump_explained(tmp_path):
    rng = np.random.default_rng(1)
    df = pd.DataFrame([{"unit_code": f"{i:06d}", "year": y, "gdp": float(np.exp(rng.normal(5, 0.3)))}
                       for i in range(40) for y in (2010, 2011)])
    df.loc[(df.unit_code == "000003") & (df.year == 2011), "gdp"] *= 10_000
    df.loc[(df.unit_code == "000007") & (df.year == 2011), "gdp"] *= 1_000  # not a unit factor: an outlier
    res = _run(df, _decl(tmp_path, PANEL + "  - {check: unit_jump, columns: [gdp]}\n  - {check: outliers}"))
    jump, out = res
    assert [e["unit_code"] for e in jump.examples] == ["000003"]
    assert [e["unit_code"] for e in out.examples] == ["000007"]


def test_ge_keys_ranges_and_dims(tmp_path):
    df = _panel()
    df = pd.concat([df, df.iloc[[4]]])  # duplicate 110000 2014
    df.loc[(df.unit_code == "130000") & (df.year == 2011), "rate"] = 1.2
    df.loc[(df.unit_code == "120000") & (df.year == 2015), "gdp"] = -1.0
    dim = pd.DataFrame({"province_code": ["110000", "120000"]})  # 130000 missing from the dim
    res = _run(df, _decl(tmp_path, PANEL + "  - {check: unique_key}\n  - {check: share, columns: [rate]}\n"
                                            "  - {check: non_negative, columns: ['@numeric']}\n"
                                            "  - {check: codes_in_dim, dim: main.dim, dim_column: province_code}"),
               extra={"main.dim": dim})
    by = {(r.check, r.column): r for r in res}
    assert all(r.engine == "great_expectations" for r in res)
    assert by[("unique_key", "unit_code, year")].examples == [{"unit_code": "110000", "year": 2014}]
    share = by[("share", "rate")]
    assert share.n_failing == 1 and share.examples[0]["unit_code"] == "130000" and share.examples[0]["year"] == 2011
    assert by[("non_negative", "gdp")].n_failing == 1 and by[("non_negative", "rate")].status == "passed"
    assert by[("codes_in_dim", "unit_code")].n_failing == len(YEARS)


def test_geometry_checks(tmp_path):
    square = lambda x, y: shapely.box(x, y, x + 1, y + 1)  # noqa: E731
    geoms = {"A": square(0, 0), "B": square(1, 0),  # touching: fine
             "C": square(0.5, 5), "D": square(0.9, 5),  # overlap 0.6 of a unit square
             "E": shapely.Polygon([(0, 9), (1, 10), (1, 9), (0, 10)]),  # bowtie
             "F": shapely.Polygon(), "G": None}
    dim = pd.DataFrame({"unit_code": list(geoms),
                        "geometry": [None if g is None else shapely.to_wkb(g) for g in geoms.values()],
                        "is_current": True})
    decl = _decl(tmp_path, "table: main.t\nunit: unit_code\nchecks:\n  - {check: geometry_valid}\n"
                           "  - {check: geometry_empty}\n  - {check: geometry_missing, where: is_current}\n"
                           "  - {check: geometry_overlaps}")
    valid, empty, missing, overlaps = _run(dim, decl)
    assert [e["unit_code"] for e in valid.examples] == ["E"] and "Self-intersection" in valid.message
    assert [e["unit_code"] for e in empty.examples] == ["F"]
    assert [e["unit_code"] for e in missing.examples] == ["G"]
    assert overlaps.examples == [{"unit_code_a": "C", "unit_code_b": "D", "overlap_share": pytest.approx(0.6)}]


def _grid_weights() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rook contiguity of a 3×3 grid (cells 0..8), row-standardised; hand-built."""
    links = [(a, b) for a in range(9) for b in range(9)
             if abs(a // 3 - b // 3) + abs(a % 3 - b % 3) == 1]
    e = pd.DataFrame(links, columns=["focal", "neighbor"]).astype(str)
    e["weight"] = 1.0 / e.groupby("focal")["focal"].transform("size")
    e.insert(0, "w_name", "rook_grid")
    cat = pd.DataFrame([{"w_name": "rook_grid", "kind": "rook", "level": None, "n": 9, "n_links": len(e),
                         "islands": 0, "island_codes": "", "components": 1, "transform": "R"}])
    return e, cat


def test_weights_checks(tmp_path):
    edges, cat = _grid_weights()
    decl = _decl(tmp_path, "table: weights.w_edges\nunit: focal\nchecks:\n  - {check: weights_islands}\n"
                           "  - {check: weights_symmetry}\n  - {check: weights_row_sums}\n"
                           "  - {check: weights_components}")
    con_results = _weights_run(edges, cat, decl)
    assert all(r.status == "passed" for r in con_results), [r.message for r in con_results]
    # cut cell 4 (the centre) out: an undeclared island; rows of 1, 3, 5, 7 re-standardised
    cut = edges[(edges.focal != "4") & (edges.neighbor != "4")].copy()
    cut["weight"] = 1.0 / cut.groupby("focal")["focal"].transform("size")
    islands, sym, sums, comps = _weights_run(cut, cat, decl)
    assert islands.status == "failed" and [e["unit"] for e in islands.examples] == ["<1 unit(s) of n=9 absent>"]
    units = pd.DataFrame({"w_name": "rook_grid", "position": range(9), "code": [str(i) for i in range(9)]})
    islands, *_ = _weights_run(cut, cat, decl, units)  # with the builder's unit set the island is named
    assert islands.status == "failed" and [e["unit"] for e in islands.examples] == ["4"]
    islands, *_ = _weights_run(cut, cat.assign(island_codes="4", islands=1), decl, units)  # declared: fine
    assert islands.status == "passed"
    assert sym.status == sums.status == comps.status == "passed"
    # drop link 0→1 only: asymmetric, row 0 no longer sums to 1
    broken = edges[~((edges.focal == "0") & (edges.neighbor == "1"))]
    islands, sym, sums, comps = _weights_run(broken, cat, decl)
    assert sym.status == "failed" and sym.examples[0]["focal"] == "1" and sym.examples[0]["neighbor"] == "0"
    assert sums.status == "failed" and sums.examples == [{"focal": "0", "row_sum": 0.5}]
    # two separate 2-unit groups: 2 components
    two = pd.DataFrame({"w_name": "rook_grid", "focal": ["a", "b", "c", "d"], "neighbor": ["b", "a", "d", "c"],
                        "weight": 1.0})
    cat2 = cat.assign(n=4, components=2)
    *_, comps = _weights_run(two, cat2, decl)
    assert comps.status == "failed" and comps.observed == 2


def _weights_run(edges, cat, decl, units=None):
    con = duckdb.connect()
    con.execute("create schema weights")
    tables = (("w_edges", edges), ("w_catalog", cat)) + ((("w_units", units),) if units is not None else ())
    for name, df in tables:
        con.register("_x", df)
        con.execute(f"create table weights.{name} as select * from _x")
        con.unregister("_x")
    return run_checks(con, declarations=[decl]).results


def test_indicator_checks(tmp_path):
    ind = pd.DataFrame({"city_code": ["a", "b", "c"], "year": 2020, "score": [0.1, float("nan"), 0.3]})
    weights = pd.DataFrame({"index_name": ["x", "x", "y", "y"], "indicator": ["p", "q", "p", "q"],
                            "weight": [0.4, 0.6, 0.5, 0.6]})
    con = duckdb.connect()
    for name, df in (("ind_score_city_year", ind), ("ind_weights", weights)):
        con.register("_x", df)
        con.execute(f"create table {name} as select * from _x")
        con.unregister("_x")
    # pandas NaN arrives in DuckDB as NULL; make it a real NaN as a 0/0 would
    con.execute("update ind_score_city_year set score = 'nan'::double where city_code = 'b'")
    decl = _decl(tmp_path, "table: main.ind_*\nchecks:\n  - {check: no_nan}\n  - {check: weights_sum_to_one}")
    own = _decl(tmp_path, "table: main.ind_weights\nchecks:\n  - {check: weights_sum_to_one, group_by: [index_name]}",
                name="ind_weights.checks.yml")  # replaces the pattern's checks for this table
    res = run_checks(con, declarations=[decl, own]).results
    by = {(r.table, r.check): r for r in res}
    nan = by[("main.ind_score_city_year", "no_nan")]
    assert nan.status == "failed" and nan.examples == [{"city_code": "b", "year": 2020}]
    assert by[("main.ind_score_city_year", "weights_sum_to_one")].status == "skipped"
    assert ("main.ind_weights", "no_nan") not in by
    ws = by[("main.ind_weights", "weights_sum_to_one")]
    assert ws.status == "failed" and ws.examples == [{"index_name": "y", "sum": pytest.approx(1.1)}]


def test_missing_tables_are_skipped(tmp_path):
    decl = _decl(tmp_path, "table: weights.w_edges\nchecks:\n  - {check: weights_islands}")
    (r,) = run_checks(duckdb.connect(), declarations=[decl]).results
    assert r.status == "skipped" and not r.blocking


@pytest.mark.parametrize("body, needle", [
    ("  - {check: no_such_check}", "check #1"),
    ("  - {check: share, severity: fatal}", "severity must be error or warn"),
    ("  - {check: share, maxx: 2}", "unknown parameter(s) maxx"),
])
def test_bad_declarations_name_file_and_entry(tmp_path, body, needle):
    with pytest.raises(CheckConfigError, match="bad.checks.yml") as exc:
        _decl(tmp_path, "table: main.t\nchecks:\n" + body, name="bad.checks.yml")
    assert needle in str(exc.value)


def test_severity_and_threshold_override(tmp_path):
    decl = _decl(tmp_path, PANEL + "  - {check: share, columns: [rate], max: 0.4, severity: warn}")
    (r,) = _run(_panel(), decl)
    assert r.status == "failed" and r.severity == "warn" and not r.blocking and r.n_failing == 18


def test_symmetry_not_expected_of_knn_and_checked_on_raw_weights(tmp_path):
    edges = pd.DataFrame({"w_name": "m", "focal": ["a", "b", "c"], "neighbor": ["b", "a", "a"],
                          "weight": [1.0, 2.0, 1.0]})  # b→a weighs 2, a→b 1; c→a has no a→c
    decl = _decl(tmp_path, "table: weights.w_edges\nchecks:\n  - {check: weights_symmetry}")
    cat = pd.DataFrame([{"w_name": "m", "kind": "inverse_distance", "transform": "O", "n": 3}])
    (sym,) = _weights_run(edges, cat, decl)
    assert sym.status == "failed" and sym.n_failing == 3  # a→b, b→a unequal; c→a unmatched
    (sym,) = _weights_run(edges, cat.assign(kind="knn"), decl)
    assert sym.status == "skipped"


def test_select_by_table_or_kind(tmp_path):
    from warehouse.quality.runner import plan

    con = duckdb.connect()
    con.execute("create table t as select 1 as unit_code, 2020 as year")
    decl = _decl(tmp_path, PANEL + "  - {check: unique_key}\n  - {check: year_gaps}")
    assert [d.table for d in plan(con, ["t"], [decl])] == ["main.t"]
    assert [s.kind for d in plan(con, ["year_gaps"], [decl]) for s in d.checks] == ["year_gaps"]
    assert plan(con, ["other"], [decl]) == []
