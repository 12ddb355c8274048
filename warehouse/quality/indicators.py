"""Checks on indicator layers (ind_*): no NaN/Inf, and method weights that sum to 1 per group."""

from __future__ import annotations

import pandas as pd

from warehouse.quality.context import TableContext
from warehouse.quality.results import CheckResult, outcome
from warehouse.quality.spec import CheckSpec

MAX_EXAMPLES = 5


def no_nan(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """No NaN or ±Inf in floating columns (a zero-variance indicator normalised to 0/0 leaks NaN; SQL NULL,
    a declared missing value, is not flagged here)."""
    schema, name = ctx.table.split(".", 1)
    cols = [c for c in ctx.columns_of(spec, ("@numeric",)) if ctx.columns[c].upper() in {"DOUBLE", "FLOAT", "REAL"}]
    keys = ctx.decl.key
    out = []
    for col in cols:
        bad = f'(isnan("{col}") or isinf("{col}"))'
        n_bad, n = ctx.con.execute(
            f'select count(*) filter (where {bad}), count(*) from "{schema}"."{name}"').fetchone()
        select = ", ".join(f'"{k}"' for k in keys) or "*"
        examples = ctx.con.execute(f'select {select} from "{schema}"."{name}" where {bad} limit {MAX_EXAMPLES}').df() \
            .to_dict("records") if n_bad else []
        msg = (f"{ctx.table}.{col}: no NaN or Inf" if not n_bad else
               f"{ctx.table}.{col}: {n_bad} NaN/Inf value(s) — "
               + ", ".join(" ".join(str(v) for v in e.values()) for e in examples[:3]))
        out.append(outcome(not n_bad, spec.kind, ctx.table, col, spec.severity, msg, observed=float(n_bad),
                           threshold="0 NaN/Inf", n_failing=int(n_bad), n_checked=int(n), examples=examples))
    return out or [CheckResult(spec.kind, ctx.table, None, spec.severity, "skipped",
                               f"{ctx.table}: no floating-point columns")]


def weights_sum_to_one(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Indicator weights (entropy, CRITIC …) sum to 1 within each `group_by` group (one index, one weight
    group), or over the whole table when no group is declared."""
    wcol = spec.param("weight_column")
    if wcol not in ctx.columns:
        return [CheckResult(spec.kind, ctx.table, None, spec.severity, "skipped",
                            f"{ctx.table}: no {wcol!r} column (not a weights table)")]
    frame = ctx.frame()
    group = list(spec.param("group_by") or [])
    missing = [c for c in group if c not in ctx.columns]
    if missing:
        raise ValueError(f"group_by column(s) {missing} not in {ctx.table}")
    sums = frame.groupby(group, dropna=False)[wcol].sum() if group else pd.Series({"all rows": frame[wcol].sum()})
    tol = float(spec.param("tolerance"))
    bad = sums[(sums - 1).abs() > tol]
    examples = [{**dict(zip(group, k if isinstance(k, tuple) else (k,), strict=True)), "sum": float(v)}
                for k, v in bad.head(MAX_EXAMPLES).items()]
    msg = (f"{ctx.table}.{wcol}: weights sum to 1 in all {len(sums)} group(s) of {group}" if bad.empty else
           f"{ctx.table}.{wcol}: {len(bad)} group(s) of {group} whose weights do not sum to 1 — "
           + "; ".join(str(e) for e in examples[:3]))
    return [outcome(bad.empty, spec.kind, ctx.table, wcol, spec.severity, msg, observed=float(len(bad)),
                    threshold=f"|sum − 1| ≤ {tol:g}", n_failing=len(bad), n_checked=len(sums), examples=examples)]
