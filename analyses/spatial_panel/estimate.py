"""Concentrated maximum likelihood for the spatial lag (SAR, SDM), spatial error (SEM, SDEM) and OLS (SLX) panels.

Likelihood (Elhorst 2014 eq. 3.4 and 3.9, on demeaned data):
    log L = −n/2·log(2πσ²) + a·[log|I − ρW| − s·log(1 − ρ)] − e'e/(2σ²)
Direct approach (Elhorst; spreg; xsmle without `leeyu`): a = T, n = NT, s = 0.
Lee & Yu (2010) transformation approach (orthonormal deviations over time and/or units):
    individual  a = T − 1, n = N(T − 1), s = 0    (β, ρ as direct; σ² = T/(T − 1)·σ²_direct)
    time        a = T,     n = (N − 1)T,  s = 1
    twoways     a = T − 1, n = (N − 1)(T − 1), s = 1
The unit transformation needs a row-standardised W (its constant vector is an eigenvector).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.sparse.linalg import splu

from analyses.spatial_panel.panel import SpatialPanelError, lstsq
from analyses.spatial_panel.spectrum import Spectrum

BOUNDARY_TOL = 1e-4


@dataclass(frozen=True)
class Convention:
    """How many periods a log-determinant counts (a), the effective sample (n) and the 1 − ρ term (s)."""

    a: float
    n: float
    s: int
    name: str


def convention(effects: str, lee_yu: bool, n: int, t: int, row_standardised: bool) -> Convention:
    """The likelihood constants of an effects specification (see the module docstring)."""
    if not lee_yu:
        return Convention(t, n * t, 0, "direct (Elhorst 2014; xsmle without leeyu; spreg)")
    if effects == "pooled":
        raise SpatialPanelError("--lee-yu corrects fixed-effects estimators; choose individual, time or twoways")
    if effects in ("time", "twoways") and not row_standardised:
        raise SpatialPanelError("the Lee–Yu correction with time effects needs a row-standardised W; "
                                "row-standardise W or drop --lee-yu")
    return {
        "individual": Convention(t - 1, n * (t - 1), 0, "Lee–Yu 2010 transformation, individual"),
        "time": Convention(t, (n - 1) * t, 1, "Lee–Yu 2010 transformation, time"),
        "twoways": Convention(t - 1, (n - 1) * (t - 1), 1, "Lee–Yu 2010 transformation, two-way"),
    }[effects]


@dataclass
class MLFit:
    """Estimates of one model: β (k), spatial parameter (or None), σ², log L, residuals and covariance."""

    beta: np.ndarray
    spatial: float | None
    sigma2: float
    loglik: float
    resid: np.ndarray
    fitted: np.ndarray
    vcov: np.ndarray  # order: β..., spatial parameter (if any), σ²


def _inverse(info: np.ndarray) -> np.ndarray:
    """Inverse information matrix; NaN when singular, so the caller falls back to the numerical Hessian."""
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.full_like(info, np.nan)


def _jac(spec: Spectrum, conv: Convention, r: float) -> float:
    """a·[log|I − rW| − s·log(1 − r)]."""
    return conv.a * (spec.logdet(r) - (conv.s * np.log1p(-r) if conv.s else 0.0))


def _optimise(f, spec: Spectrum, name: str, maxiter: int) -> float:
    lo, hi = spec.bounds
    eps = 1e-7 * (hi - lo)
    res = minimize_scalar(f, bounds=(lo + eps, hi - eps), method="bounded",
                          options={"xatol": 1e-10, "maxiter": maxiter})
    if not res.success:
        raise SpatialPanelError(f"the likelihood maximisation over {name} did not converge in {maxiter} "
                                f"iterations ({res.message}); check the data scale or raise maxiter")
    if min(res.x - lo, hi - res.x) < BOUNDARY_TOL * (hi - lo):
        raise SpatialPanelError(
            f"{name} = {res.x:.6f} is at the boundary of its parameter space ({lo:.4f}, {hi:.4f}); the model "
            "is not identified as specified: check W (islands, normalisation) and the fixed effects")
    return float(res.x)


def fit_ols(y: np.ndarray, x: np.ndarray, conv: Convention) -> MLFit:
    """OLS / SLX by ML (σ² = e'e/n), variance from the information matrix."""
    beta = lstsq(x, y)
    e = y - x @ beta
    s2 = float(e @ e) / conv.n
    ll = -conv.n / 2 * (np.log(2 * np.pi * s2) + 1)
    info = np.zeros((len(beta) + 1,) * 2)
    info[:-1, :-1] = x.T @ x / s2
    info[-1, -1] = conv.n / (2 * s2**2)
    return MLFit(beta, None, s2, float(ll), e, x @ beta, _inverse(info))


def fit_lag(y: np.ndarray, wy: np.ndarray, x: np.ndarray, spec: Spectrum, conv: Convention,
            maxiter: int = 500, variance: bool = True) -> MLFit:
    """SAR / SDM: concentrate β and σ² out, maximise over ρ (Elhorst 2014 §3.3.1; Anselin 1988).
    variance=False (an LR test's restricted fit) skips the information matrix (vcov NaN)."""
    coef = lstsq(x, np.column_stack([y, wy]))  # one factorisation, two right-hand sides
    b0, b1 = coef[:, 0], coef[:, 1]
    e0, e1 = y - x @ b0, wy - x @ b1
    q00, q01, q11 = e0 @ e0, e0 @ e1, e1 @ e1

    def negll(r: float) -> float:
        return -(_jac(spec, conv, r) - conv.n / 2 * np.log((q00 - 2 * r * q01 + r * r * q11) / conv.n))

    rho = _optimise(negll, spec, "rho", maxiter)
    beta = b0 - rho * b1
    e = e0 - rho * e1
    s2 = float(e @ e) / conv.n
    ll = -conv.n / 2 * (np.log(2 * np.pi * s2) + 1) + _jac(spec, conv, rho)
    vcov = lag_vcov(x, beta, rho, s2, spec, conv) if variance else np.full((len(beta) + 2,) * 2, np.nan)
    return MLFit(beta, rho, s2, float(ll), e, y - e, vcov)


def fit_error(y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray, spec: Spectrum, conv: Convention,
              maxiter: int = 500, variance: bool = True) -> MLFit:
    """SEM / SDEM: for each λ, β is GLS on (y − λWy, X − λWX); maximise the concentrated log L over λ.
    variance=False (an LR test's restricted fit) skips the information matrix (vcov NaN)."""
    z = np.column_stack([y, x])
    wz = np.column_stack([wy, wx])
    m00, m01, m11 = z.T @ z, z.T @ wz, wz.T @ wz

    def moments(lam: float) -> tuple[np.ndarray, float, np.ndarray]:
        m = m00 - lam * (m01 + m01.T) + lam * lam * m11
        xx, xy, yy = m[1:, 1:], m[1:, 0], m[0, 0]
        beta = np.linalg.solve(xx, xy)
        return beta, float(yy - xy @ beta), xx

    def negll(lam: float) -> float:
        return -(_jac(spec, conv, lam) - conv.n / 2 * np.log(moments(lam)[1] / conv.n))

    lam = _optimise(negll, spec, "lambda", maxiter)
    beta, ee, xx = moments(lam)
    s2 = ee / conv.n
    e = (y - lam * wy) - (x - lam * wx) @ beta
    ll = -conv.n / 2 * (np.log(2 * np.pi * s2) + 1) + _jac(spec, conv, lam)
    k = len(beta)
    if not variance:
        return MLFit(beta, lam, s2, float(ll), e, x @ beta, np.full((k + 2, k + 2), np.nan))
    tr1, tr2, trtt = _traces(spec, conv, lam)
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = xx / s2
    info[k, k] = conv.a * (tr2 + trtt)
    info[k, k + 1] = info[k + 1, k] = conv.a * tr1 / s2
    info[k + 1, k + 1] = conv.n / (2 * s2**2)
    # fitted: the systematic part Xβ (the spatially correlated error is not predicted)
    return MLFit(beta, lam, s2, float(ll), e, x @ beta, _inverse(info))


def _traces(spec: Spectrum, conv: Convention, r: float) -> tuple[float, float, float]:
    """tr(W̃), tr(W̃²), tr(W̃'W̃) with W̃ = W(I − rW)^{-1}; for the Lee–Yu unit transformation, of F'W̃F."""
    tr1, tr2 = float(spec.tr_aw(r)), float(spec.tr_aw2(r))
    trtt = spec.tr_wtw(r)
    if conv.s:
        # F'W̃F with F ⟂ 1 and W̃1 = 1/(1 − r): traces lose the eigenvalue 1/(1 − r) and ‖W̃'1‖²/N
        c = 1.0 / (1.0 - r)
        wt1 = spec.resolvent_solve(r, spec.w.T @ np.ones(spec.n), transpose=True)
        tr1, tr2, trtt = tr1 - c, tr2 - c * c, trtt - float(wt1 @ wt1) / spec.n
    return tr1, tr2, trtt


def lag_vcov(x: np.ndarray, beta: np.ndarray, rho: float, s2: float, spec: Spectrum, conv: Convention) -> np.ndarray:
    """Inverse information matrix of (β, ρ, σ²) for the lag model (Elhorst 2014 eq. 3.5; Lee & Yu 2010)."""
    n, t = spec.n, x.shape[0] // spec.n
    xb = (x @ beta).reshape(t, n)
    wxb = (spec.w @ spec.resolvent_solve(rho, xb.T)).T  # W̃Xβ period by period
    if conv.s:
        wxb = wxb - wxb.mean(axis=1, keepdims=True)
    wxb = wxb.ravel()
    tr1, tr2, trtt = _traces(spec, conv, rho)
    k = len(beta)
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = x.T @ x / s2
    info[:k, k] = info[k, :k] = x.T @ wxb / s2
    info[k, k] = conv.a * (tr2 + trtt) + wxb @ wxb / s2
    info[k, k + 1] = info[k + 1, k] = conv.a * tr1 / s2
    info[k + 1, k + 1] = conv.n / (2 * s2**2)
    return _inverse(info)


def loglik_full(params: np.ndarray, y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray | None,
                spec: Spectrum, conv: Convention) -> float:
    """Unconcentrated log L at (β, spatial, σ²): lag model if wx is None, error model otherwise."""
    k = x.shape[1]
    beta, r, s2 = params[:k], params[k], params[k + 1]
    e = y - r * wy - x @ beta if wx is None else (y - r * wy) - (x - r * wx) @ beta
    return -conv.n / 2 * np.log(2 * np.pi * s2) + _jac(spec, conv, r) - float(e @ e) / (2 * s2)


def numerical_vcov(fun, params: np.ndarray) -> np.ndarray:
    """Inverse of minus the central-difference Hessian of log L (fallback to the analytic information)."""
    p = len(params)
    h = 1e-4 * np.maximum(np.abs(params), 1e-2)
    hess = np.zeros((p, p))
    for i in range(p):
        for j in range(i, p):
            def f(di: float, dj: float, i: int = i, j: int = j) -> float:
                q = params.copy()
                q[i] += di
                q[j] += dj
                return fun(q)
            hess[i, j] = hess[j, i] = (f(h[i], h[j]) - f(h[i], -h[j]) - f(-h[i], h[j]) + f(-h[i], -h[j])) / (
                4 * h[i] * h[j])
    return np.linalg.inv(-hess)


def fit_sac(y: np.ndarray, wy: np.ndarray, wwy: np.ndarray, x: np.ndarray, wx: np.ndarray, spec: Spectrum,
            conv: Convention, maxiter: int = 500) -> tuple[MLFit, float]:
    """SAC: y = ρWy + Xβ + u, u = λWu + ε (LeSage & Pace 2009 §2.3; Elhorst 2014 §2.2), both parameters by
    maximising the log-likelihood concentrated in β and σ² over (ρ, λ); variance from the numerical Hessian."""
    from scipy.optimize import minimize

    z = np.column_stack([y, wy, x])
    wz = np.column_stack([wy, wwy, wx])
    m00, m01, m11 = z.T @ z, z.T @ wz, wz.T @ wz

    def concentrated(r: float, lam: float) -> tuple[float, np.ndarray]:
        m = m00 - lam * (m01 + m01.T) + lam * lam * m11  # moments of (I − λW)[y, Wy, X]
        c = np.array([1.0, -r])
        xx, xy = m[2:, 2:], m[2:, :2] @ c
        beta = np.linalg.solve(xx, xy)
        return float(c @ m[:2, :2] @ c - xy @ beta), beta

    def negll(p: np.ndarray) -> float:
        r, lam = p
        return -(_jac(spec, conv, r) + _jac(spec, conv, lam) - conv.n / 2 * np.log(concentrated(r, lam)[0] / conv.n))

    lo, hi = spec.bounds
    eps = 1e-6 * (hi - lo)
    grid = np.linspace(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), 7)
    start = min(((a, b) for a in grid for b in grid), key=lambda p: negll(np.array(p)))
    res = minimize(negll, np.array(start), method="L-BFGS-B", bounds=[(lo + eps, hi - eps)] * 2,
                   options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-9})
    if not res.success:
        raise SpatialPanelError(f"the SAC likelihood maximisation did not converge ({res.message}); check the data "
                                "scale or try a simpler model (SAR, SEM)")
    r, lam = (float(v) for v in res.x)
    for name, v in (("rho", r), ("lambda", lam)):
        if min(v - lo, hi - v) < BOUNDARY_TOL * (hi - lo):
            raise SpatialPanelError(f"{name} = {v:.6f} is at the boundary of its parameter space ({lo:.4f}, "
                                    f"{hi:.4f}); the SAC model is not identified here: fit SAR or SEM instead")
    ee, beta = concentrated(r, lam)
    s2 = ee / conv.n
    e = (y - lam * wy) - r * (wy - lam * wwy) - (x - lam * wx) @ beta
    ll = -conv.n / 2 * (np.log(2 * np.pi * s2) + 1) + _jac(spec, conv, r) + _jac(spec, conv, lam)

    def full(p: np.ndarray) -> float:
        k = len(beta)
        b, rr, ll_, ss = p[:k], p[k], p[k + 1], p[k + 2]
        err = (y - ll_ * wy) - rr * (wy - ll_ * wwy) - (x - ll_ * wx) @ b
        return -conv.n / 2 * np.log(2 * np.pi * ss) + _jac(spec, conv, rr) + _jac(spec, conv, ll_) - err @ err / (
            2 * ss)

    vcov = numerical_vcov(full, np.concatenate([beta, [r, lam, s2]]))
    return MLFit(beta, r, s2, float(ll), e, y - e, vcov), lam


