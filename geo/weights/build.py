"""Weight builders on plain data: polygons, points (lon/lat) or values in, `SpatialWeights` out.

Each builder records its kind and parameters; none touches the warehouse (see `warehouse.weights` for
the versions that read the dims). Distances are great-circle (haversine, mean Earth radius 6371.0088 km)
between the points given — area centroids or provincial capitals.

Island policy (contiguity and distance band). A unit with no neighbour is never left silently:
- ``knn``: link it to its k nearest units (by great-circle distance), both directions;
- ``manual``: add every link listed for the level in `seeds/manual_links.csv` (e.g. Hainan–Guangdong,
  both directions), then link any island still without a neighbour to its k nearest units;
- ``keep``: keep it as an island (the catalog counts and names it);
- ``error``: refuse to build.
The units an island policy linked, and how, are recorded in the matrix's parameters.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from geo.weights.core import SpatialWeights, WeightsError, _preview

EARTH_RADIUS_KM = 6371.0088
ISLAND_POLICIES = ("knn", "manual", "keep", "error")


# ----------------------------------------------------------------------------- distances
def haversine_km(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in km (broadcasts)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_matrix_km(lon: Sequence[float], lat: Sequence[float]) -> np.ndarray:
    """Dense n×n great-circle distances (km)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])


