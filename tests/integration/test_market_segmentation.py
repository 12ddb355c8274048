"""Market segmentation (relative-price method) built by dbt on fixture prices, against pandas.

Reference: a direct pandas transcription of the steps in int_market_pair_variance's header
(ΔQ = ln p_i − ln p_j, |ΔQ| de-meaned by goods-year across pairs, sample variance across goods per
pair-year, mean over each province's pairs), on the same adjacency seed plus the Hainan link.
One dbt run holds three independent blocks of years: random prices (2001–2003), identical prices in
every province (2004–2006), and the random prices times a shock common to all provinces (2007–2009).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse.build import run_dbt
from warehouse.db import connection

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SELECT = ("stg_yearbook__province_prices fct_province_goods_price_year market_goods market_adjacent_provinces "
          "market_pair_adjustments int_market_province_pairs int_market_pair_variance "
          "ind_market_segmentation_province_year")
GOODS = ["grain", "fuel", "medicine", "textiles", "jewelry"]


def fixture_prices(provinces: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for y in (2001, 2002, 2003):
        for g in GOODS:
            shock = rng.uniform(0.9, 1.2)  # the same for every province in (goods, year + 6)
            equal = rng.uniform(95, 110)
            for p in provinces:
                v = float(rng.uniform(95, 112))
                rows += [(p, y, g, v), (p, y + 3, g, equal), (p, y + 6, g, v * shock)]
    return pd.DataFrame(rows, columns=["province_code", "year", "goods", "price_index"])


def load(db: Path, prices: pd.DataFrame) -> None:
    raw = prices.assign(unit_label=prices.province_code, unit_code=prices.province_code,
                        variable="price_index_" + prices.goods, value=prices.price_index, unit="上年=100",
                        source_value=None, source_unit=None, _source_file="fixture.csv", _sheet=None, _row=1,
                        _loaded_at=pd.Timestamp("2024-01-01"), _content_hash="x", _synthetic=True)
    raw = raw.drop(columns=["province_code", "goods", "price_index"])
    with connection(db) as con:
        con.register("fixture", raw)
        con.execute("delete from raw.province_prices")
        con.execute("insert into raw.province_prices by name select * from fixture")


def reference(prices: pd.DataFrame) -> pd.DataFrame:
    with (SEEDS / "market_adjacent_provinces.csv").open(encoding="utf-8") as f:
        pairs = [(r["province_a"], r["province_b"]) for r in csv.DictReader(f)] + [("440000", "460000")]
    logp = prices.assign(lp=np.log(prices.price_index / 100)).set_index(["province_code", "year", "goods"]).lp
    rows = []
    for a, b in pairs:
        d = (logp.loc[a] - logp.loc[b]).rename("dq").reset_index()
        rows.append(d.assign(a=a, b=b))
    frame = pd.concat(rows)
    frame["absdq"] = frame.dq.abs()
    frame["q"] = frame.absdq - frame.groupby(["goods", "year"]).absdq.transform("mean")
    pv = frame.groupby(["a", "b", "year"]).q.var(ddof=1).rename("variance").reset_index()
    sides = pd.concat([pv.rename(columns={"a": "p"}).drop(columns="b"),
                       pv.rename(columns={"b": "p"}).drop(columns="a")])
    return sides.groupby(["p", "year"]).variance.mean()


@pytest.fixture(scope="module")
def built(registry_db, tmp_path_factory):
    db = tmp_path_factory.mktemp("mseg") / "w.duckdb"
    db.write_bytes(registry_db.read_bytes())
    with connection(db, read_only=True) as con:
        provinces = [r[0] for r in con.execute("select province_code from dim_province where is_mainland").fetchall()]
    prices = fixture_prices(provinces)
    load(db, prices)
    result = run_dbt(["build", "--select", *SELECT.split()], db=db, progress=lambda m: None)
    assert result.success, result.failures
    with duckdb.connect(str(db), read_only=True) as con:
        out = con.execute("select * from ind_market_segmentation_province_year").df()
    return db, prices, out.set_index(["province_code", "year"]).sort_index()


def test_matches_an_independent_pandas_computation(built):
    _, prices, out = built
    ref = reference(prices)
    got = out.segmentation.loc[[(p, y) for p, y in ref.index]]
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-10, atol=1e-15)
    assert out.loc[("460000", 2001), "n_pairs"] == 1  # Hainan only through its added link to Guangdong


def test_zero_when_all_prices_are_equal(built):
    _, _, out = built
    equal = out[out.index.get_level_values("year").isin([2004, 2005, 2006])]
    assert len(equal) == 31 * 3 and (equal.segmentation == 0).all()


def test_unchanged_by_a_shock_common_to_all_regions(built):
    _, _, out = built
    base = out[out.index.get_level_values("year") <= 2003].segmentation.to_numpy()
    shocked = out[out.index.get_level_values("year") >= 2007].segmentation.to_numpy()
    assert base.min() > 0
    np.testing.assert_allclose(shocked, base, rtol=1e-9, atol=1e-17)


def test_non_positive_price_index_stops_the_build(built, tmp_path):
    db, prices, _ = built
    copy = tmp_path / "bad.duckdb"
    copy.write_bytes(db.read_bytes())
    bad = prices.copy()
    bad.loc[0, "price_index"] = 0.0
    load(copy, bad)
    before = copy.read_bytes()
    result = run_dbt(["build", "--select", *SELECT.split()], db=copy, progress=lambda m: None)
    assert not result.success
    assert any("price_index" in label + message or "price index" in message for label, message in result.failures)
    assert copy.read_bytes() == before