def fit_lag_random(y: np.ndarray, wy: np.ndarray, x: np.ndarray, spec: Spectrum, spatial: bool,
                   maxiter: int = 500) -> tuple[MLFit, float]:
    """Random unit effects (Elhorst 2014 §3.4; Elhorst 2003), lag models and SLX/OLS (spatial=False).

    With φ = σ²/(Tσ_μ² + σ²), the quasi-demeaned data z − (1 − √φ)z̄_i make the errors iid, and
        log L = −NT/2·log(2πσ²) + N/2·log φ + T·log|I − ρW| − e'e/(2σ²).
    β and σ² are concentrated out; (ρ, φ) are found jointly; variance from the numerical Hessian.
    Arrays are (T, N) for y and Wy, (T, N, k) for X (with an intercept column). Returns (fit, φ).
    """
    from scipy.optimize import minimize

    t, n = y.shape
    nt = n * t

    def transform(a: np.ndarray, phi: float) -> np.ndarray:
        return (a - (1.0 - np.sqrt(phi)) * a.mean(axis=0, keepdims=True)).reshape(nt, -1)

    def resid(r: float, phi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ys, xs = transform(y, phi).ravel() - r * transform(wy, phi).ravel(), transform(x, phi)
        beta, *_ = np.linalg.lstsq(xs, ys, rcond=None)
        return ys - xs @ beta, beta, xs

    def negll(p: np.ndarray) -> float:
        r, phi = (p[0], p[1]) if spatial else (0.0, p[0])
        e = resid(r, phi)[0]
        return -(n / 2 * np.log(phi) + (t * spec.logdet(r) if spatial else 0.0) - nt / 2 * np.log(e @ e / nt))

    lo, hi = spec.bounds
    eps = 1e-6 * (hi - lo)
    bounds = ([(lo + eps, hi - eps)] if spatial else []) + [(1e-8, 1.0)]
    start = ([0.0] if spatial else []) + [0.5]
    res = minimize(negll, np.array(start), method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-9})
    if not res.success:
        raise SpatialPanelError(f"the random-effects likelihood maximisation did not converge ({res.message}); "
                                "check the data scale or use fixed effects")
    r, phi = (float(res.x[0]), float(res.x[1])) if spatial else (0.0, float(res.x[0]))
    if spatial and min(r - lo, hi - r) < BOUNDARY_TOL * (hi - lo):
        raise SpatialPanelError(f"rho = {r:.6f} is at the boundary of its parameter space ({lo:.4f}, {hi:.4f})")
    e, beta, xs = resid(r, phi)
    s2 = float(e @ e) / nt
    ll = -nt / 2 * (np.log(2 * np.pi * s2) + 1) + n / 2 * np.log(phi) + (t * spec.logdet(r) if spatial else 0.0)
    k = len(beta)

    def full(p: np.ndarray) -> float:
        rr = p[k] if spatial else 0.0
        ph, ss = p[-2], p[-1]
        err = transform(y, ph).ravel() - rr * transform(wy, ph).ravel() - transform(x, ph) @ p[:k]
        return (-nt / 2 * np.log(2 * np.pi * ss) + n / 2 * np.log(ph) + (t * spec.logdet(rr) if spatial else 0.0)
                - err @ err / (2 * ss))

    point = np.concatenate([beta, [r] if spatial else [], [phi, s2]])
    vcov = numerical_vcov(full, point)
    fitted = transform(y, phi).ravel() - e
    return MLFit(beta, r if spatial else None, s2, float(ll), e, fitted, vcov), phi


