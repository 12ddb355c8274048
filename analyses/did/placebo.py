"""Randomisation placebo: the TWFE estimate under random pseudo-treatment, many times over.

As in papers 001 and the information-consumption paper: draw as many pseudo-treated units as there
are treated ones, give each a random adoption year, re-estimate, repeat R times; the true estimate
should sit in the tail of the placebo distribution. On a balanced panel the TWFE coefficient is
Σ ỹ·D̃ / Σ D̃² with ỹ, D̃ two-way demeaned (Frisch–Waugh–Lovell), so each replication is a few array
operations: the outcome is demeaned once and R replications run vectorised in chunks, faster than
running them in parallel processes. Checked in tests against pyfixest's TWFE on the same draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analyses.did.estimators import DIDError, _require


@dataclass
class PlaceboResult:
    """`estimates` (R placebo coefficients), `true_estimate`, two-sided randomisation `p_value`."""

    estimates: np.ndarray
    true_estimate: float
    n_treated: int
    seed: int

    @property
    def p_value(self) -> float:
        return float(np.mean(np.abs(self.estimates) >= abs(self.true_estimate)))

    def plot(self, path: str | Path, title: str = "安慰剂检验") -> Path:
        """Histogram and kernel density of the placebo estimates with the true estimate marked (001, Fig. 2)."""
        import matplotlib.pyplot as plt

        from analyses.plots import density_line, ensure_renderable, save_figure

        ensure_renderable(title)  # Chinese titles need the CJK font; never boxes

        path = Path(path)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(self.estimates, bins=40, density=True, color="#9dc3e6", edgecolor="white")
        density_line(ax, self.estimates, "#1f4e79", label="kernel density")
        ax.axvline(self.true_estimate, color="firebrick", ls="--", label=f"estimate {self.true_estimate:.4f}")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel("placebo coefficient")
        ax.set_ylabel("density")
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        save_figure(fig, path)
        plt.close(fig)
        return path


def demean_two_way(values: np.ndarray) -> np.ndarray:
    """Two-way demeaning of a balanced units × periods array (the last two axes)."""
    return (values - values.mean(axis=-1, keepdims=True) - values.mean(axis=-2, keepdims=True)
            + values.mean(axis=(-2, -1), keepdims=True))


def fwl_twfe(y_tilde: np.ndarray, d: np.ndarray) -> np.ndarray:
    """TWFE coefficient(s) of treatment arrays `d` (… × units × periods) on a two-way demeaned outcome."""
    d_tilde = demean_two_way(d)
    axes = (-2, -1)
    return (d_tilde * y_tilde).sum(axis=axes) / (d_tilde**2).sum(axis=axes)


def placebo(
    data: pd.DataFrame, y: str, true_estimate: float, n_treated: int, adoption_years: Sequence[int],
    unit: str = "unit", time: str = "year", reps: int = 500, seed: int = 20240601,
    progress: Callable[[int, int], None] | None = None, chunk: int = 50,
) -> PlaceboResult:
    """R replications of random pseudo-treatment (n_treated units, adoption years drawn from `adoption_years`)."""
    _require(data, [y, unit, time])
    wide = data.pivot(index=unit, columns=time, values=y)
    if wide.isna().any().any():
        raise DIDError("the placebo needs a balanced panel without missing outcomes; restrict the sample first")
    n_units, n_periods = wide.shape
    if not 0 < n_treated < n_units:
        raise DIDError(f"n_treated = {n_treated} must be between 1 and the number of units - 1 ({n_units - 1})")
    periods = wide.columns.to_numpy()
    years = np.asarray(adoption_years)
    if not np.isin(years, periods).all():
        raise DIDError(f"adoption years {sorted(set(years) - set(periods))} are outside the panel's years")
    y_tilde = demean_two_way(wide.to_numpy(dtype=float))
    rng = np.random.default_rng(seed)
    estimates = np.empty(reps)
    done = 0
    while done < reps:
        size = min(chunk, reps - done)
        d = np.zeros((size, n_units, n_periods))
        for r in range(size):
            units = rng.choice(n_units, size=n_treated, replace=False)
            starts = rng.choice(years, size=n_treated)
            d[r, units] = periods[None, :] >= starts[:, None]
        estimates[done:done + size] = fwl_twfe(y_tilde, d)
        done += size
        if progress:
            progress(done, reps)
    return PlaceboResult(estimates=estimates, true_estimate=true_estimate, n_treated=n_treated, seed=seed)
