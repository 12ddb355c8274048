"""Where data and W come from. Data: anything `warehouse.panel_data.read_panel` reads (a DataFrame, a
warehouse table or view, a SQL query, a .csv/.parquet/.xlsx/.dta file), ids as text. W: a libpysal W, a
weights file (GAL, GWT, .mat, CSV edge list, dense CSV) or a warehouse matrix by name.

Id-less formats (.mat, a dense CSV without ids) carry no unit ids and are never matched to the data by an
assumed order: the order is said explicitly (`WFile(path, order='ascending-numeric')`, `w_order=`, or
`--w-order` on the command line: 'ascending-text', 'ascending-numeric' or a file with one id per line).
A W with ids must have exactly the data's unit ids, compared as text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analyses.spatial_panel.panel import SpatialPanelError
from geo.weights.io import WFile

__all__ = ["WFile", "load_data", "load_w", "quality_status"]

W_SUFFIXES = (".gal", ".gwt", ".mat", ".csv", ".txt")


def load_data(data, con=None, where: str | None = None, unit: str | None = None,
              time: str | None = None) -> tuple[pd.DataFrame, str, bool]:
    """(frame, description, from_warehouse) through `read_panel`: ids as text, wide-by-year files melted.

    `where` is an SQL condition selecting the rows to use (any source), e.g. an explicit balanced subset:
    "year between 2011 and 2022 and city_code not in ('460300', '341400')".
    """
    panel = load_panel(data, con, where, unit=unit, time=time)
    return panel.frame, panel.source, panel.from_warehouse


def load_panel(data, con=None, where: str | None = None, unit: str | None = None, time: str | None = None):
    """The data as a `PanelData` (frame, unit, time, source, the warehouse tables read) through `read_panel`."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    try:
        return read_panel(data, con=con, unit=unit, time=time, where=where, require_unit=False)
    except DataError as exc:
        raise SpatialPanelError(str(exc)) from exc


def quality_status(con, tables: list[str], w, allow_failing_checks: bool = False) -> str:
    """The quality-gate status of a fit's warehouse inputs: the tables the data read (a table or view, or the
    tables a query reads) and W when it is a stored matrix; each must have passed its latest `geopanel check`
    unless `allow_failing_checks` (warehouse.quality.gate.require_checked raises QualityGateError saying what
    failed and what to do). Files, frames and W files are 'not-checked'."""
    from warehouse.quality.gate import gate_status

    stored_w = isinstance(w, str) and Path(w).suffix.lower() not in W_SUFFIXES
    return gate_status(con, tables, allow_failing_checks, w_name=w if stored_w else None).status


def load_w(w, units: list, con=None, transform: str | None = "r", w_order=None):
    """((sparse matrix, ids), description) from any supported source, checked against the data's units.

    `units` are the data's unit ids (as text); a W with ids must have exactly these (compared as text; ids that
    differ only by zero padding are named as such). An id-less matrix needs `w_order` (or a `WFile`).
    `transform='r'` row-standardises (recorded in the description); None keeps the weights as given.
    """
    import libpysal

    units = [str(u) for u in units]
    if isinstance(w, WFile):
        w, w_order = w.path, w.order if w.order is not None else w_order
    if isinstance(w, libpysal.weights.W):
        mat, ids, desc = w.sparse, list(w.id_order), "libpysal W"
    elif isinstance(w, tuple):
        mat, ids, desc = w[0], list(w[1]), "matrix"
    else:
        text = str(w)
        path = Path(text)
        if path.suffix.lower() in W_SUFFIXES:
            mat, ids, desc = _read_w_file(path, units, w_order)
        elif con is not None:
            mat, ids, desc = _read_w_warehouse(con, text, units)
        else:
            raise SpatialPanelError(f"W {text!r}: not a .gal/.gwt/.mat/.csv file; to use a warehouse matrix "
                                    "pass a connection (or --db on the command line)")
    mat = sp.csr_matrix(mat, dtype=float)
    if mat.shape[0] != mat.shape[1] or mat.shape[0] != len(ids):
        raise SpatialPanelError(f"W ({desc}) is {mat.shape[0]}×{mat.shape[1]} with {len(ids)} ids; it must be "
                                "square with one id per row")
    ids = [str(i).strip() for i in ids]
    _check_ids(units, ids, desc)
    if transform == "r":
        rs = np.asarray(mat.sum(axis=1)).ravel()
        mat = sp.diags(np.divide(1.0, rs, out=np.zeros_like(rs), where=rs != 0)) @ mat
        desc += ", row-standardised"
    elif transform is not None:
        raise SpatialPanelError(f"W transform {transform!r}: use 'r' (row-standardise) or none")
    return (sp.csr_matrix(mat), ids), desc


def _check_ids(units: list[str], ids: list[str], desc: str) -> None:
    """Ids that differ only by zero padding are named as such here; any other difference is refused, with
    both sides listed, when the panel is built (`build_panel`)."""
    from warehouse.panel_data import padding_hint

    data_set, w_set = set(units), set(ids)
    hint = padding_hint(sorted(data_set - w_set), sorted(w_set - data_set))
    if hint:
        raise SpatialPanelError(f"the units of the data and of W ({desc}) differ: {hint}")


def _read_w_file(path: Path, units: list, w_order):
    from geo.weights.core import WeightsError
    from geo.weights.io import read_matrix_file, read_w_file

    if not path.exists():
        raise SpatialPanelError(f"{path}: weights file not found; check the path")
    try:
        if path.suffix.lower() in (".csv", ".txt"):
            head = pd.read_csv(path, dtype=str, encoding="utf-8-sig", sep=None, engine="python", nrows=3)
            if len(head.columns) == 3 and _csv_rows(path) != 3:  # an edge list: focal, neighbour, weight
                cols = [str(c) for c in head.columns]
                w = read_matrix_file(path, fmt="edges", focal=cols[0], neighbor=cols[1], weight=cols[2])
                return w.matrix, w.ids, f"{path.name} (edge list)"
            w = read_w_file(path, order=w_order, data_ids=units, fmt="dense")
            kind = "dense"
        else:
            w = read_w_file(path, order=w_order, data_ids=units)
            kind = ""
    except WeightsError as exc:
        raise SpatialPanelError(str(exc)) from exc
    notes = ", ".join(x for x in (kind, f"ids: {w.params['ids']}" if "ids" in w.params else "") if x)
    return w.matrix, w.ids, f"{path.name}" + (f" ({notes})" if notes else "")


def _csv_rows(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as fh:
        return sum(1 for line in fh if line.strip())


def _read_w_warehouse(con, name: str, units: list):
    try:
        from warehouse.weights import read_w
    except ImportError as exc:
        raise SpatialPanelError(f"W {name!r}: reading warehouse matrices needs warehouse.weights, which this "
                                "installation lacks; pass a weights file instead") from exc
    try:
        # W over exactly the data's units (a stored row-standardised matrix is re-standardised on the subset)
        w = read_w(con, name, ids=sorted(set(units)))
    except Exception as exc:  # warehouse.weights raises WeightsError with a message saying what to do
        raise SpatialPanelError(f"W {name!r}: {exc}") from exc
    return w.sparse, list(w.id_order), f"weights.{name}"
