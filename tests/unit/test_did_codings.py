"""Treatment cohorts in the codings found in the wild (normalise_cohorts), and the errors that say what to recode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.did import DIDError
from analyses.did.cohorts import normalise_cohorts


def panel(cohorts: dict[str, object], years=(2003, 2004, 2005, 2006, 2007)) -> pd.DataFrame:
    """One row per unit and year, the unit's cohort value repeated on each row."""
    return pd.DataFrame([(u, t, g, 1.0) for u, g in cohorts.items() for t in years],
                        columns=["unit", "year", "first_treat", "y"])


@pytest.mark.parametrize(("code", "name"), [(0, "0"), (np.nan, "empty"), (np.inf, "inf"), (-np.inf, "-inf"),
                                             (2099, "after the panel (> 2007)"), ("", "empty")])
def test_each_never_treated_code_becomes_nan_and_is_named(code, name):
    frame, coding = normalise_cohorts(panel({"a": 2004, "b": 2006, "c": code, "d": code}), "first_treat", "unit",
                                      "year")
    assert frame.groupby("unit")["first_treat"].first().isna().tolist() == [False, False, True, True]
    assert frame["first_treat"].dtype == float
    assert coding.never_code == name
    assert coding.counts == {"never": 2, 2004: 1, 2006: 1}
    assert coding.message == f"first_treat: never treated coded {name} (2 units); cohorts 2004 (1), 2006 (1)"


def test_mixed_codes_are_all_read_and_listed():
    _, coding = normalise_cohorts(panel({"a": 2004, "b": 0, "c": None, "d": np.inf}), "first_treat", "unit", "year")
    assert coding.never_code == "empty and 0 and inf"
    assert coding.counts["never"] == 3
    assert coding.recoded == {"empty": 1, "0": 1, "inf": 1}


def test_text_column_from_a_file_is_read():
    data = panel({"a": "2004", "b": "", "c": "inf", "d": "NA"})
    frame, coding = normalise_cohorts(data, "first_treat", "unit", "year")
    assert coding.counts == {"never": 3, 2004: 1}


def test_a_value_neither_period_nor_never_code_is_refused_with_the_values_named():
    data = panel({"a": 2004, "b": 2006, "c": 2007, "d": 1, "e": 0})
    with pytest.raises(DIDError) as err:
        normalise_cohorts(data, "first_treat", "unit", "year", source="mpdta.csv")
    assert str(err.value) == ("mpdta.csv: first_treat holds 2004, 2006, 2007 and 1; 1 is neither a panel period "
                              "(2003–2007) nor a never-treated code (0, empty, inf): recode it")
    with pytest.raises(DIDError, match=r"holds 2004 and -1; -1 is neither"):
        normalise_cohorts(panel({"a": 2004, "b": -1}), "first_treat", "unit", "year")
    with pytest.raises(DIDError, match=r"2004.5 is neither"):
        normalise_cohorts(panel({"a": 2004, "b": 2004.5}), "first_treat", "unit", "year")
    with pytest.raises(DIDError, match=r"holds never, which are not periods"):
        normalise_cohorts(panel({"a": 2004, "b": "never"}), "first_treat", "unit", "year")


def test_cohort_changing_within_a_unit_names_the_unit():
    data = panel({"a": 2004, "b": 2006, "c": 0})
    data.loc[(data["unit"] == "b") & (data["year"] < 2006), "first_treat"] = 0  # coded 'treated' only once in force
    with pytest.raises(DIDError, match=r"first_treat changes within unit b \(never, 2006\): the cohort is the first "
                                       r"treated period, one value per unit"):
        normalise_cohorts(data, "first_treat", "unit", "year")


def test_units_treated_in_or_before_the_first_period_are_dropped_and_counted():
    frame, coding = normalise_cohorts(panel({"a": 1998, "b": 2003, "c": 2005, "d": 0}), "first_treat", "unit",
                                      "year")
    assert sorted(frame["unit"].unique()) == ["c", "d"]
    assert coding.dropped == ("a", "b")
    assert coding.counts == {"never": 1, 2005: 1}
    assert coding.message.endswith("2 units treated in or before the first period 2003 dropped (no pre-period; "
                                   "as R did)")


