"""Goodman-Bacon decomposition of the staggered TWFE DID estimate into 2×2 comparisons.

Goodman-Bacon (2021, J. Econometrics 225(2), Theorem 1): with a balanced panel and an absorbing binary
treatment, β_TWFE = Σ s·β over all 2×2 DDs — each timing group against the never-treated (kU), earlier
against later groups before the later one is treated (k vs l, "earlier treated vs later control") and
later against earlier after the earlier one is treated (l vs k, "later treated vs earlier control",
the comparison that goes wrong with dynamic effects). Weights are the groups' sizes and the variance
of treatment within each 2×2 relative to the two-way demeaned treatment variance. No library in the
pinned set implements it; this one is checked in tests by Σ s·β = β_TWFE (pyfixest) to machine precision.

With time-varying controls X (Goodman-Bacon 2021, Section 5), the TWFE coefficient is cov(y, d)/var(d)
for d the treatment residualised on X and both fixed effects (Frisch–Waugh). d splits into a part that
varies only between timing groups (d_kt = d̄_kt − d̄_k) and the rest, within timing groups, which
comes from X alone: β = Ω·β_within + (1 − Ω)·β_between with Ω = var(d_within)/var(d). The between
part is split over pairs of timing groups by the identity Σ_k n_k a_kt b_kt = (1/N) Σ_{k<l} n_k n_l
(a_kt − a_lt)(b_kt − b_lt), which holds because Σ_k n_k d_kt = 0: each pair's estimate regresses the
gap in group-mean outcomes on the gap in residualised treatment over the years; `by_type` then gives
the three rows of paper 001's Table 4 (timing groups, never treated vs timing, within). The R package
bacondecomp reports the same Ω and β_within; its per-pair terms are written differently (through
the uncontrolled 2×2 and the controls' part), so only their weighted sum is comparable.
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


def bacon(data: pd.DataFrame, y: str, treat: str = "treated", unit: str = "unit", time: str = "year",
          controls: tuple[str, ...] | list[str] = ()) -> BaconResult:
    """Decompose the TWFE coefficient of `treat` on `y` (plus `controls`) with unit and time fixed effects."""
    _require(data, [y, treat, unit, time, *controls])
    wide = {c: data.pivot(index=unit, columns=time, values=c) for c in (y, treat, *controls)}
    if any(w.isna().any().any() for w in wide.values()):
        raise DIDError("the Bacon decomposition needs a balanced panel without missing outcomes or controls; "
                       "restrict the sample to units observed in every year")
    d = wide[treat].to_numpy(dtype=float)
    if not np.isin(d, (0.0, 1.0)).all() or (np.diff(d, axis=1) < 0).any():
        raise DIDError(f"{treat!r} must be 0/1 and never switch off (absorbing treatment)")
    yv = wide[y].to_numpy(dtype=float)
    n_units, n_periods = d.shape
    first = np.where(d.any(axis=1), d.argmax(axis=1), n_periods)  # index of first treated period; T = never
    periods = wide[y].columns.to_numpy()
    if controls:
        x = np.stack([wide[c].to_numpy(dtype=float) for c in controls], axis=-1)
        return _controlled(yv, d, x, first, periods)
    groups = np.unique(first)
    share = {g: np.mean(first == g) for g in groups}
    treated_share = {g: (n_periods - g) / n_periods for g in groups}  # D̄_g
    dd = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    var_d = np.mean(dd**2)
    if var_d == 0:
        raise DIDError("treatment does not vary across units and years; nothing to decompose")

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


def _two_way_demean(a: np.ndarray) -> np.ndarray:
    """Remove unit and period means from a balanced unit × period (× variable) array."""
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean(axis=(0, 1), keepdims=True)


def _controlled(yv: np.ndarray, d: np.ndarray, x: np.ndarray, first: np.ndarray, periods: np.ndarray) -> BaconResult:
    """The controlled decomposition: a within-timing-group term (weight Ω) and between-group pairs."""
    n_units, n_periods = d.shape
    dd, xx = _two_way_demean(d), _two_way_demean(x).reshape(n_units * n_periods, -1)
    gamma, *_ = np.linalg.lstsq(xx, dd.ravel(), rcond=None)
    resid = dd - (xx @ gamma).reshape(n_units, n_periods)  # d: treatment net of X and both fixed effects
    groups = np.unique(first)
    size = np.array([np.sum(first == g) for g in groups], dtype=float)
    group_mean = np.stack([resid[first == g].mean(axis=0) for g in groups])  # d̄_kt (time means are 0)
    between_kt = group_mean - group_mean.mean(axis=1, keepdims=True)  # d̄_kt − d̄_k
    index = np.searchsorted(groups, first)
    between = between_kt[index]
    within = resid - between
    var_d = np.sum(resid**2)
    if var_d < 1e-12 * resid.size:
        raise DIDError("the controls explain all the variation in treatment; nothing to decompose")
    omega = float(np.sum(within**2) / var_d)
    omega = 0.0 if omega < 1e-12 else omega  # rounding noise when the controls vary only by timing group
    y_kt = np.stack([yv[first == g].mean(axis=0) for g in groups])
    rows = []
    if omega:
        rows.append(("within timing groups (controls)", None, None, float(np.sum(yv * within) / np.sum(within**2)),
                     omega))
    between_total = float(np.sum(size[:, None] * between_kt**2))
    label = {g: ("never" if g == n_periods else periods[g]) for g in groups}
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            gap_d, gap_y = between_kt[a] - between_kt[b], y_kt[a] - y_kt[b]
            spread = float(np.sum(gap_d**2))
            if spread == 0:
                continue
            weight = (1 - omega) * size[a] * size[b] * spread / (n_units * between_total)
            kind = ("treated vs never treated (controls)" if n_periods in (groups[a], groups[b])
                    else "between timing groups (controls)")
            rows.append((kind, label[groups[a]], label[groups[b]], float(np.sum(gap_y * gap_d) / spread), weight))
    table = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    return BaconResult(table=table, estimate=float((table["weight"] * table["estimate"]).sum()))
