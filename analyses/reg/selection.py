"""Selection on unobservables: the Altonji–Elder–Taber ratio and Oster's δ and β*, from a short and a long regression.

- AET ratio (Altonji, Elder & Taber 2005, as computed by Nunn & Wantchekon 2011, Table 3): β_F / (β_R − β_F), β_R with
  the restricted (short) controls and β_F with the full set: how much stronger selection on unobservables than on
  observables would have to be to explain the whole effect away; a ratio above 1 is read as robust.
- Oster (2019, JBES 37(2), eq. 3, the approximation of her Proposition 1 for δ): with the short and long
  coefficients and R², and R_max (default min(1.3·R̃, 1), her suggestion),
  β* = β̃ − δ(β̊ − β̃)(R_max − R̃)/(R̃ − R̊), and the δ that brings β* to zero, δ = β̃(R̃ − R̊)/((β̊ − β̃)(R_max − R̃)).
  psacalc's exact δ solves a cubic; this is the approximation the formula above states.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
    oster_delta: float
    oster_beta: float

    def as_dict(self) -> dict:
        def num(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"x": self.x, "beta_short": float(self.short.coef[self.x]), "r2_short": self.short.r2,
                "beta_long": float(self.long.coef[self.x]), "r2_long": self.long.r2, "r_max": self.r_max,
                "aet_ratio": num(self.aet_ratio), "oster_delta": num(self.oster_delta),
                "oster_beta_star": num(self.oster_beta)}


def selection_ratios(data: pd.DataFrame, y: str, x: str, controls: Sequence[str], short_controls: Sequence[str] = (),
                     fe: Sequence[str] = (), vce: str = "iid", r_max: float | None = None,
                     delta: float = 1.0) -> SelectionRatios:
    """AET ratio and Oster's δ (for β = 0) and β* (for `delta`) of x's coefficient; both fits on the long model's
    sample, the fixed effects in both (so R² counts them, as reghdfe's R² does)."""
    cols = [y, x, *controls, *short_controls, *[c for f in fe for c in f.split("^")]]
    frame = data.dropna(subset=list(dict.fromkeys(cols)))
    short_text = join_formula(y, [x, *short_controls], list(fe), None)
    long_text = join_formula(y, [x, *dict.fromkeys([*short_controls, *controls])], list(fe), None)
    short = fit_frame(frame, short_text, short_text, vce)
    long = fit_frame(frame, long_text, long_text, vce)
    b0, r0 = float(short.coef[x]), short.r2
    b1, r1 = float(long.coef[x]), long.r2
    rm = min(1.3 * r1, 1.0) if r_max is None else r_max
    gap = b0 - b1
    aet = b1 / gap if gap else math.inf
    oster_delta = b1 * (r1 - r0) / (gap * (rm - r1)) if gap and rm > r1 else math.inf
    oster_beta = b1 - delta * gap * (rm - r1) / (r1 - r0) if r1 != r0 else math.nan
    return SelectionRatios(short=short, long=long, x=x, r_max=rm, aet_ratio=aet, oster_delta=oster_delta,
                           oster_beta=oster_beta)
