"""Drivers of targets: XGBoost per target, its five importance types with the paper's summary table, TreeSHAP.

    fit = drivers(panel, targets=["energy_total", "carbon_total"], features=["pgdp", "urban", "patents"],
                  labels={"pgdp": "人均GDP"}, seed=20250401)
    fit.importance("energy_total")     # feature × weight, gain, cover, total_gain, total_cover
    fit.summary("energy_total")        # per type: mean, SD, CV, above/below-mean counts, top-5, bottom-3
    fit.frequencies("energy_total")    # per feature: in how many of the 5 types it is top-5 / bottom-3
    fit.shap_ranking("energy_total")   # mean |SHAP| per feature, largest first
    fit.stability(seeds=range(5))      # rankings over seeds: the same top-k?
    fit.plot_shap_bar("energy_total", path="shap_bar.png"); fit.plot_beeswarm(...); fit.plot_importance(...)

Methods and sources: paper 003-P11 (杜明军 2025, Tables 2–3) fits one XGBoost regressor per "dual-control" target
and compares XGBoost's five built-in importance types (Chen & Guestrin 2016; xgboost `Booster.get_score`):
weight (number of splits on the feature), total_gain / total_cover (summed loss reduction / summed hessian of
those splits) and gain / cover (their means per split, so total_gain = weight × gain and total_cover = weight ×
cover). TreeSHAP (Lundberg et al. 2020, `shap.TreeExplainer`) gives each case's additive attribution: the
SHAP values of a row sum to its prediction minus the expected value.

Hyper-parameters (the paper reports none; these are documented defaults, `params=` overrides any of them):
500 trees, depth 4, learning rate 0.05, row and column subsampling 0.8, min_child_weight 1, L2 penalty 1,
squared-error objective, exact tree method, one thread (so a seed gives the same model on every machine).
Fit is judged out of sample by K-fold cross-validation (R², RMSE); importances and SHAP come from the fit on
all rows, as in the paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

IMPORTANCE_TYPES = ("weight", "gain", "cover", "total_gain", "total_cover")
TYPE_LABELS = {"weight": "weight 分裂次数", "gain": "gain 平均增益", "cover": "cover 平均覆盖",
               "total_gain": "total_gain 总增益", "total_cover": "total_cover 总覆盖"}
DEFAULT_PARAMS = {"n_estimators": 500, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8,
                  "colsample_bytree": 0.8, "min_child_weight": 1.0, "reg_lambda": 1.0,
                  "objective": "reg:squarederror", "tree_method": "exact", "n_jobs": 1}
DEFAULT_SEED = 20250401


class DriversError(ValueError):
    """Input the driver analysis cannot use (unknown columns, too few rows, a constant target …)."""


@dataclass
class TargetFit:
    """One target's model: the fitted regressor, its importances, cross-validated fit and SHAP values."""

    target: str
    features: list[str]
    model: object
    X: pd.DataFrame
    y: np.ndarray
    importance: pd.DataFrame
    cv: pd.DataFrame
    shap_values: np.ndarray
    expected_value: float

    @property
    def shap_ranking(self) -> pd.Series:
        """Mean |SHAP| per feature, largest first."""
        return pd.Series(np.abs(self.shap_values).mean(axis=0), index=self.features,
                         name="mean_abs_shap").sort_values(ascending=False, kind="stable")


def fit_target(X: pd.DataFrame, y: np.ndarray, target: str, *, params: Mapping | None = None,
               seed: int = DEFAULT_SEED, folds: int = 5) -> TargetFit:
    """XGBoost on one target: K-fold CV fit, then the fit on all rows, its five importances and TreeSHAP."""
    import shap
    import xgboost as xgb
    from sklearn.model_selection import KFold

    p = {**DEFAULT_PARAMS, **(params or {}), "random_state": seed}
    features = list(X.columns)
    rows = []
    if folds >= 2:
        for k, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(X)):
            m = xgb.XGBRegressor(**p).fit(X.iloc[train], y[train])
            pred = m.predict(X.iloc[test])
            resid = y[test] - pred
            ss_tot = ((y[test] - y[test].mean()) ** 2).sum()
            rows.append({"fold": k + 1, "n_test": len(test), "rmse": float(np.sqrt((resid ** 2).mean())),
                         "r2": float(1 - (resid ** 2).sum() / ss_tot) if ss_tot > 0 else float("nan")})
    cv = pd.DataFrame(rows, columns=["fold", "n_test", "rmse", "r2"])
    model = xgb.XGBRegressor(**p).fit(X, y)
    booster = model.get_booster()
    imp = pd.DataFrame({t: pd.Series(booster.get_score(importance_type=t), dtype=float) for t in IMPORTANCE_TYPES})
    imp = imp.reindex(features).fillna(0.0)  # a feature never split on scores 0 in every type
    imp.index.name = "feature"
    explainer = shap.TreeExplainer(model)
    values = np.asarray(explainer.shap_values(X), dtype=float)
    expected = float(np.ravel(explainer.expected_value)[0])
    return TargetFit(target, features, model, X, np.asarray(y, dtype=float), imp, cv, values, expected)


