"""Radial DEA: CCR (constant returns, Charnes, Cooper & Rhodes 1978) and BCC (variable returns, Banker,
Charnes & Cooper 1984), input or output orientation, two-phase slacks, scale efficiency and returns to scale,
and Andersen–Petersen (1993) super-efficiency.

    res = dea(df, inputs=["labour", "capital"], outputs=["gdp"], unit="code", time="year", rts="vrs")
    res.efficiency        # one score per DMU (θ, or 1/φ for output orientation, as DEAP prints it)
    res.to_frame()        # crs, vrs, scale, rts, slacks, targets, status per DMU

Definitions (Coelli 1996, "A Guide to DEAP Version 2.1", CEPA WP 96/08, §2; Cooper, Seiford & Tone 2007):
- input orientation: θ* = min θ s.t. Xλ ≤ θx_o, Yλ ≥ y_o, λ ≥ 0 (VRS: Σλ = 1); efficiency θ*.
- output orientation: φ* = max φ s.t. Xλ ≤ x_o, Yλ ≥ φy_o; efficiency 1/φ* (Farrell output measure, as DEAP).
- scale efficiency = CRS efficiency / VRS efficiency; returns to scale as DEAP decides them: crs where the two
  agree, else drs where the NIRS (Σλ ≤ 1) score equals the VRS score, else irs (Coelli 1996 §2.2).
- slacks: second phase with the radial projection fixed, max Σs⁻ + Σs⁺ (two-phase method, Cooper et al. 2007
  §3.3); targets = radial projection − s⁻ / + s⁺; peers and weights λ from that phase. DEAP's default
  "multi-stage" slacks (Coelli 1998) can choose other projections where the second phase has several optima.
- super-efficiency (Andersen & Petersen 1993): the DMU is left out of its own reference set; only efficient
  DMUs can change score. Under VRS the LP can be infeasible; such DMUs get NaN with status 'infeasible'.

Each period is its own frontier when `time` is given (frontier='period'), or all rows one frontier ('pooled').

Why not pyfrontier (1.1.1) or pyDEA (1.6): both solve one LP per DMU against all DMUs (pyDEA through PuLP,
pyfrontier through scipy), neither has Andersen–Petersen infeasibility reporting, the DEAP-style Malmquist
decomposition, SBM with undesirable outputs or Malmquist–Luenberger, and pyDEA is an unmaintained GUI-first
package (last release 2017). Here the LPs are warm-started in one HiGHS model and scored against the screened
frontier (see lp.py): 3,000 DMUs in about 1.5 s where a per-DMU linprog loop takes about 40 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyses.efficiency.data import as_list, load
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.lp import crs_subset, frontier_set, radial_scores, slack_lp, solve_many

RTS = ("crs", "vrs")
ORIENTATIONS = ("input", "output")
EFF_TOL = 1e-7


@dataclass
class DEAResult:
    """Radial DEA scores, one row per DMU; attributes as DEAP names them."""

    rts: str
    orientation: str
    inputs: list[str]
    outputs: list[str]
    index: pd.Index
    efficiency: pd.Series  # of the requested rts
    crs: pd.Series
    vrs: pd.Series
    scale: pd.Series
    returns_to_scale: pd.Series
    slacks_input: pd.DataFrame
    slacks_output: pd.DataFrame
    targets: pd.DataFrame
    peers: pd.DataFrame  # long: DMU, peer, weight λ
    status: pd.Series
    super_efficiency: pd.Series | None = None
    source: str = "DataFrame"
    quality: str = "not-checked"  # quality-gate status of the warehouse data read
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per DMU: efficiency, crs, vrs, scale, rts, super-efficiency, slacks, targets and status."""
        out = pd.DataFrame({"efficiency": self.efficiency, "crste": self.crs, "vrste": self.vrs,
                            "scale": self.scale, "rts": self.returns_to_scale}, index=self.index)
        if self.super_efficiency is not None:
            out["super_efficiency"] = self.super_efficiency
        out = out.join(self.slacks_input.add_prefix("slack_")).join(self.slacks_output.add_prefix("slack_"))
        out = out.join(self.targets.add_prefix("target_"))
        out["status"] = self.status
        return out.reset_index()

    @property
    def mean(self) -> pd.Series:
        """Arithmetic means of crste, vrste and scale, as DEAP prints them under the efficiency summary."""
        return pd.Series({"crste": self.crs.mean(), "vrste": self.vrs.mean(), "scale": self.scale.mean()})


