"""Hansen (1999) panel threshold regression with unit fixed effects: single and double thresholds.

    y_it = μ_i + β₁'x_it·1(q_it ≤ γ₁) + β₂'x_it·1(γ₁ < q_it ≤ γ₂) + β₃'x_it·1(q_it > γ₂) + δ'z_it + e_it

Each γ minimises the within-transformed sum of squared residuals S(γ) over a grid of the threshold variable's
sample values at `grid` quantile levels between `trim` and 1 − trim (xthreg's grid(300) trim(0.01)). Hansen (1999,
J. Econometrics 93, §3–4): F = (S_{k−1} − S_k)/σ̂², σ̂² = S_k/(N(T−1)); its p-value by the bootstrap that draws
units' residual vectors with replacement (regressors and q fixed; y* from the model under the null); LR(γ) =
(S(γ) − S(γ̂))/σ̂² with the no-rejection region LR ≤ −2 ln(1 − √(1 − α)) as the confidence interval of γ. A double
threshold is found sequentially with Hansen's refinement of γ₁ given γ₂ (§4). Coefficients by regime are pyfixest's
unit-FE fit at the estimated thresholds.

Every S(γ) of a search is one batched computation: with B the within-transformed x and z and D(γ) the within
transform of x·1(q ≤ γ), S(γ) = e'e − (D̃'e)'(D̃'D̃)⁻¹(D̃'e), D̃ = M_B D(γ), e = M_B y; a bootstrap draw only
changes e, so the 300 draws reuse D̃.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analyses.reg.prepare import RegError


def lr_critical(alpha: float = 0.05) -> float:
    """Hansen's (2000) critical value of LR(γ): −2 ln(1 − √(1 − α)); 7.35 at α = 0.05."""
    return -2 * math.log(1 - math.sqrt(1 - alpha))


def candidate_grid(q: np.ndarray, trim: float = 0.01, grid: int = 300) -> np.ndarray:
    """The distinct sample values of q at `grid` quantile levels evenly spaced in [trim, 1 − trim]
    (inverted-CDF quantiles, so every candidate is an observed value)."""
    levels = np.linspace(trim, 1 - trim, grid)
    return np.unique(np.quantile(np.asarray(q, dtype=float), levels, method="inverted_cdf"))


