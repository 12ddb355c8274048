"""Where data and W come from: a DataFrame, a CSV/Parquet file or a warehouse table; a libpysal W, a
weights file (GAL, GWT, .mat, CSV edge list, dense CSV) or a warehouse matrix by name.

Id-less formats (.mat, a dense CSV without ids) carry no unit ids: their rows are taken to be the data's
units in ascending order (Elhorst's cigarette matrix is ordered by ascending state code), and the
returned description says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analyses.spatial_panel.panel import SpatialPanelError

W_SUFFIXES = (".gal", ".gwt", ".mat", ".csv")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def load_data(data, con=None, where: str | None = None) -> tuple[pd.DataFrame, str, bool]:
    """(frame, description, from_warehouse) for a DataFrame, a .csv/.parquet path, or a warehouse table/view.

    `where` (warehouse tables only) is an SQL condition selecting the rows to use, e.g. an explicit
    balanced subset: "year between 2011 and 2022 and city_code not in ('460300', '341400')".
    """
    if where is not None and (isinstance(data, pd.DataFrame) or Path(str(data)).suffix.lower() in (".csv",
                                                                                                  ".parquet")):
        raise SpatialPanelError("a row filter (--where) applies to warehouse tables; filter the file or frame first")
    if isinstance(data, pd.DataFrame):
        return data, "DataFrame", False
    text = str(data)
    path = Path(text)
    if path.suffix.lower() in (".csv", ".parquet"):
        if not path.exists():
            raise SpatialPanelError(f"{path}: data file not found; check the path")
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        return frame, str(path), False
    if con is None:
        raise SpatialPanelError(f"data {text!r}: not a .csv/.parquet file; to read a warehouse table pass a "
                                "connection (or --db on the command line)")
    if not _IDENT.match(text):
        raise SpatialPanelError(f"data {text!r}: give a table or view name like fct_city_year or schema.view")
    from warehouse.db import table_exists

    if not table_exists(con, text):
        raise SpatialPanelError(f"data {text!r}: no such table or view in the warehouse; "
                                "see `geopanel status` for the tables")
    if where is None:
        return con.table(text).df(), text, True
    try:
        frame = con.sql(f"select * from {text} where ({where})").df()
    except Exception as exc:  # duckdb parser/binder errors: show the first line
        raise SpatialPanelError(f"--where {where!r}: {str(exc).splitlines()[0]}") from exc
    return frame, f"{text} where {where}", True


def load_w(w, units: list, con=None, transform: str | None = "r"):
    """(libpysal-like W as (sparse matrix, ids), description) from any supported source.

    `units` are the data's unit ids (as text), used to label id-less matrices in ascending order.
    `transform='r'` row-standardises (recorded in the description); None keeps the weights as given.
    """
    import libpysal

    if isinstance(w, libpysal.weights.W):
        mat, ids, desc = w.sparse, list(w.id_order), "libpysal W"
    elif isinstance(w, tuple):
        mat, ids, desc = w[0], list(w[1]), "matrix"
    else:
        text = str(w)
        path = Path(text)
        if path.suffix.lower() in W_SUFFIXES:
            mat, ids, desc = _read_w_file(path, units)
        elif con is not None:
            mat, ids, desc = _read_w_warehouse(con, text, units)
        else:
            raise SpatialPanelError(f"W {text!r}: not a .gal/.gwt/.mat/.csv file; to use a warehouse matrix "
                                    "pass a connection (or --db on the command line)")
    mat = sp.csr_matrix(mat, dtype=float)
    if mat.shape[0] != mat.shape[1] or mat.shape[0] != len(ids):
        raise SpatialPanelError(f"W ({desc}) is {mat.shape[0]}×{mat.shape[1]} with {len(ids)} ids; it must be "
                                "square with one id per row")
    if transform == "r":
        rs = np.asarray(mat.sum(axis=1)).ravel()
        mat = sp.diags(np.divide(1.0, rs, out=np.zeros_like(rs), where=rs != 0)) @ mat
        desc += ", row-standardised"
    elif transform is not None:
        raise SpatialPanelError(f"W transform {transform!r}: use 'r' (row-standardise) or none")
    return (sp.csr_matrix(mat), [str(i) for i in ids]), desc


def _read_w_file(path: Path, units: list):
    import libpysal

    if not path.exists():
        raise SpatialPanelError(f"{path}: weights file not found; check the path")
    suffix = path.suffix.lower()
    if suffix in (".gal", ".gwt"):
        w = libpysal.io.open(str(path)).read()
        return w.sparse, list(w.id_order), f"{path.name}"
    if suffix == ".mat":
        w = libpysal.io.open(str(path)).read()
        return w.sparse, _positional(w.n, units, path), f"{path.name} (ids: data units in ascending order)"
    frame = pd.read_csv(path)
    cols = [c.lower() for c in frame.columns]
    if len(cols) == 3 and frame.shape[0] != 2:
        ids = sorted(set(frame.iloc[:, 0].astype(str)) | set(frame.iloc[:, 1].astype(str)))
        pos = {u: i for i, u in enumerate(ids)}
        mat = sp.coo_matrix((frame.iloc[:, 2].to_numpy(float),
                             (frame.iloc[:, 0].astype(str).map(pos), frame.iloc[:, 1].astype(str).map(pos))),
                            shape=(len(ids),) * 2)
        return mat, ids, f"{path.name} (edge list)"
    if frame.shape[1] == frame.shape[0] + 1:  # first column holds the ids
        return frame.iloc[:, 1:].to_numpy(float), frame.iloc[:, 0].astype(str).tolist(), f"{path.name} (dense)"
    raw = np.loadtxt(path, delimiter=",", ndmin=2)
    return raw, _positional(raw.shape[0], units, path), f"{path.name} (dense, ids: data units in ascending order)"


def _positional(n: int, units: list, path: Path) -> list:
    ordered = sorted(set(units), key=_natural)
    if len(ordered) != n:
        raise SpatialPanelError(f"{path.name} has {n} rows and no unit ids, but the data has {len(ordered)} units; "
                                "give W with ids (GAL, GWT, edge list) or data for exactly its units")
    return ordered


def _natural(u: str):
    try:
        return (0, float(u), "")
    except ValueError:
        return (1, 0.0, u)


def _read_w_warehouse(con, name: str, units: list):
    try:
        from geo.weights import read_w
    except ImportError as exc:
        raise SpatialPanelError(f"W {name!r}: reading warehouse matrices needs geo.weights, which this "
                                "installation lacks; pass a weights file instead") from exc
    try:
        # W over exactly the data's units (a stored row-standardised matrix is re-standardised on the subset)
        w = read_w(con, name, ids=sorted(set(units)))
    except Exception as exc:  # geo.weights raises WeightsError with a message saying what to do
        raise SpatialPanelError(f"W {name!r}: {exc}") from exc
    return w.sparse, list(w.id_order), f"weights.{name}"
