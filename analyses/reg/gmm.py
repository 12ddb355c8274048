"""Difference GMM for dynamic panels (Arellano & Bond 1991), one- or two-step, as xtabond2 computes it.

    fit = difference_gmm("abdata.csv", "n", lags=2, exog=["w", "L.w", "k", "L.k", "L2.k", "ys", "L.ys", "L2.ys"],
                         unit="id", time="year", steps=1)
    fit.table; fit.tests      # AR(1), AR(2), Sargan, Hansen; fit.n_instruments

The equation y_it = Σ α_j y_i,t−j + β'x_it + year effects + μ_i + ε_it is first-differenced. Instruments: every
available level y_is, s ≤ t − 2, one column per (t, s) — "GMM-style", missing values as zeros, `collapse=True`
for one column per lag (Roodman 2009) and `max_lag` to stop at t − max_lag —, and the first differences of the
strictly exogenous `exog` and of the year dummies ("IV-style"). One-step weights (Σ Z_i'HZ_i)⁻¹, H with 2 on the
diagonal and −1 beside it; two-step weights from the one-step residuals, with Windmeijer's (2005) corrected
variance. Robust one-step SEs are the cluster (unit) sandwich. AR(m) is Arellano & Bond's m-statistic of the
differenced residuals; Sargan uses the one-step non-robust weighting, Hansen J the two-step one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from analyses.reg.prepare import RegError, add_lags, operator_columns


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
                   allow_failing_checks: bool = False) -> GMMResult:
    """Arellano–Bond difference GMM of y on its `lags` lags and the strictly exogenous `exog` (`L.x` allowed)."""
    from analyses.reg.fit import gate
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    if steps not in (1, 2):
        raise RegError(f"steps {steps}: 1 or 2")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where)
    except DataError as exc:
        raise RegError(str(exc)) from exc
    if panel.unit is None or panel.time is None:
        raise RegError(f"{panel.source}: difference GMM needs --unit and --time")
    u_col, t_col = panel.unit, panel.time
    ylags = [f"L{j}.{y}" if j > 1 else f"L.{y}" for j in range(1, lags + 1)]
    names = [*ylags, *exog]
    text, made = operator_columns(" + ".join([y, *names]))
    cols = [c.strip() for c in text.split("+")]
    frame = add_lags(panel.frame, made, u_col, t_col)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise RegError(f"{panel.source}: no column {missing[0]!r}")
    frame = frame.sort_values([u_col, t_col]).reset_index(drop=True)
    years = sorted(frame[t_col].unique())
    # first differences: each variable minus its value one period earlier (same unit)
    prev = frame[[u_col, t_col, *cols]].assign(**{t_col: frame[t_col] + 1})
    merged = frame[[u_col, t_col, *cols]].merge(prev, on=[u_col, t_col], how="left", suffixes=("", "__prev"))
    D = pd.DataFrame({c: merged[c] - merged[f"{c}__prev"] for c in cols})
    regs = cols[1:]
    if time_dummies:
        for yr in years[1:]:
            D[f"year_{yr}"] = (merged[t_col] == yr).astype(float) - (merged[t_col] - 1 == yr).astype(float)
    ok = D.notna().all(axis=1).to_numpy()
    est = merged[ok].reset_index(drop=True)
    D = D[ok].reset_index(drop=True)
    year_cols = [c for c in D.columns if c.startswith("year_") and D[c].abs().sum() > 0]
    X = D[regs + year_cols]
    dy = D[cols[0]].to_numpy()
    # GMM-style instruments: levels of y dated t − 2 and earlier
    # the levels of y as a unit × year array (NaN where missing), looked up by position
    units = pd.Index(frame[u_col].unique())
    wide = np.full((len(units), len(years)), np.nan)
    wide[units.get_indexer(frame[u_col]), np.searchsorted(years, frame[t_col])] = frame[cols[0]].to_numpy(float)
    unit_pos = units.get_indexer(est[u_col])
    first_lag = 2
    gmm_cols: dict[str, np.ndarray] = {}
    for t in sorted(est[t_col].unique()):
        at_t = np.flatnonzero((est[t_col] == t).to_numpy())
        top = t - first_lag
        bottom = years[0] if max_lag is None else max(years[0], t - max_lag)
        for s in range(top, bottom - 1, -1):
            key = f"L{t - s}" if collapse else f"{s}@{t}"
            col = gmm_cols.setdefault(key, np.zeros(len(est)))
            pos = int(np.searchsorted(years, s))
            if pos < len(years) and years[pos] == s:
                col[at_t] += np.nan_to_num(wide[unit_pos[at_t], pos])
    Zg = pd.DataFrame(gmm_cols)
    Z = pd.concat([Zg.loc[:, Zg.abs().sum() > 0], D[[*cols[1 + lags:], *year_cols]]], axis=1)
    xk, zk = _independent(X), _independent(Z)
    Xa, Za = X[xk].to_numpy(float), Z[zk].to_numpy(float)
    groups = pd.factorize(est[u_col])[0]  # rows are sorted by unit: each unit's rows are one block
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    rows_of = starts
    # Σ_i Z_i'HZ_i = 2Z'Z − Z'Z₋ − Z₋'Z, Z₋ the previous row of the same unit (H: 2 on the diagonal, −1 beside it)
    Zs = sparse.csr_matrix(Za)  # GMM-style blocks are mostly zeros: cross products on the sparse form
    prev_rows = np.arange(len(Za)) - 1
    keep_prev = np.ones(len(Za), dtype=bool)
    keep_prev[starts] = False
    shift = sparse.csr_matrix((np.ones(keep_prev.sum()), (np.flatnonzero(keep_prev), prev_rows[keep_prev])),
                              shape=(len(Za), len(Za)))
    cross = (Zs.T @ (shift @ Zs)).toarray()
    A1 = 2 * (Zs.T @ Zs).toarray() - cross - cross.T
    W1 = _pinv(A1)
    b1, M1inv = _gmm(Xa, Za, dy, W1)
    u1 = dy - Xa @ b1
    S1 = _score_cov(Za, u1, rows_of)
    n_units, n = len(rows_of), len(dy)
    if steps == 1:
        b = b1
        if robust:
            V = M1inv @ (Xa.T @ Za) @ W1 @ S1 @ W1 @ (Za.T @ Xa) @ M1inv
        else:
            sigma2 = float(u1 @ u1) / (n - Xa.shape[1]) / 2  # Var(Δε) = 2σ²: the H matrix carries the 2
            V = M1inv * sigma2
        W_used, u = W1, u1
    else:
        W2 = _pinv(S1)
        b, M2inv = _gmm(Xa, Za, dy, W2)
        u = dy - Xa @ b
        V = M2inv if not robust else _windmeijer(Xa, Za, dy, u1, b, M2inv, W2, rows_of, M1inv, W1)
        W_used = W2
    se = np.sqrt(np.diag(V))
    z = b / se
    table = pd.DataFrame({"term": [_name(c) for c in xk], "coef": b, "se": se, "z": z,
                          "p": 2 * stats.norm.sf(np.abs(z))})
    tests = []
    for m in (1, 2):
        stat = _ar_test(u, Xa, Za, W_used, V, est, u_col, t_col, m)
        tests.append({"test": f"Arellano-Bond AR({m}) in first differences", "statistic": stat, "df": None,
                      "p_value": float(2 * stats.norm.sf(abs(stat)))})
    df_over = Za.shape[1] - Xa.shape[1]
    zu1 = Za.T @ u1
    # the one-step criterion over σ̂² = û'û / 2(N − k) (Var Δε = 2σ²; H carries the 2)
    sargan = float(zu1 @ W1 @ zu1) / (float(u1 @ u1) / (2 * (n - Xa.shape[1])))
    b2 = b if steps == 2 else _gmm(Xa, Za, dy, _pinv(S1))[0]
    g2 = Za.T @ (dy - Xa @ b2)
    hansen = float(g2 @ _pinv(S1) @ g2)  # the two-step criterion, reported after either step
    tests.append({"test": "Sargan (not robust)", "statistic": sargan, "df": df_over,
                  "p_value": float(stats.chi2.sf(sargan, df_over))})
    tests.append({"test": "Hansen J", "statistic": hansen, "df": df_over,
                  "p_value": float(stats.chi2.sf(hansen, df_over))})
    return GMMResult(table=table, tests=pd.DataFrame(tests), nobs=n, n_units=n_units, n_instruments=Za.shape[1],
                     steps=steps, robust=robust, y=y, source=panel.source,
                     quality=gate(con, panel, allow_failing_checks), unit=u_col, time=t_col,
                     extras={"X": Xa, "Z": Za, "dy": dy, "rows_of": rows_of, "W1": W1, "b1": b1})


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


def _unit_sums(a: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of the rows of `a` within each unit's block (rows sorted by unit, blocks starting at `starts`)."""
    return np.add.reduceat(a, starts, axis=0)


