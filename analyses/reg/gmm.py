"""Dynamic-panel GMM as xtabond2 computes it: Arellano–Bond difference GMM and Blundell–Bond system GMM, one- or
two-step (Roodman 2009, "How to do xtabond2", Stata Journal 9(1)).

    fit = difference_gmm("abdata.csv", "n", lags=2, exog=["w", "L.w", "k", "L.k", "L2.k", "ys", "L.ys", "L2.ys"],
                         unit="id", time="year", steps=1)
    fit = system_gmm("abdata.csv", "n", exog=["w", "L.w", "k", "L.k"], endogenous=["w", "k"], unit="id",
                     time="year", small=True)        # Roodman's section 3.4 example
    fit.table; fit.tests      # AR(1), AR(2), Sargan, Hansen, difference-in-Hansen; fit.n_instruments

Both run on one stacked system (`_stacked_gmm`): the equation in first differences (and, for system GMM, in levels)
with GMM-style instruments held sparse (one column per period and lag, missing as zeros, or one per lag with
`collapse`), one-step weights (Σ_i Z_i'HZ_i)⁻¹ computed as (A'Z)'(A'Z) with A the rows' combinations of the unit's
level errors, and unit sums by a sparse indicator — no per-unit loop. Written here, not taken from a library:
linearmodels has no dynamic-panel GMM, and pydynpd 0.2.2 (the Python port of xtabond2) fails on numpy 2 (np.in1d,
float() of arrays); its results could not be used as a cross-check either. Checked instead against the xtabond2
output Roodman prints (tests/unit/test_reg_gmm.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from analyses.reg.prepare import RegError


@dataclass
class GMMResult:
    """Coefficients, specification tests and the instrument count of a difference-GMM fit."""

    table: pd.DataFrame  # term, coef, se, z, p
    tests: pd.DataFrame  # test, statistic, df, p_value
    nobs: int
    n_units: int
    n_instruments: int
    steps: int
    robust: bool
    y: str
    source: str = "DataFrame"
    quality: str = "not-checked"
    unit: str | None = None
    time: str | None = None
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        def num(v):
            v = v.item() if hasattr(v, "item") else v
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"y": self.y, "nobs": self.nobs, "n_units": self.n_units, "n_instruments": self.n_instruments,
                "steps": self.steps, "robust": self.robust, "source": self.source, "quality": self.quality,
                "estimates": [{k: num(v) for k, v in r.items()} for r in self.table.to_dict("records")],
                "tests": [{k: num(v) for k, v in r.items()} for r in self.tests.to_dict("records")]}


def difference_gmm(data: Any, y: str, *, lags: int = 1, exog: Sequence[str] = (), unit: str | None = None,
                   time: str | None = None, steps: int = 1, robust: bool = True, time_dummies: bool = True,
                   collapse: bool = False, max_lag: int | None = None, con=None, where: str | None = None,
                   allow_failing_checks: bool = False, endogenous: Sequence[str] = (),
                   predetermined: Sequence[str] = (), small: bool = False) -> GMMResult:
    """Arellano–Bond difference GMM of y on its `lags` lags and the regressors `exog` (``L.x`` allowed): strictly
    exogenous unless their variable is in `endogenous` / `predetermined` (then GMM-style); `system_gmm` with
    ``level=False``."""
    return system_gmm(data, y, lags=lags, exog=exog, endogenous=endogenous, predetermined=predetermined, unit=unit,
                      time=time, steps=steps, robust=robust, small=small, time_dummies=time_dummies,
                      collapse=collapse, max_lag=max_lag, level=False, con=con, where=where,
                      allow_failing_checks=allow_failing_checks)


def _gmm(X, Z, y, W):
    zx = Z.T @ X
    M = zx.T @ W @ zx
    Minv = np.linalg.inv(M)
    return Minv @ zx.T @ W @ (Z.T @ y), Minv


def _pinv(m: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a symmetric matrix by its eigen-decomposition (eigenvalues below 1e-12 of the largest
    set to zero)."""
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    cut = 1e-12 * max(abs(vals).max(), 1e-300)
    inv = np.where(np.abs(vals) > cut, 1 / np.where(vals == 0, 1, vals), 0.0)
    return (vecs * inv) @ vecs.T


def _score_cov(Z, u, starts):
    """Σ_i (Z_i'u_i)(Z_i'u_i)'."""
    A = np.add.reduceat(Z * u[:, None], starts, axis=0)
    return A.T @ A


