"""Functions of (I − ρW) that the likelihood, information matrix and effects need, exact or approximated.

Exact ('exact' picks by N):
  'eigen' (N ≤ 1,000): eigenvalues of W (log-determinant, traces and totals; Ord 1975), or eigenvalues given
      by the caller (e.g. known analytically for a regular lattice).
  'lu' (N ≤ 20,000): sparse LU for the log-determinant (exact, one factorisation per evaluation) and for solves.
Large N (no factorisation; chosen automatically above 20,000 units):
  'chebyshev': Pace & LeSage (2004, "Chebyshev approximation of log-determinants of spatial weight matrices",
      CSDA 45): f(W) ≈ Σ_j c_j(ρ) T_j(W/r) for a real spectrum in [−r, r] (W symmetric, or similar to a symmetric
      matrix such as a row-standardised symmetric contiguity or distance matrix), with c_j the Chebyshev
      coefficients of f on [−1, 1] (Trefethen 2013, ATAP ch. 3–4).
  'mc': Barry & Pace (1999, "Monte Carlo estimates of the log determinant of large sparse matrices", LAA 289):
      log|I − ρW| = −Σ_j ρ^j tr(W^j)/j; works for any W (complex eigenvalues too).
Both need trace moments tr(B_j(W)) (B_j = W^j or T_j(W/r)); they are exact for j ≤ 4 (sparse products, when
W² is affordable; else j ≤ 2) and Hutchinson (1990) estimates z'B_j(W)z averaged over seeded Rademacher probes
above (LeSage & Pace 2009 §4.4). The same moments, computed once, serve every ρ: the log-determinant, tr(A),
tr(WA), tr((WA)²) of A = (I − ρW)^{-1} (LeSage & Pace 2009 §4.2 for effects; Elhorst 2014 eq. 3.5 for the
information matrix), so the optimiser, the variance, the effects' simulation draws and the LR refits never
factorise anything. 'lu' uses the same moments (power basis) for effects and variances. The order m grows
lazily (20, 30, …; at most 240 powers or 120 Chebyshev terms) until, at the ρ asked for, the truncation of tr(A)
is below 1e-9·N or a tenth of its Monte Carlo standard error (`_ensure`).
Error bounds (`logdet_error`): the probes' standard error (across probes) × z_{0.995}, plus the truncation:
Chebyshev N·Σ_{j>m}|a_j| (ATAP ch. 4, the a_j from a 481-point interpolant); power series
N·|ρr|^{m+1}/((m+1)(1 − |ρr|)) (Barry & Pace 1999 eq. 12), or for a real spectrum the tighter
tr(W^e)·|ρ|^{m+1}/((m+1)(1 − |ρ|)) with e the largest even order ≤ m (tr(W^{2k}) = Σω^{2k} is non-increasing
and bounds |tr(W^j)| for j ≥ 2k).
Products W·(N × p blocks) use W in reverse Cuthill–McKee order (traces and determinants are invariant under a
symmetric permutation; locality makes the products several times faster) and `sparse.matmul` (a row-parallel
numba kernel, both cores). Solves for large N are Neumann series Σ(ρW)^j b.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import reverse_cuthill_mckee
from scipy.sparse.linalg import splu

from analyses.spatial_panel.panel import SpatialPanelError
from analyses.spatial_panel.sparse import matmul

EIGEN_MAX_N = 1000  # W similar to a symmetric matrix: eigvalsh is fast
EIGEN_MAX_N_GENERAL = 400
LU_MAX_N = 20000  # above: no factorisation (Chebyshev or Monte Carlo series)
START_ORDER, STEP = 20, 10  # moments are extended STEP orders at a time while a ρ needs more (`_ensure`)
MAX_ORDER = {"power": 240, "chebyshev": 120}  # Chebyshev coefficients decay like (ρ/(1 + √(1 − ρ²)))^j
TAIL_TOL = 1e-9  # extend until the tail bound of tr(A) = Σ ρ^j tr(W^j) is below TAIL_TOL·N or 1/10 of its
# Monte Carlo standard error (where the probes' error dominates, more orders would not make it more accurate)
CHEB_NODES = 4 * MAX_ORDER["chebyshev"] + 1  # interpolation points for the Chebyshev coefficients
PROBES = 60  # Rademacher probes ('lu' and N ≤ LU_MAX_N); fewer for larger N, see `probes_for`
MIN_PROBES, MAX_PROBES = 16, 240
EXACT_NNZ = 3_000_000  # tr(W³), tr(W⁴) from W² when nnz(W) is at most this
LEVEL = 0.99  # coverage of `logdet_error`
NEUMANN_TOL = 1e-12
METHODS = ("auto", "exact", "eigen", "lu", "chebyshev", "mc")


def probes_for(n: int, method: str) -> int:
    """Probes for the trace moments: 60 for 'lu'; otherwise 60·20,000/N, between 16 and 240 (the relative error
    of a Hutchinson trace falls like 1/√(N·probes), so larger N needs fewer probes for the same accuracy, and
    small N can afford more)."""
    if method == "lu":
        return PROBES
    return int(max(MIN_PROBES, min(MAX_PROBES, math.ceil(PROBES * LU_MAX_N / max(n, 1)))))


class Spectrum:
    """W (sparse, N×N) with log|I − ρW|, tr((I − ρW)^{-1}), tr(W(I − ρW)^{-1}) and related functions of ρ."""

    def __init__(self, w: sp.csr_matrix, method: str = "auto", seed: int = 0,
                 eigenvalues: np.ndarray | None = None) -> None:
        self.w = sp.csr_matrix(w, dtype=float)
        self.n = self.w.shape[0]
        rowsums = np.asarray(self.w.sum(axis=1)).ravel()
        self.row_standardised = bool(np.allclose(rowsums, 1.0))
        self._wt = sp.csr_matrix(self.w.T)  # W' once (symmetry checks, exact traces, the RCM ordering)
        self.symmetric = _is_symmetric(self.w, self._wt)
        scale = _symmetrising_scale(self.w, self._wt)
        self.real_spectrum = self.symmetric or scale is not None
        if eigenvalues is not None and method not in ("auto", "eigen"):
            raise SpatialPanelError(f"eigenvalues were given, so the method is 'eigen', not {method!r}")
        if eigenvalues is not None:
            method = "eigen"
        if method not in METHODS:
            raise SpatialPanelError(f"logdet method {method!r}: use one of {', '.join(METHODS)}")
        if method in ("auto", "exact"):
            if self.n <= (EIGEN_MAX_N if scale is not None else EIGEN_MAX_N_GENERAL):
                method = "eigen"
            elif self.n <= LU_MAX_N or method == "exact":
                method = "lu"
            else:
                method = "chebyshev" if self.real_spectrum else "mc"
        if method == "chebyshev" and not self.real_spectrum:
            raise SpatialPanelError("the Chebyshev log-determinant needs a real spectrum (W symmetric, or a "
                                    "row-standardised symmetric matrix); this W is neither: use logdet='mc' "
                                    "(Barry–Pace series, any W) or 'exact'")
        self.method = method
        self.seed = seed
        self._lu: tuple | None = None
        self._op: _Operator | None = None
        self._sums: np.ndarray | None = None
        if method == "eigen":
            if eigenvalues is not None:
                self.omega = np.asarray(eigenvalues, dtype=complex)
                if self.omega.shape != (self.n,) or not self.row_standardised:
                    raise SpatialPanelError(f"eigenvalues ({self.omega.size}) are accepted for a row-standardised "
                                            f"W, one per unit ({self.n})")
            elif self.row_standardised:
                self.omega = _eigenvalues(self.w, scale)
            else:
                self.omega, vecs = np.linalg.eig(self.w.toarray())
                ones = np.ones(self.n)
                # 1'A1 = Σ a_i b_i / (1 − ρω_i) with a = V'1, b = V^{-1}1 (W diagonalisable)
                self._ab = (vecs.T @ ones) * np.linalg.solve(vecs, ones)
            real = self.omega.real[np.abs(self.omega.imag) < 1e-10]
            self.bounds = (1.0 / real.min(), 1.0 / real.max())
            self.radius = float(np.abs(self.omega).max())
            return
        self.omega = None
        self.radius = 1.0 if self.row_standardised else _spectral_radius(self.w)
        # LeSage & Pace (2009 §4.3): (−1, 1)/ω_max when the smallest eigenvalue is unknown
        self.bounds = (-1.0 / self.radius, 1.0 / self.radius)
        self.basis = "chebyshev" if method == "chebyshev" else "power"
        self.probes = probes_for(self.n, method)
        self.exact_order = 4 if self.w.nnz <= EXACT_NNZ else 2
        self._exact = self._exact_traces()
        z = np.random.default_rng(seed).choice([-1.0, 1.0], size=(self.n, self.probes))
        self._stream = self.op.basis(z, self.basis, MAX_ORDER[self.basis], self.radius, probe=z)
        self.order = -1
        self._samples = np.empty((self.probes, 0))
        self._extend(START_ORDER)

    # -- the operator in bandwidth-reducing order ------------------------------------------------
    @property
    def op(self) -> _Operator:
        if self._op is None:
            self._op = _Operator(self.w, self._wt)
        return self._op

    # -- log-determinant -------------------------------------------------------------------------
    def logdet(self, rho: float) -> float:
        """log|I − ρW|."""
        if self.method == "eigen":
            return float(np.sum(np.log(1.0 - rho * self.omega)).real)
        if self.method in ("mc", "chebyshev"):
            return float(self._trace("log", rho))
        return float(np.sum(np.log(np.abs(self._factor(rho, False).U.diagonal()))))

    def logdet_error(self, rho: float) -> float:
        """Half-width of a 99% interval around `logdet(rho)`: 0 when exact, else z·(standard error across the
        probes) + the truncation bound (module docstring)."""
        if self.method in ("eigen", "lu"):
            return 0.0
        self._ensure(rho)
        c = self._coef("log", np.atleast_1d(float(rho)))[0]
        stochastic = self._samples[:, self.exact_order + 1:] @ c[self.exact_order + 1:]
        se = float(stochastic.std(ddof=1) / np.sqrt(len(stochastic)))
        return float(stats.norm.ppf(0.5 + LEVEL / 2) * se + self._truncation(float(rho)))

    def describe(self, rho: float | None = None) -> str:
        """The method with its settings (and the log-determinant's error bound at ρ), for reports."""
        if self.method in ("eigen", "lu"):
            return f"{self.method} (exact)"
        text = (f"{self.method} (order {self.order}, {self.probes} Rademacher probes, seed {self.seed}, "
                f"exact traces to order {self.exact_order})")
        if rho is not None:
            text += f"; |error| of log|I - rho W| at {rho:.4f} <= {self.logdet_error(rho):.3g} (99%)"
        return text

    # -- traces of A = (I − ρW)^{-1}, vectorised over ρ -----------------------------------------
    def tr_a(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(A)."""
        return self._tr(rho, "a")

    def tr_aw(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(AW) = tr(W̃)."""
        return self._tr(rho, "aw")

    def tr_aw2(self, rho: np.ndarray | float) -> np.ndarray:
        """tr(W̃²) with W̃ = WA."""
        return self._tr(rho, "aw2")

    def total_a(self, rho: np.ndarray | float) -> np.ndarray:
        """1'A1 / N."""
        return self._total(rho, "a")

    def total_aw(self, rho: np.ndarray | float) -> np.ndarray:
        """1'AW1 / N."""
        return self._total(rho, "aw")

    def _tr(self, rho, kind: str) -> np.ndarray:
        rho = np.asarray(rho, dtype=float)
        if self.method == "eigen":
            om = self.omega
            power = {"a": 0, "aw": 1, "aw2": 2}[kind]
            return np.sum(om[None, :] ** power / (1.0 - rho.reshape(-1, 1) * om[None, :]) ** (1 if power < 2 else 2),
                          axis=1).real.reshape(rho.shape)
        return self._trace(kind, rho)

    def _trace(self, kind: str, rho) -> np.ndarray:
        """tr f(W) = Σ_j c_j(ρ) tr B_j(W) for the moments' basis (module docstring)."""
        rho = np.asarray(rho, dtype=float)
        self._ensure(rho)
        return (self._coef(kind, rho.reshape(-1)) @ self._moments).reshape(rho.shape)

    def _total(self, rho, kind: str) -> np.ndarray:
        rho = np.asarray(rho, dtype=float)
        if self.row_standardised:
            return 1.0 / (1.0 - rho)  # W1 = 1, so A1 = 1/(1 − ρ) and AW1 = A1
        if self.method == "eigen":
            om = self.omega
            num = self._ab * om ** (1 if kind == "aw" else 0)
            return (np.sum(num[None, :] / (1.0 - rho.reshape(-1, 1) * om[None, :]), axis=1).real / self.n
                    ).reshape(rho.shape)
        if self._sums is None:
            # 1'B_j(W)1 / N, exact, to the largest order
            ones = np.ones((self.n, 1))
            self._sums = np.array([d[0] / self.n for _, d in self.op.basis(ones, self.basis, MAX_ORDER[self.basis],
                                                                            self.radius, probe=ones)])
        self._ensure(rho)
        return (self._coef(kind, rho.reshape(-1)) @ self._sums[: self.order + 1]).reshape(rho.shape)

    # -- moments ---------------------------------------------------------------------------------
    def _coef(self, kind: str, rho: np.ndarray, order: int | None = None) -> np.ndarray:
        """c_j(ρ), j = 0..order, with f(W) ≈ Σ_j c_j B_j(W): (len(ρ), order + 1).

        Power basis (B_j = W^j): log(1 − ρω) = −Σ ρ^jω^j/j; 1/(1 − ρω) = Σ ρ^jω^j; ω/(1 − ρω) = Σ ρ^{j−1}ω^j;
        ω²/(1 − ρω)² = Σ (j − 1)ρ^{j−2}ω^j. Chebyshev basis (B_j = T_j(W/r)): the Chebyshev coefficients of
        f(r·x) on [−1, 1], from the interpolant at K = CHEB_NODES points x_k = cos(π(k + ½)/K):
        c_j = 2/K·Σ_k f(r·x_k)T_j(x_k), c_0 halved (ATAP ch. 3; K ≫ order, so c_j are the series' coefficients).
        """
        m = self.order if order is None else order
        rho = np.asarray(rho, dtype=float).reshape(-1, 1)
        j = np.arange(m + 1)
        if self.basis == "power":
            with np.errstate(divide="ignore", invalid="ignore"):
                if kind == "log":
                    c = -(rho ** j) / np.where(j > 0, j, 1) * (j > 0)
                elif kind == "a":
                    c = rho ** j
                elif kind == "aw":
                    c = np.where(j >= 1, rho ** np.maximum(j - 1, 0), 0.0)
                else:
                    c = np.where(j >= 2, (j - 1) * rho ** np.maximum(j - 2, 0), 0.0)
            return c
        theta = np.pi * (np.arange(CHEB_NODES) + 0.5) / CHEB_NODES
        om = self.radius * np.cos(theta)[None, :]  # eigenvalue at each node
        d = 1.0 - rho * om
        f = {"log": np.log(d), "a": 1.0 / d, "aw": om / d, "aw2": om**2 / d**2}[kind]
        c = (2.0 / CHEB_NODES) * f @ np.cos(np.outer(theta, j))
        c[:, 0] /= 2
        return c

    def _tail(self, kind: str, rho: float, m: int) -> float:
        """Bound on |tr f(W) − its order-m series| for f = log(1 − ρω) ('log') or 1/(1 − ρω) ('a')."""
        if self.basis == "chebyshev":
            a = self._coef(kind, np.array([rho]), order=CHEB_NODES - 1)[0]
            return float(self.n * np.sum(np.abs(a[m + 1:])))  # |f − Σ_{j≤m} a_jT_j| ≤ Σ_{j>m}|a_j| on [−1, 1]
        q = abs(rho) * self.radius
        if q >= 1:
            return np.inf
        tail = q ** (m + 1) / ((1 - q) * ((m + 1) if kind == "log" else 1))
        if self.real_spectrum and m >= 2:
            e = m - m % 2
            top = self._moments[e] + stats.norm.ppf(0.5 + LEVEL / 2) * self._samples[:, e].std(ddof=1) / np.sqrt(
                self.probes)
            return float(min(self.n, max(top, 0.0) / self.radius**e) * tail)
        return float(self.n * tail)

    def _truncation(self, rho: float) -> float:
        """Bound on |log|I − ρW| − its order-m series| (module docstring)."""
        return self._tail("log", rho, self.order)

    def _ensure(self, rho) -> None:
        """Extend the moments until the tail of tr(A) at the largest |ρ| asked for is below TAIL_TOL·N or a
        tenth of tr(A)'s standard error across the probes (at the smallest and largest ρ asked for)."""
        rho = np.atleast_1d(np.asarray(rho, dtype=float))
        if not rho.size:
            return
        for r in {float(rho.min()), float(rho.max())}:
            while self.order < MAX_ORDER[self.basis] and abs(r) * self.radius < 1:
                c = self._coef("a", np.array([r]))[0][self.exact_order + 1:]
                se = float((self._samples[:, self.exact_order + 1:] @ c).std(ddof=1)) / np.sqrt(self.probes)
                if self._tail("a", r, self.order) <= max(TAIL_TOL * self.n, 0.1 * se):
                    break
                self._extend(min(self.order + STEP, MAX_ORDER[self.basis]))

    def _extend(self, order: int) -> None:
        """z_i'B_j(W)z_i for j up to `order` (probes × (order + 1)), the exact traces (j ≤ exact_order) in
        every row, and their means, the moments."""
        new = [dots for _, (_, dots) in zip(range(order - self.order), self._stream, strict=False)]
        self._samples = np.column_stack([self._samples, *new]) if new else self._samples
        self.order = self._samples.shape[1] - 1
        k = min(self.exact_order, self.order) + 1
        self._samples[:, :k] = self._exact[:k]
        self._moments = self._samples.mean(axis=0)

    def _exact_traces(self) -> np.ndarray:
        """tr B_j(W) for j ≤ exact_order from tr(W^j) by sparse products (T_0..T_4 expanded in powers)."""
        w = self.w
        mu = [float(self.n), float(w.diagonal().sum()), float(w.multiply(self._wt).sum())]
        if self.exact_order >= 4:
            w2 = (w @ w).tocsr()
            mu += [float(w2.multiply(self._wt).sum()), float(w2.multiply(sp.csr_matrix(w2.T)).sum())]
        mu = np.array(mu)
        if self.basis == "power":
            return mu
        r = self.radius
        p = mu / r ** np.arange(len(mu))  # tr((W/r)^j)
        cheb = [p[0], p[1], 2 * p[2] - p[0]]
        if len(p) > 3:
            cheb += [4 * p[3] - 3 * p[1], 8 * p[4] - 8 * p[2] + p[0]]
        return np.array(cheb)

    # -- solves and the information matrix -------------------------------------------------------
    def _factor(self, rho: float, transpose: bool):
        """Sparse LU of I − ρW (or its transpose), reused while ρ is unchanged."""
        key = (float(rho), transpose)
        if self._lu is None or self._lu[0] != key:
            m = sp.identity(self.n) - rho * self.w
            self._lu = (key, splu(sp.csc_matrix(m.T if transpose else m), permc_spec="COLAMD"))
        return self._lu[1]

    def resolvent_solve(self, rho: float, b: np.ndarray, transpose: bool = False) -> np.ndarray:
        """A b (or A' b): solves (I − ρW) x = b for a vector or N×m matrix b (sparse LU for the exact methods,
        the Neumann series Σ(ρW)^j b otherwise)."""
        b = np.asarray(b, dtype=float)
        if self.method in ("eigen", "lu"):
            return self._factor(rho, transpose).solve(b)
        return self.op.neumann(rho, b, transpose)

    def tr_wtw(self, rho: float, seed: int = 1) -> float:
        """tr(W̃'W̃), W̃ = WA: = tr(W̃²) when W is symmetric; exact for the eigen method; otherwise Hutchinson
        with the solves of `resolvent_solve`."""
        if self.symmetric:
            return float(self.tr_aw2(rho))
        if self.method == "eigen":
            wt = self.w @ self.resolvent_solve(rho, np.eye(self.n))  # exact: sparse LU, N right-hand sides
            return float(np.sum(wt * wt))
        rng = np.random.default_rng(seed)
        z = rng.choice([-1.0, 1.0], size=(self.n, self.probes))
        x = self.w @ self.resolvent_solve(rho, z)
        return float(np.mean(np.sum(x * x, axis=0)))


class _Operator:
    """W in reverse Cuthill–McKee order, for products with N × p blocks and Neumann-series solves."""

    def __init__(self, w: sp.csr_matrix, wt: sp.csr_matrix | None = None) -> None:
        self.n = w.shape[0]
        wt = sp.csr_matrix(w.T) if wt is None else wt
        self.perm = reverse_cuthill_mckee(sp.csr_matrix(w + wt), symmetric_mode=True).astype(np.int64)
        self.inv = np.empty_like(self.perm)
        self.inv[self.perm] = np.arange(self.n)
        self.wp = _sorted(w[self.perm][:, self.perm])
        self._wpt: sp.csr_matrix | None = None
        a = abs(w)
        self.norm = {False: float(a.sum(axis=1).max()), True: float(a.sum(axis=0).max())}  # ‖W‖∞, ‖W'‖∞

    def matmul(self, x: np.ndarray, alpha: float = 1.0, y: np.ndarray | None = None, beta: float = 0.0,
               transpose: bool = False, probe: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(alpha·W_p x + beta·y, the column dot products with `probe` if given), permuted coordinates."""
        m = self.wp
        if transpose:
            if self._wpt is None:
                self._wpt = _sorted(self.wp.T)
            m = self._wpt
        return matmul(m, x, alpha, y, beta, probe)

    def basis(self, x: np.ndarray, kind: str, order: int, radius: float = 1.0, probe: np.ndarray | None = None):
        """(B_j(W)x, probe'B_j(W)x per column) for j = 0..order (W^j, or T_j(W/r) by the recurrence
        T_{j+1} = 2(W/r)T_j − T_{j−1}); x in any order."""
        prev, cur = None, x
        yield cur, None if probe is None else np.einsum("ij,ij->j", probe, cur)
        for _ in range(order):
            if kind == "power":
                nxt, dots = self.matmul(cur, 1.0, probe=probe)
            elif prev is None:
                nxt, dots = self.matmul(cur, 1.0 / radius, probe=probe)
            else:
                nxt, dots = self.matmul(cur, 2.0 / radius, prev, -1.0, probe=probe)
            prev, cur = cur, nxt
            yield cur, dots

    def neumann(self, rho: float, b: np.ndarray, transpose: bool = False, max_iter: int = 100_000) -> np.ndarray:
        """(I − ρW)^{-1} b (or (I − ρW')^{-1} b) = Σ_j (ρW)^j b, to 1e-12·‖b‖∞/(1 − |ρ|‖W‖∞): with
        q = |ρ|·‖W‖∞ < 1 the tail after k terms is at most q^{k+1}‖b‖∞/(1 − q), so k is known in advance;
        otherwise terms are added until one is below that tolerance."""
        vec = b.ndim == 1
        bp = np.ascontiguousarray((b[:, None] if vec else b)[self.perm])
        total, term = bp.copy(), bp
        q = abs(rho) * self.norm[transpose]
        known = int(np.ceil(np.log(NEUMANN_TOL * (1 - q)) / np.log(q))) if 0 < q < 1 else None
        tol = NEUMANN_TOL * max(float(np.abs(bp).max()), 1e-300)
        for k in range(known if known is not None else max_iter):
            term = self.matmul(term, rho, transpose=transpose)[0]
            total += term
            if known is None and k % 5 == 4 and float(np.abs(term).max()) <= tol:
                break
        else:
            if known is None:
                raise SpatialPanelError(f"the Neumann series for (I - {rho:.4f}W)^-1 did not converge")
        out = total[self.inv]
        return out[:, 0] if vec else out


def _sorted(m) -> sp.csr_matrix:
    m = sp.csr_matrix(m)
    m.sort_indices()
    return m


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


def _eigenvalues(w: sp.csr_matrix, scale: np.ndarray | None) -> np.ndarray:
    """The eigenvalues of a row-standardised W (dense)."""
    dense = w.toarray()
    if scale is not None:
        # W = D^{-1}C with C symmetric: D^{1/2} W D^{-1/2} is symmetric with W's eigenvalues (Ord 1975)
        root = np.sqrt(scale)
        return np.linalg.eigvalsh(root[:, None] * dense / root[None, :]).astype(complex)
    return np.linalg.eigvals(dense)


def _is_symmetric(w: sp.csr_matrix, wt: sp.csr_matrix) -> bool:
    diff = w - wt
    return diff.nnz == 0 or abs(diff).max() <= 1e-12 * max(abs(w).max(), 1e-300)


def _symmetrising_scale(w: sp.csr_matrix, wt: sp.csr_matrix) -> np.ndarray | None:
    """d with diag(d)·W symmetric, if W is a row-standardised symmetric binary matrix (else None)."""
    d = np.asarray(w.max(axis=1).todense()).ravel()
    d = np.divide(1.0, d, out=np.ones_like(d), where=d > 0)
    c = sp.diags(d) @ w
    return d if abs(c - wt @ sp.diags(d)).max() < 1e-10 * max(c.max(), 1e-300) else None


def _spectral_radius(w: sp.csr_matrix) -> float:
    """Largest |eigenvalue| of a non-negative sparse W (power iteration is enough for Perron roots)."""
    from scipy.sparse.linalg import eigs

    return float(np.abs(eigs(w, k=1, which="LM", return_eigenvectors=False, tol=1e-8)[0]))
