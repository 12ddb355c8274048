"""The sequential Malmquist–Luenberger index (Oh & Heshmati 2010, Energy Economics 32:1345–1355: the frontier of
period t is built from the data of all periods ≤ t) against a straightforward loop of one scipy linprog per DMU,
period and reference technology written here, for the directional distance (Chung et al. 1997) and the SBM
measure (Tone 2001 / 2004, Charnes–Cooper LP written here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from typer.testing import CliRunner

from analyses.efficiency import EfficiencyError, malmquist_luenberger
from analyses.efficiency.store import results_frame


def plain_ddf(x, y, b, X, Y, B, vrs: bool) -> float:
    """max β s.t. Xλ ≤ x, Yλ ≥ (1+β)y, Bλ = (1−β)b, λ ≥ 0 (Σλ = 1 if vrs); NaN if infeasible."""
    n = X.shape[1]
    r = linprog(np.r_[-1.0, np.zeros(n)],
                A_ub=np.block([[np.zeros((X.shape[0], 1)), X], [y[:, None], -Y]]), b_ub=np.r_[x, -y],
                A_eq=np.vstack([np.column_stack([b, B])] + ([np.r_[0.0, np.ones(n)][None, :]] if vrs else [])),
                b_eq=np.r_[b, [1.0] if vrs else []], bounds=[(None, None)] + [(0, None)] * n, method="highs")
    return -r.fun if r.status == 0 else np.nan


def plain_sbm(x, y, b, X, Y, B, vrs: bool) -> float:
    """ρ = min t − (1/m)Σ S⁻/x s.t. t + (1/(s1+s2))(ΣS^g/y + ΣS^b/b) = 1, t x = XΛ + S⁻, t y = YΛ − S^g,
    t b = BΛ + S^b (Σλ = t if vrs): Tone's Charnes–Cooper transformation; variables [t, Λ, S⁻, S^g, S^b]."""
    m, n = X.shape
    s1, s2 = Y.shape[0], B.shape[0]
    k = 1 + n + m + s1 + s2
    c = np.zeros(k)
    c[0] = 1.0
    c[1 + n:1 + n + m] = -1.0 / (m * x)
    rows = [np.r_[1.0, np.zeros(n + m), 1.0 / ((s1 + s2) * y), 1.0 / ((s1 + s2) * b)]]
    rows += list(np.hstack([-x[:, None], X, np.eye(m), np.zeros((m, s1 + s2))]))
    rows += list(np.hstack([-y[:, None], Y, np.zeros((s1, m)), -np.eye(s1), np.zeros((s1, s2))]))
    rows += list(np.hstack([-b[:, None], B, np.zeros((s2, m + s1)), np.eye(s2)]))
    if vrs:
        rows.append(np.r_[-1.0, np.ones(n), np.zeros(m + s1 + s2)])
    rhs = np.zeros(len(rows))
    rhs[0] = 1.0
    r = linprog(c, A_eq=np.vstack(rows), b_eq=rhs, bounds=[(0, None)] * k, method="highs")
    return r.fun if r.status == 0 else np.nan


