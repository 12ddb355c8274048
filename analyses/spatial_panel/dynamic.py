"""Dynamic spatial Durbin (and lag) panel with fixed effects, bias-corrected quasi-ML, short- and long-run effects.

Model (Yu, de Jong & Lee 2008; Elhorst 2014 ch. 4; xsmle's `dlag(3)`):
    y_t = τ y_{t−1} + ρ W y_t + η W y_{t−1} + X_t β + W X_t θ + μ + α_t + ε_t,   t = 1..T,
conditional on the first observed period y_0 (its X is not used), so T0 periods give T = T0 − 1 usable ones.

Estimation. The unit effects (and, for 'twoways', the period effects) are concentrated out, i.e. the T usable
periods are within-transformed (demeaned over time; also over units for 'twoways') — the direct approach of
Yu, de Jong & Lee (2008, eq. 2.4–2.5) and of Lee & Yu (2010, Econometric Theory 26, §3, direct approach) —
and the concentrated log-likelihood
    log L(ρ) = −NT/2·(log(2π σ̂²(ρ)) + 1) + T·log|I − ρW|
is the static lag model's with Z = [y_{t−1}, W y_{t−1}, X_t, W X_t] as regressors (`estimate.fit_lag`).

Bias correction. With the within transformation the QML is O(1/T)-biased (the spatial analogue of Nickell's
bias); with period effects estimated as well there is an O(1/N) bias in ρ and σ². Both are removed to first order
by θ̂_c = θ̂ + Î^{-1}·b(θ̂) (Yu, de Jong & Lee 2008, Theorem 3 and eq. 4.1; Lee & Yu 2010 ET, direct approach),
Î the information matrix and b = −E[score]:
    b_τ = tr(J L),  b_η = tr(J W L),  b_δ = 0 for X and WX,
    b_ρ = τ tr(J G L) + η tr(J G W L) + tr(J G)  [+ T·1'G1/N with period effects],
    b_σ² = tr(J)/(2σ²)                            [+ T/(2σ²) with period effects],
with S = I − ρW, G = W S^{-1}, L = Σ_h A^h S^{-1} = ((1 − τ)I − (ρ + η)W)^{-1}, A = S^{-1}(τI + ηW), and J = I
(unit effects) or I − 11'/N (two-way effects, where it makes the split between the two terms exact).

Stationarity: the dynamics y_t = A y_{t−1} + … are stable when every eigenvalue of A lies inside the unit circle,
i.e. |(τ + ηω)/(1 − ρω)| < 1 for each eigenvalue ω of W (Yu, de Jong & Lee 2008, the stable case); for real ω in
[ω_min, ω_max] these are Elhorst's (2012, J. Geogr. Syst. 14, 5–28) four inequalities
τ < 1 − (ρ + η)ω_max (ρ + η ≥ 0), τ < 1 − (ρ + η)ω_min (ρ + η < 0), τ > −1 + (ρ − η)ω_max (ρ − η ≥ 0),
τ > −1 + (ρ − η)ω_min (ρ − η < 0) — with a row-standardised W (ω_max = 1) the first is τ + ρ + η < 1.
Fits outside this region are refused: long-run effects do not exist and the correction does not apply.

Effects (Debarsy, Ertur & LeSage 2012; Elhorst 2014 ch. 4): short run (I − ρW)^{-1}(β_k I + θ_k W), long run
((1 − τ)I − (ρ + η)W)^{-1}(β_k I + θ_k W), each summarised as LeSage–Pace direct / indirect / total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import stats

from analyses.spatial_panel import diagnostics as dg
from analyses.spatial_panel.effects import lag_effects
from analyses.spatial_panel.estimate import Convention, MLFit, fit_lag, lag_vcov, loglik_full, numerical_vcov
from analyses.spatial_panel.panel import Panel, SpatialPanelError, check_rank, demean, lag
from analyses.spatial_panel.result import SpatialPanelResult
from analyses.spatial_panel.spectrum import PROBES, Spectrum

TERMS = ("tau", "eta")  # y_{t−1} and W y_{t−1}, in this order at the front of the coefficient vector


@dataclass
class DynamicFit:
    """The (corrected) fit, the uncorrected QML, the coefficient names, the design and the stability radius."""

    fit: MLFit
    uncorrected: MLFit
    names: list[str]
    y: np.ndarray
    wy: np.ndarray
    z: np.ndarray
    conv: Convention
    radius: float


def design(panel: Panel, lagged: np.ndarray, effects: str, terms: tuple[str, ...] = TERMS
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Within-transformed y, Wy and Z = [y_{t−1}, W y_{t−1}, X_t, W X_t] of periods 1..T0−1, and Z's names."""
    if panel.t < 3:
        raise SpatialPanelError(f"the dynamic model needs at least 3 periods (one is used as the initial "
                                f"condition); the panel has {panel.t}")
    periods = np.asarray(panel.periods)
    if np.issubdtype(periods.dtype, np.number) and len(np.unique(np.diff(periods))) > 1:
        raise SpatialPanelError(f"the dynamic model needs equally spaced periods (y_t−1 is the previous period); "
                                f"the panel has {', '.join(map(str, periods))}")
    y, wy_all = panel.y, lag(panel.w, panel.y)
    blocks = {"tau": y[:-1], "eta": wy_all[:-1]}
    parts = [blocks[t][:, :, None] for t in terms] + [panel.x[1:]]
    if len(lagged):
        parts.append(lag(panel.w, panel.x[1:, :, lagged]))
    z = np.concatenate(parts, axis=2)
    names = list(terms) + list(panel.x_names) + [f"W.{panel.x_names[i]}" for i in lagged]
    zd = demean(z, effects).reshape(-1, z.shape[2])
    check_rank(zd, names)
    return demean(y[1:], effects).ravel(), demean(wy_all[1:], effects).ravel(), zd, names


