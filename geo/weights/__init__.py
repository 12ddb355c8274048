"""Spatial weight matrices: build, import, store in the warehouse, read back as PySAL weights.

    from geo.weights import build_weights, write_w, read_w
    write_w(con, build_weights(con, "queen", "city", islands="manual"), "queen_city")
    w = read_w(con, "queen_city", ids=codes)          # a libpysal W over exactly these codes

See `geo.weights.build` for the builders on plain data and the island policies, `geo.weights.store`
for the warehouse tables.
"""

from geo.weights.build import (
    ISLAND_POLICIES,
    apply_island_policy,
    contiguity,
    distance_band,
    distance_matrix_km,
    economic_distance,
    haversine_km,
    inverse_distance,
    knn,
    nested_economic_geographic,
)
from geo.weights.core import SpatialWeights, SubsetReport, WeightsError
from geo.weights.io import check_codes, read_matrix_file, write_gal, write_gwt
from geo.weights.store import (
    WeightsSubsetWarning,
    build_weights,
    drop_w,
    ensure_tables,
    list_w,
    load_weights,
    read_graph,
    read_w,
    write_w,
)

__all__ = [
    "ISLAND_POLICIES", "SpatialWeights", "SubsetReport", "WeightsError", "WeightsSubsetWarning",
    "apply_island_policy", "build_weights", "check_codes", "contiguity", "distance_band", "distance_matrix_km",
    "drop_w", "economic_distance", "ensure_tables", "haversine_km", "inverse_distance", "knn", "list_w",
    "load_weights", "nested_economic_geographic", "read_graph", "read_matrix_file", "read_w", "write_gal",
    "write_gwt", "write_w",
]