@dataclass
class ThresholdResult:
    """Estimated thresholds with their F tests, bootstrap p-values, LR confidence intervals and regime coefficients."""

    thresholds: list[float]
    ci: list[tuple[float, float]]
    tests: pd.DataFrame        # test (single / double), F, p_value, crit10, crit5, crit1, reps
    coefficients: pd.DataFrame  # term, coef, se, t, p (pyfixest, unit FE, at the thresholds)
    lr: list[pd.DataFrame]     # per threshold: gamma, LR
    ssr: list[float]           # S0 (linear), S1, (S2)
    nobs: int
    n_units: int
    n_periods: int
    y: str
    x: list[str]
    q: str
    controls: list[str]
    vce: str
    seed: int
    source: str = "DataFrame"
    quality: str = "not-checked"
    fingerprint: str = ""
    unit: str | None = None
    time: str | None = None
    model: Any = field(default=None, repr=False)
    draws: list[np.ndarray] = field(default_factory=list, repr=False)  # bootstrap F* of each test

    def as_dict(self) -> dict:
        def num(v):
            v = v.item() if hasattr(v, "item") else v
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"y": self.y, "x": self.x, "q": self.q, "controls": self.controls, "thresholds": self.thresholds,
                "ci95": [list(c) for c in self.ci], "nobs": self.nobs, "n_units": self.n_units,
                "n_periods": self.n_periods, "vce": self.vce, "seed": self.seed, "ssr": self.ssr,
                "tests": [{k: num(v) for k, v in r.items()} for r in self.tests.to_dict("records")],
                "estimates": [{k: num(v) for k, v in r.items()} for r in self.coefficients.to_dict("records")],
                "source": self.source, "quality": self.quality}

    def plot_lr(self, path, alpha: float = 0.05) -> None:
        """LR(γ) of each threshold with the critical line (Hansen 1999, Figures 1–2)."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(self.lr), figsize=(5 * len(self.lr), 3.5), squeeze=False)
        for k, (ax, lr) in enumerate(zip(axes[0], self.lr, strict=True)):
            ax.plot(lr["gamma"], lr["LR"], lw=1)
            ax.axhline(lr_critical(alpha), ls="--", color="red", lw=0.8)
            ax.set_xlabel(f"threshold γ{k + 1} ({self.q})")
            ax.set_ylabel("LR")
        fig.tight_layout()
        fig.savefig(path, dpi=150)
        plt.close(fig)


class _Within:
    """Within-transformed arrays of a balanced panel and the batched S(γ) computations."""

    def __init__(self, y: np.ndarray, X: np.ndarray, Z: np.ndarray, q: np.ndarray, n_units: int, n_periods: int):
        self.N, self.T = n_units, n_periods
        self.x_raw, self.q = X, q
        self.y = self.within(y)
        self.B = self.within(np.hstack([X, Z]))
        self.Bq = np.linalg.qr(self.B)[0]

    def within(self, a: np.ndarray) -> np.ndarray:
        shape = a.shape
        r = a.reshape(self.N, self.T, -1)
        return (r - r.mean(axis=1, keepdims=True)).reshape(shape)

    def resid_b(self, a: np.ndarray) -> np.ndarray:
        return a - self.Bq @ (self.Bq.T @ a)

    def d_tilde(self, gammas: np.ndarray) -> np.ndarray:
        """n × G × k: M_B of the within transform of x·1(q ≤ γ) for every γ."""
        ind = (self.q[:, None] <= gammas[None, :]).astype(float)  # n × G
        d = ind[:, :, None] * self.x_raw[:, None, :]
        n, g, k = d.shape
        flat = self.within(d.reshape(n, g * k))
        return self.resid_b(flat).reshape(n, g, k)

    @staticmethod
    def partial(a: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        """a (n × …) residualised on the columns of `fixed` (n × m)."""
        if fixed.shape[1] == 0:
            return a
        qf = np.linalg.qr(fixed)[0]
        flat = a.reshape(a.shape[0], -1)
        return (flat - qf @ (qf.T @ flat)).reshape(a.shape)

    @staticmethod
    def ssr_path(e: np.ndarray, Dt: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """S(γ) for every γ: e'e − (D̃'e)'(D̃'D̃)⁻¹(D̃'e); invalid γ get +inf. e may be n × R (R draws): G × R."""
        E = e.reshape(e.shape[0], -1)
        n, g, k = Dt.shape
        dtd = np.einsum("ngk,ngl->gkl", Dt, Dt, optimize=True)
        dte = (Dt.reshape(n, g * k).T @ E).reshape(g, k, E.shape[1])
        out = np.full((Dt.shape[1], E.shape[1]), np.inf)
        diag = np.einsum("gkk->gk", dtd)
        ok = valid & (diag > 1e-10 * max(float(diag.max()), 1e-300)).all(axis=1)
        if ok.any():
            sol = np.linalg.solve(dtd[ok], dte[ok])
            out[ok] = (E * E).sum(0)[None, :] - np.einsum("gkr,gkr->gr", dte[ok], sol)
        return out if e.ndim > 1 else out[:, 0]


def threshold(data: Any, y: str, x: str | Sequence[str], q: str, controls: Sequence[str] = (), *,
              unit: str | None = None, time: str | None = None, con=None, where: str | None = None,
              n_thresholds: int = 1, trim: float = 0.01, grid: int = 300, reps: int = 300, seed: int = 20240601,
              vce: str | None = None, alpha: float = 0.05, allow_failing_checks: bool = False,
              progress: Callable[[int, int], None] | None = None) -> ThresholdResult:
    """Hansen's fixed-effects panel threshold model of `y` on `x` split by `q`, controls `controls`.

    data: anything warehouse.panel_data.read_panel reads (a balanced unit × time panel). n_thresholds: 1, 2 or 3
    (the third given the refined first two, as Hansen 1999 §4 and xthreg).
    reps: bootstrap draws of each F test (0 for none); vce of the regime coefficients (default cluster by unit).
    Example: threshold("fct_city_year", "lngdp", "lnde", "lnde", ["pop"], con=con, n_thresholds=2)
    """
    from analyses.reg.fit import fit_frame, gate
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    xs = [x] if isinstance(x, str) else list(x)
    if n_thresholds not in (1, 2, 3):
        raise RegError(f"n_thresholds {n_thresholds}: 1, 2 or 3")
    if not 0 < trim < 0.25:
        raise RegError(f"trim {trim}: the share of observations kept out of each end of the grid, e.g. 0.01")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where)
    except DataError as exc:
        raise RegError(str(exc)) from exc
    if panel.time is None:
        raise RegError(f"{panel.source}: no period column; name it with time= (--time)")
    cols = list(dict.fromkeys([y, *xs, q, *controls]))
    missing = [c for c in cols if c not in panel.frame.columns]
    if missing:
        raise RegError(f"{panel.source}: no column {missing[0]!r}")
    frame = panel.frame[[panel.unit, panel.time, *cols]].dropna().sort_values([panel.unit, panel.time])
    counts = frame.groupby(panel.unit).size()
    n_units, n_periods = len(counts), int(counts.max())
    if (counts != n_periods).any() or frame[panel.time].nunique() != n_periods:
        short = counts[counts != n_periods].index[:3].tolist()
        raise RegError(f"{panel.source}: the threshold model needs a balanced panel without missing values; units "
                       f"{', '.join(map(str, short))} have fewer than {n_periods} complete periods — drop them or "
                       "impute (xthreg needs the same)")
    quality = gate(con, panel, allow_failing_checks)
    qv = frame[q].to_numpy(float)
    w = _Within(frame[y].to_numpy(float), frame[xs].to_numpy(float), frame[list(controls)].to_numpy(float)
                if controls else np.empty((len(frame), 0)), qv, n_units, n_periods)
    gammas = candidate_grid(qv, trim, grid)
    n = len(frame)
    dof = n_units * (n_periods - 1)
    min_obs = max(1, math.ceil(trim * n))
    Dt = w.d_tilde(gammas)
    e0 = w.resid_b(w.y)
    s0 = float(e0 @ e0)
    valid1 = _regime_ok(qv, gammas, [], min_obs)
    s1_path = w.ssr_path(e0, Dt, valid1)
    i1 = int(np.argmin(s1_path))
    g1, s1 = float(gammas[i1]), float(s1_path[i1])
    sig1 = s1 / dof
    f1 = (s0 - s1) / sig1
    thresholds, ci, lr_frames, ssr = [g1], [], [], [s0, s1]
    lr1 = (s1_path - s1) / sig1
    rng = np.random.default_rng(seed)
    total = reps * n_thresholds
    tests = []
    # bootstrap of F1: residuals of the single-threshold model by unit; y* = e* (F1 does not depend on β under H0)
    e1 = _resid_fixed(e0, Dt[:, i1, :])
    f1_star = _boot_single(w, Dt, valid1, e1, rng, reps, dof, progress, 0, total)
    tests.append(_test_row("single threshold (H0: linear)", f1, f1_star))
    if n_thresholds == 1:
        ci.append(_interval(gammas, lr1, alpha))
        lr_frames.append(pd.DataFrame({"gamma": gammas, "LR": lr1}))
    else:
        # second threshold given γ1 (F2 and the LR of γ2 use this stage), then Hansen's refinement of γ1 given γ2
        g2_idx, s2_path = _next(w, Dt, e0, gammas, qv, [i1], min_obs)
        r1_idx, s2r_path = _next(w, Dt, e0, gammas, qv, [g2_idx], min_obs)
        s2 = float(s2_path[g2_idx])
        sig2 = s2 / dof
        f2 = (s1 - s2) / sig2
        lr_g2 = (s2_path - s2) / sig2
        lr_g1 = (s2r_path - float(s2r_path[r1_idx])) / sig2
        lo, hi = sorted([r1_idx, g2_idx])
        thresholds = [float(gammas[lo]), float(gammas[hi])]
        first, second = (lr_g1, lr_g2) if r1_idx < g2_idx else (lr_g2, lr_g1)
        ci += [_interval(gammas, first, alpha), _interval(gammas, second, alpha)]
        lr_frames += [pd.DataFrame({"gamma": gammas, "LR": first}), pd.DataFrame({"gamma": gammas, "LR": second})]
        ssr.append(s2)
        e2 = _resid_fixed(e0, np.hstack([Dt[:, i1, :], Dt[:, g2_idx, :]]))
        fitted1 = e0 - e1  # M_B-projected fit of the single-threshold model: y* = fitted1 + M_B e* under H0
        f2_star = _boot_seq(2, w, Dt, gammas, qv, valid1, fitted1, e2, rng, reps, dof, min_obs, progress, reps,
                            total)
        tests.append(_test_row("double threshold (H0: single)", f2, f2_star))
        draws = [f1_star, f2_star]
    if n_thresholds == 3:
        fixed2 = np.hstack([Dt[:, r1_idx, :], Dt[:, g2_idx, :]])
        s2r = float(s2r_path[r1_idx])
        g3_idx, s3_path = _next(w, Dt, e0, gammas, qv, [r1_idx, g2_idx], min_obs)
        s3 = float(s3_path[g3_idx])
        sig3 = s3 / dof
        f3 = (s2r - s3) / sig3
        order = sorted([(r1_idx, lr_g1), (g2_idx, lr_g2), (g3_idx, (s3_path - s3) / sig3)], key=lambda t: t[0])
        thresholds = [float(gammas[i]) for i, _ in order]
        ci = [_interval(gammas, lr, alpha) for _, lr in order]
        lr_frames = [pd.DataFrame({"gamma": gammas, "LR": lr}) for _, lr in order]
        ssr.append(s3)
        e3 = _resid_fixed(e0, np.hstack([fixed2, Dt[:, g3_idx, :]]))
        fitted2 = e0 - _resid_fixed(e0, fixed2)
        f3_star = _boot_seq(3, w, Dt, gammas, qv, valid1, fitted2, e3, rng, reps, dof, min_obs, progress, 2 * reps,
                            total)
        tests.append(_test_row("triple threshold (H0: double)", f3, f3_star))
        draws.append(f3_star)
    coef = _regime_fit(frame, y, xs, q, list(controls), thresholds, panel.unit, vce or f"cluster:{panel.unit}",
                       fit_frame)
    return ThresholdResult(thresholds=thresholds, ci=ci, tests=pd.DataFrame(tests), coefficients=coef.table,
                           lr=lr_frames, ssr=ssr, nobs=n, n_units=n_units, n_periods=n_periods, y=y, x=xs, q=q,
                           controls=list(controls), vce=vce or f"cluster:{panel.unit}", seed=seed,
                           source=panel.source, quality=quality, fingerprint=coef.fingerprint, unit=panel.unit,
                           time=panel.time, model=coef, draws=[f1_star] if n_thresholds == 1 else draws)


