"""Checks run with Great Expectations 1.x on the table's DataFrame (pandas data source, ephemeral context).

GE's SQL data source cannot validate DuckDB (every expectation returns empty; shared/DESIGN.md), so the
table is pulled with `con.table(...).df()` and validated in memory. Each check kind turns its spec into
expectations; every expectation's result becomes one CheckResult naming the failing unit-years.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from warehouse.quality.context import TableContext
from warehouse.quality.results import CheckResult, outcome
from warehouse.quality.spec import CheckSpec

MAX_EXAMPLES = 5


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def validate(frame: pd.DataFrame, expectations: list, index_columns: list[str], name: str) -> list:
    """Validate a DataFrame against expectations; returns GE's ExpectationValidationResults in order."""
    import great_expectations as gx

    ctx = _context()
    source = ctx.data_sources.add_or_update_pandas("warehouse")
    asset = next((a for a in source.assets if a.name == name), None) or source.add_dataframe_asset(name)
    batch_def = next((b for b in asset.batch_definitions if b.name == "whole"), None) \
        or asset.add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=f"{name}_suite")
    for exp in expectations:
        suite.add_expectation(exp)
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    fmt: dict[str, Any] = {"result_format": "COMPLETE"}
    if index_columns:
        fmt["unexpected_index_column_names"] = index_columns
    return batch.validate(suite, result_format=fmt).results


def _to_result(ctx: TableContext, spec: CheckSpec, column: str | None, res, threshold: str, what: str) -> CheckResult:
    """One GE result as a CheckResult: failing rows, example unit-years with the offending value."""
    if res.exception_info and res.exception_info.get("raised_exception"):
        return CheckResult(spec.kind, ctx.table, column, spec.severity, "error",
                           f"{ctx.table}.{column or ''}: GE raised {res.exception_info.get('exception_message')}",
                           engine="great_expectations")
    r = res.result
    n_bad, n = int(r.get("unexpected_count") or 0), int(r.get("element_count") or 0)
    keys = ctx.decl.key
    examples = [_keys_first(row, keys) for row in (r.get("unexpected_index_list") or [])]
    if keys and column:
        ctx.flag(column, [tuple(e.get(k) for k in keys) for e in examples])
    where = f"{ctx.table}.{column}" if column else ctx.table
    if res.success:
        msg = f"{where}: {what} holds for all {n} rows" if n else f"{where}: no rows"
    else:
        shown = "; ".join(_describe(e, keys, column) for e in examples[:3])
        msg = f"{where}: {n_bad} of {n} rows fail {what} — {shown}"
    return outcome(res.success, spec.kind, ctx.table, column, spec.severity, msg, observed=float(n_bad),
                   threshold=threshold, n_failing=n_bad, n_checked=n, examples=examples[:MAX_EXAMPLES],
                   engine="great_expectations")


def _keys_first(row: object, keys: list[str]) -> dict:
    """GE's unexpected row as {unit, year, column: value}, in that order (a bare row index without keys)."""
    if not isinstance(row, dict):
        return {"row": _py(row)}
    return {k: _py(row[k]) for k in [*[k for k in keys if k in row], *[c for c in row if c not in keys]]}


def _describe(example: dict, keys: list[str], column: str | None) -> str:
    at = " ".join(str(example.get(k)) for k in keys)
    return f"{at}: {column} = {example.get(column)}" if column and column in example else at


def _py(v: object) -> object:
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and v != v else v


def _per_column(ctx: TableContext, spec: CheckSpec, columns: list[str], make, threshold: str, what: str):
    if not columns:
        return [CheckResult(spec.kind, ctx.table, None, spec.severity, "skipped",
                            f"{ctx.table}: none of the columns {list(spec.columns)} exists",
                            engine="great_expectations")]
    results = validate(ctx.frame(), [make(c) for c in columns], ctx.decl.key, ctx.table.replace(".", "__"))
    return [_to_result(ctx, spec, c, r, threshold, what) for c, r in zip(columns, results, strict=True)]


def unique_key(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """No two rows share the key (unit and year): a duplicated unit-year, e.g. a renamed city counted twice."""
    import great_expectations as gx

    cols = list(spec.columns) or ctx.decl.key
    exp = gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=cols) if len(cols) > 1 \
        else gx.expectations.ExpectColumnValuesToBeUnique(column=cols[0])
    res = validate(ctx.frame(), [exp], cols, ctx.table.replace(".", "__"))[0]
    out = _to_result(ctx, spec, ", ".join(cols), res, "0 duplicated keys", "unique " + "-".join(cols))
    if out.status == "failed":  # GE lists every copy; report each duplicated key once
        frame = ctx.frame()
        keys = frame.loc[frame.duplicated(cols, keep=False), cols].drop_duplicates()
        out.examples = [{c: _py(v) for c, v in row.items()} for row in keys.head(MAX_EXAMPLES).to_dict("records")]
        out.message = (f"{ctx.table}: {len(keys)} duplicated {'-'.join(cols)} key(s) ({out.n_failing} rows) — "
                       + "; ".join(_describe(e, cols, None) for e in out.examples[:3]))
    return [out]


def not_null(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Key and label columns are never null."""
    import great_expectations as gx

    cols = ctx.columns_of(spec, tuple(ctx.decl.key))
    return _per_column(ctx, spec, cols, lambda c: gx.expectations.ExpectColumnValuesToNotBeNull(column=c),
                       "no nulls", "not null")


def codes_in_dim(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Every unit code exists in the dimension table (dim_city …): no orphan codes."""
    import great_expectations as gx

    dim, dim_col = spec.param("dim"), spec.param("dim_column")
    cols = ctx.columns_of(spec, (ctx.decl.unit,) if ctx.decl.unit else ())
    schema, name = (dim if "." in dim else f"main.{dim}").split(".", 1)
    sql = f'select distinct "{dim_col or cols[0]}" from "{schema}"."{name}"'
    codes = [r[0] for r in ctx.con.execute(sql).fetchall()]
    return _per_column(ctx, spec, cols,
                       lambda c: gx.expectations.ExpectColumnValuesToBeInSet(column=c, value_set=codes),
                       f"in {schema}.{name}", f"codes present in {name}")


def _between(lo: float | None, hi: float | None, what: str):
    def run(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
        import great_expectations as gx

        low = spec.param("min", lo)
        high = spec.param("max", hi)
        cols = ctx.columns_of(spec)
        label = f"in [{'-∞' if low is None else low}, {'∞' if high is None else high}]"
        return _per_column(
            ctx, spec, cols,
            lambda c: gx.expectations.ExpectColumnValuesToBeBetween(column=c, min_value=low, max_value=high),
            label, f"{what} {label}")
    return run


share = _between(0.0, 1.0, "share")
non_negative = _between(0.0, None, "count/amount")
value_range = _between(None, None, "value")
for _fn, _doc in ((share, "Shares and rates (fractions) lie in [0, 1]."),
                  (non_negative, "Counts, amounts and populations are ≥ 0."),
                  (value_range, "Values lie within declared bounds (per-capita values, indices).")):
    _fn.__doc__ = _doc
