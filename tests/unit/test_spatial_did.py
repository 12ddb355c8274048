"""Spatial DID recovers the direct and spillover effects of a policy simulated on a lattice."""

from __future__ import annotations

import numpy as np
import pandas as pd
from libpysal.weights import lat2W
from scipy import sparse
from scipy.sparse.linalg import spsolve

from analyses.did.spatial import spatial_did


def test_direct_and_spillover_effects_match_lesage_pace_truth():
    side, years, rho, beta, theta = 15, 12, 0.3, 1.0, 0.5
    w = lat2W(side, side, rook=False)
    w.transform = "r"
    n = w.n
    ids = [str(i) for i in w.id_order]
    w = type(w)({str(k): [str(v) for v in vs] for k, vs in w.neighbors.items()},
                {str(k): v for k, v in w.weights.items()}, id_order=ids)
    wm = w.sparse
    rng = np.random.default_rng(4)
    start = np.where(rng.random(n) < 0.3, rng.integers(4, 9, size=n), 99)
    unit_fe, year_fe = rng.normal(size=n), rng.normal(size=years)
    a = sparse.identity(n) - rho * wm
    rows = []
    for t in range(years):
        d = (t >= start).astype(float)
        xb = beta * d + theta * (wm @ d) + unit_fe + year_fe[t] + rng.normal(scale=0.5, size=n)
        y = spsolve(a.tocsc(), xb)
        rows += [(ids[i], 2000 + t, d[i], y[i]) for i in range(n)]
    data = pd.DataFrame(rows, columns=["unit", "year", "treated", "y"])
    fit = spatial_did(data, "y", w, draws=300)
    # LeSage–Pace truth: S = (I − ρW)^{-1}(βI + θW); direct = tr(S)/n, total = (β + θ)/(1 − ρ)
    s = np.linalg.solve(np.eye(n) - rho * wm.toarray(), beta * np.eye(n) + theta * wm.toarray())
    direct, total = np.trace(s) / n, (beta + theta) / (1 - rho)
    eff = fit.effects.set_index(["variable", "effect"])
    for effect, truth in (("direct", direct), ("indirect", total - direct), ("total", total)):
        row = eff.loc[("treated", effect)]
        assert abs(row["estimate"] - truth) < 3 * row["std_error"], (effect, row["estimate"], truth)
    assert eff.loc[("treated", "indirect"), "p_value"] < 0.001  # the spillover is detected
