"""Mechanisms and heterogeneity for any regressor: moderation, mediation, split samples with between-group tests.

- moderation: y on x, the centred moderator m − m̄ and x·(m − m̄) (Aiken & West 1991), so that x's coefficient is
  its effect at the mean moderator; m's main effect is left out when a one-way fixed effect absorbs it.
- mediation: Baron & Kenny's (1986) three steps — (1) y on x (c), (2) m on x (a), (3) y on x and m (b, direct c')
  — with the Sobel (1982) z of a·b and a cluster bootstrap percentile interval of a·b; or Jiang Ting's (2022,
  《中国工业经济》) two steps, (1) and (2) only, the m → y link argued from theory.
- split samples: x's coefficient in each group, and the between-group tests the papers print: a Chow test
  (every slope interacted with the group, fixed effects kept), the stacked ("SUEST-equivalent") test of the one
  coefficient's difference with cluster-robust variance, and Fisher's permutation test reassigning groups across
  clusters (Cleary 1999, as in 连玉君's bdiff).

All fits are pyfixest's (`analyses.reg.fit`). The DID battery's mechanisms (analyses/did/mechanisms.py) are these
with x = the policy dummy and two-way effects: its moderation calls `moderation`, its Sobel test `sobel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analyses.reg.fit import RegResult, fit_frame, join_formula
from analyses.reg.prepare import RegError, cluster_columns


def _fit(data: pd.DataFrame, y: str, rhs: Sequence[str], fe: Sequence[str], vce: str) -> RegResult:
    text = join_formula(y, list(rhs), list(fe), None)
    return fit_frame(data, text, text, vce)


def _require(data: pd.DataFrame, cols: Sequence[str]) -> None:
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise RegError(f"no column {missing[0]!r} (columns: {', '.join(map(str, data.columns[:20]))})")


def moderation(data: pd.DataFrame, y: str, x: str, moderator: str, controls: Sequence[str] = (),
               fe: Sequence[str] = (), vce: str = "iid", center: bool = True) -> RegResult:
    """y ~ x + x·(m − m̄) [+ m] + controls | fe: the interaction's coefficient is the moderation (`{x}_x_{m}`)."""
    fe_cols = [c for f in fe for c in f.split("^")]
    _require(data, [y, x, moderator, *controls, *fe_cols, *cluster_columns(vce)])
    interaction = f"{x}_x_{moderator}"
    frame = data.copy()
    centred = frame[moderator] - (frame[moderator].mean() if center else 0.0)
    frame[interaction] = frame[x] * centred
    absorbed = any("^" not in f and (frame.groupby(f)[moderator].nunique() <= 1).all() for f in fe)
    rhs = [x, interaction, *([] if absorbed else [moderator]), *controls]
    return _fit(frame, y, rhs, fe, vce)


def sobel(a: float, a_se: float, b: float, b_se: float) -> tuple[float, float]:
    """Sobel's z of a·b, √(b²σ_a² + a²σ_b²) in the denominator, and its two-sided normal p-value."""
    z = a * b / math.sqrt(b**2 * a_se**2 + a**2 * b_se**2)
    return float(z), float(2 * stats.norm.sf(abs(z)))


@dataclass
class Mediation:
    """The steps' fits and the indirect effect (three-step only): a·b, Sobel z and p, bootstrap percentile CI."""

    steps: int
    total: RegResult
    a_fit: RegResult
    outcome: RegResult | None
    x: str
    mediator: str
    indirect: float = math.nan
    sobel_z: float = math.nan
    sobel_p: float = math.nan
    boot_ci: tuple[float, float] = (math.nan, math.nan)
    reps: int = 0

    @property
    def a(self) -> float:
        return float(self.a_fit.coef[self.x])

    @property
    def b(self) -> float:
        return float(self.outcome.coef[self.mediator]) if self.outcome is not None else math.nan

    @property
    def direct(self) -> float:
        return float(self.outcome.coef[self.x]) if self.outcome is not None else math.nan

    def table(self) -> pd.DataFrame:
        """step, term, coef, se, p: the papers' mechanism table in long form."""
        rows = [("(1) y on x", self.x, self.total), ("(2) m on x", self.x, self.a_fit)]
        if self.outcome is not None:
            rows += [("(3) y on x and m", self.mediator, self.outcome), ("(3) y on x and m", self.x, self.outcome)]
        out = [{"step": s, "term": t, "coef": float(f.coef[t]), "se": float(f.se[t]),
                "p": float(f.table.set_index("term").loc[t, "p"])} for s, t, f in rows]
        if self.outcome is not None:
            ci = f"bootstrap 95% CI {self.boot_ci[0]:.4f}..{self.boot_ci[1]:.4f}"
            out.append({"step": "indirect a·b", "term": ci, "coef": self.indirect, "se": math.nan, "p": self.sobel_p})
        return pd.DataFrame(out)


