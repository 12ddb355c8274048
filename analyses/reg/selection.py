"""Selection on unobservables: the Altonji–Elder–Taber ratio and Oster's δ and β*, from a short and a long regression.

- AET ratio (Altonji, Elder & Taber 2005, as computed by Nunn & Wantchekon 2011, Table 3): β_F / (β_R − β_F), β_R with
  the restricted (short) controls and β_F with the full set: how much stronger selection on unobservables than on
  observables would have to be to explain the whole effect away; a ratio above 1 is read as robust.
- Oster (2019, JBES 37(2)) exact solutions, as her Stata command psacalc 2.1 computes them (its Mata functions
  bound, d1quadsol and dnot1cubsol, read in its source): with β̊, R̊ (short), β̃, R̃ (long), σ_y² = Var(y),
  σ_x² = Var(x residualised on the short controls), τ_x = Var(x residualised on the long controls) and R_max
  (default min(1.3·R̃, 1), her suggestion):
  · δ for a hypothesised β (0 by default) in closed form (her Proposition 2 solved for δ);
  · β* for a given δ as β̃ − ν, ν a root of the cubic (δ−1)(τσ_x² − τ²)ν³ + τ(β̊−β̃)σ_x²(δ−2)ν² + [δ(R_max−R̃)σ_y²(σ_x²−τ)
    − (R̃−R̊)σ_y²τ − σ_x²τ(β̊−β̃)²]ν + δ(R_max−R̃)σ_y²(β̊−β̃)σ_x² = 0 (a quadratic when δ = 1); of the real roots the
    one closest to β̃ among those that keep the bias's direction (her Assumption 3), the others reported.
  The approximations of her eq. (3), β* ≈ β̃ − δ(β̊ − β̃)(R_max − R̃)/(R̃ − R̊), are kept beside them.
  The fixed effects enter both fits, as psacalc's mcontrol (unrelated controls in every regression). Written here:
  no Python library computes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.reg.fit import RegResult, fit_frame, join_formula


@dataclass
class SelectionRatios:
    """Short and long fits and the ratios computed from them."""

    short: RegResult
    long: RegResult
    x: str
    r_max: float
    aet_ratio: float
    oster_delta: float  # exact δ that brings β to `beta` (psacalc delta)
    oster_beta: float  # exact β* for `delta` (psacalc beta)
    oster_delta_approx: float = math.nan
    oster_beta_approx: float = math.nan
    oster_alternative_betas: tuple[float, ...] = ()
    delta: float = 1.0
    beta: float = 0.0

    def as_dict(self) -> dict:
        def num(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"x": self.x, "beta_short": float(self.short.coef[self.x]), "r2_short": self.short.r2,
                "beta_long": float(self.long.coef[self.x]), "r2_long": self.long.r2, "r_max": self.r_max,
                "aet_ratio": num(self.aet_ratio), "oster_delta": num(self.oster_delta),
                "oster_beta_star": num(self.oster_beta), "oster_delta_approx": num(self.oster_delta_approx),
                "oster_beta_star_approx": num(self.oster_beta_approx),
                "oster_alternative_betas": [num(b) for b in self.oster_alternative_betas],
                "delta": self.delta, "beta": self.beta}


@dataclass(frozen=True)
class OsterInputs:
    """The seven numbers psacalc reads from the data (its Mata main())."""

    beta_short: float
    r2_short: float
    beta_long: float
    r2_long: float
    var_y: float
    var_x: float  # x residualised on the short controls
    tau_x: float  # x residualised on the long controls


def oster_delta(inp: OsterInputs, r_max: float, beta: float = 0.0) -> float:
    """Oster's δ such that β = `beta` (psacalc's bound()): a ratio of two cubics in β̃ − β."""
    bo_m_bt = inp.beta_short - inp.beta_long
    rt_m_ro = (inp.r2_long - inp.r2_short) * inp.var_y
    rm_m_rt = (r_max - inp.r2_long) * inp.var_y
    s, t, v = inp.var_x, inp.tau_x, inp.beta_long - beta
    num = v * rt_m_ro * t + v * s * t * bo_m_bt**2 + 2 * v**2 * t * bo_m_bt * s + v**3 * (t * s - t**2)
    den = rm_m_rt * bo_m_bt * s + v * rm_m_rt * (s - t) + v**2 * t * bo_m_bt * s + v**3 * (t * s - t**2)
    return num / den if den else math.inf


def oster_beta(inp: OsterInputs, r_max: float, delta: float = 1.0) -> tuple[float, tuple[float, ...]]:
    """β* for a given δ and the other real solutions (psacalc's d1quadsol / dnot1cubsol): β̃ − ν over the real roots ν
    of the cubic in the module docstring, the chosen one closest to β̃ among those with sign(β* − β̃) =
    sign(β̃ − β̊) (Oster's Assumption 3); with δ = 1, psacalc's rule: the closer root, or the other if the closer one
    reverses the bias."""
    bo_m_bt = inp.beta_short - inp.beta_long
    rt_m_ro = (inp.r2_long - inp.r2_short) * inp.var_y
    rm_m_rt = (r_max - inp.r2_long) * inp.var_y
    s, t = inp.var_x, inp.tau_x
    coefs = [(delta - 1) * (t * s - t**2), t * bo_m_bt * s * (delta - 2),
             delta * rm_m_rt * (s - t) - rt_m_ro * t - s * t * bo_m_bt**2, rm_m_rt * delta * bo_m_bt * s]
    roots = np.roots(coefs if coefs[0] != 0 else coefs[1:])
    scale = max(1.0, float(np.max(np.abs(roots)))) if len(roots) else 1.0
    real = sorted(float(r.real) for r in roots if abs(r.imag) <= 1e-9 * scale)
    if not real:
        return math.nan, ()
    betas = [inp.beta_long - nu for nu in real]
    direction = np.sign(inp.beta_long - inp.beta_short)

    def violates(b: float) -> bool:
        return np.sign(b - inp.beta_long) != direction

    def dist(b: float) -> float:
        return (b - inp.beta_long) ** 2

    if delta == 1 and len(betas) == 2:
        best, other = sorted(betas, key=dist)
        if violates(best):
            best, other = other, best
        return best, (other,)
    ranked = sorted(betas, key=lambda b: (violates(b), dist(b)))
    return ranked[0], tuple(ranked[1:])


def selection_ratios(data: pd.DataFrame, y: str, x: str, controls: Sequence[str], short_controls: Sequence[str] = (),
                     fe: Sequence[str] = (), vce: str = "iid", r_max: float | None = None,
                     delta: float = 1.0, beta: float = 0.0) -> SelectionRatios:
    """AET ratio and Oster's δ (for β = `beta`, 0 by default) and β* (for `delta`) of x's coefficient, exact (as
    psacalc) and approximate; both fits on the long model's sample, the fixed effects in both (so R² counts them, as
    reghdfe's R² does)."""
    cols = [y, x, *controls, *short_controls, *[c for f in fe for c in f.split("^")]]
    frame = data.dropna(subset=list(dict.fromkeys(cols)))
    short_text = join_formula(y, [x, *short_controls], list(fe), None)
    long_controls = list(dict.fromkeys([*short_controls, *controls]))
    long_text = join_formula(y, [x, *long_controls], list(fe), None)
    short = fit_frame(frame, short_text, short_text, vce)
    long = fit_frame(frame, long_text, long_text, vce)
    b0, r0 = float(short.coef[x]), short.r2
    b1, r1 = float(long.coef[x]), long.r2
    rm = min(1.3 * r1, 1.0) if r_max is None else r_max
    gap = b0 - b1
    aet = b1 / gap if gap else math.inf
    delta_approx = b1 * (r1 - r0) / (gap * (rm - r1)) if gap and rm > r1 else math.inf
    beta_approx = b1 - delta * gap * (rm - r1) / (r1 - r0) if r1 != r0 else math.nan
    inp = OsterInputs(beta_short=b0, r2_short=r0, beta_long=b1, r2_long=r1,
                      var_y=float(frame[y].astype(float).var(ddof=1)),
                      var_x=_resid_var(frame, x, list(short_controls), list(fe)),
                      tau_x=_resid_var(frame, x, long_controls, list(fe)))
    exact_delta = oster_delta(inp, rm, beta) if gap and rm > r1 else math.inf
    exact_beta, others = oster_beta(inp, rm, delta) if gap else (b1, ())
    return SelectionRatios(short=short, long=long, x=x, r_max=rm, aet_ratio=aet, oster_delta=exact_delta,
                           oster_beta=exact_beta, oster_delta_approx=delta_approx, oster_beta_approx=beta_approx,
                           oster_alternative_betas=others, delta=delta, beta=beta)


def _resid_var(frame: pd.DataFrame, x: str, controls: list[str], fe: list[str]) -> float:
    """Var of x's residual on `controls` and the fixed effects (Stata's summarize: n − 1), as psacalc's predict,
    resid; x itself when there is nothing to partial out."""
    if not controls and not fe:
        return float(frame[x].astype(float).var(ddof=1))
    import pyfixest as pf

    rhs = " + ".join(controls) if controls else "1"
    text = f"{x} ~ {rhs}" + (f" | {' + '.join(fe)}" if fe else "")
    fit = pf.feols(text, data=frame)
    return float(np.var(np.asarray(fit.resid(), dtype=float), ddof=1))
