"""Run the declared checks on a warehouse: expand patterns, select, run table by table, fingerprint."""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from warehouse.quality.context import TableContext, table_columns
from warehouse.quality.registry import KINDS
from warehouse.quality.results import CheckResult, fingerprint
from warehouse.quality.spec import TableChecks, load_all

Progress = Callable[[int, int, str], None]  # (done, total, label)


@dataclass
class CheckRun:
    """One `geopanel check` run: its id, when, what was selected and every result."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    selection: list[str]
    results: list[CheckResult] = field(default_factory=list)
    provenance: str = ""  # how much of the raw data is synthetic, shown in every report

    @property
    def blocking(self) -> list[CheckResult]:
        return [r for r in self.results if r.blocking]

    @property
    def ok(self) -> bool:
        return not self.blocking


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return sorted(r[0] for r in rows)


def plan(con: duckdb.DuckDBPyConnection, select: list[str] | None = None,
         declarations: list[TableChecks] | None = None) -> list[TableChecks]:
    """Concrete tables to check (patterns expanded; a missing table kept, to be reported as skipped),
    restricted to the selection: table names (bare or schema-qualified, globs) or check kinds."""
    existing = _tables(con)
    decls = declarations if declarations is not None else load_all(KINDS)
    own = {d.table for d in decls if not d.is_pattern}  # a table's own declaration replaces a pattern's
    out: list[TableChecks] = []
    for decl in decls:
        matches = [t for t in existing if fnmatch.fnmatchcase(t, decl.table) and t not in own] \
            if decl.is_pattern else [decl.table]
        out += [decl.for_table(t) for t in matches] or [decl]
    if not select:
        return out
    chosen = []
    for decl in out:
        bare = decl.table.split(".", 1)[1]
        if any(fnmatch.fnmatchcase(decl.table, s) or fnmatch.fnmatchcase(bare, s) for s in select):
            chosen.append(decl)
            continue
        specs = tuple(c for c in decl.checks if c.kind in select)
        if specs:
            chosen.append(TableChecks(decl.table, decl.unit, decl.year, specs, decl.source))
    return chosen


def run_checks(con: duckdb.DuckDBPyConnection, select: list[str] | None = None,
               progress: Progress | None = None, declarations: list[TableChecks] | None = None) -> CheckRun:
    """Run every selected check; a check that raises is recorded with status 'error', never aborts the run."""
    started = datetime.now(UTC).replace(tzinfo=None)
    tables = plan(con, select, declarations)
    total, done = sum(len(d.checks) for d in tables), 0
    results: list[CheckResult] = []
    existing = set(_tables(con))
    for decl in tables:
        present = decl.table in existing
        columns = table_columns(con, decl.table) if present else {}
        decl = _with_keys(decl, columns)
        ctx = TableContext(con, decl, columns) if present else None
        table_results: list[CheckResult] = []
        for spec in sorted(decl.checks, key=lambda s: KINDS[s.kind].stage):
            if progress:
                progress(done, total, f"{decl.table}: {spec.kind}")
            if ctx is None:
                table_results.append(CheckResult(spec.kind, decl.table, None, spec.severity, "skipped",
                                                 f"{decl.table}: table does not exist (yet)"))
            else:
                try:
                    found = KINDS[spec.kind].run(ctx, spec)
                except Exception as exc:  # a broken check must not hide the others
                    found = [CheckResult(spec.kind, decl.table, None, spec.severity, "error",
                                         f"{decl.table}: check {spec.kind} could not run: "
                                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")]
                for r in found:
                    r.engine = KINDS[spec.kind].engine
                table_results += found
            done += 1
        if present:
            _fingerprint(con, decl.table, table_results)
        results += table_results
    if progress:
        progress(total, total, "done")
    return CheckRun(uuid.uuid4().hex[:12], started, datetime.now(UTC).replace(tzinfo=None), list(select or []),
                    results, _provenance(con))


def _provenance(con: duckdb.DuckDBPyConnection) -> str:
    """'raw data: N rows, K synthetic (P%)' from raw.ingest_log, so a report on demo data says so."""
    if "raw.ingest_log" not in _tables(con):
        return ""
    total, synthetic = con.execute("select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_loaded) filter "
                                   "(where _synthetic), 0) from raw.ingest_log").fetchone()
    share = 100 * synthetic / total if total else 0.0
    return (f"raw data: {int(total):,} rows, {int(synthetic):,} synthetic ({share:.0f}%)"
            + (" — SYNTHETIC demo data, not real statistics" if synthetic else ""))


def _with_keys(decl: TableChecks, columns: dict[str, str]) -> TableChecks:
    """A pattern declaration without keys (ind_*) takes the table's first *_code column and `year`."""
    if decl.unit or not columns:
        return decl
    unit = next((c for c in columns if c.endswith("_code")), None)
    year = "year" if "year" in columns and unit else None
    return TableChecks(decl.table, unit, year, decl.checks, decl.source)


def _fingerprint(con: duckdb.DuckDBPyConnection, table: str, results: list[CheckResult]) -> None:
    """Stamp each result with the fingerprint of what it checked (one weight matrix for weights.w_edges)."""
    try:
        whole = fingerprint(con, table)
        for r in results:
            r.fingerprint = fingerprint(con, table, r.column) if table == "weights.w_edges" and r.column else whole
    except duckdb.Error:  # e.g. a view whose source is gone: its checks already report the error
        return