def test_periods_not_years_use_the_time_scale():
    # periods 1..5: 0 is the never code; a cohort at period 1 has no pre-period
    data = panel({"a": 3, "b": 1, "c": 0}, years=(1, 2, 3, 4, 5))
    frame, coding = normalise_cohorts(data, "first_treat", "unit", "year")
    assert coding.counts == {"never": 1, 3: 1} and coding.dropped == ("b",)
    with pytest.raises(DIDError, match="0 could be a period or the never-treated code: code never-treated units "
                                       "empty"):
        normalise_cohorts(panel({"a": 3, "b": 0}, years=(0, 1, 2, 3)), "first_treat", "unit", "year")


def test_missing_column_is_named():
    with pytest.raises(DIDError, match="data.csv: column 'cohort' is not in the data; columns are: unit, year"):
        normalise_cohorts(panel({"a": 2004})[["unit", "year"]], "cohort", "unit", "year", source="data.csv")


# ---- library errors restated as one DIDError line with what to change (estimators.py) ----

@pytest.fixture(scope="module")
def mpdta_treated() -> pd.DataFrame:
    from pathlib import Path

    data = pd.read_csv(Path(__file__).parents[1] / "fixtures" / "mpdta.csv")
    data = data.rename(columns={"countyreal": "unit", "first.treat": "cohort"})
    return data.assign(treated=((data["cohort"] > 0) & (data["year"] >= data["cohort"])).astype(int))


def test_imputation_names_units_with_a_single_untreated_period_instead_of_a_broadcast_error(mpdta_treated):
    from analyses.did.estimators import imputation

    # cohort 2004 in a panel from 2003: one untreated year each, singleton unit effects in pyfixest's first stage
    with pytest.raises(DIDError, match=r"^two-stage imputation: 20 units have fewer than two untreated periods "
                                       r"\(e\.g\. \d+; first treated: 2004 \(20\)\).*leave these units or cohorts out"):
        imputation(mpdta_treated, "lemp")
    later = mpdta_treated[mpdta_treated["cohort"] != 2004]
    assert np.isfinite(imputation(later, "lemp").coef)
    all_treated_2007 = later.assign(treated=later["treated"].where(later["year"] < 2007, 1))
    with pytest.raises(DIDError, match="period 2007 has fewer than two untreated units"):
        imputation(all_treated_2007, "lemp")


def test_pyfixest_errors_are_restated_in_one_line(mpdta_treated):
    from analyses.did.estimators import sun_abraham, twfe

    with pytest.raises(DIDError, match=r"^TWFE: the treatment is collinear with the unit and year fixed effects"):
        twfe(mpdta_treated.assign(treated=0), "lemp")
    with pytest.raises(DIDError, match=r"^TWFE: a model column is not numeric"):
        twfe(mpdta_treated.assign(lemp=mpdta_treated["lemp"].astype(str)), "lemp")
    with pytest.raises(DIDError, match=r"^Sun–Abraham compares with never-treated units and there are none"):
        sun_abraham(mpdta_treated[mpdta_treated["cohort"] > 0], "lemp")
    with pytest.raises(DIDError) as err:
        twfe(mpdta_treated.assign(treated=0), "lemp")
    assert "\n" not in str(err.value)  # pyfixest's message spans lines; ours is one


def test_sun_abraham_reads_never_treated_coded_zero_nan_or_inf_alike(mpdta_treated):
    from analyses.did.estimators import sun_abraham

    never = mpdta_treated["cohort"] == 0
    fits = [sun_abraham(mpdta_treated.assign(cohort=mpdta_treated["cohort"].where(~never, code)), "lemp")
            for code in (0, np.nan, np.inf)]
    for other in fits[1:]:
        pd.testing.assert_frame_equal(other, fits[0])