def panel(seed: int, n: int = 6, periods: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(periods):
        x = rng.uniform(1, 10, (n, 2))
        y = (x ** 0.45).prod(axis=1) * (1 + 0.06 * p) * rng.uniform(0.6, 1, n)
        rows.append(pd.DataFrame({"city": [f"c{i}" for i in range(n)], "year": 2011 + p, "k": x[:, 0],
                                  "l": x[:, 1], "gdp": y, "co2": y * rng.uniform(0.4, 1, n)}))
    return pd.concat(rows, ignore_index=True)


def loop_sml(data: pd.DataFrame, measure: str, vrs: bool) -> pd.DataFrame:
    """The sequential ML index by brute force: for every DMU and year pair, the four LPs against S^t and S^{t+1}."""
    years = sorted(data.year.unique())
    cols = {y: data[data.year == y].sort_values("city") for y in years}

    def mats(frame):
        return frame[["k", "l"]].to_numpy().T, frame[["gdp"]].to_numpy().T, frame[["co2"]].to_numpy().T

    def seq(t):  # S^t: every period up to t
        return mats(pd.concat([cols[y] for y in years if y <= t]))

    def eff(point, tech):
        if measure == "ddf":
            return 1.0 / (1.0 + plain_ddf(*point, *tech, vrs))
        return plain_sbm(*point, *tech, vrs)

    out = []
    for t0, t1 in zip(years[:-1], years[1:], strict=True):
        X0, Y0, B0 = mats(cols[t0])
        X1, Y1, B1 = mats(cols[t1])
        for j, city in enumerate(cols[t0].city):
            p0, p1 = (X0[:, j], Y0[:, j], B0[:, j]), (X1[:, j], Y1[:, j], B1[:, j])
            e00, e01 = eff(p0, seq(t0)), eff(p1, seq(t0))  # e^t(t), e^t(t+1)
            e10, e11 = eff(p0, seq(t1)), eff(p1, seq(t1))  # e^{t+1}(t), e^{t+1}(t+1)
            sml = np.sqrt((e01 / e00) * (e11 / e10))
            out.append({"city": city, "year": t1, "sml": sml, "ec": e11 / e00, "tc": sml / (e11 / e00)})
    return pd.DataFrame(out)


@pytest.mark.parametrize(("measure", "rts"), [("ddf", "crs"), ("ddf", "vrs"), ("sbm", "crs"), ("sbm", "vrs")])
def test_sequential_ml_equals_a_per_dmu_linprog_loop(measure, rts):
    data = panel(7)
    res = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year", kind="sequential",
                               measure=measure, rts=rts)
    assert res.index_name == "sml"
    got = res.indices.sort_values(["year", "city"]).reset_index(drop=True)
    want = loop_sml(data, measure, rts == "vrs").sort_values(["year", "city"]).reset_index(drop=True)
    assert got.city.tolist() == want.city.tolist()
    ok = want.sml.notna()  # cross-period VRS distances can be infeasible: NaN on both sides
    assert (got.sml.notna() == ok).all()
    for c in ("sml", "ec", "tc"):
        assert np.allclose(got.loc[ok, c], want.loc[ok, c], rtol=1e-7, atol=1e-9), c
    assert np.allclose(got.sml[ok], (got.ec * got.tc)[ok])


def test_sequential_frontier_never_regresses_and_differs_from_contemporaneous():
    """Under S^t ⊆ S^{t+1}, period t's data are never better than the frontier of t+1: D^{t+1}(t) ≥ 0, and the
    index differs from the contemporaneous one once an earlier period's DMUs matter."""
    data = panel(11)
    seq = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year", kind="sequential")
    con = malmquist_luenberger(data, ["k", "l"], ["gdp"], ["co2"], unit="city", time="year",
                               kind="contemporaneous")
    assert (seq.distances["next"].dropna() >= -1e-9).all()
    assert (seq.distances["own"] >= -1e-9).all()
    first = seq.indices.year == 2012  # S^2011 = T^2011 and S^2012 ⊇ T^2012: the first pair may still differ
    assert not np.allclose(seq.indices.loc[~first, "sml"], con.indices.loc[~first, "ml"], equal_nan=True)
    assert seq.cumulative.columns.tolist() == ["city", "year", "sml", "ec", "tc"]
    _, _, _, model = results_frame(seq)
    assert model == "sml-ddf-crs"


def test_cli_sequential_with_undesirable(tmp_path):
    import json

    from geopanel.cli import app

    data = panel(7)
    path = tmp_path / "p.csv"
    data.to_csv(path, index=False)
    r = CliRunner().invoke(app, ["malmquist", "--data", str(path), "--unit", "city", "--time", "year", "--inputs",
                                 "k,l", "--outputs", "gdp", "--undesirable", "co2", "--frontier", "sequential",
                                 "--json", "--no-store"])
    assert r.exit_code == 0, r.output
    rows = pd.DataFrame(json.loads(r.stdout)["rows"]).sort_values(["year", "city"]).reset_index(drop=True)
    want = loop_sml(data, "ddf", False).sort_values(["year", "city"]).reset_index(drop=True)
    assert np.allclose(rows.sml, want.sml, rtol=1e-7, equal_nan=True) and want.sml.notna().sum() >= 12
    with pytest.raises(EfficiencyError, match="sequential"):
        malmquist_luenberger(data, "k,l", "gdp", "co2", unit="city", kind="recursive")
