"""The indicator macros (macros/indicators/) run by dbt on small fixtures, against plain numpy.

Every reference below is an independent, direct numpy transcription of the formula in the macro's
docstring (or a hand-worked number), not a call into geopanel.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from dbt_fixture import copy_project, dbt


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("macros")
    project = copy_project("macro_project", root)
    db = root / "fixture.duckdb"
    done = dbt(project, db, "build")
    assert done.returncode == 0, done.stdout[-3000:]
    return project, db


def frame(db, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def raw(db) -> pd.DataFrame:
    return frame(db, "select * from fx_indicators order by system, indicator, unit, year")


def np_normalise(x: np.ndarray, direction: str, shift: float = 0.0) -> np.ndarray:
    span = x.max() - x.min()
    return ((x.max() - x) if direction == "-" else (x - x.min())) / span + shift


def np_entropy_weights(matrix: np.ndarray) -> np.ndarray:
    """matrix: observations x indicators, non-negative. Direct transcription of e_j, d_j, w_j."""
    p = matrix / matrix.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    e = -plogp.sum(axis=0) / np.log(matrix.shape[0])
    d = 1 - e
    return d / d.sum()


def base_matrix(db, system: str = "base", shift: float = 0.0001) -> tuple[np.ndarray, list[str]]:
    r = raw(db)
    r = r[r.system == system]
    cols, names = [], []
    for ind, g in r.groupby("indicator"):
        g = g.sort_values(["unit", "year"])
        cols.append(np_normalise(g.raw_value.to_numpy(), g.direction.iloc[0], shift))
        names.append(ind)
    return np.column_stack(cols), names


def test_minmax_honours_direction_and_scope(fixture_db):
    _, db = fixture_db
    out = frame(db, "select * from fx_normalised where system = 'base' order by indicator, unit, year")
    for _ind, g in out.groupby("indicator"):
        ref = np_normalise(g.raw_value.to_numpy(), g.direction.iloc[0], 0.0001)
        np.testing.assert_allclose(g.x_global, ref, rtol=0, atol=1e-12)
        for _, gy in g.groupby("year"):
            np.testing.assert_allclose(gy.x_year, np_normalise(gy.raw_value.to_numpy(), gy.direction.iloc[0]),
                                       atol=1e-12)
    # the negative indicator's best (lowest raw) observation scores 1 + shift
    i2 = out[out.indicator == "i2"]
    assert i2.loc[i2.raw_value.idxmin(), "x_global"] == pytest.approx(1.0001)
    assert i2.loc[i2.raw_value.idxmax(), "x_global"] == pytest.approx(0.0001)


def test_entropy_weights_match_numpy_and_sum_to_one(fixture_db):
    _, db = fixture_db
    w = frame(db, "select * from fx_weights where system = 'base' order by indicator")
    m, names = base_matrix(db)
    assert list(w.indicator) == names
    np.testing.assert_allclose(w.weight, np_entropy_weights(m), atol=1e-12)
    assert w.weight.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w.divergence, 1 - w.entropy, atol=1e-15)
    by_year = frame(db, "select system, year, sum(weight) as s from fx_weights_by_year group by all")
    np.testing.assert_allclose(by_year.s, 1.0, atol=1e-12)


def test_entropy_weights_invariant_to_positive_affine_rescaling(fixture_db):
    _, db = fixture_db
    w = frame(db, "select system, indicator, weight from fx_weights").pivot(index="indicator", columns="system")
    np.testing.assert_allclose(w[("weight", "base")], w[("weight", "rescaled")], atol=1e-12)


def test_composite_and_topsis_match_numpy(fixture_db):
    _, db = fixture_db
    m, _ = base_matrix(db)
    w = np_entropy_weights(m)
    scores = frame(db, "select * from fx_scores where system = 'base' order by unit, year")
    # rows of m are ordered by (unit, year) within each indicator, the same order as `scores`
    np.testing.assert_allclose(scores.composite, m @ w, atol=1e-12)
    z = m * w
    d_plus = np.sqrt(((z - z.max(axis=0)) ** 2).sum(axis=1))
    d_minus = np.sqrt(((z - z.min(axis=0)) ** 2).sum(axis=1))
    np.testing.assert_allclose(scores.d_plus, d_plus, atol=1e-12)
    np.testing.assert_allclose(scores.closeness, d_minus / (d_plus + d_minus), atol=1e-12)
    assert scores.closeness.between(0, 1).all()


def test_coupling_coordination_two_and_three_subsystems(fixture_db):
    _, db = fixture_db
    f = frame(db, "select * from fx_units_derived order by unit, year")
    u1, u2, u3 = f.u1.to_numpy(), f.u2.to_numpy(), f.u3.to_numpy()
    c2 = np.sqrt(u1 * u2 / ((u1 + u2) / 2) ** 2)  # the "older" textbook form, algebraically the same
    np.testing.assert_allclose(f.c2, c2, atol=1e-12)
    np.testing.assert_allclose(f.d2, np.sqrt(c2 * (u1 + u2) / 2), atol=1e-12)
    c3 = (u1 * u2 * u3 / ((u1 + u2 + u3) / 3) ** 3) ** (1 / 3)
    np.testing.assert_allclose(f.c3, c3, atol=1e-12)
    np.testing.assert_allclose(f.d3, np.sqrt(c3 * (0.5 * u1 + 0.3 * u2 + 0.2 * u3)), atol=1e-12)
    # hand-worked: U1 = U2 = 0.64 -> C = 1, T = 0.64, D = 0.8 -> 良好协调 (0.8 <= D < 0.9)
    grades = dict(zip(np.floor(f.d2 * 10).astype(int), f.grade2, strict=False))
    assert all(g.startswith(("极度", "严重", "中度", "轻度", "濒临", "勉强", "初级", "中级", "良好", "优质"))
               for g in grades.values())
    if 8 in grades:
        assert grades[8].startswith("良好")


def test_location_quotient_and_winsorising(fixture_db):
    _, db = fixture_db
    f = frame(db, "select * from fx_units_derived order by unit, year")
    for _, g in f.groupby("year"):
        ref = (g.employees / g.total) / (g.employees.sum() / g.total.sum())
        np.testing.assert_allclose(g.lq, ref, atol=1e-12)
        lo, hi = np.percentile(g.y, [10, 90])  # numpy 'linear' = quantile_cont
        np.testing.assert_allclose(g.y_w_year, np.clip(g.y, lo, hi), atol=1e-12)
    lo, hi = np.percentile(f.y, [10, 90])
    np.testing.assert_allclose(f.y_w_pooled, np.clip(f.y, lo, hi), atol=1e-12)
    assert (f.y_w_pooled != f.y).sum() >= 2


def test_theil_decomposition_adds_up_and_matches_numpy(fixture_db):
    _, db = fixture_db
    units = frame(db, "select * from fx_units")
    out = frame(db, "select * from fx_theil order by year")
    for (_, g), row in zip(units.groupby("year"), out.itertuples(), strict=True):
        y, mu = g.y.to_numpy(), g.y.mean()
        theil = np.mean(y / mu * np.log(y / mu))
        assert row.theil == pytest.approx(theil, abs=1e-12)
        within = sum(len(h) * h.y.mean() / (len(y) * mu) * np.mean(h.y / h.y.mean() * np.log(h.y / h.y.mean()))
                     for _, h in g.groupby("grp"))
        assert row.theil_within == pytest.approx(within, abs=1e-12)
        assert row.theil_within + row.theil_between == pytest.approx(theil, abs=1e-14)


def test_zero_variance_indicator_stops_the_build_with_its_name(fixture_db, tmp_path):
    project, _ = fixture_db
    done = dbt(project, tmp_path / "zero.duckdb", "run", "--select", "fx_zero_variance",
               "--vars", "{zero_variance: true}")
    assert done.returncode != 0
    assert "flat_indicator has no variance" in done.stdout
