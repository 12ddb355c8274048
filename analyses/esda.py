"""Exploratory spatial data analysis by year: global Moran's I, Geary's C, Getis–Ord G, bivariate Moran,
local Moran (LISA) and local Getis–Ord Gi*, on any numeric column of any panel or indicator table.

Two lines in a notebook:

    from analyses.esda import moran, lisa
    moran("fct_province_year", "gdp", w="queen_province", years=range(2011, 2023)).table

What computes what:
- Global Moran's I (analytic moments under normality and randomisation, permutation inference) and
  local Moran (I_i, quadrants, conditional-permutation pseudo p-values) are computed here, vectorised
  over permutations, units and every indicator-year that shares a unit set. They reproduce esda 2.9's
  `Moran` and `Moran_Local` exactly on the same data, matrix and seed (tests/unit/test_esda.py): the
  permutations are drawn from the same legacy NumPy stream esda uses (`np.random.seed(seed)` then
  `permutation` / `choice`), so "same seed" means the same draws; global Moran's simulated I are esda's
  bit for bit. Past 8M ids the global permutations are drawn and used in chunks of ~4M ids, never held as
  one n × permutations array (1,000,000 cells × 999 would be 8 GB); LISA only ever holds k × max_card ids.
- Geary's C, global Getis–Ord G, bivariate Moran and local Gi* are computed by esda itself (it does the
  job; a seeded copy of NumPy's global random state is used and restored, so calls are reproducible).

Deliberate differences from esda: a matrix is used with its recorded transform (esda row-standardises
unless told otherwise), and a unit without neighbours gets no LISA p-value or cluster ('island'), where
esda reports a pseudo p-value of 1/(permutations+1) for it.

Missing values: in each year, units without a value are left out and the matrix is restricted to the
rest (rows re-standardised for a row-standardised matrix); counts are in every result row. Units of the
panel without a row in the matrix are an error unless `unmatched='drop'`.

Data and ids: the data are read through `warehouse.panel_data.read_panel` (a table or view, a SQL query, a
CSV/Parquet/Excel/Stata file — wide-by-year files melted — or a DataFrame), unit ids as text and matched to the
matrix's ids as text. Ids that differ only by zero padding ("1" vs "01") are refused even with
unmatched='drop'. `w` may also be a weights file (.gal, .gwt, edge-list or dense CSV, .mat; row-standardised);
an id-less matrix (.mat, unlabelled dense CSV) needs `w_order` ('ascending-text', 'ascending-numeric' or a file
of ids) — it is never matched by an assumed order.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd
from scipy import sparse, stats

from geo.weights import SpatialWeights
from geo.weights.core import _preview
from warehouse.db import insert_frame, transaction
from warehouse.weights import load_weights

DEFAULT_SEED = 12345
CORRECTIONS = (None, "none", "bonferroni", "fdr")
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
LEVELS = ("province", "city", "county")


class EsdaError(ValueError):
    """The analysis cannot run on the input as given; the message names what is wrong."""


# ============================================================================ data
@dataclass
class YearSlice:
    """The data of one indicator-year, aligned with its (restricted) matrix."""

    column: str
    year: int | None
    ids: list[str]
    y: np.ndarray
    w: SpatialWeights
    names: list[str]
    n_missing: int
    n_unmatched: int
    is_synthetic: bool | None
    column2: str | None = None
    y2: np.ndarray | None = None

    @property
    def data_hash(self) -> str:
        h = hashlib.sha1()
        h.update("\n".join(self.ids).encode())
        h.update(np.ascontiguousarray(self.y, dtype=float).tobytes())
        if self.y2 is not None:
            h.update(np.ascontiguousarray(self.y2, dtype=float).tobytes())
        return h.hexdigest()[:16]


@dataclass
class Prepared:
    source: str
    level: str | None
    w_name: str
    w_transform: str
    slices: list[YearSlice]
    notes: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # warehouse tables read (the quality gate checks them)


def _disconnect(con) -> None:
    from warehouse.db import disconnect

    disconnect(con)


def _connect(con, db, write: bool = False):
    """(connection, whether to close it with warehouse.db.disconnect, which releases a writer's lock)."""
    from warehouse.db import connect

    if con is not None:
        return con, False
    return connect(db, read_only=not write), True


def _years_list(years) -> list[int] | None:
    if years is None:
        return None
    if isinstance(years, int | np.integer):
        return [int(years)]
    if isinstance(years, str):
        first, _, last = years.partition("-")
        try:
            return list(range(int(first), int(last or first) + 1))
        except ValueError as exc:
            raise EsdaError(f"years {years!r}: write a year or a range like 2011-2022") from exc
    if isinstance(years, tuple) and len(years) == 2 and all(isinstance(v, int | np.integer) for v in years):
        return list(range(int(years[0]), int(years[1]) + 1))
    return [int(v) for v in years]


def read_data(data, con=None, level: str | None = None, id_column: str | None = None, year_column: str = "year",
              where: str | None = None, value_name: str | None = None):
    """The panel through the one data contract (`warehouse.panel_data.read_panel`): a DataFrame, a table or
    view (default fct_<level>_year), a SQL query or a file; unit ids as text. The unit column defaults to
    <level>_code, then the finest *_code column."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    if data is None:
        if level not in LEVELS:
            raise EsdaError("name the data: a table (e.g. fct_city_year), a SQL query, a CSV/Parquet/Excel/Stata "
                            "file, or a DataFrame")
        data = f"fct_{level}_year"
    time = None if year_column == "year" else year_column
    try:
        panel = read_panel(data, con=con, unit=id_column, time=time, where=where, require_unit=False,
                           value_name=value_name)
        if id_column is None:
            m = re.search(r"(?:fct|ind_.+)_(province|city|county)_year$", str(data).split(".")[-1])
            wanted = [f"{x}_code" for x in (level, m.group(1) if m else None) if x]
            pick = next((c for c in wanted if c in panel.frame.columns), panel.unit)
            if pick is None:
                raise EsdaError(f"cannot tell which column of {panel.source} holds the unit codes; give id_column "
                                "(--unit)")
            if pick != panel.unit:
                panel = read_panel(panel, unit=pick, time=panel.time)
    except DataError as exc:
        raise EsdaError(str(exc)) from exc
    return panel


def _infer_level(source: str, w_level: str | None, level: str | None) -> str | None:
    if level:
        return level
    m = re.search(r"_(province|city|county)_year$", source.split(".")[-1])
    return m.group(1) if m else w_level


def _numeric(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    if column not in frame.columns:
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c]) and c != "year"]
        raise EsdaError(f"{source} has no column {column!r}; numeric columns: {_preview(numeric, 12)}")
    s = frame[column]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        raise EsdaError(f"column {column!r} of {source} is not numeric ({s.dtype}); choose a numeric column")
    return pd.to_numeric(s).astype("float64")


W_FILE_SUFFIXES = (".gal", ".gwt", ".mat", ".csv", ".txt", ".tsv")


def _is_w_file(w) -> bool:
    return (hasattr(w, "order") and hasattr(w, "path")) or (
        isinstance(w, str | Path) and Path(str(w)).suffix.lower() in W_FILE_SUFFIXES)


def _resolve_w(w, con, w_order=None, units=None) -> tuple[SpatialWeights, str]:
    """The matrix: a SpatialWeights, a libpysal W/Graph, a stored matrix name, or a weights file (.gal, .gwt,
    edge-list or dense CSV, .mat; row-standardised unless `transform` says otherwise). An id-less file (.mat,
    unlabelled dense CSV) needs `w_order` and the data's unit ids."""
    if isinstance(w, SpatialWeights):
        return w, w.kind
    if _is_w_file(w):
        from geo.weights.io import read_w_file

        path, order = (Path(str(w.path)), w.order if w.order is not None else w_order) if hasattr(w, "path") \
            else (Path(str(w)), w_order)
        full = read_w_file(path, order=order, data_ids=units)
        return full.transformed("R") if full.transform != "R" else full, path.name
    if isinstance(w, str):
        if con is None:
            raise EsdaError(f"reading weight matrix {w!r} needs a warehouse connection")
        full, _ = load_weights(con, w)
        return full, w
    try:
        return SpatialWeights.from_libpysal(w), "pysal"
    except AttributeError as exc:
        raise EsdaError("w must be a matrix name, a weights file, a SpatialWeights or a libpysal W/Graph") from exc


def needs_warehouse(data, w) -> bool:
    """Whether reading `data` and `w` needs a warehouse connection (a table, view, SQL query or stored matrix)."""
    from warehouse.panel_data import FILE_SUFFIXES

    data_file = isinstance(data, pd.DataFrame) or hasattr(data, "frame") or (
        isinstance(data, str | Path) and Path(str(data)).suffix.lower() in FILE_SUFFIXES)
    w_local = not isinstance(w, str) or _is_w_file(w)
    return not (data_file and w_local)


def _w_needs_order(w) -> bool:
    if not _is_w_file(w):
        return False
    from geo.weights.io import needs_order

    path = Path(str(w.path)) if hasattr(w, "path") else Path(str(w))
    return path.exists() and needs_order(path)


def prepare(data, columns: str | Sequence[str], w, *, years=None, level: str | None = None,
            id_column: str | None = None, year_column: str = "year", transform: str | None = None,
            unmatched: str = "error", con=None, column2: str | None = None, where: str | None = None,
            w_order=None) -> Prepared:
    """Align every requested indicator-year with the matrix (see the module docstring for missing units).

    data: anything `warehouse.panel_data.read_panel` reads; where: an SQL condition on its rows; w_order: the
    row order of an id-less matrix file ('ascending-text', 'ascending-numeric' or a file of ids).
    """
    if unmatched not in ("error", "drop"):
        raise EsdaError("unmatched must be 'error' or 'drop'")
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise EsdaError("name at least one column")
    value_name = columns[0] if len(columns) == 1 else None
    if _w_needs_order(w):  # the matrix's ids come from the data's units, in the order the user said
        panel = read_data(data, con, level, id_column, year_column, where, value_name)
        full, w_name = _resolve_w(w, con, w_order, panel.frame[panel.unit].dropna().unique().tolist())
    else:
        full, w_name = _resolve_w(w, con, w_order)
        panel = read_data(data, con, level or full.level, id_column, year_column, where, value_name)
    full = full.transformed(transform) if transform else full
    frame, source, key = panel.frame, panel.source, panel.unit
    level = _infer_level(str(data) if isinstance(data, str) and panel.from_warehouse else source, full.level, level)
    _check_padding(frame[key].dropna().unique(), full, source, w_name)
    values = {c: _numeric(frame, c, source) for c in columns + ([column2] if column2 else [])}
    has_year = year_column in frame.columns
    wanted = _years_list(years)
    if has_year:
        frame[year_column] = pd.to_numeric(frame[year_column]).astype("Int64")
        available = sorted(int(y) for y in frame[year_column].dropna().unique())
        if wanted is None:
            wanted = available
        absent = [y for y in wanted if y not in available]
        if absent:
            raise EsdaError(f"{source} has no rows for year(s) {_preview([str(y) for y in absent])}; "
                            f"its years are {available[0]}–{available[-1]}" if available else f"{source} is empty")
    elif wanted is not None:
        raise EsdaError(f"{source} has no {year_column!r} column, so it cannot be analysed by year; drop --years")
    names = frame["name_zh"] if "name_zh" in frame.columns else frame[key]
    synthetic = frame["is_synthetic"] if "is_synthetic" in frame.columns else None
    codes_all = frame[key].to_numpy(dtype=object)
    pos_all = pd.Index(full.ids).get_indexer(pd.Index(codes_all))  # -1: no row in the matrix
    name_all = names.astype(str).to_numpy(dtype=object)
    year_all = frame[year_column].to_numpy() if has_year else None
    rows_of = {}
    for year in (wanted if has_year else [None]):
        rows = np.flatnonzero((year_all == year) if has_year else np.ones(len(frame), dtype=bool))
        codes = codes_all[rows]
        if pd.isna(codes).any():
            raise EsdaError(f"{source}: {int(pd.isna(codes).sum())} rows{_in(year)} have no unit code")
        dup = pd.Index(codes).duplicated()
        if dup.any():
            raise EsdaError(f"{source}: unit {codes[dup][0]} appears twice{_in(year)}; "
                            "one row per unit and year is needed")
        rows_of[year] = rows
    value_arrays = {c: v.to_numpy(dtype=float, na_value=np.nan) for c, v in values.items()}
    syn_all = synthetic.fillna(False).astype(bool).to_numpy() if synthetic is not None else None
    slices: list[YearSlice] = []
    notes: list[str] = []
    cache: dict[bytes, SpatialWeights] = {}
    for col in columns:
        for year, rows in rows_of.items():
            vals = value_arrays[col][rows]
            ok = ~np.isnan(vals)
            if column2:
                ok &= ~np.isnan(value_arrays[column2][rows])
            if not ok.any():
                raise EsdaError(f"column {col!r} of {source} has no values{_in(year)} (all {len(rows)} missing); "
                                "choose years with data (--years)")
            pos = pos_all[rows]
            in_w = pos >= 0
            bad = ok & ~in_w
            if bad.any() and unmatched == "error":
                listed = [f"{c} {n}" for c, n in zip(codes_all[rows][bad], name_all[rows][bad], strict=True)]
                w_only = sorted(set(full.ids) - set(codes_all[rows].tolist()))
                raise EsdaError(
                    f"unit set does not match weight matrix {w_name!r} ({full.n} units): {int(bad.sum())} units of "
                    f"{source} with {col}{_in(year)} have no row in it: {_preview(listed)}; matrix units without "
                    f"data: {_preview(w_only) if w_only else 'none'} (ids are matched as text); use a matrix over "
                    "these units, or leave them out (unmatched='drop', --drop-unmatched)")
            use = np.flatnonzero(ok & in_w)
            use = use[np.argsort(pos[use], kind="stable")]  # matrix order
            ids = codes_all[rows][use].tolist()
            y = vals[use]
            y2 = value_arrays[column2][rows][use] if column2 else None
            if len(ids) < 3:
                raise EsdaError(f"only {len(ids)} units with {col}{_in(year)}: too few for spatial statistics")
            if np.allclose(y, y[0]):
                raise EsdaError(f"column {col!r} of {source} is constant{_in(year)} ({y[0]}); "
                                "spatial autocorrelation is undefined")
            ids_key = pos[use].tobytes()
            if ids_key not in cache:
                cache[ids_key] = full.subset(ids, name=w_name)[0]
            ws = cache[ids_key]
            syn = bool(syn_all[rows][use].any()) if syn_all is not None else None
            slices.append(YearSlice(column=col, year=year, ids=ids, y=y, w=ws, names=name_all[rows][use].tolist(),
                                    n_missing=int(full.n - len(ids)), n_unmatched=int(bad.sum()), is_synthetic=syn,
                                    column2=column2, y2=y2))
            if ws.islands:
                notes.append(f"{col}{_in(year)}: {len(ws.islands)} units without neighbours in the restricted matrix "
                             f"({_preview(ws.islands)})")
    return Prepared(source=source, level=level, w_name=w_name, w_transform=full.transform, slices=slices, notes=notes,
                    tables=panel.tables if panel.from_warehouse else [])


def _check_padding(codes, full: SpatialWeights, source: str, w_name: str) -> None:
    """Data ids that differ from the matrix's only by zero padding ("1" vs "01") are an error, also with
    unmatched='drop': they are the same units, read the wrong way."""
    from warehouse.panel_data import padding_hint

    data_set, w_set = {str(c) for c in codes}, set(full.ids)
    hint = padding_hint(sorted(data_set - w_set), sorted(w_set - data_set))
    if hint:
        raise EsdaError(f"unit ids of {source} and weight matrix {w_name!r} do not match: {hint}")


def _in(year) -> str:
    return f" in {year}" if year is not None else ""


# ============================================================================ engines
# esda draws its permutations from NumPy's legacy MT19937 stream: global Moran `np.random.permutation(z)` k times
# after `np.random.seed(seed)`, local Moran `np.random.choice(n - 1, max_card, replace=False)` k times (esda's
# numba `vec_permutations`, which reproduces the legacy stream). Both are the legacy Fisher–Yates shuffle: for
# i = m − 1 down to 1, j = random_interval(i) (the low bits of one 32-bit output under the smallest covering mask,
# redrawn while above i) and swap items i and j; `choice` keeps the first max_card items of a shuffled
# arange(n − 1). The kernels below run that same generator (MT19937 from RandomState(seed)'s state) and the same
# rejection rule, so the draws and the generator state after them are NumPy's to the bit (tests/unit/
# test_esda_streams.py checks permutations, choices and the final state against NumPy and esda), but:
# - the rejection loop is branch-free over a tempered block of 624 outputs, ~10× faster than NumPy's per-step
#   calls through the bit generator;
# - a choice needs only the first max_card items, so instead of moving n ids around it replays the swaps
#   backwards for those max_card slots alone (an n-sized slot table, no shuffled array);
# - the kernels release the GIL, so drawing overlaps the sparse products (global) and the two statistics can run
#   on the two cores at once (`moran_global_and_local`).
# numba comes with esda (its crand engine) and shap, both pinned dependencies.
_CHUNK_ELEMENTS = 4_000_000  # values per streamed block (32 MB), so a block is max(1, 4M // (n · V)) permutations
_OVERLAP_MIN = 8_000_000  # n × permutations from which global draws are made in a producer thread


@numba.njit(nogil=True, cache=True)
def _mt_refill(mt: np.ndarray, tb: np.ndarray) -> None:  # pragma: no cover - compiled
    """MT19937's twist of the 624 state words `mt`, then their tempered outputs into `tb` (NumPy's mt19937_gen)."""
    upper, lower, matrix = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(0x9908B0DF)
    one, zero = np.uint32(1), np.uint32(0)
    for i in range(227):
        y = (mt[i] & upper) | (mt[i + 1] & lower)
        mt[i] = mt[i + 397] ^ (y >> one) ^ ((zero - (y & one)) & matrix)
    for i in range(227, 623):
        y = (mt[i] & upper) | (mt[i + 1] & lower)
        mt[i] = mt[i - 227] ^ (y >> one) ^ ((zero - (y & one)) & matrix)
    y = (mt[623] & upper) | (mt[0] & lower)
    mt[623] = mt[396] ^ (y >> one) ^ ((zero - (y & one)) & matrix)
    for i in range(624):
        y = mt[i]
        y ^= y >> np.uint32(11)
        y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
        y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
        y ^= y >> np.uint32(18)
        tb[i] = y


@numba.njit(nogil=True, cache=True)
def _mt_swaps(mt: np.ndarray, tb: np.ndarray, st: np.ndarray, m: int, J: np.ndarray) -> None:  # pragma: no cover
    """J[i] = NumPy's legacy random_interval(i) for i = m − 1 down to 1: the swap partners of one shuffle of m
    items. st[0] is the position in the tempered block `tb` (624: used up). Branch-free: every 32-bit output is
    written to J[i] and i only moves on when it is accepted (≤ i under the mask), as NumPy's redraw loop does."""
    pos = st[0]
    i = m - 1
    while i >= 1:
        mask = np.uint32(i)
        mask |= mask >> np.uint32(1)
        mask |= mask >> np.uint32(2)
        mask |= mask >> np.uint32(4)
        mask |= mask >> np.uint32(8)
        mask |= mask >> np.uint32(16)
        lo = np.int64(mask >> np.uint32(1)) + 1  # the smallest i under this mask
        while i >= lo:
            if pos == 624:
                _mt_refill(mt, tb)
                pos = 0
            while pos < 624 and i >= lo:
                v = tb[pos] & mask
                pos += 1
                J[i] = v
                i -= np.int64(v <= np.uint32(i))
    st[0] = pos


@numba.njit(nogil=True, cache=True)
def _shuffled_copies(mt, tb, st, J, Z, out) -> None:  # pragma: no cover - compiled
    """out[b, v] = legacy `permutation(Z[v])` for permutation b of the block: one shuffle per b, the same swaps
    for every row v (the variables over one unit set share the draws)."""
    m = Z.shape[1]
    for b in range(out.shape[0]):
        _mt_swaps(mt, tb, st, m, J)
        for v in range(Z.shape[0]):
            a = out[b, v]
            a[:] = Z[v]
            for i in range(m - 1, 0, -1):
                j = J[i]
                t = a[i]
                a[i] = a[j]
                a[j] = t


@numba.njit(nogil=True, cache=True)
def _choice_heads(mt, tb, st, m: int, J, out) -> None:  # pragma: no cover - compiled
    """out[r] = legacy `choice(m, size=c, replace=False)` = the first c items of `permutation(m)`, r = 0..k−1.

    The swaps are drawn forward (J) and undone backward for the c final slots only: undoing swap (i, J[i])
    moves a tracked slot at i to J[i] and one at J[i] to i; after all are undone, the slot holds its item's
    original position, which is the item. `slot[p]` is the tracker at position p (−1: none), so each swap costs
    two look-ups whatever c."""
    c = out.shape[1]
    slot = np.full(m, -1, dtype=np.int32)
    where = np.empty(c, dtype=np.int64)
    for r in range(out.shape[0]):
        _mt_swaps(mt, tb, st, m, J)
        for t in range(c):
            slot[t] = t
            where[t] = t
        for i in range(1, m):
            j = J[i]
            a, b = slot[i], slot[j]
            if a >= 0 or b >= 0:
                slot[i], slot[j] = b, a
                if a >= 0:
                    where[a] = j
                if b >= 0:
                    where[b] = i
        for t in range(c):
            out[r, t] = where[t]
            slot[where[t]] = -1


class LegacyStream:
    """NumPy's legacy `RandomState(seed)` stream, drawn by the kernels above; `permuted` and `choices` continue
    it exactly as `RandomState.permutation` and `RandomState.choice(replace=False)` would, call after call."""

    def __init__(self, seed: int):
        _, key, pos, *_ = np.random.RandomState(seed).get_state(legacy=True)
        assert pos == 624, "a freshly seeded RandomState starts at a new block"
        self.mt = np.array(key, dtype=np.uint32)
        self.tb = np.empty(624, dtype=np.uint32)  # tempered outputs of the current block (none yet)
        self.st = np.array([pos], dtype=np.int64)

    def state(self) -> tuple[np.ndarray, int]:
        """(key, pos) as `RandomState.get_state()` reports them after the same draws."""
        return self.mt.copy(), int(self.st[0])

    def permuted(self, Z: np.ndarray, count: int, out: np.ndarray | None = None) -> np.ndarray:
        """(count, V, n): the next `count` legacy permutations, each applied to every row of Z (V × n)."""
        Z = np.ascontiguousarray(np.atleast_2d(Z))
        if Z.shape[1] >= 2**32:
            raise EsdaError("more than 2^32 units: NumPy draws those with 64-bit outputs, which is not replicated")
        out = np.empty((count, *Z.shape), dtype=Z.dtype) if out is None else out[:count]
        _shuffled_copies(self.mt, self.tb, self.st, np.empty(max(Z.shape[1], 1), dtype=np.int64), Z, out)
        return out

    def choices(self, m: int, size: int, count: int) -> np.ndarray:
        """(count, size): the next `count` legacy `choice(m, size, replace=False)` draws (esda's crand ids)."""
        if size > m:
            raise EsdaError(f"cannot draw {size} of {m} without replacement")
        out = np.empty((count, size), dtype=np.int64)
        _choice_heads(self.mt, self.tb, self.st, m, np.empty(max(m, 1), dtype=np.int64), out)
        return out


def _global_permutation_chunks(seed: int, n: int, k: int, chunk: int | None = None):
    """Yield esda's k index permutations of range(n) in order, as (c × n) blocks of at most `chunk` rows."""
    chunk = chunk or max(1, _CHUNK_ELEMENTS // max(n, 1))
    stream, ids = LegacyStream(seed), np.arange(n, dtype=np.int64)[None, :]
    for start in range(0, k, chunk):
        yield stream.permuted(ids, min(chunk, k - start))[:, 0]


def moran_global_arrays(w: SpatialWeights, y: np.ndarray, permutations: int = 999, seed: int = DEFAULT_SEED,
                        two_tailed: bool = True) -> dict[str, float]:
    """Global Moran's I of `y` on `w` as used (no transform applied), with esda's moments and p-values.

    I = n / S0 · z'Wz / z'z; E[I] = −1/(n−1); Var[I] under normality and randomisation (Cliff & Ord 1981);
    permutation pseudo p = (larger + 1)/(permutations + 1), folded like esda.
    """
    return moran_global_many(w, np.asarray(y, dtype=float)[:, None], permutations, seed, two_tailed)[0]


def moran_global_many(w: SpatialWeights, Y: np.ndarray, permutations: int = 999, seed: int = DEFAULT_SEED,
                      two_tailed: bool = True, overlap: bool = True) -> list[dict[str, float]]:
    """`moran_global_arrays` for each column of Y (n × V, one unit set): one pass over the permutations, each
    shuffle drawn once and applied to every column, as esda would draw it for each column with the same seed.
    overlap: draw in a producer thread while this one computes (off when the other core is busy)."""
    Y = np.asarray(Y, dtype=float)
    Y = Y[:, None] if Y.ndim == 1 else Y
    m = w.matrix
    n = Y.shape[0]
    s0, s1, s2 = w.s0, w.s1, w.s2
    if s0 == 0:
        raise EsdaError("the weight matrix has no links among these units")
    cols = [np.ascontiguousarray(Y[:, j]) for j in range(Y.shape[1])]
    Z = np.stack([y - y.mean() for y in cols])  # (V, n); each row esda's `y - y.mean()` (a 1-D pairwise mean)
    outs = []
    for z in Z:
        z2ss = (z * z).sum()
        out: dict[str, float] = {"n": n, "I": float(n / s0 * (z * (m @ z)).sum() / z2ss)}
        ei = -1.0 / (n - 1)
        n2, s02 = n * n, s0 * s0
        vi_norm = (n2 * s1 - n * s2 + 3 * s02) / ((n - 1) * (n + 1) * s02) - (1.0 / (n - 1)) ** 2
        k = ((z ** 4).sum() / n) / (((z ** 2).sum() / n) ** 2)
        a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02)
        b = k * ((n2 - n) * s1 - 2 * n * s2 + 6 * s02)
        vi_rand = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s02) - ei * ei
        out.update(EI=ei, VI_norm=vi_norm, VI_rand=vi_rand)
        for kind, v in (("norm", vi_norm), ("rand", vi_rand)):
            zz = (out["I"] - ei) / np.sqrt(v)
            p = stats.norm.sf(zz) if zz > 0 else stats.norm.cdf(zz)
            out[f"z_{kind}"], out[f"p_{kind}"] = float(zz), float(p * (2.0 if two_tailed else 1.0))
        outs.append(out)
    if permutations:
        sims = _moran_global_sims(m, Z, s0, permutations, seed, overlap=overlap)
        for out, sim in zip(outs, sims, strict=True):
            out.update(_global_sim_summary(out["I"], sim, permutations))
    return outs


