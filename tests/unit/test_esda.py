"""ESDA against esda 2.9 on the same data, matrix and seed, and against published reference values.

References: shared/reference/validation.md (esda 2.9 on the libpysal wheel's columbus, stl, sids2,
desmith and lat2W data), and esda itself called directly in the test.
"""

from __future__ import annotations

import json
import warnings

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal.examples import get_path
from typer.testing import CliRunner

from analyses import esda as esda_module
from analyses.esda import (
    EsdaError,
    _global_permutation_chunks,
    _moran_global_sim,
    adjust_pvalues,
    geary,
    getis_ord,
    gi_star_arrays,
    global_stats,
    lisa,
    moran,
    moran_bv,
    moran_global_arrays,
    moran_local_arrays,
    seeded_global_rng,
)
from geo.weights import SpatialWeights, WeightsError

warnings.filterwarnings("ignore", category=DeprecationWarning)
SEED = 12345


@pytest.fixture(scope="module")
def columbus():
    df = gpd.read_file(get_path("columbus.shp"))
    df["code"] = df["POLYID"].astype(str)
    return df


def pysal_w(df, kind: str, transform: str = "r"):
    ids = df["code"].tolist()
    if kind == "queen":
        w = libpysal.weights.Queen.from_dataframe(df, ids=ids, use_index=False)
    elif kind == "rook":
        w = libpysal.weights.Rook.from_dataframe(df, ids=ids, use_index=False)
    else:
        w = libpysal.weights.KNN.from_dataframe(df, k=4, ids=ids, use_index=False)
    w.transform = transform
    return w


# ----------------------------------------------------------------------------- published values
@pytest.mark.parametrize(("kind", "i", "z_norm", "c"), [
    ("queen", 0.5001885571828611, 5.630312787738188, 0.5405282027020684),
    ("rook", 0.5236702127502532, 5.497820514640764, 0.5154408058652411),
    ("knn", 0.5825517270277237, 6.704196337990741, None),
])
def test_columbus_crime_equals_the_published_values(columbus, kind, i, z_norm, c):
    # validation.md: columbus CRIME, row-standardised
    w = SpatialWeights.from_libpysal(pysal_w(columbus, kind))
    stats = ["moran", "geary"] if c is not None else ["moran"]
    res = global_stats(columbus, "CRIME", w, statistics=stats, id_column="code", permutations=0)
    t = res.table.iloc[0]
    assert t["I"] == pytest.approx(i, abs=1e-12)
    assert t["EI"] == pytest.approx(-0.0208333, abs=1e-7)
    assert t["z_norm"] == pytest.approx(z_norm, abs=1e-10)
    if c is not None:
        assert t["C"] == pytest.approx(c, abs=1e-12)


def test_columbus_from_our_own_contiguity_builder(columbus):
    # the same numbers when geopanel builds the queen matrix from the polygons itself
    w = __import__("geo.weights", fromlist=["contiguity"]).contiguity(columbus, id_column="code", islands="error")
    t = moran(columbus, "CRIME", w, id_column="code", permutations=0).table.iloc[0]
    assert t["I"] == pytest.approx(0.5001885571828611, abs=1e-12)


def _stl():
    f = libpysal.io.open(get_path("stl_hom.txt"))
    y = np.array(f.by_col["HR8893"])
    w = libpysal.io.open(get_path("stl.gal")).read()
    w.transform = "r"
    return y, w


def test_stl_and_sids2_equal_the_published_values():
    # the published p_norm values are one-tailed (esda's default is two-tailed: twice these)
    y, w = _stl()
    r = moran_global_arrays(SpatialWeights.from_libpysal(w), y, permutations=0, two_tailed=False)
    assert r["I"] == pytest.approx(0.24365582621771659, abs=1e-14)
    assert r["p_norm"] == pytest.approx(0.00013573931385468807, rel=1e-9)
    w = libpysal.io.open(get_path("sids2.gal")).read()
    w.transform = "r"
    y = np.array(libpysal.io.open(get_path("sids2.dbf")).by_col("SIDR74"))
    r = moran_global_arrays(SpatialWeights.from_libpysal(w), y, permutations=0, two_tailed=False)
    assert r["I"] == pytest.approx(0.24772519320480135, abs=1e-14)
    assert r["p_norm"] == pytest.approx(5.7916539074498452e-05, rel=1e-9)


