"""Checks on raw.rejects: rows ingest kept aside. An unmapped unit is an error (its data is missing from
the panel); any other reject (not a number, conflicting duplicate) is a warning."""

from __future__ import annotations

from warehouse.db import table_exists
from warehouse.quality.context import TableContext
from warehouse.quality.results import outcome
from warehouse.quality.spec import CheckSpec
from warehouse.rejects import ACKED

MAX_EXAMPLES = 5
EXAMPLE_COLUMNS = ["table_name", "unit_label", "year", "variable", "reason", "_source_file", "_row"]


def _rejects(ctx: TableContext, spec: CheckSpec, unmapped: bool):
    """Unacknowledged rejects of the kind, and the number of all rejects (acknowledged ones are counted
    there and named in the message, but do not fail: `geopanel rejects --ack`)."""
    patterns = list(spec.param("unit_reasons"))
    cond = " or ".join("reason like ?" for _ in patterns) or "false"
    acked = f"not {ACKED}" if table_exists(ctx.con, "raw.reject_acks") else "true"
    sql = (f"select {', '.join(EXAMPLE_COLUMNS)} from raw.rejects as r where {'' if unmapped else 'not '}({cond}) "
           f"and {acked} order by table_name, unit_label, year")
    return ctx.con.execute(sql, patterns).df(), ctx.con.execute("select count(*) from raw.rejects").fetchone()[0]


def _acknowledged(ctx: TableContext) -> str:
    if not table_exists(ctx.con, "raw.reject_acks"):
        return ""
    n = ctx.con.execute(f"select count(*) from raw.rejects as r where {ACKED}").fetchone()[0]
    return f" ({n} acknowledged reject(s) listed by geopanel rejects)" if n else ""


def unmapped_units(ctx: TableContext, spec: CheckSpec):
    """Rows whose unit label matched no unit (unknown, ambiguous, not valid in that year)."""
    bad, total = _rejects(ctx, spec, unmapped=True)
    examples = bad.head(MAX_EXAMPLES).to_dict("records")
    labels = bad.drop_duplicates(["table_name", "unit_label", "year"])
    msg = ("raw.rejects.unit_label: every ingested unit label was mapped" + _acknowledged(ctx) if bad.empty else
           f"raw.rejects.unit_label: {len(bad)} row(s) with an unmapped unit, their data is not in any panel — "
           + "; ".join(f"raw.{r.table_name} '{r.unit_label}' {r.year}: {r.reason}"
                       for r in labels.head(3).itertuples()))
    return [outcome(bad.empty, spec.kind, ctx.table, "unit_label", spec.severity, msg, observed=float(len(bad)),
                    threshold="0 rows", n_failing=len(bad), n_checked=int(total), examples=examples)]


def rejected_rows(ctx: TableContext, spec: CheckSpec):
    """Rows rejected for other reasons (cells that are not numbers, impossible years, conflicting duplicates)."""
    bad, total = _rejects(ctx, spec, unmapped=False)
    msg = ("raw.rejects: no other rejected rows" if bad.empty else
           f"raw.rejects: {len(bad)} row(s) rejected at ingest — "
           + "; ".join(f"raw.{r.table_name} {r.unit_label} {r.year} {r.variable}: {r.reason}"
                       for r in bad.head(3).itertuples()))
    return [outcome(bad.empty, spec.kind, ctx.table, "reason", spec.severity, msg, observed=float(len(bad)),
                    threshold="0 rows", n_failing=len(bad), n_checked=int(total),
                    examples=bad.head(MAX_EXAMPLES).to_dict("records"))]
