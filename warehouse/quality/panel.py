"""Custom panel checks GE has no expectation for: unit-of-measure jumps, gaps, coverage, balance, outliers.

All work on the table's DataFrame with a unit column and a year column; a row "has data" when any of the
numeric variable columns is non-null. Units that never report anything (三沙, Gansu's special areas in
the demo) are listed by `empty_units` and left out of coverage and balance, which measure completeness
among units that do report — so an unbalanced-by-design panel passes, a hole in a reporting unit does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from warehouse.quality.context import TableContext
from warehouse.quality.results import CheckResult, outcome
from warehouse.quality.spec import CheckSpec, resolve_columns

MAX_EXAMPLES = 5


def _variables(ctx: TableContext) -> list[str]:
    return resolve_columns(("@numeric",), ctx.columns, exclude=ctx.decl.key)


def _skip(ctx: TableContext, spec: CheckSpec, column: str | None, why: str) -> list[CheckResult]:
    return [CheckResult(spec.kind, ctx.table, column, spec.severity, "skipped", f"{ctx.table}: {why}")]


def _unique_rows(ctx: TableContext, columns: list[str]) -> pd.DataFrame:
    """Unit, year and the columns, one row per unit-year (duplicates are unique_key's finding)."""
    u, y = ctx.decl.unit, ctx.decl.year
    return ctx.frame()[[u, y, *columns]].drop_duplicates([u, y]).sort_values([u, y])


def _with_data(ctx: TableContext) -> pd.DataFrame:
    vars_ = _variables(ctx)
    rows = _unique_rows(ctx, vars_)
    return rows.assign(_has=rows[vars_].notna().any(axis=1))


def unit_jump(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """A year-over-year ratio near 10, 100 or 10,000 (or its inverse) flags a unit-of-measure mix-up
    (元/万元/亿元, 人/万人). An up-jump immediately undone the next year is reported once, at the wrong year."""
    u, y = ctx.decl.unit, ctx.decl.year
    factors = np.log10(np.asarray(spec.param("factors"), dtype=float))
    tol = float(spec.param("tolerance"))
    out = []
    for col in ctx.columns_of(spec):
        s = _unique_rows(ctx, [col]).dropna(subset=[col])
        s = s[s[col] > 0]
        prev = s.groupby(u)[col].shift(1)
        prev_year = s.groupby(u)[y].shift(1)
        lr = np.log10(s[col] / prev)
        near = np.min(np.abs(np.abs(lr.to_numpy())[:, None] - factors[None, :]), axis=1) <= tol
        jump = pd.Series(near & lr.notna().to_numpy(), index=s.index)
        # an up-jump at t followed by the opposite jump at t+1 (same unit): the value at t is wrong
        nxt_lr, nxt_jump = lr.groupby(s[u]).shift(-1), jump.groupby(s[u]).shift(-1, fill_value=False)
        undone = jump & nxt_jump.astype(bool) & (np.abs(lr + nxt_lr) <= tol)
        reported_back = undone.groupby(s[u]).shift(1, fill_value=False).astype(bool)
        mask = jump.to_numpy(dtype=bool) & ~reported_back.to_numpy(dtype=bool)
        hits = s.loc[mask].assign(_prev=prev.to_numpy()[mask], _prev_year=prev_year.to_numpy()[mask],
                                  _ratio=(10 ** lr).to_numpy()[mask])
        examples = [{u: r[u], y: int(r[y]), col: float(r[col]), "previous_year": int(r["_prev_year"]),
                     "previous": float(r["_prev"]), "ratio": round(float(r["_ratio"]), 4)}
                    for _, r in hits.head(MAX_EXAMPLES).iterrows()]
        ctx.flag(col, [(e[u], e[y]) for e in examples] + [(r[u], int(r[y])) for _, r in hits.iterrows()])
        where = f"{ctx.table}.{col}"
        msg = (f"{where}: no year-over-year ratio near ×{'/×'.join(f'{f:g}' for f in spec.param('factors'))}"
               if hits.empty else
               f"{where}: {len(hits)} unit-year(s) jump by a power of ten (unit mix-up, e.g. 万元 read as 亿元) — "
               + "; ".join(f"{e[u]} {e[y]}: {e['ratio']:g}× its {e['previous_year']} value" for e in examples[:3]))
        out.append(outcome(hits.empty, spec.kind, ctx.table, col, spec.severity, msg, observed=float(len(hits)),
                           threshold=f"|log10 ratio − k| > {tol} for k in "
                                     + ", ".join(f"{float(f):g}" for f in np.round(factors, 3)),
                           n_failing=len(hits), n_checked=int(lr.notna().sum()), examples=examples))
    return out or _skip(ctx, spec, None, "no columns to check")


def year_gaps(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Years missing inside a unit's series: between its first and last year with data, a year whose row is
    absent or has no value at all (a missing year in a file, a year dropped by a filter)."""
    u, y = ctx.decl.unit, ctx.decl.year
    rows = _with_data(ctx)
    have = rows[rows["_has"]]
    missing = []
    for unit, years in have.groupby(u)[y]:
        span = set(range(int(years.min()), int(years.max()) + 1))
        missing += [(unit, yr) for yr in sorted(span - set(years.astype(int)))]
    examples = [{u: a, y: b} for a, b in missing[:MAX_EXAMPLES]]
    msg = (f"{ctx.table}.{y}: no missing year inside any unit's series" if not missing else
           f"{ctx.table}.{y}: {len(missing)} unit-year(s) missing inside a series (row absent or all values null) — "
           + ", ".join(f"{u} {a} {y} {b}" for a, b in missing[:3]))
    # Real yearbook panels have gaps (a unit missing from one year's book); there a gap is a warning and
    # estimation takes an explicit balanced subset. In the synthetic demo a gap is a defect.
    frame = ctx.frame()
    synthetic = "is_synthetic" in frame.columns and bool(frame["is_synthetic"].fillna(False).any())
    severity = spec.severity if synthetic else "warn"
    if missing and not synthetic:
        msg += " (a warning on real data: choose a balanced subset for estimation)"
    return [outcome(not missing, spec.kind, ctx.table, y, severity, msg, observed=float(len(missing)),
                    threshold="0 missing years", n_failing=len(missing), n_checked=int(have[u].nunique()),
                    examples=examples)]


def series_gaps(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Per variable: a null inside a unit's own first..last reported year, in a row that has other data."""
    u, y = ctx.decl.unit, ctx.decl.year
    rows = _with_data(ctx)
    rows = rows[rows["_has"]]
    out = []
    for col in ctx.columns_of(spec, ("@numeric",)):
        present = rows[col].notna()
        first = rows[y].where(present).groupby(rows[u]).transform("min")
        last = rows[y].where(present).groupby(rows[u]).transform("max")
        gap = rows[~present & (rows[y] > first) & (rows[y] < last)]
        examples = [{u: r[u], y: int(r[y])} for _, r in gap.head(MAX_EXAMPLES).iterrows()]
        msg = (f"{ctx.table}.{col}: no gaps inside reporting units' series" if gap.empty else
               f"{ctx.table}.{col}: {len(gap)} null value(s) inside a unit's series — "
               + ", ".join(f"{e[u]} {e[y]}" for e in examples[:3]))
        out.append(outcome(gap.empty, spec.kind, ctx.table, col, spec.severity, msg, observed=float(len(gap)),
                           threshold="0 inner gaps", n_failing=len(gap), n_checked=int(present.sum()),
                           examples=examples))
    return out


def coverage(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Per variable and year: the share of reporting units (rows with any data) that report this variable,
    over the years the variable exists at all and the units that ever report it; the worst year is compared
    with `min_ratio`."""
    u, y = ctx.decl.unit, ctx.decl.year
    rows = _with_data(ctx)
    rows = rows[rows["_has"]]
    minimum = float(spec.param("min_ratio"))
    out = []
    for col in ctx.columns_of(spec, ("@numeric",)):
        present = rows[col].notna()
        if not present.any():
            out.append(CheckResult(spec.kind, ctx.table, col, spec.severity, "skipped", f"{ctx.table}.{col}: no data"))
            continue
        reporters = set(rows.loc[present, u])
        years = rows.loc[present, y]
        scope = rows[rows[u].isin(reporters) & rows[y].between(years.min(), years.max())]
        ratio = scope[col].notna().groupby(scope[y]).mean()
        worst = ratio.sort_values().head(MAX_EXAMPLES)
        bad = ratio[ratio < minimum]
        examples = [{y: int(k), "coverage": round(float(v), 4)} for k, v in (bad if len(bad) else worst).head(
            MAX_EXAMPLES).items()]
        msg = (f"{ctx.table}.{col}: coverage ≥ {minimum:g} in every year {int(years.min())}–{int(years.max())} "
               f"(lowest {ratio.min():.3f} in {int(ratio.idxmin())})" if bad.empty else
               f"{ctx.table}.{col}: coverage below {minimum:g} in {len(bad)} year(s) — "
               + ", ".join(f"{int(k)}: {v:.2f}" for k, v in bad.head(3).items()))
        out.append(outcome(bad.empty, spec.kind, ctx.table, col, spec.severity, msg, observed=float(ratio.min()),
                           threshold=f"≥ {minimum:g}", n_failing=len(bad), n_checked=len(ratio), examples=examples))
    return out


def balanced_panel(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Balanced-panel report: how many reporting units have data in every year of the table's span."""
    u, y = ctx.decl.unit, ctx.decl.year
    rows = _with_data(ctx)
    have = rows[rows["_has"]]
    if have.empty:
        return _skip(ctx, spec, None, "no data")
    first, last = int(have[y].min()), int(have[y].max())
    n_years = have.groupby(u)[y].nunique()
    full = n_years[n_years == last - first + 1]
    share_ = len(full) / len(n_years)
    minimum = float(spec.param("min_share"))
    short = n_years[n_years < last - first + 1].sort_values()
    examples = [{u: k, "years_with_data": int(v)} for k, v in short.head(MAX_EXAMPLES).items()]
    msg = (f"{ctx.table}: {len(full)} of {len(n_years)} reporting units have data in every year {first}–{last} "
           f"(balanced share {share_:.3f}); {len(short)} unbalanced"
           + (" — " + ", ".join(f"{e[u]} ({e['years_with_data']} years)" for e in examples[:3]) if examples else ""))
    return [outcome(share_ >= minimum, spec.kind, ctx.table, None, spec.severity, msg, observed=share_,
                    threshold=f"≥ {minimum:g}", n_failing=len(short), n_checked=len(n_years), examples=examples)]


def empty_units(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Units with rows but no value in any year (no data source covers them)."""
    u = ctx.decl.unit
    rows = _with_data(ctx)
    any_data = rows.groupby(u)["_has"].any()
    empty = any_data[~any_data].index.tolist()
    msg = (f"{ctx.table}: every unit reports some data" if not empty else
           f"{ctx.table}: {len(empty)} unit(s) without any data — {', '.join(map(str, empty[:5]))}")
    return [outcome(not empty, spec.kind, ctx.table, None, spec.severity, msg, observed=float(len(empty)),
                    threshold="0 units", n_failing=len(empty), n_checked=len(any_data),
                    examples=[{u: e} for e in empty[:MAX_EXAMPLES]])]


def outliers(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Robust within-year outliers: |x − median| / (1.4826 MAD) above `max_z`, on log scale for positive
    variables (log1p for non-negative ones with zeros, such as patent counts). Values another check already
    explained (a unit jump, an out-of-range share) are not repeated."""
    u, y = ctx.decl.unit, ctx.decl.year
    max_z = float(spec.param("max_z"))
    out = []
    for col in ctx.columns_of(spec, ("@numeric",)):
        s = _unique_rows(ctx, [col]).dropna(subset=[col])
        if s.empty:
            continue
        v = s[col]
        x = np.log(v) if (v > 0).all() else np.log1p(v) if (v >= 0).all() else v
        med = x.groupby(s[y]).transform("median")
        mad = (x - med).abs().groupby(s[y]).transform("median") * 1.4826
        z = ((x - med) / mad.where(mad > 0)).abs()
        known = ctx.flagged.get(col, set())
        flag = (z > max_z) & ~pd.Series([(a, int(b)) in known for a, b in zip(s[u], s[y], strict=True)],
                                         index=s.index)
        hits = s.loc[flag.to_numpy()].assign(_z=z.to_numpy()[flag.to_numpy()]).sort_values("_z", ascending=False)
        examples = [{u: r[u], y: int(r[y]), col: float(r[col]), "robust_z": round(float(r["_z"]), 1)}
                    for _, r in hits.head(MAX_EXAMPLES).iterrows()]
        msg = (f"{ctx.table}.{col}: no within-year robust z above {max_z:g}" if hits.empty else
               f"{ctx.table}.{col}: {len(hits)} within-year outlier(s) — "
               + ", ".join(f"{e[u]} {e[y]} (z={e['robust_z']})" for e in examples[:3]))
        out.append(outcome(hits.empty, spec.kind, ctx.table, col, spec.severity, msg,
                           observed=float(z.max()) if z.notna().any() else None, threshold=f"robust z ≤ {max_z:g}",
                           n_failing=len(hits), n_checked=len(s), examples=examples))
    return out or _skip(ctx, spec, None, "no columns to check")
