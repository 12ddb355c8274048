"""Two-way fixed-effects DID and event studies (pyfixest), with their coefficient plot."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf

from analyses.did.cohorts import normalise_cohorts
from analyses.did.errors import DIDError


@dataclass
class TWFEResult:
    """TWFE DID: `coef`, `se`, `pvalue` of the treatment dummy, `nobs`, pyfixest's tidy `table`, and the
    R² with the fixed effects (LSDV, as the papers print it) and within them."""

    coef: float
    se: float
    pvalue: float
    nobs: int
    table: pd.DataFrame
    formula: str
    r2: float = float("nan")
    r2_within: float = float("nan")


def _cluster(cluster: str | None, unit: str) -> dict[str, str]:
    return {"CRV1": cluster or unit}


def twfe(
    data: pd.DataFrame, y: str, treat: str = "treated", unit: str = "unit", time: str = "year",
    controls: Sequence[str] = (), cluster: str | None = None,
) -> TWFEResult:
    """y_it = β·treat_it + controls + α_i + λ_t + ε_it, SEs clustered by unit (or `cluster`)."""
    _require(data, [y, treat, unit, time, *controls])
    rhs = " + ".join([treat, *controls])
    formula = f"{y} ~ {rhs} | {unit} + {time}"
    with _restated("TWFE"):
        fit = pf.feols(formula, data=data, vcov=_cluster(cluster, unit))
        tidy = _tidy(fit, [treat])
    return TWFEResult(
        coef=float(tidy.loc[treat, "Estimate"]), se=float(tidy.loc[treat, "Std. Error"]),
        pvalue=float(tidy.loc[treat, "Pr(>|t|)"]), nobs=int(fit._N), table=tidy.reset_index(), formula=formula,
        r2=float(fit._r2), r2_within=float(fit._r2_within),
    )


def stepwise(
    data: pd.DataFrame, y: str, controls: Sequence[str], treat: str = "treated", unit: str = "unit",
    time: str = "year",
) -> list[TWFEResult]:
    """TWFE without controls, then adding `controls` one at a time (001, Table 3, columns 1–6), on the rows
    complete in every control so that N stays the same across columns."""
    frame = data.dropna(subset=[y, *controls])
    return [twfe(frame, y, treat, unit, time, controls=list(controls[:k])) for k in range(len(controls) + 1)]


@dataclass
class EventStudyResult:
    """Event-study coefficients by relative time (`table`: rel_time, coef, se, ci_low, ci_high)."""

    table: pd.DataFrame
    reference: int
    window: tuple[int, int]
    formula: str

    def pre_trend_max_abs_t(self) -> float:
        """Largest |t| among pre-period coefficients (the reference period excluded)."""
        pre = self.table[(self.table["rel_time"] < 0) & (self.table["rel_time"] != self.reference)]
        return float((pre["coef"] / pre["se"]).abs().max())

    def plot(self, path: str | Path, title: str = "事件研究", lang: str | None = None) -> Path:
        """Coefficient plot with 95% intervals, the reference period at zero, a line at treatment and the binned
        end points labelled '≤−5' / '≥5' (analyses.plots.event_study_plot)."""
        import matplotlib.pyplot as plt

        from analyses.plots import event_study_plot

        fig = event_study_plot(self.table, self.window, self.reference, title=title, path=Path(path), lang=lang)
        plt.close(fig)
        return Path(path)


def event_study(
    data: pd.DataFrame, y: str, unit: str = "unit", time: str = "year", rel_time: str = "rel_time",
    window: tuple[int, int] = (-5, 5), reference: int = -1, cluster: str | None = None,
    controls: Sequence[str] = (),
) -> EventStudyResult:
    """Dynamic TWFE: dummies for each relative year in `window`, end points binned, `reference` omitted.

    Never-treated units (rel_time missing) are the comparison group with all dummies zero.
    """
    _require(data, [y, unit, time, rel_time, *controls])
    low, high = window
    if not low < reference < high + 1:
        raise DIDError(f"reference period {reference} must lie inside the window {low}..{high}")
    rt = data[rel_time].astype("Float64")
    observed = rt.dropna()
    if observed.empty:
        raise DIDError("no treated unit in the data: an event study needs treated and comparison units")
    if observed.min() > low:
        raise DIDError(f"the data have at most {-int(observed.min())} pre-periods; shorten the window (e.g. "
                       f"--window {int(observed.min())}:{high})")
    frame = data.copy()
    binned = rt.clip(lower=low, upper=high)
    names = {}
    for k in range(low, high + 1):
        if k == reference:
            continue
        name = f"rt_m{-k}" if k < 0 else f"rt_p{k}"
        names[name] = k
        frame[name] = (binned == k).fillna(False).astype(int)
    rhs = " + ".join([*names, *controls])
    formula = f"{y} ~ {rhs} | {unit} + {time}"
    with _restated("event study"):
        fit = pf.feols(formula, data=frame, vcov=_cluster(cluster, unit))
        tidy = _tidy(fit, list(names))
    rows = [{"rel_time": k, "coef": tidy.loc[n, "Estimate"], "se": tidy.loc[n, "Std. Error"],
             "ci_low": tidy.loc[n, "2.5%"], "ci_high": tidy.loc[n, "97.5%"]} for n, k in names.items()]
    rows.append({"rel_time": reference, "coef": 0.0, "se": np.nan, "ci_low": 0.0, "ci_high": 0.0})
    table = pd.DataFrame(rows).sort_values("rel_time").reset_index(drop=True)
    return EventStudyResult(table=table, reference=reference, window=window, formula=formula)


def imputation(
    data: pd.DataFrame, y: str, treat: str = "treated", unit: str = "unit", time: str = "year",
    cluster: str | None = None,
) -> TWFEResult:
    """Gardner's two-stage (imputation) DID via pyfixest.did2s: fixed effects fitted on untreated cells only."""
    _require(data, [y, treat, unit, time])
    data = data.dropna(subset=[y])  # as feols drops them; did2s itself would fail on them
    _imputable(data, y, treat, unit, time)
    with _restated("two-stage imputation (pyfixest did2s)"):
        fit = pf.did2s(data, yname=y, first_stage=f"~ 0 | {unit} + {time}", second_stage=f"~ {treat}",
                       treatment=treat, cluster=cluster or unit)
        tidy = _tidy(fit, [treat])
    return TWFEResult(coef=float(tidy.loc[treat, "Estimate"]), se=float(tidy.loc[treat, "Std. Error"]),
                      pvalue=float(tidy.loc[treat, "Pr(>|t|)"]), nobs=int(fit._N), table=tidy.reset_index(),
                      formula=f"did2s: {y} ~ {treat}; first stage ~ 0 | {unit} + {time}")


