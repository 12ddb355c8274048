"""Slacks-based measures: SBM (Tone 2001, EJOR 130:498–509), super-SBM (Tone 2002, EJOR 143:32–41), both with
undesirable outputs (Tone 2004; Cooper, Seiford & Tone 2007, §13.9), CRS or VRS, non-oriented, input- or
output-oriented.

SBM of DMU o with inputs x, desirable outputs y^g and undesirable outputs y^b (m, s1, s2 of them):

    ρ* = min [1 − (1/m) Σ s⁻_i/x_io] / [1 + (1/(s1+s2)) (Σ s^g_r/y^g_ro + Σ s^b_k/y^b_ko)]
         s.t. x_o = Xλ + s⁻,  y^g_o = Y^g λ − s^g,  y^b_o = Y^b λ + s^b,  λ, s ≥ 0   (VRS: Σλ = 1)

solved as the linear program of its Charnes–Cooper transformation (t = 1/denominator; Tone 2001 §3).
Input orientation keeps only the numerator, output orientation only the denominator.

Super-SBM, for the DMUs with ρ* = 1 (Tone 2002; with undesirable outputs as in Tone 2004 and the literature
that follows it): o leaves its own reference set and is moved *into* the others' technology,

    δ* = min [1 + (1/m) Σ s⁻_i/x_io] / [1 − (1/(s1+s2)) (Σ s^g_r/y^g_ro + Σ s^b_k/y^b_ko)]
         s.t. Σ_{j≠o} λ_j x_j ≤ x_o + s⁻,  Σ_{j≠o} λ_j y^g_j ≥ y^g_o − s^g,  Σ_{j≠o} λ_j y^b_j ≤ y^b_o + s^b,
              s^g ≤ y^g_o,  λ, s ≥ 0   (VRS: Σλ = 1)

`sbm(..., super_efficiency=True)` reports ρ* < 1 for inefficient DMUs and δ* ≥ 1 for efficient ones (as MaxDEA's
"Super SBM" does). Super-SBM can be infeasible: oriented models under VRS, and with undesirable outputs a DMU
whose bads are far below the others' (the bad slack it needs drives the denominator to zero or below). Such
DMUs get NaN and status 'super-SBM infeasible', never a silent score.
All data must be positive (the measure divides by every input and output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyses.efficiency.data import as_list, load
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.lp import LP, frontier_set, solve_many

ORIENTATIONS = ("none", "input", "output")
EFF_TOL = 1e-7


def _weights(m: int, q: int, orientation: str) -> tuple[float, float]:
    return (0.0 if orientation == "output" else 1.0 / m), (0.0 if orientation == "input" else 1.0 / q)


def sbm_lp(x: np.ndarray, yg: np.ndarray, yb: np.ndarray, X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, *,
           rts: str, orientation: str) -> LP:
    """Charnes–Cooper LP of the SBM with undesirable outputs; variables [t, Λ (n), S⁻ (m), S^g (s1), S^b (s2)]."""
    m, n = X.shape
    s1, s2 = Yg.shape[0], Yb.shape[0]
    wx, wy = _weights(m, s1 + s2, orientation)
    k = 1 + n + m + s1 + s2
    c = np.zeros(k)
    c[0] = 1.0
    c[1 + n:1 + n + m] = -wx / x
    rows = [np.concatenate([[1.0], np.zeros(n + m), wy / yg, wy / yb])]
    rows += list(np.hstack([-x[:, None], X, np.eye(m), np.zeros((m, s1 + s2))]))
    rows += list(np.hstack([-yg[:, None], Yg, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))]))
    rows += list(np.hstack([-yb[:, None], Yb, np.zeros((s2, m + s1)), np.eye(s2)]))
    if rts == "vrs":
        rows.append(np.concatenate([[-1.0], np.ones(n), np.zeros(m + s1 + s2)]))
    a_eq = np.vstack(rows)
    b_eq = np.zeros(len(a_eq))
    b_eq[0] = 1.0
    return LP(c, np.zeros((0, k)), np.zeros(0), a_eq, b_eq, np.zeros(k), np.full(k, np.inf))


def super_sbm_lp(x: np.ndarray, yg: np.ndarray, yb: np.ndarray, X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, *,
                 rts: str, orientation: str, exclude: int) -> LP:
    """Charnes–Cooper LP of the super-SBM with undesirable outputs; variables [t, Λ, S⁻, S^g, S^b]."""
    m, n = X.shape
    s1, s2 = Yg.shape[0], Yb.shape[0]
    wx, wy = _weights(m, s1 + s2, orientation)
    k = 1 + n + m + s1 + s2
    c = np.zeros(k)
    c[0] = 1.0
    c[1 + n:1 + n + m] = wx / x
    a_eq = [np.concatenate([[1.0], np.zeros(n + m), -wy / yg, -wy / yb])]
    b_eq = [1.0]
    if rts == "vrs":
        a_eq.append(np.concatenate([[-1.0], np.ones(n), np.zeros(m + s1 + s2)]))
        b_eq.append(0.0)
    ub = list(np.hstack([-x[:, None], X, -np.eye(m), np.zeros((m, s1 + s2))]))
    ub += list(np.hstack([yg[:, None], -Yg, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))]))
    ub += list(np.hstack([-yb[:, None], Yb, np.zeros((s2, m + s1)), -np.eye(s2)]))
    ub += list(np.hstack([-yg[:, None], np.zeros((s1, n + m)), np.eye(s1), np.zeros((s1, s2))]))
    hi = np.full(k, np.inf)
    hi[1 + exclude] = 0.0
    if orientation == "input":
        hi[1 + n + m:] = 0.0
    elif orientation == "output":
        hi[1 + n:1 + n + m] = 0.0
    return LP(c, np.vstack(ub), np.zeros(len(ub)), np.vstack(a_eq), np.array(b_eq), np.zeros(k), hi)


@dataclass
class SBMResult:
    """SBM (and super-SBM) scores, slacks and status, one row per DMU."""

    rts: str
    orientation: str
    super_efficiency: bool
    inputs: list[str]
    outputs: list[str]
    undesirable: list[str]
    index: pd.Index
    efficiency: pd.Series  # ρ* (δ* for efficient DMUs when super_efficiency)
    sbm: pd.Series  # ρ*, never above 1
    slacks: pd.DataFrame  # s⁻ (input excess), s^g (shortfall), s^b (bad excess); super: the super-SBM slacks
    status: pd.Series
    source: str = "DataFrame"
    quality: str = "not-checked"  # quality-gate status of the warehouse data read
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per DMU: efficiency, sbm, slacks (slack_<variable>) and status."""
        out = pd.DataFrame({"efficiency": self.efficiency, "sbm": self.sbm}, index=self.index)
        out = out.join(self.slacks.add_prefix("slack_"))
        out["status"] = self.status
        return out.reset_index()


