"""A user's own weight matrix: GAL, GWT, a CSV edge list or a dense CSV / Stata-style matrix.

Codes are read as text and normalised like the boundary loader does (surrounding blanks, a '156'
prefix on 9-digit codes, a trailing '.0' from spreadsheets); `check_codes` then compares them with
the units a level has, so a matrix of another vintage or level is refused with the codes that do not
match rather than producing a silently wrong W.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from geo.weights.core import SpatialWeights, WeightsError, _preview

FORMATS = ("gal", "gwt", "edges", "dense", "mat")
W_ORDERS = ("ascending-text", "ascending-numeric")
ORDER_HELP = ("give the order of its rows: w_order='ascending-text' or 'ascending-numeric' (the data's unit ids "
              "sorted as text or as numbers) or a file with one id per line (--w-order on the command line)")


@dataclass(frozen=True)
class WFile:
    """A weights file for an analysis, with the row order of an id-less matrix: 'ascending-text' |
    'ascending-numeric' | a path to a file with one id per line. `WFile("spat-sym-us.mat", "ascending-numeric")`"""

    path: str | Path
    order: str | Path | None = None

    def __str__(self) -> str:
        return str(self.path)


def normalise_code(code: object) -> str:
    text = str(code).strip()
    text = re.sub(r"\.0+$", "", text)
    return re.sub(r"^156(?=\d{6}$)", "", text)


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".gal":
        return "gal"
    if suffix == ".gwt":
        return "gwt"
    if suffix == ".mat":
        return "mat"
    if suffix in (".csv", ".txt", ".tsv"):
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline().lower()
        return "edges" if ("focal" in header and "neighbor" in header) or "neighbour" in header else "dense"
    raise WeightsError(f"{path}: cannot tell the format from the suffix; give --format ({', '.join(FORMATS)})")


def read_matrix_file(path: str | Path, fmt: str | None = None, level: str | None = None,
                     ids: Iterable[str] | None = None, focal: str = "focal", neighbor: str = "neighbor",
                     weight: str | None = "weight") -> SpatialWeights:
    """Read a matrix file into `SpatialWeights` (kind 'import', with the file and format in params).

    Dense matrices: a first column of row labels and a header of column labels (the same codes in the
    same order), or no labels at all when `ids` gives the order (a Stata `spmat export`-style square).
    A MATLAB .mat matrix has no ids: `ids` must give them in row order (see `order_ids`); a file with ids
    of its own is never re-ordered by position.
    """
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: file not found")
    fmt = fmt or detect_format(path)
    params = {"file": str(path), "format": fmt}
    if fmt in ("gal", "gwt"):
        w = _read_pysal(path, fmt)
    elif fmt == "edges":
        w = _read_edges(path, focal, neighbor, weight)
    elif fmt == "dense":
        w = _read_dense(path, None if ids is None else [normalise_code(i) for i in ids])
    elif fmt == "mat":
        w = _read_mat(path, None if ids is None else [normalise_code(i) for i in ids])
    else:
        raise WeightsError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    w.kind, w.level = "import", level
    w.params = {**params, **w.params}
    return w


def _read_pysal(path: Path, fmt: str) -> SpatialWeights:
    import libpysal

    try:
        pw = libpysal.io.open(str(path)).read()
    except Exception as exc:  # libpysal raises several types for malformed files
        raise WeightsError(f"{path}: not a readable {fmt.upper()} file ({exc})") from exc
    w = SpatialWeights.from_libpysal(pw, kind="import")
    mapping = {i: normalise_code(i) for i in w.ids}
    return SpatialWeights(ids=[mapping[i] for i in w.ids], matrix=w.matrix, kind="import",
                          transform=w.transform if fmt == "gwt" else "B")


def _read_edges(path: Path, focal: str, neighbor: str, weight: str | None) -> SpatialWeights:
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", sep=None, engine="python")
    frame.columns = [c.strip() for c in frame.columns]
    aliases = {neighbor: "neighbor", "neighbour": "neighbor", focal: "focal"}
    frame = frame.rename(columns={c: aliases[c] for c in frame.columns if c in aliases})
    if weight and weight in frame.columns:
        frame = frame.rename(columns={weight: "weight"})
    missing = [c for c in ("focal", "neighbor") if c not in frame.columns]
    if missing:
        raise WeightsError(f"{path}: no column {missing[0]!r}; an edge list needs focal, neighbor[, weight] "
                           f"(columns are {list(frame.columns)})")
    frame = frame.dropna(subset=["focal", "neighbor"])
    frame["focal"] = frame["focal"].map(normalise_code)
    frame["neighbor"] = frame["neighbor"].map(normalise_code)
    if "weight" in frame.columns:
        bad = pd.to_numeric(frame["weight"], errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise WeightsError(f"{path}, line {row}: weight {frame['weight'].iloc[row - 2]!r} is not a number")
    self_links = frame["focal"] == frame["neighbor"]
    if self_links.any():
        raise WeightsError(f"{path}: unit {frame.loc[self_links, 'focal'].iloc[0]} is listed as its own neighbour")
    try:
        return SpatialWeights.from_edges(frame, kind="import")
    except WeightsError as exc:
        raise WeightsError(f"{path}: {exc}") from exc


def _read_mat(path: Path, ids: list[str] | None) -> SpatialWeights:
    import libpysal

    if ids is None:
        raise WeightsError(f"{path}: a .mat matrix has no unit ids; {ORDER_HELP}")
    try:
        pw = libpysal.io.open(str(path)).read()
    except Exception as exc:  # scipy/libpysal raise several types for malformed files
        raise WeightsError(f"{path}: not a readable MATLAB weights file ({exc})") from exc
    if pw.n != len(ids):
        raise WeightsError(f"{path}: {pw.n} rows but {len(ids)} unit ids in the given order")
    w = SpatialWeights.from_libpysal(pw, kind="import")
    return SpatialWeights(ids=list(ids), matrix=w.matrix, kind="import", transform=w.transform)


def order_ids(order, data_ids, n: int, path: str | Path = "W") -> list[str]:
    """The ids of an id-less matrix (.mat, unlabelled dense CSV) in row order, said explicitly.

    order: 'ascending-text' | 'ascending-numeric' (the data's distinct unit ids sorted as text / as numbers),
    or a path to a file with one id per line. Never guessed: None is refused with how to give it.
    """
    name = Path(str(path)).name
    if order is None:
        raise WeightsError(f"{name}: the matrix has no unit ids; {ORDER_HELP}")
    text = str(order)
    units = sorted({normalise_code(u) for u in data_ids if u is not None and str(u) != "nan"})
    if text == "ascending-text":
        ids = units
    elif text == "ascending-numeric":
        bad = [u for u in units if not re.fullmatch(r"-?\d+(\.\d+)?", u)]
        if bad:
            raise WeightsError(f"{name}: w_order 'ascending-numeric' but unit ids such as {_preview(bad, 3)} are not "
                               "numbers; use 'ascending-text' or a file with one id per line")
        ids = sorted(units, key=float)
    elif text in ("ascending", "sorted", "asc"):
        raise WeightsError(f"w_order {text!r}: say how the ids sort, 'ascending-text' or 'ascending-numeric' "
                           "(for 1, 2, 10: text gives 1, 10, 2)")
    else:
        file = Path(text)
        if not file.exists():
            raise WeightsError(f"w_order {text!r}: not 'ascending-text', 'ascending-numeric' or an existing file "
                               "with one id per line")
        ids = [normalise_code(line) for line in file.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise WeightsError(f"{file}: ids listed twice: {_preview(dup, 3)}")
    if len(ids) != n:
        source = "the data have" if text in W_ORDERS else f"{Path(text).name} lists"
        raise WeightsError(f"{name} has {n} rows but {source} {len(ids)} unit ids; give the data for exactly the "
                           "matrix's units, or a file with its ids in row order")
    return ids


def needs_order(path: str | Path, fmt: str | None = None) -> bool:
    """True for a matrix file without unit ids (.mat, a dense CSV without a label row and column)."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    return fmt == "mat" or (fmt == "dense" and not _dense_labelled(_dense_raw(path)[1]))


def read_w_file(path: str | Path, order=None, data_ids=None, fmt: str | None = None,
                level: str | None = None) -> SpatialWeights:
    """A weights file for an analysis: its own ids (GAL, GWT, edge list, labelled dense CSV), or for an id-less
    matrix the ids `order_ids(order, data_ids, n)` gives — never an assumed order."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: weights file not found; check the path")
    fmt = fmt or detect_format(path)
    if not needs_order(path, fmt):
        return read_matrix_file(path, fmt=fmt, level=level)
    if fmt == "mat":
        import libpysal

        n = libpysal.io.open(str(path)).read().n
    else:
        n = len(_dense_raw(path)[0])
    ids = order_ids(order, data_ids if data_ids is not None else [], n, path)
    w = read_matrix_file(path, fmt=fmt, level=level, ids=ids)
    how = f"data units in {order} order" if str(order) in W_ORDERS else f"listed in {Path(str(order)).name}"
    w.params = {**w.params, "ids": how}
    return w


def _dense_raw(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(path, header=None, dtype=str, encoding="utf-8-sig", sep=None, engine="python")
    raw = raw.apply(lambda col: col.str.strip())
    return raw, raw.apply(pd.to_numeric, errors="coerce")


def _dense_labelled(numeric: pd.DataFrame) -> bool:
    return bool(numeric.iloc[0].isna().any() or numeric.iloc[:, 0].isna().any())


def _read_dense(path: Path, ids: list[str] | None) -> SpatialWeights:
    raw, numeric = _dense_raw(path)
    labelled = _dense_labelled(numeric)
    if labelled:
        col_labels = [normalise_code(c) for c in raw.iloc[0, 1:]]
        row_labels = [normalise_code(c) for c in raw.iloc[1:, 0]]
        body = numeric.iloc[1:, 1:]
        if col_labels != row_labels:
            raise WeightsError(f"{path}: row labels and column labels differ (first rows "
                               f"{_preview(row_labels, 3)}; first columns {_preview(col_labels, 3)})")
        if ids is not None and sorted(ids) != sorted(row_labels):
            raise WeightsError(f"{path}: the labels do not match the given unit codes")
        ids = row_labels
    else:
        body = numeric
        if ids is None:
            raise WeightsError(f"{path}: a dense matrix without labels needs the unit codes in row order "
                               "(--ids FILE, one code a line, or a label row and column in the file; for an "
                               "analysis: --w-order)")
    values = body.to_numpy(dtype=float)
    if values.shape[0] != values.shape[1]:
        raise WeightsError(f"{path}: the matrix is {values.shape[0]}×{values.shape[1]}, not square")
    if values.shape[0] != len(ids):
        raise WeightsError(f"{path}: {values.shape[0]} rows but {len(ids)} unit codes")
    if np.isnan(values).any():
        r, c = np.argwhere(np.isnan(values))[0]
        raise WeightsError(f"{path}: cell ({r + 1}, {c + 1}) is empty or not a number")
    diag = np.diag(values)
    if diag.any():
        raise WeightsError(f"{path}: the diagonal must be zero (unit {ids[int(np.flatnonzero(diag)[0])]})")
    transform = "B" if np.isin(values, (0.0, 1.0)).all() else "O"
    return SpatialWeights(ids=ids, matrix=sparse.csr_matrix(values), kind="import", transform=transform)


def check_codes(w: SpatialWeights, known: Iterable[str], what: str) -> None:
    """Refuse a matrix whose codes are not all units of `what` (e.g. 'dim_city')."""
    known = {str(c) for c in known}
    unknown = [c for c in w.ids if c not in known]
    if unknown:
        raise WeightsError(f"{len(unknown)} of the matrix's {w.n} unit codes are not in {what}: {_preview(unknown)}; "
                           "check the level and the code vintage (6-digit GB/T 2260 codes)")


def write_gal(w: SpatialWeights, path: str | Path) -> Path:
    """Write the neighbour structure as a GAL file (weights are not part of GAL)."""
    path = Path(path)
    m = w.matrix
    lines = [f"0 {w.n} {w.kind} {w.kind}"]
    for i, code in enumerate(w.ids):
        nbrs = [w.ids[j] for j in m.indices[m.indptr[i]:m.indptr[i + 1]]]
        lines += [f"{code} {len(nbrs)}", " ".join(nbrs)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_gwt(w: SpatialWeights, path: str | Path) -> Path:
    """Write focal, neighbour, weight triples as a GWT file."""
    path = Path(path)
    edges = w.edges()
    lines = [f"0 {w.n} {w.kind} code"]
    lines += [f"{r.focal} {r.neighbor} {r.weight!r}" for r in edges.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
