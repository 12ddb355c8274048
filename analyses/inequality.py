"""Gini and the Dagum (1997) Gini decomposition by groups, with O(n log n) pair sums.

Dagum, C. (1997), "A new approach to the decomposition of the Gini income inequality ratio",
Empirical Economics 22: 515–531; as used for the within-city nighttime-light gap of paper 001
(papers-000-001.md, formulas (2)–(3), reconstructed there). Written here because no installed
library offers the decomposition (PySAL's `inequality` has Gini and Theil only, and is not a
dependency); the formulas:

    G    = Σ_j Σ_h Σ_i Σ_r |y_ji − y_hr| / (2 n² μ)
    G_jj = Σ_i Σ_r |y_ji − y_jr| / (2 n_j² μ_j)
    G_jh = Σ_i Σ_r |y_ji − y_hr| / (n_j n_h (μ_j + μ_h))
    p_j = n_j / n,  s_j = n_j μ_j / (n μ)
    D_jh = (d_jh − p_jh) / (d_jh + p_jh) = |μ_j − μ_h| / E|y_j − y_h|
    G_w  = Σ_j G_jj p_j s_j
    G_nb = Σ_{j<h} G_jh (p_j s_h + p_h s_j) D_jh
    G_t  = Σ_{j<h} G_jh (p_j s_h + p_h s_j) (1 − D_jh)
    G = G_w + G_nb + G_t

(d_jh − p_jh = μ_j − μ_h and d_jh + p_jh = E|y_j − y_h| for the group with the larger mean j, so D
needs only the pair sums.) Pair sums S_jh = Σ_i Σ_r |y_ji − y_hr| come from sorting each group once
and a cumulative sum: for y against sorted group h with c values ≤ y and their sum L,
Σ_r |y − y_hr| = y c − L + (total_h − L) − y (n_h − c). That is O(n log n_h) per group h, never n².

Example::

    res = dagum(values, groups)
    res.g, res.g_w, res.g_nb, res.g_t, res.within  # within: G_jj by group
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DagumResult", "dagum", "dagum_panel", "gini", "pair_abs_sums"]


@dataclass(frozen=True)
class DagumResult:
    """Overall Gini G, its three components, and the group-level terms (groups in `labels` order)."""

    g: float
    g_w: float
    g_nb: float
    g_t: float
    labels: np.ndarray  # group labels
    n: np.ndarray  # units per group
    mean: np.ndarray  # group means μ_j
    within: np.ndarray  # G_jj
    between: np.ndarray  # G_jh (k x k, diagonal = G_jj)
    d: np.ndarray  # D_jh (k x k, symmetric, 0 on the diagonal)

    @property
    def shares(self) -> tuple[float, float, float]:
        """Contribution shares of G_w, G_nb, G_t in G (they add up to 1)."""
        return (self.g_w / self.g, self.g_nb / self.g, self.g_t / self.g) if self.g > 0 else (np.nan,) * 3


def gini(values: np.ndarray) -> float:
    """Gini = Σ_i Σ_r |y_i − y_r| / (2 n² μ), by the sorted formula Σ_i (2i − n − 1) y_(i) / (n² μ)."""
    y = np.sort(np.asarray(values, dtype=float))
    n = len(y)
    if n == 0 or y.sum() == 0:
        return float("nan") if n == 0 else 0.0
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * y).sum() / (n * n * y.mean()))


def pair_abs_sums(values: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """S[j, h] = Σ_{i in j} Σ_{r in h} |y_i − y_r| for groups coded 0..k−1 (each non-empty), via sorting."""
    y = np.asarray(values, dtype=float)
    order = np.lexsort((y, codes))  # by group, then value: each group's sorted values are one slice
    ys, cs = y[order], codes[order]
    bounds = np.searchsorted(cs, np.arange(k + 1))
    out = np.zeros((k, k))
    for h in range(k):
        yh = ys[bounds[h]:bounds[h + 1]]
        csum = np.concatenate(([0.0], np.cumsum(yh)))
        c = np.searchsorted(yh, ys, side="right")
        contrib = ys * (2 * c - len(yh)) + csum[-1] - 2 * csum[c]  # = y c − L + (T − L) − y (n_h − c)
        out[:, h] = np.add.reduceat(contrib, bounds[:-1])
    return (out + out.T) / 2  # exact symmetry; both halves are the same sums up to rounding


def dagum(values: np.ndarray, groups: np.ndarray) -> DagumResult:
    """Dagum decomposition of the Gini of `values` by `groups` (values must be non-negative, mean > 0)."""
    y = np.asarray(values, dtype=float)
    if len(y) == 0:
        raise ValueError("dagum: no values")
    if np.isnan(y).any() or (y < 0).any() or y.sum() <= 0:
        raise ValueError("dagum: values must be non-negative, without missing values, and not all zero")
    labels, codes = np.unique(np.asarray(groups), return_inverse=True)
    k, n_all = len(labels), len(y)
    n = np.bincount(codes, minlength=k).astype(float)
    mean = np.bincount(codes, weights=y, minlength=k) / n
    mu = y.mean()
    s = pair_abs_sums(y, codes, k)
    p_j, s_j = n / n_all, n * mean / (n_all * mu)
    between = s / (np.outer(n, n) * (mean[:, None] + mean[None, :]))
    within = np.diag(s) / (2 * n * n * mean)
    np.fill_diagonal(between, within)
    e_abs = s / np.outer(n, n)  # E|y_j − y_h|
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(e_abs > 0, np.abs(mean[:, None] - mean[None, :]) / e_abs, 0.0)
    np.fill_diagonal(d, 0.0)
    weight = np.outer(p_j, s_j) + np.outer(s_j, p_j)  # p_j s_h + p_h s_j
    upper = np.triu(np.ones((k, k), dtype=bool), 1)
    g_w = float((within * p_j * s_j).sum())
    g_nb = float((between * weight * d)[upper].sum())
    g_t = float((between * weight * (1 - d))[upper].sum())
    g = float(s.sum() / (2 * n_all * n_all * mu))
    return DagumResult(g, g_w, g_nb, g_t, labels, n.astype(int), mean, within, between, d)


def dagum_panel(frame: pd.DataFrame, value: str, group: str, by: str = "year") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dagum decomposition per `by` (e.g. year) of a tidy frame.

    Returns (totals: one row per `by` with n_units, n_groups, g, g_w, g_nb, g_t and shares;
    groups: one row per `by` and group with n_units, mean and the within-group Gini G_jj).
    """
    totals, groups = [], []
    for key, part in frame.dropna(subset=[value]).groupby(by, sort=True):
        res = dagum(part[value].to_numpy(), part[group].to_numpy())
        sw, snb, st = res.shares
        totals.append({by: key, "n_units": int(res.n.sum()), "n_groups": len(res.labels), "g": res.g,
                       "g_w": res.g_w, "g_nb": res.g_nb, "g_t": res.g_t,
                       "share_w": sw, "share_nb": snb, "share_t": st})
        groups.append(pd.DataFrame({by: key, group: res.labels, "n_units": res.n, "mean": res.mean,
                                    "gini_within": res.within}))
    total_cols = [by, "n_units", "n_groups", "g", "g_w", "g_nb", "g_t", "share_w", "share_nb", "share_t"]
    group_cols = [by, group, "n_units", "mean", "gini_within"]
    return (pd.DataFrame(totals, columns=total_cols),
            pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(columns=group_cols))
