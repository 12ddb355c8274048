"""LeSage–Pace (2009, ch. 2.7) direct, indirect and total effects with simulation and delta-method inference.

For regressor k: S_k = (I − ρW)^{-1}(β_k I + θ_k W); direct = tr(S_k)/N, total = 1'S_k 1/N,
indirect = total − direct. Traces come from `Spectrum` (exact eigenvalues for small N, trace moments for
large N), so no dense inverse is formed. Simulated SEs draw (β, θ, ρ) from N(estimate, V) (seeded).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analyses.spatial_panel.spectrum import Spectrum

KINDS = ("direct", "indirect", "total")


def effect_values(spec: Spectrum, rho: np.ndarray, beta: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(direct, indirect, total) for arrays of draws: shapes (m,), (m, k), (m, k) → (m, k, 3)."""
    rho = np.asarray(rho, dtype=float)
    n = spec.n
    t_a, t_aw = spec.tr_a(rho)[:, None] / n, spec.tr_aw(rho)[:, None] / n
    s_a, s_aw = spec.total_a(rho)[:, None], spec.total_aw(rho)[:, None]
    direct = beta * t_a + theta * t_aw
    total = beta * s_a + theta * s_aw
    return np.stack([direct, total - direct, total], axis=-1)


def lag_effects(spec: Spectrum, names: list[str], beta: np.ndarray, theta: np.ndarray, rho: float,
                vcov: np.ndarray, index: tuple[np.ndarray, np.ndarray, int], draws: int = 1000,
                seed: int = 12345, level: float = 0.95,
                long_run: dict[str, tuple[int, float]] | None = None) -> pd.DataFrame:
    """Effects for a lag model (SAR: θ = 0; SDM) with simulated and delta-method standard errors.

    `index` locates β_k, θ_k (−1 where not lagged) and ρ in the parameter vector that `vcov` describes.
    `long_run` (dynamic models) gives the position and value of τ and/or η ({"tau": (i, τ), "eta": (j, η)});
    the effects are then those of ((1 − τ)I − (ρ + η)W)^{-1}(β_k I + θ_k W), i.e. S_k at ρ* = (ρ + η)/(1 − τ)
    with β, θ scaled by 1/(1 − τ) (Debarsy, Ertur & LeSage 2012).
    """
    bi, ti, ri = index

    def multiplier(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th = np.where(ti >= 0, p[:, np.maximum(ti, 0)], 0.0)
        if long_run is None:
            return p[:, ri], p[:, bi], th
        tau, eta = (p[:, long_run[k][0]] if k in long_run else np.zeros(len(p)) for k in ("tau", "eta"))
        s = 1.0 / (1.0 - tau)
        return (p[:, ri] + eta) * s, p[:, bi] * s[:, None], th * s[:, None]

    def from_params(p: np.ndarray) -> np.ndarray:
        return effect_values(spec, *multiplier(p))

    centre = np.zeros(vcov.shape[0])
    centre[bi] = beta
    centre[ti[ti >= 0]] = theta[ti >= 0]
    centre[ri] = rho
    for pos, value in (long_run or {}).values():
        centre[pos] = value
    point = from_params(centre[None, :])[0]
    rng = np.random.default_rng(seed)
    sample = rng.multivariate_normal(centre, vcov, size=draws, method="cholesky")
    lo, hi = spec.bounds
    r = multiplier(sample)[0]
    keep = (r > lo) & (r < hi)
    if long_run is not None and "tau" in long_run:
        keep &= sample[:, long_run["tau"][0]] < 1.0
    sample = sample[keep]
    sims = from_params(sample)
    sd_sim = sims.std(axis=0, ddof=1)
    alpha = (1 - level) / 2
    q_lo, q_hi = np.quantile(sims, [alpha, 1 - alpha], axis=0)

    grad = _gradient(from_params, centre)  # (k, 3, p)
    sd_delta = np.sqrt(np.einsum("kep,pq,keq->ke", grad, vcov, grad))
    rows = []
    for i, name in enumerate(names):
        for e, kind in enumerate(KINDS):
            est, se = point[i, e], sd_sim[i, e]
            z = est / se if se > 0 else np.nan
            rows.append({"variable": name, "effect": kind, "estimate": est, "std_error": se,
                         "z": z, "p_value": 2 * stats.norm.sf(abs(z)), "ci_low": q_lo[i, e], "ci_high": q_hi[i, e],
                         "std_error_delta": sd_delta[i, e], "draws": len(sample)})
    return pd.DataFrame(rows)


def linear_effects(names: list[str], beta: np.ndarray, theta: np.ndarray, vcov: np.ndarray,
                   index: tuple[np.ndarray, np.ndarray], level: float = 0.95) -> pd.DataFrame:
    """SEM / SLX / SDEM: direct = β_k, indirect = θ_k, total = β_k + θ_k (exact normal inference)."""
    bi, ti = index
    zc = stats.norm.ppf(1 - (1 - level) / 2)
    rows = []
    for i, name in enumerate(names):
        b, t = bi[i], ti[i]
        grads = {"direct": {b: 1.0}, "indirect": {t: 1.0} if t >= 0 else {}, "total": {b: 1.0, **({t: 1.0}
                                                                                                    if t >= 0 else {})}}
        values = {"direct": beta[i], "indirect": theta[i], "total": beta[i] + theta[i]}
        for kind in KINDS:
            g = np.zeros(vcov.shape[0])
            for j, v in grads[kind].items():
                g[j] = v
            se = float(np.sqrt(g @ vcov @ g))
            est = values[kind]
            z = est / se if se > 0 else np.nan
            rows.append({"variable": name, "effect": kind, "estimate": est, "std_error": se, "z": z,
                         "p_value": 2 * stats.norm.sf(abs(z)) if se > 0 else np.nan,
                         "ci_low": est - zc * se, "ci_high": est + zc * se, "std_error_delta": se, "draws": 0})
    return pd.DataFrame(rows)


def _gradient(fun, centre: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of fun (params (m, p) → (m, k, 3)) at centre: (k, 3, p)."""
    p = len(centre)
    h = 1e-6 * np.maximum(np.abs(centre), 1e-2)
    plus = np.repeat(centre[None, :], p, axis=0) + np.diag(h)
    minus = np.repeat(centre[None, :], p, axis=0) - np.diag(h)
    diff = (fun(plus) - fun(minus)) / (2 * h[:, None, None])  # (p, k, 3)
    return np.moveaxis(diff, 0, -1)
