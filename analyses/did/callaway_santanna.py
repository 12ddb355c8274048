"""Callaway–Sant'Anna (2021) group-time ATTs and their aggregations, without covariates.

ATT(g, t) = E[Y_t − Y_b | G = g] − E[Y_t − Y_b | C], with b = g − 1 for t ≥ g and the "varying" base
b = t − 1 for pre-periods (the R `did` default), and C the never-treated units or the not-yet-treated
ones (G > max(t, b)). Standard errors come from the influence functions. Aggregations follow R `did::aggte`
(Callaway & Sant'Anna 2021, J. Econometrics 225(2), §3; R did compute.aggte):

- simple: post-treatment cells weighted by cohort size;
- group: each cohort's post cells averaged; overall = cohort ATTs weighted by cohort size;
- dynamic: cells of each event time e weighted by cohort size; overall = mean over e ≥ 0;
- calendar: post cells of each year weighted by cohort size; overall = mean over years;

each with the influence of the estimated cohort shares (R did's wif) where R adds it. Cohorts are read by
`normalise_cohorts` (never treated as 0, empty, ±inf or after the panel). A cell without comparison units
is NaN, never 0 ± 0, and the aggregates leave it out with a note in `CSResult.notes`.

    cs = callaway_santanna(mpdta, "lemp", unit="countyreal", time="year", cohort="first.treat")
    cs.aggregate("group")       # one row per cohort: group, att, se, z, p_value
    cs.overall("group")         # {"kind": "group", "att": -0.0310, "se": 0.0124, ...} as R did's overall.att/se
    cs.aggregates()             # every aggregate and every overall estimate in one tidy frame

Written here because pyfixest has no CS estimator; the tests check it against `csdid` 0.4.3 (a Python port
of R `did`) on the castle-doctrine and mpdta data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analyses.did.cohorts import CodingReport, normalise_cohorts
from analyses.did.estimators import DIDError, _require

CONTROLS = ("never", "notyet")
AGGREGATIONS = ("simple", "group", "dynamic", "calendar")
TERM = {"simple": "term", "group": "group", "dynamic": "event_time", "calendar": "time"}


@dataclass
class CSResult:
    """Group-time ATTs (`attgt`: group, time, att, se, post; att and se NaN where a cell has no comparison
    units) and the data needed to aggregate them; `coding` says how the cohort column was read and `notes`
    what the aggregates leave out."""

    attgt: pd.DataFrame
    influence: np.ndarray  # units × cells, scaled so that var = Σ IF² / n²
    group_of_unit: np.ndarray  # first treated period, inf = never treated
    control: str
    coding: CodingReport | None = None
    notes: list[str] = field(default_factory=list)

    def aggregate(self, kind: str = "simple") -> pd.DataFrame:
        """One of simple (one ATT), group (by cohort), dynamic (by event time), calendar (by year): att, se, z,
        p_value per row. A cohort without an estimable post-period cell has a row with NaN att and se."""
        rows = [_row(label, att, inf, self.n) for label, att, inf in self._terms(kind)]
        return pd.DataFrame(rows).rename(columns={"term": TERM[kind]})

    def overall(self, kind: str = "simple") -> dict:
        """The overall estimate of an aggregation as R `did::aggte` reports it (overall.att, overall.se): simple
        ATT; group — cohort ATTs weighted by cohort size (plus the influence of the estimated sizes); dynamic —
        mean of the event-time effects e ≥ 0; calendar — mean of the calendar-year effects."""
        terms = [(label, att, inf) for label, att, inf in self._terms(kind) if np.isfinite(att)]
        if not terms:
            return {"kind": kind, **_row("overall", np.nan, None, self.n)}
        if kind == "simple":
            label, att, inf = terms[0]
        elif kind == "group":
            groups = np.array([label for label, _, _ in terms], dtype=float)
            size = np.array([np.mean(self.group_of_unit == g) for g in groups])
            atts = np.array([a for _, a, _ in terms])
            weights = size / size.sum()
            att = float(weights @ atts)
            inf = np.column_stack([i for _, _, i in terms]) @ weights + _wif(self.group_of_unit, groups, size) @ atts
        else:
            if kind == "dynamic":
                terms = [term for term in terms if term[0] >= 0]
            if not terms:
                return {"kind": kind, **_row("overall", np.nan, None, self.n)}
            att = float(np.mean([a for _, a, _ in terms]))
            inf = np.column_stack([i for _, _, i in terms]).mean(axis=1)
        return {"kind": kind, **_row("overall", att, inf, self.n)}

    def aggregates(self) -> pd.DataFrame:
        """Every aggregation in one tidy frame: kind, term ("overall", a cohort, an event time or a year), att,
        se, z, p_value; the overall row of each kind first."""
        frames = []
        for kind in AGGREGATIONS:
            first = pd.DataFrame([self.overall(kind)])
            if kind != "simple":
                rows = self.aggregate(kind).rename(columns={TERM[kind]: "term"}).assign(kind=kind)
                first = pd.concat([first, rows], ignore_index=True)
            frames.append(first)
        table = pd.concat(frames, ignore_index=True)
        return table[["kind", "term", "att", "se", "z", "p_value"]]

    @property
    def n(self) -> int:
        return len(self.group_of_unit)

    def _terms(self, kind: str) -> list[tuple[object, float, np.ndarray | None]]:
        """(label, estimate, influence function) of each row of an aggregation."""
        if kind not in AGGREGATIONS:
            raise DIDError(f"aggregation {kind!r} is not one of {', '.join(AGGREGATIONS)}")
        cells = self.attgt
        group = cells["group"].to_numpy(dtype=float)
        time = cells["time"].to_numpy(dtype=float)
        ok = np.isfinite(cells["att"].to_numpy(dtype=float))
        post = cells["post"].to_numpy(dtype=bool) & ok
        if kind == "simple":
            return [("ATT", *self._combine(np.flatnonzero(post)))]
        if kind == "group":
            return [(int(g), *self._combine(np.flatnonzero(post & (group == g)), with_wif=False))
                    for g in np.unique(group)]
        if kind == "dynamic":
            event = time - group
            return [(int(e), *self._combine(np.flatnonzero(ok & (event == e)))) for e in np.unique(event[ok])]
        return [(int(t), *self._combine(np.flatnonzero(post & (time == t)))) for t in np.unique(time[post])]

    def _combine(self, keep: np.ndarray, with_wif: bool = True) -> tuple[float, np.ndarray | None]:
        """Average of cells `keep` weighted by cohort size, and its influence function (R did get_agg_inf_func,
        with wif() for the estimated weights)."""
        if keep.size == 0:
            return np.nan, None
        att = self.attgt["att"].to_numpy(dtype=float)[keep]
        groups = self.attgt["group"].to_numpy(dtype=float)[keep]
        size = np.array([np.mean(self.group_of_unit == g) for g in groups])
        weights = size / size.sum()
        inf = self.influence[:, keep] @ weights
        if with_wif:
            inf = inf + _wif(self.group_of_unit, groups, size) @ att
        return float(weights @ att), inf


def _wif(group_of_unit: np.ndarray, groups: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Influence of estimating the cohort-size weights size / Σ size (R did: wif()), units × len(groups)."""
    indicator = (group_of_unit[:, None] == groups[None, :]).astype(float)
    first = (indicator - size) / size.sum()
    second = (indicator - size).sum(axis=1, keepdims=True) * (size / size.sum() ** 2)[None, :]
    return first - second


