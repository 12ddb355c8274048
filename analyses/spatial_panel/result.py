"""The result of `spatial_panel`: estimates, effects, tests and provenance, with tables one method away."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

MODEL_NAMES = {"sar": "SAR", "sdm": "SDM", "sem": "SEM", "sdem": "SDEM", "slx": "SLX", "ols": "OLS"}


@dataclass
class SpatialPanelResult:
    """Estimates (`params`, `bse`, `vcov`, `estimates`), `effects` (LeSage–Pace), `tests`, fit statistics.

    `r2` is 1 − e'e / Σ(y* − ȳ*)² on the demeaned data; `r2_corr` the squared correlation of y* and the
    fitted systematic part (Elhorst's corr², which ignores the spatial multiplier).
    """

    formula: str
    model: str
    effects_kind: str
    lee_yu: bool
    convention: str
    params: pd.Series
    bse: pd.Series
    vcov: pd.DataFrame
    estimates: pd.DataFrame
    sigma2: float
    loglik: float
    r2: float
    r2_corr: float
    n_units: int
    n_periods: int
    nobs: int
    logdet_method: str
    vcov_method: str
    effects: pd.DataFrame
    tests: pd.DataFrame
    y_name: str
    data_source: str
    w_source: str
    from_warehouse: bool
    fingerprint: str
    unit: str
    time: str
    durbin: list[str]
    draws: int
    seed: int
    started_at: datetime
    finished_at: datetime
    residuals: np.ndarray = field(repr=False)
    quality_status: str = "not-checked"
    vce: str = "oim"  # oim | robust | cluster (analyses.spatial_panel.robust)
    scores: np.ndarray | None = field(default=None, repr=False)  # per-row scores (NT × params) when vce ≠ oim
    dynamic: bool = False  # y_{t−1} and W y_{t−1} as regressors (tau, eta); see analyses.spatial_panel.dynamic
    bias_corrected: bool = False  # dynamic: Yu–de Jong–Lee correction applied to `params`
    uncorrected: pd.Series | None = None  # dynamic: the QML before the bias correction
    logdet_detail: str = ""  # the log-determinant's settings and error bound (Spectrum.describe)

    @property
    def name(self) -> str:
        return ("dynamic " if self.dynamic else "") + MODEL_NAMES[self.model]

    def spec(self) -> dict:
        """Everything needed to refit: formula, model, effects, conventions, sources."""
        return {"formula": self.formula, "model": self.model, "effects": self.effects_kind, "lee_yu": self.lee_yu,
                "convention": self.convention, "durbin": self.durbin, "unit": self.unit, "time": self.time,
                "data": self.data_source, "w": self.w_source, "logdet": self.logdet_method,
                **({"logdet_detail": self.logdet_detail} if self.logdet_detail else {}),
                "vcov": self.vcov_method, "vce": self.vce, "draws": self.draws, "seed": self.seed,
                **({"dynamic": True, "bias_correction": self.bias_corrected} if self.dynamic else {})}

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: term, estimate, std_error, z, p_value."""
        return self.estimates.reset_index()

    def summary(self) -> str:
        """A plain-text report: header, coefficients, effects and tests."""
        head = (f"{self.name} panel, {self.effects_kind} effects{' (Lee–Yu)' if self.lee_yu else ''}: "
                f"{self.formula}\nN = {self.n_units} units × T = {self.n_periods} periods = {self.nobs} obs; "
                f"log L = {self.loglik:.4f}; sigma2 = {self.sigma2:.6g}; R2 = {self.r2:.4f}; "
                f"corr2 = {self.r2_corr:.4f}\nlikelihood: {self.convention}; log-determinant: "
                f"{self.logdet_detail or self.logdet_method}; variance: {self.vcov_method}\n"
                f"data: {self.data_source}; W: {self.w_source}; "
                f"quality: {self.quality_status}")
        table = self.estimates if self.uncorrected is None else self.estimates.assign(uncorrected=self.uncorrected)
        parts = [head, table.to_string(float_format=lambda v: f"{v:.6f}")]
        if len(self.effects):
            eff = self.effects.pivot(index="variable", columns="effect", values=["estimate", "std_error"])
            parts.append("effects (LeSage–Pace; SE by simulation, "
                         f"{self.draws} draws)\n" + eff.to_string(float_format=lambda v: f"{v:.6f}"))
        parts.append(self.tests.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return "\n\n".join(parts)

    def to_table(self, fmt: str = "markdown", stars: tuple[float, ...] = (0.1, 0.05, 0.01), stat: str = "se") -> str:
        """The paper-style coefficient table of this model (see `analyses.spatial_panel.tables`)."""
        from analyses.spatial_panel.tables import regression_table

        return regression_table([self], fmt=fmt, stars=stars, stat=stat)

    def to_json(self) -> str:
        """Spec, fit statistics, estimates, effects and tests as JSON."""
        return json.dumps({
            "spec": self.spec(), "n_units": self.n_units, "n_periods": self.n_periods, "nobs": self.nobs,
            "loglik": self.loglik, "sigma2": self.sigma2, "r2": self.r2, "fingerprint": self.fingerprint,
            "quality_status": self.quality_status,
            "estimates": self.to_frame().to_dict(orient="records"),
            "effects": self.effects.to_dict(orient="records"), "tests": self.tests.to_dict(orient="records"),
        }, indent=2, default=float)