# ---------------------------------------------------------------------------------------------------------------
# System GMM (Arellano & Bover 1995; Blundell & Bond 1998), and difference GMM with GMM-style regressors, on the
# stacked system of xtabond2 (Roodman 2009, section 3.4)
# ---------------------------------------------------------------------------------------------------------------

_TERM = re.compile(r"^(?:L(\d*)\.)?([^\W\d]\w*)$")  # Unicode column names allowed


def system_gmm(data: Any, y: str, *, lags: int = 1, exog: Sequence[str] = (), endogenous: Sequence[str] = (),
               predetermined: Sequence[str] = (), unit: str | None = None, time: str | None = None, steps: int = 1,
               robust: bool = True, small: bool = False, time_dummies: bool = True, collapse: bool = False,
               max_lag: int | None = None, level: bool = True, con=None, where: str | None = None,
               allow_failing_checks: bool = False) -> GMMResult:
    """Blundell–Bond system GMM (``level=True``) or Arellano–Bond difference GMM (``level=False``) of y on its
    `lags` lags and the regressors `exog` (``L.x``, ``L2.x`` allowed), as xtabond2 computes them.

    Instruments, for the equation in first differences: y dated t−2 and earlier, each variable of `endogenous`
    dated t−2 and earlier and each of `predetermined` dated t−1 and earlier ("GMM-style", one column per period and
    lag, or per lag with `collapse`, `max_lag` the deepest lag); the regressors of `exog` whose variable is in
    neither list are strictly exogenous and instrument themselves ("IV-style"). For the equation in levels (system
    GMM): the first differences Δy_{t−1}, Δw_{t−1} (endogenous w) and Δw_t (predetermined w), the levels of the
    strictly exogenous regressors in the same column as their differences, the constant and the year dummies
    (levels only, as `ivstyle(yr*, equation(level))` in Roodman's example). Difference GMM instruments the
    differenced year dummies instead.

    One-step weights (Σ_i Z_i'HZ_i)⁻¹ with H the covariance of the stacked errors [Δv_i; v_i] when v is iid with
    unit variance (xtabond2's default h(3)); two-step weights from the one-step residuals; robust one-step SEs the
    unit-cluster sandwich, two-step SEs Windmeijer-corrected. σ̂² = ΣΔê²/(2N), N the observation count xtabond2
    prints (the levels equation's in system GMM; no k), Sargan =
    ê'Z(Σ Z'HZ)⁻¹Z'ê/σ̂² at the one-step estimate, Hansen J at the two-step one (reported after either step),
    difference-in-Hansen for each instrument group (the level equation's GMM instruments, each GMM-style variable,
    the exogenous regressors, the year dummies) when the rest still identifies the model; AR(m) is Arellano and
    Bond's test on the residuals in differences with the robust variance (xtabond2's formula after `robust` or
    `twostep`; after a one-step non-robust fit xtabond2 switches to an H-based variance, not implemented here, so
    AR(m) then differs from its output). `small`: t statistics on N_units − 1 (− the constant) degrees of freedom
    and the variance times (N−1)/(N−k)·G/(G−1), as xtabond2's `small`.
    """
    from analyses.reg.fit import gate
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    if steps not in (1, 2):
        raise RegError(f"steps {steps}: 1 or 2")
    if lags < 1:
        raise RegError(f"lags {lags}: at least 1")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where)
    except DataError as exc:
        raise RegError(str(exc)) from exc
    if panel.unit is None or panel.time is None:
        raise RegError(f"{panel.source}: dynamic-panel GMM needs --unit and --time")
    core = _stacked_gmm(panel.frame, y, panel.unit, panel.time, lags=lags, exog=list(exog),
                        endogenous=list(endogenous), predetermined=list(predetermined), steps=steps, robust=robust,
                        small=small, time_dummies=time_dummies, collapse=collapse, max_lag=max_lag, level=level,
                        source=panel.source)
    core.quality = gate(con, panel, allow_failing_checks)
    return core


def _parse_term(term: str) -> tuple[str, int]:
    m = _TERM.match(term.strip())
    if not m:
        raise RegError(f"{term!r}: a regressor is a column name, optionally lagged as L.x or L2.x")
    return m.group(2), 0 if m.group(1) is None else int(m.group(1) or 1)