def _row(label: object, att: float, inf: np.ndarray | None, n: int) -> dict:
    se = float(np.sqrt(np.sum(inf**2)) / n) if inf is not None and np.isfinite(att) else np.nan
    ok = np.isfinite(se) and se > 0
    return {"term": label, "att": float(att), "se": se, "z": att / se if ok else np.nan,
            "p_value": float(2 * stats.norm.sf(abs(att / se))) if ok else np.nan}


def callaway_santanna(
    data: pd.DataFrame, y: str, unit: str = "unit", time: str = "year", cohort: str = "cohort",
    control: str = "never",
) -> CSResult:
    """Group-time ATTs on a balanced panel; `cohort` is the first treated period, never treated coded empty, 0,
    ±inf or a period after the panel (see `normalise_cohorts`); units treated in or before the first period are
    dropped, as R `did` drops them."""
    if control not in CONTROLS:
        raise DIDError(f"control group {control!r} is not one of {', '.join(CONTROLS)}")
    _require(data, [y, unit, time, cohort])
    data, coding = normalise_cohorts(data, cohort, unit, time)
    if data.empty:
        raise DIDError(f"no unit is left: {coding.message}")
    wide = data.pivot(index=unit, columns=time, values=y)
    if wide.isna().any().any():
        raise DIDError("Callaway–Sant'Anna here needs a balanced panel without missing outcomes")
    groups = data.groupby(unit)[cohort].first().reindex(wide.index)
    g_unit = groups.to_numpy(dtype=float, na_value=np.inf)
    g_unit = np.where(np.isnan(g_unit), np.inf, g_unit)
    periods = wide.columns.to_numpy()
    if control == "never" and not np.isinf(g_unit).any():
        raise DIDError(f"no never-treated units ({coding.message}): use control='notyet' (not-yet-treated units "
                       "as controls), or code never-treated units empty, 0 or inf")
    yv = wide.to_numpy(dtype=float)
    n = len(g_unit)
    col = {t: j for j, t in enumerate(periods)}
    cohorts = sorted(g for g in np.unique(g_unit) if np.isfinite(g))
    rows, influence, missing = [], [], []
    for g in cohorts:
        treated = g_unit == g
        for t in periods[1:]:
            base = g - 1 if t >= g else t - 1
            # never treated, or not yet treated by max(t, base)
            ctrl = np.isposinf(g_unit) if control == "never" else (g_unit > max(t, base)) & ~treated
            inf = np.zeros(n)
            if base not in col or not ctrl.any():
                rows.append({"group": int(g), "time": int(t), "att": np.nan, "se": np.nan, "post": bool(t >= g)})
                influence.append(inf)
                missing.append((int(g), int(t), "no base period" if base not in col else "no comparison units"))
                continue
            delta = yv[:, col[t]] - yv[:, col[base]]
            mean_g, mean_c = delta[treated].mean(), delta[ctrl].mean()
            inf[treated] = n / treated.sum() * (delta[treated] - mean_g)
            inf[ctrl] = -n / ctrl.sum() * (delta[ctrl] - mean_c)
            rows.append({"group": int(g), "time": int(t), "att": mean_g - mean_c,
                         "se": float(np.sqrt(np.sum(inf**2)) / n), "post": bool(t >= g)})
            influence.append(inf)
    attgt, influence = pd.DataFrame(rows), np.column_stack(influence)
    # a cohort without an estimable post-period cell is no treatment group (R did drops it from glist): its
    # pre-period cells leave the aggregates too
    ok_post = attgt["att"].notna() & attgt["post"]
    idle = sorted(set(attgt["group"]) - set(attgt.loc[ok_post, "group"]))
    for g in idle:
        pre = (attgt["group"] == g) & attgt["att"].notna()
        missing += [(int(g), int(t), "cohort without an estimable post-period cell") for t in attgt.loc[pre, "time"]]
        attgt.loc[pre, ["att", "se"]] = np.nan
        influence[:, pre.to_numpy()] = 0.0
    if attgt["att"].isna().all():
        raise DIDError("no group-time cell can be estimated: check that cohorts fall inside the panel's years "
                       f"({coding.message})")
    notes = _notes(missing, control, idle)
    if coding.dropped:
        notes.insert(0, f"{len(coding.dropped)} units treated in or before the first period {coding.first_period:g} "
                        "left out (no pre-period; as R did)")
    return CSResult(attgt=attgt, influence=influence, group_of_unit=g_unit, control=control, coding=coding,
                    notes=notes)


def _notes(missing: list[tuple[int, int, str]], control: str, idle: list) -> list[str]:
    """One line per cohort with cells that could not be estimated (left out of every aggregate)."""
    who = "not-yet-treated" if control == "notyet" else "never-treated"
    notes = []
    for g in sorted({g for g, _, _ in missing}):
        cells = sorted((t, why.replace("comparison units", f"{who} comparison units")) for gg, t, why in missing
                       if gg == g and why != "cohort without an estimable post-period cell")
        where = f"{', '.join(str(t) for t, _ in cells)}: {'; '.join(sorted({why for _, why in cells}))}"
        if g in idle:
            notes.append(f"cohort {g}: no estimable post-period cell ({where}); reported as NaN and left out of "
                         "the aggregates with its pre-period cells")
        else:
            notes.append(f"cohort {g}: cell(s) {where}; NaN, left out of the aggregates")
    return notes
