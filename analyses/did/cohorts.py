"""Treatment cohorts (first treated period) in whatever coding the data came with.

Never-treated units are coded 0 by R `did`, `csdid`, `moderndid` and the mpdta data, left empty by most
spreadsheets, set to ±inf by some Stata code, and given a year after the panel by others. The estimators
here want one coding: the cohort as a float, NaN = never treated. `normalise_cohorts` recognises those
codes, says which it found and how many units each cohort has, and refuses anything else with the values
named. Units treated in or before the first panel period have no pre-period to compare with: R `did`
(pre_process_did) drops them, and so does this function, saying how many.

    frame, coding = normalise_cohorts(mpdta, "first.treat", "countyreal", "year", source="mpdta.csv")
    coding.message   # "mpdta.csv: first.treat: never treated coded 0 (309 units); cohorts 2004 (20), ..."

`cohort_sample` builds the DID battery's estimation sample from any panel with such a column (`geopanel did
--data ... --cohort ...`), the counterpart of `analyses.did.sample.policy_sample` for the policy seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyses.did.errors import DIDError
from analyses.did.sample import PolicySample

NEVER = "never"


@dataclass(frozen=True)
class CodingReport:
    """How a cohort column was read: `never_code` (the never-treated codes found, e.g. "0" or "empty and inf";
    "none" when every unit is treated), `counts` (units by cohort: "never", then each first-treated period),
    `dropped` (units treated in or before the first panel period, dropped as R `did` does) and `message`
    (one line saying all of it)."""

    never_code: str
    counts: dict[object, int]
    dropped: tuple = ()
    first_period: float | None = None
    message: str = ""
    recoded: dict[str, int] = field(default_factory=dict)  # never-treated code -> units so coded


def normalise_cohorts(
    frame: pd.DataFrame, cohort: str, unit: str, time: str, *, source: str = "",
) -> tuple[pd.DataFrame, CodingReport]:
    """Return `frame` with `cohort` as float (NaN = never treated), its rows of units treated in or before the
    first panel period dropped (as R `did` drops them), and a CodingReport.

    Never-treated codes accepted: 0, empty / NaN, ±inf, and any period after the panel's last one (R `did`
    recodes those to 0). Any other value outside the panel's periods raises DIDError naming it; so does a
    cohort that changes within a unit. `source` (a file or table name) prefixes the messages.
    """
    prefix = f"{source}: " if source else ""
    for column in (cohort, unit, time):
        if column not in frame.columns:
            raise DIDError(f"{prefix}column {column!r} is not in the data; columns are: "
                           f"{', '.join(map(str, frame.columns))}")
    raw = frame[cohort]
    empty = raw.isna() | raw.astype(str).str.strip().isin(["", "NA", "nan", "NaN", "."])
    values = pd.to_numeric(raw.where(~empty), errors="coerce")
    unreadable = sorted(set(raw[values.isna() & ~empty].astype(str)))
    if unreadable:
        raise DIDError(f"{prefix}{cohort} holds {_listing(unreadable)}, which are not periods: write the first "
                       f"treated period as a number, and leave never-treated units empty or 0")
    periods = pd.to_numeric(frame[time], errors="coerce")
    if periods.isna().any():
        raise DIDError(f"{prefix}{time} has missing or non-numeric values: the time column must hold periods")
    first, last = float(periods.min()), float(periods.max())
    values = values.astype(float)
    if first <= 0 <= last and (values == 0).any():
        raise DIDError(f"{prefix}{cohort} holds 0 and {time} runs from {first:g} to {last:g}, so 0 could be a "
                       "period or the never-treated code: code never-treated units empty")
    codes = {"empty": empty, "0": values == 0, "inf": values == np.inf, "-inf": values == -np.inf,
             f"after the panel (> {last:g})": np.isfinite(values) & (values > last)}
    never = np.logical_or.reduce([np.asarray(mask) for mask in codes.values()])
    before = ~never & (values < first)
    bad = before & ~_looks_like_period(values, first)
    bad |= ~never & (values % 1 != 0)
    if bad.any():
        found = sorted(set(values[~never & ~bad]))
        wrong = sorted(set(values[bad]))
        raise DIDError(f"{prefix}{cohort} holds {_listing([*map(_fmt, found), *map(_fmt, wrong)])}; "
                       f"{_listing(list(map(_fmt, wrong)))} {'is' if len(wrong) == 1 else 'are'} neither a panel "
                       f"period ({_fmt(first)}–{_fmt(last)}) nor a never-treated code (0, empty, inf): recode it")
    out = frame.copy()
    out[cohort] = values.where(~never, np.nan)
    per_unit = out.groupby(unit, sort=False)[cohort].agg(lambda s: s.nunique(dropna=False))
    changing = per_unit[per_unit > 1]
    if not changing.empty:
        u = changing.index[0]
        held = ", ".join(_fmt(v) if v == v else "never" for v in out.loc[out[unit] == u, cohort].unique())
        others = f" and {_units(len(changing) - 1)} more" if len(changing) > 1 else ""
        raise DIDError(f"{prefix}{cohort} changes within unit {u} ({held}){others}: the cohort is the first treated "
                       "period, one value per unit; give every row of a unit the same first treated period")
    recoded = {code: int(frame.loc[np.asarray(mask), unit].nunique()) for code, mask in codes.items()
               if np.asarray(mask).any()}
    early = out[cohort] <= first
    dropped = tuple(pd.unique(out.loc[early, unit]))
    out = out[~early].reset_index(drop=True)
    by_unit = out.groupby(unit, sort=False)[cohort].first()
    counts: dict[object, int] = {NEVER: int(by_unit.isna().sum())}
    counts.update({int(g) if float(g).is_integer() else g: int(n)
                   for g, n in by_unit.dropna().value_counts().sort_index().items()})
    never_code = " and ".join(recoded) if recoded else "none"
    parts = [f"never treated coded {never_code} ({_units(counts[NEVER])})" if recoded else "no never-treated units",
             "cohorts " + ", ".join(f"{g} ({n})" for g, n in counts.items() if g != NEVER)]
    if dropped:
        parts.append(f"{_units(len(dropped))} treated in or before the first period {_fmt(first)} dropped "
                     "(no pre-period; as R did)")
    message = f"{prefix}{cohort}: " + "; ".join(parts)
    return out, CodingReport(never_code=never_code, counts=counts, dropped=dropped, first_period=first,
                             message=message, recoded=recoded)


def _looks_like_period(values: pd.Series, first: float) -> pd.Series:
    """A value before the panel is read as an early adoption when it is on the time column's scale: positive,
    and a four-digit year when the panel's periods are years."""
    return (values > 0) & ((first < 1000) | (values >= 1000))


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _listing(items: list[str]) -> str:
    items = list(items)
    if len(items) > 10:
        items = [*items[:9], f"… ({len(items) - 9} more)"]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def cohort_sample(
    frame: pd.DataFrame, outcomes: list[str], *, unit: str, time: str, cohort: str, source: str = "",
    log_outcomes: bool = False, balanced: bool = True, exclude_units: tuple[str, ...] = (),
    years: tuple[int, int] | None = None,
) -> tuple[PolicySample, CodingReport]:
    """The estimation sample of the DID battery from any panel that carries its own treatment timing: a column
    `cohort` of first treated periods (the alternative to a policy in the reference seeds). Same shape as
    `policy_sample` gives (unit, year, outcomes, cohort, rel_time, treated, ever_treated), rows sorted by unit and
    year so that a table, a query and a file with the same rows give the same estimates. Units treated in or
    before the first period, units in `exclude_units` and (when `balanced`) units missing an outcome in some year
    are left out and listed in `dropped`; `log_outcomes` takes natural logs (non-positive values become missing).
    """
    prefix = f"{source}: " if source else ""
    missing = [c for c in dict.fromkeys([unit, time, cohort, *outcomes]) if c not in frame.columns]
    if missing:
        raise DIDError(f"{prefix}no column {missing[0]!r}; columns are: {', '.join(map(str, frame.columns))}")
    data = frame[list(dict.fromkeys([unit, time, cohort, *outcomes]))].copy()
    data[time] = pd.to_numeric(data[time], errors="coerce")
    if data[time].isna().any():
        raise DIDError(f"{prefix}{time} has missing or non-numeric values in {int(data[time].isna().sum())} rows: "
                       "the time column must hold periods (years)")
    if years:
        data = data[data[time].between(*years)]
    for c in outcomes:
        if not pd.api.types.is_numeric_dtype(data[c]):
            converted = pd.to_numeric(data[c], errors="coerce")
            bad = data.loc[converted.isna() & data[c].notna(), c]
            if not bad.empty:
                raise DIDError(f"{prefix}{c} holds {bad.iloc[0]!r}, which is not a number: fix or drop those rows")
            data[c] = converted
    twice = data.duplicated([unit, time])
    if twice.any():
        r = data[twice].iloc[0]
        raise DIDError(f"{prefix}unit {r[unit]} has {int(twice.sum()) + 1}+ rows for {time} {r[time]}: the panel "
                       "needs one row per unit and period (aggregate or filter the data first)")
    data, coding = normalise_cohorts(data, cohort, unit, time, source=source)
    dropped = [(u, "treated in or before the first period (no pre-period; dropped as R did does)")
               for u in coding.dropped]
    excluded = set(map(str, exclude_units))
    out = data[unit].astype(str).isin(excluded)
    dropped += [(u, "excluded (--exclude-units)") for u in sorted(pd.unique(data.loc[out, unit]))]
    data = data[~out]
    data = data.rename(columns={unit: "unit", time: "year", cohort: "cohort"})
    data["year"] = data["year"].astype(int)
    if log_outcomes:
        for c in outcomes:
            data[c] = np.log(data[c].where(data[c] > 0))
    if balanced:
        n_years = data["year"].nunique()
        complete = data.dropna(subset=list(outcomes)).groupby("unit")["year"].nunique() == n_years
        keep = set(complete[complete].index)
        dropped += [(u, "missing outcome in some year") for u in sorted(set(data["unit"]) - keep)]
        data = data[data["unit"].isin(keep)]
    if data.empty:
        raise DIDError(f"{prefix}no unit has complete {', '.join(outcomes)} in every period")
    data = data.sort_values(["unit", "year"]).reset_index(drop=True)
    data["cohort"] = data["cohort"].astype("Int64")
    data["ever_treated"] = data["cohort"].notna()
    data["rel_time"] = (data["year"] - data["cohort"]).astype("Int64")
    data["treated"] = (data["year"] >= data["cohort"]).fillna(False).astype(int)
    data["is_municipality"] = False  # the municipality / capital robustness checks need the warehouse's dims
    data["is_provincial_capital"] = False
    if not data["ever_treated"].any():
        raise DIDError(f"{prefix}no treated unit is left in the sample ({coding.message})")
    sample = PolicySample(data=data, dropped=pd.DataFrame(dropped, columns=["unit", "reason"]), rule="cohort column",
                          policy=cohort)
    return sample, coding
