"""Malmquist–Luenberger productivity with undesirable outputs: the contemporaneous ML index (Chung, Färe &
Grosskopf 1997, J. Env. Mgmt 51:229–240), the sequential ML index (Oh & Heshmati 2010, Energy Econ. 32:1345–1355)
and the global ML index (Oh 2010, J. Prod. Anal. 34:183–197), with the cumulative index chained from the base
period (as the NQP paper's inclusive-green-TFP series).

Directional output distance function with direction g = (y, −b), weak disposability of the bads (Chung et al.):

    D(x, y, b) = max β  s.t. Xλ ≤ x,  Yλ ≥ (1 + β) y,  Bλ = (1 − β) b,  λ ≥ 0   (VRS: Σλ = 1)

against the contemporaneous technology T^t (period t's data) or the global technology T^G (all periods pooled):

    GML   = (1 + D^G(t)) / (1 + D^G(t+1))                          (Oh 2010, eq. 7)
    EC    = (1 + D^t(t)) / (1 + D^{t+1}(t+1))                      efficiency change
    BPC   = [(1 + D^G(t)) / (1 + D^t(t))] / [(1 + D^G(t+1)) / (1 + D^{t+1}(t+1))]   best-practice gap change
    GML   = EC × BPC

    ML    = {[(1 + D^t(t)) / (1 + D^t(t+1))] × [(1 + D^{t+1}(t)) / (1 + D^{t+1}(t+1))]}^{1/2}   (Chung et al., eq. 10)
    MLTECH = ML / EC

kind='sequential' (SML, Oh & Heshmati 2010) uses the same formulas with the sequential technology S^t built from
the data of every period up to t (S^1 ⊆ S^2 ⊆ …: technology does not regress), in place of T^t.

measure='sbm' replaces 1/(1 + D) by the SBM efficiency with undesirable outputs (the "SBM-GML" of the Chinese
green-TFP literature): GML = ρ^G(t+1)/ρ^G(t), EC = ρ^{t+1}(t+1)/ρ^t(t), BPC = GML/EC.
Cross-period contemporaneous distances can be infeasible (a bad level no mix of the other period reaches):
they are NaN with the status stated, never dropped silently; the global index is always defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.efficiency.data import as_list, load
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.lp import LP, solve_many
from analyses.efficiency.malmquist import balanced
from analyses.efficiency.sbm import sbm_scores, spanning


def ddf_lp(x: np.ndarray, y: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray, B: np.ndarray, *,
           rts: str) -> LP:
    """Directional output distance function LP (Chung et al. 1997, eq. 5); variables [β, λ]."""
    m, n = X.shape
    c = np.zeros(n + 1)
    c[0] = -1.0
    a_ub = np.vstack([np.column_stack([np.zeros(m), X]), np.column_stack([y, -Y])])
    b_ub = np.concatenate([x, -y])
    a_eq, b_eq = np.column_stack([b, B]), b.copy()
    if rts == "vrs":
        a_eq = np.vstack([a_eq, np.concatenate([[0.0], np.ones(n)])])
        b_eq = np.concatenate([b_eq, [1.0]])
    lo, hi = np.zeros(n + 1), np.full(n + 1, np.inf)
    lo[0] = -np.inf
    return LP(c, a_ub, b_ub, a_eq, b_eq, lo, hi)


def ddf_scores(X, Y, B, X_ref, Y_ref, B_ref, *, rts: str = "crs") -> tuple[np.ndarray, np.ndarray]:
    """β* of each column of (X, Y, B) against the technology of the reference columns; NaN and the status where
    the LP has no optimum."""
    sols = solve_many([ddf_lp(X[:, k], Y[:, k], B[:, k], X_ref, Y_ref, B_ref, rts=rts) for k in range(X.shape[1])])
    return (np.array([-s.fun if s.status == "optimal" else np.nan for s in sols]),
            np.array([s.status for s in sols], dtype=object))


def _sbm_eff(X, Y, B, X_ref, Y_ref, B_ref, *, rts: str) -> tuple[np.ndarray, np.ndarray]:
    out = sbm_scores(X, Y, B, rts=rts, X_ref=X_ref, Yg_ref=Y_ref, Yb_ref=B_ref, screen=False)
    return out["rho"], out["status"]


def _reduced(X, Y, B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns that span the SBM technology (strong disposability), found once per reference set."""
    keep = spanning(X, Y, B)
    return X[:, keep], Y[:, keep], B[:, keep]


