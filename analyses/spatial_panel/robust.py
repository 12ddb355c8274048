"""Heteroskedasticity- and cluster-robust (sandwich) variances of the ML spatial panel estimators.

V = H^{-1} B H^{-1} (Huber 1967; White 1982), H minus the observed Hessian of log L (central differences, or
the analytic information where it is the observed one: OLS/SLX), B = Σ_r g_r g_r' over the NT rows
(`robust`) or Σ_i G_i G_i' over units of the unit sums G_i = Σ_t g_it (`cluster`, by unit).

g_r are the analytic scores of the per-row log-likelihood of the data as estimated (demeaned for fixed
effects, quasi-demeaned for random effects):
    ℓ_r = −(n/NT)/2·log(2πσ²) + C(θ)/NT − e_r²/(2σ²),
where C(θ) collects the terms that do not belong to one observation — a·[log|I − ρW| − s·log(1 − ρ)]
(estimate.Convention) and, for random effects, N/2·log φ — split evenly across the NT rows, the convention
of observation-level ML evaluators such as xsmle's (Belotti, Hughes & Piano Mortari 2017, Stata Journal 17).
The scores sum to the gradient of log L, so they sum to zero at the optimum; how C is split changes B only.
Small-sample factors as Stata's `ml` applies them (Stata [P] _robust): n/(n − 1) with n = NT rows for
`robust`, G/(G − 1) with G = N units for `cluster`.

Under heteroskedasticity the ML estimator of ρ or λ itself is generally inconsistent (Lin & Lee 2010,
J. Econometrics 157: 34–52): the sandwich protects the standard errors against a misspecified error
distribution (non-normality, within-unit correlation of the scores), not the estimates against that bias.
Not available for random-effects SEM/SDEM, whose likelihood does not split into rows.
"""

from __future__ import annotations

import numpy as np

from analyses.spatial_panel.estimate import Convention, MLFit
from analyses.spatial_panel.spectrum import Spectrum

VCE = ("oim", "robust", "cluster")


def row_scores(e: np.ndarray, de: np.ndarray, dconst: np.ndarray, n_eff: float, s2: float) -> np.ndarray:
    """(NT, p) scores of ℓ_r (module docstring) with respect to (θ..., σ²); de = ∂e/∂θ (NT, p − 1),
    dconst = ∂C/∂θ (p − 1,)."""
    nt = len(e)
    g = dconst[None, :] / nt - e[:, None] * de / s2
    return np.column_stack([g, -n_eff / (2 * nt * s2) + e**2 / (2 * s2**2)])


def _dlogjac(spec: Spectrum, conv: Convention, r: float) -> float:
    """d/dr of a·[log|I − rW| − s·log(1 − r)] = −a·[tr(W(I − rW)^{-1}) − s/(1 − r)]."""
    return -conv.a * (float(spec.tr_aw(r)) - conv.s / (1.0 - r))


def lag_scores(fit: MLFit, wy: np.ndarray, x: np.ndarray, spec: Spectrum, conv: Convention) -> np.ndarray:
    """SAR / SDM, e = y − ρWy − Xβ: scores in (β, ρ, σ²)."""
    dconst = np.r_[np.zeros(x.shape[1]), _dlogjac(spec, conv, fit.spatial)]
    return row_scores(fit.resid, np.column_stack([-x, -wy]), dconst, conv.n, fit.sigma2)


def error_scores(fit: MLFit, y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray, spec: Spectrum,
                 conv: Convention) -> np.ndarray:
    """SEM / SDEM, e = (y − λWy) − (X − λWX)β: scores in (β, λ, σ²)."""
    lam = fit.spatial
    de = np.column_stack([-(x - lam * wx), -(wy - wx @ fit.beta)])
    dconst = np.r_[np.zeros(x.shape[1]), _dlogjac(spec, conv, lam)]
    return row_scores(fit.resid, de, dconst, conv.n, fit.sigma2)


def sac_scores(fit: MLFit, lam: float, wy: np.ndarray, wwy: np.ndarray, x: np.ndarray, wx: np.ndarray,
               spec: Spectrum, conv: Convention) -> np.ndarray:
    """SAC, e = (y − λWy) − ρ(Wy − λWWy) − (X − λWX)β: scores in (β, ρ, λ, σ²)."""
    r = fit.spatial
    de = np.column_stack([-(x - lam * wx), -(wy - lam * wwy), -(wy - r * wwy - wx @ fit.beta)])
    dconst = np.r_[np.zeros(x.shape[1]), _dlogjac(spec, conv, r), _dlogjac(spec, conv, lam)]
    return row_scores(fit.resid, de, dconst, conv.n, fit.sigma2)


def ols_scores(fit: MLFit, x: np.ndarray, conv: Convention) -> np.ndarray:
    """OLS / SLX: scores in (β, σ²)."""
    return row_scores(fit.resid, -x, np.zeros(x.shape[1]), conv.n, fit.sigma2)


def random_lag_scores(fit: MLFit, phi: float, y: np.ndarray, wy: np.ndarray, x: np.ndarray, spec: Spectrum,
                      spatial: bool) -> np.ndarray:
    """Random-effects SAR / SDM / SLX (estimate.fit_lag_random): e* = z − (1 − √φ)z̄ applied to y − ρWy − Xβ,
    C = N/2·log φ + T·log|I − ρW|; scores in (β, [ρ], φ, σ²). Arrays (T, N) and (T, N, k)."""
    t, n = y.shape
    r = fit.spatial if spatial else 0.0
    shrink = 1.0 - np.sqrt(phi)
    xs = (x - shrink * x.mean(axis=0, keepdims=True)).reshape(n * t, -1)
    wys = (wy - shrink * wy.mean(axis=0, keepdims=True)).ravel()
    raw = y - r * wy - x @ fit.beta
    de_phi = np.broadcast_to(raw.mean(axis=0) / (2 * np.sqrt(phi)), (t, n)).ravel()  # ∂e*/∂φ
    cols = [-xs] + ([-wys[:, None]] if spatial else []) + [de_phi[:, None]]
    dconst = np.r_[np.zeros(x.shape[2]), [-t * float(spec.tr_aw(r))] if spatial else [], n / (2 * phi)]
    return row_scores(fit.resid, np.column_stack(cols), dconst, n * t, fit.sigma2)


def sandwich(scores: np.ndarray, hessian_inv: np.ndarray, n_units: int, vce: str) -> np.ndarray:
    """H^{-1} B H^{-1} with the small-sample factor (module docstring); rows of `scores` are time-major
    (row = t·N + i), so row r belongs to unit r mod N."""
    if vce == "robust":
        m = len(scores)
        meat = scores.T @ scores * m / (m - 1)
    elif vce == "cluster":
        sums = scores.reshape(-1, n_units, scores.shape[1]).sum(axis=0)  # (N, p): Σ_t g_it
        meat = sums.T @ sums * n_units / (n_units - 1)
    else:
        raise ValueError(f"vce {vce!r}: use one of {', '.join(VCE)}")
    return hessian_inv @ meat @ hessian_inv