def _error_random_moments(y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray, spec: Spectrum,
                          lam: float, phi: float) -> tuple[np.ndarray, float]:
    """σ²Ω^{-1} moments of z = [y, X] and log|I + ψBB'| for the random-effects SEM (see `fit_error_random`)."""
    t, n = y.shape
    z = np.concatenate([y[:, :, None], x], axis=2)
    wz = np.concatenate([wy[:, :, None], wx], axis=2)
    zbar, wzbar = z.mean(axis=0), wz.mean(axis=0)  # (N, 1 + k) unit means
    bw = ((z - zbar) - lam * (wz - wzbar)).reshape(n * t, -1)  # B(z_t − z̄), period by period
    bb = zbar - lam * wzbar  # B z̄
    b = sp.identity(n, format="csr") - lam * spec.w
    psi = (1.0 - phi) / phi  # Tσ_μ²/σ²
    lu = splu(sp.csc_matrix(sp.identity(n) + psi * (b @ b.T)), permc_spec="COLAMD")
    moments = bw.T @ bw + t * bb.T @ lu.solve(bb)
    return moments, float(np.sum(np.log(np.abs(lu.U.diagonal()))))


def loglik_error_random(params: np.ndarray, y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray,
                        spec: Spectrum) -> float:
    """Unconcentrated log L of the random-effects SEM at (β, λ, φ, σ²); arrays as in `fit_error_random`."""
    k = x.shape[2]
    beta, lam, phi, s2 = params[:k], params[k], params[k + 1], params[k + 2]
    t, n = y.shape
    m, logdet_k = _error_random_moments(y, wy, x, wx, spec, lam, phi)
    c = np.concatenate([[1.0], -beta])
    return float(-n * t / 2 * np.log(2 * np.pi * s2) + t * spec.logdet(lam) - logdet_k / 2 - c @ m @ c / (2 * s2))