def _check_points(ids: Sequence[str], lon, lat) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = [str(i) for i in ids]
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if not (len(ids) == len(lon) == len(lat)):
        raise WeightsError("ids, lon and lat must have the same length")
    bad = [ids[i] for i in np.flatnonzero(~np.isfinite(lon) | ~np.isfinite(lat))]
    if bad:
        raise WeightsError(f"no coordinates for {len(bad)} units ({_preview(bad)}); they need a centroid or a seat")
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 360).any():
        raise WeightsError("coordinates must be longitude/latitude in degrees")
    return ids, lon, lat


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def nearest(lon: np.ndarray, lat: np.ndarray, k: int, of: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """k nearest other units (indices, km) of each unit in `of` (default all), nearest first.

    Chord distance on the unit sphere orders points exactly like great-circle distance, so a KD-tree on
    3-D unit vectors gives the great-circle nearest neighbours; ties are broken by index.
    """
    n = len(lon)
    if k >= n:
        raise WeightsError(f"k = {k} nearest neighbours needs more than {k} units (there are {n})")
    of = np.arange(n) if of is None else np.asarray(of)
    xyz = _unit_vectors(lon, lat)
    tree = cKDTree(xyz)
    kk = min(n, k + 1 + 8)  # a few spare to drop self and break ties stably
    _, idx = tree.query(xyz[of], k=kk)
    idx = np.atleast_2d(idx)
    out_idx = np.empty((len(of), k), dtype=np.int64)
    out_d = np.empty((len(of), k))
    for r, i in enumerate(of):
        cand = idx[r][idx[r] != i]
        d = haversine_km(lon[i], lat[i], lon[cand], lat[cand])
        order = np.lexsort((cand, d))[:k]
        out_idx[r], out_d[r] = cand[order], d[order]
    return out_idx, out_d


# ----------------------------------------------------------------------------- island policy
def apply_island_policy(w: SpatialWeights, lon, lat, policy: str = "knn", k: int = 1,
                        manual_links: pd.DataFrame | None = None) -> SpatialWeights:
    """Give every island of `w` neighbours according to `policy` (see the module docstring).

    New links get weight 1 (the matrix must still be binary: apply the policy before any transform).
    """
    if policy not in ISLAND_POLICIES:
        raise WeightsError(f"island policy {policy!r}: use one of {', '.join(ISLAND_POLICIES)}")
    islands = w.islands
    params = {**w.params, "island_policy": policy, "islands_found": islands}
    if policy == "knn" or policy == "manual":
        params["island_k"] = k
    if not islands and policy != "manual":
        w.params = params
        return w
    if policy == "keep":
        w.params = params
        return w
    if policy == "error":
        raise WeightsError(f"{len(islands)} units have no neighbour: {_preview(islands)}; choose an island policy "
                           "(knn, manual or keep)")
    if w.transform != "B":
        raise WeightsError("apply the island policy to a binary matrix, before standardising")
    pos = {c: i for i, c in enumerate(w.ids)}
    m = w.matrix.tolil()
    linked_manual: list[list[str]] = []
    if policy == "manual":
        links = manual_links if manual_links is not None else pd.DataFrame(columns=["focal_code", "neighbor_code"])
        for row in links.itertuples(index=False):
            a, b = str(row.focal_code), str(row.neighbor_code)
            if a in pos and b in pos:
                m[pos[a], pos[b]] = 1.0
                m[pos[b], pos[a]] = 1.0
                linked_manual.append([a, b])
    still = [c for c in islands if m.rows[pos[c]] == []]
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    linked_knn: dict[str, list[str]] = {}
    if still:
        idx, _ = nearest(lon, lat, k, of=np.array([pos[c] for c in still]))
        for c, nbrs in zip(still, idx, strict=True):
            i = pos[c]
            for j in nbrs:
                m[i, j] = 1.0
                m[j, i] = 1.0
            linked_knn[c] = [w.ids[j] for j in nbrs]
    params["islands_linked_manual"] = linked_manual
    params["islands_linked_knn"] = linked_knn
    out = SpatialWeights(ids=w.ids, matrix=m.tocsr(), kind=w.kind, level=w.level, transform="B", params=params,
                         islands_linked=islands, unit_set=w.unit_set)
    return out


def _finish(w: SpatialWeights, row_standardise: bool) -> SpatialWeights:
    w.params["row_standardised"] = bool(row_standardise)
    return w.row_standardise() if row_standardise else w


# ----------------------------------------------------------------------------- builders
def contiguity(gdf, id_column: str = "code", rule: str = "queen", islands: str = "knn", k: int = 1,
               manual_links: pd.DataFrame | None = None, row_standardise: bool = True, level: str | None = None,
               lon: Sequence[float] | None = None, lat: Sequence[float] | None = None,
               unit_set: str = "") -> SpatialWeights:
    """Queen (shared vertex) or rook (shared edge) contiguity of polygons, with an explicit island policy.

    `lon`/`lat` are the points the island policy measures from (default: the polygons' centroids in
    `centroid_lon`/`centroid_lat` columns, else their geometric centroids).
    """
    from libpysal.weights import Queen, Rook

    if rule not in ("queen", "rook"):
        raise WeightsError(f"contiguity rule {rule!r}: use queen or rook")
    if id_column not in gdf.columns:
        raise WeightsError(f"no column {id_column!r} in the polygons; columns are {list(gdf.columns)}")
    frame = gdf.reset_index(drop=True)
    ids = frame[id_column].astype(str).tolist()
    builder = Queen if rule == "queen" else Rook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands; the policy below handles them
        pw = builder.from_dataframe(frame, ids=ids, use_index=False)
    w = SpatialWeights.from_libpysal(pw, kind=rule, level=level, params={"rule": rule}, unit_set=unit_set)
    w = SpatialWeights(ids=ids, matrix=w.subset(ids)[0].matrix, kind=rule, level=level, transform="B",
                       params={"rule": rule}, unit_set=unit_set)
    if lon is None or lat is None:
        lon, lat = _centroid_points(frame)
    w = apply_island_policy(w, lon, lat, policy=islands, k=k, manual_links=manual_links)
    return _finish(w, row_standardise)


def _centroid_points(gdf) -> tuple[np.ndarray, np.ndarray]:
    if {"centroid_lon", "centroid_lat"} <= set(gdf.columns):
        return gdf["centroid_lon"].to_numpy(float), gdf["centroid_lat"].to_numpy(float)
    geo = gdf.geometry
    if geo.crs is not None and not geo.crs.is_geographic:
        c = geo.centroid.to_crs(4326)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = geo.centroid
    return c.x.to_numpy(float), c.y.to_numpy(float)


def inverse_distance(ids: Sequence[str], lon, lat, power: float = 1.0, cutoff_km: float | None = None,
                     row_standardise: bool = True, level: str | None = None, points: str = "centroid",
                     max_links: int = 5_000_000, unit_set: str = "") -> SpatialWeights:
    """w_ij = 1 / d_ij^power (great-circle km), optionally only for d_ij <= cutoff_km."""
    ids, lon, lat = _check_points(ids, lon, lat)
    n = len(ids)
    if power <= 0:
        raise WeightsError("power must be positive (1 = inverse distance, 2 = inverse squared distance)")
    if cutoff_km is None and n * (n - 1) > max_links:
        raise WeightsError(f"a dense inverse-distance matrix over {n} units has {n * (n - 1):,} links; "
                           "give a cutoff in km (e.g. --cutoff 300)")
    rows, cols, dist = _pairs_within(lon, lat, cutoff_km)
    if (dist == 0).any():
        i = int(np.flatnonzero(dist == 0)[0])
        raise WeightsError(f"units {ids[rows[i]]} and {ids[cols[i]]} have the same coordinates; "
                           "inverse distance is undefined")
    m = sparse.csr_matrix((dist ** -float(power), (rows, cols)), shape=(n, n))
    kind = "inverse_distance" if power == 1 else ("inverse_distance_squared" if power == 2 else "inverse_distance")
    params = {"power": power, "cutoff_km": cutoff_km, "points": points}
    w = SpatialWeights(ids=ids, matrix=m, kind=kind, level=level, transform="O", params=params, unit_set=unit_set)
    return _finish(w, row_standardise)


def _pairs_within(lon: np.ndarray, lat: np.ndarray, cutoff_km: float | None):
    """(row, col, km) of every ordered pair i != j, within the cutoff if one is given."""
    n = len(lon)
    if cutoff_km is None:
        d = distance_matrix_km(lon, lat)
        rows, cols = np.nonzero(~np.eye(n, dtype=bool))
        return rows, cols, d[rows, cols]
    # chord length for the great-circle cutoff, plus a margin; exact distances filter afterwards
    chord = 2 * np.sin(min(cutoff_km / EARTH_RADIUS_KM, np.pi) / 2) * 1.0001
    tree = cKDTree(_unit_vectors(lon, lat))
    pairs = tree.query_pairs(chord, output_type="ndarray")
    if len(pairs) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([])
    a, b = pairs[:, 0], pairs[:, 1]
    d = haversine_km(lon[a], lat[a], lon[b], lat[b])
    keep = d <= cutoff_km
    a, b, d = a[keep], b[keep], d[keep]
    return np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([d, d])


def knn(ids: Sequence[str], lon, lat, k: int = 5, row_standardise: bool = True, level: str | None = None,
        points: str = "centroid", unit_set: str = "") -> SpatialWeights:
    """Each unit's k nearest units (great-circle), weight 1; not symmetric in general."""
    ids, lon, lat = _check_points(ids, lon, lat)
    if k < 1:
        raise WeightsError("k must be at least 1")
    idx, _ = nearest(lon, lat, k)
    n = len(ids)
    rows = np.repeat(np.arange(n), k)
    m = sparse.csr_matrix((np.ones(n * k), (rows, idx.ravel())), shape=(n, n))
    w = SpatialWeights(ids=ids, matrix=m, kind="knn", level=level, transform="B",
                       params={"k": k, "points": points}, unit_set=unit_set)
    return _finish(w, row_standardise)


def distance_band(ids: Sequence[str], lon, lat, threshold_km: float, islands: str = "knn", k: int = 1,
                  row_standardise: bool = True, level: str | None = None, points: str = "centroid",
                  unit_set: str = "") -> SpatialWeights:
    """w_ij = 1 if d_ij <= threshold_km; units with nobody that close follow the island policy."""
    ids, lon, lat = _check_points(ids, lon, lat)
    if threshold_km <= 0:
        raise WeightsError("the distance band threshold must be positive (km)")
    rows, cols, _ = _pairs_within(lon, lat, threshold_km)
    n = len(ids)
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    w = SpatialWeights(ids=ids, matrix=m, kind="distance_band", level=level, transform="B",
                       params={"threshold_km": threshold_km, "points": points}, unit_set=unit_set)
    w = apply_island_policy(w, lon, lat, policy=islands, k=k)
    return _finish(w, row_standardise)


def economic_distance(ids: Sequence[str], means: Sequence[float], row_standardise: bool = True,
                      level: str | None = None, variable: str | None = None, years: Sequence[int] | None = None,
                      unit_set: str = "") -> SpatialWeights:
    """w_ij = 1 / |Ȳ_i − Ȳ_j| with Ȳ a variable's period mean per unit (e.g. mean GDP per capita)."""
    ids = [str(i) for i in ids]
    y = np.asarray(means, dtype=float)
    if len(y) != len(ids):
        raise WeightsError("ids and means must have the same length")
    bad = [ids[i] for i in np.flatnonzero(~np.isfinite(y))]
    if bad:
        raise WeightsError(f"no period mean of {variable or 'the variable'} for {len(bad)} units ({_preview(bad)})")
    diff = np.abs(y[:, None] - y[None, :])
    off = ~np.eye(len(ids), dtype=bool)
    if (diff[off] == 0).any():
        i, j = np.argwhere((diff == 0) & off)[0]
        raise WeightsError(f"units {ids[i]} and {ids[j]} have the same period mean of {variable or 'the variable'} "
                           f"({y[i]}); 1/|Ȳi − Ȳj| is undefined")
    m = np.zeros_like(diff)
    m[off] = 1.0 / diff[off]
    params = {"variable": variable, "years": list(years) if years is not None else None}
    w = SpatialWeights(ids=ids, matrix=sparse.csr_matrix(m), kind="economic_distance", level=level, transform="O",
                       params=params, unit_set=unit_set)
    return _finish(w, row_standardise)


def nested_economic_geographic(base: SpatialWeights, means: Sequence[float], row_standardise: bool = True,
                               variable: str | None = None, years: Sequence[int] | None = None,
                               base_name: str | None = None) -> SpatialWeights:
    """W_e = W_d · diag(Ȳ_1/Ȳ, …, Ȳ_n/Ȳ) (digital–real integration paper, eq. 19; 袁华锡 et al. 2019).

    `base` is the geographic matrix W_d (e.g. inverse squared distance between capitals, not
    row-standardised), `means` the period mean Ȳ_i of each unit in `base.ids` order; Ȳ is the grand
    mean (the mean of the Ȳ_i, equal to Σ_i Σ_t Y_it / (n T) on a balanced panel). Column j of W_d is
    scaled by Ȳ_j / Ȳ: a richer neighbour weighs more.
    """
    y = np.asarray(means, dtype=float)
    if len(y) != base.n:
        raise WeightsError(f"{len(y)} means for a {base.n}-unit base matrix")
    bad = [base.ids[i] for i in np.flatnonzero(~np.isfinite(y) | (y <= 0))]
    if bad:
        raise WeightsError(f"the nested matrix needs a positive period mean for every unit; missing or ≤ 0 for "
                           f"{_preview(bad)}")
    grand = float(y.mean())
    m = base.matrix @ sparse.diags(y / grand)
    params = {"base": base_name or base.kind, "base_params": base.params, "base_transform": base.transform,
              "variable": variable, "years": list(years) if years is not None else None, "grand_mean": grand}
    w = SpatialWeights(ids=base.ids, matrix=sparse.csr_matrix(m), kind="nested_economic_geographic",
                       level=base.level, transform="O", params=params, unit_set=base.unit_set)
    return _finish(w, row_standardise)