@dataclass
class LuenbergerResult:
    """ML / GML indices per DMU and period pair, the distances behind them, and the cumulative index."""

    kind: str  # 'global', 'contemporaneous' or 'sequential'
    measure: str  # 'ddf' or 'sbm'
    rts: str
    unit: str
    time: str
    distances: pd.DataFrame  # unit, time, own (D^t(t) or ρ^t(t)), global / prev / next, status
    indices: pd.DataFrame  # unit, time (later period), ml (or gml), ec, tc (bpc for global)
    source: str = "DataFrame"
    quality: str = "not-checked"  # quality-gate status of the warehouse data read

    @property
    def index_name(self) -> str:
        return {"global": "gml", "sequential": "sml"}.get(self.kind, "ml")

    @property
    def cumulative(self) -> pd.DataFrame:
        """The index and its components chained from the base period (1 there), per DMU."""
        cols = [self.index_name, "ec", "tc"]
        first = self.distances[self.time].min()
        base = pd.DataFrame({self.unit: self.indices[self.unit].unique(), self.time: first})
        frame = pd.concat([base.assign(**dict.fromkeys(cols, 1.0)), self.indices[[self.unit, self.time, *cols]]])
        frame = frame.sort_values([self.unit, self.time]).reset_index(drop=True)
        for c in cols:
            frame[c] = frame.groupby(self.unit)[c].cumprod()
        return frame

    @property
    def period_means(self) -> pd.DataFrame:
        """Geometric means over DMUs for each period pair (DMUs with an undefined index left out)."""
        cols = [self.index_name, "ec", "tc"]
        return np.exp(self.indices.groupby(self.time)[cols].apply(lambda d: np.log(d).mean()))

    def to_frame(self) -> pd.DataFrame:
        return self.indices.copy()


