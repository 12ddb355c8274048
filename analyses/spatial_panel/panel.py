"""Turn a long unit × time frame, a formula and W into aligned, balanced arrays (time-major, W's unit order).

Arrays are shaped (T, N) for y and (T, N, k) for X so that W acts on the unit axis of every period.
Fixed effects are removed by demeaning (Elhorst 2014 §3.2): 'individual' subtracts unit means,
'time' period means, 'twoways' both plus the grand mean. Spatial lags are formed before demeaning,
so demean(W x) is used even when W is not row-standardised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from formulaic import Formula

from analyses.spatial_panel.sparse import matmul

EFFECTS = ("pooled", "individual", "time", "twoways")


class SpatialPanelError(ValueError):
    """The data, W or specification cannot be estimated as given; the message says what to do."""


@dataclass
class Panel:
    """A balanced panel aligned with W: y (T, N), X (T, N, k), names, unit ids (W order) and periods."""

    y: np.ndarray
    x: np.ndarray
    y_name: str
    x_names: list[str]
    units: list
    periods: list
    w: sp.csr_matrix

    @property
    def n(self) -> int:
        return self.y.shape[1]

    @property
    def t(self) -> int:
        return self.y.shape[0]

    def fingerprint(self) -> str:
        """sha256 of y, X and W: identical data and W give the same fingerprint."""
        h = hashlib.sha256()
        for arr in (self.y, self.x, self.w.data, self.w.indices, self.w.indptr):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((self.y_name, self.x_names, self.units, self.periods)).encode())
        return h.hexdigest()


def lag(w: sp.csr_matrix, a: np.ndarray) -> np.ndarray:
    """W applied to the unit axis (axis 1) of a (T, N, ...) array."""
    t, n = a.shape[:2]
    rest = a.shape[2:]
    flat = np.moveaxis(a, 1, 0).reshape(n, -1)
    return np.moveaxis(matmul(sp.csr_matrix(w), flat)[0].reshape((n, t, *rest)), 0, 1)


def demean(a: np.ndarray, effects: str) -> np.ndarray:
    """Remove unit and/or period means from a (T, N, ...) array (Elhorst 2014 eq. 3.11–3.13)."""
    if effects == "pooled":
        return a
    unit_mean = a.mean(axis=0, keepdims=True)
    time_mean = a.mean(axis=1, keepdims=True)
    if effects == "individual":
        return a - unit_mean
    if effects == "time":
        return a - time_mean
    out = a - unit_mean  # in place from here: one N×T temporary, not three
    out -= time_mean
    out += a.mean(axis=(0, 1), keepdims=True)
    return out


def w_matrix(w) -> tuple[sp.csr_matrix, list]:
    """A libpysal W (or a (sparse matrix, ids) pair) as a CSR matrix and its id order."""
    if isinstance(w, tuple):
        mat, ids = w
        return sp.csr_matrix(mat, dtype=float), list(ids)
    return sp.csr_matrix(w.sparse, dtype=float), list(w.id_order)


def factorize_units(values) -> tuple[np.ndarray, pd.Index]:
    """(codes, distinct ids as text) of a unit column: the text conversion is done once per distinct id."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, pd.Index(uniques).astype(str)


