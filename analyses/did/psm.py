"""PSM-DID with period-by-period matching (as in paper 001): match treated to control units year by year
on a logit propensity score, keep the matched observations, and re-estimate the TWFE DID on them.

Each year: logit of `ever_treated` on the covariates of that year (statsmodels), greedy nearest-neighbour
matching without replacement of `ratio` controls per treated unit within `caliper` (in propensity-score
units). Balance is reported as standardised mean differences before and after matching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analyses.did.estimators import DIDError, TWFEResult, _require, twfe


@dataclass
class PSMResult:
    """Matched sample, its DID, the balance table and the propensity scores before matching."""

    matched: pd.DataFrame
    did: TWFEResult
    balance: pd.DataFrame  # covariate, smd_before, smd_after
    scores: pd.DataFrame   # unit, year, ever_treated, pscore, matched

    def plot(self, path: str | Path, title: str = "倾向得分匹配前后的核密度") -> Path:
        """Propensity-score kernel densities (over faint histograms) of treated and controls, before and after
        matching."""
        import matplotlib.pyplot as plt

        from analyses.plots import density_line, ensure_renderable, save_figure

        ensure_renderable(title)  # Chinese titles need the CJK font; never boxes

        path = Path(path)
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
        for ax, (label, frame) in zip(axes, (("before", self.scores), ("after", self.scores[self.scores["matched"]])),
                                      strict=True):
            for treated, colour in ((True, "firebrick"), (False, "#1f4e79")):
                values = frame.loc[frame["ever_treated"] == treated, "pscore"]
                ax.hist(values, bins=30, density=True, alpha=0.25, color=colour)
                density_line(ax, values, colour, label="treated" if treated else "control")
            ax.set_title(label)
            ax.set_xlabel("propensity score")
        axes[0].legend()
        fig.suptitle(title)
        fig.tight_layout()
        save_figure(fig, path)
        plt.close(fig)
        return path


def smd(treated: pd.Series, control: pd.Series) -> float:
    """Standardised mean difference (pooled SD), the usual balance measure (Austin 2011)."""
    pooled = np.sqrt((treated.var() + control.var()) / 2)
    return float((treated.mean() - control.mean()) / pooled) if pooled > 0 else 0.0


def psm_did(
    data: pd.DataFrame, y: str, covariates: Sequence[str], unit: str = "unit", time: str = "year",
    ratio: int = 1, caliper: float | None = 0.05,
) -> PSMResult:
    """Period-by-period nearest-neighbour matching on a logit score, then TWFE DID on the matched sample."""
    _require(data, [y, unit, time, "ever_treated", "treated", *covariates])
    if ratio < 1:
        raise DIDError(f"ratio {ratio} must be at least 1")
    frames, score_frames = [], []
    for year, frame in data.dropna(subset=list(covariates)).groupby(time):
        treated = frame["ever_treated"].astype(bool)
        if treated.all() or not treated.any():
            continue
        x = sm.add_constant(frame[list(covariates)].astype(float), has_constant="add")
        try:
            fit = sm.Logit(treated.astype(float), x).fit(disp=0)
        except np.linalg.LinAlgError as exc:
            raise DIDError(f"logit for {year} failed ({exc}); drop collinear covariates") from None
        score = pd.Series(fit.predict(x), index=frame.index)
        chosen = _nearest(score[treated], score[~treated], ratio, caliper)
        keep = set(score[treated].index[chosen["has_match"]]) | set(chosen["controls"])
        frames.append(frame.loc[sorted(keep)])
        score_frames.append(pd.DataFrame({unit: frame[unit], time: year, "ever_treated": treated,
                                          "pscore": score, "matched": frame.index.isin(keep)}))
    if not frames:
        raise DIDError("no year has both treated and control units with complete covariates")
    matched = pd.concat(frames).reset_index(drop=True)
    scores = pd.concat(score_frames).reset_index(drop=True).rename(columns={unit: "unit", time: "year"})
    if not matched["ever_treated"].any():
        raise DIDError(f"no treated unit found a control within caliper {caliper}; widen --caliper")
    rows = []
    for c in covariates:
        before = data.dropna(subset=[c])
        after = matched
        rows.append({"covariate": c,
                     "smd_before": smd(before.loc[before["ever_treated"], c], before.loc[~before["ever_treated"], c]),
                     "smd_after": smd(after.loc[after["ever_treated"], c], after.loc[~after["ever_treated"], c])})
    return PSMResult(matched=matched, did=twfe(matched, y, unit=unit, time=time), balance=pd.DataFrame(rows),
                     scores=scores)


def _nearest(treated: pd.Series, control: pd.Series, ratio: int, caliper: float | None) -> dict:
    """Greedy nearest-neighbour matching without replacement: each treated score (in the given order)
    takes its `ratio` nearest unused controls within the caliper, so the matched sample needs no weights.
    """
    c_values, c_index = control.to_numpy(), control.index.to_numpy()
    used = np.zeros(len(c_values), dtype=bool)
    picked, has_match = [], []
    for value in treated.to_numpy():
        distance = np.where(used, np.inf, np.abs(c_values - value))
        nearest = np.argsort(distance, kind="stable")[:ratio]
        nearest = nearest[np.isfinite(distance[nearest])]
        if caliper is not None:
            nearest = nearest[distance[nearest] <= caliper]
        used[nearest] = True
        has_match.append(len(nearest) > 0)
        picked.extend(c_index[nearest])
    return {"controls": picked, "has_match": np.asarray(has_match, dtype=bool)}