def test_lat2w_variances_under_binary_weights():
    # validation.md: lat2W(3,3), y = 1..9, binary: VI_rand = 0.0596875, VI_norm = 0.053125
    w = libpysal.weights.lat2W(3, 3)
    r = moran_global_arrays(SpatialWeights.from_libpysal(w), np.arange(1, 10, dtype=float), permutations=0)
    assert r["VI_rand"] == pytest.approx(0.0596875, abs=1e-12)
    assert r["VI_norm"] == pytest.approx(0.053125, abs=1e-12)


def test_desmith_local_moran_z_sim_equals_the_published_value():
    w = libpysal.io.open(get_path("desmith.gal")).read()
    w.transform = "r"
    y = np.array(libpysal.io.open(get_path("desmith.txt")).by_col["z"])
    r = moran_local_arrays(SpatialWeights.from_libpysal(w), y, permutations=99, seed=12345)
    assert r["z_sim"][0, 0] == pytest.approx(-0.6990291160835514, abs=1e-12)


# ----------------------------------------------------------------------------- equal to esda, same seed
GLOBAL_ATTRS = ("I", "EI", "VI_norm", "z_norm", "p_norm", "VI_rand", "z_rand", "p_rand", "p_sim", "EI_sim", "seI_sim",
                "z_sim", "p_z_sim")


@pytest.mark.parametrize("kind", ["queen", "knn"])
def test_global_moran_equals_esda_with_the_same_seed(columbus, kind):
    pw = pysal_w(columbus, kind)
    y = columbus["CRIME"].to_numpy(float)
    np.random.seed(SEED)
    ref = esda.Moran(y, pw, permutations=999)
    ours = moran_global_arrays(SpatialWeights.from_libpysal(pw), y, permutations=999, seed=SEED)
    for attr in GLOBAL_ATTRS:
        assert ours[attr] == pytest.approx(getattr(ref, attr), rel=1e-12, abs=1e-15), attr


@pytest.mark.parametrize("kind", ["queen", "knn"])
def test_global_permutation_distribution_is_esdas_bit_for_bit(columbus, kind):
    # the simulated I are computed with esda's own arithmetic, so the whole distribution is equal, not close
    pw = pysal_w(columbus, kind)
    y = columbus["CRIME"].to_numpy(float)
    np.random.seed(SEED)
    ref = esda.Moran(y, pw, permutations=999)
    sw, z = SpatialWeights.from_libpysal(pw), y - y.mean()
    np.testing.assert_array_equal(_moran_global_sim(sw.matrix, z, sw.s0, (z * z).sum(), 999, SEED), ref.sim)


def test_streamed_permutations_are_esdas_draws_in_any_chunk():
    # the permutations are drawn block by block instead of kept whole; the draws must not change
    n, k = 23, 50
    np.random.seed(SEED)
    esda_draws = np.array([np.random.permutation(n) for _ in range(k)])  # how esda's Moran draws
    for chunk in (1, 7, 50, 64):
        blocks = list(_global_permutation_chunks(SEED, n, k, chunk))
        assert max(len(b) for b in blocks) == min(chunk, k)
        np.testing.assert_array_equal(np.concatenate(blocks), esda_draws)


def test_chunked_and_overlapped_global_moran_equals_unchunked_exactly(monkeypatch):
    # a 10 × 12 lattice (lat2W, row-standardised) and a skewed variable; in blocks of 1, 7 and 999 permutations,
    # drawn in a producer thread or inline: the simulated I and every result are equal to the last bit
    pw = libpysal.weights.lat2W(10, 12)
    pw.transform = "r"
    sw = SpatialWeights.from_libpysal(pw)
    y = np.random.default_rng(8).lognormal(0, 1, 120) + np.repeat(np.arange(10.0), 12)
    z = y - y.mean()
    whole = _moran_global_sim(sw.matrix, z, sw.s0, (z * z).sum(), 999, SEED)
    whole_result = moran_global_arrays(sw, y, permutations=999, seed=SEED)
    np.random.seed(SEED)
    np.testing.assert_array_equal(esda.Moran(y, pw, permutations=999).sim, whole)
    monkeypatch.setattr(esda_module, "_OVERLAP_MIN", 0)  # the producer thread from the first block
    for chunk in (1, 7, 999):
        np.testing.assert_array_equal(_moran_global_sim(sw.matrix, z, sw.s0, (z * z).sum(), 999, SEED, chunk), whole)
    monkeypatch.setattr(esda_module, "_CHUNK_ELEMENTS", 1000)  # blocks of 8 permutations, overlapped
    assert moran_global_arrays(sw, y, permutations=999, seed=SEED) == whole_result