def _regime_ok(q: np.ndarray, gammas: np.ndarray, fixed: list[float], min_obs: int) -> np.ndarray:
    """Candidates whose regimes (with the fixed thresholds) each hold at least min_obs observations."""
    ok = np.ones(len(gammas), dtype=bool)
    for i, g in enumerate(gammas):
        cuts = np.sort(np.array([*fixed, g]))
        if len(np.unique(cuts)) < len(cuts):
            ok[i] = False
            continue
        sizes = np.diff(np.concatenate([[0], np.searchsorted(np.sort(q), cuts, side="right"), [len(q)]]))
        ok[i] = (sizes >= min_obs).all()
    return ok


def _resid_fixed(e: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    return _Within.partial(e, fixed)


def _next(w: _Within, Dt: np.ndarray, e0: np.ndarray, gammas: np.ndarray, qv: np.ndarray, fixed_idx: list[int],
          min_obs: int) -> tuple[int, np.ndarray]:
    """Index of the best threshold given the thresholds `fixed_idx`, and S over the grid."""
    fixed = np.hstack([Dt[:, i, :] for i in fixed_idx])
    valid = _regime_ok(qv, gammas, [float(gammas[i]) for i in fixed_idx], min_obs)
    path = w.ssr_path(_Within.partial(e0, fixed), _Within.partial(Dt, fixed), valid)
    return int(np.argmin(path)), path


def _draw(e: np.ndarray, w: _Within, rng: np.random.Generator, reps: int) -> np.ndarray:
    """reps bootstrap residual vectors (n × reps): each unit gets the residuals of a unit drawn with replacement."""
    by_unit = e.reshape(w.N, w.T)
    picks = rng.integers(0, w.N, size=(reps, w.N))
    return by_unit[picks].reshape(reps, -1).T


def _boot_single(w, Dt, valid, e1, rng, reps, dof, progress, done, total) -> np.ndarray:
    if reps <= 0:
        return np.array([])
    out = np.empty(reps)
    chunk = 50
    for start in range(0, reps, chunk):
        r = min(chunk, reps - start)
        estar = w.resid_b(_draw(e1, w, rng, r))
        s0 = (estar * estar).sum(0)
        s1 = w.ssr_path(estar, Dt, valid).min(axis=0)
        out[start:start + r] = (s0 - s1) / (s1 / dof)
        if progress:
            progress(done + start + r, total)
    return out


def _boot_seq(k, w, Dt, gammas, qv, valid1, fitted, e_k, rng, reps, dof, min_obs, progress, done, total):
    """F* of the k-th threshold: y* = fitted (k − 1 thresholds) + M_B e*, thresholds searched one after the other."""
    if reps <= 0:
        return np.array([])
    out = np.empty(reps)
    for b in range(reps):
        ystar = fitted + w.resid_b(_draw(e_k, w, rng, 1)[:, 0])
        path = w.ssr_path(ystar, Dt, valid1)
        idx = [int(np.argmin(path))]
        s_prev = s_k = float(path[idx[0]])
        for _ in range(2, k + 1):
            nxt, path = _next(w, Dt, ystar, gammas, qv, idx, min_obs)
            s_prev, s_k = s_k, float(path[nxt])
            idx.append(nxt)
        out[b] = (s_prev - s_k) / (s_k / dof)
        if progress and (b + 1) % 10 == 0:
            progress(done + b + 1, total)
    return out


def _test_row(name: str, f: float, f_star: np.ndarray) -> dict:
    if len(f_star) == 0:
        return {"test": name, "F": f, "p_value": math.nan, "crit10": math.nan, "crit5": math.nan, "crit1": math.nan,
                "reps": 0}
    c10, c5, c1 = np.quantile(f_star, [0.9, 0.95, 0.99])
    return {"test": name, "F": f, "p_value": float(np.mean(f_star >= f)), "crit10": float(c10), "crit5": float(c5),
            "crit1": float(c1), "reps": len(f_star)}


def _interval(gammas: np.ndarray, lr: np.ndarray, alpha: float) -> tuple[float, float]:
    inside = gammas[lr <= lr_critical(alpha)]
    return (float(inside.min()), float(inside.max())) if len(inside) else (math.nan, math.nan)


def _regime_fit(frame, y, xs, q, controls, thresholds, unit, vce, fit_frame):
    """pyfixest unit-FE fit with x split into the regimes the thresholds define."""
    cuts = [-np.inf, *thresholds, np.inf]
    data = frame.copy()
    terms = []
    for x in xs:
        for k in range(len(cuts) - 1):
            name = f"{x}_r{k + 1}"
            data[name] = data[x] * ((data[q] > cuts[k]) & (data[q] <= cuts[k + 1]))
            terms.append(name)
    formula = f"{y} ~ {' + '.join([*terms, *controls])} | {unit}"
    return fit_frame(data, formula, formula, vce)
