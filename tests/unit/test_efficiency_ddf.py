"""The directional distance function as its own model (analyses/efficiency/ddf.py) against a plain scipy linprog
written here, for the default direction g = (−x, y, −b), the output direction, a common numeric direction and a
per-DMU direction read from columns; CRS and VRS; weak and strong disposability of the bads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from analyses.efficiency import EfficiencyError, ddf
from analyses.efficiency.store import results_frame


def plain_beta(o: int, X, Y, B, g, rts: str, weak: bool = True) -> float:
    """max β s.t. Σλx ≤ x_o − β g_x, Σλy ≥ y_o + β g_y, Σλb = b_o − β g_b (≤ if strong), λ ≥ 0 (Σλ = 1 for VRS).
    X: n×m, Y: n×s, B: n×k (rows are DMUs); g = (g_x, g_y, g_b) concatenated."""
    n, m = X.shape
    s, k = Y.shape[1], B.shape[1]
    gx, gy, gb = g[:m], g[m:m + s], g[m + s:]
    # variables: β, λ_1..λ_n
    A_ub = [np.c_[gx, X.T], np.c_[gy, -Y.T]]
    b_ub = [X[o], -Y[o]]
    A_eq, b_eq = [], []
    if k:
        (A_eq if weak else A_ub).append(np.c_[gb, B.T])
        (b_eq if weak else b_ub).append(B[o])
    if rts == "vrs":
        A_eq.append(np.r_[0.0, np.ones(n)][None, :])
        b_eq.append([1.0])
    r = linprog(np.r_[-1.0, np.zeros(n)], A_ub=np.vstack(A_ub), b_ub=np.concatenate(b_ub),
                A_eq=np.vstack(A_eq) if A_eq else None, b_eq=np.concatenate(b_eq) if b_eq else None,
                bounds=[(None, None)] + [(0, None)] * n, method="highs")
    assert r.status == 0
    return -r.fun


def cities(seed: int, n: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 10, (n, 2))
    y = (x ** 0.4).prod(axis=1) * rng.uniform(0.5, 1, n)
    return pd.DataFrame({"city": [f"c{i:02d}" for i in range(n)], "k": x[:, 0], "l": x[:, 1], "gdp": y,
                         "co2": y * rng.uniform(0.3, 1.2, n), "gk": rng.uniform(0.5, 2, n), "gc": rng.uniform(0, 1, n)})


@pytest.mark.parametrize("rts", ["crs", "vrs"])
@pytest.mark.parametrize("seed", [1, 2])
def test_default_direction_is_minus_x_y_minus_b_and_equals_linprog(rts, seed):
    d = cities(seed)
    res = ddf(d, ["k", "l"], ["gdp"], ["co2"], unit="city", rts=rts)
    X, Y, B = d[["k", "l"]].to_numpy(), d[["gdp"]].to_numpy(), d[["co2"]].to_numpy()
    for o in range(len(d)):
        g = np.r_[X[o], Y[o], B[o]]
        assert res.beta.iloc[o] == pytest.approx(plain_beta(o, X, Y, B, g, rts), abs=1e-8)
    assert (res.status == "optimal").all() and (res.beta >= -1e-9).all() and (res.beta < 1).all()
    assert np.isclose(res.beta, 0, atol=1e-9).any()  # someone is on the frontier
    assert np.allclose(res.efficiency, 1 / (1 + res.beta))
    # the projection: inputs and bads contracted, goods expanded by β g
    o = int(np.argmax(res.beta.to_numpy()))
    t = res.targets.iloc[o]
    b = res.beta.iloc[o]
    assert t["k"] == pytest.approx(X[o, 0] * (1 - b)) and t["gdp"] == pytest.approx(Y[o, 0] * (1 + b))
    assert t["co2"] == pytest.approx(B[o, 0] * (1 - b))


@pytest.mark.parametrize("weak", [True, False])
def test_output_direction_numeric_and_column_directions_equal_linprog(weak):
    d = cities(5)
    X, Y, B = d[["k", "l"]].to_numpy(), d[["gdp"]].to_numpy(), d[["co2"]].to_numpy()
    disp = "weak" if weak else "strong"
    out = ddf(d, "k,l", "gdp", "co2", unit="city", rts="vrs", direction="output", bad_disposability=disp)
    common = ddf(d, "k,l", "gdp", "co2", unit="city", direction=[0.5, 0, 1, 0.2], bad_disposability=disp)
    percol = ddf(d, "k,l", "gdp", "co2", unit="city", direction={"k": "gk", "gdp": 1.0, "co2": "gc"},
                 bad_disposability=disp)
    for o in range(len(d)):
        assert out.beta.iloc[o] == pytest.approx(
            plain_beta(o, X, Y, B, np.r_[0, 0, Y[o], B[o]], "vrs", weak), abs=1e-8)
        assert common.beta.iloc[o] == pytest.approx(
            plain_beta(o, X, Y, B, np.r_[0.5, 0, 1, 0.2], "crs", weak), abs=1e-8)
        assert percol.beta.iloc[o] == pytest.approx(
            plain_beta(o, X, Y, B, np.r_[d.gk[o], 0, 1.0, d.gc[o]], "crs", weak), abs=1e-8)
    assert common.direction == "0.5,0,1,0.2"


def test_strong_disposability_never_scores_below_weak():
    """Strong disposability of the bads enlarges the technology: β*(strong) ≥ β*(weak)."""
    d = cities(3)
    weak = ddf(d, "k,l", "gdp", "co2", unit="city", rts="vrs")
    strong = ddf(d, "k,l", "gdp", "co2", unit="city", rts="vrs", bad_disposability="strong")
    assert (strong.beta >= weak.beta - 1e-9).all() and (strong.beta > weak.beta + 1e-6).any()


def test_panel_one_frontier_per_period_and_without_bads():
    a, b = cities(3).assign(year=2020), cities(4).assign(year=2021)
    res = ddf(pd.concat([a, b]), ["k", "l"], ["gdp"], unit="city", time="year")
    X, Y = b[["k", "l"]].to_numpy(), b[["gdp"]].to_numpy()
    got = res.beta.xs(2021, level="year")
    for o in range(len(b)):
        assert got.iloc[o] == pytest.approx(plain_beta(o, X, Y, np.zeros((len(b), 0)), np.r_[X[o], Y[o]], "crs"),
                                            abs=1e-8)
    both = pd.concat([a, b], ignore_index=True)
    pooled = ddf(both, ["k", "l"], ["gdp"], unit="city", time="year", frontier="pooled", rts="vrs")
    Xa, Ya = both[["k", "l"]].to_numpy(), both[["gdp"]].to_numpy()
    for o in (0, 5, len(a) + 3):
        key = (both.city[o], both.year[o])
        assert pooled.beta[key] == pytest.approx(
            plain_beta(o, Xa, Ya, np.zeros((len(both), 0)), np.r_[Xa[o], Ya[o]], "vrs"), abs=1e-8)
    long, unit, time, model = results_frame(res)
    assert model == "ddf-crs" and (unit, time) == ("city", "year") and set(long.measure) >= {"beta", "efficiency"}


def test_unbounded_and_bad_directions_are_stated():
    d = cities(6)
    free = d.copy()
    free.loc[0, ["k", "l"]] = 0.0  # output from no input: under CRS any output is reachable
    res = ddf(free, "k,l", "gdp", unit="city", direction=[0, 0, 1])
    assert (res.status == "unbounded").all() and res.beta.isna().all()
    with pytest.raises(EfficiencyError, match="one per input"):
        ddf(d, "k,l", "gdp", "co2", unit="city", direction=[1, 1])
    with pytest.raises(EfficiencyError, match="≥ 0"):
        ddf(d, "k,l", "gdp", "co2", unit="city", direction=[1, -1, 1, 1])
    with pytest.raises(EfficiencyError, match="not among"):
        ddf(d, "k,l", "gdp", "co2", unit="city", direction={"labour": 1})


def test_cli_model_ddf_with_a_direction(tmp_path):
    import json

    from typer.testing import CliRunner

    from geopanel.cli import app

    d = cities(5)
    path = tmp_path / "cities.csv"
    d.to_csv(path, index=False)
    X, Y, B = d[["k", "l"]].to_numpy(), d[["gdp"]].to_numpy(), d[["co2"]].to_numpy()
    for flag, g in [([], lambda o: np.r_[X[o], Y[o], B[o]]), (["--direction", "0.5,0,1,0.2"],
                                                                 lambda o: np.r_[0.5, 0, 1, 0.2]),
                    (["--direction", "k=gk,gdp=1,co2=gc"], lambda o: np.r_[d.gk[o], 0, 1, d.gc[o]])]:
        r = CliRunner().invoke(app, ["dea", "--data", str(path), "--unit", "city", "--inputs", "k,l", "--outputs",
                                     "gdp", "--undesirable", "co2", "--model", "ddf", "--json", "--no-store", *flag])
        assert r.exit_code == 0, r.output
        rows = json.loads(r.stdout)["rows"]
        for o, row in enumerate(rows):
            assert row["beta"] == pytest.approx(plain_beta(o, X, Y, B, g(o), "crs"), abs=1e-8)
    r = CliRunner().invoke(app, ["dea", "--data", str(path), "--unit", "city", "--inputs", "k,l", "--outputs", "gdp",
                                 "--model", "bcc", "--direction", "output"])
    assert r.exit_code != 0 and "--direction" in r.output


@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_output_direction_without_bads_is_the_farrell_output_efficiency(rts):
    """g = (0, y): φ* = 1 + β*, so 1/(1 + β*) is the output-oriented CCR/BCC score (checked against DEAP's
    examples in test_efficiency_dea)."""
    from analyses.efficiency import dea

    d = cities(9)
    got = ddf(d, "k,l", "gdp", unit="city", rts=rts, direction="output")
    radial = dea(d, "k,l", "gdp", unit="city", rts=rts, orientation="output")
    assert np.allclose(got.efficiency.to_numpy(), radial.efficiency.to_numpy(), atol=1e-9)
