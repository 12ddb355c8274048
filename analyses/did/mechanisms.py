"""Mechanisms and heterogeneity of a DID effect: three-step mediation, moderation, split samples.

Mediation follows Baron & Kenny's three steps as used in papers 000 and 003-P8 — (1) y on treat,
(2) m on treat (a), (3) y on treat and m (b, direct effect) — all with unit and year fixed effects;
the indirect effect a·b gets a Sobel z and a cluster (unit) bootstrap interval. Moderation interacts the
treatment with a centred continuous variable (analyses.reg.mechanisms.moderation with x = the policy dummy and unit
and year effects; the Sobel z is analyses.reg.mechanisms.sobel). Split samples compare
the treatment effect between two groups with a permutation test that reassigns the group flag across
units (the "Fisher permutation test" of the papers' tables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analyses.did.estimators import DIDError, TWFEResult, _require, twfe
from analyses.did.placebo import demean_two_way, fwl_twfe
from analyses.reg.mechanisms import moderation as reg_moderation
from analyses.reg.mechanisms import sobel
from analyses.reg.prepare import RegError


@dataclass
class MediationResult:
    """The three regressions' key coefficients, the indirect effect a·b with Sobel and bootstrap inference."""

    total: TWFEResult
    a: TWFEResult
    direct: float
    b: float
    b_se: float
    indirect: float
    sobel_z: float
    boot_ci: tuple[float, float]
    reps: int

    @property
    def sobel_p(self) -> float:
        return float(2 * stats.norm.sf(abs(self.sobel_z)))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"step": "(1) y on treat", "term": "treat", "coef": self.total.coef, "se": self.total.se},
            {"step": "(2) m on treat", "term": "treat", "coef": self.a.coef, "se": self.a.se},
            {"step": "(3) y on treat + m", "term": "m", "coef": self.b, "se": self.b_se},
            {"step": "(3) y on treat + m", "term": "treat (direct)", "coef": self.direct, "se": np.nan},
            {"step": "indirect a·b", "term": f"bootstrap 95% CI {self.boot_ci[0]:.4f}..{self.boot_ci[1]:.4f}",
             "coef": self.indirect, "se": np.nan},
        ])


def mediation(
    data: pd.DataFrame, y: str, mediator: str, treat: str = "treated", unit: str = "unit", time: str = "year",
    reps: int = 500, seed: int = 20240601,
) -> MediationResult:
    """Three-step mediation with unit and year fixed effects and a unit-cluster bootstrap of a·b."""
    _require(data, [y, mediator, treat, unit, time])
    total = twfe(data, y, treat, unit, time)
    a = twfe(data, mediator, treat, unit, time)
    third = twfe(data, y, treat, unit, time, [mediator])
    coef = third.table.set_index("Coefficient")
    b, b_se = float(coef.loc[mediator, "Estimate"]), float(coef.loc[mediator, "Std. Error"])
    direct = float(coef.loc[treat, "Estimate"])
    sobel_z, _ = sobel(a.coef, a.se, b, b_se)
    draws = _bootstrap_indirect(data, y, mediator, treat, unit, time, reps, seed)
    low, high = np.quantile(draws, [0.025, 0.975])
    return MediationResult(total=total, a=a, direct=direct, b=b, b_se=b_se, indirect=a.coef * b,
                           sobel_z=sobel_z, boot_ci=(float(low), float(high)), reps=reps)