def sun_abraham(
    data: pd.DataFrame, y: str, unit: str = "unit", time: str = "year", cohort: str = "cohort",
) -> pd.DataFrame:
    """Sun & Abraham's interaction-weighted event study (pyfixest's saturated estimator, never-treated
    units as controls): one row per event time with coef and se (reference period −1 omitted)."""
    _require(data, [y, unit, time, cohort])
    frame, coding = normalise_cohorts(data, cohort, unit, time)
    if not frame[cohort].isna().any():
        raise DIDError(f"Sun–Abraham compares with never-treated units and there are none ({coding.message}): "
                       "keep some never-treated units in the sample, or end it before the last cohort adopts")
    frame = frame.assign(_g=frame[cohort].fillna(0).astype(int))
    with _restated("Sun–Abraham (pyfixest saturated event study)"), warnings.catch_warnings():
        # expected: the estimator is marked beta, and cohort × relative-time cells outside the panel are empty
        warnings.filterwarnings("ignore", message=".*SaturatedEventStudyClass is currently in beta")
        warnings.filterwarnings("ignore", message=r"(?s).*variables dropped due to multicollinearity.*rel_time::")
        fit = pf.event_study(frame, yname=y, idname=unit, tname=time, gname="_g", estimator="saturated", att=True)
        agg = fit.aggregate(agg="period", weighting="shares")
    return pd.DataFrame({"event_time": agg.index.astype(float).astype(int),
                         "coef": agg["Estimate"].astype(float).to_numpy(),
                         "se": agg["Std. Error"].astype(float).to_numpy()})


