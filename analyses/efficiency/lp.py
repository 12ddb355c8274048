"""Many small linear programs, solved fast.

DEA solves one LP per DMU. Calling `scipy.optimize.linprog` once per DMU costs about 2 ms of Python and set-up
overhead each time, and every LP carries all n DMUs as columns. Three things make it fast here:

1. warm starts (default, `solver='highspy'`): the LPs of one family differ from DMU to DMU only in a few numbers
   (the θ/φ column, the right-hand side, some costs), so one HiGHS model (highspy) is built once and changed in
   place, each solve starting from the previous optimal basis. A non-optimal status (infeasible, unbounded) is
   recorded for that DMU and the next solve starts afresh.
2. batching (`solver='linprog'`, kept as the cross-check): independent LPs stacked block-diagonally into one
   `linprog` call (the optimum of a block-diagonal LP is the optimum of each block); when the stacked LP is not
   optimal each block is solved alone, so that the status is stated per DMU, never hidden.
3. screening (`frontier_set`): only the DMUs on the VRS frontier span the technology (an inefficient DMU is
   dominated by a convex combination of the others, so removing it changes neither the CRS, NIRS nor VRS
   technology); they are found by hierarchical blocks (Barr & Durchholz 1997, "Parallel and hierarchical
   decomposition approaches for solving large-scale DEA models", Ann. Oper. Res. 73) and every DMU is then
   scored against them only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

TOL = 1e-9
MAX_VARS = 40_000
STATUS = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded", 4: "numerical_difficulties"}


@dataclass
class LP:
    """min c·x s.t. A_ub x ≤ b_ub, A_eq x = b_eq, lo ≤ x ≤ hi (dense blocks; hi may hold inf)."""

    c: np.ndarray
    A_ub: np.ndarray
    b_ub: np.ndarray
    A_eq: np.ndarray
    b_eq: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


@dataclass
class Solution:
    status: str
    x: np.ndarray | None
    fun: float


def _one(lps: list[LP]) -> tuple[int, np.ndarray | None, float]:
    if len(lps) == 1:
        lp = lps[0]
        a_ub = sparse.csr_array(lp.A_ub) if lp.A_ub.shape[0] else None
        a_eq = sparse.csr_array(lp.A_eq) if lp.A_eq.shape[0] else None
        c, b_ub, b_eq, lo, hi = lp.c, lp.b_ub, lp.b_eq, lp.lo, lp.hi
    else:
        a_ub = sparse.block_diag([sparse.csr_array(lp.A_ub) for lp in lps], format="csr")
        a_eq = sparse.block_diag([sparse.csr_array(lp.A_eq) for lp in lps], format="csr")
        c = np.concatenate([lp.c for lp in lps])
        b_ub = np.concatenate([lp.b_ub for lp in lps])
        b_eq = np.concatenate([lp.b_eq for lp in lps])
        lo = np.concatenate([lp.lo for lp in lps])
        hi = np.concatenate([lp.hi for lp in lps])
        a_ub = a_ub if a_ub.shape[0] else None
        a_eq = a_eq if a_eq.shape[0] else None
    res = linprog(c, A_ub=a_ub, b_ub=b_ub if a_ub is not None else None, A_eq=a_eq,
                  b_eq=b_eq if a_eq is not None else None, bounds=np.column_stack([lo, hi]), method="highs")
    return res.status, (res.x if res.status == 0 else None), (res.fun if res.status == 0 else np.nan)


def solve_many(lps: list[LP], max_vars: int = MAX_VARS, solver: str = "highspy") -> list[Solution]:
    """Solve independent LPs; per-LP status. solver 'highspy': LPs of one shape are solved as one HiGHS model
    changed in place from one LP to the next (costs, bounds, coefficients that differ) and warm-started from the
    previous basis; 'linprog': block-diagonal batches of at most `max_vars` variables through scipy's linprog."""
    if solver == "highspy" and lps and all(lp.A_ub.shape == lps[0].A_ub.shape and lp.A_eq.shape == lps[0].A_eq.shape
                                           for lp in lps):
        return _solve_warm(lps)
    out: list[Solution | None] = [None] * len(lps)
    start = 0
    while start < len(lps):
        stop, size = start, 0
        while stop < len(lps) and (stop == start or size + len(lps[stop].c) <= max_vars):
            size += len(lps[stop].c)
            stop += 1
        batch = lps[start:stop]
        status, x, _ = _one(batch)
        if status == 0:
            offset = 0
            for k, lp in enumerate(batch):
                xk = x[offset:offset + len(lp.c)]
                out[start + k] = Solution("optimal", xk, float(lp.c @ xk))
                offset += len(lp.c)
        else:
            for k, lp in enumerate(batch):
                if len(batch) == 1:
                    s, xk, f = status, x, np.nan
                else:
                    s, xk, f = _one([lp])
                out[start + k] = Solution(STATUS.get(s, "failed"), xk, f)
        start = stop
    return out  # type: ignore[return-value]


