"""Goodman-Bacon decomposition of the staggered TWFE DID estimate into 2×2 comparisons.

Goodman-Bacon (2021, J. Econometrics 225(2), Theorem 1): with a balanced panel and an absorbing binary
treatment, β_TWFE = Σ s·β over all 2×2 DDs — each timing group against the never-treated (kU), earlier
against later groups before the later one is treated (k vs l, "earlier treated vs later control") and
later against earlier after the earlier one is treated (l vs k, "later treated vs earlier control",
the comparison that goes wrong with dynamic effects). Weights are the groups' sizes and the variance
of treatment within each 2×2 relative to the two-way demeaned treatment variance. No library in the
pinned set implements it; this one is checked in tests by Σ s·β = β_TWFE (pyfixest) to machine precision.
The covariate-adjusted version (the "within" term) is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.did.estimators import DIDError, _require


@dataclass
class BaconResult:
    """`table`: one row per 2×2 (type, treated, control, estimate, weight); `estimate` = Σ weight·estimate."""

    table: pd.DataFrame
    estimate: float

    def by_type(self) -> pd.DataFrame:
        """Weights and weighted average estimate per comparison type (the layout of paper 001, Table 4)."""
        t = self.table.assign(wb=self.table["weight"] * self.table["estimate"])
        out = t.groupby("type").agg(weight=("weight", "sum"), wb=("wb", "sum"))
        out["estimate"] = out["wb"] / out["weight"]
        return out.drop(columns="wb").reset_index()


def bacon(data: pd.DataFrame, y: str, treat: str = "treated", unit: str = "unit", time: str = "year") -> BaconResult:
    """Decompose the TWFE coefficient of `treat` on `y` with unit and time fixed effects."""
    _require(data, [y, treat, unit, time])
    wide_y = data.pivot(index=unit, columns=time, values=y)
    wide_d = data.pivot(index=unit, columns=time, values=treat)
    if wide_y.isna().any().any() or wide_d.isna().any().any():
        raise DIDError("the Bacon decomposition needs a balanced panel without missing outcomes; "
                       "restrict the sample to units observed in every year")
    d = wide_d.to_numpy(dtype=float)
    if not np.isin(d, (0.0, 1.0)).all() or (np.diff(d, axis=1) < 0).any():
        raise DIDError(f"{treat!r} must be 0/1 and never switch off (absorbing treatment)")
    yv = wide_y.to_numpy(dtype=float)
    n_units, n_periods = d.shape
    first = np.where(d.any(axis=1), d.argmax(axis=1), n_periods)  # index of first treated period; T = never
    groups = np.unique(first)
    share = {g: np.mean(first == g) for g in groups}
    treated_share = {g: (n_periods - g) / n_periods for g in groups}  # D̄_g
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    var_d = np.mean(dd**2)
    if var_d == 0:
        raise DIDError("treatment does not vary across units and years; nothing to decompose")
    periods = wide_y.columns.to_numpy()

    def mean_y(g: int, lo: int, hi: int) -> float:
        return float(yv[first == g, lo:hi].mean())

    rows = []
    never = n_periods if n_periods in share else None
    timing = [g for g in groups if g != n_periods]
    for k in timing:
        if never is not None and k > 0:
            n_k, n_u, dk = share[k], share[never], treated_share[k]
            n_ku = n_k / (n_k + n_u)
            weight = (n_k + n_u) ** 2 * n_ku * (1 - n_ku) * dk * (1 - dk) / var_d
            est = (mean_y(k, k, n_periods) - mean_y(k, 0, k)) - (mean_y(never, k, n_periods) - mean_y(never, 0, k))
            rows.append(("treated vs never treated", periods[k], "never", est, weight))
    for i, k in enumerate(timing):
        for m in timing[i + 1:]:
            n_k, n_l, dk, dl = share[k], share[m], treated_share[k], treated_share[m]
            n_kl = n_k / (n_k + n_l)
            if k > 0:  # earlier group treated, later group not yet treated as control, window t < l
                weight = (((n_k + n_l) * (1 - dl)) ** 2 * n_kl * (1 - n_kl)
                          * ((dk - dl) / (1 - dl)) * ((1 - dk) / (1 - dl)) / var_d)
                est = (mean_y(k, k, m) - mean_y(k, 0, k)) - (mean_y(m, k, m) - mean_y(m, 0, k))
                rows.append(("earlier treated vs later control", periods[k], periods[m], est, weight))
            # later group treated, earlier (already treated) group as control, window t >= k
            weight = ((n_k + n_l) * dk) ** 2 * n_kl * (1 - n_kl) * (dl / dk) * ((dk - dl) / dk) / var_d
            est = (mean_y(m, m, n_periods) - mean_y(m, k, m)) - (mean_y(k, m, n_periods) - mean_y(k, k, m))
            rows.append(("later treated vs earlier control", periods[m], periods[k], est, weight))
    table = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    return BaconResult(table=table, estimate=float((table["weight"] * table["estimate"]).sum()))
