"""Spatial weight matrices on plain data: builders, island policies, GAL/GWT/.mat/CSV files.

    from geo.weights import contiguity, read_matrix_file
    w = contiguity(gdf, id_column="code", islands="knn")   # a SpatialWeights; w.to_libpysal() for PySAL

Storing matrices in the warehouse (weights.w_edges / w_catalog) and building them from the warehouse's
dims is the warehouse's job: `warehouse.weights` (build_weights, write_w, read_w, load_weights, list_w).
geo never imports warehouse.
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

__all__ = [
    "ISLAND_POLICIES", "SpatialWeights", "SubsetReport", "WeightsError", "apply_island_policy", "check_codes",
    "contiguity", "distance_band", "distance_matrix_km", "economic_distance", "haversine_km", "inverse_distance",
    "knn", "nested_economic_geographic", "read_matrix_file", "write_gal", "write_gwt",
]