def malmquist_luenberger(data, inputs: Sequence[str] | str, outputs: Sequence[str] | str,
                         undesirable: Sequence[str] | str, *, unit: str | None = None, time: str | None = None,
                         kind: str = "global", measure: str = "ddf", rts: str = "crs", con=None,
                         allow_failing_checks: bool = False,
                         where: str | None = None,
        deflate: dict[str, str] | None = None, base_year=None) -> LuenbergerResult:
    """Global (Oh 2010; kind='global'), contemporaneous (Chung et al. 1997) or sequential (Oh & Heshmati 2010;
    the frontier of period t from all periods ≤ t) Malmquist–Luenberger index of a balanced panel with
    undesirable outputs.

    Example: malmquist_luenberger("fct_city_year", ["labour", "capital", "energy"], ["gdp"], ["co2"],
    unit="city_code", time="year").cumulative
    """
    if kind not in ("global", "contemporaneous", "sequential"):
        raise EfficiencyError(f"kind {kind!r}: use global (Oh 2010), contemporaneous (Chung et al. 1997) or "
                              "sequential (Oh & Heshmati 2010)")
    if measure not in ("ddf", "sbm"):
        raise EfficiencyError(f"measure {measure!r}: use ddf (directional distance) or sbm")
    if rts not in ("crs", "vrs"):
        raise EfficiencyError(f"rts {rts!r}: use crs or vrs")
    inputs, outputs, undesirable = as_list(inputs), as_list(outputs), as_list(undesirable)
    fr = load(data, inputs, outputs, undesirable, unit=unit, time=time or "year", con=con, where=where,
              positive=measure == "sbm", deflate=deflate, base_year=base_year,
              allow_failing_checks=allow_failing_checks)
    u, t = fr.unit, fr.time
    frame = balanced(fr.frame, u, t, fr.source)
    periods = sorted(frame[t].unique())
    if len(periods) < 2:
        raise EfficiencyError(f"{fr.source}: the index needs at least two periods; {t} has {periods}")
    units = sorted(frame[u].unique())
    D = {p: tuple(g.set_index(u).loc[units, cols].to_numpy().T for cols in (inputs, outputs, undesirable))
         for p, g in frame.groupby(t)}
    solve = ddf_scores if measure == "ddf" else _sbm_eff
    # reference technologies: all columns for the DDF (weak disposability of the bads rules out dominance
    # screening), the spanning columns, found once, for the SBM
    if kind == "sequential":  # S^t: the data of every period up to t
        R = {p: tuple(np.hstack([D[q][i] for q in periods[:k + 1]]) for i in range(3))
             for k, p in enumerate(periods)}
        R = {p: (R[p] if measure == "ddf" else _reduced(*R[p])) for p in periods}
    else:
        R = {p: (D[p] if measure == "ddf" else _reduced(*D[p])) for p in D}
    eff = (lambda d: 1.0 / (1.0 + d)) if measure == "ddf" else (lambda d: d)  # as an efficiency: higher is better
    K, n = len(periods), len(units)
    own, st_own = np.full((K, n), np.nan), np.empty((K, n), dtype=object)
    for k, p in enumerate(periods):
        own[k], st_own[k] = solve(*D[p], *R[p], rts=rts)
    cols = {"own": own}
    status = st_own.copy()
    if kind == "global":
        G = tuple(np.hstack([D[p][i] for p in periods]) for i in range(3))
        G = G if measure == "ddf" else _reduced(*G)
        glob = np.full((K, n), np.nan)
        for k, p in enumerate(periods):
            glob[k], st = solve(*D[p], *G, rts=rts)
            status[k] = np.where(st != "optimal", "global " + st.astype(str), status[k])
        cols["global"] = glob
        e_own, e_g = eff(own), eff(glob)
        index = e_g[1:] / e_g[:-1]
        ec = e_own[1:] / e_own[:-1]
        tc = index / ec
    else:
        prev, nxt = np.full((K, n), np.nan), np.full((K, n), np.nan)
        for k, p in enumerate(periods):
            if k > 0:
                prev[k], st = solve(*D[p], *R[periods[k - 1]], rts=rts)
                status[k] = np.where(st != "optimal", "vs previous period " + st.astype(str), status[k])
            if k < K - 1:
                nxt[k], st = solve(*D[p], *R[periods[k + 1]], rts=rts)
                status[k] = np.where(st != "optimal", "vs next period " + st.astype(str), status[k])
        cols.update(prev=prev, next=nxt)
        e_own, e_prev, e_next = eff(own), eff(prev), eff(nxt)
        # ML = sqrt{[e^t(t+1)/e^t(t)] × [e^{t+1}(t+1)/e^{t+1}(t)]} with e = 1/(1 + D) (or ρ)
        index = np.sqrt((e_prev[1:] / e_own[:-1]) * (e_own[1:] / e_next[:-1]))
        ec = e_own[1:] / e_own[:-1]
        tc = index / ec
    name = {"global": "gml", "sequential": "sml"}.get(kind, "ml")
    distances = pd.DataFrame({u: np.tile(units, K), t: np.repeat(periods, n), **{k: v.ravel() for k, v in cols.items()},
                              "status": status.ravel()})
    indices = pd.DataFrame({u: np.tile(units, K - 1), t: np.repeat(periods[1:], n), name: index.ravel(),
                            "ec": ec.ravel(), "tc": tc.ravel()})
    return LuenbergerResult(kind=kind, measure=measure, rts=rts, unit=u, time=t, distances=distances,
                            indices=indices, source=fr.source, quality=fr.quality)