def fit_error_random(y: np.ndarray, wy: np.ndarray, x: np.ndarray, wx: np.ndarray, spec: Spectrum,
                     maxiter: int = 500) -> tuple[MLFit, float]:
    """Random unit effects with a spatially autocorrelated error (SEM; SDEM when X holds WX):
    y_t = X_tβ + μ + u_t, u_t = λWu_t + ε_t, μ ~ N(0, σ_μ²I), ε_t ~ N(0, σ²I) (Baltagi, Song & Koh 2003;
    Elhorst 2003, 2014 §3.4; xsmle `sem, re`): μ is not spatially filtered.

    With B = I − λW, ψ = Tσ_μ²/σ² = 1/φ − 1 and φ = σ²/(Tσ_μ² + σ²) as for the lag models, the covariance
    σ²[(I_T − J̄_T) ⊗ (B'B)^{-1} + J̄_T ⊗ (ψI + (B'B)^{-1})] splits into a within and a between part, so
        log L = −NT/2·log(2πσ²) + T·log|B| − ½·log|I + ψBB'|
                − [Σ_t ‖B(v_t − v̄)‖² + T·(Bv̄)'(I + ψBB')^{-1}(Bv̄)]/(2σ²),  v = y − Xβ, v̄ the unit means
    (Elhorst 2003 eq. 27 writes log|I + ψB'B| through W's eigenvalues, which needs a symmetric W; here the
    N×N sparse matrix I + ψBB' is factorised by sparse LU at each evaluation, so any W works). β (GLS) and
    σ² are concentrated out; (λ, φ) are found jointly; variance from the numerical Hessian.
    Arrays are (T, N) for y and Wy, (T, N, k) for X and WX (with an intercept column). Returns (fit, φ);
    the residuals are the composite errors y − Xβ (not iid), the fitted values Xβ.
    """
    from scipy.optimize import minimize

    t, n = y.shape

    def concentrated(lam: float, phi: float) -> tuple[float, np.ndarray, float]:
        m, logdet_k = _error_random_moments(y, wy, x, wx, spec, lam, phi)
        beta = np.linalg.solve(m[1:, 1:], m[1:, 0])
        return float(m[0, 0] - m[1:, 0] @ beta), beta, logdet_k

    def negll(p: np.ndarray) -> float:
        ee, _, logdet_k = concentrated(p[0], p[1])
        return -(t * spec.logdet(p[0]) - logdet_k / 2 - n * t / 2 * np.log(ee / (n * t)))

    lo, hi = spec.bounds
    eps = 1e-6 * (hi - lo)
    res = minimize(negll, np.array([0.0, 0.5]), method="L-BFGS-B", bounds=[(lo + eps, hi - eps), (1e-8, 1.0)],
                   options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-9})
    if not res.success:
        raise SpatialPanelError(f"the random-effects likelihood maximisation did not converge ({res.message}); "
                                "check the data scale or use fixed effects")
    lam, phi = float(res.x[0]), float(res.x[1])
    if min(lam - lo, hi - lam) < BOUNDARY_TOL * (hi - lo):
        raise SpatialPanelError(f"lambda = {lam:.6f} is at the boundary of its parameter space ({lo:.4f}, {hi:.4f})")
    ee, beta, logdet_k = concentrated(lam, phi)
    s2 = ee / (n * t)
    ll = -n * t / 2 * (np.log(2 * np.pi * s2) + 1) + t * spec.logdet(lam) - logdet_k / 2
    point = np.concatenate([beta, [lam, phi, s2]])
    vcov = numerical_vcov(lambda p: loglik_error_random(p, y, wy, x, wx, spec), point)
    fitted = (x @ beta).ravel()
    return MLFit(beta, lam, s2, float(ll), y.ravel() - fitted, fitted, vcov), phi