def spanning(X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray, threshold: int = 200) -> np.ndarray:
    """Columns that span the SBM technology {x ≥ Xλ, y^g ≤ Y^gλ, y^b ≥ Y^bλ}: the VRS frontier DMUs with the bads
    as inputs (lp.frontier_set). A DMU off that frontier is dominated by a mix of the others, so every SBM
    projection through it has a dominating one through them, with slacks at least as large: the SBM scores
    against the frontier DMUs equal those against all DMUs. All columns when there are few."""
    if X.shape[1] <= threshold:
        return np.arange(X.shape[1])
    return frontier_set(np.vstack([X, Yb]), Yg)


def sbm_scores(X: np.ndarray, Yg: np.ndarray, Yb: np.ndarray | None = None, *, rts: str = "crs",
               orientation: str = "none", super_efficiency: bool = False, X_ref: np.ndarray | None = None,
               Yg_ref: np.ndarray | None = None, Yb_ref: np.ndarray | None = None, screen: bool = True) -> dict:
    """SBM of each column of X (m×n), Yg (s1×n), Yb (s2×n) against the reference technology (default: the same
    DMUs). Returns {'rho', 'score', 'slacks' (n × (m+s1+s2)), 'status'}; super-efficiency needs the default
    reference (a DMU leaves its own column out). screen=False: the reference is already reduced (`spanning`)."""
    Yb = np.zeros((0, X.shape[1])) if Yb is None else Yb
    same = X_ref is None
    X_ref = X if same else X_ref
    Yg_ref = Yg if Yg_ref is None else Yg_ref
    Yb_ref = (Yb if same else np.zeros((0, X_ref.shape[1]))) if Yb_ref is None else Yb_ref
    n = X.shape[1]
    m, s1, s2 = X.shape[0], Yg.shape[0], Yb.shape[0]
    R = spanning(X_ref, Yg_ref, Yb_ref) if screen else np.arange(X_ref.shape[1])
    nr = len(R)
    sols = solve_many([sbm_lp(X[:, k], Yg[:, k], Yb[:, k], X_ref[:, R], Yg_ref[:, R], Yb_ref[:, R], rts=rts,
                              orientation=orientation) for k in range(n)])
    rho = np.array([s.fun if s.status == "optimal" else np.nan for s in sols])
    slacks = np.full((n, m + s1 + s2), np.nan)
    status = np.array([s.status for s in sols], dtype=object)
    for k, s in enumerate(sols):
        if s.status == "optimal":
            slacks[k] = s.x[1 + nr:] / s.x[0]
    score = rho.copy()
    if super_efficiency:
        if not same:
            raise EfficiencyError("super-SBM scores DMUs against the others of the same data: no X_ref")
        eff = np.flatnonzero(rho >= 1 - EFF_TOL)
        sup = solve_many([super_sbm_lp(X[:, k], Yg[:, k], Yb[:, k], X, Yg, Yb, rts=rts, orientation=orientation,
                                       exclude=int(k)) for k in eff])
        for k, s in zip(eff, sup, strict=True):
            if s.status == "optimal":
                score[k] = s.fun
                slacks[k] = s.x[1 + n:] / s.x[0]
            else:
                score[k] = np.nan
                status[k] = f"super-SBM {s.status}"
    return {"rho": rho, "score": score, "slacks": slacks, "status": status}


