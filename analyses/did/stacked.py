"""Stacked DID: one clean sub-experiment per adoption cohort, stacked and estimated with weights.

Each cohort g forms a sub-experiment with its units and clean controls (never treated, or also those
not treated inside the event window), observed over the years g + low … g + high; the stack is
estimated with sub-experiment × unit and sub-experiment × year fixed effects (Cengiz, Dube, Lindner &
Zipperer 2019, QJE 134(3), online appendix D). Plain stacking weights cohorts by an arbitrary mix of
their treated and control counts, so controls get the corrective weights of Wing, Freedman &
Hollingsworth (2024, "Stacked Difference-in-Differences", NBER WP 32054, eq. 8): (N^D_a/N^D)/(N^C_a/N^C).
The coefficient is then the "trimmed aggregate ATT", Σ_a (N^D_a/N^D)·DD_a — each cohort's 2×2 DID of
means weighted by its treated count — which the tests check against plain group means. Cohorts whose
window leaves the panel, or that have no clean control, are trimmed and listed, never dropped silently.
No pinned library implements it; pyfixest does the weighted fixed-effects regressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyfixest as pf

from analyses.did.estimators import DIDError, _require

CONTROLS = ("never", "notyet")


@dataclass
class StackedResult:
    """`att`, `se` (clustered by unit), `nobs` of the stack; `event_study` (event_time, coef, se);
    `cohorts` (cohort, n_treated, n_controls, included, reason)."""

    att: float
    se: float
    nobs: int
    event_study: pd.DataFrame
    cohorts: pd.DataFrame
    window: tuple[int, int]
    control: str


def stack(
    data: pd.DataFrame, y: str, window: tuple[int, int] = (-3, 3), control: str = "never", unit: str = "unit",
    time: str = "year", cohort: str = "cohort",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stacked frame (sub, unit, time, y, treated_unit, event_time, weight) and the cohort table."""
    _require(data, [y, unit, time, cohort])
    if control not in CONTROLS:
        raise DIDError(f"control group {control!r} is not one of {', '.join(CONTROLS)}")
    low, high = window
    if not low < 0 <= high:
        raise DIDError(f"event window {low}:{high} must start before adoption (low < 0) and include it (high ≥ 0)")
    years = set(data[time].unique())
    first = data.groupby(unit)[cohort].first().astype("Float64")
    rows, subs = [], []
    for g in sorted(int(c) for c in first.dropna().unique()):
        span = set(range(g + low, g + high + 1))
        treated = first.index[first == g]
        clean = first.isna() if control == "never" else first.isna() | (first > g + high)
        controls = first.index[clean.fillna(False).to_numpy(dtype=bool)]
        reason = ("window years outside the panel" if not span <= years
                  else "no clean control unit" if len(controls) == 0 else "")
        rows.append({"cohort": g, "n_treated": len(treated), "n_controls": len(controls), "included": not reason,
                     "reason": reason})
        if reason:
            continue
        sub = data[data[unit].isin(treated.union(controls)) & data[time].isin(span)][[unit, time, y]].copy()
        if sub.groupby(unit)[time].nunique().min() < len(span) or sub[y].isna().any():
            raise DIDError(f"cohort {g}: some units lack {y} in years {g + low}–{g + high}; stacked DID needs a "
                           "balanced window (use the balanced sample)")
        sub["sub"] = g
        sub["treated_unit"] = sub[unit].isin(treated).astype(int)
        sub["event_time"] = sub[time] - g
        subs.append(sub)
    cohorts = pd.DataFrame(rows)
    if not subs:
        raise DIDError(f"no cohort has a full window {low}:{high} inside the panel and a clean control; "
                       f"shorten the window (cohorts: {', '.join(map(str, cohorts['cohort']))})")
    stacked = pd.concat(subs, ignore_index=True)
    counts = stacked.drop_duplicates(["sub", unit]).groupby(["sub", "treated_unit"]).size().unstack(fill_value=0)
    n_d, n_c = counts[1].sum(), counts[0].sum()
    control_weight = (counts[1] / n_d) / (counts[0] / n_c)
    stacked["weight"] = np.where(stacked["treated_unit"] == 1, 1.0, stacked["sub"].map(control_weight))
    return stacked, cohorts


def stacked_did(
    data: pd.DataFrame, y: str, window: tuple[int, int] = (-3, 3), control: str = "never", unit: str = "unit",
    time: str = "year", cohort: str = "cohort", reference: int = -1,
) -> StackedResult:
    """Weighted stacked DID: the trimmed aggregate ATT and an event study over the window."""
    stacked, cohorts = stack(data, y, window, control, unit, time, cohort)
    low, high = window
    if not low <= reference < 0:
        raise DIDError(f"reference period {reference} must be a pre-period inside the window {low}..{high}")
    fe = f"sub^{unit} + sub^{time}"
    vcov = {"CRV1": unit}
    stacked["treat_post"] = stacked["treated_unit"] * (stacked["event_time"] >= 0)
    fit = pf.feols(f"{y} ~ treat_post | {fe}", data=stacked, weights="weight", vcov=vcov)
    tidy = fit.tidy()
    names = {}
    for e in range(low, high + 1):
        if e != reference:
            name = f"es_m{-e}" if e < 0 else f"es_p{e}"
            names[name] = e
            stacked[name] = stacked["treated_unit"] * (stacked["event_time"] == e)
    dynamic = pf.feols(f"{y} ~ {' + '.join(names)} | {fe}", data=stacked, weights="weight", vcov=vcov).tidy()
    rows = [{"event_time": e, "coef": float(dynamic.loc[n, "Estimate"]), "se": float(dynamic.loc[n, "Std. Error"])}
            for n, e in names.items()]
    rows.append({"event_time": reference, "coef": 0.0, "se": np.nan})
    event = pd.DataFrame(rows).sort_values("event_time").reset_index(drop=True)
    return StackedResult(att=float(tidy.loc["treat_post", "Estimate"]), se=float(tidy.loc["treat_post", "Std. Error"]),
                         nobs=int(fit._N), event_study=event, cohorts=cohorts, window=window, control=control)
