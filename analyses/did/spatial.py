"""Spatial DID: a spatial Durbin panel with the policy dummy and its spatial lag.

y = ρWy + β·D + θ·WD + α_i + λ_t + ε. The LeSage–Pace direct effect of D is the policy's effect on
treated units (feedback included), the indirect effect its spillover to neighbours; both with
simulated standard errors. This reuses the project's spatial panel estimator (analyses.spatial_panel),
so the model, its log-determinant and its inference are the ones validated against spreg and Elhorst.
"""

from __future__ import annotations

import pandas as pd

from analyses.did.estimators import _require
from analyses.spatial_panel import SpatialPanelResult, spatial_panel


def spatial_did(
    data: pd.DataFrame, y: str, w: object, treat: str = "treated", unit: str = "unit", time: str = "year",
    model: str = "sdm", effects: str = "twoways", con: object = None, draws: int = 1000, seed: int = 20240601,
    allow_failing_checks: bool = False,
) -> SpatialPanelResult:
    """Fit the SDM of `y` on `treat` (and W·treat) with two-way fixed effects; see `.effects` for the
    direct and indirect (spillover) effects of the policy. `w`: a libpysal W over the units, a file, or a
    warehouse matrix name (with `con`; it passes the quality gate unless `allow_failing_checks`)."""
    _require(data, [y, treat, unit, time])
    frame = data[[unit, time, y, treat]].copy()
    frame[unit] = frame[unit].astype(str)
    return spatial_panel(f"{y} ~ {treat}", data=frame, w=w, unit=unit, time=time, model=model, effects=effects,
                         con=con, draws=draws, seed=seed, allow_failing_checks=allow_failing_checks)