def _solve_warm(lps: list[LP]) -> list[Solution]:
    """LPs of one shape through one highspy model, changed in place and warm-started."""
    import highspy

    inf = highspy.kHighsInf

    def rows(lp: LP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stacked = np.vstack([lp.A_ub, lp.A_eq])
        return (stacked, np.r_[np.full(len(lp.b_ub), -inf), lp.b_eq], np.r_[lp.b_ub, lp.b_eq])

    def finite(v: np.ndarray) -> np.ndarray:
        return np.where(np.isposinf(v), inf, np.where(np.isneginf(v), -inf, v))

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    first = lps[0]
    dense, lower, upper = rows(first)
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = len(first.c), dense.shape[0]
    model.col_cost_, model.col_lower_, model.col_upper_ = first.c, finite(first.lo), finite(first.hi)
    model.row_lower_, model.row_upper_ = finite(lower), finite(upper)
    Ac = sparse.csc_array(dense)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_, model.a_matrix_.index_, model.a_matrix_.value_ = Ac.indptr, Ac.indices, Ac.data
    h.passModel(model)
    optimal = highspy.HighsModelStatus.kOptimal
    names = {highspy.HighsModelStatus.kInfeasible: "infeasible", highspy.HighsModelStatus.kUnbounded: "unbounded",
             highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible"}
    prev, prev_rows = first, (dense, lower, upper)
    out: list[Solution] = []
    for lp in lps:
        if lp is not prev:
            dense, lower, upper = rows(lp)
            for j in np.flatnonzero(lp.c != prev.c):
                h.changeColCost(int(j), float(lp.c[j]))
            for j in np.flatnonzero((lp.lo != prev.lo) | (lp.hi != prev.hi)):
                h.changeColBounds(int(j), float(finite(lp.lo[j:j + 1])[0]), float(finite(lp.hi[j:j + 1])[0]))
            for i in np.flatnonzero((lower != prev_rows[1]) | (upper != prev_rows[2])):
                h.changeRowBounds(int(i), float(finite(lower[i:i + 1])[0]), float(finite(upper[i:i + 1])[0]))
            for i, j in zip(*np.nonzero(dense != prev_rows[0]), strict=True):
                h.changeCoeff(int(i), int(j), float(dense[i, j]))
            prev, prev_rows = lp, (dense, lower, upper)
        h.run()
        status = h.getModelStatus()
        if status == optimal:
            x = np.asarray(h.getSolution().col_value)
            out.append(Solution("optimal", x, float(lp.c @ x)))
        else:
            out.append(Solution(names.get(status, "failed"), None, np.nan))
            h.clearSolver()
    return out


def radial_lp(x_o: np.ndarray, y_o: np.ndarray, X: np.ndarray, Y: np.ndarray, *, rts: str, orientation: str,
              exclude: int | None = None) -> LP:
    """Envelopment form of the radial model for one DMU (Charnes, Cooper & Rhodes 1978; Banker, Charnes &
    Cooper 1984). Variables [θ or φ, λ_1..λ_n]; X is m×n, Y is s×n. rts: crs | vrs | nirs | ndrs.
    input:  min θ  s.t. Xλ ≤ θ x_o, Yλ ≥ y_o;   output: max φ  s.t. Xλ ≤ x_o, Yλ ≥ φ y_o."""
    m, n = X.shape
    s = Y.shape[0]
    c = np.zeros(n + 1)
    if orientation == "input":
        c[0] = 1.0
        a_ub = np.vstack([np.column_stack([-x_o, X]), np.column_stack([np.zeros(s), -Y])])
        b_ub = np.concatenate([np.zeros(m), -y_o])
    else:
        c[0] = -1.0
        a_ub = np.vstack([np.column_stack([np.zeros(m), X]), np.column_stack([y_o, -Y])])
        b_ub = np.concatenate([x_o, np.zeros(s)])
    a_eq, b_eq = np.zeros((0, n + 1)), np.zeros(0)
    ones = np.concatenate([[0.0], np.ones(n)])
    if rts == "vrs":
        a_eq, b_eq = ones[None, :], np.ones(1)
    elif rts == "nirs":
        a_ub, b_ub = np.vstack([a_ub, ones]), np.concatenate([b_ub, [1.0]])
    elif rts == "ndrs":
        a_ub, b_ub = np.vstack([a_ub, -ones]), np.concatenate([b_ub, [-1.0]])
    lo, hi = np.zeros(n + 1), np.full(n + 1, np.inf)
    lo[0] = -np.inf if orientation == "input" else 0.0
    if exclude is not None:
        hi[1 + exclude] = 0.0
    return LP(c, a_ub, b_ub, a_eq, b_eq, lo, hi)


def slack_lp(x_t: np.ndarray, y_t: np.ndarray, X: np.ndarray, Y: np.ndarray, *, rts: str) -> LP:
    """Second phase (Charnes, Cooper & Rhodes 1979; Cooper, Seiford & Tone 2007 §3.3): with the radial target
    (x_t, y_t) fixed, max Σs⁻ + Σs⁺ s.t. Xλ + s⁻ = x_t, Yλ − s⁺ = y_t. Variables [λ, s⁻, s⁺]."""
    m, n = X.shape
    s = Y.shape[0]
    c = np.concatenate([np.zeros(n), -np.ones(m + s)])
    a_eq = np.vstack([np.hstack([X, np.eye(m), np.zeros((m, s))]), np.hstack([Y, np.zeros((s, m)), -np.eye(s)])])
    b_eq = np.concatenate([x_t, y_t])
    a_ub, b_ub = np.zeros((0, n + m + s)), np.zeros(0)
    ones = np.concatenate([np.ones(n), np.zeros(m + s)])
    if rts == "vrs":
        a_eq, b_eq = np.vstack([a_eq, ones]), np.concatenate([b_eq, [1.0]])
    elif rts == "nirs":
        a_ub, b_ub = ones[None, :], np.ones(1)
    elif rts == "ndrs":
        a_ub, b_ub = -ones[None, :], -np.ones(1)
    return LP(c, a_ub, b_ub, a_eq, b_eq, np.zeros(n + m + s), np.full(n + m + s, np.inf))


def radial_scores(X_eval: np.ndarray, Y_eval: np.ndarray, X: np.ndarray, Y: np.ndarray, *, rts: str,
                  orientation: str, exclude: np.ndarray | None = None,
                  solver: str = "highspy") -> tuple[np.ndarray, list[Solution]]:
    """θ (input) or φ (output) of each column of (X_eval, Y_eval) against the technology of (X, Y); NaN where
    the LP is not optimal. exclude[k]: a column of X to leave out for DMU k (super-efficiency), or -1.
    solver 'highspy': one HiGHS model, re-solved per DMU from the previous basis (only the θ/φ column and the
    right-hand side change); 'linprog': block-diagonal batches through scipy.optimize.linprog."""
    if solver == "highspy":
        return _radial_highspy(X_eval, Y_eval, X, Y, rts=rts, orientation=orientation, exclude=exclude)
    lps = [radial_lp(X_eval[:, k], Y_eval[:, k], X, Y, rts=rts, orientation=orientation,
                     exclude=None if exclude is None or exclude[k] < 0 else int(exclude[k]))
           for k in range(X_eval.shape[1])]
    sols = solve_many(lps)
    return np.array([s.x[0] if s.status == "optimal" else np.nan for s in sols]), sols


def _radial_highspy(X_eval, Y_eval, X, Y, *, rts: str, orientation: str,
                    exclude: np.ndarray | None) -> tuple[np.ndarray, list[Solution]]:
    """The envelopment LPs of `radial_lp` as one warm-started HiGHS model (highspy)."""
    import highspy

    inf = highspy.kHighsInf
    m, n = X.shape
    s = Y.shape[0]
    extra = 0 if rts == "crs" else 1
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + 1, m + s + extra
    lp.col_cost_ = np.r_[1.0 if orientation == "input" else -1.0, np.zeros(n)]
    lp.col_lower_ = np.r_[-inf if orientation == "input" else 0.0, np.zeros(n)]
    lp.col_upper_ = np.full(n + 1, inf)
    first = np.r_[-X_eval[:, 0], np.zeros(s)] if orientation == "input" else np.r_[np.zeros(m), Y_eval[:, 0]]
    body = np.vstack([X, -Y] + ([np.ones((1, n))] if extra else []))
    col0 = np.r_[first, np.zeros(extra)]
    A = sparse.csc_array(np.column_stack([col0, body]))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lower, upper = np.full(m + s + extra, -inf), np.zeros(m + s + extra)
    if extra:
        lower[-1], upper[-1] = {"vrs": (1.0, 1.0), "nirs": (-inf, 1.0), "ndrs": (1.0, inf)}[rts]
    lp.row_lower_, lp.row_upper_ = lower, upper
    h.passModel(lp)
    optimal = highspy.HighsModelStatus.kOptimal
    names = {highspy.HighsModelStatus.kInfeasible: "infeasible", highspy.HighsModelStatus.kUnbounded: "unbounded",
             highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible"}
    values = np.full(X_eval.shape[1], np.nan)
    sols: list[Solution] = []
    for k in range(X_eval.shape[1]):
        if orientation == "input":
            for i in range(m):
                h.changeCoeff(i, 0, -X_eval[i, k])
            for r in range(s):
                h.changeRowBounds(m + r, -inf, -Y_eval[r, k])
        else:
            for i in range(m):
                h.changeRowBounds(i, -inf, X_eval[i, k])
            for r in range(s):
                h.changeCoeff(m + r, 0, Y_eval[r, k])
        ex = None if exclude is None or exclude[k] < 0 else int(exclude[k]) + 1
        if ex is not None:
            h.changeColBounds(ex, 0.0, 0.0)
        h.run()
        status = h.getModelStatus()
        if status == optimal:
            values[k] = h.getSolution().col_value[0]
            sols.append(Solution("optimal", None, float(h.getInfo().objective_function_value)))
        else:
            sols.append(Solution(names.get(status, "failed"), None, np.nan))
            h.clearSolver()  # start the next DMU from scratch, not from a basis of an infeasible LP
        if ex is not None:
            h.changeColBounds(ex, 0.0, inf)
    return values, sols


def frontier_set(X: np.ndarray, Y: np.ndarray, rts: str = "vrs", block: int = 250) -> np.ndarray:
    """Indices of the DMUs on the frontier (input θ = 1) of the rts technology. The VRS frontier DMUs span the CRS,
    NIRS and VRS technologies of all DMUs; the CRS frontier DMUs span the CRS technology. Found by scoring blocks
    against themselves and dropping the DMUs inefficient within their block (inefficient there, inefficient in all)."""
    idx = np.arange(X.shape[1])
    while len(idx) > block:
        groups = np.array_split(idx, int(np.ceil(len(idx) / block)))
        keep = []
        for g in groups:
            theta, _ = radial_scores(X[:, g], Y[:, g], X[:, g], Y[:, g], rts=rts, orientation="input")
            keep.append(g[~(theta < 1 - 1e-7)])
        new = np.concatenate(keep)
        if len(new) > 0.8 * len(idx):  # little left to remove by blocks: score the rest against each other
            idx = new
            break
        idx = new
    theta, _ = radial_scores(X[:, idx], Y[:, idx], X[:, idx], Y[:, idx], rts=rts, orientation="input")
    return idx[~(theta < 1 - 1e-7)]


def crs_subset(X: np.ndarray, Y: np.ndarray, front: np.ndarray) -> np.ndarray:
    """The CRS frontier DMUs among the VRS frontier DMUs `front` (every CRS-efficient DMU is VRS-efficient)."""
    theta, _ = radial_scores(X[:, front], Y[:, front], X[:, front], Y[:, front], rts="crs", orientation="input")
    return front[~(theta < 1 - 1e-7)]