def stability_radius(spec: Spectrum, tau: float, rho: float, eta: float) -> float:
    """max |eigenvalue| of A = (I − ρW)^{-1}(τI + ηW): below 1 means stationary (see the module docstring).

    Exact from W's eigenvalues for the eigen method; otherwise over the real interval [ω_min, ω_max] bounding
    W's spectrum, where the Möbius map ω ↦ (τ + ηω)/(1 − ρω) is monotone, so its ends suffice (Elhorst 2012).
    """
    if spec.omega is not None:
        om = spec.omega
    else:
        lo, hi = spec.bounds
        om = np.array([1.0 / lo, 1.0 / hi])
    return float(np.max(np.abs((tau + eta * om) / (1.0 - rho * om))))


def _apply(spec: Spectrum, tau: float, rho: float, eta: float, v: np.ndarray) -> dict[str, np.ndarray]:
    """M v for M = L, WL, G, GL, GWL (module docstring), by sparse solves; v a vector or an N×m block."""
    a = 1.0 - tau
    lv = spec.resolvent_solve((rho + eta) / a, v) / a  # (1 − τ)I − (ρ + η)W = (1 − τ)(I − ρ*W)
    wlv = spec.w @ lv
    return {"L": lv, "WL": wlv, "G": spec.w @ spec.resolvent_solve(rho, v),
            "GL": spec.w @ spec.resolvent_solve(rho, lv), "GWL": spec.w @ spec.resolvent_solve(rho, wlv)}


def _traces(spec: Spectrum, tau: float, rho: float, eta: float, seed: int) -> dict[str, float]:
    """tr(M) for M = L, WL, G, GL, GWL: exact from eigenvalues, else Hutchinson with Rademacher probes."""
    if spec.omega is not None:
        om = spec.omega
        d, s = (1.0 - tau) - (rho + eta) * om, 1.0 - rho * om
        funcs = {"L": 1.0 / d, "WL": om / d, "G": om / s, "GL": om / (s * d), "GWL": om**2 / (s * d)}
        return {k: float(np.sum(v).real) for k, v in funcs.items()}
    z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(spec.n, PROBES))
    return {k: float(np.mean(np.sum(z * mz, axis=0))) for k, mz in _apply(spec, tau, rho, eta, z).items()}


def bias_score(spec: Spectrum, effects: str, terms: tuple[str, ...], p: int, tau: float, rho: float, eta: float,
               sigma2: float, t: int, seed: int = 1) -> np.ndarray:
    """b = −E[score] at the estimates, ordered (δ: terms first, then X, WX; ρ; σ²) — module docstring."""
    n = spec.n
    tr = _traces(spec, tau, rho, eta, seed)
    b = np.zeros(p + 2)
    if effects == "twoways":
        totals = {k: float(np.mean(v)) for k, v in _apply(spec, tau, rho, eta, np.ones(n)).items()}  # 1'M1/N
        tr = {k: tr[k] - totals[k] for k in tr}  # tr(JM) = tr(M) − 1'M1/N
        b[p] = t * totals["G"]
        b[p + 1] = t / (2 * sigma2)
    for i, term in enumerate(terms):
        b[i] = tr["L" if term == "tau" else "WL"]
    b[p] += tau * tr["GL"] + eta * tr["GWL"] + tr["G"]
    b[p + 1] += (n - (effects == "twoways")) / (2 * sigma2)
    return b