def dea(data, inputs: Sequence[str] | str, outputs: Sequence[str] | str, *, unit: str | None = None,
        time: str | None = None, rts: str = "crs", orientation: str = "input", super_efficiency: bool = False,
        frontier: str = "period", con=None, allow_failing_checks: bool = False, where: str | None = None,
        deflate: dict[str, str] | None = None, base_year=None) -> DEAResult:
    """CCR (rts='crs') or BCC (rts='vrs') DEA of every DMU (unit × period row) of `data`.

    data: DataFrame, warehouse table/view, SQL query or file (read through `read_panel`). Example:
    dea("fct_province_year", ["labour", "capital"], ["gdp"], unit="province_code", time="year", rts="vrs").
    """
    if rts not in RTS:
        raise EfficiencyError(f"rts {rts!r}: use crs (CCR) or vrs (BCC)")
    if orientation not in ORIENTATIONS:
        raise EfficiencyError(f"orientation {orientation!r}: use input or output")
    if frontier not in ("period", "pooled"):
        raise EfficiencyError(f"frontier {frontier!r}: use period (one frontier per period) or pooled")
    inputs, outputs = as_list(inputs), as_list(outputs)
    fr = load(data, inputs, outputs, unit=unit, time=time, con=con, where=where, deflate=deflate, base_year=base_year,
              allow_failing_checks=allow_failing_checks)
    ids = [c for c in (fr.unit, fr.time) if c]
    frame = fr.frame.sort_values(ids, kind="stable").reset_index(drop=True)
    groups = [frame] if fr.time is None or frontier == "pooled" else [g for _, g in frame.groupby(fr.time, sort=True)]
    parts = [_score(g[inputs].to_numpy().T, g[outputs].to_numpy().T, rts, orientation, super_efficiency)
             for g in groups]
    index = pd.MultiIndex.from_frame(frame[ids]) if len(ids) > 1 else pd.Index(frame[ids[0]], name=ids[0])
    order = np.concatenate([g.index.to_numpy() for g in groups])
    pos = np.empty(len(order), dtype=int)
    pos[order] = np.arange(len(order))

    def col(key):
        return np.concatenate([p[key] for p in parts])[pos]

    crs, vrs = pd.Series(col("crs"), index=index), pd.Series(col("vrs"), index=index)
    peers = []
    for g, p in zip(groups, parts, strict=True):
        labels, keys = g[ids[0]].to_numpy(), g[ids].to_numpy()
        rows = np.repeat(np.arange(len(g)), [len(c) for c, _ in p["peers"]])
        cols = np.concatenate([c for c, _ in p["peers"]]).astype(int)
        frame_p = pd.DataFrame(keys[rows], columns=ids)
        frame_p["peer"] = labels[cols]
        frame_p["weight"] = np.concatenate([w for _, w in p["peers"]])
        peers.append(frame_p)
    return DEAResult(
        rts=rts, orientation=orientation, inputs=inputs, outputs=outputs, index=index,
        efficiency=crs if rts == "crs" else vrs, crs=crs, vrs=vrs, scale=crs / vrs,
        returns_to_scale=pd.Series(col("rts"), index=index),
        slacks_input=pd.DataFrame(np.concatenate([p["s_in"] for p in parts])[pos], index=index, columns=inputs),
        slacks_output=pd.DataFrame(np.concatenate([p["s_out"] for p in parts])[pos], index=index, columns=outputs),
        targets=pd.DataFrame(np.concatenate([p["targets"] for p in parts])[pos], index=index, columns=inputs + outputs),
        peers=pd.concat(peers, ignore_index=True),
        status=pd.Series(col("status"), index=index),
        super_efficiency=pd.Series(col("super"), index=index) if super_efficiency else None,
        source=fr.source, quality=fr.quality)