def _stacked_gmm(frame: pd.DataFrame, y: str, u_col: str, t_col: str, *, lags: int, exog: list[str],
                 endogenous: list[str], predetermined: list[str], steps: int, robust: bool, small: bool,
                 time_dummies: bool, collapse: bool, max_lag: int | None, level: bool, source: str) -> GMMResult:
    terms = [_parse_term(t) for t in exog]
    gmm_vars = {y: 2, **{v: 2 for v in endogenous}, **{v: 1 for v in predetermined}}  # first lag used in differences
    needed = list(dict.fromkeys([y, *(v for v, _ in terms), *endogenous, *predetermined]))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise RegError(f"{source}: no column {missing[0]!r}")
    if frame.duplicated([u_col, t_col]).any():
        raise RegError(f"{source}: one row per {u_col} and {t_col} is needed")
    times = pd.to_numeric(frame[t_col], errors="coerce")
    if times.isna().any() or (times % 1 != 0).any():
        raise RegError(f"{source}: {t_col} must be whole numbers (years) for lags and differences")
    units, upos = np.unique(frame[u_col].astype(str).to_numpy(), return_inverse=True)
    t0, t1 = int(times.min()), int(times.max())
    years = np.arange(t0, t1 + 1)
    N, T = len(units), len(years)
    tpos = (times.to_numpy(int) - t0)

    def grid(col: str) -> np.ndarray:
        g = np.full((N, T), np.nan)
        g[upos, tpos] = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        return g

    def lag(g: np.ndarray, k: int) -> np.ndarray:
        if k == 0:
            return g
        out = np.full_like(g, np.nan)
        if k > 0:
            out[:, k:] = g[:, :-k] if k < T else np.nan
        else:
            out[:, :k] = g[:, -k:]
        return out

    base = {c: grid(c) for c in needed}
    xnames = [f"L.{y}" if j == 1 else f"L{j}.{y}" for j in range(1, lags + 1)] + [t.strip() for t in exog]
    xgrids = [lag(base[y], j) for j in range(1, lags + 1)] + [lag(base[v], k) for v, k in terms]
    Y = base[y]
    Xg = np.stack(xgrids, axis=-1)  # N × T × K
    dY = Y - lag(Y, 1)
    dX = Xg - np.stack([lag(g, 1) for g in xgrids], axis=-1)
    ok_d = np.isfinite(dY) & np.isfinite(dX).all(axis=-1)
    ok_l = (np.isfinite(Y) & np.isfinite(Xg).all(axis=-1)) if level else np.zeros((N, T), bool)
    # stacked rows sorted by unit, then equation (differences first), then year
    di, dt = np.nonzero(ok_d)
    li, lt = np.nonzero(ok_l)
    r_unit = np.r_[di, li]
    r_time = np.r_[dt, lt]
    r_eq = np.r_[np.zeros(len(di), int), np.ones(len(li), int)]
    order = np.lexsort((r_time, r_eq, r_unit))
    r_unit, r_time, r_eq = r_unit[order], r_time[order], r_eq[order]
    R = len(r_unit)
    if R == 0:
        raise RegError(f"{source}: no observation has y, its lags and the regressors")
    isd, isl = r_eq == 0, r_eq == 1
    yv = np.where(isd, dY[r_unit, r_time], Y[r_unit, r_time])
    Xv = np.where(isd[:, None], dX[r_unit, r_time], Xg[r_unit, r_time])
    # regressors: the constant (levels only), the year dummies, in that order for the collinearity check
    cols: dict[str, np.ndarray] = {}
    if level:
        cols["_cons"] = isl.astype(float)
    year_names = []
    if time_dummies:
        for j, yr in enumerate(years):
            d = (r_time == j).astype(float)
            diff = d - (r_time - 1 == j)
            cols[f"year_{yr}"] = np.where(isl, d, diff) if level else diff
            year_names.append(f"year_{yr}")
    Xfull = np.column_stack([Xv, *cols.values()]) if cols else Xv
    allx = xnames + list(cols)
    first = ([allx.index("_cons")] if "_cons" in cols else []) + [i for i, n in enumerate(allx) if n != "_cons"]
    keep = _keep_independent(Xfull[:, first].T @ Xfull[:, first])
    kept = sorted(first[i] for i in keep)
    X = Xfull[:, kept]
    x_out = [allx[i] for i in kept]
    k = X.shape[1]
    # instruments: (name, group, column) with the IV-style ones first, then GMM-style
    zcols: list[tuple[str, str, Any]] = []
    if level:
        zcols.append(("_cons", "_cons", isl.astype(float)))
    iv_terms = [(n, g) for n, g, (v, _) in zip(xnames[lags:], xgrids[lags:], terms, strict=True) if v not in gmm_vars]
    for name, g in iv_terms:
        d = g - lag(g, 1)
        col = np.where(isd, d[r_unit, r_time], g[r_unit, r_time])
        with_years = [] if level or not year_names else ["year dummies"]
        group = "iv(" + " ".join([*(n for n, _ in iv_terms), *with_years]) + ")"
        zcols.append((f"iv:{name}", group, np.nan_to_num(col)))
    for name in year_names:
        c = cols[name]
        # difference GMM: one IV group with the exogenous regressors, as Roodman's iv(w L.w … yr*) nolevel
        group = "iv(year dummies, eq(level))" if level else "iv(" + " ".join([*(n for n, _ in iv_terms),
                                                                               "year dummies"]) + ")"
        zcols.append((name, group, np.where(isl, c, 0.0) if level else c))
    rows_gmm, cols_gmm, vals_gmm, gnames, ggroups = [], [], [], [], []
    index: dict[tuple, int] = {}

    def put(rows: np.ndarray, key: tuple, group: str, values: np.ndarray) -> None:
        good = np.isfinite(values) & (values != 0)
        if not good.any():
            return
        c = index.setdefault(key, len(index))
        if c == len(gnames):
            gnames.append(":".join(map(str, key)))
            ggroups.append(group)
        rows_gmm.append(rows[good])
        cols_gmm.append(np.full(good.sum(), c))
        vals_gmm.append(values[good])

    d_rows = np.flatnonzero(isd)
    l_rows = np.flatnonzero(isl)
    for v, first_lag in gmm_vars.items():
        g = base[v]
        top = T if max_lag is None else max_lag
        for ell in range(first_lag, max(first_lag, top) + 1):
            tt = r_time[d_rows] - ell
            inside = tt >= 0
            vals = np.full(len(d_rows), np.nan)
            vals[inside] = g[r_unit[d_rows][inside], tt[inside]]
            if collapse:
                put(d_rows, ("d", v, ell), f"gmm({v})", vals)
            else:
                for j in np.unique(r_time[d_rows]):
                    at = r_time[d_rows] == j
                    put(d_rows[at], ("d", v, int(years[j]), ell), f"gmm({v})", vals[at])
        if level:
            dg = g - lag(g, 1)
            ell = first_lag - 1
            tt = r_time[l_rows] - ell
            inside = tt >= 0
            vals = np.full(len(l_rows), np.nan)
            vals[inside] = dg[r_unit[l_rows][inside], tt[inside]]
            if collapse:
                put(l_rows, ("l", v, ell), "GMM instruments for levels", vals)
            else:
                for j in np.unique(r_time[l_rows]):
                    at = r_time[l_rows] == j
                    put(l_rows[at], ("l", v, int(years[j]), ell), "GMM instruments for levels", vals[at])
    Ziv = np.column_stack([c for _, _, c in zcols]) if zcols else np.zeros((R, 0))
    Zg = sparse.csr_matrix((np.concatenate(vals_gmm) if vals_gmm else [],
                            (np.concatenate(rows_gmm) if rows_gmm else [],
                             np.concatenate(cols_gmm) if cols_gmm else [])), shape=(R, len(gnames)))
    Zall = sparse.hstack([sparse.csr_matrix(Ziv), Zg]).tocsr()
    z_groups = [g for _, g, _ in zcols] + ggroups
    zkeep = _keep_independent((Zall.T @ Zall).toarray())
    Z = Zall[:, zkeep].tocsr()
    z_groups = [z_groups[i] for i in zkeep]
    j0 = Z.shape[1]
    if j0 < k:
        raise RegError(f"{source}: {j0} instruments for {k} regressors — the equation is not identified")
    # H: rows are linear combinations of the unit's level errors — +1 at (i, t), −1 at (i, t−1) for a difference
    cell = r_unit * T + r_time
    A = sparse.csr_matrix((np.r_[np.ones(R), -np.ones(isd.sum())],
                           (np.r_[np.arange(R), d_rows], np.r_[cell, cell[d_rows] - 1])), shape=(R, N * T))
    AZ = (A.T @ Z).tocsc()
    ZHZ = (AZ.T @ AZ).toarray()
    starts = np.flatnonzero(np.r_[True, r_unit[1:] != r_unit[:-1]])
    G = sparse.csr_matrix((np.ones(R), (np.searchsorted(starts, np.arange(R), side="right") - 1, np.arange(R))),
                          shape=(len(starts), R))
    ZX = np.asarray(Z.T @ X)
    Zy = np.asarray(Z.T @ yv).ravel()
    W1 = _pinv(ZHZ)
    M1inv = np.linalg.inv(ZX.T @ W1 @ ZX)
    b1 = M1inv @ ZX.T @ W1 @ Zy
    e1 = yv - X @ b1
    n_diff = int(isd.sum())
    nobs = int(isl.sum()) if level else n_diff
    # xtabond2 divides the squared residuals in differences by the observation count it prints (the levels
    # equation's in system GMM): Roodman's (2009) Sargan of 186.90 for his system example needs it
    sig2_1 = float(e1[isd] @ e1[isd]) / 2 / nobs
    ze1 = np.asarray(Z.T @ e1).ravel()
    sargan = float(ze1 @ W1 @ ze1) / sig2_1
    a1 = np.asarray((G @ Z.multiply(e1[:, None])).todense())  # per unit: Z_i'ê1_i
    S = a1.T @ a1
    W2 = _pinv(S)
    M2inv = np.linalg.inv(ZX.T @ W2 @ ZX)
    b2 = M2inv @ ZX.T @ W2 @ Zy
    e2 = yv - X @ b2
    ze2 = np.asarray(Z.T @ e2).ravel()
    hansen = float(ze2 @ W2 @ ze2)
    V1r = M1inv @ ZX.T @ W1 @ S @ W1 @ ZX @ M1inv
    if steps == 1:
        b, e, W, Minv = b1, e1, W1, M1inv
        V = V1r if robust else sig2_1 * M1inv
    else:
        b, e, W, Minv = b2, e2, W2, M2inv
        if robust:
            # Windmeijer (2005): D_j = −M2⁻¹X'ZW2 (∂S/∂β_j) W2 Z'ê2, ∂S/∂β_j = −Σ_i Z_i'(x_ij ê1_i' + ê1_i x_ij')Z_i
            v = W2 @ ze2
            av = a1 @ v  # per unit: ê1_i'Z_i W2 Z'ê2
            D = np.empty((k, k))
            left = M2inv @ ZX.T @ W2
            zv = np.asarray(Z @ v).ravel()
            cx = G @ (X * zv[:, None])  # per unit: x_ij' Z_i W2 Z'ê2
            czx = np.asarray(Z.T @ (X * av[_row_units(starts, R)][:, None]))  # Σ_i Z_i'x_ij (ê1_i'Z_i W2 Z'ê2)
            for j in range(k):
                dS_v = -(a1.T @ cx[:, j] + czx[:, j])
                D[:, j] = -left @ dS_v
            V = M2inv + D @ M2inv + M2inv @ D.T + D @ V1r @ D.T
        else:
            V = M2inv
    V = (V + V.T) / 2
    n_units = len(starts)
    factor = 1.0
    if small:
        factor = (nobs / (nobs - k) if (steps == 1 and not robust) else
                  (nobs - 1) / (nobs - k) * n_units / (n_units - 1))
    se = np.sqrt(np.diag(V) * factor)
    z = b / se
    if small:
        dof = (nobs - k if (steps == 1 and not robust) else n_units) - (1 if level else 0)
        p = 2 * stats.t.sf(np.abs(z), dof)
    else:
        p = 2 * stats.norm.sf(np.abs(z))
    names = [("_cons" if n == "_cons" else n) for n in x_out]
    order_out = [i for i, n in enumerate(names) if n != "_cons"] + [i for i, n in enumerate(names) if n == "_cons"]
    table = pd.DataFrame({"term": [names[i] for i in order_out], "coef": b[order_out], "se": se[order_out],
                          "z": z[order_out], "p": p[order_out]})
    tests = []
    ru = _row_units(starts, R)
    for m in (1, 2):
        stat = _ar_stacked(e, X, Z, W, Minv, V, isd, r_unit, r_time, ru, G, m, N, T)
        tests.append({"test": f"Arellano-Bond AR({m}) in first differences", "statistic": stat, "df": None,
                      "p_value": float(2 * stats.norm.sf(abs(stat))) if math.isfinite(stat) else math.nan})
    df_over = j0 - k
    tests.append({"test": "Sargan (not robust)", "statistic": sargan, "df": df_over,
                  "p_value": float(stats.chi2.sf(sargan, df_over))})
    tests.append({"test": "Hansen J", "statistic": hansen, "df": df_over,
                  "p_value": float(stats.chi2.sf(hansen, df_over))})
    for group in dict.fromkeys(z_groups):
        if group == "_cons":
            continue
        rest = [i for i, g in enumerate(z_groups) if g != group]
        if len(rest) < k or len(rest) >= j0:
            continue
        Spp = _pinv(S[np.ix_(rest, rest)])
        zx = ZX[rest]
        br = np.linalg.solve(zx.T @ Spp @ zx, zx.T @ Spp @ Zy[rest])
        ze = np.asarray(Z[:, rest].T @ (yv - X @ br)).ravel()
        h_ex = float(ze @ Spp @ ze)
        df_ex, df_g = len(rest) - k, j0 - len(rest)
        tests.append({"test": f"Hansen excluding {group}", "statistic": h_ex, "df": df_ex,
                      "p_value": float(stats.chi2.sf(h_ex, df_ex)) if df_ex else math.nan})
        tests.append({"test": f"Difference-in-Hansen {group}", "statistic": hansen - h_ex, "df": df_g,
                      "p_value": float(stats.chi2.sf(hansen - h_ex, df_g))})
    return GMMResult(table=table, tests=pd.DataFrame(tests), nobs=nobs, n_units=n_units, n_instruments=j0,
                     steps=steps, robust=robust, y=y, source=source, unit=u_col, time=t_col,
                     extras={"X": X, "Z": Z, "y": yv, "starts": starts, "W1": W1, "b1": b1, "groups": z_groups,
                             "x_names": x_out,
                             "system": level, "small": small, "n_diff": n_diff})


