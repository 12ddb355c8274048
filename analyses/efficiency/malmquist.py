"""The DEA-Malmquist productivity index as DEAP 2.1 computes it (Färe, Grosskopf, Norris & Zhang 1994, AER 84;
Coelli 1996, "A Guide to DEAP Version 2.1", CEPA WP 96/08, §2.5 and eg4).

With d^a(b) the CRS Farrell efficiency (output: 1/φ; input: θ) of period b's data against period a's technology,
and v the VRS efficiency against the own period's technology, for each DMU and pair of adjacent periods t → t+1:

    EFFCH  = d^{t+1}(t+1) / d^t(t)                                   technical efficiency change (CRS)
    TECHCH = [ d^t(t+1) / d^{t+1}(t+1) × d^t(t) / d^{t+1}(t) ]^{1/2}  technical change
    PECH   = v^{t+1}(t+1) / v^t(t);   SECH = EFFCH / PECH             pure and scale efficiency change
    TFPCH  = EFFCH × TECHCH                                           Malmquist TFP change

Means are geometric: over DMUs for each period pair, over period pairs for each DMU, and the overall mean is
the geometric mean of the period means (DEAP's "summary of annual means"). `cumulative` chains TFPCH from
the base period (1 there).

Frontiers: 'contemporaneous' (DEAP: each period's own data), 'sequential' (Shestalova 2003: data of all periods
up to t; the same formulas) or 'global' (Pastor & Lovell 2005: one frontier of all periods; TFPCH =
d^G(t+1)/d^G(t), EFFCH against the contemporaneous frontiers, TECHCH = TFPCH / EFFCH, the best-practice gap change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.efficiency.data import as_list, load
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.lp import crs_subset, frontier_set, radial_scores

FRONTIERS = ("contemporaneous", "sequential", "global")
INDICES = ["effch", "techch", "pech", "sech", "tfpch"]


@dataclass
class MalmquistResult:
    """DEAP's tables as frames: distances, indices by DMU and period pair, and their geometric means."""

    orientation: str
    frontier: str
    unit: str
    time: str
    distances: pd.DataFrame  # unit, time, crs_prev (t-1 tech), crs (t), crs_next (t+1 tech), vrs; 'global' if so
    indices: pd.DataFrame  # unit, time (the later period), effch, techch, pech, sech, tfpch
    source: str = "DataFrame"
    quality: str = "not-checked"  # quality-gate status of the warehouse data read

    @property
    def period_means(self) -> pd.DataFrame:
        """Geometric means over DMUs for each period (DEAP: MALMQUIST INDEX SUMMARY OF ANNUAL MEANS)."""
        return _gmean(self.indices.groupby(self.time)[INDICES])

    @property
    def unit_means(self) -> pd.DataFrame:
        """Geometric means over periods for each DMU (DEAP: MALMQUIST INDEX SUMMARY OF FIRM MEANS)."""
        return _gmean(self.indices.groupby(self.unit)[INDICES])

    @property
    def mean(self) -> pd.Series:
        """The overall mean: geometric mean of the period means (DEAP's last 'mean' row)."""
        return np.exp(np.log(self.period_means).mean())

    def group_means(self, groups: pd.Series) -> pd.DataFrame:
        """Geometric means over the DMUs of each group (a Series mapping unit id → group) and period."""
        g = self.indices.assign(group=self.indices[self.unit].map(groups))
        return _gmean(g.groupby(["group", self.time])[INDICES])

    @property
    def cumulative(self) -> pd.DataFrame:
        """TFPCH, EFFCH and TECHCH chained from the base period (1 in the base period), per DMU."""
        first = self.distances[self.time].min()
        base = pd.DataFrame({self.unit: self.indices[self.unit].unique(), self.time: first})
        frame = pd.concat([base.assign(**dict.fromkeys(("effch", "techch", "tfpch"), 1.0)),
                           self.indices[[self.unit, self.time, "effch", "techch", "tfpch"]]])
        frame = frame.sort_values([self.unit, self.time]).reset_index(drop=True)
        for c in ("effch", "techch", "tfpch"):
            frame[c] = frame.groupby(self.unit)[c].cumprod()
        return frame

    def to_frame(self) -> pd.DataFrame:
        """The indices, one row per DMU and later period."""
        return self.indices.copy()


def _gmean(grouped) -> pd.DataFrame:
    return np.exp(grouped.apply(lambda d: np.log(d).mean()))