def test_local_moran_equals_esda_with_the_same_seed_for_general_weights():
    # stl with inverse-distance-like weights that differ within a row, several variables at once
    y, w = _stl()
    f = libpysal.io.open(get_path("stl_hom.txt"))
    ys = np.column_stack([y, np.array(f.by_col["HR8488"]), np.array(f.by_col["HC8488"])])
    rng = np.random.default_rng(3)
    pw = libpysal.weights.W({k: v for k, v in w.neighbors.items()},
                            {k: list(rng.uniform(0.5, 2.0, len(v))) for k, v in w.neighbors.items()},
                            id_order=w.id_order, silence_warnings=True)
    sw = SpatialWeights.from_libpysal(pw)
    ours = moran_local_arrays(sw, ys, permutations=999, seed=SEED)
    for j in range(ys.shape[1]):
        ref = esda.Moran_Local(ys[:, j], sw.to_libpysal(), transformation="o", permutations=999, seed=SEED)
        np.testing.assert_array_equal(ours["q"][:, j], ref.q)
        np.testing.assert_array_equal(ours["p_sim"][:, j], ref.p_sim)
        for ours_key, attr in (("Is", "Is"), ("EI_sim", "EI_sim"), ("seI_sim", "seI_sim"), ("z_sim", "z_sim")):
            np.testing.assert_allclose(ours[ours_key][:, j], getattr(ref, attr), rtol=1e-12, atol=1e-15)


def test_lisa_table_equals_esda_and_fdr_matches_esda_fdr(columbus):
    pw = pysal_w(columbus, "queen")
    sw = SpatialWeights.from_libpysal(pw)
    res = lisa(columbus, "CRIME", sw, id_column="code", permutations=999, seed=SEED, correction="fdr", alpha=0.05)
    ref = esda.Moran_Local(columbus["CRIME"].to_numpy(float), pw, permutations=999, seed=SEED)
    t = res.table.set_index("code").loc[columbus["code"]]
    np.testing.assert_array_equal(t["p_sim"].to_numpy(), ref.p_sim)
    np.testing.assert_allclose(t["local_i"].to_numpy(), ref.Is, rtol=1e-12)
    assert list(t["quadrant"]) == [{1: "HH", 2: "LH", 3: "LL", 4: "HL"}[q] for q in ref.q]
    threshold = esda.fdr(ref.p_sim, 0.05)  # esda's Benjamini–Hochberg cut-off
    np.testing.assert_array_equal((t["p_adjusted"] <= 0.05).to_numpy(), ref.p_sim <= threshold)
    assert set(t.loc[t["cluster"] != "ns", "cluster"]) <= {"HH", "LH", "LL", "HL"}
    gi = esda.G_Local(columbus["CRIME"].to_numpy(float), pw, transform="R", star=True, permutations=999,
                      seed=SEED, n_jobs=1)
    np.testing.assert_allclose(t["gi_star_z"].to_numpy(), gi.Zs, rtol=1e-12)
    np.testing.assert_array_equal(t["gi_star_p_sim"].to_numpy(), gi.p_sim)


def test_bonferroni_and_bh_adjustments_by_hand():
    p = np.array([0.01, 0.04, 0.03, np.nan])
    np.testing.assert_allclose(adjust_pvalues(p, "bonferroni")[:3], [0.03, 0.12, 0.09])
    # BH: sorted 0.01, 0.03, 0.04 → 0.03, 0.045, 0.04 → monotone from the top: 0.03, 0.04, 0.04
    np.testing.assert_allclose(adjust_pvalues(p, "fdr")[:3], [0.03, 0.04, 0.04])
    assert np.isnan(adjust_pvalues(p, "fdr")[3])