def _row_units(starts: np.ndarray, n: int) -> np.ndarray:
    """The unit index of each row, units in contiguous blocks starting at `starts`."""
    return np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))


def _ar_stacked(e, X, Z, W, Minv, V, isd, r_unit, r_time, ru, G, m, N, T) -> float:
    """Arellano–Bond AR(m) on the residuals in differences of the stacked system (xtabond2's robust form):
    Σ ê_t ê_{t−m} over √(Σ_i s_i² − 2 w'X M⁻¹X'ZW Σ_i Z_i'ê_i s_i + w'X V X'w), s_i the unit's sum of products."""
    grid = np.zeros((N, T))
    have = np.zeros((N, T), bool)
    grid[r_unit[isd], r_time[isd]] = e[isd]
    have[r_unit[isd], r_time[isd]] = True
    lagged = np.zeros((N, T))
    if m < T:
        lagged[:, m:] = np.where(have[:, :-m], grid[:, :-m], 0.0)
    wl = np.where(isd, lagged[r_unit, r_time], 0.0)  # at each differenced row, the residual m periods earlier
    prod = np.where(isd, e, 0.0) * wl
    per = np.asarray(G @ prod).ravel()
    if not per.any():
        return math.nan
    wX = wl @ X
    ZX = np.asarray(Z.T @ X)
    zes = np.asarray(Z.T @ (e * per[ru])).ravel()
    var = float(per @ per - 2 * wX @ Minv @ ZX.T @ W @ zes + wX @ V @ wX)
    return float(per.sum() / math.sqrt(var)) if var > 0 else math.nan


def _keep_independent(gram: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Columns kept left to right while they add rank, judged on their Gram matrix (a column stays when its
    residual on the kept ones keeps > tol of its squared norm): an incremental Cholesky factor, O(L³)."""
    from scipy.linalg import solve_triangular

    keep: list[int] = []
    Lf = np.zeros((0, 0))
    for j in range(gram.shape[0]):
        gjj = gram[j, j]
        if gjj <= 0:
            continue
        if keep:
            r = solve_triangular(Lf, gram[keep, j], lower=True)
            resid = gjj - r @ r
        else:
            r, resid = np.zeros(0), gjj
        if resid > tol * gjj:
            n = len(keep)
            new = np.zeros((n + 1, n + 1))
            new[:n, :n] = Lf
            new[n, :n] = r
            new[n, n] = math.sqrt(resid)
            Lf = new
            keep.append(j)
    return keep
