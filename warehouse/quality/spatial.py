"""Geometry checks (shapely) on the dims and spatial-weights checks on weights.w_edges / w_catalog."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from warehouse.db import table_exists
from warehouse.quality.context import TableContext
from warehouse.quality.results import CheckResult, outcome
from warehouse.quality.spec import CheckSpec

MAX_EXAMPLES = 5


def _geoms(ctx: TableContext, spec: CheckSpec) -> tuple[pd.DataFrame, np.ndarray]:
    col = spec.param("geometry_column")
    frame = ctx.frame()
    if where := spec.param("where"):
        frame = frame.query(where)
    geoms = shapely.from_wkb([None if pd.isna(g) else bytes(g) for g in frame[col]], on_invalid="ignore")
    return frame, np.asarray(geoms, dtype=object)


def _result(ctx, spec, ok_msg, bad_codes, reasons, n, what):
    u, col = ctx.decl.unit, spec.param("geometry_column")
    examples = [{u: c, "problem": r} for c, r in list(zip(bad_codes, reasons, strict=True))[:MAX_EXAMPLES]]
    msg = (f"{ctx.table}.{col}: {ok_msg}" if not bad_codes else
           f"{ctx.table}.{col}: {len(bad_codes)} unit(s) {what} — "
           + "; ".join(f"{e[u]}: {e['problem']}" for e in examples[:3]))
    return [outcome(not bad_codes, spec.kind, ctx.table, col, spec.severity, msg, observed=float(len(bad_codes)),
                    threshold="0 units", n_failing=len(bad_codes), n_checked=n, examples=examples)]


def geometry_valid(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Every polygon is valid (closed rings, no self-intersection), with GEOS's reason when not."""
    frame, geoms = _geoms(ctx, spec)
    present = np.array([g is not None for g in geoms])
    invalid = present & ~shapely.is_valid(np.where(present, geoms, None))
    codes = frame.loc[invalid, ctx.decl.unit].tolist()
    reasons = list(shapely.is_valid_reason(geoms[invalid])) if invalid.any() else []
    return _result(ctx, spec, f"all {int(present.sum())} geometries valid", codes, reasons, int(present.sum()),
                   "with an invalid geometry")