def sbm(data, inputs: Sequence[str] | str, outputs: Sequence[str] | str, undesirable: Sequence[str] | str = (), *,
        unit: str | None = None, time: str | None = None, rts: str = "crs", orientation: str = "none",
        super_efficiency: bool = False, frontier: str = "period", con=None,
        allow_failing_checks: bool = False, where: str | None = None,
        deflate: dict[str, str] | None = None, base_year=None) -> SBMResult:
    """SBM or super-SBM (super_efficiency=True) with undesirable outputs of every DMU (unit × period row).

    Example: sbm("fct_city_year", ["labour", "capital", "energy"], ["gdp"], ["so2", "wastewater"], unit="city_code",
    time="year", rts="vrs", super_efficiency=True)
    """
    if rts not in ("crs", "vrs"):
        raise EfficiencyError(f"rts {rts!r}: use crs or vrs")
    if orientation not in ORIENTATIONS:
        raise EfficiencyError(f"orientation {orientation!r}: use none (non-oriented), input or output")
    if frontier not in ("period", "pooled"):
        raise EfficiencyError(f"frontier {frontier!r}: use period (one frontier per period) or pooled")
    inputs, outputs, undesirable = as_list(inputs), as_list(outputs), as_list(undesirable)
    fr = load(data, inputs, outputs, undesirable, unit=unit, time=time, con=con, where=where, positive=True,
              deflate=deflate, base_year=base_year, allow_failing_checks=allow_failing_checks)
    ids = [c for c in (fr.unit, fr.time) if c]
    frame = fr.frame.sort_values(ids, kind="stable").reset_index(drop=True)
    groups = [frame] if fr.time is None or frontier == "pooled" else [g for _, g in frame.groupby(fr.time, sort=True)]
    parts = [sbm_scores(g[inputs].to_numpy().T, g[outputs].to_numpy().T, g[undesirable].to_numpy().T, rts=rts,
                        orientation=orientation, super_efficiency=super_efficiency) for g in groups]
    order = np.concatenate([g.index.to_numpy() for g in groups])
    pos = np.empty(len(order), dtype=int)
    pos[order] = np.arange(len(order))
    index = pd.MultiIndex.from_frame(frame[ids]) if len(ids) > 1 else pd.Index(frame[ids[0]], name=ids[0])

    def col(key):
        return np.concatenate([p[key] for p in parts])[pos]

    return SBMResult(rts=rts, orientation=orientation, super_efficiency=super_efficiency, inputs=inputs,
                     outputs=outputs, undesirable=undesirable, index=index,
                     efficiency=pd.Series(col("score"), index=index), sbm=pd.Series(col("rho"), index=index),
                     slacks=pd.DataFrame(col("slacks"), index=index, columns=inputs + outputs + undesirable),
                     status=pd.Series(col("status"), index=index), source=fr.source, quality=fr.quality)
