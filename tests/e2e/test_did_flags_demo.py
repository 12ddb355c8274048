"""The flag seeds and dim_city_flags on the demo warehouse, and concurrent-policy dummies built from the seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analyses.did.heterogeneity import attach_flags, concurrent_dummies, concurrent_policy_controls, heterogeneity
from analyses.did.sample import policy_sample
from analyses.did.treatment import TreatmentError
from warehouse.db import connection
from warehouse.settings import SEEDS_DIR

FLAG_SEEDS = ("resource_based_cities", "urban_agglomerations", "old_revolutionary_base_areas")


def test_every_seed_code_is_a_city_of_the_demo_years(demo):
    db, _, _ = demo
    with connection(db, read_only=True) as con:
        panel_codes = {r[0] for r in con.execute("select distinct city_code from fct_city_year").fetchall()}
    for name in FLAG_SEEDS:
        seed = pd.read_csv(SEEDS_DIR / f"{name}.csv", dtype=str)
        assert set(seed["city_code"]) <= panel_codes, name
        assert set(seed["verified"]) <= {"true", "false"} and seed["source"].notna().all(), name


def test_seed_counts_match_the_documents():
    resource = pd.read_csv(SEEDS_DIR / "resource_based_cities.csv", dtype=str)
    assert len(resource) == resource["city_code"].nunique() == 126  # 地级行政区 of 国发〔2013〕45号
    # split of the 126 by type as recalled from the plan (成长型 20, 成熟型 66, 衰退型 24, 再生型 16), not confirmed
    expected = {"成熟型": 66, "衰退型": 24, "成长型": 20, "再生型": 16}
    assert resource["resource_type"].value_counts().to_dict() == expected
    assert (resource["verified"] == "true").sum() == 36  # the rest are recalled, as the seed description says
    agglomerations = pd.read_csv(SEEDS_DIR / "urban_agglomerations.csv", dtype=str)
    by_plan = agglomerations.groupby("agglomeration_id").size()
    assert by_plan["yangtze_delta"] == 26 and by_plan["pearl_delta"] == 9 and by_plan["harbin_changchun"] == 11
    assert by_plan["central_plains"] == 29  # 30 units in the plan, 济源 is county-level (dim_county)
    bases = pd.read_csv(SEEDS_DIR / "old_revolutionary_base_areas.csv", dtype=str)
    assert (bases.query("area_id == 'shaanxi_gansu_ningxia'")["coverage"] == "full").sum() == 8


def test_size_class_equals_a_pandas_cut_of_the_base_year_population(demo):
    db, _, _ = demo
    with connection(db, read_only=True) as con:
        flags = con.execute("select * from dim_city_flags").df().set_index("city_code")
        pop = con.execute("select city_code, year, pop from fct_city_year where pop is not null and year >= 2009").df()
        n_cities = con.execute("select count(*) from dim_city").fetchone()[0]
    assert len(flags) == n_cities
    first = pop.sort_values("year").groupby("city_code").first()  # base year 2009 or the first later year
    classes = pd.cut(first["pop"], [-np.inf, 20, 50, 100, 300, 500, 1000, np.inf], right=False,
                     labels=["II型小城市", "I型小城市", "中等城市", "II型大城市", "I型大城市", "特大城市", "超大城市"])
    assert (flags.loc[first.index, "size_class"] == classes.astype(str)).all()
    assert (flags.loc[first.index, "size_base_year"] == first["year"]).all()
    assert flags["size_class"].isna().sum() == n_cities - len(first)  # units without population data
    assert (flags.loc[first.index, "is_large_city"] == (first["pop"] >= 500)).all()
    resource = pd.read_csv(SEEDS_DIR / "resource_based_cities.csv", dtype=str)
    assert set(flags.index[flags["is_resource_based"]]) == set(resource["city_code"])


def test_concurrent_dummies_equal_a_hand_built_treatment_and_the_twfe_matches_pyfixest(demo):
    db, _, _ = demo
    with connection(db, read_only=True) as con:
        sample = policy_sample(con, "demonstration_zone", ["gdp"], log_outcomes=True)
        data = concurrent_dummies(con, sample.data, ["info_consumption_pilot"], rule=sample.rule)
        with pytest.raises(TreatmentError, match="no policy 'no_such_policy'.*known: demonstration_zone"):
            concurrent_dummies(con, sample.data, ["no_such_policy"])
        flagged = attach_flags(con, sample.data)
    # independent reading of the seed: a listed city is treated from its calendar start year
    seed = pd.read_csv(SEEDS_DIR / "policy_pilots.csv", dtype=str).query("policy == 'info_consumption_pilot'")
    start = seed.assign(year=pd.to_datetime(seed["start_date"]).dt.year).groupby("unit_code")["year"].min()
    by_hand = (data["year"] >= data["unit"].map(start)).astype(int)  # units not listed: NaN -> False -> 0
    assert (data["concurrent_info_consumption_pilot"] == by_hand).all() and by_hand.sum() > 0
    rows = concurrent_policy_controls(data, "gdp", ["concurrent_info_consumption_pilot"])
    fit = pf.feols("gdp ~ treated + pilot | unit + year", data=data.assign(pilot=by_hand), vcov={"CRV1": "unit"})
    assert rows.loc[1, "coef"] == pytest.approx(fit.coef()["treated"], rel=1e-9)
    # flags reach the sample and drive the heterogeneity table
    assert flagged["is_resource_based"].notna().all() and len(flagged) == len(sample.data)
    table = heterogeneity(flagged.assign(resource=flagged["is_resource_based"].astype(int)), "gdp", "resource",
                          reps=49)
    assert set(table["model"]) == {"moderation", "split", "difference"}
