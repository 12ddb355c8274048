"""The specification search of Elhorst (2010; 2014 §3.5–3.6): LM tests on the non-spatial models, LR tests of
the fixed effects, then the SDM and its Wald/LR tests against SAR and SEM; one decision table.

Rules (Elhorst 2010, "Applied spatial econometrics: raising the bar", fig. 1):
1. unit / time effects are kept when their LR test rejects at `alpha`;
2. with the chosen effects, estimate the SDM;
3. if H0 θ = 0 (SDM → SAR) is not rejected and the (robust) LM tests point to a lag, choose SAR;
   if H0 θ + ρβ = 0 (SDM → SEM) is not rejected and the LM tests point to an error, choose SEM;
   otherwise the SDM describes the data best.
"""

from __future__ import annotations

import pandas as pd

from analyses.spatial_panel import diagnostics as dg
from analyses.spatial_panel.model import infer_index, spatial_panel
from analyses.spatial_panel.panel import build_panel
from analyses.spatial_panel.result import SpatialPanelResult
from analyses.spatial_panel.sources import load_panel, load_w, quality_status


def specification_search(formula: str, data, w, unit: str | None = None, time: str | None = None,
                         alpha: float = 0.05, con=None, **fit_options) -> tuple[pd.DataFrame, SpatialPanelResult]:
    """(decision table, chosen model's result). Each table row: step, test, statistic, p, decision.

    `fit_options` go to `spatial_panel` (where, w_transform, w_order, lee_yu, allow_failing_checks …); the data
    are read with `unit` / `time`, an id-less W file is ordered by `w_order` and warehouse inputs pass the quality
    gate first, as in `spatial_panel`."""
    read = load_panel(data, con, fit_options.get("where"), unit=unit, time=time)
    quality_status(con, read.tables, w, fit_options.get("allow_failing_checks", False))
    frame = read.frame
    unit, time = infer_index(frame, unit, time)
    w_pair, _ = load_w(w, frame[unit].astype(str).unique().tolist(), con, fit_options.get("w_transform", "r"),
                       w_order=fit_options.get("w_order"))
    panel = build_panel(formula, frame, w_pair, unit, time, intercept=False)
    rows = []
    fe = dg.fe_lr_tests(panel)
    unit_fe, time_fe = (fe["p_value"] < alpha).tolist()
    for r, keep in zip(fe.itertuples(), (unit_fe, time_fe), strict=True):
        rows.append({"step": "1 fixed effects", "test": r.test, "statistic": r.statistic, "p_value": r.p_value,
                     "decision": "keep" if keep else "drop"})
    effects = {(True, True): "twoways", (True, False): "individual", (False, True): "time"}.get(
        (unit_fe, time_fe), "pooled")
    if effects == "pooled":
        fit_options.pop("lee_yu", None)
    lm = dg.lm_tests(panel, effects) if effects != "pooled" else dg.lm_tests(
        build_panel(formula, frame, w_pair, unit, time, intercept=True), "pooled")
    sig = dict(zip(lm["test"], lm["p_value"] < alpha, strict=True))
    for r in lm.itertuples():
        rows.append({"step": f"2 LM ({effects})", "test": r.test, "statistic": r.statistic, "p_value": r.p_value,
                     "decision": "reject H0" if r.p_value < alpha else "do not reject"})
    fit = spatial_panel(formula, data, w, unit, time, model="sdm", effects=effects, con=con, **fit_options)
    t = fit.tests.set_index("test")
    p_sar = t.loc["LR SDM vs SAR", "p_value"]
    p_sem = t.loc["LR SDM vs SEM", "p_value"]
    for name in ("Wald SDM vs SAR (theta = 0)", "LR SDM vs SAR", "Wald SDM vs SEM (theta + rho*beta = 0)",
                 "LR SDM vs SEM"):
        rows.append({"step": f"3 SDM ({effects})", "test": name, "statistic": t.loc[name, "statistic"],
                     "p_value": t.loc[name, "p_value"],
                     "decision": "reject H0" if t.loc[name, "p_value"] < alpha else "do not reject"})
    lag_pointed = sig["robust LM lag"] or (sig["LM lag"] and not sig["LM error"])
    err_pointed = sig["robust LM error"] or (sig["LM error"] and not sig["LM lag"])
    if p_sar >= alpha and lag_pointed:
        choice = "sar"
    elif p_sem >= alpha and err_pointed:
        choice = "sem"
    else:
        choice = "sdm"
    rows.append({"step": "4 choice", "test": "model", "statistic": float("nan"), "p_value": float("nan"),
                 "decision": f"{choice.upper()} with {effects} effects"})
    if choice != "sdm":
        fit = spatial_panel(formula, data, w, unit, time, model=choice, effects=effects, con=con,
                            **fit_options)
    return pd.DataFrame(rows), fit

