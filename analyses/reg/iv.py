"""Weak-instrument and overidentification diagnostics of a 2SLS fit with absorbed fixed effects, as ivreg2 /
ivreghdfe print them.

- Kleibergen–Paap rk LM (underidentification) and rk Wald F (weak identification): the rk statistic of
  Kleibergen & Paap (2006, J. Econometrics 133, eq. 21) for rank(Π) = K1 − 1, Π the first-stage coefficients of
  the excluded instruments after partialling out the exogenous regressors and fixed effects; LM with the
  variance under the null (the endogenous regressors themselves), Wald with first-stage residuals; robust to
  heteroskedasticity or (two-way) clustering as the fit's `vce`. Small-sample factors as ivreg2 3.x.
- Cragg–Donald Wald F (Cragg & Donald 1993): the same under homoskedasticity, from the smallest canonical
  correlation; Stock & Yogo (2005) critical values for K1 ≤ 3 (bias) / ≤ 2 (size) and L1 ≤ 100 from
  analyses.reg.stock_yogo (2SLS bias and size; LIML size after a LIML fit), as ivreg2 prints them.
- Hansen J (Sargan under iid): N·ḡ'S⁻¹ḡ at the two-step efficient GMM estimate (Hansen 1982).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analyses.reg.prepare import cluster_columns
from analyses.reg.stock_yogo import critical_values


@dataclass
class IVDiagnostics:
    """First-stage table and the identification / overidentification statistics of one 2SLS fit."""

    endogenous: list[str]
    instruments: list[str]
    first_stage: pd.DataFrame  # endogenous, term, coef, se, t, p; plus partial R² and F per endogenous
    kp_lm: float
    kp_lm_df: int
    kp_lm_p: float
    kp_f: float
    cd_f: float
    hansen_j: float
    hansen_j_df: int
    hansen_j_p: float
    stock_yogo: dict[str, float]
    vce: str

    def as_dict(self) -> dict:
        def num(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"endogenous": self.endogenous, "instruments": self.instruments,
                "kleibergen_paap_rk_lm": num(self.kp_lm), "kleibergen_paap_rk_lm_df": self.kp_lm_df,
                "kleibergen_paap_rk_lm_p": num(self.kp_lm_p), "kleibergen_paap_rk_wald_f": num(self.kp_f),
                "cragg_donald_wald_f": num(self.cd_f), "hansen_j": num(self.hansen_j),
                "hansen_j_df": self.hansen_j_df, "hansen_j_p": num(self.hansen_j_p),
                "stock_yogo": self.stock_yogo, "vce": self.vce,
                "first_stage": [{k: num(v) if isinstance(v, float) else v for k, v in r.items()}
                                for r in self.first_stage.to_dict("records")]}

    def tests(self) -> pd.DataFrame:
        """One row per statistic: test, statistic, df, p_value (for analysis.model_tests)."""
        return pd.DataFrame([
            {"test": "Kleibergen-Paap rk LM (underidentification)", "statistic": self.kp_lm, "df": self.kp_lm_df,
             "p_value": self.kp_lm_p, "note": self.vce},
            {"test": "Kleibergen-Paap rk Wald F (weak identification)", "statistic": self.kp_f, "df": None,
             "p_value": None, "note": self.vce},
            {"test": "Cragg-Donald Wald F", "statistic": self.cd_f, "df": None, "p_value": None, "note": "iid"},
            {"test": "Hansen J (overidentification)", "statistic": self.hansen_j, "df": self.hansen_j_df,
             "p_value": self.hansen_j_p, "note": None if self.hansen_j_df else "exactly identified"},
        ])


def iv_diagnostics(model, vce: str, estimator: str = "2sls") -> IVDiagnostics:
    """The diagnostics of a pyfixest Feiv fit, computed on its demeaned (fixed-effects-partialled) matrices;
    `estimator` picks the Stock–Yogo tables ivreg2 prints (2SLS bias and size, or LIML size)."""
    z_names = [str(c) for c in model._coefnames_z]
    x_names = [str(c) for c in model._coefnames]
    exog = [c for c in z_names if c in x_names]
    excluded = [c for c in z_names if c not in x_names]
    endog = [c for c in x_names if c not in z_names]
    Zall = np.asarray(model._Z, dtype=float)
    Xall = np.asarray(model._X, dtype=float)
    y = np.asarray(model._Y, dtype=float).reshape(-1, 1)
    W = Zall[:, [z_names.index(c) for c in exog]]
    Z1 = Zall[:, [z_names.index(c) for c in excluded]]
    X1 = Xall[:, [x_names.index(c) for c in endog]]
    n = len(y)
    fe_dof = _fe_dof(model)
    clusters = [model._data[c].to_numpy() for c in cluster_columns(vce)]
    robust = vce.split(":")[0].lower() in ("hetero", "robust")
    # partial out the included exogenous regressors (the fixed effects are already demeaned out)
    Yp, Zp, yp = (_resid(W, a) for a in (X1, Z1, y))
    k1, l1 = X1.shape[1], Z1.shape[1]
    l_all = W.shape[1] + l1 + fe_dof  # ivreg2's iv1_ct + sdofminus (+ absorbed effects)
    lm = rk_statistic(Yp, Zp, "lm", robust=robust, clusters=clusters)
    wald = rk_statistic(Yp, Zp, "wald", robust=robust, clusters=clusters)
    cd_eig = _cd_eigenvalue(Yp, Zp)
    cd_f = cd_eig * (n - l_all) / l1
    if clusters:
        g = min(len(np.unique(c)) for c in clusters)
        kp_lm = lm
        kp_f = wald / (n - 1) * (n - l_all) * (g - 1) / g / l1
    elif robust:
        kp_lm, kp_f = lm, wald / n * (n - l_all) / l1
    else:  # iid: Anderson canonical-correlation LM and the Cragg-Donald F, as ivreg2 prints without robust
        kp_lm, kp_f = lm, cd_f
    lm_df = l1 - k1 + 1
    j, j_df = hansen_j(yp, Yp, Zp, robust=robust, clusters=clusters)
    first = _first_stage(model, endog, excluded)
    return IVDiagnostics(endogenous=endog, instruments=excluded, first_stage=first, kp_lm=float(kp_lm),
                         kp_lm_df=lm_df, kp_lm_p=float(stats.chi2.sf(kp_lm, lm_df)), kp_f=float(kp_f),
                         cd_f=float(cd_f), hansen_j=float(j), hansen_j_df=j_df,
                         hansen_j_p=float(stats.chi2.sf(j, j_df)) if j_df else math.nan,
                         stock_yogo=critical_values(k1, l1, estimator), vce=vce)


def rk_statistic(Y: np.ndarray, Z: np.ndarray, kind: str = "wald", *, robust: bool = False,
                 clusters: list[np.ndarray] | None = None) -> float:
    """Kleibergen–Paap (2006) rk statistic for H0: rank(Π) = K − 1 in Y = ZΠ + V (Y, Z already partialled).

    Θ = F'ΠG'⁻¹ with F, G the Cholesky factors of Z'Z and Y'Y; Θ = USV'; λ = (B⊗A')vec Θ with A, B spanning the
    last singular directions; rk = λ'(B⊗A')Ŵ(B⊗A')'⁻¹λ, Ŵ the covariance of vec Θ from the scores Z⊗e, with e = Y
    (LM, under the null) or the first-stage residuals (Wald); iid, heteroskedasticity- or cluster-robust.
    """
    n, k = Y.shape
    pi = np.linalg.solve(Z.T @ Z, Z.T @ Y)
    ry = np.linalg.cholesky(Y.T @ Y)  # lower: ry ry' = Y'Y
    rz = np.linalg.cholesky(Z.T @ Z)
    iry, irz = np.linalg.inv(ry.T), np.linalg.inv(rz.T)
    theta = rz.T @ pi @ iry
    u, _, vt = np.linalg.svd(theta, full_matrices=True)
    v = vt.T
    e = Y if kind == "lm" else Y - Z @ pi
    shat = _omega(e, Z, robust=robust, clusters=clusters or [])
    T = np.kron(iry.T, irz.T)
    vhat = T @ shat @ T.T * n
    vhat = (vhat + vhat.T) / 2
    q = k  # test of full rank: rank = K − 1
    u12, v12 = u[: q - 1, q - 1:], v[: q - 1, q - 1:]
    u22, v22 = u[q - 1:, q - 1:], v[q - 1:, q - 1:]
    u22h, v22h = _sqrtm(u22 @ u22.T), _sqrtm(v22 @ v22.T)
    aq = np.vstack([u12, u22]) @ np.linalg.inv(u22) @ u22h
    bq = v22h @ np.linalg.inv(v22.T) @ np.vstack([v12, v22]).T
    kron = np.kron(bq, aq.T)
    lam = kron @ theta.reshape(-1, order="F")
    vlab = kron @ vhat @ kron.T
    vlab = (vlab + vlab.T) / 2
    return float(lam @ np.linalg.solve(vlab, lam))


def _omega(e: np.ndarray, Z: np.ndarray, *, robust: bool, clusters: list[np.ndarray]) -> np.ndarray:
    """S = (1/N) Σ (e_i ⊗ z_i)(e_i ⊗ z_i)' (summed within clusters; two-way: S₁ + S₂ − S₁₂; iid: Σ̂ ⊗ Z'Z/N)."""
    n = len(e)
    if not robust and not clusters:
        return np.kron(e.T @ e / n, Z.T @ Z / n)
    scores = np.einsum("ik,il->ikl", e, Z).reshape(n, -1)  # row i: e_i ⊗ z_i (k outer, l inner)
    if not clusters:
        return scores.T @ scores / n

    def by(groups: np.ndarray) -> np.ndarray:
        codes = pd.factorize(pd.Series(groups))[0]
        summed = np.zeros((codes.max() + 1, scores.shape[1]))
        np.add.at(summed, codes, scores)
        return summed.T @ summed / n

    if len(clusters) == 1:
        return by(clusters[0])
    both = pd.Series(clusters[0]).astype(str) + "\x1f" + pd.Series(clusters[1]).astype(str)
    return by(clusters[0]) + by(clusters[1]) - by(both.to_numpy())


def _cd_eigenvalue(Y: np.ndarray, Z: np.ndarray) -> float:
    """Smallest eigenvalue of the Cragg–Donald matrix: ρ²/(1 − ρ²) for the smallest canonical correlation ρ."""
    ry = np.linalg.cholesky(Y.T @ Y)
    pz_y = Z @ np.linalg.solve(Z.T @ Z, Z.T @ Y)
    iry = np.linalg.inv(ry)
    rho2 = np.linalg.eigvalsh(iry @ (Y.T @ pz_y) @ iry.T).min()
    return float(rho2 / (1 - rho2))


def hansen_j(y: np.ndarray, X: np.ndarray, Z: np.ndarray, *, robust: bool,
             clusters: list[np.ndarray]) -> tuple[float, int]:
    """Hansen's J at the two-step GMM estimate with S from the 2SLS residuals; Sargan (N·u'P_Z u/u'u) under iid."""
    n, k = X.shape
    ell = Z.shape[1]
    df = ell - k
    if df <= 0:
        return 0.0, 0
    pz = Z @ np.linalg.solve(Z.T @ Z, Z.T @ X)
    b2sls = np.linalg.solve(pz.T @ X, pz.T @ y)
    u = y - X @ b2sls
    if not robust and not clusters:
        pu = Z @ np.linalg.solve(Z.T @ Z, Z.T @ u)
        return float(n * (u.T @ pu).item() / (u.T @ u).item()), df
    S = _omega(u, Z, robust=True, clusters=clusters)
    Winv = np.linalg.inv(S)
    zx, zy = Z.T @ X / n, Z.T @ y / n
    bgmm = np.linalg.solve(zx.T @ Winv @ zx, zx.T @ Winv @ zy)
    g = Z.T @ (y - X @ bgmm) / n
    return float(n * (g.T @ Winv @ g).item()), df


