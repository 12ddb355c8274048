"""The quality gate every estimation passes through before it reads the warehouse.

    from warehouse.quality.gate import require_checked, QualityGateError

    gate = require_checked(con, ["main.fct_city_year", "weights.w_edges:queen_city"],
                           allow_failing_checks=args.allow_failing_checks)
    ...estimate...
    run_record["quality_status"] = gate.status          # 'passed' | 'failed-allowed' | 'unchecked-allowed'
    run_record["quality_detail"] = gate.to_json()       # run ids, failing checks, changed tables

It looks up the latest result of every check that ran on each table and refuses (QualityGateError, whose
message names the failing checks and what to do) when an error-level check failed there, when the table
was never checked, or when its data changed since (its fingerprint differs). With
`allow_failing_checks=True` (CLI: `--allow-failing-checks`) it lets the estimation run and says so in the
returned status, which the caller stores with the model run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import duckdb

from warehouse.db import WarehouseError, table_exists
from warehouse.quality.results import fingerprint
from warehouse.quality.spec import qualify


class QualityGateError(WarehouseError):
    """Estimation refused: the data failed error-level checks, was never checked, or changed since."""


@dataclass
class GateStatus:
    """What the gate found; `status` is stored with every model run."""

    status: str  # 'passed' | 'failed-allowed' | 'unchecked-allowed'
    tables: list[str]
    run_ids: dict[str, str | None] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    def problems(self) -> list[str]:
        return ([f"error-level check failed: {f}" for f in self.failing]
                + [f"{t}: data changed since its last check" for t in self.changed]
                + [f"{t}: never checked" for t in self.unchecked])


def require_checked(con: duckdb.DuckDBPyConnection, tables: list[str],
                    allow_failing_checks: bool = False) -> GateStatus:
    """Check the latest `geopanel check` results for `tables` (``fct_city_year``, ``main.dim_city``, or
    ``weights.w_edges:<w_name>`` for one weight matrix); raise QualityGateError unless all passed and are
    current, or `allow_failing_checks` is set. Precedence of the status when allowed: any failing check ->
    'failed-allowed', else unchecked or changed data -> 'unchecked-allowed'."""
    gate = GateStatus("passed", [_name(t) for t in tables])
    have_results = table_exists(con, "quality.check_results")
    for spec in gate.tables:
        table, _, w_name = spec.partition(":")
        rows = _latest(con, table, w_name or None) if have_results else []
        checked = [r for r in rows if r["fingerprint"]]
        if not checked:
            gate.unchecked.append(spec)
            gate.run_ids[spec] = rows[0]["run_id"] if rows else None
            continue
        gate.run_ids[spec] = checked[0]["run_id"]
        current = {}
        for r in checked:
            scope = r["column_name"] if table == "weights.w_edges" else None
            if scope not in current:
                current[scope] = fingerprint(con, table, scope) if table_exists(con, table) else None
            if current[scope] != r["fingerprint"]:
                gate.changed.append(spec)
                break
        gate.failing += [f"{r['check_name']} on {table}{'.' + r['column_name'] if r['column_name'] else ''} "
                         f"(run {r['run_id']}): {r['message']}"
                         for r in checked if r["severity"] == "error" and r["status"] in ("failed", "error")]
    if gate.failing or gate.changed or gate.unchecked:
        if not allow_failing_checks:
            raise QualityGateError(
                "quality gate: refusing to estimate on " + ", ".join(gate.tables) + ": " + "; ".join(gate.problems())
                + " — fix the data and run `geopanel check`, or pass --allow-failing-checks "
                "(the run is then recorded as run on failing or unchecked data)")
        gate.status = "failed-allowed" if gate.failing else "unchecked-allowed"
    return gate


def gate_status(con: duckdb.DuckDBPyConnection | None, tables: Sequence[str], allow_failing_checks: bool = False,
                w_name: str | None = None) -> GateStatus:
    """The gate for an analysis on data read through the one data contract (warehouse.panel_data.read_panel):
    the warehouse tables it read (a table or view, or every table a query reads — `x AS a` and a query's own
    CTE names are handled) and a stored weight matrix `w_name`; 'not-checked' when there are none (files,
    frames). Every analysis calls this, so the Python API gates exactly as the command line does."""
    if con is None:
        return GateStatus("not-checked", [])
    named = [re.split(r"\s+as\s+", str(t), flags=re.IGNORECASE)[0].replace('"', "").strip() for t in tables]
    inputs = [qualify(t) for t in dict.fromkeys(named) if t and table_exists(con, qualify(t))]
    inputs += [f"weights.w_edges:{w_name}"] if w_name else []
    if not inputs:
        return GateStatus("not-checked", [])
    return require_checked(con, inputs, allow_failing_checks=allow_failing_checks)


def _name(table: str) -> str:
    base, sep, w_name = table.partition(":")
    return qualify(base) + (sep + w_name if sep else "")


def _latest(con: duckdb.DuckDBPyConnection, table: str, w_name: str | None) -> list[dict]:
    """The latest result of every check that ran on `table` (one matrix when w_name is given), newest
    first: a narrower `geopanel check --select` run updates the checks it ran and never clears an earlier
    failure of a check it did not run."""
    scope, args = ("and column_name = ?", [w_name]) if w_name else ("", [])
    frame = con.execute(
        f"""select * from quality.check_results where table_name = ? {scope}
            qualify row_number() over (partition by check_name, coalesce(column_name, '')
                                       order by checked_at desc) = 1
            order by checked_at desc, check_name, column_name""",
        [table, *args]).df()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
