"""Treatment timing on the real demonstration-zone list, and the policy-list errors."""

from __future__ import annotations

import pandas as pd
import pytest

from analyses.did import DIDError, TreatmentError, event_study, policy_events, treatment_panel
from warehouse.db import connection
from warehouse.settings import SEEDS_DIR


def test_both_papers_timing_rules_on_the_zone_list(registry_db):
    with connection(registry_db, read_only=True) as con:
        events = policy_events(con, "demonstration_zone")
        spine = con.execute("select city_code, y as year from dim_city, range(2003, 2024) t(y)").df()
    calendar = treatment_panel(events, spine, "city_code", rule="calendar").groupby("city_code")["cohort"].first()
    july = treatment_panel(events, spine, "city_code", rule="july").groupby("city_code")["cohort"].first()
    # independent reading of the seed: a city's first approval; it moves a year iff approved in July or later
    seed = pd.read_csv(SEEDS_DIR / "policy_demonstration_zones.csv", dtype=str)
    seed = seed[seed["coverage"] == "full"]
    first = seed.assign(date=pd.to_datetime(seed["approval_date"])).sort_values("date").groupby("city_code").first()
    expected_moved = set(first.index[first["date"].dt.month >= 7])
    moved = set(calendar.index[calendar.ne(july) & calendar.notna()])
    assert moved == expected_moved and moved  # e.g. the zones approved in October move to the next year
    assert (calendar.dropna() == first["date"].dt.year.reindex(calendar.dropna().index)).all()
    assert (july[sorted(moved)] == calendar[sorted(moved)] + 1).all()


def test_a_policy_unit_outside_the_dims_is_refused(warehouse):
    with connection(warehouse) as con:
        con.execute("""insert into reference.policy_pilots (policy, policy_name_zh, batch, start_date, level,
                       unit_code, unit_name_zh, source, verified, note)
                       values ('info_consumption_pilot', 'x', 1, '2014-01-01', 'city', '999900', '某市', 'test', false,
                               'planted')""")
        with pytest.raises(TreatmentError, match="units 999900 are not in dim_city; fix the seed"):
            policy_events(con, "info_consumption_pilot")


def test_too_few_pre_periods_for_the_window():
    data = pd.DataFrame({"unit": [1, 1, 1, 2, 2, 2], "year": [2000, 2001, 2002] * 2, "y": [1.0, 2, 3, 1, 1, 1],
                         "rel_time": [-1, 0, 1, None, None, None]})
    with pytest.raises(DIDError, match="at most 1 pre-periods; shorten the window"):
        event_study(data, "y", window=(-3, 1))


# Paper 001 (杨仁发、柏明慧 2025, §2 and Table 2) states its treatment rules; the digest is in
# shared/spec/papers-000-001.md.  Policy = 1 from the year a city is listed in a national zone
# (calendar rule, no month cut-off), city panel 2003–2022; zones approved in 2018 and 2020 are left out;
# the 重庆沿江 zone is left out and Chongqing is not in the 274-city sample (dropping the municipalities
# takes N from 5,480 to 5,420, i.e. three of them); 巢湖 (abolished 2011) is dropped.  A city named in a
# zone counts, including 六安, whose 金安区 and 舒城县 the 皖江 plan names.
PAPER_001 = {"years": (2003, 2022), "last_zone_year": 2014, "excluded_zones": ["chongqing_yanjiang"],
             "dropped_units": ["500000", "341400"], "treated_cities": 28, "treated_city_years": 331}


def paper_001_reading_of_the_seed() -> pd.Series:
    """First treated year per city, read from the seed CSV with plain pandas under paper 001's rules."""
    seed = pd.read_csv(SEEDS_DIR / "policy_demonstration_zones.csv", dtype=str)
    year = pd.to_datetime(seed["approval_date"]).dt.year
    rows = seed[(year <= PAPER_001["last_zone_year"]) & ~seed["zone_id"].isin(PAPER_001["excluded_zones"])
                & ~seed["city_code"].isin(PAPER_001["dropped_units"])]
    return year[rows.index].groupby(rows["city_code"]).min()


def test_paper_001_treatment_table_under_its_stated_rules(registry_db):
    """The code's treatment table equals an independent reading of the seed under paper 001's rules, and
    that reading is one city short of the paper: 27 cities and 319 treated city-years against 28 and 331
    (its Policy mean 0.0604 × 5,480).  The gap is exactly one city treated from 2011 (2011–2022 = 12
    city-years).  The only 2011 zones are 重庆沿江 (excluded by the paper, and Chongqing is outside its
    sample), 湘南 (衡阳/郴州/永州, confirmed) and 湖北荆州, whose coverage the seed lists as 荆州 alone
    and marks unverified: the paper's own exclusion of 仙桃/潜江/天门 "for missing data" implies its NDRC
    list gives the 荆州 zone more members than 荆州, so the missing city is most likely a second prefecture
    city of that zone.  The approval document could not be found (searched 2026-12); until it is, the seed
    is not changed to fit the number.  The old test matched 28/331 only by counting the excluded 重庆."""
    with connection(registry_db, read_only=True) as con:
        events = policy_events(con, "demonstration_zone")
        first, last = PAPER_001["years"]
        spine = con.execute(f"select city_code, y as year from dim_city, range({first}, {last + 1}) t(y)").df()
    later = [int(b) for b in events.loc[pd.to_datetime(events["date"]).dt.year > PAPER_001["last_zone_year"],
                                        "batch"].unique()]
    panel = treatment_panel(events, spine, "city_code", rule="calendar", include_partial=True,
                            exclude_groups=PAPER_001["excluded_zones"], exclude_batches=later,
                            exclude_units=PAPER_001["dropped_units"])
    code = panel[panel["ever_treated"]].groupby("city_code")["cohort"].first().astype(int)

    reading = paper_001_reading_of_the_seed()
    assert code.sort_index().to_dict() == reading.sort_index().to_dict()
    city_years = int((last - reading + 1).sum())
    assert panel["treated"].sum() == city_years
    assert (len(reading), city_years) == (27, 319)
    assert "341500" in reading.index and "500000" not in reading.index  # 六安 counts, 重庆 does not
    gap_cities = PAPER_001["treated_cities"] - len(reading)
    gap_years = PAPER_001["treated_city_years"] - city_years
    assert (gap_cities, gap_years) == (1, last - 2011 + 1)  # one city from 2011 is missing from the seed
    assert round(PAPER_001["treated_city_years"] / 5480, 4) == 0.0604  # the published mean of Policy
