"""Heterogeneity of a DID effect by the city dimension flags, and controls for concurrent policies.

Heterogeneity (issue 7, item 4) is estimated two ways on the same flag: moderation — one TWFE regression
with treat and treat × flag (the flag itself is time-invariant and absorbed by the unit effects) — and split
samples, the TWFE DID within each flag group (`split_sample` of mechanisms.py, with its permutation test),
plus a z-test of the difference of the two independent group estimates (the groups share no unit, and SEs
are clustered by unit). Concurrent policies (item 3) enter as their own treatment dummies, built with the
same builder and timing rule as the policy under study (treatment.py), and the baseline is re-estimated.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analyses.did.estimators import DIDError, _require, twfe
from analyses.did.mechanisms import split_sample
from analyses.did.treatment import policy_events, treatment_panel


def attach_flags(con: duckdb.DuckDBPyConnection, data: pd.DataFrame, unit: str = "unit") -> pd.DataFrame:
    """The sample with the columns of main.dim_city_flags joined by city code (size_class, is_resource_based,
    resource_type, in_agglomeration, is_old_revolutionary_base …); columns the sample has are kept as they are.

    >>> data = attach_flags(con, policy_sample(con, "demonstration_zone", ["gdp"]).data)
    """
    flags = con.execute("select * exclude (name_zh, is_current) from dim_city_flags").df()
    flags = flags.rename(columns={"city_code": unit})
    flags = flags[[unit, *(c for c in flags.columns if c not in data.columns)]]
    return data.merge(flags, on=unit, how="left")


def heterogeneity(
    data: pd.DataFrame, y: str, flag: str, treat: str = "treated", unit: str = "unit", time: str = "year",
    reps: int = 500, seed: int = 20240601,
) -> pd.DataFrame:
    """Moderation (treat × flag) and split-sample TWFE of the effect of `treat` on `y` by a unit-level 0/1 flag.

    One row per estimate: model (moderation | split | difference), term, coef, se, pvalue, nobs, and for
    the difference the permutation p-value of `split_sample` (`reps` reassignments of the flag over units)
    next to the normal p-value of (b1 − b0) / sqrt(se1² + se0²). Make a categorical flag 0/1 first, e.g.
    ``data.assign(large=data["size_class"].isin(["超大城市", "特大城市"]))``.
    """
    _require(data, [y, flag, treat, unit, time])
    frame = data.assign(**{flag: _unit_flag(data, flag, unit)})
    interaction = f"{treat}_x_{flag}"
    frame[interaction] = frame[treat] * frame[flag]
    moderated = twfe(frame, y, treat, unit, time, controls=[interaction]).table.set_index("Coefficient")
    nobs = len(frame.dropna(subset=[y]))
    rows = [{"model": "moderation", "term": term, "coef": moderated.loc[term, "Estimate"],
             "se": moderated.loc[term, "Std. Error"], "pvalue": moderated.loc[term, "Pr(>|t|)"], "nobs": nobs}
            for term in (treat, interaction)]
    split = split_sample(frame, y, flag, treat, unit, time, reps=reps, seed=seed)
    groups = split.effects.set_index("group")
    for value in (True, False):
        g = groups.loc[f"{flag} = {value}"]
        rows.append({"model": "split", "term": f"{treat} | {flag} = {int(value)}", "coef": g["coef"], "se": g["se"],
                     "pvalue": float(2 * stats.norm.sf(abs(g["coef"] / g["se"]))), "nobs": int(g["nobs"])})
    on, off = groups.loc[f"{flag} = True"], groups.loc[f"{flag} = False"]
    se = float(np.hypot(on["se"], off["se"]))
    diff = float(on["coef"] - off["coef"])
    rows.append({"model": "difference", "term": f"{treat} | {flag} = 1 minus {flag} = 0", "coef": diff, "se": se,
                 "pvalue": float(2 * stats.norm.sf(abs(diff / se))), "nobs": nobs, "p_permutation": split.p_value})
    return pd.DataFrame(rows).assign(flag=flag)[["flag", "model", "term", "coef", "se", "pvalue", "p_permutation",
                                                   "nobs"]]


def _unit_flag(data: pd.DataFrame, flag: str, unit: str) -> pd.Series:
    """The flag as 0/1; refuses missing values and flags that change within a unit."""
    values = data[flag]
    if values.isna().any():
        missing = data.loc[values.isna(), unit].unique()
        raise DIDError(f"{flag!r} is missing for {len(missing)} units (e.g. {missing[0]}); drop them or fill the flag")
    numeric = pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)
    if not numeric or not set(pd.unique(values.astype(int))) <= {0, 1}:
        raise DIDError(f"{flag!r} is not a 0/1 flag; make one, e.g. data[{flag!r}].isin([...])")
    if (data.groupby(unit)[flag].nunique() > 1).any():
        raise DIDError(f"{flag!r} changes within a unit; heterogeneity needs a unit-level flag")
    return values.astype(int)


def concurrent_dummies(
    con: duckdb.DuckDBPyConnection, data: pd.DataFrame, policies: Sequence[str], level: str = "city",
    rule: str = "calendar", cutoff_month: int = 7, unit: str = "unit", time: str = "year",
) -> pd.DataFrame:
    """`data` with one 0/1 column `concurrent_<policy>` per other policy, built from its seed list with the
    same timing rule. Units the policy does not list are 0; units it covers only in part count as exposed
    (a control is about exposure, not a clean treated group). Unknown policies raise TreatmentError, which
    names the policies the seeds know.
    """
    spine = data[[unit, time]].drop_duplicates()
    out = data.copy()
    for policy in policies:
        events = policy_events(con, policy, level)
        timing = treatment_panel(events, spine, unit, rule=rule, cutoff_month=cutoff_month, include_partial=True)
        column = f"concurrent_{policy}"
        out = out.merge(timing[[unit, time, "treated"]].rename(columns={"treated": column}), on=[unit, time],
                        how="left")
        out[column] = out[column].fillna(0).astype(int)
    return out


def concurrent_policy_controls(
    data: pd.DataFrame, y: str, controls: Sequence[str], treat: str = "treated", unit: str = "unit",
    time: str = "year",
) -> pd.DataFrame:
    """Rows for a robustness table: the baseline TWFE, then the same with the concurrent-policy dummies
    `controls` (from `concurrent_dummies`) added, with each dummy's own coefficient."""
    _require(data, [y, treat, unit, time, *controls])
    constant = [c for c in controls if data[c].nunique() < 2]
    if constant:
        raise DIDError(f"{constant[0]!r} does not vary in the sample (the policy treats no unit-year of it); "
                       "it cannot be controlled for - leave it out")
    base = twfe(data, y, treat, unit, time)
    fit = twfe(data, y, treat, unit, time, controls=list(controls))
    table = fit.table.set_index("Coefficient")
    label = f"controlling for concurrent policies: {', '.join(c.removeprefix('concurrent_') for c in controls)}"
    rows = [{"check": "baseline", "term": treat, "coef": base.coef, "se": base.se, "nobs": base.nobs},
            {"check": label, "term": treat, "coef": fit.coef, "se": fit.se, "nobs": fit.nobs}]
    rows += [{"check": label, "term": c, "coef": table.loc[c, "Estimate"], "se": table.loc[c, "Std. Error"],
              "nobs": fit.nobs} for c in controls]
    return pd.DataFrame(rows)