def mediation(data: pd.DataFrame, y: str, x: str, mediator: str, controls: Sequence[str] = (),
              fe: Sequence[str] = (), vce: str = "iid", steps: int = 3, cluster: str | None = None,
              reps: int = 500, seed: int = 20240601,
              bootstrap: Callable[[int, int], np.ndarray] | None = None) -> Mediation:
    """Baron–Kenny three steps (steps=3) or Jiang Ting's two steps (steps=2) of x → m → y.

    The bootstrap resamples `cluster` (default: the vce's first cluster column, else rows) with replacement,
    relabelling the drawn copies of a cluster in any fixed effect on that column, and re-estimates a·b;
    `bootstrap(reps, seed)` replaces it (the DID battery passes its vectorised two-way version).
    """
    if steps not in (2, 3):
        raise RegError(f"steps {steps}: 3 (Baron–Kenny) or 2 (Jiang Ting's two-step)")
    total = _fit(data, y, [x, *controls], fe, vce)
    a_fit = _fit(data, mediator, [x, *controls], fe, vce)
    if steps == 2:
        return Mediation(steps=2, total=total, a_fit=a_fit, outcome=None, x=x, mediator=mediator)
    outcome = _fit(data, y, [x, mediator, *controls], fe, vce)
    a, a_se = float(a_fit.coef[x]), float(a_fit.se[x])
    b, b_se = float(outcome.coef[mediator]), float(outcome.se[mediator])
    z, p = sobel(a, a_se, b, b_se)
    if reps > 0:
        cluster = cluster or (cluster_columns(vce) or [None])[0]
        draws = bootstrap(reps, seed) if bootstrap else _cluster_bootstrap(data, y, x, mediator, controls, fe,
                                                                          cluster, reps, seed)
        ci = tuple(float(v) for v in np.quantile(draws, [0.025, 0.975]))
    else:
        ci = (math.nan, math.nan)
    return Mediation(steps=3, total=total, a_fit=a_fit, outcome=outcome, x=x, mediator=mediator, indirect=a * b,
                     sobel_z=z, sobel_p=p, boot_ci=ci, reps=reps)


def _cluster_bootstrap(data, y, x, m, controls, fe, cluster, reps, seed) -> np.ndarray:
    """a·b over cluster bootstrap samples: fixed effects swept out by pyfixest's demeaning, then least squares."""
    from pyfixest.estimation import demean

    cols = [y, m, x, *controls]
    frame = data.dropna(subset=[*cols, *[c for f in fe for c in f.split("^")]]).reset_index(drop=True)
    groups = (pd.factorize(frame[cluster])[0] if cluster else np.arange(len(frame)))
    members = pd.Series(np.arange(len(frame))).groupby(groups).apply(np.asarray).tolist()
    rng = np.random.default_rng(seed)
    values = frame[cols].to_numpy(float)
    fe_codes = {f: pd.factorize(frame[f.split("^")].astype(str).agg("\x1f".join, axis=1))[0] for f in fe}
    out = np.empty(reps)
    for r in range(reps):
        pick = rng.integers(0, len(members), size=len(members))
        rows = np.concatenate([members[g] for g in pick])
        copy = np.repeat(np.arange(len(pick)), [len(members[g]) for g in pick])
        V = values[rows]
        if fe:
            flist = np.column_stack([
                pd.factorize(pd.Series(copy if f == cluster else fe_codes[f][rows]))[0] for f in fe
            ]).astype(np.uint64)
            V, _ = demean(V, flist, np.ones(len(rows)))
        else:
            V = np.column_stack([V, np.ones(len(rows))])
        Vy, Vm, rhs_a = V[:, 0], V[:, 1], np.delete(V, [0, 1], axis=1)
        a = np.linalg.lstsq(rhs_a, Vm, rcond=None)[0][0]
        rhs_b = np.column_stack([rhs_a, Vm])
        b = np.linalg.lstsq(rhs_b, Vy, rcond=None)[0][-1]
        out[r] = a * b
    return out


@dataclass
class SplitTests:
    """x's coefficient by group and the between-group tests of its difference."""

    effects: pd.DataFrame  # group, coef, se, p, nobs
    difference: float
    chow_f: float
    chow_df: tuple[int, int]
    chow_p: float
    stacked_z: float
    stacked_p: float
    permutation_p: float
    reps: int

    def tests(self) -> pd.DataFrame:
        return pd.DataFrame([
            {"test": "Chow (all slopes interacted with the group)", "statistic": self.chow_f, "p_value": self.chow_p},
            {"test": "stacked (SUEST-equivalent) difference of x", "statistic": self.stacked_z,
             "p_value": self.stacked_p},
            {"test": f"Fisher permutation of groups ({self.reps} draws)", "statistic": self.difference,
             "p_value": self.permutation_p},
        ])


