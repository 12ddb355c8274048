"""Functions of (I − ρW) that the likelihood, information matrix and effects need, exact or approximated.

Small N: eigenvalues of W (exact log-determinant, traces and totals; Ord 1975).
Medium N ('lu', up to 20,000): sparse LU for the log-determinant (exact, one factorisation per evaluation).
Large N ('mc'): the log-determinant series −Σ ρ^j tr(W^j)/j of Barry & Pace (1999).
For 'lu' and 'mc', traces in effects and variances come from Monte Carlo moments tr(W^j) (Hutchinson
estimates with Rademacher probes; LeSage & Pace 2009 §4.4), exact for j ≤ 2.
The method used is chosen from N and recorded in `method`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

EIGEN_MAX_N = 1000  # W similar to a symmetric matrix: eigvalsh is fast
EIGEN_MAX_N_GENERAL = 400
LU_MAX_N = 20000  # above: Monte Carlo log-determinant, one sparse LU per ρ costs too much
SERIES_ORDER = 120
PROBES = 60


class Spectrum:
    """W (sparse, N×N) with log|I − ρW|, tr((I − ρW)^{-1}), tr(W(I − ρW)^{-1}) and related functions of ρ."""

    def __init__(self, w: sp.csr_matrix, method: str = "auto", seed: int = 0) -> None:
        self.w = sp.csr_matrix(w, dtype=float)
        self.n = self.w.shape[0]
        rowsums = np.asarray(self.w.sum(axis=1)).ravel()
        self.row_standardised = bool(np.allclose(rowsums, 1.0))
        scale = _symmetrising_scale(self.w)
        if method == "auto":
            method = "eigen" if self.n <= (EIGEN_MAX_N if scale is not None else EIGEN_MAX_N_GENERAL) else (
                "lu" if self.n <= LU_MAX_N else "mc")
        if method not in ("eigen", "lu", "mc"):
            raise ValueError(f"logdet method {method!r}: use 'auto', 'eigen', 'lu' or 'mc'")
        self.method = method
        if method == "eigen":
            dense = self.w.toarray()
            if scale is not None and self.row_standardised:
                # W = D^{-1}C with C symmetric: D^{1/2} W D^{-1/2} is symmetric with W's eigenvalues (Ord 1975)
                root = np.sqrt(scale)
                self.omega = np.linalg.eigvalsh(root[:, None] * dense / root[None, :]).astype(complex)
            elif self.row_standardised:
                self.omega = np.linalg.eigvals(dense)
            else:
                self.omega, vecs = np.linalg.eig(dense)
                ones = np.ones(self.n)
                # 1'A1 = Σ a_i b_i / (1 − ρω_i) with a = V'1, b = V^{-1}1 (W diagonalisable)
                self._ab = (vecs.T @ ones) * np.linalg.solve(vecs, ones)
            real = self.omega.real[np.abs(self.omega.imag) < 1e-10]
            self.bounds = (1.0 / real.min(), 1.0 / real.max())
        else:
            self.omega = None
            radius = 1.0 if self.row_standardised else _spectral_radius(self.w)
            # LeSage & Pace (2009 §4.3): (−1, 1)/ω_max when the smallest eigenvalue is unknown
            self.bounds = (-1.0 / radius, 1.0 / radius)
            self._moments = self._trace_moments(seed)
            self._sums = self._total_moments()

    # -- log-determinant -------------------------------------------------------------------------
    def logdet(self, rho: float) -> float:
        """log|I − ρW|."""
        if self.method == "eigen":
            return float(np.sum(np.log(1.0 - rho * self.omega)).real)
        if self.method == "mc":
            # Barry & Pace (1999): log|I − ρW| = −Σ_j ρ^j tr(W^j)/j
            j = np.arange(1, SERIES_ORDER + 1)
            return float(-np.sum(rho**j * self._moments[1:] / j))
        lu = splu(sp.csc_matrix(sp.identity(self.n) - rho * self.w), permc_spec="COLAMD")
        return float(np.sum(np.log(np.abs(lu.U.diagonal()))))

    # -- traces of A = (I − ρW)^{-1}, vectorised over ρ -----------------------------------------
    def tr_a(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(A)."""
        return self._tr(rho, power=0, shift=0)

    def tr_aw(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(AW) = tr(W̃)."""
        return self._tr(rho, power=1, shift=1)

    def tr_aw2(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(W̃²) with W̃ = WA."""
        return self._tr(rho, power=2, shift=2)

    def total_a(self, rho: np.ndarray | float) -> np.ndarray:
        """1'A1 / N."""
        return self._total(rho, shift=0)

    def total_aw(self, rho: np.ndarray | float) -> np.ndarray:
        """1'AW1 / N."""
        return self._total(rho, shift=1)

    def _tr(self, rho, power: int, shift: int) -> np.ndarray:
        rho = np.asarray(rho, dtype=float)
        if self.method == "eigen":
            om = self.omega
            return np.sum(om[None, :] ** power / (1.0 - rho.reshape(-1, 1) * om[None, :]) ** (1 if power < 2 else 2),
                          axis=1).real.reshape(rho.shape)
        # Σ_j c_j ρ^j tr(W^{j+shift}); c_j = j + 1 for the squared resolvent (power 2), else 1
        j = np.arange(SERIES_ORDER - shift)
        coef = (j + 1.0) if power == 2 else np.ones_like(j, dtype=float)
        terms = coef * self._moments[shift:SERIES_ORDER]
        return np.polynomial.polynomial.polyval(rho, terms)

    def _total(self, rho, shift: int) -> np.ndarray:
        rho = np.asarray(rho, dtype=float)
        if self.row_standardised:
            return 1.0 / (1.0 - rho)  # W1 = 1, so A1 = 1/(1 − ρ) and AW1 = A1
        if self.method == "eigen":
            om = self.omega
            num = self._ab * om**shift
            return (np.sum(num[None, :] / (1.0 - rho.reshape(-1, 1) * om[None, :]), axis=1).real / self.n
                    ).reshape(rho.shape)
        return np.polynomial.polynomial.polyval(rho, self._sums[shift:SERIES_ORDER])

    def _trace_moments(self, seed: int) -> np.ndarray:
        """tr(W^j), j = 0..SERIES_ORDER: exact for j ≤ 2, Hutchinson estimates with Rademacher probes above."""
        rng = np.random.default_rng(seed)
        z = rng.choice([-1.0, 1.0], size=(self.n, PROBES))
        out = np.empty(SERIES_ORDER + 1)
        out[0] = self.n
        out[1] = self.w.diagonal().sum()
        out[2] = self.w.multiply(self.w.T).sum()
        v = self.w @ (self.w @ z)
        for j in range(3, SERIES_ORDER + 1):
            v = self.w @ v
            out[j] = np.mean(np.sum(z * v, axis=0))
        return out

    def _total_moments(self) -> np.ndarray:
        """1'W^j 1 / N, j = 0..SERIES_ORDER (exact)."""
        v = np.ones(self.n)
        out = np.empty(SERIES_ORDER + 1)
        for j in range(SERIES_ORDER + 1):
            out[j] = v.sum() / self.n
            v = self.w @ v
        return out

    # -- quantities for the information matrix -------------------------------------------------
    def resolvent_solve(self, rho: float, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        """A b (or A' b): solves (I − ρW) x = b for a vector or N×m matrix b."""
        m = sp.identity(self.n) - rho * self.w
        if transpose:
            m = m.T
        return splu(sp.csc_matrix(m), permc_spec="COLAMD").solve(np.asarray(b, dtype=float))

    def tr_wtw(self, rho: float, seed: int = 1) -> float:
        """tr(W̃'W̃), W̃ = WA: exact for the eigen method, Hutchinson with sparse solves otherwise."""
        if self.method == "eigen":
            wt = self.w @ self.resolvent_solve(rho, np.eye(self.n))  # exact: sparse LU, N right-hand sides
            return float(np.sum(wt * wt))
        rng = np.random.default_rng(seed)
        z = rng.choice([-1.0, 1.0], size=(self.n, PROBES))
        x = self.w @ self.resolvent_solve(rho, z)
        return float(np.mean(np.sum(x * x, axis=0)))


_CACHE: dict[tuple, Spectrum] = {}


def spectrum_for(w: sp.csr_matrix, method: str = "auto", seed: int = 0) -> Spectrum:
    """A Spectrum, reused for the same W, method and seed (model searches and Monte Carlo refit one W often)."""
    w = sp.csr_matrix(w, dtype=float)
    h = hashlib.sha1()
    for arr in (w.data, w.indices, w.indptr):
        h.update(np.ascontiguousarray(arr).tobytes())
    key = (h.hexdigest(), w.shape, method, seed)
    if key not in _CACHE:
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = Spectrum(w, method, seed)
    return _CACHE[key]


def _symmetrising_scale(w: sp.csr_matrix) -> np.ndarray | None:
    """d with diag(d)·W symmetric, if W is a row-standardised symmetric binary matrix (else None)."""
    d = np.asarray(w.max(axis=1).todense()).ravel()
    d = np.divide(1.0, d, out=np.ones_like(d), where=d > 0)
    c = sp.diags(d) @ w
    return d if abs(c - c.T).max() < 1e-10 * max(c.max(), 1e-300) else None


def _spectral_radius(w: sp.csr_matrix) -> float:
    """Largest |eigenvalue| of a non-negative sparse W (power iteration is enough for Perron roots)."""
    from scipy.sparse.linalg import eigs

    return float(np.abs(eigs(w, k=1, which="LM", return_eigenvectors=False, tol=1e-8)[0]))
