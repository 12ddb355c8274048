"""`geopanel check` on the demo warehouse: the clean demo passes; on a copy with one planted defect of each
kind, each defect is caught by exactly its check, named by table, column and unit-year; the gate refuses
estimation on it; the HTML report (parsed with html.parser) shows per-table status."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection
from warehouse.quality.defects import plant_defects
from warehouse.quality.gate import QualityGateError, require_checked

FAILED = ("failed", "error")


def _copy(demo, tmp_path_factory, name: str) -> Path:
    # same file name as the original: dbt views name their catalog after the file
    target = tmp_path_factory.mktemp(name) / Path(demo[0]).name
    shutil.copyfile(demo[0], target)
    return target


def _results(db: Path) -> list[dict]:
    with connection(db, read_only=True) as con:
        return con.execute("select * from quality.check_results").df().to_dict("records")


@pytest.fixture(scope="module")
def clean(demo, tmp_path_factory):
    db = _copy(demo, tmp_path_factory, "quality_clean")
    out = db.parent / "reports"
    result = CliRunner().invoke(app, ["check", "--db", str(db), "--out", str(out)])
    return db, out, result


@pytest.fixture(scope="module")
def defective(demo, tmp_path_factory):
    db = _copy(demo, tmp_path_factory, "quality_defects")
    defects = plant_defects(db, db.parent)
    out = db.parent / "reports"
    result = CliRunner().invoke(app, ["check", "--db", str(db), "--out", str(out)])
    return db, out, result, defects


def test_clean_demo_passes_and_stores_results(clean):
    db, out, result = clean
    assert result.exit_code == 0, result.output
    assert "no error-level failure" in result.output
    rows = _results(db)
    assert len({r["run_id"] for r in rows}) == 1 and len(rows) > 300
    assert not [r for r in rows if r["severity"] == "error" and r["status"] in FAILED]
    checked = {r["table_name"] for r in rows if r["status"] != "skipped"}
    assert {"main.fct_city_year", "main.fct_county_year", "main.fct_province_year", "main.dim_county",
            "raw.rejects"} <= checked
    assert all(r["fingerprint"] for r in rows if r["table_name"] == "main.fct_city_year")
    assert (out / "latest.html").exists() and (out / "latest.md").exists()
    with connection(db, read_only=True) as con:
        assert require_checked(con, ["fct_city_year", "dim_city", "fct_province_year"]).status == "passed"


def test_each_defect_caught_by_exactly_its_check(clean, defective):
    db, _, result, defects = defective
    assert result.exit_code == 1
    baseline = {(r["check_name"], r["table_name"], r["column_name"]) for r in _results(clean[0])
                if r["status"] in FAILED}
    new = [r for r in _results(db) if r["status"] in FAILED
           and (r["check_name"], r["table_name"], r["column_name"]) not in baseline]
    found = {(r["check_name"], r["table_name"], r["column_name"]): r for r in new}
    assert set(found) == {(d.check, d.table, d.column) for d in defects}
    for d in defects:
        r = found[(d.check, d.table, d.column)]
        assert r["severity"] == "error" and r["n_failing"] == (2 if d.check == "unique_key" else 1), r  # 2 copies
        assert d.unit in r["message"] and (d.year is None or str(d.year) in r["message"]), r["message"]
        table_named = d.table.split(".")[1] if d.table != "weights.w_edges" else f"weights.w_edges[{d.column}]"
        column_named = d.column.split(", ")[0] if d.table != "weights.w_edges" else d.column
        assert table_named in r["message"] and column_named in r["message"], r["message"]
        keys = json.loads(r["example_keys"])
        assert any(d.unit in json.dumps(k, ensure_ascii=False) for k in keys)
    assert "ERROR unit_jump · main.fct_city_year.gdp" in result.output


def test_gate_refuses_estimation_on_the_defects(defective):
    db, *_ = defective
    with connection(db, read_only=True) as con:
        with pytest.raises(QualityGateError) as exc:
            require_checked(con, ["fct_city_year"])
        assert "unit_jump on main.fct_city_year.gdp" in str(exc.value)
        assert "unique_key" in str(exc.value) and "year_gaps" in str(exc.value)
        gate = require_checked(con, ["fct_city_year"], allow_failing_checks=True)
        assert gate.status == "failed-allowed" and len(gate.failing) == 3
        assert require_checked(con, ["fct_county_year"]).status == "passed"


class _StatusTable(HTMLParser):
    """Rows of the table with id="tables" in the report."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.inside = dict(attrs).get("id") == "tables"
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_report_shows_per_table_status(defective):
    _, out, *_ = defective
    page = (out / "latest.html").read_text(encoding="utf-8")
    parser = _StatusTable()
    parser.feed(page)
    status = {r[0]: r[1] for r in parser.rows if r}
    for table in ("main.fct_city_year", "main.dim_city", "main.fct_province_year", "raw.rejects", "weights.w_edges"):
        assert status[table] == "failed", (table, status)
    assert status["main.fct_county_year"] in ("passed", "warn")
    assert "<script" not in page and "http" not in page
    assert "SYNTHETIC demo data" in page  # the demo panel is synthetic, and every report says so
    assert "新罗马市" in page and "main.fct_city_year.gdp" in (out / "latest.md").read_text(encoding="utf-8")


def _province_gal(db: Path, path: Path) -> Path:
    """Queen contiguity of the mainland provinces (shapely), Hainan linked to Guangdong, as a GAL file."""
    import shapely
    from libpysal.weights import W

    with connection(db, read_only=True) as con:
        dims = con.execute("select province_code, geometry from main.dim_province where is_mainland "
                           "order by province_code").df()
    geoms = shapely.from_wkb([bytes(g) for g in dims["geometry"]])
    codes = dims["province_code"].tolist()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    neighbors = {c: [] for c in codes}
    for a, b in zip(left, right, strict=True):
        if a != b:
            neighbors[codes[a]].append(codes[b])
    neighbors["460000"].append("440000")
    neighbors["440000"].append("460000")
    W(neighbors, silence_warnings=True).to_file(str(path))
    return path


def test_spatial_panel_refused_then_allowed_and_recorded(defective):
    db, *_ = defective
    gal = _province_gal(db, db.parent / "province.gal")
    args = ["spatial-panel", "fit", "gdp ~ pop_resident", "--data", "fct_province_year", "--w", str(gal),
            "--model", "sar", "--effects", "twoways", "--draws", "50", "--db", str(db)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert "share on main.fct_province_year.urbanization_rate" in text and "2018" in text, text
    allowed = CliRunner().invoke(app, [*args, "--allow-failing-checks"])
    assert allowed.exit_code == 0, allowed.output
    with connection(db, read_only=True) as con:
        status = con.execute("select quality_status from analysis.model_runs").fetchall()
    assert status == [("failed-allowed",)]
