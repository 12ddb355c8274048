"""Directional distance function (Chambers, Chung & Färe 1996, JET 70; with undesirable outputs Chung, Färe &
Grosskopf 1997, J. Env. Mgmt 51) as its own efficiency model.

For DMU o with inputs x, desirable outputs y and undesirable outputs b, and a direction g = (−g_x, g_y, −g_b):

    β* = max β  s.t.  Xλ ≤ x_o − β g_x,  Yλ ≥ y_o + β g_y,  Bλ = b_o − β g_b,  λ ≥ 0   (VRS: Σλ = 1)

Bads are weakly disposable (the equality; Chung et al. 1997) unless `bad_disposability='strong'` (Bλ ≤ …).
β* ≥ 0 is the inefficiency: o can contract inputs and bads by β* g_x, β* g_b and expand goods by β* g_y at
once; β* = 0 on the frontier. The direction:

- 'graph' (default): g = (x_o, y_o, b_o), the DMU's own values, i.e. g = (−x, y, −b);
- 'output': g = (0, y_o, b_o), the Malmquist–Luenberger direction of Chung et al. (1997);
- numbers, one per input, output and undesirable output (in that order, or a mapping variable → number; an
  unnamed variable gets 0): the same direction for every DMU (magnitudes ≥ 0; the signs are the model's);
- a mapping variable → column name: a direction per DMU read from the data.

A zero direction where the technology allows unlimited improvement gives an unbounded LP: such DMUs (and any
infeasible ones) get NaN and the status, never a silent score. `efficiency` = 1/(1 + β*) is reported beside β*
(the conversion the Malmquist–Luenberger literature uses; without bads and with g = (0, y) it is the Farrell
output efficiency 1/φ*, φ* = 1 + β*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyses.efficiency.data import as_list, load
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.lp import LP, solve_many

DIRECTIONS = ("graph", "output")


def ddf_lp(x: np.ndarray, y: np.ndarray, b: np.ndarray, gx: np.ndarray, gy: np.ndarray, gb: np.ndarray,
           X: np.ndarray, Y: np.ndarray, B: np.ndarray, *, rts: str, bad_disposability: str = "weak") -> LP:
    """The LP of β* for one DMU; variables [β, λ_1..λ_n] (minimises −β)."""
    m, n = X.shape
    c = np.zeros(n + 1)
    c[0] = -1.0
    a_ub = [np.column_stack([gx, X]), np.column_stack([gy, -Y])]
    b_ub = [x, -y]
    a_eq, b_eq = [np.zeros((0, n + 1))], [np.zeros(0)]
    if B.shape[0]:
        (a_eq if bad_disposability == "weak" else a_ub).append(np.column_stack([gb, B]))
        (b_eq if bad_disposability == "weak" else b_ub).append(b)
    if rts == "vrs":
        a_eq.append(np.r_[0.0, np.ones(n)][None, :])
        b_eq.append(np.ones(1))
    lo, hi = np.zeros(n + 1), np.full(n + 1, np.inf)
    lo[0] = -np.inf
    return LP(c, np.vstack(a_ub), np.concatenate(b_ub), np.vstack(a_eq), np.concatenate(b_eq), lo, hi)


def ddf_scores(X: np.ndarray, Y: np.ndarray, B: np.ndarray, G: tuple[np.ndarray, np.ndarray, np.ndarray], *,
               rts: str = "crs", bad_disposability: str = "weak", X_ref: np.ndarray | None = None,
               Y_ref: np.ndarray | None = None, B_ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """β* of each column of (X, Y, B) (m×n, s1×n, s2×n) in the direction of the same column of G = (Gx, Gy, Gb),
    against the reference technology (default: the same DMUs). Returns (β*, status); NaN where not optimal."""
    X_ref = X if X_ref is None else X_ref
    Y_ref = Y if Y_ref is None else Y_ref
    B_ref = B if B_ref is None else B_ref
    Gx, Gy, Gb = G
    sols = solve_many([ddf_lp(X[:, k], Y[:, k], B[:, k], Gx[:, k], Gy[:, k], Gb[:, k], X_ref, Y_ref, B_ref, rts=rts,
                              bad_disposability=bad_disposability) for k in range(X.shape[1])])
    return (np.array([-s.fun if s.status == "optimal" else np.nan for s in sols]),
            np.array([s.status for s in sols], dtype=object))


@dataclass
class DDFResult:
    """Directional distance β*, 1/(1 + β*), the direction used and the projection, one row per DMU."""

    rts: str
    direction: str  # 'graph', 'output', or the numbers / columns given
    bad_disposability: str
    inputs: list[str]
    outputs: list[str]
    undesirable: list[str]
    index: pd.Index
    beta: pd.Series
    efficiency: pd.Series  # 1 / (1 + β*)
    targets: pd.DataFrame  # x − β g_x, y + β g_y, b − β g_b
    status: pd.Series
    source: str = "DataFrame"
    quality: str = "not-checked"
    notes: list[str] = field(default_factory=list)

    @property
    def orientation(self) -> str:  # for the shared CLI summary
        return self.direction

    def to_frame(self) -> pd.DataFrame:
        """One row per DMU: beta, efficiency, targets (target_<variable>) and status."""
        out = pd.DataFrame({"beta": self.beta, "efficiency": self.efficiency}, index=self.index)
        out = out.join(self.targets.add_prefix("target_"))
        out["status"] = self.status
        return out.reset_index()


def _direction(direction, frame: pd.DataFrame, names: list[str], counts: tuple[int, int, int]) -> np.ndarray:
    """The direction magnitudes as an n × (m + s1 + s2) array."""
    m, s1, _ = counts
    values = frame[names].to_numpy(dtype=float)
    if direction is None or (isinstance(direction, str) and direction == "graph"):
        return values.copy()
    if isinstance(direction, str) and direction == "output":
        g = values.copy()
        g[:, :m] = 0.0
        return g
    if isinstance(direction, str):
        raise EfficiencyError(f"direction {direction!r}: use graph, output, numbers (one per variable) or a mapping "
                              "variable → number or column")
    if isinstance(direction, Mapping):
        unknown = sorted(set(direction) - set(names))
        if unknown:
            raise EfficiencyError(f"direction names {', '.join(unknown)}, not among the inputs and outputs")
        g = np.zeros_like(values)
        for j, name in enumerate(names):
            v = direction.get(name, 0.0)
            g[:, j] = frame[v].to_numpy(dtype=float) if isinstance(v, str) else float(v)
    else:
        vec = np.asarray(list(direction), dtype=float)
        if vec.shape != (len(names),):
            raise EfficiencyError(f"direction has {vec.size} numbers; give one per input, output and undesirable "
                                  f"output ({len(names)}: {', '.join(names)})")
        g = np.tile(vec, (len(frame), 1))
    if not np.isfinite(g).all() or (g < 0).any():
        raise EfficiencyError("direction magnitudes must be finite and ≥ 0 (inputs and bads contract, goods "
                              "expand: the signs are the model's)")
    return g


def ddf(data, inputs: Sequence[str] | str, outputs: Sequence[str] | str, undesirable: Sequence[str] | str = (), *,
        unit: str | None = None, time: str | None = None, rts: str = "crs",
        direction: str | Sequence[float] | Mapping[str, float | str] | None = "graph",
        bad_disposability: str = "weak", frontier: str = "period", con=None, allow_failing_checks: bool = False,
        where: str | None = None, deflate: dict[str, str] | None = None, base_year=None) -> DDFResult:
    """Directional distance function of every DMU (unit × period row), one frontier per period (or pooled).

    Example: ddf("fct_city_year", ["labour", "capital", "energy"], ["gdp"], ["co2"], unit="city_code",
    time="year", rts="vrs")                    # g = (−x, y, −b)
    ddf(..., direction=[0, 0, 0, 1, 1])        # the same g = (0, 0, 0, 1, 1) for every DMU
    """
    if rts not in ("crs", "vrs"):
        raise EfficiencyError(f"rts {rts!r}: use crs or vrs")
    if bad_disposability not in ("weak", "strong"):
        raise EfficiencyError(f"bad_disposability {bad_disposability!r}: use weak (Bλ = b) or strong (Bλ ≤ b)")
    if frontier not in ("period", "pooled"):
        raise EfficiencyError(f"frontier {frontier!r}: use period (one frontier per period) or pooled")
    inputs, outputs, undesirable = as_list(inputs), as_list(outputs), as_list(undesirable)
    names = inputs + outputs + undesirable
    columns = sorted({v for v in direction.values() if isinstance(v, str)} - set(names)) \
        if isinstance(direction, Mapping) else []
    fr = load(data, inputs, outputs, undesirable, unit=unit, time=time, con=con, where=where, deflate=deflate,
              base_year=base_year, allow_failing_checks=allow_failing_checks, extra=columns)
    ids = [c for c in (fr.unit, fr.time) if c]
    frame = fr.frame.sort_values(ids, kind="stable").reset_index(drop=True)
    m, s1, s2 = len(inputs), len(outputs), len(undesirable)
    G = _direction(direction, frame, names, (m, s1, s2))
    groups = [frame.index.to_numpy()] if fr.time is None or frontier == "pooled" else \
        [g.index.to_numpy() for _, g in frame.groupby(fr.time, sort=True)]
    beta = np.full(len(frame), np.nan)
    status = np.empty(len(frame), dtype=object)
    for rows in groups:
        V = frame.loc[rows, names].to_numpy(dtype=float).T
        Gk = G[rows].T
        beta[rows], status[rows] = ddf_scores(V[:m], V[m:m + s1], V[m + s1:], (Gk[:m], Gk[m:m + s1], Gk[m + s1:]),
                                              rts=rts, bad_disposability=bad_disposability)
    index = pd.MultiIndex.from_frame(frame[ids]) if len(ids) > 1 else pd.Index(frame[ids[0]], name=ids[0])
    sign = np.r_[-np.ones(m), np.ones(s1), -np.ones(s2)]
    targets = frame[names].to_numpy(dtype=float) + beta[:, None] * sign * G
    label = (direction if isinstance(direction, str) else "graph" if direction is None else
             ",".join(f"{k}={v}" for k, v in direction.items()) if isinstance(direction, Mapping) else
             ",".join(f"{v:g}" for v in np.asarray(list(direction), dtype=float)))
    return DDFResult(rts=rts, direction=label, bad_disposability=bad_disposability, inputs=inputs, outputs=outputs,
                     undesirable=undesirable, index=index, beta=pd.Series(beta, index=index),
                     efficiency=pd.Series(1.0 / (1.0 + beta), index=index),
                     targets=pd.DataFrame(targets, index=index, columns=names),
                     status=pd.Series(status, index=index), source=fr.source, quality=fr.quality)
