"""Invalid user polygons in `geopanel weights build --boundary-file`: a bow-tie and a spiked ring are repaired
with shapely.make_valid (polygon parts kept) and named in a one-line note, and the queen neighbours are the
ones drawn by hand; polygons that cannot be repaired, or units without a geometry, are refused by id with
the warehouse file byte-identical. Without the repair the spike's tip made a far unit a neighbour."""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point, Polygon
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection
from warehouse.weights import load_weights


def square(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return Polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def shifted(geom: Polygon) -> Polygon:
    """Unit squares moved to lon 100, lat 30 (EPSG:4326)."""
    return shapely.affinity.translate(geom, 100, 30)


#   C (bow-tie) | D          C's diagonals cross at (0.5, 1.5): repaired, it is two triangles touching A at
#   ------------+----        (0,1) and (1,1), B at (1,1) and D along x = 1.
#   A           | B | E -> F E's ring runs out to (4, 0.5), a vertex of F, and back: repaired, the spike
#                            (a line) is dropped and F has no neighbour.
UNITS = {
    "A": square(0, 0, 1, 1),
    "B": square(1, 0, 2, 1),
    "C": Polygon([(0, 1), (1, 2), (1, 1), (0, 2), (0, 1)]),
    "D": square(1, 1, 2, 2),
    "E": Polygon([(2, 0), (3, 0), (3, 0.5), (4, 0.5), (3, 0.5), (3, 1), (2, 1), (2, 0)]),
    "F": Polygon([(4, 0), (5, 0), (5, 1), (4, 1), (4, 0.5)]),
}
# queen contiguity of the repaired polygons, by hand (shared boundary points)
EXPECTED = {"A": {"B", "C", "D"}, "B": {"A", "C", "D", "E"}, "C": {"A", "B", "D"}, "D": {"A", "B", "C", "E"},
            "E": {"B", "D"}, "F": set()}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_units(path: Path, units: dict) -> Path:
    geoms = [None if g is None else shifted(g) for g in units.values()]
    gpd.GeoDataFrame({"code": list(units)}, geometry=geoms, crs=4326).to_file(path)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with connection(path):
        pass
    return path


def weights_build(db: Path, boundary: Path):
    return CliRunner().invoke(app, ["weights", "build", "mine", "--kind", "queen", "--level", "mine",
                                    "--boundary-file", str(boundary), "--islands", "keep", "--db", str(db)])


def test_the_example_is_invalid_as_drawn():
    assert [code for code, g in UNITS.items() if not g.is_valid] == ["C", "E"]


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_bow_tie_and_spike_are_repaired_with_a_note_and_the_neighbours_are_right(db, tmp_path, suffix):
    result = weights_build(db, write_units(tmp_path / f"units{suffix}", UNITS))
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "repaired 2 invalid polygon(s)" in line]
    assert len(notes) == 1 and "code C, E" in notes[0] and "make_valid" in notes[0], result.output
    with connection(db, read_only=True) as con:
        w, _ = load_weights(con, "mine")
        params = con.execute("select params from weights.w_catalog where w_name = 'mine'").fetchone()[0]
    m = w.matrix.tocsr()
    assert {code: {w.ids[j] for j in m[i].indices} for i, code in enumerate(w.ids)} == EXPECTED
    assert '"repaired_ids": ["C", "E"]' in params


def test_without_repair_the_spike_would_link_a_far_unit():
    """Why the repair matters: libpysal's queen rule on the invalid ring links E and F (a shared vertex)."""
    from libpysal.weights import Queen

    frame = gpd.GeoDataFrame({"code": list(UNITS)}, geometry=list(UNITS.values()))
    assert "F" in Queen.from_dataframe(frame, ids=list(UNITS), use_index=False).neighbors["E"]


@pytest.mark.parametrize(("units", "message"), [
    ({**UNITS, "G": Polygon([(6, 0), (7, 1), (8, 2), (6, 0)])}, "code G have invalid polygons with no area left"),
    ({**UNITS, "G": None}, "code G have no geometry"),
    ({**UNITS, "G": Point(6, 0)}, "code G are not polygons (Point)"),
], ids=["collapsed-ring", "no-geometry", "point"])
def test_unusable_polygons_are_refused_by_id_and_the_warehouse_is_unchanged(db, tmp_path, units, message):
    before = digest(db)
    result = weights_build(db, write_units(tmp_path / "units.gpkg", units))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert digest(db) == before