def fit_dynamic(panel: Panel, spec: Spectrum, effects: str, lagged: np.ndarray, correct: bool = True,
                terms: tuple[str, ...] = TERMS, vcov: str = "analytic", maxiter: int = 500) -> DynamicFit:
    """QML of the dynamic model and, if `correct`, the Yu–de Jong–Lee bias correction; refuses unstable fits."""
    y, wy, z, names = design(panel, lagged, effects, terms)
    t = panel.t - 1
    name = "Yu, de Jong & Lee 2008 QML, within transformation, conditional on the first period; " + (
        "not bias-corrected" if not correct else "bias-corrected (YDL 2008 Thm 3; Lee & Yu 2010 ET for time effects)"
        if effects == "twoways" else "bias-corrected (YDL 2008 Thm 3)")
    conv = Convention(t, panel.n * t, 0, name)
    qml = fit_lag(y, wy, z, spec, conv, maxiter)
    coef = dict(zip(names, qml.beta, strict=False))

    def radius_of(c: dict, rho: float, label: str) -> float:
        tau, eta = c.get("tau", 0.0), c.get("eta", 0.0)
        r = stability_radius(spec, tau, rho, eta)
        if not r < 1:
            raise SpatialPanelError(
                f"the {label} estimates are not stationary: tau = {tau:.4f}, rho = {rho:.4f}, eta = {eta:.4f} "
                f"(tau + rho + eta = {tau + rho + eta:.4f}; largest |eigenvalue| of (I − rho W)^-1(tau I + eta W) = "
                f"{r:.4f} ≥ 1). Long-run effects do not exist and the bias correction does not apply: check the "
                "series for unit roots or trends (difference them, or add time effects)")
        return r

    radius = radius_of(coef, qml.spatial, "QML")
    fit = qml
    if correct:
        b = bias_score(spec, effects, terms, len(names), coef.get("tau", 0.0), qml.spatial, coef.get("eta", 0.0),
                       qml.sigma2, t)
        theta = np.concatenate([qml.beta, [qml.spatial, qml.sigma2]]) + qml.vcov @ b
        beta, rho, s2 = theta[:-2], float(theta[-2]), float(theta[-1])
        radius = radius_of(dict(zip(names, beta, strict=False)), rho, "bias-corrected")
        e = y - rho * wy - z @ beta
        fit = MLFit(beta, rho, s2, qml.loglik, e, y - e, lag_vcov(z, beta, rho, s2, spec, conv))
    if vcov == "hessian":
        point = np.concatenate([fit.beta, [fit.spatial, fit.sigma2]])
        fit.vcov = numerical_vcov(lambda q: loglik_full(q, y, wy, z, None, spec, conv), point)
    return DynamicFit(fit, qml, names, y, wy, z, conv, radius)


def durbin_index(panel: Panel, model: str, durbin: list[str] | None) -> np.ndarray:
    """Positions of the regressors whose W-lags enter: all for the SDM by default, none for the SAR."""
    if durbin is None:
        return np.arange(len(panel.x_names)) if model == "sdm" else np.array([], dtype=int)
    if model != "sdm":
        raise SpatialPanelError(f"durbin terms apply to the sdm, not {model}")
    missing = [d for d in durbin if d not in panel.x_names]
    if missing:
        raise SpatialPanelError(f"durbin terms {missing} are not regressors of the formula ({panel.x_names})")
    return np.array([panel.x_names.index(d) for d in durbin], dtype=int)


def dynamic_effects(spec: Spectrum, panel: Panel, dyn: DynamicFit, lagged: np.ndarray, draws: int,
                    seed: int) -> pd.DataFrame:
    """Short- and long-run direct / indirect / total effects with simulated (and delta-method) SEs."""
    names, fit = dyn.names, dyn.fit
    k = len(panel.x_names)
    first = len(names) - k - len(lagged)  # β starts after the dynamic terms
    bi = first + np.arange(k)
    ti = np.full(k, -1)
    ti[lagged] = first + k + np.arange(len(lagged))
    theta = np.where(ti >= 0, fit.beta[np.maximum(ti, 0)], 0.0)
    vc = fit.vcov[:-1, :-1]  # δ, ρ (σ² dropped)
    index = (bi, ti, len(fit.beta))
    long_run = {t: (names.index(t), fit.beta[names.index(t)]) for t in TERMS if t in names}
    frames = []
    for horizon, lr in (("short-run", None), ("long-run", long_run)):
        eff = lag_effects(spec, list(panel.x_names), fit.beta[bi], theta, fit.spatial, vc, index, draws, seed,
                          long_run=lr)
        frames.append(eff.assign(effect=horizon + " " + eff["effect"]))
    return pd.concat(frames, ignore_index=True)