def test_geary_g_and_bivariate_are_esda_with_the_seed(columbus):
    pw = pysal_w(columbus, "queen")
    sw = SpatialWeights.from_libpysal(pw)
    y, x = columbus["CRIME"].to_numpy(float), columbus["INC"].to_numpy(float)
    with seeded_global_rng(SEED):
        ref_c = esda.Geary(y, sw.to_libpysal(), permutations=99)
    with seeded_global_rng(SEED):
        ref_g = esda.G(y, sw.to_libpysal(), permutations=99)
    with seeded_global_rng(SEED):
        ref_bv = esda.Moran_BV(y, x, sw.to_libpysal(), permutations=99)
    kw = {"id_column": "code", "permutations": 99, "seed": SEED}
    c = geary(columbus, "CRIME", sw, **kw).long.iloc[0]
    g = getis_ord(columbus, "CRIME", sw, **kw).long.iloc[0]
    bv = moran_bv(columbus, "CRIME", "INC", sw, **kw).long.iloc[0]
    assert (c["value"], c["p_sim"], c["z_rand"]) == (ref_c.C, ref_c.p_sim, ref_c.z_rand)
    assert (g["value"], g["p_sim"], g["transform"]) == (ref_g.G, ref_g.p_sim, "B")
    assert (bv["value"], bv["p_sim"], bv["indicator2"]) == (ref_bv.I, ref_bv.p_sim, "INC")


def test_global_rng_state_is_restored():
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    with seeded_global_rng(SEED):
        np.random.random()
    assert np.random.random() == expected


def test_gi_star_skipped_for_negative_values_and_islands_get_no_p_value():
    df = pd.DataFrame({"code": list("abcde"), "v": [-1.0, 2.0, 3.0, 4.0, 5.0]})
    w = SpatialWeights.from_edges(pd.DataFrame({"focal": list("abbcd"), "neighbor": list("bacbc")}),
                                  kind="path", ids=list("abcde")).row_standardise()
    res = lisa(df, "v", w, id_column="code", permutations=99)
    t = res.table.set_index("code")
    assert t.loc["e", "cluster"] == "island" and np.isnan(t.loc["e", "p_sim"]) and t["gi_star"].isna().all()
    assert gi_star_arrays(w, np.arange(1.0, 6.0), 9)["Zs"].shape == (5,)


# ----------------------------------------------------------------------------- panels by year and bad input
def panel():
    """A 3×3 grid observed in three years; 2021 has a gap, 2022 is all missing."""
    codes = [f"g{r}{c}" for r in (1, 2, 3) for c in (1, 2, 3)]
    rows = []
    for year, values in ((2020, range(1, 10)), (2021, [1, 2, None, 4, 5, 6, 7, 8, 9]), (2022, [None] * 9)):
        rows += [{"unit_code": c, "year": year, "x": v, "name": f"n{c}"} for c, v in zip(codes, values, strict=True)]
    return pd.DataFrame(rows).astype({"x": "Float64"}), codes


def rook(codes):
    w = SpatialWeights.from_libpysal(libpysal.weights.lat2W(3, 3))
    return SpatialWeights(ids=codes, matrix=w.matrix, kind="rook", transform="B")


def test_by_year_with_a_gap_drops_the_unit_and_counts_it():
    df, codes = panel()
    res = moran(df, "x", rook(codes), years=[2020, 2021], id_column="unit_code", permutations=0)
    t = res.long.set_index("year")
    assert t.loc[2020, "n"] == 9 and t.loc[2021, "n"] == 8 and t.loc[2021, "n_missing"] == 1
    # 2020 on the binary rook grid: the published lat2W variance
    assert t.loc[2020, "var_rand"] == pytest.approx(0.0596875)
    assert t.loc[2020, "transform"] == "B"


