"""Policy evaluation building blocks: timing rules, Bacon decomposition, placebo, event-study errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from analyses.did import DIDError, TreatmentError, adoption_year, bacon, event_study, placebo, treatment_panel, twfe
from analyses.did.placebo import demean_two_way, fwl_twfe
from analyses.did.treatment import check_dates


def staggered_panel(seed: int = 3, n: int = 60, t: int = 12) -> pd.DataFrame:
    """Units first treated in periods 0 (always), 3, 5, 8 or never, with effects growing over time."""
    rng = np.random.default_rng(seed)
    first = rng.choice([0, 3, 5, 8, t], size=n)
    rows = []
    for i in range(n):
        a = rng.normal()
        for s in range(t):
            d = int(s >= first[i])
            rows.append((i, 2000 + s, d, a + 0.1 * s + d * (1 + 0.3 * (s - first[i])) + rng.normal(scale=0.5)))
    return pd.DataFrame(rows, columns=["unit", "year", "treated", "y"])


def test_timing_rules_follow_the_two_papers():
    dates = pd.Series(["2010-01-12", "2011-06-30", "2011-07-01", "2011-10-20"])
    assert adoption_year(dates, "calendar").tolist() == [2010, 2011, 2011, 2011]  # paper 001
    assert adoption_year(dates, "july").tolist() == [2010, 2011, 2012, 2012]      # paper 000
    assert adoption_year(dates, "cutoff", cutoff_month=10).tolist() == [2010, 2011, 2011, 2012]
    with pytest.raises(TreatmentError, match="not one of calendar, july, cutoff"):
        adoption_year(dates, "fiscal")


def test_treatment_panel_first_adoption_partial_coverage_and_exclusions():
    events = pd.DataFrame({
        "unit_code": ["A", "A", "B", "C"], "date": ["2011-10-01", "2018-03-01", "2012-05-01", "2012-05-01"],
        "batch": [1, 2, 2, 2], "coverage": ["full", "full", "full", "partial"],
        "policy_group": ["z1", "z2", "z3", "z3"],
    })
    spine = pd.DataFrame([(u, y) for u in "ABCD" for y in range(2009, 2015)], columns=["city_code", "year"])
    july = treatment_panel(events, spine, "city_code", rule="july")
    cohorts = july.groupby("city_code")["cohort"].first()
    assert cohorts["A"] == 2012 and cohorts["B"] == 2012 and pd.isna(cohorts["D"])
    assert "C" not in set(july["city_code"])  # partially covered: neither treated nor a clean control
    assert july.loc[(july.city_code == "A") & (july.year == 2011), "treated"].item() == 0
    assert july.loc[(july.city_code == "A") & (july.year == 2012), "rel_time"].item() == 0
    calendar = treatment_panel(events, spine, "city_code", rule="calendar")
    changed = set(calendar.loc[calendar["cohort"].ne(july["cohort"]).fillna(False), "city_code"])
    assert changed == {"A"}  # only the October approval moves
    no_z1 = treatment_panel(events, spine, "city_code", exclude_groups=["z1"])
    assert no_z1.groupby("city_code")["cohort"].first()["A"] == 2018


def pilot_events(**changes: list) -> pd.DataFrame:
    """Two units of one pilot policy, batch 1 in 2012 and batch 2 in 2014, still in force."""
    frame = pd.DataFrame({"unit_code": ["A", "B"], "date": ["2012-03-01", "2014-03-01"], "end_date": [None, None],
                          "batch": [1, 2], "coverage": ["full", "full"], "policy_group": ["pilot", "pilot"]})
    return frame.assign(**changes)


def test_end_dates_switch_the_treatment_off_in_the_rules_years():
    spine = pd.DataFrame([(u, y) for u in "ABC" for y in range(2010, 2018)], columns=["city_code", "year"])
    events = pilot_events(end_date=["2015-09-30", None])
    on = {rule: treatment_panel(events, spine, "city_code", rule=rule).query("city_code == 'A' and treated == 1")
          for rule in ("calendar", "july")}
    assert on["calendar"]["year"].tolist() == [2012, 2013, 2014, 2015]  # the end year counts, as the start year does
    assert on["july"]["year"].tolist() == [2012, 2013, 2014, 2015]  # ended in September: treated most of 2015
    late = treatment_panel(pilot_events(end_date=["2015-03-31", None]), spine, "city_code", rule="july")
    assert late.query("city_code == 'A' and treated == 1")["year"].max() == 2014
    b = treatment_panel(events, spine, "city_code").query("city_code == 'B'")
    assert b["treated"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize(("changes", "message"), [
    ({"end_date": ["2011-12-31", None]}, "unit A: end_date 2011-12-31 is before the start 2012-03-01"),
    ({"unit_code": ["A", "A"], "batch": [1, 1]}, "unit A is listed in pilot batch 1 with different dates"),
    ({"date": ["2015-03-01", "2014-03-01"]}, "batch 2 of pilot is dated before an earlier batch"),
])
def test_reversed_and_contradictory_dates_are_refused(changes, message):
    with pytest.raises(TreatmentError, match=message):
        check_dates(pilot_events(**changes), "pilot")
    check_dates(pilot_events(unit_code=["A", "A"]), "pilot")  # one unit in two batches: treated from the first


def test_bacon_weights_sum_to_one_and_reproduce_twfe():
    data = staggered_panel()
    result = bacon(data, "y")
    reference = pf.feols("y ~ treated | unit + year", data=data).coef()["treated"]  # pyfixest TWFE
    assert result.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert result.estimate == pytest.approx(reference, abs=1e-10)
    assert set(result.by_type()["type"]) == {
        "treated vs never treated", "earlier treated vs later control", "later treated vs earlier control"}


def test_bacon_hand_example_two_groups():
    # one group treated from period 2 of 4, one never: the 2×2 DD is the only comparison
    y = {("a", 0): 1, ("a", 1): 2, ("a", 2): 6, ("a", 3): 7, ("b", 0): 1, ("b", 1): 1, ("b", 2): 2, ("b", 3): 2}
    data = pd.DataFrame([(u, t, int(u == "a" and t >= 2), v) for (u, t), v in y.items()],
                        columns=["unit", "year", "treated", "y"])
    result = bacon(data, "y")
    # (6.5 - 1.5) - (2 - 1) = 4, weight 1
    assert result.table[["estimate", "weight"]].to_numpy().tolist() == [[pytest.approx(4.0), pytest.approx(1.0)]]


def test_bacon_rejects_unbalanced_or_reversible_treatment():
    data = staggered_panel()
    with pytest.raises(DIDError, match="balanced panel"):
        bacon(data.iloc[1:], "y")
    flipped = data.copy()
    flipped.loc[(flipped.unit == flipped.loc[flipped.treated == 1, "unit"].iloc[0]) & (flipped.year == 2011),
                "treated"] = 0
    with pytest.raises(DIDError, match="never switch off"):
        bacon(flipped, "y")


def test_closed_form_twfe_equals_pyfixest():
    data = staggered_panel(seed=7)
    wide_y = data.pivot(index="unit", columns="year", values="y").to_numpy()
    wide_d = data.pivot(index="unit", columns="year", values="treated").to_numpy(dtype=float)
    reference = pf.feols("y ~ treated | unit + year", data=data).coef()["treated"]
    assert fwl_twfe(demean_two_way(wide_y), wide_d) == pytest.approx(reference, abs=1e-10)


def test_placebo_is_seeded_and_centred_on_zero():
    data = staggered_panel(seed=11, n=80)
    truth = twfe(data, "y").coef
    a = placebo(data, "y", truth, n_treated=20, adoption_years=[2003, 2005, 2008], reps=200, seed=1)
    b = placebo(data, "y", truth, n_treated=20, adoption_years=[2003, 2005, 2008], reps=200, seed=1)
    assert np.array_equal(a.estimates, b.estimates)
    assert abs(a.estimates.mean()) < 3 * a.estimates.std() / np.sqrt(200)
    assert a.p_value == 0.0  # the true effect (~1+) is far outside the placebo distribution


def test_event_study_errors_are_actionable():
    data = staggered_panel()
    data["rel_time"] = np.where(data.groupby("unit")["treated"].transform("max") > 0,
                                data["year"] - data.groupby("unit")["year"].transform(lambda s: s.min()), np.nan)
    with pytest.raises(DIDError, match="reference period 3 must lie inside the window"):
        event_study(data, "y", window=(-2, 2), reference=3)
    with pytest.raises(DIDError, match="column 'gdp' is not in the data"):
        twfe(data, "gdp")


def test_sun_abraham_equals_callaway_santanna_after_adoption():
    # without covariates and with never-treated controls, the interaction-weighted estimator and CS's
    # dynamic aggregation coincide for post-adoption event times (two independent implementations)
    from analyses.did import callaway_santanna
    from analyses.did.estimators import sun_abraham

    data = staggered_panel(n=200)
    first = data[data["treated"] == 1].groupby("unit")["year"].min()
    data["cohort"] = data["unit"].map(first)
    data = data[data["cohort"] != 2000]  # always treated: no pre-period
    sa = sun_abraham(data, "y").set_index("event_time")["coef"]
    cs = callaway_santanna(data, "y").aggregate("dynamic").set_index("event_time")["att"]
    post = [e for e in sa.index if e >= 0]
    assert len(post) >= 5
    assert sa[post].to_numpy() == pytest.approx(cs[post].to_numpy(), abs=1e-8)


def test_stepwise_controls_equal_dummy_ols_with_the_same_rows():
    import statsmodels.formula.api as smf

    from analyses.did.estimators import stepwise

    data = staggered_panel()
    rng = np.random.default_rng(8)
    data["x1"], data["x2"] = rng.normal(size=len(data)), rng.normal(size=len(data))
    data.loc[data.index[:5], "x2"] = np.nan  # every column uses the rows complete in both controls
    fits = stepwise(data, "y", ["x1", "x2"])
    assert [f.nobs for f in fits] == [len(data) - 5] * 3
    frame = data.dropna(subset=["x2"])
    for fit, rhs in zip(fits, ["treated", "treated + x1", "treated + x1 + x2"], strict=True):
        ols = smf.ols(f"y ~ {rhs} + C(unit) + C(year)", data=frame).fit()  # LSDV: the papers' R²
        assert fit.coef == pytest.approx(ols.params["treated"], rel=1e-9)
        assert fit.r2 == pytest.approx(ols.rsquared, rel=1e-9)
    assert 0 < fits[2].r2_within < fits[2].r2


def test_a_sample_without_never_treated_units_is_refused_with_what_to_do():
    from analyses.did.sample import require_never_treated

    data = staggered_panel()
    data["cohort"] = data["year"].where(data["treated"] == 1).groupby(data["unit"]).transform("min")
    data["ever_treated"] = data["cohort"].notna()
    require_never_treated(data)  # the panel has never-treated units
    everyone = data[data["ever_treated"]]
    with pytest.raises(DIDError, match=r"every unit of the sample is treated by 2008: .*end the sample before 2008"):
        require_never_treated(everyone)