def geometry_empty(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """No geometry is empty (or unreadable WKB)."""
    frame, geoms = _geoms(ctx, spec)
    raw = frame[spec.param("geometry_column")].notna().to_numpy()
    bad = raw & np.array([g is None or shapely.is_empty(g) for g in geoms])
    codes = frame.loc[bad, ctx.decl.unit].tolist()
    return _result(ctx, spec, "no empty geometry", codes, ["empty or unreadable WKB"] * len(codes), int(raw.sum()),
                   "with an empty geometry")


def geometry_missing(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Units (of the `where` subset, current units by default) without any geometry."""
    frame, _ = _geoms(ctx, spec)
    bad = frame[spec.param("geometry_column")].isna().to_numpy()
    codes = frame.loc[bad, ctx.decl.unit].tolist()
    return _result(ctx, spec, f"all {len(frame)} units have a geometry", codes, ["no geometry"] * len(codes),
                   len(frame), f"without geometry (where {spec.param('where')})")


def geometry_overlaps(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Neighbouring polygons overlap by more than `max_overlap` of the smaller one's area (a duplicated or
    misplaced boundary); sliver overlaps of digitising are tolerated."""
    frame, geoms = _geoms(ctx, spec)
    ok = np.array([g is not None and not shapely.is_empty(g) for g in geoms])
    ok[ok] &= shapely.is_valid(geoms[ok])
    codes, geoms = frame.loc[ok, ctx.decl.unit].to_numpy(), geoms[ok]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(geoms)
    inter = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    ratio = inter / np.minimum(area[left], area[right])
    tol = float(spec.param("max_overlap"))
    bad = np.flatnonzero(ratio > tol)
    u = ctx.decl.unit
    examples = [{f"{u}_a": codes[left[i]], f"{u}_b": codes[right[i]], "overlap_share": round(float(ratio[i]), 4)}
                for i in bad[np.argsort(-ratio[bad])][:MAX_EXAMPLES]]
    col = spec.param("geometry_column")
    msg = (f"{ctx.table}.{col}: no neighbours overlap by more than {tol:g} of the smaller area "
           f"(largest {ratio.max() if len(ratio) else 0:.4f})" if not len(bad) else
           f"{ctx.table}.{col}: {len(bad)} neighbour pair(s) overlap by more than {tol:g} — "
           + "; ".join(f"{e[f'{u}_a']}/{e[f'{u}_b']}: {e['overlap_share']:.3f}" for e in examples[:3]))
    return [outcome(not len(bad), spec.kind, ctx.table, col, spec.severity, msg,
                    observed=float(ratio.max()) if len(ratio) else 0.0, threshold=f"≤ {tol:g} of smaller area",
                    n_failing=len(bad), n_checked=len(ratio), examples=examples)]


# ----------------------------------------------------------------------------- spatial weights


def _matrices(ctx: TableContext) -> list[tuple[dict, pd.DataFrame]]:
    """(catalog row, edges) per weight matrix; matrices in edges but not in the catalog get an empty row."""
    edges = ctx.frame()
    catalog = ctx.con.execute("select * from weights.w_catalog").df() \
        if table_exists(ctx.con, "weights.w_catalog") else pd.DataFrame(columns=["w_name"])
    names = sorted(set(edges["w_name"]) | set(catalog["w_name"]))
    rows = {r["w_name"]: r for r in catalog.to_dict("records")}
    return [(rows.get(n, {"w_name": n}), edges[edges["w_name"] == n]) for n in names]


def _codes(value: object) -> list[str]:
    """island_codes as stored: a list, a JSON list, or a comma-separated string."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [c.strip() for c in value.split(",") if c.strip()]
    return [str(c) for c in (value if isinstance(value, list | tuple | np.ndarray) else [value])]


def _links(edges: pd.DataFrame) -> pd.DataFrame:
    return edges[(edges["focal"] != edges["neighbor"]) & edges["neighbor"].notna() & (edges["weight"] != 0)]


def _unit_set(ctx: TableContext, name: str) -> set[str]:
    """The matrix's unit set, islands included, from weights.w_units when the builder wrote it."""
    if not table_exists(ctx.con, "weights.w_units"):
        return set()
    return {r[0] for r in ctx.con.execute("select code from weights.w_units where w_name = ?", [name]).fetchall()}


def _dim_units(ctx: TableContext, level: object) -> set[str] | None:
    """Current units with geometry of the matrix's level (dim_<level>), to name units missing from the edges."""
    table = f"main.dim_{level}"
    if not isinstance(level, str) or not table_exists(ctx.con, table):
        return None
    code = f"{level}_code"
    cols = ctx.con.execute(f"select * from {table} limit 0").df().columns
    cond = " and ".join(c for c, ok in (("is_current", "is_current" in cols), ("is_mainland", "is_mainland" in cols),
                                        ("geometry is not null", True)) if ok)
    return {r[0] for r in ctx.con.execute(f"select {code} from {table} where {cond}").fetchall()}


def weights_islands(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Units with no neighbour that the catalog does not declare as islands (catalog `island_codes`).

    An island is a unit of the matrix (weights.w_units, or catalog `n`) without a non-zero link: listed in
    w_units but absent from w_edges, or absent from both (then named from dim_<level> if it can be)."""
    out = []
    for cat, edges in _matrices(ctx):
        name = cat["w_name"]
        links = _links(edges)
        declared = set(_codes(cat.get("island_codes")))
        universe = set(edges["focal"].dropna()) | set(edges["neighbor"].dropna()) | _unit_set(ctx, name)
        islands = sorted(universe - set(links["focal"]) - declared)
        n = cat.get("n")
        deficit = int(n) - len(universe | declared) if n is not None and not pd.isna(n) else 0
        if deficit > 0:
            dim = _dim_units(ctx, cat.get("level"))
            missing = sorted(dim - universe - declared) if dim is not None else []
            islands += missing if len(missing) == deficit else [f"<{deficit} unit(s) of n={int(n)} absent>"]
        examples = [{"w_name": name, "unit": c} for c in islands[:MAX_EXAMPLES]]
        msg = (f"weights.w_edges[{name}]: no undeclared island"
               + (f" ({len(declared)} declared: {', '.join(sorted(declared)[:5])})" if declared else "")
               if not islands else
               f"weights.w_edges[{name}]: {len(islands)} unit(s) without any neighbour, not declared in "
               f"w_catalog.island_codes — {', '.join(islands[:5])}")
        out.append(outcome(not islands, spec.kind, ctx.table, name, spec.severity, msg,
                           observed=float(len(islands)), threshold="0 undeclared islands", n_failing=len(islands),
                           n_checked=len(universe | declared), examples=examples))
    return out or _no_matrices(ctx, spec)


def weights_symmetry(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Where the kind is symmetric (contiguity, distance; not k-nearest), every link i→j has j→i, and for
    untransformed matrices the same weight."""
    out = []
    for cat, edges in _matrices(ctx):
        name, kind = cat["w_name"], str(cat.get("kind") or "").lower()
        if any(k in kind for k in spec.param("asymmetric_kinds")):
            out.append(CheckResult(spec.kind, ctx.table, name, spec.severity, "skipped",
                                   f"weights.w_edges[{name}]: kind {kind!r} is not expected to be symmetric"))
            continue
        links = _links(edges)[["focal", "neighbor", "weight"]]
        back = links.rename(columns={"focal": "neighbor", "neighbor": "focal", "weight": "weight_back"})
        both = links.merge(back, on=["focal", "neighbor"], how="left")
        raw = not _row_standardised(cat.get("transform"))
        bad = both[both["weight_back"].isna() | (raw & ~np.isclose(both["weight"], both["weight_back"].fillna(0)))]
        examples = bad.head(MAX_EXAMPLES)[["focal", "neighbor", "weight", "weight_back"]].to_dict("records")
        msg = (f"weights.w_edges[{name}]: symmetric ({len(links)} links)" if bad.empty else
               f"weights.w_edges[{name}]: {len(bad)} link(s) without a matching reverse link — "
               + ", ".join(f"{e['focal']}→{e['neighbor']}" for e in examples[:3]))
        out.append(outcome(bad.empty, spec.kind, ctx.table, name, spec.severity, msg, observed=float(len(bad)),
                           threshold="0 asymmetric links", n_failing=len(bad), n_checked=len(links),
                           examples=examples))
    return out or _no_matrices(ctx, spec)


def _row_standardised(transform: object) -> bool:
    return isinstance(transform, str) and transform.strip().lower() in {"r", "row", "row_standardised",
                                                                         "row-standardised", "row_standardized",
                                                                         "row-standardized"}


def weights_row_sums(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Row-standardised matrices: every non-island row sums to 1; any matrix: no negative weight."""
    out = []
    tol = float(spec.param("tolerance"))
    for cat, edges in _matrices(ctx):
        name = cat["w_name"]
        links = _links(edges)
        sums = links.groupby("focal")["weight"].sum()
        negative = links[links["weight"] < 0]
        if _row_standardised(cat.get("transform")):
            off = sums[(sums - 1).abs() > tol]
            examples = [{"focal": k, "row_sum": float(v)} for k, v in off.head(MAX_EXAMPLES).items()]
            n_bad, what = len(off) + len(negative), "row(s) not summing to 1"
        else:
            examples = negative.head(MAX_EXAMPLES)[["focal", "neighbor", "weight"]].to_dict("records")
            n_bad, what = len(negative), "negative weight(s)"
        msg = (f"weights.w_edges[{name}]: row sums fine (transform {cat.get('transform')!r}, {len(sums)} rows)"
               if not n_bad else f"weights.w_edges[{name}]: {n_bad} {what} — "
               + ", ".join(f"{e.get('focal')}: {e.get('row_sum', e.get('weight'))}" for e in examples[:3]))
        out.append(outcome(not n_bad, spec.kind, ctx.table, name, spec.severity, msg, observed=float(n_bad),
                           threshold=f"|row sum − 1| ≤ {tol:g}", n_failing=n_bad, n_checked=len(sums),
                           examples=examples))
    return out or _no_matrices(ctx, spec)


def weights_components(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    """Connected components of the graph without its islands: more than one means disconnected regions
    (spatial lags never cross between them); a count differing from w_catalog.components is flagged too."""
    out = []
    for cat, edges in _matrices(ctx):
        name = cat["w_name"]
        links = _links(edges)
        units = sorted(set(links["focal"]) | set(links["neighbor"]))
        index = {c: i for i, c in enumerate(units)}
        graph = sparse.coo_matrix((np.ones(len(links)), (links["focal"].map(index), links["neighbor"].map(index))),
                                  shape=(len(units), len(units)))
        k, labels = connected_components(graph, directed=False) if units else (0, np.array([]))
        declared = cat.get("components")
        n_islands = len(set(_codes(cat.get("island_codes"))))
        mismatch = declared is not None and not pd.isna(declared) and int(declared) not in (k, k + n_islands)
        sizes = pd.Series(labels).value_counts()
        examples = [{"component": int(c), "units": int(s), "example_unit": units[int(np.argmax(labels == c))]}
                    for c, s in sizes.head(MAX_EXAMPLES).items()]
        ok = k <= int(spec.param("max_components")) and not mismatch
        msg = (f"weights.w_edges[{name}]: {k} connected component(s) without islands"
               + (f"; w_catalog says {int(declared)}" if mismatch else "")
               + ("" if ok else " — sizes " + ", ".join(str(e["units"]) for e in examples)))
        out.append(outcome(ok, spec.kind, ctx.table, name, spec.severity, msg, observed=float(k),
                           threshold=f"≤ {spec.param('max_components')} component(s)", n_failing=0 if ok else k - 1,
                           n_checked=len(units), examples=examples if not ok else []))
    return out or _no_matrices(ctx, spec)


def _no_matrices(ctx: TableContext, spec: CheckSpec) -> list[CheckResult]:
    return [CheckResult(spec.kind, ctx.table, None, spec.severity, "skipped", f"{ctx.table}: no weight matrices")]