def _first_stage(model, endog: list[str], excluded: list[str]) -> pd.DataFrame:
    """Coefficients of the excluded instruments in each first stage (pyfixest, same vce), with the F of pyfixest."""
    import pyfixest as pf

    rows = []
    for name in endog:
        rhs = " + ".join([*[str(c) for c in model._coefnames_z if str(c) != "Intercept"]])
        fe = f" | {model._fixef}" if model._has_fixef else ""
        vcov = {"CRV1": "+".join(model._clustervar)} if model._is_clustered else model._vcov_type_detail
        fit = pf.feols(f"{name} ~ {rhs}{fe}", data=model._data, vcov=vcov)
        tidy = fit.tidy()
        for term in excluded:
            r = tidy.loc[term]
            rows.append({"endogenous": name, "term": term, "coef": float(r["Estimate"]), "se": float(r["Std. Error"]),
                         "t": float(r["t value"]), "p": float(r["Pr(>|t|)"])})
    return pd.DataFrame(rows)


def _resid(W: np.ndarray, A: np.ndarray) -> np.ndarray:
    if W.shape[1] == 0:
        return A
    return A - W @ np.linalg.lstsq(W, A, rcond=None)[0]


def _sqrtm(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return vecs @ np.diag(np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def _fe_dof(model) -> int:
    """Degrees of freedom the absorbed fixed effects use: levels of each minus one per extra effect (ivreghdfe's
    count without nesting corrections)."""
    if not model._has_fixef:
        return 0
    names = str(model._fixef).split("+")
    total = 0
    for f in names:
        cols = [c.strip() for c in f.split("^")]
        total += int(model._data[cols].drop_duplicates().shape[0])
    return total - (len(names) - 1)


def liml(model, vce: str) -> pd.DataFrame:
    """LIML (Anderson & Rubin 1949) of a pyfixest Feiv's equation by linearmodels' IVLIML on its demeaned matrices
    (partialling the fixed effects out leaves k-class estimates unchanged); SEs as linearmodels' debiased ones with the
    residual degrees of freedom reduced by the absorbed effects. Returns term, coef, se, t, p, ci_low, ci_high."""
    from linearmodels.iv import IVLIML

    z_names = [str(c) for c in model._coefnames_z]
    x_names = [str(c) for c in model._coefnames]
    exog = [c for c in x_names if c in z_names]
    endog = [c for c in x_names if c not in z_names]
    excluded = [c for c in z_names if c not in x_names]
    Z, X = np.asarray(model._Z, dtype=float), np.asarray(model._X, dtype=float)
    frame = pd.DataFrame(X, columns=x_names).assign(**{c: Z[:, z_names.index(c)] for c in excluded})
    y = pd.Series(np.asarray(model._Y, dtype=float).ravel(), name="y")
    clusters = cluster_columns(vce)
    kind = vce.split(":")[0].lower()
    if clusters:
        groups = pd.DataFrame({c: pd.factorize(model._data[c])[0] for c in clusters})
        kw = {"cov_type": "clustered", "clusters": groups}
    else:
        kw = {"cov_type": "robust" if kind in ("hetero", "robust") else "unadjusted"}
    fit = IVLIML(y, frame[exog] if exog else None, frame[endog], frame[excluded]).fit(debiased=True, **kw)
    n, k, fe = len(y), len(x_names), _fe_dof(model)
    scale = math.sqrt((n - k) / (n - k - fe)) if fe else 1.0  # the absorbed effects counted as dummies would be
    coef = fit.params.reindex(x_names).to_numpy()
    se = fit.std_errors.reindex(x_names).to_numpy() * scale
    t = coef / se
    df = min(len(np.unique(model._data[c])) for c in clusters) - 1 if clusters else n - k - fe
    p = 2 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(0.975, df) * se
    return pd.DataFrame({"term": x_names, "coef": coef, "se": se, "t": t, "p": p, "ci_low": coef - half,
                         "ci_high": coef + half})
