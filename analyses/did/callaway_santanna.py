"""Callaway–Sant'Anna (2021) group-time ATTs and their aggregations, without covariates.

ATT(g, t) = E[Y_t − Y_b | G = g] − E[Y_t − Y_b | C], with b = g − 1 for t ≥ g and the "varying" base
b = t − 1 for pre-periods (the R `did` default), and C the never-treated units or the not-yet-treated
ones (G > max(t, b)). Standard errors come from the influence functions; aggregations (simple, group,
dynamic, calendar) weight group-time cells by group shares and add the influence of the estimated
weights, following Callaway & Sant'Anna (2021, J. Econometrics 225(2)) and the R `did` package's
aggregation. Written here because pyfixest has no CS estimator; the tests check it against the
`csdid` package (a Python port of R `did`) on the castle-doctrine data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analyses.did.estimators import DIDError, _require

CONTROLS = ("never", "notyet")
AGGREGATIONS = ("simple", "group", "dynamic", "calendar")


@dataclass
class CSResult:
    """Group-time ATTs (`attgt`: group, time, att, se, post) and the data needed to aggregate them."""

    attgt: pd.DataFrame
    influence: np.ndarray  # units × cells, scaled so that var = Σ IF² / n²
    group_of_unit: np.ndarray
    control: str

    def aggregate(self, kind: str = "simple") -> pd.DataFrame:
        """One of simple (one ATT), group (by cohort), dynamic (by event time), calendar (by year)."""
        if kind not in AGGREGATIONS:
            raise DIDError(f"aggregation {kind!r} is not one of {', '.join(AGGREGATIONS)}")
        cells = self.attgt
        share = {g: np.mean(self.group_of_unit == g) for g in cells["group"].unique()}
        pg = cells["group"].map(share).to_numpy()
        post = cells["post"].to_numpy()
        if kind == "simple":
            return pd.DataFrame([self._combine(np.flatnonzero(post), pg, label="ATT")])
        if kind == "group":
            rows = []
            for g in sorted(cells["group"].unique()):
                keep = np.flatnonzero(post & (cells["group"].to_numpy() == g))
                rows.append(self._combine(keep, np.ones(len(pg)), label=int(g), with_wif=False))
            return pd.DataFrame(rows).rename(columns={"term": "group"})
        if kind == "dynamic":
            event = (cells["time"] - cells["group"]).to_numpy()
            rows = [self._combine(np.flatnonzero(event == e), pg, label=int(e)) for e in np.unique(event)]
            return pd.DataFrame(rows).rename(columns={"term": "event_time"})
        rows = []
        for t in sorted(cells.loc[post, "time"].unique()):
            keep = np.flatnonzero(post & (cells["time"].to_numpy() == t))
            rows.append(self._combine(keep, pg, label=int(t)))
        return pd.DataFrame(rows).rename(columns={"term": "time"})

    def _combine(self, keep: np.ndarray, pg: np.ndarray, label: object, with_wif: bool = True) -> dict:
        """Weighted average of cells `keep` with weights ∝ pg, its SE from the combined influence function."""
        att = self.attgt["att"].to_numpy()[keep]
        p = pg[keep]
        w = p / p.sum()
        inf = self.influence[:, keep] @ w
        if with_wif:
            # influence of estimating the group shares (R did: wif())
            groups = self.attgt["group"].to_numpy()[keep]
            indicator = (self.group_of_unit[:, None] == groups[None, :]).astype(float)
            if1 = (indicator - p) / p.sum()
            if2 = (indicator - p).sum(axis=1, keepdims=True) * (p / p.sum() ** 2)[None, :]
            inf = inf + (if1 - if2) @ att
        n = len(self.group_of_unit)
        se = float(np.sqrt(np.sum(inf**2)) / n)
        est = float(w @ att)
        return {"term": label, "att": est, "se": se, "z": est / se if se > 0 else np.nan,
                "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan}


def callaway_santanna(
    data: pd.DataFrame, y: str, unit: str = "unit", time: str = "year", cohort: str = "cohort",
    control: str = "never",
) -> CSResult:
    """Group-time ATTs on a balanced panel; `cohort` is the first treated year (missing = never treated)."""
    if control not in CONTROLS:
        raise DIDError(f"control group {control!r} is not one of {', '.join(CONTROLS)}")
    _require(data, [y, unit, time, cohort])
    wide = data.pivot(index=unit, columns=time, values=y)
    if wide.isna().any().any():
        raise DIDError("Callaway–Sant'Anna here needs a balanced panel without missing outcomes")
    groups = data.groupby(unit)[cohort].first().reindex(wide.index)
    g_unit = groups.astype("Float64").to_numpy(dtype=float, na_value=np.inf)
    periods = wide.columns.to_numpy()
    first_period = periods.min()
    g_unit = np.where(g_unit <= first_period, -np.inf, g_unit)  # treated before the panel: never usable
    if control == "never" and not np.isinf(g_unit[g_unit > 0]).any():
        raise DIDError("no never-treated units: use control='notyet' (not-yet-treated units as controls)")
    yv = wide.to_numpy(dtype=float)
    n = len(g_unit)
    col = {t: j for j, t in enumerate(periods)}
    cohorts = sorted(g for g in np.unique(g_unit) if np.isfinite(g))
    rows, influence = [], []
    for g in cohorts:
        treated = g_unit == g
        for t in periods[1:]:
            base = g - 1 if t >= g else t - 1
            if base not in col:
                continue
            # never treated, or not yet treated by max(t, base)
            ctrl = np.isposinf(g_unit) if control == "never" else (g_unit > max(t, base)) & ~treated
            if not ctrl.any():
                continue
            delta = yv[:, col[t]] - yv[:, col[base]]
            mean_g, mean_c = delta[treated].mean(), delta[ctrl].mean()
            inf = np.zeros(n)
            inf[treated] = n / treated.sum() * (delta[treated] - mean_g)
            inf[ctrl] = -n / ctrl.sum() * (delta[ctrl] - mean_c)
            rows.append({"group": int(g), "time": int(t), "att": mean_g - mean_c,
                         "se": float(np.sqrt(np.sum(inf**2)) / n), "post": bool(t >= g)})
            influence.append(inf)
    if not rows:
        raise DIDError("no group-time cell can be estimated: check that cohorts fall inside the panel's years")
    return CSResult(attgt=pd.DataFrame(rows), influence=np.column_stack(influence), group_of_unit=g_unit,
                    control=control)