def dynamic_tests(dyn: DynamicFit, lagged: np.ndarray) -> pd.DataFrame:
    """Wald tests: τ + ρ + η = 1 (the unit-root boundary), τ = η = 0 (static model), θ = 0 (SDM vs SAR)."""
    names, fit = dyn.names, dyn.fit
    p = len(fit.vcov)
    rho_pos = len(fit.beta)
    dyn_pos = [names.index(t) for t in TERMS if t in names]
    rows = []
    j = np.zeros((1, p))
    j[0, [*dyn_pos, rho_pos]] = 1.0
    total = fit.beta[dyn_pos].sum() + fit.spatial
    rows.append(dg.wald("Wald tau + rho + eta = 1", np.array([total - 1.0]), j, fit.vcov,
                        f"largest |eigenvalue| of (I - rho W)^-1(tau I + eta W) = {dyn.radius:.4f}"))
    if dyn_pos:
        j = np.zeros((len(dyn_pos), p))
        j[np.arange(len(dyn_pos)), dyn_pos] = 1.0
        rows.append(dg.wald("Wald dynamic vs static (tau = eta = 0)", fit.beta[dyn_pos], j, fit.vcov))
    if len(lagged):
        pos = [i for i, n in enumerate(names) if n.startswith("W.")]
        j = np.zeros((len(pos), p))
        j[np.arange(len(pos)), pos] = 1.0
        rows.append(dg.wald("Wald SDM vs SAR (theta = 0)", fit.beta[pos], j, fit.vcov))
    return pd.DataFrame(rows)


def dynamic_panel(formula: str, panel: Panel, spec: Spectrum, model: str, effects: str, durbin: list[str] | None,
                  bias_correction: bool, vcov: str, draws: int, seed: int, maxiter: int,
                  provenance: dict) -> SpatialPanelResult:
    """Fit the dynamic SAR/SDM and assemble the result like a static fit (called by `spatial_panel`).

    `provenance`: data_source, w_source, from_warehouse, unit, time.
    """
    started = datetime.now(UTC)
    lagged = durbin_index(panel, model, durbin)
    dyn = fit_dynamic(panel, spec, effects, lagged, bias_correction, TERMS, vcov, maxiter)
    fit, labels = dyn.fit, [*dyn.names, "rho", "sigma2"]
    values = np.concatenate([fit.beta, [fit.spatial, fit.sigma2]])
    se = np.sqrt(np.diag(fit.vcov))
    z = values / se
    table = pd.DataFrame({"estimate": values, "std_error": se, "z": z, "p_value": 2 * stats.norm.sf(np.abs(z))},
                         index=pd.Index(labels, name="term"))
    uncorrected = pd.Series(np.concatenate([dyn.uncorrected.beta, [dyn.uncorrected.spatial,
                                                                   dyn.uncorrected.sigma2]]), index=labels)
    yc = dyn.y - dyn.y.mean()
    fc = fit.fitted - fit.fitted.mean()
    return SpatialPanelResult(
        formula=formula, model=model, effects_kind=effects, lee_yu=False, convention=dyn.conv.name,
        params=table["estimate"], bse=table["std_error"], vcov=pd.DataFrame(fit.vcov, index=labels, columns=labels),
        estimates=table, sigma2=fit.sigma2, loglik=dyn.uncorrected.loglik,
        r2=1 - float(fit.resid @ fit.resid) / float(yc @ yc), r2_corr=float((yc @ fc) ** 2 / ((yc @ yc) * (fc @ fc))),
        n_units=panel.n, n_periods=panel.t - 1, nobs=panel.n * (panel.t - 1), logdet_method=spec.method,
        vcov_method=vcov, effects=dynamic_effects(spec, panel, dyn, lagged, draws, seed),
        tests=dynamic_tests(dyn, lagged), y_name=panel.y_name, fingerprint=panel.fingerprint(),
        durbin=[panel.x_names[i] for i in lagged], draws=draws, seed=seed, started_at=started,
        finished_at=datetime.now(UTC), residuals=fit.resid, dynamic=True, bias_corrected=bias_correction,
        uncorrected=uncorrected, **provenance,
    )