def _score_cov(Z, u, starts):
    """Σ_i (Z_i'u_i)(Z_i'u_i)'."""
    A = _unit_sums(Z * u[:, None], starts)
    return A.T @ A


def _windmeijer(X, Z, y, u1, b2, M2inv, W2, rows_of, M1inv, W1):
    """Windmeijer (2005) finite-sample corrected variance of the two-step estimator."""
    n_par = X.shape[1]
    zx = Z.T @ X
    u2 = y - X @ b2
    g2 = Z.T @ u2
    D = np.empty((n_par, n_par))
    a = _unit_sums(Z * u1[:, None], rows_of)
    v = W2 @ g2
    av = a @ v
    left = M2inv @ zx.T @ W2
    zv = Z @ v
    units = np.repeat(np.arange(len(rows_of)), np.diff(np.r_[rows_of, len(Z)]))
    for j in range(n_par):
        # c = Σ_i∈unit z_i x_ij (units × L); only c @ v and c' @ (a v) are needed
        c_v = np.bincount(units, weights=zv * X[:, j], minlength=len(rows_of))
        ct_av = Z.T @ (X[:, j] * av[units])
        dS_v = -(a.T @ c_v + ct_av)  # (∂S/∂β_j) W2 g2 at the one-step residuals
        D[:, j] = -left @ dS_v  # dW = −W dS W
    V1r = M1inv @ zx.T @ W1 @ _score_cov(Z, u1, rows_of) @ W1 @ zx @ M1inv
    return M2inv + D @ M2inv + M2inv @ D.T + D @ V1r @ D.T