def malmquist(data, inputs: Sequence[str] | str, outputs: Sequence[str] | str, *, unit: str | None = None,
              time: str | None = None, orientation: str = "output", frontier: str = "contemporaneous", con=None,
              allow_failing_checks: bool = False,
              where: str | None = None,
        deflate: dict[str, str] | None = None, base_year=None) -> MalmquistResult:
    """DEAP-compatible Malmquist TFP index of a balanced unit × period panel.

    Example: malmquist("fct_province_year", ["labour", "capital"], ["gdp"], unit="province_code", time="year")
    """
    if orientation not in ("input", "output"):
        raise EfficiencyError(f"orientation {orientation!r}: use input or output")
    if frontier not in FRONTIERS:
        raise EfficiencyError(f"frontier {frontier!r}: use one of {', '.join(FRONTIERS)}")
    inputs, outputs = as_list(inputs), as_list(outputs)
    fr = load(data, inputs, outputs, unit=unit, time=time or "year", con=con, where=where, deflate=deflate,
              base_year=base_year, allow_failing_checks=allow_failing_checks)
    u, t = fr.unit, fr.time
    frame = balanced(fr.frame, u, t, fr.source)
    periods = sorted(frame[t].unique())
    if len(periods) < 2:
        raise EfficiencyError(f"{fr.source}: the Malmquist index needs at least two periods; {t} has {periods}")
    units = sorted(frame[u].unique())
    XY = {p: (g.set_index(u).loc[units, inputs].to_numpy().T, g.set_index(u).loc[units, outputs].to_numpy().T)
          for p, g in frame.groupby(t)}

    def tech(k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Period k's technology (its data, or all data up to k if sequential), as the DMUs that span it."""
        ps = periods[: k + 1] if frontier == "sequential" else periods[k:k + 1]
        return _spanning(np.hstack([XY[p][0] for p in ps]), np.hstack([XY[p][1] for p in ps]))

    def te(p, T, rts="crs") -> np.ndarray:
        raw, _ = radial_scores(XY[p][0], XY[p][1], *T[rts], rts=rts, orientation=orientation)
        return raw if orientation == "input" else 1.0 / raw

    techs = [tech(k) for k in range(len(periods))]
    n, K = len(units), len(periods)
    own, prev, nxt, vrs = (np.full((K, n), np.nan) for _ in range(4))
    for k, p in enumerate(periods):
        own[k] = te(p, techs[k])
        vrs[k] = te(p, techs[k], "vrs")
        if k > 0:
            prev[k] = te(p, techs[k - 1])
        if k < K - 1:
            nxt[k] = te(p, techs[k + 1])
    dist = {"crs_prev": prev, "crs": own, "crs_next": nxt, "vrs": vrs}
    if frontier == "global":
        glob = _spanning(np.hstack([XY[p][0] for p in periods]), np.hstack([XY[p][1] for p in periods]))
        dist["global"] = np.vstack([te(p, glob) for p in periods])
    distances = pd.DataFrame({u: np.tile(units, K), t: np.repeat(periods, n),
                              **{k: v.ravel() for k, v in dist.items()}})
    effch = own[1:] / own[:-1]
    if frontier == "global":
        tfpch = dist["global"][1:] / dist["global"][:-1]
        techch = tfpch / effch
    else:
        techch = np.sqrt((prev[1:] / own[1:]) * (own[:-1] / nxt[:-1]))
        tfpch = effch * techch
    pech = vrs[1:] / vrs[:-1]
    indices = pd.DataFrame({u: np.tile(units, K - 1), t: np.repeat(periods[1:], n), "effch": effch.ravel(),
                            "techch": techch.ravel(), "pech": pech.ravel(), "sech": (effch / pech).ravel(),
                            "tfpch": tfpch.ravel()})
    return MalmquistResult(orientation=orientation, frontier=frontier, unit=u, time=t, distances=distances,
                           indices=indices, source=fr.source, quality=fr.quality)


def _spanning(X: np.ndarray, Y: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The VRS and CRS frontier DMUs of (X, Y): the columns that span each technology."""
    vrs = frontier_set(X, Y)
    crs = crs_subset(X, Y, vrs)
    return {"vrs": (X[:, vrs], Y[:, vrs]), "crs": (X[:, crs], Y[:, crs])}


def balanced(frame: pd.DataFrame, unit: str, time: str, source: str) -> pd.DataFrame:
    """The panel if every unit has every period; otherwise an error naming the gaps (DEAP needs a balanced panel)."""
    periods = sorted(frame[time].unique())
    counts = frame.groupby(unit)[time].nunique()
    short = counts[counts < len(periods)]
    if len(short):
        u0 = short.index[0]
        missing = sorted(set(periods) - set(frame.loc[frame[unit] == u0, time]))
        raise EfficiencyError(f"{source}: the panel is unbalanced: {len(short)} unit(s) lack periods, e.g. {u0} has no "
                              f"{time} {', '.join(map(str, missing[:5]))}; restrict to a balanced panel (where=...)")
    return frame.sort_values([time, unit]).reset_index(drop=True)
