"""The public API as a notebook uses it: `import geopanel as gp`, files on disk in, tables out.

Only `gp` is called; the reference values come from outside geopanel: R `did` on mpdta (as stored in the csdid
repository, the same numbers as tests/unit/test_callaway_santanna.py), pyfixest's TWFE, and esda 2.9 on the
libpysal wheel's 48-state income data (as tests/unit/test_esda.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from libpysal.examples import get_path

import geopanel as gp

MPDTA = Path(__file__).parents[1] / "fixtures" / "mpdta.csv"
# R did 2.x, aggte(type = ..., bstrap = FALSE) on mpdta, never-treated controls: overall ATT and SE
R_DID_MPDTA_NEVER = {"simple": (-0.0399512751551763, 0.0120340127701854),
                     "group": (-0.0310182822287484, 0.0124460593209979),
                     "dynamic": (-0.0772398214573151, 0.0199649890618494),
                     "calendar": (-0.0417004321312822, 0.01597185188456)}


def test_the_api_names_its_capabilities():
    for name in ("read_panel", "did", "moran", "lisa", "spatial_panel", "connect", "ingest", "callaway_santanna",
                 "write_frame", "check"):
        assert callable(getattr(gp, name)) and getattr(gp, name).__doc__, name
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        gp.nonesuch  # noqa: B018


def test_python_dash_m_geopanel_is_the_command_line():
    out = subprocess.run([sys.executable, "-m", "geopanel", "--help"], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[2])
    assert out.returncode == 0 and "moran" in out.stdout and "spatial-panel" in out.stdout


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api_did")
    csv = folder / "mpdta.csv"
    shutil.copy(MPDTA, csv)
    return gp.did(str(csv), "lemp", cohort="first.treat", unit="countyreal", window=(-3, 3), stacked_window=(-1, 1),
                  placebo_reps=20, boot_reps=20, out=folder / "report")


def test_csv_to_did_table(battery):
    panel = gp.read_panel(str(MPDTA), unit="countyreal")
    assert (panel.unit, panel.time) == ("countyreal", "year") and panel.frame["countyreal"].map(type).eq(str).all()
    assert battery.coding.message.endswith("never treated coded 0 (309 units); cohorts 2004 (20), 2006 (40), "
                                           "2007 (131)")
    for kind, (att, se) in R_DID_MPDTA_NEVER.items():
        overall = battery.cs["never"].overall(kind)
        assert overall["att"] == pytest.approx(att, abs=1e-10) and overall["se"] == pytest.approx(se, abs=1e-10)
    # TWFE: pyfixest on the same file, treatment switched on from the first-treated year, SEs clustered by county
    data = pd.read_csv(MPDTA)
    data["treat"] = ((data["first.treat"] > 0) & (data["year"] >= data["first.treat"])).astype(int)
    ref = pf.feols("lemp ~ treat | countyreal + year", data, vcov={"CRV1": "countyreal"})
    assert battery.twfe.coef == pytest.approx(ref.coef()["treat"], abs=1e-10)
    assert battery.twfe.se == pytest.approx(ref.se()["treat"], rel=1e-8)
    table = battery.to_table()
    assert "TWFE" in table and "Callaway" in table and f"{battery.twfe.coef:.4f}" in table
    assert "tabular" in battery.to_table("latex")
    assert (Path(battery.files[0]).parent / "did_report.md").exists()


def test_callaway_santanna_on_a_frame():
    result = gp.callaway_santanna(pd.read_csv(MPDTA), "lemp", unit="countyreal", cohort="first.treat")
    assert result.overall("dynamic")["att"] == pytest.approx(R_DID_MPDTA_NEVER["dynamic"][0], abs=1e-12)


def test_ingest_reads_the_mapping_beside_the_file(tmp_path):
    data = tmp_path / "gdp.csv"
    data.write_text("地区,年份,地区生产总值\n北京市,2020,36102.6\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"gdp\.csv\.yml: mapping file not found"):
        gp.ingest(data, db=tmp_path / "w.duckdb")


def test_did_needs_a_cohort_or_a_policy():
    with pytest.raises(ValueError, match="give cohort="):
        gp.did(str(MPDTA), "lemp")


@pytest.fixture(scope="module")
def us48(tmp_path_factory):
    """A queen GAL over the 48 states (text FIPS ids "01") and usjoin.csv (wide by year) with the FIPS padded."""
    d = tmp_path_factory.mktemp("api_us48")
    shp = gpd.read_file(get_path("us48.shp"))
    w = libpysal.weights.Queen.from_dataframe(shp, ids=shp["STATE_FIPS"].tolist(), use_index=False)
    f = libpysal.io.open(str(d / "us48.gal"), "w")
    f.write(w)
    f.close()
    wide = pd.read_csv(get_path("usjoin.csv"))
    wide.assign(STATE_FIPS=wide["STATE_FIPS"].map(lambda v: f"{v:02d}")).to_csv(d / "income.csv", index=False)
    w.transform = "r"
    y = wide.assign(code=wide["STATE_FIPS"].map(lambda v: f"{v:02d}")).set_index("code").loc[w.id_order, "2009"]
    return d, w, y.to_numpy(float)


def test_csv_and_w_file_to_moran_table(us48, tmp_path):
    d, w, y = us48
    result = gp.moran(str(d / "income.csv"), "income", str(d / "us48.gal"), unit="STATE_FIPS", years=[2009],
                      permutations=99)
    row = result.table.iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.Moran(y, w, permutations=0)
    assert row["n"] == 48 and row["year"] == 2009
    assert row["I"] == pytest.approx(ref.I, abs=1e-12) and row["EI"] == pytest.approx(ref.EI, abs=1e-14)
    assert row["z_norm"] == pytest.approx(ref.z_norm, abs=1e-10) and row["p_norm"] == pytest.approx(ref.p_norm)
    assert 0 < row["p_sim"] <= 1
    out = gp.write_frame(result.table, tmp_path / "moran.csv")
    assert pd.read_csv(out, encoding="utf-8-sig")["I"].iloc[0] == pytest.approx(ref.I, abs=1e-12)


def test_lisa_equals_esda(us48):
    d, w, y = us48
    result = gp.lisa(str(d / "income.csv"), "income", str(d / "us48.gal"), unit="STATE_FIPS", years=[2009],
                     permutations=99)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.Moran_Local(y, w, permutations=0)  # the local statistic itself does not depend on the draws
    local = result.table.set_index("code").loc[w.id_order, "local_i"].to_numpy(float)
    np.testing.assert_allclose(local, ref.Is, atol=1e-12)


def test_the_same_call_on_a_warehouse_table(us48, tmp_path):
    d, w, y = us48
    db = tmp_path / "api.duckdb"
    long = gp.read_panel(str(d / "income.csv"), unit="STATE_FIPS", columns=["income"]).frame  # melted: income
    with gp.connect(db) as con:
        con.register("long_view", long)
        con.execute("create table income as select * from long_view")
    with gp.connect(db) as con:
        row = gp.moran("income", "income", str(d / "us48.gal"), unit="STATE_FIPS", years=[2009], permutations=0,
                       con=con, allow_failing_checks=True).table.iloc[0]
    assert row["I"] == pytest.approx(esda.Moran(y, w, permutations=0).I, abs=1e-12)
