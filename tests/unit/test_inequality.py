"""Gini and the Dagum decomposition (analyses/inequality.py) against direct all-pairs sums and hand work.

References: plain-Python double loops over every pair of units, written from the formulas of Dagum
(1997) as listed in papers-000-001.md (paper 001, formulas (2)–(3) and the decomposition), and
numbers worked by hand below.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analyses import inequality
from analyses.inequality import dagum, dagum_panel, gini, pair_abs_sums


def direct_dagum(y: list[float], g: list[str]) -> dict[str, float]:
    """All pairs, plain Python, straight from the formulas."""
    n, mu = len(y), sum(y) / len(y)
    groups = sorted(set(g))
    members = {k: [v for v, gg in zip(y, g, strict=True) if gg == k] for k in groups}
    mean = {k: sum(v) / len(v) for k, v in members.items()}
    p = {k: len(v) / n for k, v in members.items()}
    s = {k: len(v) * mean[k] / (n * mu) for k, v in members.items()}
    total = sum(abs(a - b) for a in y for b in y) / (2 * n * n * mu)
    g_w = sum(sum(abs(a - b) for a in v for b in v) / (2 * len(v) ** 2 * mean[k]) * p[k] * s[k]
              for k, v in members.items())
    g_nb = g_t = 0.0
    for j, h in itertools.combinations(groups, 2):
        if mean[j] < mean[h]:
            j, h = h, j
        yj, yh = members[j], members[h]
        g_jh = sum(abs(a - b) for a in yj for b in yh) / (len(yj) * len(yh) * (mean[j] + mean[h]))
        d_jh = sum(max(a - b, 0) for a in yj for b in yh) / (len(yj) * len(yh))
        p_jh = sum(max(b - a, 0) for a in yj for b in yh) / (len(yj) * len(yh))
        big_d = (d_jh - p_jh) / (d_jh + p_jh) if d_jh + p_jh > 0 else 0.0
        w = p[j] * s[h] + p[h] * s[j]
        g_nb += g_jh * w * big_d
        g_t += g_jh * w * (1 - big_d)
    return {"g": total, "g_w": g_w, "g_nb": g_nb, "g_t": g_t}


def test_gini_hand_worked():
    # y = 1, 2, 3: Σ|yi − yj| over ordered pairs = 2 (1+2+1) = 8; 8 / (2 · 9 · 2) = 2/9
    assert gini(np.array([1.0, 2.0, 3.0])) == pytest.approx(2 / 9, abs=1e-15)
    assert gini(np.array([5.0, 5.0, 5.0])) == 0.0


def test_dagum_hand_worked_two_groups():
    # A = {1, 3}, B = {5, 7}: n = 4, μ = 4; Σ over all ordered pairs = 40 -> G = 40 / (2·16·4) = 0.3125
    # G_AA = 4 / (2·4·2) = 0.25, G_BB = 4 / (2·4·6) = 1/12; p = 1/2 each, s_A = 1/4, s_B = 3/4
    # G_w = 0.25·0.5·0.25 + (1/12)·0.5·0.75 = 0.0625; S_AB = 16, G_AB = 16 / (4 · 8) = 0.5
    # E|yB − yA| = 4 = μB − μA, so D = 1 and G_t = 0: G_nb = 0.5 · (0.5·0.75 + 0.5·0.25) = 0.25
    res = dagum(np.array([1.0, 3.0, 5.0, 7.0]), np.array(["A", "A", "B", "B"]))
    assert (res.g, res.g_w, res.g_nb, res.g_t) == pytest.approx((0.3125, 0.0625, 0.25, 0.0), abs=1e-15)
    assert res.within == pytest.approx([0.25, 1 / 12])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dagum_matches_all_pairs_and_adds_up(seed):
    rng = np.random.default_rng(seed)
    n = 60
    y = rng.lognormal(0, 1, n)
    g = rng.choice(["a", "b", "c", "d"], n)
    y[:5] = y[5]  # ties across and within groups
    res = dagum(y, g)
    ref = direct_dagum(list(y), list(g))
    assert res.g == pytest.approx(ref["g"], abs=1e-12)
    assert res.g_w == pytest.approx(ref["g_w"], abs=1e-12)
    assert res.g_nb == pytest.approx(ref["g_nb"], abs=1e-12)
    assert res.g_t == pytest.approx(ref["g_t"], abs=1e-12)
    assert res.g == pytest.approx(gini(y), abs=1e-13)  # G is the ordinary Gini of all units
    assert res.g_w + res.g_nb + res.g_t == pytest.approx(res.g, abs=1e-14)  # to machine precision
    assert sum(res.shares) == pytest.approx(1.0, abs=1e-14)


def test_one_group_has_no_between_terms():
    y = np.random.default_rng(4).gamma(2, 1, 30)
    res = dagum(y, np.zeros(30, dtype=int))
    assert res.g_nb == 0.0 and res.g_t == 0.0
    assert res.g_w == pytest.approx(res.g, abs=1e-15)


def test_panel_and_bad_input():
    frame = pd.DataFrame({"year": [1, 1, 1, 2, 2, 2], "grp": list("aabaab"), "v": [1, 2, 3, 4, 4, 4.0]})
    totals, groups = dagum_panel(frame, "v", "grp")
    assert list(totals.year) == [1, 2] and totals.g.iloc[1] == 0.0
    assert groups.gini_within.iloc[0] == pytest.approx(1 / 6)  # {1, 2}: 2 / (2·4·1.5)
    with pytest.raises(ValueError, match="non-negative"):
        dagum(np.array([1.0, -1.0]), np.array([0, 0]))


@pytest.mark.parametrize("block", [1, 3, 7, 32, 500])
@pytest.mark.parametrize("pairs_per_pass", [1, 4_000_000])  # within-block pairs in many passes or one
def test_pair_sums_any_block_size_equal_all_pairs(block, pairs_per_pass, monkeypatch):
    monkeypatch.setattr(inequality, "_PAIRS_PER_PASS", pairs_per_pass)
    # blocks split pairs between the matrix product (different blocks) and the bincount (same block);
    # every split, padding of the last block and ties must give the plain all-pairs sums
    rng = np.random.default_rng(block)
    y = np.round(rng.lognormal(0, 1, 97), 1)  # rounded: many ties
    codes = rng.integers(0, 5, 97)
    codes[:5] = np.arange(5)  # every group non-empty
    ref = np.array([[np.abs(y[codes == j][:, None] - y[codes == h][None, :]).sum() for h in range(5)]
                    for j in range(5)])
    assert np.allclose(pair_abs_sums(y, codes, 5, block=block), ref, rtol=1e-13, atol=1e-12)


def test_pair_sums_far_from_zero_keep_their_digits():
    # values 1e6 + small noise: the median shift keeps S accurate (S does not depend on a shift)
    rng = np.random.default_rng(5)
    noise = rng.random(200)
    codes = rng.integers(0, 3, 200)
    assert np.allclose(pair_abs_sums(1e6 + noise, codes, 3), pair_abs_sums(noise, codes, 3), rtol=1e-9)