def efficiency_scores(X: np.ndarray, Y: np.ndarray, *, rts: str = "crs", orientation: str = "input",
                      X_ref: np.ndarray | None = None, Y_ref: np.ndarray | None = None) -> np.ndarray:
    """Farrell efficiency (θ, or 1/φ for output orientation) of each column of X (m×n) and Y (s×n) against the
    technology spanned by (X_ref, Y_ref) (default: the same DMUs). Scores against another period's technology
    can exceed 1; NaN where the LP has no optimum (e.g. VRS and a point outside the reference's input range)."""
    X_ref = X if X_ref is None else X_ref
    Y_ref = Y if Y_ref is None else Y_ref
    if X_ref.shape[1] > 200 and rts in ("crs", "vrs", "nirs"):
        keep = frontier_set(X_ref, Y_ref, rts="crs" if rts == "crs" else "vrs")
        X_ref, Y_ref = X_ref[:, keep], Y_ref[:, keep]
    raw, _ = radial_scores(X, Y, X_ref, Y_ref, rts=rts, orientation=orientation)
    return raw if orientation == "input" else 1.0 / raw


def _score(X: np.ndarray, Y: np.ndarray, rts: str, orientation: str, super_eff: bool) -> dict:
    """Every result of one frontier: X is m×n, Y is s×n."""
    n = X.shape[1]
    fronts = {"vrs": frontier_set(X, Y)}
    fronts["crs"] = crs_subset(X, Y, fronts["vrs"])  # spans the CRS technology: fewer columns for the CRS LPs
    fronts["nirs"] = fronts["vrs"]
    raw = {r: radial_scores(X, Y, X[:, fronts[r]], Y[:, fronts[r]], rts=r, orientation=orientation)
           for r in ("crs", "vrs", "nirs")}
    front = fronts[rts]
    Xe, Ye = X[:, front], Y[:, front]
    te = {r: (v if orientation == "input" else 1.0 / v) for r, (v, _) in raw.items()}
    status = np.array(["optimal" if s.status == "optimal" else s.status for s in raw[rts][1]], dtype=object)
    close = np.isclose(te["crs"], te["vrs"], rtol=0, atol=1e-6)
    nirs_eq = np.isclose(te["nirs"], te["vrs"], rtol=0, atol=1e-6)
    rts_lab = np.where(close, "crs", np.where(nirs_eq, "drs", "irs")).astype(object)
    # second phase: slacks at the radial projection of the requested model
    v = raw[rts][0]
    ok = np.isfinite(v)
    x_t = X * v if orientation == "input" else X.copy()
    y_t = Y.copy() if orientation == "input" else Y * v
    m, s = X.shape[0], Y.shape[0]
    s_in, s_out = np.full((n, m), np.nan), np.full((n, s), np.nan)
    peers: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, int), np.zeros(0))] * n
    todo = np.flatnonzero(ok)
    sols = solve_many([slack_lp(x_t[:, k], y_t[:, k], Xe, Ye, rts=rts) for k in todo])
    retry = [k for k, sol in zip(todo, sols, strict=True) if sol.status != "optimal"]
    if retry:  # the fixed projection can miss feasibility by the solver's tolerance: relax it by 1e-9
        eps = 1e-9 * (1 + np.abs(x_t))
        again = solve_many([slack_lp(x_t[:, k] + eps[:, k], y_t[:, k], Xe, Ye, rts=rts) for k in retry])
        sols = [again[retry.index(k)] if k in retry else sol for k, sol in zip(todo, sols, strict=True)]
    ne = len(front)
    for k, sol in zip(todo, sols, strict=True):
        if sol.status != "optimal":
            status[k] = f"slacks {sol.status}"
            continue
        lam = sol.x[:ne]
        s_in[k], s_out[k] = np.maximum(sol.x[ne:ne + m], 0), np.maximum(sol.x[ne + m:], 0)
        nz = lam > 1e-9
        peers[k] = (front[nz], lam[nz])
    targets = np.column_stack([(x_t.T - s_in), (y_t.T + s_out)])
    sup = te[rts].copy()
    if super_eff:
        eff = np.flatnonzero(np.isfinite(te[rts]) & (te[rts] >= 1 - EFF_TOL))
        ex = np.asarray(eff)
        sv, ssol = radial_scores(X[:, eff], Y[:, eff], X, Y, rts=rts, orientation=orientation, exclude=ex)
        sup[eff] = sv if orientation == "input" else 1.0 / sv
        for k, sol in zip(eff, ssol, strict=True):
            if sol.status != "optimal":
                status[k] = f"super-efficiency {sol.status}"
                sup[k] = np.nan
    return {"crs": te["crs"], "vrs": te["vrs"], "rts": rts_lab, "status": status, "s_in": s_in, "s_out": s_out,
            "targets": targets, "peers": peers, "super": sup}