def _moran_global_sim(m: sparse.csr_matrix, z: np.ndarray, s0: float, z2ss: float, permutations: int,
                      seed: int, chunk: int | None = None) -> np.ndarray:
    """The permutation distribution of I for one centred variable (esda's `Moran.sim`)."""
    return _moran_global_sims(m, z[None, :], s0, permutations, seed, chunk, z2ss=np.array([z2ss]))[0]


def _moran_global_sims(m: sparse.csr_matrix, Z: np.ndarray, s0: float, permutations: int, seed: int,
                       chunk: int | None = None, overlap: bool = True, z2ss: np.ndarray | None = None) -> np.ndarray:
    """(V, permutations) simulated I: row r of the permuted values is esda's r-th `permutation(z)`.

    Each simulated I is computed with esda's own arithmetic (scipy's sparse product, then NumPy's 1-D sum), one
    permutation at a time, so the values are esda's bit for bit whatever `chunk`. Blocks of shuffled copies
    (≈32 MB) come from `LegacyStream`; with `overlap` and n × permutations ≥ _OVERLAP_MIN a producer thread
    draws the next block while this thread computes (both release the GIL), holding at most three blocks.
    """
    v, n = Z.shape
    z2ss = (Z * Z).sum(axis=1) if z2ss is None else z2ss
    chunk = chunk or max(1, _CHUNK_ELEMENTS // max(n * v, 1))
    stream = LegacyStream(int(seed))
    sizes = [min(chunk, permutations - s) for s in range(0, permutations, chunk)]
    sim = np.empty((v, permutations))

    def use(block: np.ndarray, start: int) -> None:
        for b in range(len(block)):
            for j in range(v):
                zp = block[b, j]
                sim[j, start + b] = n / s0 * (zp * (m @ zp)).sum() / z2ss[j]

    if not (overlap and n * permutations >= _OVERLAP_MIN and len(sizes) > 1):
        start = 0
        for size in sizes:
            use(stream.permuted(Z, size), start)
            start += size
        return sim
    import queue
    import threading

    blocks: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for size in sizes:
                if stop.is_set():
                    return
                blocks.put(stream.permuted(Z, size))
        except BaseException as exc:  # handed to the consumer
            blocks.put(exc)

    producer = threading.Thread(target=produce, name="esda-draws", daemon=True)
    producer.start()
    try:
        start = 0
        for _ in sizes:
            block = blocks.get()
            if isinstance(block, BaseException):
                raise block
            use(block, start)
            start += len(block)
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            try:
                blocks.get_nowait()
            except queue.Empty:
                producer.join(0.05)
    return sim


def _global_sim_summary(stat: float, sim: np.ndarray, permutations: int) -> dict[str, float]:
    larger = int((sim >= stat).sum())
    if permutations - larger < larger:
        larger = permutations - larger
    mean, sd = float(sim.sum() / permutations), float(np.array(sim).std())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (stat - mean) / sd
    return {"p_sim": (larger + 1.0) / (permutations + 1.0), "EI_sim": mean, "seI_sim": sd, "z_sim": float(z),
            "p_z_sim": float(stats.norm.sf(z) if z > 0 else stats.norm.cdf(z))}


@numba.njit(nogil=True, cache=True)
def _lisa_sims(indptr, data, zj, units, P, obs, scaling, tol, larger, mean, sd, near) -> None:  # pragma: no cover
    """For each unit u: its k simulated I_u = z_u · Σ_c w_uc z[P[r, c] shifted past u] · scaling (esda's crand:
    the draws index the other n − 1 units), folded count of draws ≥ I_u, mean, s.d., and whether a draw lies
    within `tol` of I_u (recomputed by the caller in esda's floating-point order). The lag is summed in the
    row's column order, as esda's `zrand @ weights` does up to rounding."""
    k = P.shape[0]
    buf = np.empty(k)
    for idx in range(units.shape[0]):
        u = units[idx]
        lo = indptr[u]
        c = indptr[u + 1] - lo
        zi = zj[u]
        for r in range(k):
            lag = 0.0
            for col in range(c):
                p = P[r, col]
                if p >= u:
                    p += 1
                lag += data[lo + col] * zj[p]
            buf[r] = zi * lag * scaling
        o, t = obs[u], tol[u]
        cnt = 0
        s = 0.0
        flag = False
        for r in range(k):
            x = buf[r]
            cnt += x >= o
            flag |= abs(x - o) <= t
            s += x
        mu = s / k
        ss = 0.0
        for r in range(k):
            d = buf[r] - mu
            ss += d * d
        larger[u] = min(cnt, k - cnt)
        mean[u] = mu
        sd[u] = np.sqrt(ss / k)
        near[u] = flag


def _esda_local_sims(i: int, z: np.ndarray, perms: np.ndarray, weights: np.ndarray, scaling: float) -> np.ndarray:
    """Unit i's simulated I_i computed by esda's own compiled `_moran_local_crand` (its fastmath BLAS product
    and rounding), on the few values its draws touch: z reduced to z_i followed by the drawn units' values, the
    draws renumbered into them, so the cost is k × card, not n."""
    from esda.moran import _moran_local_crand

    pc = perms[:, :len(weights)]
    used, inv = np.unique(pc, return_inverse=True)
    small = np.concatenate(([z[i]], z[used + (used >= i)]))  # without element 0 it is esda's z_no_i[used]
    return _moran_local_crand(0, small, np.ascontiguousarray(inv.reshape(pc.shape), dtype=np.int64),
                              np.concatenate(([0.0], weights)), scaling)


def moran_local_arrays(w: SpatialWeights, Y: np.ndarray, permutations: int = 999, seed: int = DEFAULT_SEED,
                       workers: int = 2) -> dict[str, np.ndarray]:
    """Local Moran I_i for each column of Y (n × V) on `w` as used, with esda's conditional randomisation.

    I_i = (n − 1) z_i Σ_j w_ij z_j / Σ z²  with z standardised (population s.d.); quadrants 1 HH, 2 LH,
    3 LL, 4 HL; simulated I_i redraw unit i's neighbours from the other n − 1 units, the same draws for
    every unit (esda's `crand`), so one draw of permutation ids serves every indicator-year over the same
    unit set. The draws are `LegacyStream.choices` (esda's ids, only max_card × permutations held); the
    simulations run in a compiled kernel over `workers` threads (units split between them). Returns n × V
    arrays; pseudo p-values equal esda's exactly (near-ties are recomputed in esda's own floating-point
    order), means and s.d. of the simulations to about 1e-15.
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    n, v = Y.shape
    m = w.matrix
    # column by column with esda's 1-D operations, so that I_i agree to the last bit (ties in the
    # permutation counts depend on it)
    z = np.empty((n, v))
    lag = np.empty((n, v))
    den = np.empty(v)
    for j in range(v):
        zj = Y[:, j] - Y[:, j].mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            zj /= Y[:, j].std()
        z[:, j], den[j] = zj, (zj * zj).sum()
        lag[:, j] = m @ zj
    Is = (n - 1) * z * lag / den
    zp, lp = z > 0, lag > 0
    q = np.where(zp & lp, 1, np.where(~zp & lp, 2, np.where(~zp & ~lp, 3, 4)))
    card = np.diff(m.indptr)
    out = {"Is": Is, "q": q, "z": z, "lag": lag}
    if not permutations:
        return out
    scaling = (n - 1) / den  # (V,)
    max_card = int(card.max()) if n else 0
    p_sim = np.full((n, v), np.nan)
    ei_sim = np.full((n, v), np.nan)
    se_sim = np.full((n, v), np.nan)
    if max_card == 0:
        return {**out, "p_sim": p_sim, "EI_sim": ei_sim, "seI_sim": se_sim,
                "z_sim": p_sim.copy(), "p_z_sim": p_sim.copy()}
    k = permutations
    perms = LegacyStream(int(seed)).choices(n - 1, max_card, k)  # (k, max_card), esda's vec_permutations
    units = np.flatnonzero(card > 0)
    indptr = m.indptr.astype(np.int64)
    data = np.ascontiguousarray(m.data, dtype=float)
    wsum = np.bincount(np.repeat(np.arange(n), card), np.abs(data), minlength=n)  # Σ_j |w_ij|
    parts = np.array_split(units, max(1, min(workers, len(units) // 1000 or 1)))
    for j in range(v):
        zj = np.ascontiguousarray(z[:, j])
        # a unit with a draw within rounding of I_i is recomputed by esda's own kernel (`_esda_local_sims`)
        tol = 1e-9 * np.abs(zj) * scaling[j] * np.abs(zj).max() * wsum
        larger, mean, sd = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
        near = np.zeros(n, dtype=np.bool_)
        args = (indptr, data, zj)
        rest = (perms, np.ascontiguousarray(Is[:, j]), float(scaling[j]), tol, larger, mean, sd, near)
        if len(parts) == 1:
            _lisa_sims(*args, parts[0], *rest)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(parts)) as pool:
                for done in [pool.submit(_lisa_sims, *args, part, *rest) for part in parts]:
                    done.result()
        for i in np.flatnonzero(near):
            sim = _esda_local_sims(i, zj, perms, data[indptr[i]:indptr[i + 1]], float(scaling[j]))
            cnt = int((sim >= Is[i, j]).sum())
            larger[i], mean[i], sd[i] = min(cnt, k - cnt), sim.mean(), sim.std()
        p_sim[units, j] = (larger[units] + 1.0) / (k + 1.0)
        ei_sim[units, j] = mean[units]
        se_sim[units, j] = sd[units]
    with np.errstate(divide="ignore", invalid="ignore"):
        z_sim = (Is - ei_sim) / se_sim
    return {**out, "p_sim": p_sim, "EI_sim": ei_sim, "seI_sim": se_sim, "z_sim": z_sim,
            "p_z_sim": stats.norm.sf(np.abs(z_sim))}


def moran_global_and_local(w: SpatialWeights, Y: np.ndarray, permutations: int = 999, seed: int = DEFAULT_SEED,
                           two_tailed: bool = True) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
    """Global Moran (`moran_global_many`) and local Moran (`moran_local_arrays`) of the columns of Y at once, one
    on each core: local Moran in a worker thread, global Moran in this one (its draws inline, not in a producer
    thread). Both kernels and the sparse products release the GIL, so the two run side by side; results are
    those of the two functions called one after the other (the same draws, each from its own seeded stream)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="esda-local") as pool:
        local = pool.submit(moran_local_arrays, w, Y, permutations, seed, 1)
        glob = moran_global_many(w, Y, permutations, seed, two_tailed=two_tailed, overlap=False)
        return glob, local.result()