def build_panel(formula: str, data: pd.DataFrame, w, unit: str, time: str, intercept: bool,
                units: tuple[np.ndarray, pd.Index] | None = None) -> Panel:
    """Parse the formula, check the panel is balanced and its units are W's units, and align to W's order.
    `units`: `factorize_units(data[unit])` when the caller has it already."""
    if "~" not in formula:
        raise SpatialPanelError(f"formula {formula!r}: write it as 'y ~ x1 + x2'")
    for col in (unit, time):
        if col not in data.columns:
            raise SpatialPanelError(f"column {col!r} not in the data (columns: {', '.join(map(str, data.columns))})")
    mat, ids = w_matrix(w)
    frame = data.reset_index(drop=True)
    try:
        mm = Formula(formula if intercept else formula + " - 1").get_model_matrix(frame, na_action="ignore")
    except Exception as exc:  # formulaic raises many types; the message is what matters
        raise SpatialPanelError(f"formula {formula!r}: {exc}") from exc
    y_frame, x_frame = mm.lhs, mm.rhs
    if y_frame.shape[1] != 1:
        raise SpatialPanelError(f"formula {formula!r}: give exactly one dependent variable")
    x_names = [str(c) for c in x_frame.columns]
    if not [c for c in x_names if c != "Intercept"]:
        raise SpatialPanelError(f"formula {formula!r}: no regressors")
    # units compared as text, converted once per distinct value (not per row)
    ucodes, utext = units if units is not None else factorize_units(frame[unit])
    tcodes, periods_arr = pd.factorize(frame[time], sort=True, use_na_sentinel=False)
    values = np.column_stack([y_frame.to_numpy(float), x_frame.to_numpy(float)])
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:5]
        examples = ", ".join(f"{utext[ucodes[r]]} {periods_arr[tcodes[r]]}" for r in rows)
        raise SpatialPanelError(
            f"{int(bad.sum())} rows have missing or non-finite values in the model variables (e.g. {examples}); "
            "drop those units or periods explicitly, or fill the gaps, then fit again")
    w_ids = [str(i) for i in ids]
    text_codes, texts = pd.factorize(utext)  # distinct unit texts
    ti = tcodes.astype(np.int64)
    key = text_codes[ucodes].astype(np.int64) * len(periods_arr) + ti
    if np.bincount(key).max(initial=0) > 1:
        first = np.unique(key, return_index=True)[1]
        r = int(np.setdiff1d(np.arange(len(key)), first)[0])
        raise SpatialPanelError(f"unit {utext[ucodes[r]]} appears more than once in period {periods_arr[ti[r]]}; the "
                                "panel needs one row per unit and period")
    data_units, w_units = set(texts), set(w_ids)
    if data_units != w_units:
        only_data, only_w = sorted(data_units - w_units), sorted(w_units - data_units)
        raise SpatialPanelError(
            "the units of the data and of W differ: "
            f"{len(only_data)} only in the data ({', '.join(only_data[:5])}), "
            f"{len(only_w)} only in W ({', '.join(only_w[:5])}); "
            "subset the data or build W for exactly the units in the data (ids must match as text)")
    periods = list(periods_arr)
    counts = pd.Series(np.bincount(text_codes[ucodes], minlength=len(texts)), index=texts).sort_index()
    short = counts[counts < len(periods)]
    if len(short):
        examples = ", ".join(f"{u} ({c} of {len(periods)} periods)" for u, c in short.head(5).items())
        raise SpatialPanelError(
            f"unbalanced panel: {len(short)} units lack some of the {len(periods)} periods, e.g. {examples}; "
            "estimate on a balanced subset (drop those units or restrict the periods)")
    w_index = pd.Index(w_ids)
    if w_index.is_unique:
        ui = w_index.get_indexer(utext)[ucodes]
    else:
        pos_unit = {u: i for i, u in enumerate(w_ids)}  # the last position of a repeated id
        ui = np.array([pos_unit[u] for u in utext.tolist()], dtype=np.int64)[ucodes]
    cube = np.empty((len(periods), len(w_ids), values.shape[1]))
    cube[ti, ui, :] = values
    return Panel(y=cube[:, :, 0], x=cube[:, :, 1:], y_name=str(y_frame.columns[0]), x_names=x_names,
                 units=list(ids), periods=list(periods), w=mat)


def lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of y (a vector or columns) on x.

    Well-conditioned x (cond(X'X) < 1e8): Cholesky of X'X with one step of iterative refinement, the corrected
    semi-normal equations (Björck 1996, Numerical Methods for Least Squares Problems, §6.6.5), accurate to
    rounding for such x and a few passes over the data; otherwise numpy's SVD-based lstsq (rank deficiency,
    near-collinearity).
    """
    from scipy.linalg import cho_factor, cho_solve

    g = x.T @ x
    ev = np.linalg.eigvalsh(g) if g.size else np.ones(1)
    if ev.min() <= 1e-8 * ev.max():
        return np.linalg.lstsq(x, y, rcond=None)[0]
    c = cho_factor(g)
    beta = cho_solve(c, x.T @ y)
    return beta + cho_solve(c, x.T @ (y - x @ beta))


def check_rank(x: np.ndarray, names: list[str]) -> None:
    """Refuse perfectly collinear regressors (after demeaning), naming the ones involved."""
    if x.shape[1] == 0:
        return
    norms = np.linalg.norm(x, axis=0)
    xn = x / np.maximum(norms, 1e-300)
    gram = np.linalg.eigvalsh(xn.T @ xn)
    if norms.min() > 0 and gram.min() > 1e-8 * gram.max():
        return  # singular values ≥ 1e-4·max: far above the tolerance below (Gram eigenvalues are accurate to ~1e-15)
    # the singular values and right vectors of xn are those of R in xn = QR (no tall U is formed)
    _, s, vt = np.linalg.svd(np.linalg.qr(xn, mode="r") if xn.shape[0] > xn.shape[1] else xn, full_matrices=False)
    tol = s.max() * max(x.shape) * np.finfo(float).eps * 10
    if (s <= tol).any() or norms.min() == 0:
        null = vt[np.argmin(s)]
        involved = [names[i] for i in np.flatnonzero(np.abs(null) > 1e-6)]
        raise SpatialPanelError(
            f"regressors are perfectly collinear after removing the fixed effects: {', '.join(involved)}; "
            "drop one of them (a regressor constant within units or periods is absorbed by the fixed effects)")