def _ar_test(u, X, Z, W, V, est, u_col, t_col, m) -> float:
    """Arellano–Bond m_j: Σ û_{t−m}û_t over its variance (their eq. 8), residuals of the differenced equation."""
    key = pd.MultiIndex.from_arrays([est[u_col], est[t_col]])
    series = pd.Series(u, index=key)
    lagged = series.reindex(pd.MultiIndex.from_arrays([est[u_col], est[t_col] - m])).to_numpy()
    have = ~np.isnan(lagged)
    w = np.where(have, lagged, 0.0)
    uu = np.where(have, u, 0.0)
    groups = pd.factorize(est[u_col])[0]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    per = _unit_sums(w * uu, starts)
    num = per.sum()
    wX = w @ X
    zx = Z.T @ X
    Minv = np.linalg.inv(zx.T @ W @ zx)
    zuw = _unit_sums(Z * u[:, None], starts).T @ per
    var = float((per**2).sum() - 2 * wX @ Minv @ zx.T @ W @ zuw + wX @ V @ wX)
    return float(num / math.sqrt(var))


def _independent(M: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """Columns of M kept left to right while they add rank (collinear year effects and instruments dropped),
    judged on the Gram matrix: a column stays when its residual on the kept ones keeps > tol of its norm."""
    A = sparse.csr_matrix(M.to_numpy(float))
    G = (A.T @ A).toarray()
    keep: list[int] = []
    for j in range(G.shape[0]):
        if G[j, j] <= 0:
            continue
        resid = G[j, j]
        if keep:
            g = G[keep, j]
            resid = G[j, j] - g @ np.linalg.solve(G[np.ix_(keep, keep)], g)
        if resid > tol * G[j, j]:
            keep.append(j)
    return [M.columns[j] for j in keep]


def _name(column: str) -> str:
    from analyses.reg.fit import _label

    return _label(column)