def split_sample(data: pd.DataFrame, y: str, x: str, group: str, controls: Sequence[str] = (),
                 fe: Sequence[str] = (), vce: str = "iid", cluster: str | None = None, reps: int = 500,
                 seed: int = 20240601) -> SplitTests:
    """x's effect in the two groups of `group` and three tests that it differs (Chow, stacked, permutation).

    Chow: F of the group × (x, controls) interactions in the pooled model with the fixed effects interacted
    with the group too (iid). Stacked: the interacted model's coefficient of group × x with the vce's variance,
    which is what SUEST tests. Permutation: the share of `reps` reassignments of the group across clusters
    (`cluster`, default the vce's cluster column, else rows) whose difference is at least the observed one.
    """
    fe_cols = [c for f in fe for c in f.split("^")]
    _require(data, [y, x, group, *controls, *fe_cols])
    frame = data.dropna(subset=[y, x, group, *controls, *fe_cols]).reset_index(drop=True)
    values = frame[group].unique()
    if len(values) != 2:
        raise RegError(f"{group!r} has {len(values)} values; a split needs exactly two groups")
    flag = (frame[group] == sorted(values, key=str)[1]).astype(float)
    rows = []
    for v in sorted(values, key=str):
        f = _fit(frame[frame[group] == v], y, [x, *controls], fe, vce)
        rows.append({"group": f"{group} = {v}", "coef": float(f.coef[x]), "se": float(f.se[x]),
                     "p": float(f.table.set_index("term").loc[x, "p"]), "nobs": f.nobs})
    effects = pd.DataFrame(rows)
    # interacted model: every slope and every fixed effect by group
    inter = frame.assign(_g=flag, **{f"_g_x_{c}": flag * frame[c] for c in [x, *controls]})
    fe_g = [f"{f}^_g" for f in fe] if fe else []
    rhs_r = [x, *controls] + ([] if fe else ["_g"])
    rhs_u = rhs_r + [f"_g_x_{c}" for c in [x, *controls]]
    restricted = _fit(inter, y, rhs_r, fe_g, "iid")
    unrestricted = _fit(inter, y, rhs_u, fe_g, "iid")
    q = len(controls) + 1
    ssr_r, ssr_u = (float(np.sum(np.asarray(m.model.resid()) ** 2)) for m in (restricted, unrestricted))
    df2 = unrestricted.nobs - len(rhs_u) - _fe_count(inter, fe_g)
    chow = (ssr_r - ssr_u) / q / (ssr_u / df2)
    stacked = _fit(inter, y, rhs_u, fe_g, vce)
    term = f"_g_x_{x}"
    z = float(stacked.coef[term] / stacked.se[term])
    diff = float(effects["coef"].iloc[1] - effects["coef"].iloc[0])
    perm_p = _permutation(frame, y, x, flag.to_numpy(), controls, fe, cluster or (cluster_columns(vce) or [None])[0],
                          diff, reps, seed)
    return SplitTests(effects=effects, difference=diff, chow_f=float(chow), chow_df=(q, int(df2)),
                      chow_p=float(stats.f.sf(chow, q, df2)), stacked_z=z,
                      stacked_p=float(stacked.table.set_index("term").loc[term, "p"]), permutation_p=perm_p, reps=reps)


def _fe_count(frame: pd.DataFrame, fe: Sequence[str]) -> int:
    if not fe:
        return 1  # the intercept
    total = sum(frame[[c.strip() for c in f.split("^")]].drop_duplicates().shape[0] for f in fe)
    return total - (len(fe) - 1)


def _permutation(frame, y, x, flag, controls, fe, cluster, observed, reps, seed) -> float:
    """Share of group reassignments across clusters with |difference| ≥ |observed| (pyfixest re-fits)."""
    if reps <= 0:
        return math.nan
    keys = frame[cluster].to_numpy() if cluster else np.arange(len(frame))
    codes, _ = pd.factorize(pd.Series(keys))
    per_cluster = pd.Series(flag).groupby(codes).first().to_numpy()
    rng = np.random.default_rng(seed)
    hits = valid = 0
    for _ in range(reps):
        g = rng.permutation(per_cluster)[codes]
        try:
            b1 = _fit(frame[g == 1], y, [x, *controls], fe, "iid").coef[x]
            b0 = _fit(frame[g == 0], y, [x, *controls], fe, "iid").coef[x]
        except RegError:
            continue
        valid += 1
        hits += abs(b1 - b0) >= abs(observed)
    return hits / valid if valid else math.nan