def _require(data: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DIDError(f"column {missing[0]!r} is not in the data; columns are: {', '.join(map(str, data.columns))}")
    if data.empty:
        raise DIDError("the estimation sample is empty")


@contextmanager
def _restated(estimator: str) -> Iterator[None]:
    """Restate an exception of pyfixest (or numpy, formulaic, pandas beneath it) as one DIDError line that says
    what to change; our own DIDErrors pass unchanged."""
    try:
        yield
    except DIDError:
        raise
    except Exception as exc:  # the library's own types vary (ValueError, TypeError, KeyError, LinAlgError, ...)
        raise DIDError(f"{estimator}: {_advice(exc)}") from exc


def _advice(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "collinear" in lowered:
        return ("the treatment is collinear with the unit and year fixed effects (it never varies within a unit over "
                "time, or every unit switches in the same year): check the treatment, unit and time columns")
    if "must be numeric" in lowered or "could not convert" in lowered:
        return f"a model column is not numeric ({text}): convert it to numbers"
    if "could not be broadcast" in lowered:
        return ("pyfixest lost rows between its stages (units or years with fewer than two untreated observations, "
                "or missing values): drop such units or years, or rows with a missing outcome")
    return f"{text}: check the outcome, unit, time and treatment columns"


def _tidy(fit, terms: Sequence[str]) -> pd.DataFrame:
    """pyfixest's tidy table, refusing when a wanted term was dropped as collinear."""
    tidy = fit.tidy()
    dropped = [t for t in terms if t not in tidy.index]
    if dropped:
        raise DIDError(f"{dropped[0]} was dropped as collinear with the fixed effects: it must vary within units "
                       "over time and across units in the same year")
    return tidy


def _imputable(data: pd.DataFrame, y: str, treat: str, unit: str, time: str) -> None:
    """Gardner's first stage fits unit and year effects on untreated rows; pyfixest drops singleton effects there
    and then cannot impute those units' or years' treated rows (a raw numpy broadcast error)."""
    frame = data
    if frame[treat].isna().any():
        raise DIDError(f"two-stage imputation: {treat} is missing in {int(frame[treat].isna().sum())} rows: it must be "
                       "0 or 1 in every row")
    untreated = frame[frame[treat] == 0]
    units = untreated.groupby(unit).size().reindex(frame[unit].unique(), fill_value=0)
    thin = units[units < 2]
    if not thin.empty:
        first = frame[frame[treat] != 0].groupby(unit)[time].min().reindex(thin.index)
        cohorts = ", ".join(f"{int(g) if g == g else 'none'} ({n})" for g, n in first.value_counts(dropna=False)
                            .sort_index().items())
        raise DIDError(f"two-stage imputation: {len(thin)} units have fewer than two untreated periods (e.g. "
                       f"{thin.index[0]}; first treated: {cohorts}); pyfixest's did2s drops their unit effects as "
                       "singletons and cannot impute their treated periods: leave these units or cohorts out of the "
                       "sample, or start the panel earlier")
    years = untreated.groupby(time).size().reindex(frame[time].unique(), fill_value=0)
    thin = years[years < 2]
    if not thin.empty:
        raise DIDError(f"two-stage imputation: period {thin.index[0]} has fewer than two untreated units, so its "
                       "period effect cannot be fitted: end the sample before every unit is treated")
