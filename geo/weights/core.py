"""The spatial-weights object geopanel stores and analyses: unit codes plus a sparse n×n matrix.

`SpatialWeights` is deliberately small: the codes (`ids`, in matrix order), a CSR matrix with a zero
diagonal, and what a reader needs to trust it — the kind and parameters it was built with, the level,
the transform (``B`` binary, ``O`` original general weights, ``R`` row-standardised) and the units an
island policy had to link. Everything else (links, islands, components, s0/s1/s2) is computed from the
matrix, so it cannot drift from it. PySAL interop is one call each way (`to_libpysal` / `from_libpysal`,
`to_graph` / `from_graph`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

TRANSFORMS = {"B": "binary (0/1)", "O": "original weights", "R": "row-standardised"}


class WeightsError(ValueError):
    """A weight matrix cannot be built, read or used as asked; the message says what to do."""


@dataclass
class SubsetReport:
    """What restricting a matrix to a unit set did: the units dropped, missing, and newly isolated."""

    w_name: str
    n_before: int
    n_after: int
    dropped: list[str] = field(default_factory=list)  # in the matrix, not in the unit set
    missing: list[str] = field(default_factory=list)  # in the unit set, not in the matrix
    links_dropped: int = 0
    new_islands: list[str] = field(default_factory=list)  # had neighbours, lost all of them
    restandardised: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.missing)

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.w_name}: unit set matches ({self.n_after} units)"
        parts = [f"{self.w_name}: {self.n_before} → {self.n_after} units"]
        if self.dropped:
            parts.append(f"dropped {len(self.dropped)} not in the unit set ({_preview(self.dropped)}), "
                         f"{self.links_dropped} links with them")
        if self.missing:
            parts.append(f"{len(self.missing)} units of the unit set not in the matrix ({_preview(self.missing)})")
        if self.new_islands:
            parts.append(f"{len(self.new_islands)} units lost all neighbours ({_preview(self.new_islands)})")
        if self.restandardised:
            parts.append("rows re-standardised")
        return "; ".join(parts)


def _preview(codes: list[str], k: int = 5) -> str:
    return ", ".join(codes[:k]) + (f" … (+{len(codes) - k})" if len(codes) > k else "")


@dataclass
class SpatialWeights:
    """A named-to-be spatial weight matrix over unit codes.

    >>> w = SpatialWeights.from_edges(pd.DataFrame({"focal": ["a", "b"], "neighbor": ["b", "a"]}), kind="toy")
    >>> w.n, w.n_links, w.transform
    (2, 2, 'B')
    """

    ids: list[str]
    matrix: sparse.csr_matrix
    kind: str
    level: str | None = None
    transform: str = "B"
    params: dict[str, Any] = field(default_factory=dict)
    islands_linked: list[str] = field(default_factory=list)
    unit_set: str = ""

    def __post_init__(self) -> None:
        self.ids = [str(i) for i in self.ids]
        m = sparse.csr_matrix(self.matrix, dtype=float)
        n = len(self.ids)
        if m.shape != (n, n):
            raise WeightsError(f"matrix is {m.shape[0]}×{m.shape[1]} but there are {n} unit codes")
        if len(set(self.ids)) != n:
            dups = sorted({i for i in self.ids if self.ids.count(i) > 1})
            raise WeightsError(f"duplicate unit codes: {_preview(dups)}")
        if m.diagonal().any():
            bad = [self.ids[i] for i in np.flatnonzero(m.diagonal())]
            raise WeightsError(f"a unit cannot be its own neighbour (non-zero diagonal for {_preview(bad)})")
        if m.nnz and (not np.all(np.isfinite(m.data)) or (m.data < 0).any()):
            raise WeightsError("weights must be finite and non-negative")
        m.eliminate_zeros()
        m.sort_indices()
        self.matrix = m
        if self.transform not in TRANSFORMS:
            raise WeightsError(f"transform {self.transform!r}: use one of {', '.join(TRANSFORMS)}")

    # ------------------------------------------------------------------ description
    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def n_links(self) -> int:
        """Number of non-zero (focal, neighbour) pairs, each direction counted."""
        return int(self.matrix.nnz)

    @property
    def cardinalities(self) -> np.ndarray:
        return np.diff(self.matrix.indptr)

    @property
    def islands(self) -> list[str]:
        """Units with no neighbour at all (an empty row)."""
        return [self.ids[i] for i in np.flatnonzero(self.cardinalities == 0)]

    @property
    def n_components(self) -> int:
        """Connected components of the (symmetrised) neighbour graph; each island is one."""
        return int(connected_components(self.matrix, directed=True, connection="weak")[0])

    @property
    def symmetric(self) -> bool:
        diff = self.matrix - self.matrix.T
        return bool(diff.nnz == 0 or np.allclose(diff.data, 0.0))

    @property
    def units_hash(self) -> str:
        """Short fingerprint of the unit set (sorted codes), to tell matrices over the same units."""
        return hashlib.sha1("\n".join(sorted(self.ids)).encode()).hexdigest()[:16]

    @property
    def s0(self) -> float:
        return float(self.matrix.sum())

    @property
    def s1(self) -> float:
        t = self.matrix + self.matrix.T
        return float(0.5 * t.multiply(t).sum())

    @property
    def s2(self) -> float:
        rows = np.asarray(self.matrix.sum(axis=1)).ravel()
        cols = np.asarray(self.matrix.sum(axis=0)).ravel()
        return float(((rows + cols) ** 2).sum())

    def summary(self) -> dict[str, Any]:
        """The catalog row of this matrix, without the name and the build time."""
        card = self.cardinalities
        return {
            "kind": self.kind,
            "params": json.dumps(self.params, ensure_ascii=False, sort_keys=True, default=str),
            "level": self.level,
            "unit_set": self.unit_set,
            "units_hash": self.units_hash,
            "n": self.n,
            "n_links": self.n_links,
            "mean_neighbors": float(card.mean()) if self.n else 0.0,
            "min_neighbors": int(card.min()) if self.n else 0,
            "max_neighbors": int(card.max()) if self.n else 0,
            "islands": len(self.islands),
            "island_codes": ",".join(self.islands),
            "islands_linked": len(self.islands_linked),
            "islands_linked_codes": ",".join(self.islands_linked),
            "components": self.n_components,
            "is_symmetric": self.symmetric,
            "transform": self.transform,
        }

    def __repr__(self) -> str:
        return (f"SpatialWeights(kind={self.kind!r}, level={self.level!r}, n={self.n}, links={self.n_links}, "
                f"islands={len(self.islands)}, transform={self.transform!r})")

    # ------------------------------------------------------------------ operations
    def row_standardise(self) -> SpatialWeights:
        """Each row divided by its sum (rows of islands stay zero); the choice is recorded in `params`."""
        sums = np.asarray(self.matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        m = sparse.diags(scale) @ self.matrix
        params = {**self.params, "row_standardised": True}
        return replace(self, matrix=sparse.csr_matrix(m), transform="R", params=params)

    def transformed(self, transform: str | None) -> SpatialWeights:
        """This matrix under `transform` ('R', 'B'; None or the current one: unchanged)."""
        t = (transform or self.transform).upper()
        if t == self.transform:
            return self
        if t == "R":
            return self.row_standardise()
        if t == "B":
            m = self.matrix.copy()
            m.data[:] = 1.0
            return replace(self, matrix=m, transform="B", params={**self.params, "binarised": True})
        raise WeightsError(f"cannot turn a {TRANSFORMS[self.transform]} matrix into {t!r}; "
                           "rebuild it with the transform you want")

    def lag(self, x: np.ndarray) -> np.ndarray:
        """W·x for values in `ids` order."""
        return self.matrix @ np.asarray(x, dtype=float)

    def subset(self, ids: list[str] | pd.Index | np.ndarray, name: str = "W",
               restandardise: bool | None = None) -> tuple[SpatialWeights, SubsetReport]:
        """Restrict to `ids` (in that order). Units of `ids` missing from the matrix are reported, not added.

        A row-standardised matrix is re-standardised after dropping units (unless told otherwise), so its
        rows still sum to one; a unit whose every neighbour was dropped becomes an island and is reported.
        """
        wanted = [str(i) for i in ids]
        pos = {c: i for i, c in enumerate(self.ids)}
        missing = [c for c in wanted if c not in pos]
        keep_codes = [c for c in wanted if c in pos]
        keep_set = set(keep_codes)
        dropped = [c for c in self.ids if c not in keep_set]
        idx = np.array([pos[c] for c in keep_codes], dtype=np.int64)
        sub = self.matrix[idx][:, idx].tocsr()
        kept_rows = self.matrix[idx]
        links_dropped = int(kept_rows.nnz - sub.nnz)
        had = np.diff(kept_rows.indptr) > 0
        has = np.diff(sub.indptr) > 0
        new_islands = [keep_codes[i] for i in np.flatnonzero(had & ~has)]
        restandardise = (self.transform == "R") if restandardise is None else restandardise
        out = replace(self, ids=keep_codes, matrix=sub,
                      islands_linked=[c for c in self.islands_linked if c in keep_set])
        if dropped and restandardise:
            out = replace(out.row_standardise(), params=self.params)
        report = SubsetReport(w_name=name, n_before=self.n, n_after=len(keep_codes), dropped=dropped,
                              missing=missing, links_dropped=links_dropped, new_islands=new_islands,
                              restandardised=bool(dropped and restandardise))
        return out, report

    def edges(self) -> pd.DataFrame:
        """One row per link: focal, neighbor, weight (the layout of `weights.w_edges`)."""
        coo = self.matrix.tocoo()
        ids = np.asarray(self.ids, dtype=object)
        frame = pd.DataFrame({"focal": ids[coo.row], "neighbor": ids[coo.col], "weight": coo.data})
        return frame.sort_values(["focal", "neighbor"], kind="stable").reset_index(drop=True)

    def dense(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix.toarray(), index=self.ids, columns=self.ids)

    # ------------------------------------------------------------------ construction and interop
    @classmethod
    def from_edges(cls, edges: pd.DataFrame, kind: str, ids: list[str] | None = None, level: str | None = None,
                   transform: str | None = None, params: dict | None = None, **kw) -> SpatialWeights:
        """From an edge list (focal, neighbor[, weight]); `ids` fixes the unit order and may add islands."""
        for col in ("focal", "neighbor"):
            if col not in edges.columns:
                raise WeightsError(f"edge list needs columns focal, neighbor[, weight]; got {list(edges.columns)}")
        focal = edges["focal"].astype(str).to_numpy()
        neighbor = edges["neighbor"].astype(str).to_numpy()
        weight = (pd.to_numeric(edges["weight"], errors="coerce").to_numpy(dtype=float)
                  if "weight" in edges.columns else np.ones(len(edges)))
        if np.isnan(weight).any():
            raise WeightsError(f"{int(np.isnan(weight).sum())} edge weights are not numbers")
        if ids is None:
            ids = sorted(set(focal) | set(neighbor))
        ids = [str(i) for i in ids]
        pos = {c: i for i, c in enumerate(ids)}
        unknown = sorted((set(focal) | set(neighbor)) - set(pos))
        if unknown:
            raise WeightsError(f"edges name units outside the unit set: {_preview(unknown)}")
        pairs = pd.Series(list(zip(focal, neighbor, strict=True)))
        if pairs.duplicated().any():
            raise WeightsError(f"duplicate links, e.g. {pairs[pairs.duplicated()].iloc[0]}")
        rows = np.array([pos[c] for c in focal], dtype=np.int64)
        cols = np.array([pos[c] for c in neighbor], dtype=np.int64)
        m = sparse.csr_matrix((weight, (rows, cols)), shape=(len(ids), len(ids)))
        if transform is None:
            transform = "B" if np.all(weight == 1.0) else "O"
        return cls(ids=ids, matrix=m, kind=kind, level=level, transform=transform, params=params or {}, **kw)

    @classmethod
    def from_libpysal(cls, w, kind: str = "pysal", level: str | None = None, params: dict | None = None,
                      **kw) -> SpatialWeights:
        """From a libpysal `W` (or `Graph`); ids become strings, the W's transform is kept."""
        from libpysal.graph import Graph

        if isinstance(w, Graph):
            return cls.from_graph(w, kind=kind, level=level, params=params, **kw)
        ids = [str(i) for i in w.id_order]
        rows, cols, data = [], [], []
        pos = {orig: i for i, orig in enumerate(w.id_order)}
        for focal in w.id_order:
            for nb, wt in zip(w.neighbors[focal], w.weights[focal], strict=True):
                rows.append(pos[focal])
                cols.append(pos[nb])
                data.append(float(wt))
        m = sparse.csr_matrix((data, (rows, cols)), shape=(len(ids), len(ids)))
        t = str(getattr(w, "transform", "O")).upper()
        transform = {"R": "R", "B": "B"}.get(t, "B" if m.nnz and np.all(m.data == 1.0) else "O")
        return cls(ids=ids, matrix=m, kind=kind, level=level, transform=transform, params=params or {}, **kw)

    @classmethod
    def from_graph(cls, g, kind: str = "pysal", level: str | None = None, params: dict | None = None,
                   **kw) -> SpatialWeights:
        """From a libpysal `Graph` (its isolates' zero self-loops are not links)."""
        ids = [str(i) for i in g.unique_ids]
        m = sparse.csr_matrix(g.sparse, dtype=float)
        m.setdiag(0)
        m.eliminate_zeros()
        t = str(getattr(g, "_transformation", "O")).upper()
        transform = {"R": "R", "B": "B"}.get(t, "B" if m.nnz and np.all(m.data == 1.0) else "O")
        return cls(ids=ids, matrix=m, kind=kind, level=level, transform=transform, params=params or {}, **kw)

    def to_libpysal(self):
        """A libpysal `W` with the unit codes as ids (in `ids` order) and this matrix's weights.

        Neighbours are listed in matrix-column order so that `W.sparse` equals `self.matrix` entry by
        entry, which esda's conditional randomisation relies on. `W.transform` is set to 'R' for a
        row-standardised matrix (libpysal re-standardising it changes nothing), 'B' for binary, else 'O'.
        """
        from libpysal.weights import W

        m = self.matrix
        ids = self.ids
        neighbors, weights = {}, {}
        for i, code in enumerate(ids):
            start, end = m.indptr[i], m.indptr[i + 1]
            neighbors[code] = [ids[j] for j in m.indices[start:end]]
            weights[code] = m.data[start:end].tolist()
        w = W(neighbors, weights, id_order=list(ids), silence_warnings=True)
        if self.transform == "R":
            # mark the stored weights as the row-standardised ones: libpysal re-dividing them by their row
            # sums could change the last bit, and esda sets transform='r' again before computing
            w.transformations["R"] = w.weights
            w._transform = "R"
        elif self.transform == "B":
            w.transform = "B"
        return w

    def to_graph(self):
        """A libpysal `Graph` over the unit codes."""
        from libpysal.graph import Graph

        g = Graph.from_sparse(self.matrix, ids=np.asarray(self.ids, dtype=object))
        return g
