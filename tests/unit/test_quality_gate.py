"""The quality gate and the report files on a tiny warehouse: refuse on failing error-level checks, on
data changed since the check and on unchecked tables; allow with the flag and say so; the HTML report is
self-contained and shows per-table status (parsed with the stdlib html.parser)."""

from __future__ import annotations

from html.parser import HTMLParser

import duckdb
import pandas as pd
import pytest

from warehouse.quality.gate import QualityGateError, require_checked
from warehouse.quality.registry import KINDS
from warehouse.quality.report import render_html, render_markdown
from warehouse.quality.results import fingerprint, store
from warehouse.quality.runner import run_checks
from warehouse.quality.spec import load_file


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema quality")
    frame = pd.DataFrame({"unit_code": ["a", "a", "b", "b"], "year": [2020, 2021, 2020, 2021],
                          "rate": [0.1, 0.2, 0.3, 0.4]})
    con.register("_f", frame)
    con.execute("create table main.panel as select * from _f")
    con.execute("create table main.other as select * from _f")
    yield con
    con.close()


def _check(con, tmp_path):
    path = tmp_path / "panel.checks.yml"
    path.write_text("table: main.panel\nunit: unit_code\nyear: year\nchecks:\n  - {check: share, columns: [rate]}\n"
                    "  - {check: unique_key}\n", encoding="utf-8")
    run = run_checks(con, declarations=[load_file(path, KINDS)])
    store(con, run.run_id, run.results, run.finished_at, run.started_at, "", None)
    return run


def test_fingerprint_changes_with_any_row():
    con = duckdb.connect()
    con.execute("create table t as select * from range(5) r(x)")
    before = fingerprint(con, "main.t")
    assert fingerprint(con, "main.t") == before
    con.execute("insert into t values (3)")  # a duplicate row counts
    dup = fingerprint(con, "main.t")
    con.execute("delete from t where x = 3")
    con.execute("insert into t values (3)")
    assert dup != before and fingerprint(con, "main.t") == before


def test_gate_passes_clean_checked_data(con, tmp_path):
    run = _check(con, tmp_path)
    gate = require_checked(con, ["panel"])
    assert run.ok and gate.status == "passed" and gate.run_ids == {"main.panel": run.run_id}


def test_gate_refuses_failing_check_and_allows_with_flag(con, tmp_path):
    con.execute("update main.panel set rate = 1.5 where unit_code = 'b' and year = 2021")
    _check(con, tmp_path)
    with pytest.raises(QualityGateError) as exc:
        require_checked(con, ["main.panel"])
    message = str(exc.value)
    assert "share on main.panel.rate" in message and "b 2021" in message and "--allow-failing-checks" in message
    gate = require_checked(con, ["main.panel"], allow_failing_checks=True)
    assert gate.status == "failed-allowed" and "share on main.panel.rate" in gate.failing[0]
    assert '"status": "failed-allowed"' in gate.to_json()


def test_a_narrower_check_run_does_not_clear_an_earlier_failure(con, tmp_path):
    con.execute("update main.panel set rate = 1.5 where unit_code = 'b' and year = 2021")
    _check(con, tmp_path)
    narrow = tmp_path / "narrow.checks.yml"
    narrow.write_text("table: main.panel\nunit: unit_code\nyear: year\nchecks:\n  - {check: unique_key}\n",
                      encoding="utf-8")
    run = run_checks(con, declarations=[load_file(narrow, KINDS)])
    store(con, run.run_id, run.results, run.finished_at, run.started_at, "", None)
    assert run.ok  # the narrow run passes, and is now the latest run on main.panel
    with pytest.raises(QualityGateError, match="share on main.panel.rate"):
        require_checked(con, ["main.panel"])


def test_gate_refuses_changed_and_unchecked_data(con, tmp_path):
    _check(con, tmp_path)
    con.execute("update main.panel set rate = 0.25 where unit_code = 'a' and year = 2021")  # still a valid share
    with pytest.raises(QualityGateError, match="main.panel: data changed since its last check"):
        require_checked(con, ["panel"])
    with pytest.raises(QualityGateError, match="main.other: never checked"):
        require_checked(con, ["other"])
    gate = require_checked(con, ["panel", "other"], allow_failing_checks=True)
    assert gate.status == "unchecked-allowed" and gate.changed == ["main.panel"] and gate.unchecked == ["main.other"]
    _check(con, tmp_path)  # checked again: passes
    assert require_checked(con, ["panel"]).status == "passed"


def test_gate_on_a_warehouse_never_checked():
    with pytest.raises(QualityGateError, match="never checked"):
        require_checked(duckdb.connect(), ["fct_city_year"])


class _Page(HTMLParser):
    """Collects the cells of each table by id, and any external resource reference."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.external: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe") or any(str(v).startswith("http") for v in a.values()):
            self.external.append(tag)
        if tag == "table":
            self._table = a.get("id") or f"t{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_report_html_is_self_contained_with_table_status(con, tmp_path):
    con.execute("update main.panel set rate = 1.5 where unit_code = 'b' and year = 2021")
    run = _check(con, tmp_path)
    page = _Page()
    page.feed(render_html(run))
    assert page.external == []
    header, *rows = page.tables["tables"]
    assert header[:2] == ["table", "status"] and rows == [["main.panel", "failed", "2", "1", "1", "0", "0"]]
    examples = next(t for k, t in page.tables.items() if k not in ("tables", "results"))
    assert examples[0][:2] == ["unit_code", "year"] and examples[1][:3] == ["b", "2021", "1.5"]
    md = render_markdown(run)
    assert "| main.panel | failed | 2 | 1 | 1 | 0 | 0 |" in md and "### share — main.panel.rate (error)" in md


def test_check_command_bad_input_is_one_line_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from geopanel.cli import app
    from warehouse.db import connection

    missing = CliRunner().invoke(app, ["check", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no warehouse here" in missing.output
    db = tmp_path / "empty.duckdb"
    with connection(db):
        pass
    nothing = CliRunner().invoke(app, ["check", "--db", str(db), "--select", "no_such_table", "--out",
                                       str(tmp_path / "r")])
    assert nothing.exit_code == 1 and "matches no declared table or check kind" in nothing.output
    with connection(db, read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables where table_schema = 'quality'"
                           ).fetchone()[0] == 0
    assert not (tmp_path / "r").exists()


def test_gate_on_one_weight_matrix(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema weights")
    con.execute("create schema quality")
    con.execute("create table weights.w_edges as select * from (values ('a', 'x', 'y', 1.0), ('a', 'y', 'x', 1.0), "
                "('b', 'x', 'y', 1.0), ('b', 'y', 'x', 1.0)) t(w_name, focal, neighbor, weight)")
    path = tmp_path / "weights.checks.yml"
    path.write_text("table: weights.w_edges\nchecks:\n  - {check: weights_symmetry}\n", encoding="utf-8")
    run = run_checks(con, declarations=[load_file(path, KINDS)])
    store(con, run.run_id, run.results, run.finished_at, run.started_at, "", None)
    assert [r.column for r in run.results] == ["a", "b"]
    con.execute("update weights.w_edges set weight = 2.0 where w_name = 'b'")  # matrix b changed, a did not
    assert require_checked(con, ["weights.w_edges:a"]).status == "passed"
    with pytest.raises(QualityGateError, match="weights.w_edges:b: data changed"):
        require_checked(con, ["weights.w_edges:b"])
    with pytest.raises(QualityGateError, match="weights.w_edges:c: never checked"):
        require_checked(con, ["weights.w_edges:c"])
