"""Check results, table fingerprints and the `quality.check_results` / `quality.check_runs` tables."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

RESULTS_DDL = """
create table if not exists quality.check_results (
    run_id varchar, check_name varchar, table_name varchar, column_name varchar, severity varchar,
    status varchar, observed_value double, threshold varchar, n_failing bigint, n_checked bigint,
    message varchar, example_keys varchar, fingerprint varchar, engine varchar, checked_at timestamp
)"""
RUNS_DDL = """
create table if not exists quality.check_runs (
    run_id varchar, started_at timestamp, finished_at timestamp, selection varchar, n_results integer,
    n_error_failed integer, n_warn_failed integer, n_skipped integer, status varchar, report_path varchar
)"""
STATUSES = ("passed", "failed", "skipped", "error")  # error: the check itself could not run


@dataclass
class CheckResult:
    """What one check found on one table (and column, or weight matrix for weights checks)."""

    check: str
    table: str
    column: str | None
    severity: str
    status: str
    message: str
    observed: float | None = None
    threshold: str | None = None
    n_failing: int = 0
    n_checked: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    engine: str = "custom"
    fingerprint: str | None = None

    @property
    def blocking(self) -> bool:
        """An error-level check that failed (or could not run): estimation must not use the table."""
        return self.severity == "error" and self.status in ("failed", "error")

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table


def passed(check: str, table: str, column: str | None, severity: str, message: str, **kw: Any) -> CheckResult:
    return CheckResult(check, table, column, severity, "passed", message, **kw)


def failed(check: str, table: str, column: str | None, severity: str, message: str, **kw: Any) -> CheckResult:
    return CheckResult(check, table, column, severity, "failed", message, **kw)


def outcome(ok: bool, *args: Any, **kw: Any) -> CheckResult:
    return (passed if ok else failed)(*args, **kw)


def fingerprint(con: duckdb.DuckDBPyConnection, table: str, w_name: str | None = None) -> str:
    """A cheap content hash of a table (or one weight matrix of weights.w_edges): column names and types,
    row count and the order-independent sum of row hashes. Any changed, added or removed row changes it."""
    schema, name = table.split(".", 1)
    cols = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, name]).fetchall()
    where, args = ("where w_name = ?", [w_name]) if w_name is not None else ("", [])
    count, total = con.execute(
        f'select count(*), coalesce(sum(hash(t)::hugeint), 0) from "{schema}"."{name}" as t {where}', args).fetchone()
    return hashlib.sha256(f"{cols}|{count}|{total}".encode()).hexdigest()[:16]


def store(con: duckdb.DuckDBPyConnection, run_id: str, results: list[CheckResult], checked_at: datetime,
          started_at: datetime, selection: str, report_path: str | None) -> None:
    """Append a run's results and its summary row, in one transaction."""
    rows = [(run_id, r.check, r.table, r.column, r.severity, r.status, _finite(r.observed), r.threshold,
             r.n_failing, r.n_checked, r.message, json.dumps(r.examples, ensure_ascii=False, default=str),
             r.fingerprint, r.engine, checked_at) for r in results]
    n_err = sum(r.blocking for r in results)
    n_warn = sum(r.severity == "warn" and r.status in ("failed", "error") for r in results)
    con.execute("begin")
    try:
        con.execute(RESULTS_DDL)
        con.execute(RUNS_DDL)
        if rows:
            con.executemany(f"insert into quality.check_results values ({', '.join('?' * 15)})", rows)
        con.execute("insert into quality.check_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, started_at, checked_at, selection, len(results), n_err, n_warn,
                     sum(r.status == "skipped" for r in results), "failed" if n_err else "passed", report_path])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None