def _bootstrap_indirect(data: pd.DataFrame, y: str, m: str, treat: str, unit: str, time: str, reps: int,
                        seed: int) -> np.ndarray:
    """a·b over unit-cluster bootstrap samples of a balanced panel (FWL on two-way demeaned arrays)."""
    arrays = [data.pivot(index=unit, columns=time, values=c) for c in (y, m, treat)]
    if any(a.isna().any().any() for a in arrays):
        raise DIDError("the mediation bootstrap needs a balanced panel without missing values")
    yv, mv, dv = (a.to_numpy(dtype=float) for a in arrays)
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    n = yv.shape[0]
    for r in range(reps):
        pick = rng.integers(0, n, size=n)
        ys, ms, ds = demean_two_way(yv[pick]), demean_two_way(mv[pick]), demean_two_way(dv[pick])
        a = fwl_twfe(ms, dv[pick])
        # b: coefficient of m in y ~ d + m (both demeaned): partial d out of m and y
        d_dot = (ds * ds).sum()
        m_res = ms - ds * (ds * ms).sum() / d_dot
        y_res = ys - ds * (ds * ys).sum() / d_dot
        out[r] = a * (m_res * y_res).sum() / (m_res**2).sum()
    return out


def moderation(
    data: pd.DataFrame, y: str, moderator: str, treat: str = "treated", unit: str = "unit", time: str = "year",
) -> pd.DataFrame:
    """TWFE of y on treat, treat × (m − mean m) and m, SEs clustered by unit: does the effect grow with m?

    The moderator is centred on its sample mean so that the coefficient of `treat` stays the effect at the
    average m. A moderator fixed within units is absorbed by the unit effects and enters only through
    the interaction. Returns term, coef, se, pvalue (the coefficient of the interaction is the moderation).
    """
    _require(data, [y, moderator, treat, unit, time])
    try:
        fit = reg_moderation(data, y, treat, moderator, fe=[unit, time], vce=f"cluster:{unit}")
    except RegError as exc:
        raise DIDError(str(exc)) from exc
    table = fit.table.rename(columns={"p": "pvalue"})
    return table[["term", "coef", "se", "pvalue"]].assign(nobs=fit.nobs)


@dataclass
class SplitResult:
    """Treatment effect in each group and the permutation p-value of their difference (over the `valid`
    draws of `reps`: a draw that leaves a group without treatment variation has no difference)."""

    effects: pd.DataFrame  # group, coef, se, nobs
    difference: float
    p_value: float
    reps: int
    valid: int


def split_sample(
    data: pd.DataFrame, y: str, flag: str, treat: str = "treated", unit: str = "unit", time: str = "year",
    reps: int = 500, seed: int = 20240601,
) -> SplitResult:
    """TWFE DID in the flag = True and flag = False groups; difference tested by permuting the flag over units."""
    _require(data, [y, flag, treat, unit, time])
    unit_flag = data.groupby(unit)[flag].first().astype(bool)
    if unit_flag.all() or not unit_flag.any():
        raise DIDError(f"{flag!r} does not split the units into two groups")
    wide_y = data.pivot(index=unit, columns=time, values=y).loc[unit_flag.index]
    wide_d = data.pivot(index=unit, columns=time, values=treat).loc[unit_flag.index]
    if wide_y.isna().any().any():
        raise DIDError("the split-sample permutation test needs a balanced panel without missing outcomes")
    yv, dv = wide_y.to_numpy(dtype=float), wide_d.to_numpy(dtype=float)

    def gap(mask: np.ndarray) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):  # no treated unit in a group: NaN, counted below
            return float(fwl_twfe(demean_two_way(yv[mask]), dv[mask])
                         - fwl_twfe(demean_two_way(yv[~mask]), dv[~mask]))

    mask = unit_flag.to_numpy()
    observed = gap(mask)
    if not np.isfinite(observed):
        raise DIDError(f"one group of {flag!r} has no treated unit; the effects cannot be compared")
    rng = np.random.default_rng(seed)
    permuted = np.array([gap(rng.permutation(mask)) for _ in range(reps)])
    permuted = permuted[np.isfinite(permuted)]
    rows = []
    for value in (True, False):
        subset = data[data[unit].map(unit_flag) == value]
        fit = twfe(subset, y, treat, unit, time)
        rows.append({"group": f"{flag} = {value}", "coef": fit.coef, "se": fit.se, "nobs": fit.nobs})
    return SplitResult(effects=pd.DataFrame(rows), difference=observed,
                       p_value=float(np.mean(np.abs(permuted) >= abs(observed))), reps=reps, valid=len(permuted))