def test_bad_input_gets_a_clear_error(columbus):
    df, codes = panel()
    w = rook(codes)
    with pytest.raises(EsdaError, match=r"column 'x' of DataFrame has no values in 2022 \(all 9 missing\)"):
        moran(df, "x", w, years=[2020, 2022], id_column="unit_code")
    with pytest.raises(EsdaError, match="column 'name' of DataFrame is not numeric"):
        moran(df, "name", w, id_column="unit_code")
    with pytest.raises(EsdaError, match="no column 'gdp'; numeric columns: x"):
        moran(df, "gdp", w, id_column="unit_code")
    other = SpatialWeights(ids=[c.replace("g3", "h3") for c in codes], matrix=w.matrix, kind="rook")
    with pytest.raises(EsdaError, match=r"unit set does not match weight matrix 'rook' \(9 units\): 3 units .* g31"):
        moran(df, "x", other, years=[2020], id_column="unit_code")
    dropped = moran(df, "x", other, years=[2020], id_column="unit_code", unmatched="drop", permutations=0).long
    assert dropped.loc[0, "n"] == 6 and dropped.loc[0, "n_unmatched"] == 3
    with pytest.raises(EsdaError, match="no rows for year"):
        moran(df, "x", w, years=[1999], id_column="unit_code")
    import duckdb

    with pytest.raises(WeightsError, match="no weight matrix named 'queen_nowhere'"):
        moran(df, "x", "queen_nowhere", id_column="unit_code", con=duckdb.connect())
    with pytest.raises(EsdaError, match="correction"):
        lisa(df, "x", w, id_column="unit_code", correction="holm")


# ----------------------------------------------------------------------------- one data contract, ids as text
@pytest.fixture(scope="module")
def us48_files(tmp_path_factory):
    """The libpysal wheel's us_income data: a queen GAL over the 48 states with the shapefile's text FIPS ids
    ("01"), usjoin.csv as shipped (integer FIPS, wide by year) and with the FIPS zero-padded."""
    d = tmp_path_factory.mktemp("us48")
    shp = gpd.read_file(get_path("us48.shp"))
    w = libpysal.weights.Queen.from_dataframe(shp, ids=shp["STATE_FIPS"].tolist(), use_index=False)
    f = libpysal.io.open(str(d / "us48.gal"), "w")
    f.write(w)
    f.close()
    wide = pd.read_csv(get_path("usjoin.csv"))
    wide.to_csv(d / "usjoin.csv", index=False)
    wide.assign(STATE_FIPS=wide["STATE_FIPS"].map(lambda v: f"{v:02d}")).to_csv(d / "padded.csv", index=False)
    w.transform = "r"
    y = wide.assign(code=wide["STATE_FIPS"].map(lambda v: f"{v:02d}")).set_index("code").loc[w.id_order, "2009"]
    return d, w, y.to_numpy(float)


def test_zero_padded_csv_runs_on_all_48_states_and_integer_ids_are_refused(us48_files):
    d, w, y = us48_files
    res = moran(str(d / "padded.csv"), "income", str(d / "us48.gal"), years=[2009], id_column="STATE_FIPS",
                permutations=0)
    row = res.long.iloc[0]
    assert row["n"] == 48 and row["n_unmatched"] == 0 and row["transform"] == "R"
    assert row["value"] == pytest.approx(esda.Moran(y, w, permutations=0).I, abs=1e-12)  # esda on the same values
    for unmatched in ("error", "drop"):  # also --drop-unmatched: never 42 of 48 states with a footer count
        with pytest.raises(EsdaError, match=r"6 ids differ only by zero padding \(data '1' vs W '01'\)"):
            moran(str(d / "usjoin.csv"), "income", str(d / "us48.gal"), years=[2009], id_column="STATE_FIPS",
                  permutations=0, unmatched=unmatched)


def test_a_partial_match_lists_both_sides():
    df, codes = panel()
    w = rook(codes)
    other = SpatialWeights(ids=[c.replace("g3", "h3") for c in codes], matrix=w.matrix, kind="rook")
    with pytest.raises(EsdaError, match=r"have no row in it: g31 .*; matrix units without data: h31, h32, h33"):
        moran(df, "x", other, years=[2020], id_column="unit_code")


