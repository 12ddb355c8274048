"""One sparse × dense product for the spatial panels: alpha·W x + beta·y for an N × p block x, with the column
dot products probe'(result) fused in (Hutchinson trace probes). A row-parallel numba kernel when numba is
installed (it comes with shap and esda here; both cores), scipy otherwise (one core)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None

CHUNKS = 64  # row blocks run in parallel (each keeps its own partial dot products)


def matmul(w: sp.csr_matrix, x: np.ndarray, alpha: float = 1.0, y: np.ndarray | None = None, beta: float = 0.0,
           probe: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(alpha·W x + beta·y, probe'(alpha·W x + beta·y) column by column if `probe` is given) for a CSR W and a
    2-D x with W.shape[1] rows."""
    x = np.ascontiguousarray(x, dtype=float)
    if numba is None:
        out = alpha * (w @ x)
        if y is not None:
            out += beta * y
        return out, None if probe is None else np.einsum("ij,ij->j", probe, out)
    out = np.empty((w.shape[0], x.shape[1]))
    dots = np.zeros((CHUNKS, x.shape[1]))
    _spmm(w.indptr, w.indices, w.data, x, float(alpha), out if y is None else np.ascontiguousarray(y, dtype=float),
          float(beta) if y is not None else 0.0, out, out[:0] if probe is None else probe, dots)
    return out, None if probe is None else dots.sum(axis=0)


if numba is not None:
    @numba.njit(parallel=True, cache=True)
    def _spmm(indptr, indices, data, x, alpha, y, beta, out, probe, dots):  # pragma: no cover - compiled
        """out = alpha·W x + beta·y (CSR W); dots[chunk, c] += probe[i, c]·out[i, c] when probe has N rows."""
        n, p = out.shape
        chunks = dots.shape[0]
        step = (n + chunks - 1) // chunks
        with_probe = probe.shape[0] == n
        use_y = beta != 0.0
        for ch in numba.prange(chunks):
            for i in range(ch * step, min(n, (ch + 1) * step)):
                for c in range(p):
                    out[i, c] = beta * y[i, c] if use_y else 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    a = alpha * data[jj]
                    j = indices[jj]
                    for c in range(p):
                        out[i, c] += a * x[j, c]
                if with_probe:
                    for c in range(p):
                        dots[ch, c] += probe[i, c] * out[i, c]
