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