def importance_summary(imp: pd.DataFrame, *, top: int = 5, bottom: int = 3, ddof: int = 1,
                       labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The paper's summary per importance type: mean, SD (ddof=1), CV = SD/mean, how many features score above
    and below the mean, and the top-`top` and bottom-`bottom` features (ties kept in feature order)."""
    labels = labels or {}
    rows = []
    for t in imp.columns:
        s = imp[t]
        mean, sd = float(s.mean()), float(s.std(ddof=ddof))
        order = s.sort_values(ascending=False, kind="stable")
        rows.append({"type": t, "mean": mean, "sd": sd, "cv": sd / mean if mean else float("nan"),
                     "n_above_mean": int((s > mean).sum()), "n_below_mean": int((s < mean).sum()),
                     f"top{top}": ", ".join(labels.get(f, f) for f in order.index[:top]),
                     f"bottom{bottom}": ", ".join(labels.get(f, f) for f in order.index[::-1][:bottom])})
    return pd.DataFrame(rows).set_index("type")


def rank_frequencies(imp: pd.DataFrame, *, top: int = 5, bottom: int = 3) -> pd.DataFrame:
    """Per feature: in how many importance types it is among the top `top` and among the bottom `bottom`."""
    out = pd.DataFrame(0, index=imp.index, columns=[f"top{top}", f"bottom{bottom}"])
    for t in imp.columns:
        order = imp[t].sort_values(ascending=False, kind="stable").index
        out.loc[order[:top], f"top{top}"] += 1
        out.loc[order[::-1][:bottom], f"bottom{bottom}"] += 1
    return out.sort_values([f"top{top}", f"bottom{bottom}"], ascending=[False, True], kind="stable")


@dataclass
class Drivers:
    """XGBoost importance and TreeSHAP for each target on the same features (paper 003-P11)."""

    frame: pd.DataFrame
    targets: list[str]
    features: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    folds: int = 5
    other_targets_as_features: bool = False
    source: str = "DataFrame"
    quality: str = "not-checked"
    fits: dict[str, TargetFit] = field(init=False)

    def __post_init__(self) -> None:
        self.fits = {}
        for target in self.targets:
            X, y = self.design(target)
            self.fits[target] = fit_target(X, y, target, params=self.params, seed=self.seed, folds=self.folds)

    def features_of(self, target: str) -> list[str]:
        """The features of `target`'s model: the drivers, plus the other targets when asked (as the paper)."""
        extra = [t for t in self.targets if t != target] if self.other_targets_as_features else []
        return [f for f in dict.fromkeys(self.features + extra) if f != target]

    def design(self, target: str) -> tuple[pd.DataFrame, np.ndarray]:
        """Features and target of the rows where the target is known (missing features are left to XGBoost)."""
        cols = self.features_of(target)
        rows = self.frame[self.frame[target].notna()]
        if len(rows) < max(10, 2 * self.folds):
            raise DriversError(f"{self.source}: {target} has {len(rows)} rows with a value; too few to fit a model")
        if rows[target].nunique() < 2:
            raise DriversError(f"{self.source}: {target} is constant; nothing to explain")
        return rows[cols].astype(float), rows[target].to_numpy(float)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def importance(self, target: str) -> pd.DataFrame:
        """Feature × the five importance types (weight, gain, cover, total_gain, total_cover)."""
        return self.fits[target].importance

    def summary(self, target: str, **kw) -> pd.DataFrame:
        """The paper's table: per type mean, SD, CV, above/below-mean counts, top-5 and bottom-3."""
        return importance_summary(self.fits[target].importance, labels=self.labels, **kw)

    def frequencies(self, target: str, **kw) -> pd.DataFrame:
        """Per feature (with its label): top-5 and bottom-3 counts across the five types."""
        freq = rank_frequencies(self.fits[target].importance, **kw)
        freq.insert(0, "label", [self.label(f) for f in freq.index])
        return freq

    def shap_ranking(self, target: str) -> pd.Series:
        """Mean |SHAP| per feature, largest first."""
        return self.fits[target].shap_ranking

    def cv_fit(self) -> pd.DataFrame:
        """Cross-validated R² and RMSE per target (mean and SD over folds)."""
        rows = []
        for t, f in self.fits.items():
            rows.append({"target": t, "n": len(f.y), "folds": len(f.cv), "r2_mean": f.cv["r2"].mean(),
                         "r2_sd": f.cv["r2"].std(), "rmse_mean": f.cv["rmse"].mean(), "rmse_sd": f.cv["rmse"].std()})
        return pd.DataFrame(rows)

    def paper_table(self, target: str, digits: int = 2) -> pd.DataFrame:
        """Table 2/3 of the paper: one row per feature (labelled) with the five types, then mean, SD and CV."""
        imp = self.importance(target).copy()
        summ = self.summary(target)
        imp.index = [self.label(f) for f in imp.index]
        stats = summ[["mean", "sd", "cv"]].T.rename(index={"mean": "均值 mean", "sd": "标准差 SD",
                                                            "cv": "变异系数 CV"})
        return pd.concat([imp, stats]).round(digits)

    def stability(self, seeds: Iterable[int] = range(5), *, k: int = 5) -> pd.DataFrame:
        """Refit every target with each seed: per target, importance type and SHAP, the share of seeds whose
        top-k set equals the first seed's, and the mean Kendall τ of the full rankings with it."""
        from scipy.stats import kendalltau

        seeds = list(seeds)
        rows = []
        for target in self.targets:
            X, y = self.design(target)
            runs = [fit_target(X, y, target, params=self.params, seed=s, folds=0) for s in seeds]
            for kind in (*IMPORTANCE_TYPES, "shap"):
                scores = [(r.shap_ranking.reindex(r.features) if kind == "shap" else r.importance[kind]) for r in runs]
                tops = [frozenset(s.sort_values(ascending=False, kind="stable").index[:k]) for s in scores]
                taus = [kendalltau(scores[0].to_numpy(), s.to_numpy()).statistic for s in scores[1:]]
                rows.append({"target": target, "importance": kind, "seeds": len(seeds),
                             f"same_top{k}": sum(t == tops[0] for t in tops) / len(tops),
                             "kendall_tau_mean": float(np.nanmean(taus)) if taus else 1.0,
                             f"top{k}_first_seed": ", ".join(self.label(f) for f in
                                                             scores[0].sort_values(ascending=False).index[:k])})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------------------------------ plots
    def plot_shap_bar(self, target: str, path: str | Path | None = None, top: int | None = None):
        """Bar chart of mean |SHAP| per feature (largest on top), Chinese labels."""
        from analyses import plots

        ranking = self.shap_ranking(target).iloc[: top or None][::-1]
        names = [self.label(f) for f in ranking.index]
        title = f"{self.label(target)}：平均 |SHAP| mean |SHAP|"
        plots.use_cjk_font()
        plots.ensure_renderable(title, *names)
        fig, ax = plots.plt.subplots(figsize=(6.4, 0.38 * len(names) + 1.2))
        ax.barh(names, ranking.to_numpy(), color="#3b6ea8")
        ax.set_xlabel("mean |SHAP value|（对预测的平均影响）")
        ax.set_title(title)
        plots.save_figure(fig, path)
        return fig

    def plot_beeswarm(self, target: str, path: str | Path | None = None, top: int | None = None, seed: int = 0):
        """Beeswarm of SHAP values: one row per feature (by mean |SHAP|), each dot a case coloured by the
        feature's value (low blue → high red), as shap's summary plot draws it."""
        from analyses import plots

        fit = self.fits[target]
        order = list(fit.shap_ranking.index[: top or None])[::-1]
        names = [self.label(f) for f in order]
        title = f"{self.label(target)}：SHAP 值分布 beeswarm"
        plots.use_cjk_font()
        plots.ensure_renderable(title, *names)
        rng = np.random.default_rng(seed)
        fig, ax = plots.plt.subplots(figsize=(7.2, 0.42 * len(names) + 1.4))
        for row, f in enumerate(order):
            j = fit.features.index(f)
            sv = fit.shap_values[:, j]
            x = fit.X[f].to_numpy(float)
            lo, hi = np.nanpercentile(x, 5), np.nanpercentile(x, 95)
            colour = np.clip((x - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(x, 0.5)
            jitter = _swarm_offsets(sv, rng)
            sc = ax.scatter(sv, row + jitter, c=colour, cmap="coolwarm", s=10, alpha=0.8, vmin=0, vmax=1,
                            linewidths=0)
        ax.axvline(0, color="#888888", lw=0.8)
        ax.set_yticks(range(len(order)), names)
        ax.set_xlabel("SHAP 值（对预测的影响）SHAP value")
        ax.set_title(title)
        bar = fig.colorbar(sc, ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
        bar.ax.set_yticklabels(["低 low", "高 high"])
        bar.set_label("特征值 feature value")
        plots.save_figure(fig, path)
        return fig

    def plot_importance(self, target: str, path: str | Path | None = None):
        """The five importance types side by side (each scaled to its largest feature), Chinese labels."""
        from analyses import plots

        imp = self.importance(target)
        order = imp["total_gain"].sort_values(kind="stable").index
        names = [self.label(f) for f in order]
        title = f"{self.label(target)}：XGBoost 五种特征重要性"
        plots.use_cjk_font()
        plots.ensure_renderable(title, *names, *TYPE_LABELS.values())
        fig, axes = plots.plt.subplots(1, 5, figsize=(15, 0.36 * len(names) + 1.6), sharey=True)
        for ax, t in zip(axes, IMPORTANCE_TYPES, strict=True):
            v = imp.loc[order, t].to_numpy()
            ax.barh(names, v / v.max() if v.max() > 0 else v, color="#3b6ea8")
            ax.axvline(imp[t].mean() / v.max() if v.max() > 0 else 0, color="#d7191c", lw=0.9, ls="--")
            ax.set_title(TYPE_LABELS[t], fontsize=10)
            ax.set_xlim(0, 1.05)
        fig.suptitle(title + "（按最大值归一，虚线为均值）")
        plots.save_figure(fig, path)
        return fig

    def as_dict(self) -> dict:
        """Everything as plain JSON-ready data."""
        out = {"source": self.source, "seed": self.seed, "folds": self.folds,
               "params": {**DEFAULT_PARAMS, **self.params}, "targets": {}}
        for t, f in self.fits.items():
            out["targets"][t] = {
                "n": len(f.y), "features": f.features,
                "cv": f.cv.to_dict("records"),
                "importance": f.importance.reset_index().to_dict("records"),
                "summary": self.summary(t).reset_index().to_dict("records"),
                "frequencies": self.frequencies(t).reset_index().to_dict("records"),
                "shap_mean_abs": self.shap_ranking(t).to_dict(), "expected_value": f.expected_value}
        return out

    def write(self, out: str | Path) -> list[Path]:
        """Write each target's tables (CSV, UTF-8 with BOM) and plots (PNG) into folder `out`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for t in self.targets:
            for name, frame in (("importance", self.paper_table(t, digits=6)), ("summary", self.summary(t)),
                                ("frequencies", self.frequencies(t)), ("shap", self.shap_ranking(t).to_frame())):
                p = out / f"{t}_{name}.csv"
                frame.to_csv(p, encoding="utf-8-sig")
                written.append(p)
            for name, draw in (("importance", self.plot_importance), ("shap_bar", self.plot_shap_bar),
                               ("shap_beeswarm", self.plot_beeswarm)):
                p = out / f"{t}_{name}.png"
                fig = draw(t, path=p)
                _close(fig)
                written.append(p)
        p = out / "cv_fit.csv"
        self.cv_fit().to_csv(p, index=False, encoding="utf-8-sig")
        return [*written, p]


def _close(fig) -> None:
    from analyses import plots

    plots.plt.close(fig)


def _swarm_offsets(values: np.ndarray, rng: np.random.Generator, width: float = 0.36, bins: int = 60) -> np.ndarray:
    """Vertical offsets that spread dots with similar values (a histogram-shaped swarm)."""
    if len(values) == 0 or np.ptp(values) == 0:
        return rng.uniform(-width / 3, width / 3, len(values))
    idx = np.clip(((values - values.min()) / np.ptp(values) * bins).astype(int), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    scale = width / max(counts.max(), 1)
    out = np.zeros(len(values))
    seen = np.zeros(bins, dtype=int)
    for i in rng.permutation(len(values)):
        b = idx[i]
        k = seen[b]
        seen[b] += 1
        out[i] = ((k + 1) // 2) * (1 if k % 2 else -1) * scale
    return out


def _quality_gate(con, panel, allow_failing_checks: bool) -> str:
    """The quality-gate status of the warehouse tables the data were read from (`geopanel check` must have
    passed on their current contents unless allow_failing_checks); files and frames are 'not-checked'."""
    from warehouse.quality.gate import gate_status

    return gate_status(con, panel.tables if panel.from_warehouse else [], allow_failing_checks).status


def drivers(data, targets: Sequence[str], features: Sequence[str], *, unit: str | None = None,
            time: str | None = None, labels: Mapping[str, str] | None = None, params: Mapping | None = None,
            seed: int = DEFAULT_SEED, folds: int = 5, other_targets_as_features: bool = False,
            where: str | None = None, con=None, allow_failing_checks: bool = False) -> Drivers:
    """XGBoost importance and TreeSHAP of `features` for each of `targets`, on `data` read through the data
    contract (`warehouse.panel_data.read_panel`: DataFrame, table/view, SQL query or file); every unit-year
    row is an observation, as in paper 003-P11. Warehouse tables must have passed `geopanel check` (the
    quality gate) unless allow_failing_checks."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    targets, features = list(targets), list(features)
    if not targets or not features:
        raise DriversError("name at least one target and one feature")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, where=where,
                           columns=list(dict.fromkeys(targets + features)), require_unit=False)
    except DataError as exc:
        raise DriversError(str(exc)) from exc
    quality = _quality_gate(con, panel, allow_failing_checks)
    frame = panel.frame
    for col in dict.fromkeys(targets + features):
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            raise DriversError(f"{panel.source}: column {col!r} is not numeric ({frame[col].dtype})")
    return Drivers(frame, targets, features, labels=dict(labels or {}), params=dict(params or {}), seed=seed,
                   folds=folds, other_targets_as_features=other_targets_as_features, source=panel.source,
                   quality=quality)


DRIVER_DDL = """run_id varchar, target varchar, feature varchar, label varchar, importance varchar, value double,
    rank integer"""


def importance_rows(fit: Drivers) -> pd.DataFrame:
    """Long rows (target, feature, label, importance, value, rank): the five types and mean |SHAP| per target,
    rank 1 = most important; what `store_drivers` writes to analysis.driver_importance."""
    rows = []
    for t, f in fit.fits.items():
        scores = {**{k: f.importance[k] for k in IMPORTANCE_TYPES}, "mean_abs_shap": f.shap_ranking}
        for kind, s in scores.items():
            ranks = s.rank(ascending=False, method="first").astype(int)
            for feat, v in s.items():
                rows.append({"target": t, "feature": feat, "label": fit.label(feat), "importance": kind,
                             "value": float(v), "rank": int(ranks[feat])})
    return pd.DataFrame(rows)


def store_drivers(con, fit: Drivers, spec: Mapping, started_at) -> list[str]:
    """Write one analysis.model_runs row per target (kind 'xgboost', with its CV R² and RMSE in
    analysis.model_tests) and the importances in analysis.driver_importance, in one transaction."""
    import json
    import uuid
    from datetime import UTC, datetime

    from analyses.runs import DDL, geopanel_version
    from warehouse.db import insert_frame, transaction

    runs, tests, rows = [], [], []
    imp = importance_rows(fit)
    cv = fit.cv_fit().set_index("target")
    for t, f in fit.fits.items():
        run_id = uuid.uuid4().hex[:16]
        runs.append({"run_id": run_id, "kind": "xgboost", "model": "XGBRegressor + TreeSHAP", "dependent": t,
                     "formula": f"{t} ~ {' + '.join(f.features)}", "data_source": fit.source, "nobs": len(f.y),
                     "r2": float(cv.loc[t, "r2_mean"]) if len(f.cv) else None,
                     "spec_json": json.dumps({**dict(spec), "params": {**DEFAULT_PARAMS, **fit.params},
                                              "seed": fit.seed}, ensure_ascii=False, default=str),
                     "quality_status": fit.quality, "started_at": started_at, "finished_at": datetime.now(UTC),
                     "geopanel_version": geopanel_version()})
        for m in ("r2", "rmse"):
            if len(f.cv):
                tests.append({"run_id": run_id, "test": f"cv_{m}", "statistic": float(f.cv[m].mean()),
                              "df": len(f.cv), "p_value": None, "note": f"{len(f.cv)}-fold mean; sd "
                              f"{float(f.cv[m].std()):.4g}"})
        rows.append(imp[imp["target"] == t].assign(run_id=run_id))
    with transaction(con):
        for table in ("model_runs", "model_tests"):
            con.execute(f"create table if not exists analysis.{table} ({DDL[table]})")
        con.execute(f"create table if not exists analysis.driver_importance ({DRIVER_DDL})")
        insert_frame(con, "analysis.model_runs", pd.DataFrame(runs))
        if tests:
            insert_frame(con, "analysis.model_tests", pd.DataFrame(tests))
        insert_frame(con, "analysis.driver_importance", pd.concat(rows, ignore_index=True))
    return [r["run_id"] for r in runs]
