"""Gini and the Dagum (1997) Gini decomposition by groups, with blocked sorted pair sums.

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
needs only the pair sums.) Pair sums S_jh = Σ_i Σ_r |y_ji − y_hr| come from one sort of all units: in
sorted order |y_i − y_r| is the later value minus the earlier one, so S needs only, for each group pair,
the sum of the later values over the pairs (see `pair_abs_sums`), accumulated block by block with one
small matrix product; never n² (40,000 units in 300 groups: ~0.03 s, 51× all pairs per group pair,
tests/benchmarks/bench_dagum.py).

Example::

    res = dagum(values, groups)
    res.g, res.g_w, res.g_nb, res.g_t, res.within  # within: G_jj by group
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache

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


_PAIRS_PER_PASS = 4_000_000  # within-block pairs gathered at a time (~100 MB of temporaries)


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # not installed: BLAS keeps its own thread count
        return None
    return ThreadpoolController()


def _one_blas_thread():
    """A context running BLAS on one thread: the k × blocks product is small (~5 ms), and OpenBLAS's threads
    spinning for a busy second core made it 2–3× slower on this 2-core machine (bench_dagum: 0.07 s vs 0.03 s)."""
    ctl = _blas_controller()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def pair_abs_sums(values: np.ndarray, codes: np.ndarray, k: int, block: int = 32) -> np.ndarray:
    """S[j, h] = Σ_{i in j} Σ_{r in h} |y_i − y_r| for groups coded 0..k−1 (each non-empty).

    With the units sorted by value (ties in any fixed order) and X[j, h] = Σ y_i over the pairs where a
    unit r of h comes before a unit i of j,  S[j, h] = 2 (X[j, h] + X[h, j]) − n_j T_h − n_h T_j  (+ 2 T_j on
    the diagonal), T_j being group sums. X is accumulated over blocks of `block` consecutive sorted units:
    pairs in different blocks by one (k × blocks) @ (blocks × k) product of block group sums and counts,
    pairs inside a block by a bincount. Values are shifted by their median first (S does not change) so
    that the differences lose as few digits as possible. O(n log n + n·block + k² n / block).
    """
    y = np.asarray(values, dtype=float)
    codes = np.asarray(codes)
    n, kk = len(y), k + 1  # group k pads the last block
    order = np.argsort(y, kind="stable")
    ys = y[order] - y[order[n // 2]]
    cs = codes[order]
    block = max(int(block), -(-kk * n // 4_000_000))  # keeps the (k × blocks) matrices to ~4M entries
    nb = -(-n // block)
    pad = nb * block - n
    yb = np.concatenate((ys, np.zeros(pad))).reshape(nb, block)
    cb = np.concatenate((cs, np.full(pad, k))).reshape(nb, block)
    cell = (cb * nb + np.arange(nb)[:, None]).ravel()  # (group, block)
    ysum = np.bincount(cell, weights=yb.ravel(), minlength=kk * nb).reshape(kk, nb)
    count = np.bincount(cell, minlength=kk * nb).reshape(kk, nb).astype(float)
    with _one_blas_thread():
        x = ysum @ (np.cumsum(count, axis=1) - count).T  # i in a later block than r
    later, earlier = np.tril_indices(block, -1)  # i after r inside one block
    step = max(1, _PAIRS_PER_PASS // max(len(later), 1))  # blocks at a time (one pass at 40k units)
    for a in range(0, nb, step):
        cs_a, ys_a = cb[a:a + step], yb[a:a + step]
        x += np.bincount((cs_a[:, later] * kk + cs_a[:, earlier]).ravel(), weights=ys_a[:, later].ravel(),
                         minlength=kk * kk).reshape(kk, kk)
    x = x[:k, :k]
    n_g = np.bincount(cs, minlength=k).astype(float)
    t = np.bincount(cs, weights=ys, minlength=k)
    s = 2 * (x + x.T) - np.outer(n_g, t) - np.outer(t, n_g)
    s[np.diag_indices(k)] += 2 * t
    return s


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