def test_mat_weights_need_an_explicit_order(tmp_path):
    df, codes = panel()  # unit codes g11 … g33, the order of the rook lattice
    lat = libpysal.weights.lat2W(3, 3, rook=True)
    f = libpysal.io.open(str(tmp_path / "w.mat"), "w")
    f.write(lat)
    f.close()
    with pytest.raises(WeightsError, match=r"w\.mat: the matrix has no unit ids.*--w-order"):
        moran(df, "x", str(tmp_path / "w.mat"), years=[2020], id_column="unit_code")
    got = moran(df, "x", str(tmp_path / "w.mat"), years=[2020], id_column="unit_code", w_order="ascending-text",
                permutations=0).long.iloc[0]
    ref = moran(df, "x", rook(codes).transformed("R"), years=[2020], id_column="unit_code", permutations=0).long
    assert got["value"] == pytest.approx(ref.iloc[0]["value"], abs=1e-14)
    with pytest.raises(WeightsError, match="are not numbers"):
        moran(df, "x", str(tmp_path / "w.mat"), id_column="unit_code", w_order="ascending-numeric")


def test_cli_moran_and_lisa_on_files_with_json(us48_files, tmp_path):
    from geopanel.cli import app

    d, w, y = us48_files
    args = ["--data", str(d / "padded.csv"), "--unit", "STATE_FIPS", "--w", str(d / "us48.gal"), "--years", "2009",
            "--db", str(tmp_path / "none.duckdb")]
    out = CliRunner().invoke(app, ["moran", "income", *args, "--permutations", "99", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["stored"] is False and "wide by year 1929–2009 melted" in payload["source"]
    moran_row = next(r for r in payload["results"] if r["statistic"] == "moran")
    assert moran_row["n"] == 48 and moran_row["value"] == pytest.approx(esda.Moran(y, w, permutations=0).I)
    assert {"se_norm", "p_norm", "se_rand", "p_rand", "se_sim", "p_sim"} <= moran_row.keys()
    assert moran_row["se_norm"] == pytest.approx(np.sqrt(esda.Moran(y, w, permutations=0).VI_norm))
    assert {r["statistic"] for r in payload["results"]} == {"moran", "geary", "getis_ord"}
    out = CliRunner().invoke(app, ["lisa", "income", *args, "--permutations", "99", "--json", "--out",
                                   str(tmp_path / "lisa.xlsx")])
    assert out.exit_code == 0, out.output
    units = json.loads(out.output)["units"]
    assert len(units) == 48 and {"local_i", "se_sim", "p_sim", "cluster"} <= units[0].keys()
    assert pd.read_excel(tmp_path / "lisa.xlsx", dtype={"code": str})["code"].str.len().eq(2).all()
    bad = CliRunner().invoke(app, ["moran", "income", *[a if a != str(d / "padded.csv") else str(d / "usjoin.csv")
                                                        for a in args], "--drop-unmatched"])
    assert bad.exit_code == 1 and "differ only by zero padding" in bad.output


def test_cli_moran_reads_a_sql_query(us48_files, tmp_path):
    import duckdb

    from geopanel.cli import app

    d, w, y = us48_files
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"create table incomes as select printf('%02d', STATE_FIPS) as code, \"2009\" as income, "
                f"2009 as year from read_csv('{d / 'usjoin.csv'}')")
    con.close()
    args = ["moran", "income", "--data", "select code, year, income from incomes", "--w", str(d / "us48.gal"),
            "--unit", "code", "--permutations", "0", "--no-geary", "--no-getis-ord", "--no-save", "--db", str(db),
            "--json"]
    # the tables a query reads pass the quality gate like a table does
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "main.incomes: never checked" in refused.output
    out = CliRunner().invoke(app, [*args, "--allow-failing-checks"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.output)["results"][0]
    assert row["n"] == 48 and row["value"] == pytest.approx(esda.Moran(y, w, permutations=0).I)


def test_cli_weights_check_reads_the_panel_through_the_contract(tmp_path):
    import duckdb

    from geopanel.cli import app
    from warehouse.weights import write_w

    df, codes = panel()
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    write_w(con, SpatialWeights(ids=codes[:8], matrix=rook(codes).matrix[:8, :8], kind="rook", transform="B"),
            "rook_g")
    con.register("df_view", df.astype({"x": "float64"}))
    con.execute("create table panel_g as select * from df_view")
    con.close()
    out = CliRunner().invoke(app, ["weights", "check", "rook_g", "--table", "panel_g", "--unit", "unit_code",
                                   "--db", str(db)])
    # g33 is in the panel but not in the 8-unit matrix: reported, exit 1
    assert out.exit_code == 1 and "g33" in out.output


def test_choropleth_of_your_own_units_needs_no_warehouse(columbus, tmp_path):
    from analyses.esda import EsdaError, choropleth_map, read_boundaries

    columbus.to_file(tmp_path / "columbus.gpkg")
    polygons = read_boundaries(tmp_path / "columbus.gpkg", "POLYID")  # integer ids become text codes
    data = pd.DataFrame({"POLYID": columbus["POLYID"], "CRIME": columbus["CRIME"]}).iloc[:40]
    gdf = choropleth_map(data, "CRIME", unit="POLYID", boundaries=polygons, level=None, scheme="quantiles", k=4,
                         path=tmp_path / "crime.png")
    assert (tmp_path / "crime.png").stat().st_size > 10_000
    assert len(gdf) == 49 and int(gdf["CRIME"].notna().sum()) == 40  # the 9 without a value are hatched
    with pytest.raises(EsdaError, match="no column 'FIPS'"):
        read_boundaries(tmp_path / "columbus.gpkg", "FIPS")


@pytest.mark.parametrize("lang, title, legend", [("zh", "2022 年地区生产总值", "地区生产总值（亿元）"),
                                                 ("en", "GDP, 2022", "GDP (100 million yuan)")])
def test_map_words_follow_lang_and_the_registry(columbus, tmp_path, lang, title, legend):
    """`geopanel map --lang`: the default title and the legend title are the registry's label (seeds/variables.csv
    for gdp: 地区生产总值, 亿元) in the language asked for, never the variable code."""
    import matplotlib.pyplot as plt

    from analyses.esda import choropleth_map, read_boundaries

    columbus.to_file(tmp_path / "columbus.gpkg")
    polygons = read_boundaries(tmp_path / "columbus.gpkg", "POLYID")
    data = pd.DataFrame({"POLYID": columbus["POLYID"], "gdp": columbus["HOVAL"] * 100, "year": 2022})
    plt.close("all")
    choropleth_map(data, "gdp", unit="POLYID", boundaries=polygons, level="province", k=4, lang=lang)
    ax = plt.gcf().axes[0]
    assert ax.get_title() == title
    assert ax.get_legend().get_title().get_text() == legend
    plt.close("all")


def test_map_refuses_an_unknown_language_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from geopanel.cli import app

    out = CliRunner().invoke(app, ["map", "gdp", "--out", str(tmp_path / "m.png"), "--lang", "fr",
                                   "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 1 and "--lang 'fr': use zh or en" in out.output
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "m.png").exists()


def test_user_text_in_the_output_is_never_markup(tmp_path, columbus):
    """A unit id or a file path with `[b]` or `[/]` prints as written (rich would eat it or choke on it)."""
    from typer.testing import CliRunner

    from geopanel.cli import app

    frame = columbus.assign(code=[f"u{i}" for i in columbus["POLYID"]])
    frame.to_file(tmp_path / "c.gpkg")
    db = str(tmp_path / "w.duckdb")
    out = CliRunner().invoke(app, ["weights", "build", "cw", "--kind", "queen", "--level", "mine",
                                   "--boundary-file", str(tmp_path / "c.gpkg"), "--id-column", "code", "--db", db])
    assert out.exit_code == 0, out.output
    data = tmp_path / "c[red]x[b].csv"
    frame[["code", "CRIME"]].to_csv(data, index=False)
    out = CliRunner().invoke(app, ["moran", "CRIME", "--w", "cw", "--data", str(data), "--unit", "code",
                                   "--permutations", "9", "--db", db])
    assert out.exit_code == 0, out.output
    assert "source c[red]x[b].csv" in out.output
