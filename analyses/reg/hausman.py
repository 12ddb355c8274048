"""Fixed versus random effects: the Hausman (1978) test on linearmodels' PanelOLS and RandomEffects fits.

H = (b_FE − b_RE)'[V_FE − V_RE]⁻¹(b_FE − b_RE) over the coefficients both models estimate (the time-varying
regressors), χ² with as many degrees of freedom; conventional (non-robust) variances, as Stata's `hausman fe re`.
Unit effects only: other fixed effects of a `reg` formula (year, province × year) are not in either model.
When V_FE − V_RE is not positive definite the generalised inverse is used and the note says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analyses.reg.prepare import RegError


@dataclass
class HausmanResult:
    """The test and the two coefficient vectors it compares."""

    statistic: float
    df: int
    p_value: float
    coefficients: pd.DataFrame  # term, fe, re, difference, se_difference
    note: str = ""

    def as_dict(self) -> dict:
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value, "note": self.note,
                "coefficients": self.coefficients.to_dict("records")}


def hausman(data: pd.DataFrame, y: str, x: Sequence[str], unit: str, time: str) -> HausmanResult:
    """Hausman test of unit fixed effects against random effects for y ~ x (linearmodels estimates both)."""
    from linearmodels.panel import PanelOLS, RandomEffects

    cols = [y, *x, unit, time]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise RegError(f"no column {missing[0]!r}")
    frame = data[cols].dropna().set_index([unit, time])
    exog = frame[list(x)].assign(const=1.0)
    fe = PanelOLS(frame[y], exog, entity_effects=True, drop_absorbed=True).fit(cov_type="unadjusted")
    re = RandomEffects(frame[y], exog).fit(cov_type="unadjusted")
    common = [c for c in x if c in fe.params.index and c in re.params.index]
    d = (fe.params[common] - re.params[common]).to_numpy()
    v = (fe.cov.loc[common, common] - re.cov.loc[common, common]).to_numpy()
    note = ""
    if np.linalg.eigvalsh(v).min() <= 0:
        note = "V_FE − V_RE is not positive definite: generalised inverse used"
    stat = float(d @ np.linalg.pinv(v) @ d)
    df = len(common)
    diag = np.sqrt(np.clip(np.diag(v), 0, None))
    table = pd.DataFrame({"term": common, "fe": fe.params[common].to_numpy(), "re": re.params[common].to_numpy(),
                          "difference": d, "se_difference": diag})
    return HausmanResult(statistic=stat, df=df, p_value=float(stats.chi2.sf(stat, df)), coefficients=table, note=note)
