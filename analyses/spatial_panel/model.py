"""`spatial_panel(...)`: fit SAR, SDM, SEM, SDEM or SLX panels with fixed effects, their effects and tests.

Example:
    fit = spatial_panel("logc ~ logp + logy", data=cigar, w=w, unit="state", time="year",
                        model="sdm", effects="twoways")
    fit.summary(); fit.effects; fit.tests; fit.to_table("latex")
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import stats

from analyses.spatial_panel import diagnostics as dg
from analyses.spatial_panel.dynamic import dynamic_panel
from analyses.spatial_panel.effects import lag_effects, linear_effects
from analyses.spatial_panel.estimate import (
    MLFit,
    convention,
    fit_error,
    fit_error_random,
    fit_lag,
    fit_lag_random,
    fit_ols,
    fit_sac,
    loglik_full,
    numerical_vcov,
)
from analyses.spatial_panel.panel import (
    EFFECTS,
    Panel,
    SpatialPanelError,
    build_panel,
    check_rank,
    demean,
    factorize_units,
    lag,
)
from analyses.spatial_panel.result import SpatialPanelResult
from analyses.spatial_panel.robust import (
    VCE,
    error_scores,
    lag_scores,
    ols_scores,
    random_lag_scores,
    sac_scores,
    sandwich,
)
from analyses.spatial_panel.sources import load_panel, load_w, quality_status
from analyses.spatial_panel.spectrum import Spectrum, spectrum_for

MODELS = ("sar", "sdm", "sem", "sdem", "slx", "sac", "ols")
LAG, ERROR = ("sar", "sdm", "sac"), ("sem", "sdem")
RANDOM = ("sar", "sdm", "sem", "sdem", "slx", "ols")
DURBIN = ("sdm", "sdem", "slx")


def spatial_panel(formula: str, data, w, unit: str | None = None, time: str | None = None, model: str = "sdm",
                  effects: str = "twoways", lee_yu: bool = False, durbin: list[str] | None = None,
                  logdet: str | Spectrum = "auto", vcov: str = "analytic", draws: int = 1000, seed: int = 12345,
                  w_transform: str | None = "r", con=None, where: str | None = None, lr_tests: bool = True,
                  maxiter: int = 500, vce: str = "oim", dynamic: bool = False,
                  bias_correction: bool = True, w_order=None,
                  allow_failing_checks: bool = False) -> SpatialPanelResult:
    """Fit a spatial panel model by (concentrated) ML; see `SpatialPanelResult` for what comes back.

    model: sar | sdm | sem | sdem | slx | sac | ols; effects: pooled | individual | time | twoways | random
    (random: SAR, SDM, SEM, SDEM, SLX, OLS; Elhorst 2014 §3.4, with a Hausman test against individual fixed
    effects).
    lee_yu: Lee & Yu (2010) transformation approach instead of the direct (demeaning) approach.
    logdet: how log|I − ρW| and the traces are computed (`analyses.spatial_panel.spectrum`): 'auto' (exact up to
    N = 20,000 units, then 'chebyshev' for a real spectrum or 'mc'), 'exact' ('eigen' or sparse 'lu'),
    'chebyshev' (Pace & LeSage 2004), 'mc' (Barry & Pace 1999), or a `Spectrum` of W (e.g. with known eigenvalues);
    the result's `logdet_detail` gives the approximation's settings and error bound at the estimate.
    durbin: the regressors whose spatial lags enter (SDM, SDEM, SLX); default all.
    vcov: 'analytic' (information matrix) or 'hessian' (numerical Hessian of the full log-likelihood).
    vce: 'oim' (the information matrix, as vcov says), 'robust' (heteroskedasticity-robust sandwich) or
    'cluster' (cluster-robust by unit), like xsmle's vce(); effects and Wald tests use it. The sandwich does not
    make ρ̂/λ̂ consistent under heteroskedasticity (Lin & Lee 2010); see `analyses.spatial_panel.robust`.
    unit / time: the unit-id and period columns of `data` (default: its finest *_code column and `year`); the
    data are read with them (`warehouse.panel_data.read_panel`: ids as text, a wide-by-year file melted into `time`).
    where: SQL condition selecting rows of the data (any source; an explicit balanced subset).
    w_order: the row order of an id-less matrix file (.mat, unlabelled dense CSV): 'ascending-text',
    'ascending-numeric' (the data's unit ids sorted as text / as numbers) or a file with one id per line.
    Warehouse inputs (the tables the data read, a stored W) pass the quality gate first (QualityGateError unless
    `allow_failing_checks`); the status is `quality_status` of the result ('not-checked' for files and frames).
    dynamic: add y_{t−1} (tau) and W·y_{t−1} (eta) to a SAR or SDM with individual or two-way fixed effects,
    with short- and long-run effects; bias_correction: the Yu, de Jong & Lee (2008) correction (dynamic only;
    see `analyses.spatial_panel.dynamic`).
    """
    model, effects = model.lower(), effects.lower()
    if model not in MODELS:
        raise SpatialPanelError(f"model {model!r}: choose one of {', '.join(MODELS)}")
    if effects not in (*EFFECTS, "random"):
        raise SpatialPanelError(f"effects {effects!r}: choose one of {', '.join(EFFECTS)}, random")
    if effects == "random" and model not in RANDOM:
        raise SpatialPanelError(f"random effects are implemented for {', '.join(RANDOM)}, not {model}; "
                                "use fixed effects")
    if effects == "random" and lee_yu:
        raise SpatialPanelError("--lee-yu corrects fixed-effects estimators; drop it for random effects")
    if vcov not in ("analytic", "hessian"):
        raise SpatialPanelError(f"vcov {vcov!r}: use 'analytic' or 'hessian'")
    if dynamic and (model not in ("sar", "sdm") or effects not in ("individual", "twoways") or lee_yu):
        raise SpatialPanelError("the dynamic model is a SAR or SDM with individual or twoways fixed effects, "
                                "bias-corrected by Yu, de Jong & Lee (2008) instead of --lee-yu; got "
                                f"model {model}, effects {effects}{', lee_yu' if lee_yu else ''}")
    if dynamic and vce != "oim":
        raise SpatialPanelError(f"vce {vce!r} is not implemented for the dynamic model; use vce='oim'")
    if not dynamic and not bias_correction:
        raise SpatialPanelError("bias_correction=False (--no-bias-correction) applies to dynamic models (--dynamic); "
                                "static fits use lee_yu (--lee-yu)")
    if vce not in VCE:
        raise SpatialPanelError(f"vce {vce!r}: use one of {', '.join(VCE)}")
    if vce != "oim" and effects == "random" and model in ERROR:
        raise SpatialPanelError(f"vce {vce!r} is not available for random-effects {model.upper()} (its likelihood "
                                "does not split into observations); use vce='oim' or fixed effects")
    read = load_panel(data, con, where, unit=unit, time=time)
    frame, data_desc, from_wh = read.frame, read.source, read.from_warehouse
    quality = quality_status(con, read.tables, w, allow_failing_checks)
    unit, time = infer_index(frame, unit, time)
    units = factorize_units(frame[unit])
    w_pair, w_desc = load_w(w, units[1].unique().tolist(), con, w_transform, w_order=w_order)
    panel = build_panel(formula, frame, w_pair, unit, time, intercept=effects in ("pooled", "random"), units=units)
    spec = _spectrum(panel.w, logdet, seed)
    if dynamic:
        result = dynamic_panel(formula, panel, spec, model, effects, durbin, bias_correction, vcov, draws, seed,
                               maxiter, {"data_source": data_desc, "w_source": w_desc, "from_warehouse": from_wh,
                                         "unit": unit, "time": time})
        result.quality_status = quality
        return result
    started = datetime.now(UTC)
    core = _fit_core(panel, spec, model, effects, lee_yu, durbin, vcov, maxiter, vce)
    est, names, fit, lagged = core["table"], core["names"], core["fit"], core["lagged"]
    conv = core["conv"]
    eff = _effects(model, spec, panel, fit, names, lagged, draws, seed)
    # the LM tests use the model's own regressors (with the constant when pooled); the LR tests of fixed
    # effects and the Hausman test's fixed-effects fit use them without the constant
    fe_panel = build_panel(formula, frame, w_pair, unit, time, intercept=False, units=units) \
        if "Intercept" in panel.x_names else panel
    tests = [dg.lm_tests(panel, "pooled" if effects == "random" else effects), dg.fe_lr_tests(fe_panel)]
    if model in ("sdm", "sdem"):
        tests.append(_durbin_tests(panel, spec, model, effects, lee_yu, fit, names, lagged, lr_tests, maxiter))
    if effects == "random":
        fe = _fit_core(fe_panel, spec, model, "individual", False, durbin, vcov, maxiter)
        # the classic Hausman test needs the efficient (information-matrix) variances, whatever vce says
        tests.append(pd.DataFrame([dg.hausman(fe["table"]["estimate"], fe["vcov_frame"], est["estimate"],
                                              core["oim_frame"])]))
    return SpatialPanelResult(
        formula=formula, model=model, effects_kind=effects, lee_yu=lee_yu, convention=conv.name,
        params=est["estimate"], bse=est["std_error"], vcov=core["vcov_frame"], estimates=est,
        sigma2=fit.sigma2, loglik=fit.loglik, r2=core["r2"], r2_corr=core["r2_corr"], n_units=panel.n,
        n_periods=panel.t, nobs=panel.n * panel.t, logdet_method=spec.method,
        logdet_detail=spec.describe(fit.spatial if fit.spatial is not None else None),
        vcov_method=_vcov_label(vce, "hessian" if model == "sac" or effects == "random" else
                                "hessian (analytic information singular)" if core["vcov_fallback"] else vcov),
        effects=eff, tests=pd.concat(tests, ignore_index=True), y_name=panel.y_name, data_source=data_desc,
        w_source=w_desc, from_warehouse=from_wh, fingerprint=panel.fingerprint(), unit=unit, time=time,
        durbin=[panel.x_names[i] for i in lagged], draws=draws, seed=seed, started_at=started,
        finished_at=datetime.now(UTC), residuals=fit.resid, vce=vce, scores=core["scores"],
        quality_status=quality,
    )


def _spectrum(w, logdet: str | Spectrum, seed: int) -> Spectrum:
    """The Spectrum of W for a method name (cached per W), or the caller's own Spectrum of this W."""
    if isinstance(logdet, Spectrum):
        if logdet.w.shape != w.shape or (logdet.w != w).nnz:
            raise SpatialPanelError("the Spectrum passed as logdet= belongs to another W (units in W order)")
        return logdet
    return spectrum_for(w, logdet, seed=seed)


def infer_index(frame: pd.DataFrame, unit: str | None, time: str | None) -> tuple[str, str]:
    """Default unit/time columns for warehouse panels: the finest `*_code` column (county, city, province)
    and `year`."""
    if unit is None:
        codes = [c for c in ("county_code", "city_code", "province_code") if c in frame.columns]
        codes = codes or [c for c in frame.columns if str(c).endswith("_code")]
        if not codes or (len(codes) > 1 and codes[0] not in ("county_code", "city_code", "province_code")):
            raise SpatialPanelError("name the unit column (unit=... / --unit)")
        unit = codes[0]
    if time is None:
        if "year" not in frame.columns:
            raise SpatialPanelError("name the time column (time=... / --time)")
        time = "year"
    return unit, time


def _non_intercept(panel: Panel) -> np.ndarray:
    return np.array([i for i, n in enumerate(panel.x_names) if n != "Intercept"])


def _vcov_label(vce: str, oim: str) -> str:
    """What analysis.model_runs.vcov_method records: the information matrix used, or the sandwich."""
    if vce == "robust":
        return "robust (sandwich: observed Hessian, per-observation scores, n/(n-1))"
    if vce == "cluster":
        return "cluster by unit (sandwich: observed Hessian, unit sums of scores, G/(G-1))"
    return oim


def _fit_core(panel: Panel, spec: Spectrum, model: str, effects: str, lee_yu: bool, durbin, vcov: str,
              maxiter: int, vce: str = "oim", loglik_only: bool = False) -> dict:
    """Design, demeaning, estimation and the coefficient table of one model.

    loglik_only: an LR test's restricted model; fixed-effects lag and error models skip the information matrix
    and the result is {"fit": fit} (its loglik is what the test uses)."""
    xi = _non_intercept(panel)
    if durbin is None:
        lagged = xi if model in DURBIN else np.array([], dtype=int)
    else:
        if model not in DURBIN:
            raise SpatialPanelError(f"durbin terms apply to sdm, sdem and slx, not {model}")
        missing = [d for d in durbin if d not in panel.x_names]
        if missing:
            raise SpatialPanelError(f"durbin terms {missing} are not regressors of the formula ({panel.x_names})")
        lagged = np.array([panel.x_names.index(d) for d in durbin], dtype=int)
    names = list(panel.x_names) + [f"W.{panel.x_names[i]}" for i in lagged]
    # the design's pieces are shared by the model and its LR refits (computed once per panel)
    memo = panel.__dict__.setdefault("_memo", {})

    def cached(key: tuple, fn):
        if key not in memo:
            memo[key] = fn()
        return memo[key]

    lk = tuple(int(i) for i in lagged)
    x = cached(("x", lk), lambda: np.concatenate([panel.x, lag(panel.w, panel.x[:, :, lagged])], axis=2)
               if len(lagged) else panel.x)
    kind = "pooled" if effects == "random" else effects  # random effects quasi-demean inside the estimator
    y = cached(("y", kind), lambda: demean(panel.y, kind).ravel())
    wy = cached(("wy", kind), lambda: demean(lag(panel.w, panel.y), kind).ravel())
    xd = cached(("xd", kind, lk), lambda: demean(x, kind).reshape(-1, x.shape[2]))
    if not loglik_only:  # a restricted model's regressors are a subset of the full model's, already checked
        check_rank(xd, names)
    conv = convention("pooled" if effects == "random" else effects, lee_yu, panel.n, panel.t, spec.row_standardised)
    lam = phi = None
    if effects == "random" and model in ERROR:
        fit, phi = fit_error_random(panel.y, lag(panel.w, panel.y), x, lag(panel.w, x), spec, maxiter)
        spatial, wx = "lambda", None
    elif effects == "random":
        fit, phi = fit_lag_random(panel.y, lag(panel.w, panel.y), x, spec, model in LAG, maxiter)
        spatial, wx = ("rho" if model in LAG else None), None
    elif model == "sac":
        wx = demean(lag(panel.w, x), effects).reshape(-1, x.shape[2])
        wwy = demean(lag(panel.w, lag(panel.w, panel.y)), effects).ravel()
        fit, lam = fit_sac(y, wy, wwy, xd, wx, spec, conv, maxiter)
        spatial = "rho"
    elif model in LAG:
        fit = fit_lag(y, wy, xd, spec, conv, maxiter, variance=not loglik_only)
        spatial, wx = "rho", None
    elif model in ERROR:
        wx = cached(("wx", effects, lk), lambda: demean(lag(panel.w, x), effects).reshape(-1, x.shape[2]))
        fit = fit_error(y, wy, xd, wx, spec, conv, maxiter, variance=not loglik_only)
        spatial = "lambda"
    else:
        fit, spatial, wx = fit_ols(y, xd, conv), None, None
    if loglik_only:
        return {"fit": fit, "conv": conv}
    extra = ["lambda"] if lam is not None else ["phi"] if phi is not None else []
    labels = names + ([spatial] if spatial else []) + extra + ["sigma2"]
    # SAC and random effects: the variance is always the numerical Hessian; elsewhere it is the fallback
    # when the analytic information matrix is singular or not positive definite
    unusable = not np.all(np.isfinite(fit.vcov)) or np.any(np.diag(fit.vcov) <= 0)
    fallback = unusable and vcov != "hessian" and bool(spatial) and model != "sac" and phi is None
    if (vcov == "hessian" or fallback) and spatial and model != "sac" and phi is None:
        point = np.concatenate([fit.beta, [fit.spatial, fit.sigma2]])
        fit.vcov = numerical_vcov(lambda p: loglik_full(p, y, wy, xd, wx, spec, conv), point)
    oim = fit.vcov
    scores = None
    if vce != "oim":
        if phi is not None:
            scores = random_lag_scores(fit, phi, panel.y, lag(panel.w, panel.y), x, spec, spatial is not None)
        elif model == "sac":
            scores = sac_scores(fit, lam, wy, wwy, xd, wx, spec, conv)
        elif spatial == "rho":
            scores = lag_scores(fit, wy, xd, spec, conv)
        elif spatial == "lambda":
            scores = error_scores(fit, y, wy, xd, wx, spec, conv)
        else:
            scores = ols_scores(fit, xd, conv)
        # the bread is minus the inverse observed Hessian: already so for SAC, random effects, vcov='hessian'
        # and OLS/SLX (whose information matrix is the observed one at the optimum); numerical otherwise
        hess_inv = oim
        if spatial and model != "sac" and phi is None and not (vcov == "hessian" or fallback):
            point = np.concatenate([fit.beta, [fit.spatial, fit.sigma2]])
            hess_inv = numerical_vcov(lambda p: loglik_full(p, y, wy, xd, wx, spec, conv), point)
        fit.vcov = sandwich(scores, hess_inv, panel.n, vce)
    values = np.concatenate([fit.beta, [fit.spatial] if spatial else [], [v for v in (lam, phi) if v is not None],
                             [fit.sigma2]])
    se = np.sqrt(np.diag(fit.vcov))
    z = values / se
    table = pd.DataFrame({"estimate": values, "std_error": se, "z": z, "p_value": 2 * stats.norm.sf(np.abs(z))},
                         index=pd.Index(labels, name="term"))
    # random effects: the quasi-demeaned y for lag models and SLX, y itself for SEM/SDEM
    target = fit.fitted + fit.resid if phi is not None else y
    yc = target - target.mean()
    r2 = 1 - float(fit.resid @ fit.resid) / float(yc @ yc)
    fc = fit.fitted - fit.fitted.mean()
    r2_corr = float((yc @ fc) ** 2 / ((yc @ yc) * (fc @ fc))) if fc @ fc > 0 else 0.0
    return {"table": table, "names": names, "fit": fit, "lagged": lagged, "conv": conv, "r2": r2,
            "r2_corr": r2_corr, "vcov_fallback": fallback, "scores": scores,
            "vcov_frame": pd.DataFrame(fit.vcov, index=labels, columns=labels),
            "oim_frame": pd.DataFrame(oim, index=labels, columns=labels)}


def _effects(model: str, spec: Spectrum, panel: Panel, fit: MLFit, names: list[str], lagged: np.ndarray,
             draws: int, seed: int) -> pd.DataFrame:
    """LeSage–Pace effects per regressor (none for OLS)."""
    xi = _non_intercept(panel)
    if model == "ols":
        return pd.DataFrame()
    k = len(panel.x_names)
    theta_pos = np.full(k, -1)
    theta_pos[lagged] = k + np.arange(len(lagged))
    bi, ti = xi, theta_pos[xi]
    beta = fit.beta[bi]
    theta = np.where(ti >= 0, fit.beta[np.maximum(ti, 0)], 0.0)
    reg = [panel.x_names[i] for i in xi]
    if model in LAG:
        vc = fit.vcov[:-1, :-1]  # β, θ, ρ (σ² dropped)
        return lag_effects(spec, reg, beta, theta, fit.spatial, vc, (bi, ti, len(fit.beta)), draws, seed)
    return linear_effects(reg, beta, theta, fit.vcov, (bi, ti))


def _durbin_tests(panel: Panel, spec: Spectrum, model: str, effects: str, lee_yu: bool, fit: MLFit,
                  names: list[str], lagged: np.ndarray, lr_tests: bool, maxiter: int) -> pd.DataFrame:
    """Wald (and LR) tests of the SDM against SAR, SEM and SLX, or the SDEM against SEM and SLX."""
    k = len(panel.x_names)
    m = len(lagged)
    p = len(fit.beta) + 1
    theta_idx = k + np.arange(m)
    rows = []
    jac = np.zeros((m, fit.vcov.shape[0]))
    jac[np.arange(m), theta_idx] = 1.0
    base = "SAR" if model == "sdm" else "SEM"
    rows.append(dg.wald(f"Wald {model.upper()} vs {base} (theta = 0)", fit.beta[theta_idx], jac, fit.vcov))
    jr = np.zeros((1, fit.vcov.shape[0]))
    jr[0, p - 1] = 1.0
    rows.append(dg.wald(f"Wald {model.upper()} vs SLX ({'rho' if model == 'sdm' else 'lambda'} = 0)",
                        np.array([fit.spatial]), jr, fit.vcov))
    if model == "sdm":
        # H0: θ + ρβ = 0 (common factor), delta method (Elhorst 2014 §2.6)
        r = fit.spatial
        g = fit.beta[theta_idx] + r * fit.beta[lagged]
        jc = np.zeros((m, fit.vcov.shape[0]))
        jc[np.arange(m), theta_idx] = 1.0
        jc[np.arange(m), lagged] = r
        jc[:, p - 1] = fit.beta[lagged]
        rows.append(dg.wald("Wald SDM vs SEM (theta + rho*beta = 0)", g, jc, fit.vcov))
    if lr_tests:
        durbin = None if m == k else [panel.x_names[i] for i in lagged]
        alts = ("sar", "sem", "slx") if model == "sdm" else ("sem", "slx")
        # random effects: the SEM's μ is not spatially filtered, so it is not the SDM under θ = −ρβ (whose
        # restricted error is B^{-1}(μ + ε)); no LR test of the SDM against it
        alts = tuple(a for a in alts if not (effects == "random" and model == "sdm" and a == "sem"))
        for alt in alts:
            core = _fit_core(panel, spec, alt, effects, lee_yu, durbin if alt == "slx" else None,
                             "analytic", maxiter, loglik_only=True)
            restricted = core["fit"]
            df = {"sar": m, "sem": m, "slx": 1}[alt]
            # approximate log-determinants: each log L is off by at most a·(its log-determinant's error bound)
            err = 2 * core["conv"].a * sum(spec.logdet_error(r) for r in (fit.spatial, restricted.spatial)
                                           if r is not None)
            note = f"approximate log-determinants: |error| <= {err:.3g} (99%)" if err > 0 else ""
            rows.append(dg.lr(f"LR {model.upper()} vs {alt.upper()}", fit.loglik, restricted.loglik, df, note))
    return pd.DataFrame(rows)
