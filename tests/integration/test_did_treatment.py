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


def test_paper_001_treatment_table_is_reproduced_from_the_seed(registry_db):
    """Paper 001 (Table 2): Policy has mean 0.0604 over 274 cities × 2003–2022 (N = 5,480), i.e. 331 treated
    city-years over 28 treated cities, calendar rule, zones of 2010–2014 only, 巢湖 (abolished 2011) dropped.
    The seed gives exactly that when the partially covered 六安 and 重庆 count as treated."""
    with connection(registry_db, read_only=True) as con:
        events = policy_events(con, "demonstration_zone")
        spine = con.execute("select city_code, y as year from dim_city, range(2003, 2023) t(y)").df()
    later = [int(b) for b in events.loc[pd.to_datetime(events["date"]).dt.year > 2014, "batch"].unique()]
    panel = treatment_panel(events, spine, "city_code", rule="calendar", include_partial=True,
                            exclude_batches=later, exclude_units=["341400"])
    treated = panel[panel["ever_treated"]]
    assert treated["city_code"].nunique() == 28
    assert panel["treated"].sum() == 331
    assert round(331 / 5480, 4) == 0.0604  # the published mean of Policy