def adjust_pvalues(p: np.ndarray, method: str | None) -> np.ndarray:
    """Bonferroni (p·m, capped at 1) or Benjamini–Hochberg FDR adjusted p-values; NaNs are left out."""
    p = np.asarray(p, dtype=float)
    if method in (None, "none"):
        return p.copy()
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    m = len(pv)
    if method == "bonferroni":
        out[ok] = np.minimum(pv * m, 1.0)
    elif method == "fdr":
        order = np.argsort(pv)
        ranked = pv[order] * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(ranked[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.minimum(adj, 1.0)
        out[ok] = res
    else:
        raise EsdaError(f"correction {method!r}: use none, bonferroni or fdr")
    return out


@contextmanager
def seeded_global_rng(seed: int):
    """Run esda code that draws from NumPy's global random state with `seed`, then restore the state."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _esda_transform(t: str) -> str:
    return {"R": "r", "B": "b"}.get(t, "o")


# ============================================================================ results
def _run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


@dataclass
class _Run:
    run_id: str
    computed_at: datetime
    params: dict[str, Any]


GLOBAL_COLUMNS = ["run_id", "computed_at", "statistic", "source", "indicator", "indicator2", "level", "year",
                  "w_name", "transform", "n", "n_missing", "n_unmatched", "islands", "value", "expected",
                  "var_norm", "z_norm", "p_norm", "var_rand", "z_rand", "p_rand", "permutations", "seed", "p_sim",
                  "mean_sim", "sd_sim", "z_sim", "p_z_sim", "data_hash", "is_synthetic", "params"]
LISA_COLUMNS = ["run_id", "computed_at", "source", "indicator", "level", "year", "w_name", "transform", "code",
                "name", "value", "z", "lag_z", "local_i", "q", "quadrant", "is_island", "p_sim", "p_adjusted",
                "correction", "alpha", "cluster", "ei_sim", "sd_sim", "z_sim", "p_z_sim", "gi_star", "gi_star_z",
                "gi_star_p_norm", "gi_star_p_sim", "permutations", "seed", "data_hash", "is_synthetic", "params"]


class GlobalResult:
    """Global statistics by indicator and year. `table`: one row per indicator, year and statistic."""

    def __init__(self, prepared: Prepared, rows: list[dict], run: _Run):
        self.prepared, self.run = prepared, run
        self.run_id = run.run_id
        self.long = pd.DataFrame(rows, columns=GLOBAL_COLUMNS)

    @property
    def table(self) -> pd.DataFrame:
        """One row per indicator and year; the columns of each statistic computed (I, EI, z_norm …)."""
        frames = []
        names = {"moran": "I", "geary": "C", "getis_ord": "G", "moran_bv": "I_bv"}
        for stat, part in self.long.groupby("statistic", sort=False):
            sym = names[stat]
            cols = {"value": sym, "expected": f"E{sym}", "var_norm": f"V{sym}_norm", "z_norm": f"z_norm_{sym}",
                    "p_norm": f"p_norm_{sym}", "var_rand": f"V{sym}_rand", "z_rand": f"z_rand_{sym}",
                    "p_rand": f"p_rand_{sym}", "p_sim": f"p_sim_{sym}", "z_sim": f"z_sim_{sym}"}
            if stat == "moran":
                cols = {"value": "I", "expected": "EI", "var_norm": "VI_norm", "z_norm": "z_norm",
                        "p_norm": "p_norm", "var_rand": "VI_rand", "z_rand": "z_rand", "p_rand": "p_rand",
                        "p_sim": "p_sim", "z_sim": "z_sim"}
            keep = part[["indicator", "year", "n", *cols]].rename(columns=cols)
            empty = [c for c in keep.columns[3:] if keep[c].isna().all()]
            frames.append(keep.drop(columns=empty).set_index(["indicator", "year"]))
        if not frames:
            return pd.DataFrame()
        out = frames[0]
        for f in frames[1:]:
            out = out.join(f.drop(columns="n"), how="outer")
        return out.reset_index()

    def save(self, con) -> str:
        """Append the rows to analysis.moran_global (and the run to analysis.esda_runs); returns the run id."""
        _save(con, "moran_global", self.long, GLOBAL_DDL, self.run, "global")
        return self.run_id

    def slice(self, year=None, column: str | None = None) -> YearSlice:
        return _pick(self.prepared, year, column)

    def plot_scatter(self, year=None, column: str | None = None, path=None, **kw):
        """Moran scatter plot of one indicator-year (labelled points, quadrant lines, slope = I)."""
        from analyses import plots

        s = self.slice(year, column)
        return plots.moran_scatter(s.y, s.w, labels=s.names, title=_title(s, self.prepared), path=path, **kw)

    def plot_years(self, path=None, column: str | None = None, **kw):
        """Moran's I over the years with its expectation and significance."""
        from analyses import plots

        t = self.long[self.long["statistic"] == "moran"]
        if column:
            t = t[t["indicator"] == column]
        return plots.moran_over_years(t, path=path, **kw)

    def __repr__(self) -> str:
        return f"GlobalResult(run {self.run_id}, {len(self.long)} rows)\n{self.table.to_string(max_rows=20)}"


class LisaResult:
    """Local Moran (and Gi*) by year. `table`: one row per unit, indicator and year."""

    def __init__(self, prepared: Prepared, frame: pd.DataFrame, run: _Run, con=None, db=None):
        self.prepared, self.run, self.table = prepared, run, frame
        self.run_id = run.run_id
        self._con, self._db = con, db

    def save(self, con) -> str:
        _save(con, "lisa", self.table, LISA_DDL, self.run, "lisa")
        return self.run_id

    def gdf(self, year=None, column: str | None = None, boundaries=None):
        """The table of one indicator-year joined to the polygons (dim_<level> or a GeoDataFrame)."""
        import geopandas as gpd

        s = _pick(self.prepared, year, column)
        part = self.table[(self.table["indicator"] == s.column)
                          & ((self.table["year"] == s.year) if s.year is not None else True)]
        geo = boundaries if boundaries is not None else load_geometries(self.prepared.level, con=self._con,
                                                                        db=self._db)
        geo = geo.rename(columns={c: "code" for c in geo.columns if c.endswith("_code") and c != "province_code"})
        if "code" not in geo.columns:
            raise EsdaError("the boundaries need a code column")
        geo = geo.assign(code=geo["code"].astype(str))
        return gpd.GeoDataFrame(geo[["code", "geometry"]].merge(part, on="code", how="left"), geometry="geometry",
                                crs=geo.crs)

    def plot_map(self, year=None, column: str | None = None, path=None, boundaries=None, **kw):
        from analyses import plots

        s = _pick(self.prepared, year, column)
        return plots.lisa_cluster_map(self.gdf(year, column, boundaries), title=_title(s, self.prepared) + " LISA",
                                      path=path, **kw)

    def clusters(self) -> pd.DataFrame:
        """Counts of each cluster type by indicator and year."""
        return (self.table.groupby(["indicator", "year", "cluster"], dropna=False).size()
                .unstack("cluster", fill_value=0).reset_index())

    def __repr__(self) -> str:
        return f"LisaResult(run {self.run_id}, {len(self.table)} rows)\n{self.clusters().to_string(max_rows=20)}"


def _pick(prepared: Prepared, year, column) -> YearSlice:
    for s in prepared.slices:
        if (column is None or s.column == column) and (year is None or s.year == year):
            return s
    have = sorted({(s.column, s.year) for s in prepared.slices}, key=lambda t: (t[0], t[1] or 0))
    listed = _preview([f"{c} {y}" for c, y in have])
    raise EsdaError(f"no result for {column or 'the indicator'}{_in(year)}; computed: {listed}")


def _title(s: YearSlice, p: Prepared) -> str:
    return f"{s.column}{' ' + str(s.year) if s.year is not None else ''} · W = {p.w_name}"


def load_geometries(level: str | None, con=None, db=None):
    """Polygons of dim_<level> as a GeoDataFrame (code, name_zh, geometry; EPSG:4490)."""
    import geopandas as gpd
    import shapely

    if level not in LEVELS:
        raise EsdaError("maps of your own units need the boundaries: pass boundaries=GeoDataFrame "
                        "(or --boundary-file)")
    c, close = _connect(con, db)
    try:
        frame = c.execute(f"select {level}_code as code, name_zh, geometry from main.dim_{level} "
                          "where geometry is not null and is_mainland").df()
    finally:
        if close:
            _disconnect(c)
    geoms = shapely.from_wkb([bytes(g) for g in frame["geometry"]])
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=4490)


def read_boundaries(path, unit: str | None = None):
    """Your own polygons for maps (GeoJSON, Shapefile, GeoPackage …): `code` (from the `unit` column, default
    `code`, as text: a code read as a float, '101.0', comes back as '101') and the geometry."""
    import geopandas as gpd

    gdf = gpd.read_file(path)
    key = unit or "code"
    if key not in gdf.columns:
        raise EsdaError(f"{path}: no column {key!r} (give --id-column)")
    gdf = gdf.assign(code=gdf[key].map(lambda v: str(v).removesuffix(".0")))
    return gdf[[c for c in ("code", "name_zh") if c in gdf.columns] + [gdf.geometry.name]]


def choropleth_map(data, column: str, *, path=None, level: str | None = "province", year: int | None = None,
                   scheme: str = "quantiles", k: int = 5, unit: str | None = None, boundaries=None,
                   title: str | None = None, con=None, db=None):
    """Choropleth of a panel column in one year (default: the last), classified with mapclassify (`scheme`:
    quantiles, equal_interval, natural_breaks, fisher_jenks, std_mean …). `data` as in `read_data` (default
    fct_<level>_year); the polygons are dim_<level>'s, or `boundaries` (a GeoDataFrame with `code`, see
    `read_boundaries`) for your own units. Returns the GeoDataFrame drawn (polygons with `column`; units without
    a value are hatched).

        choropleth_map(None, "gdp", level="province", year=2022, scheme="natural_breaks", path="gdp.png", con=con)
    """
    from analyses import plots

    local = boundaries is not None and not needs_warehouse(data, None)  # a file or frame drawn on your polygons
    c, close = (con, False) if con is not None or (local and db is None) else _connect(None, db)
    try:
        panel = read_data(data, c, level, unit)
        geo = boundaries if boundaries is not None else load_geometries(level, con=c)
    finally:
        if close:
            _disconnect(c)
    frame, source, key = panel.frame, panel.source, panel.unit
    if "year" in frame.columns:
        year = int(frame["year"].max()) if year is None else year
        frame = frame[frame["year"] == year]
        if frame.empty:
            raise EsdaError(f"{source} has no rows in {year}")
    if column not in frame.columns:
        raise EsdaError(f"{source} has no column {column!r}")
    if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
        raise EsdaError(f"column {column!r} of {source} is not numeric ({frame[column].dtype})")
    values = frame[[key, column]].assign(code=frame[key].astype(str))[["code", column]]
    gdf = geo.drop(columns=[column], errors="ignore").merge(values, on="code", how="left")
    plots.choropleth(gdf, column, scheme=scheme, k=k, path=path,
                     title=title or f"{column}{' ' + str(year) if year is not None else ''} ({scheme}, k = {k})")
    return gdf


# ============================================================================ public API
def _gate(con, w, prepared: Prepared, allow_failing_checks: bool) -> str:
    """Quality-gate status of a run (warehouse.quality.gate): the warehouse tables read (a table, or the tables a
    query reads) and a stored matrix must have passed their latest `geopanel check` unless `allow_failing_checks`;
    files and frames are 'not-checked'."""
    from warehouse.quality.gate import gate_status

    if not prepared.tables:  # files and frames, whatever the matrix
        return "not-checked"
    stored_w = w if isinstance(w, str) and not _is_w_file(w) else None
    return gate_status(con, prepared.tables, allow_failing_checks, w_name=stored_w).status


def _params(prepared: Prepared, **kw) -> dict[str, Any]:
    return {"source": prepared.source, "w_name": prepared.w_name, "transform": prepared.w_transform,
            "level": prepared.level, **kw}


def _base_row(run: _Run, p: Prepared, s: YearSlice, stat: str) -> dict[str, Any]:
    return {"run_id": run.run_id, "computed_at": run.computed_at, "statistic": stat, "source": p.source,
            "indicator": s.column, "indicator2": s.column2, "level": p.level, "year": s.year, "w_name": p.w_name,
            "transform": s.w.transform, "n": len(s.ids), "n_missing": s.n_missing, "n_unmatched": s.n_unmatched,
            "islands": len(s.w.islands), "data_hash": s.data_hash, "is_synthetic": s.is_synthetic,
            "params": json.dumps(run.params, ensure_ascii=False, default=str)}


def global_stats(data, columns: str | Sequence[str], w, *, years=None, statistics: Iterable[str] = ("moran",),
                 permutations: int = 999, seed: int = DEFAULT_SEED, level: str | None = None,
                 id_column: str | None = None, year_column: str = "year", transform: str | None = None,
                 unmatched: str = "error", con=None, db=None, save: bool = False, column2: str | None = None,
                 two_tailed: bool = True, allow_failing_checks: bool = False, where: str | None = None,
                 w_order=None) -> GlobalResult:
    """Global statistics ('moran', 'geary', 'getis_ord', 'moran_bv' with column2) for each indicator-year.

    Moran's p_norm and p_rand are two-tailed by default, as in esda (`two_tailed=False`: one-tailed).
    """
    statistics = list(statistics)
    bad = [s for s in statistics if s not in ("moran", "geary", "getis_ord", "moran_bv")]
    if bad:
        raise EsdaError(f"unknown statistic {bad[0]!r}: use moran, geary, getis_ord, moran_bv")
    if "moran_bv" in statistics and not column2:
        raise EsdaError("bivariate Moran needs a second column (column2 / --with)")
    if permutations < 0:
        raise EsdaError("permutations must be 0 or more")
    c, close = _connect(con, db, write=save) if save or needs_warehouse(data, w) else (con, False)
    try:
        prepared = prepare(data, columns, w, years=years, level=level, id_column=id_column, year_column=year_column,
                           transform=transform, unmatched=unmatched, con=c, column2=column2, where=where,
                           w_order=w_order)
        quality = _gate(c, w, prepared, allow_failing_checks)
        run = _Run(_run_id(), datetime.now(UTC).replace(tzinfo=None),
                   _params(prepared, quality_status=quality, statistics=statistics, permutations=permutations,
                           seed=seed,
                           unmatched=unmatched, column2=column2, two_tailed=two_tailed))
        rows = []
        morans: dict[int, dict[str, float]] = {}
        if "moran" in statistics:  # one pass over the permutations per unit set, shared by its indicator-years
            for members in _unit_groups(prepared.slices):
                Y = np.column_stack([prepared.slices[i].y for i in members])
                morans.update(zip(members, moran_global_many(prepared.slices[members[0]].w, Y, permutations, seed,
                                                             two_tailed=two_tailed), strict=True))
        for i, s in enumerate(prepared.slices):
            if "moran" in statistics:
                r = morans[i]
                rows.append({**_base_row(run, prepared, s, "moran"), "value": r["I"], "expected": r["EI"],
                             "var_norm": r["VI_norm"], "z_norm": r["z_norm"], "p_norm": r["p_norm"],
                             "var_rand": r["VI_rand"], "z_rand": r["z_rand"], "p_rand": r["p_rand"],
                             **_sim_cols(r, permutations, seed)})
            if "geary" in statistics:
                rows.append(_geary_row(run, prepared, s, permutations, seed))
            if "getis_ord" in statistics:
                rows.append(_g_row(run, prepared, s, permutations, seed))
            if "moran_bv" in statistics:
                rows.append(_bv_row(run, prepared, s, permutations, seed))
        result = GlobalResult(prepared, rows, run)
        if save:
            if c is None:
                raise EsdaError("saving needs a warehouse connection")
            result.save(c)
        return result
    finally:
        if close:
            _disconnect(c)


def moran(data, columns: str | Sequence[str], w, *, years=None, permutations: int = 999,
          seed: int = DEFAULT_SEED, **kw) -> GlobalResult:
    """Global Moran's I by year. `moran("fct_city_year", "gdp", w="queen_city", years=range(2011, 2023)).table`"""
    return global_stats(data, columns, w, years=years, statistics=("moran",), permutations=permutations, seed=seed,
                        **kw)


def geary(data, columns, w, *, years=None, permutations: int = 999, seed: int = DEFAULT_SEED, **kw) -> GlobalResult:
    """Geary's C by year (esda.Geary)."""
    return global_stats(data, columns, w, years=years, statistics=("geary",), permutations=permutations, seed=seed,
                        **kw)


def getis_ord(data, columns, w, *, years=None, permutations: int = 999, seed: int = DEFAULT_SEED,
              **kw) -> GlobalResult:
    """Global Getis–Ord G by year (esda.G; binary weights, non-negative values)."""
    return global_stats(data, columns, w, years=years, statistics=("getis_ord",), permutations=permutations,
                        seed=seed, **kw)


def moran_bv(data, x: str, y: str, w, *, years=None, permutations: int = 999, seed: int = DEFAULT_SEED,
             **kw) -> GlobalResult:
    """Bivariate Moran's I of x with the spatial lag of y, by year (esda.Moran_BV)."""
    return global_stats(data, x, w, years=years, statistics=("moran_bv",), permutations=permutations, seed=seed,
                        column2=y, **kw)


def _unit_groups(slices: list[YearSlice]) -> list[list[int]]:
    """Indices of the slices over the same units, in order: one engine call per unit set, so every
    indicator-year over those units shares one pass over the permutation draws."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, s in enumerate(slices):
        groups.setdefault(tuple(s.ids), []).append(i)
    return list(groups.values())


def _sim_cols(r: dict, permutations: int, seed: int) -> dict[str, Any]:
    return {"permutations": permutations, "seed": seed if permutations else None, "p_sim": r.get("p_sim"),
            "mean_sim": r.get("EI_sim"), "sd_sim": r.get("seI_sim"), "z_sim": r.get("z_sim"),
            "p_z_sim": r.get("p_z_sim")}


def _geary_row(run, prepared, s, permutations, seed):
    import esda

    with seeded_global_rng(seed):
        g = esda.Geary(s.y, s.w.to_libpysal(), transformation=_esda_transform(s.w.transform),
                       permutations=permutations)
    r = {"EI_sim": getattr(g, "EC_sim", None), "seI_sim": getattr(g, "seC_sim", None),
         "p_sim": getattr(g, "p_sim", None), "z_sim": getattr(g, "z_sim", None), "p_z_sim": getattr(g, "p_z_sim", None)}
    return {**_base_row(run, prepared, s, "geary"), "value": g.C, "expected": g.EC, "var_norm": g.VC_norm,
            "z_norm": g.z_norm, "p_norm": g.p_norm, "var_rand": g.VC_rand, "z_rand": g.z_rand, "p_rand": g.p_rand,
            **_sim_cols(r, permutations, seed)}


def _g_row(run, prepared, s, permutations, seed):
    import esda

    row = _base_row(run, prepared, s, "getis_ord")
    row["transform"] = "B"
    if (s.y < 0).any():
        return {**row, "params": _note(row["params"], "getis_ord skipped: G needs non-negative values")}
    with seeded_global_rng(seed):
        g = esda.G(s.y, s.w.to_libpysal(), permutations=permutations)
    r = {"EI_sim": getattr(g, "EG_sim", None), "seI_sim": getattr(g, "seG_sim", None),
         "p_sim": getattr(g, "p_sim", None), "z_sim": getattr(g, "z_sim", None), "p_z_sim": getattr(g, "p_z_sim", None)}
    return {**row, "value": g.G, "expected": g.EG, "var_norm": g.VG, "z_norm": g.z_norm, "p_norm": g.p_norm,
            **_sim_cols(r, permutations, seed)}


def _bv_row(run, prepared, s, permutations, seed):
    import esda

    with seeded_global_rng(seed):
        m = esda.Moran_BV(s.y, s.y2, s.w.to_libpysal(), transformation=_esda_transform(s.w.transform),
                          permutations=permutations)
    r = {"EI_sim": getattr(m, "EI_sim", None), "seI_sim": getattr(m, "seI_sim", None),
         "p_sim": getattr(m, "p_sim", None), "z_sim": getattr(m, "z_sim", None), "p_z_sim": getattr(m, "p_z_sim", None)}
    return {**_base_row(run, prepared, s, "moran_bv"), "value": m.I, **_sim_cols(r, permutations, seed)}


def _note(params: str, note: str) -> str:
    d = json.loads(params)
    d.setdefault("notes", []).append(note)
    return json.dumps(d, ensure_ascii=False, default=str)


def lisa(data, columns: str | Sequence[str], w, *, years=None, permutations: int = 999, seed: int = DEFAULT_SEED,
         correction: str | None = None, alpha: float = 0.05, gi_star: bool = True, level: str | None = None,
         id_column: str | None = None, year_column: str = "year", transform: str | None = None,
         unmatched: str = "error", con=None, db=None, save: bool = False,
         allow_failing_checks: bool = False, where: str | None = None, w_order=None) -> LisaResult:
    """Local Moran (LISA) by year with quadrants, seeded pseudo p-values, optional Bonferroni/FDR, and Gi*.

    `cluster` is the quadrant (HH, LH, LL, HL) where the (adjusted) pseudo p-value is at most `alpha`,
    'ns' otherwise, 'island' for a unit without neighbours.
    """
    if correction not in CORRECTIONS:
        raise EsdaError(f"correction {correction!r}: use none, bonferroni or fdr")
    if not 0 < alpha < 1:
        raise EsdaError("alpha must be between 0 and 1")
    if permutations < 1:
        raise EsdaError("LISA needs permutations (e.g. 999) for its pseudo p-values")
    c, close = _connect(con, db, write=save) if save or needs_warehouse(data, w) else (con, False)
    try:
        prepared = prepare(data, columns, w, years=years, level=level, id_column=id_column, year_column=year_column,
                           transform=transform, unmatched=unmatched, con=c, where=where, w_order=w_order)
        quality = _gate(c, w, prepared, allow_failing_checks)
        run = _Run(_run_id(), datetime.now(UTC).replace(tzinfo=None),
                   _params(prepared, quality_status=quality, permutations=permutations, seed=seed,
                           correction=correction or "none",
                           alpha=alpha, gi_star=gi_star, unmatched=unmatched))
        frames = []
        results: dict[int, dict[str, np.ndarray]] = {}
        for members in _unit_groups(prepared.slices):
            ws = prepared.slices[members[0]].w
            Y = np.column_stack([prepared.slices[i].y for i in members])
            arr = moran_local_arrays(ws, Y, permutations, seed)
            for j, i in enumerate(members):
                results[i] = {k: v[:, j] for k, v in arr.items()}
        for i, s in enumerate(prepared.slices):
            frames.append(_lisa_frame(run, prepared, s, results[i], permutations, seed, correction, alpha, gi_star))
        table = pd.concat(frames, ignore_index=True)[LISA_COLUMNS]
        result = LisaResult(prepared, table, run, con=None if close else c, db=db)
        if save:
            if c is None:
                raise EsdaError("saving needs a warehouse connection")
            result.save(c)
        return result
    finally:
        if close:
            _disconnect(c)


def _lisa_frame(run, prepared, s: YearSlice, r, permutations, seed, correction, alpha, gi_star) -> pd.DataFrame:
    island = s.w.cardinalities == 0
    p_sim = np.where(island, np.nan, r["p_sim"])
    p_adj = adjust_pvalues(p_sim, correction)
    quad = np.array([QUADRANTS[int(q)] for q in r["q"]], dtype=object)
    cluster = np.where(island, "island", np.where(p_adj <= alpha, quad, "ns"))
    base = _base_row(run, prepared, s, "lisa")
    frame = pd.DataFrame({
        "run_id": run.run_id, "computed_at": run.computed_at, "source": prepared.source, "indicator": s.column,
        "level": prepared.level, "year": s.year, "w_name": prepared.w_name, "transform": s.w.transform,
        "code": s.ids, "name": s.names, "value": s.y, "z": r["z"], "lag_z": r["lag"], "local_i": r["Is"],
        "q": r["q"].astype(int), "quadrant": quad, "is_island": island, "p_sim": p_sim, "p_adjusted": p_adj,
        "correction": correction or "none", "alpha": alpha, "cluster": cluster,
        "ei_sim": np.where(island, np.nan, r["EI_sim"]), "sd_sim": np.where(island, np.nan, r["seI_sim"]),
        "z_sim": np.where(island, np.nan, r["z_sim"]), "p_z_sim": np.where(island, np.nan, r["p_z_sim"]),
        "permutations": permutations, "seed": seed, "data_hash": base["data_hash"],
        "is_synthetic": s.is_synthetic, "params": base["params"],
    })
    for col in ("gi_star", "gi_star_z", "gi_star_p_norm", "gi_star_p_sim"):
        frame[col] = np.nan
    if gi_star and not (s.y < 0).any():
        g = gi_star_arrays(s.w, s.y, permutations, seed)
        frame["gi_star"], frame["gi_star_z"] = g["Gs"], g["Zs"]
        frame["gi_star_p_norm"], frame["gi_star_p_sim"] = g["p_norm"], g["p_sim"]
    return frame


def gi_star_arrays(w: SpatialWeights, y: np.ndarray, permutations: int = 999,
                   seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Local Getis–Ord Gi* (esda.G_Local with star=True) on `w`'s binary or row-standardised form."""
    import warnings

    import esda

    t = "B" if w.transform == "B" else "R"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(np.asarray(y, dtype=float), w.to_libpysal(), transform=t, permutations=permutations,
                         star=True, seed=seed, n_jobs=1, keep_simulations=False)
    p_sim = getattr(g, "p_sim", np.full(len(y), np.nan))
    return {"Gs": np.asarray(g.Gs), "Zs": np.asarray(g.Zs), "p_norm": np.asarray(g.p_norm), "p_sim": np.asarray(p_sim)}


# ============================================================================ storage
GLOBAL_DDL = """run_id varchar, computed_at timestamp, statistic varchar, source varchar, indicator varchar,
    indicator2 varchar, level varchar, year integer, w_name varchar, transform varchar, n integer,
    n_missing integer, n_unmatched integer, islands integer, value double, expected double, var_norm double,
    z_norm double, p_norm double, var_rand double, z_rand double, p_rand double, permutations integer,
    seed bigint, p_sim double, mean_sim double, sd_sim double, z_sim double, p_z_sim double, data_hash varchar,
    is_synthetic boolean, params varchar"""
LISA_DDL = """run_id varchar, computed_at timestamp, source varchar, indicator varchar, level varchar,
    year integer, w_name varchar, transform varchar, code varchar, name varchar, value double, z double,
    lag_z double, local_i double, q integer, quadrant varchar, is_island boolean, p_sim double,
    p_adjusted double, correction varchar, alpha double, cluster varchar, ei_sim double, sd_sim double,
    z_sim double, p_z_sim double, gi_star double, gi_star_z double, gi_star_p_norm double,
    gi_star_p_sim double, permutations integer, seed bigint, data_hash varchar, is_synthetic boolean,
    params varchar"""
RUNS_DDL = """run_id varchar primary key, kind varchar, started_at timestamp, rows integer, params varchar"""


def _save(con, table: str, frame: pd.DataFrame, ddl: str, run: _Run, kind: str) -> None:
    """Append `frame` to analysis.<table> and one row to analysis.esda_runs, in one transaction."""
    con.execute("create schema if not exists analysis")
    con.execute(f"create table if not exists analysis.{table} ({ddl})")
    con.execute(f"create table if not exists analysis.esda_runs ({RUNS_DDL})")
    cols = [c.strip().split()[0] for c in ddl.split(",")]
    with transaction(con):
        insert_frame(con, f"analysis.{table}", frame[cols])
        con.execute("insert into analysis.esda_runs values (?, ?, ?, ?, ?)",
                    [run.run_id, kind, run.computed_at, len(frame),
                     json.dumps(run.params, ensure_ascii=False, default=str)])
