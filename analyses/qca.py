"""Fuzzy-set QCA (fsQCA): calibration, necessity, truth table, Boolean minimisation and the configuration chart.

    fit = fsqca(frame, outcome="SURV", conditions=["DEV", "URB", "LIT", "IND", "STB"], unit="case",
                anchors={"DEV": (400, 550, 900), "STB": (15, 9.5, 5)}, incl_cut=0.8, dir_exp="present")
    fit.necessity            # consistency, coverage and RoN of each condition and its negation
    fit.truth_table          # one row per configuration: n, incl, PRI, OUT, cases
    fit.complex, fit.parsimonious, fit.intermediate   # Solution: terms with inclS, PRI, covS, covU
    fit.chart("markdown")    # the configuration chart papers print (● • ⊗ ⓧ, blank)

Methods and sources:
- direct calibration: Ragin (2008, *Redesigning Social Inquiry*, ch. 5): deviations from the crossover are
  scaled to log odds of ±3 at the full-in / full-out anchors, each side with its own scale (fsQCA 3.0 uses 3;
  R's QCA::calibrate uses log(0.95/0.05) = 2.944, `log_odds=` chooses). Anchors are values or percentiles
  ("p95"). Memberships of exactly 0.5 become 0.501 (Fiss 2011), since such a case belongs to no truth-table row.
- necessity: consistency Σmin(X,Y)/ΣY and coverage Σmin(X,Y)/ΣX (Ragin 2006); relevance of necessity
  RoN = Σ(1−X)/Σ(1−min(X,Y)) (Schneider & Wagemann 2012, §9.2).
- truth table: a case belongs to the row where its membership exceeds 0.5; row consistency Σmin(m,Y)/Σm and
  PRI = (Σmin(m,Y) − Σmin(m,Y,¬Y)) / (Σm − Σmin(m,Y,¬Y)) over all cases; rows with fewer than `n_cut` cases
  are logical remainders.
- minimisation: Quine–McCluskey prime implicants and the prime-implicant chart, every minimal cover kept
  (Dusa 2019, *QCA with R*, ch. 8). Complex: positive rows only; parsimonious: with all remainders;
  intermediate: positive rows plus the easy counterfactuals — the simplifying assumptions of the parsimonious
  solution that lie in a complex term with the literals contrary to the directional expectations removed
  (Ragin & Sonnett 2005; the rule of R's QCA, C_getEC). tests/unit/test_qca.py checks solutions, fit,
  simplifying assumptions and easy counterfactuals against R QCA's printed output (Lipset, Emmenegger, CVF).
- core conditions are those of the parsimonious term that contains an intermediate term, the others are
  peripheral (Fiss 2011).

Why not pyqca (PyPI `pyqca` 0.2.0, checked): its logistic calibration fits one slope through full-out and
full-in and centres it at the crossover, which is not Ragin's direct method when the anchors are asymmetric
(Lipset's DEV anchors 400/550/900 give Austria 0.88 and Estonia 0.28 where Ragin prints 0.81 and 0.16), it has no
relevance of necessity, and it does not mark core and peripheral conditions or print the papers' chart.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RAGIN_LOG_ODDS = 3.0  # fsQCA 3.0 and Ragin (2008): full membership ≈ 0.953
R_LOG_ODDS = float(np.log(0.95 / 0.05))  # R's QCA::calibrate: full membership = 0.95
CROSSOVER_FIX = 0.501
MARKS = {"core_present": "●", "peripheral_present": "•", "core_absent": "⊗", "peripheral_absent": "ⓧ"}


class QCAError(ValueError):
    """Input a QCA cannot use (anchors out of order, memberships outside [0, 1], unknown columns …)."""


# ---------------------------------------------------------------------------------------------- calibration
def anchor_value(values: np.ndarray, anchor: float | str) -> float:
    """An anchor as a number: a value, or a percentile of `values` written "p95" or "95%"."""
    if isinstance(anchor, str):
        text = anchor.strip().lower()
        if text.startswith("p") or text.endswith("%"):
            q = float(text.strip("p%"))
            finite = values[np.isfinite(values)]
            if not 0 <= q <= 100 or finite.size == 0:
                raise QCAError(f"anchor {anchor!r}: a percentile between p0 and p100 of a non-empty column")
            return float(np.percentile(finite, q))
        return float(text)
    return float(anchor)


def calibrate(x: Sequence[float] | np.ndarray | pd.Series, full_out: float | str, crossover: float | str,
              full_in: float | str, *, log_odds: float = RAGIN_LOG_ODDS,
              crossover_fix: float | None = CROSSOVER_FIX) -> np.ndarray:
    """Ragin's direct method: fuzzy memberships of `x` from three anchors (values or percentiles "p95").

    Log odds = log_odds·(x − c)/(i − c) on the full-in side of the crossover c and log_odds·(x − c)/(c − e)
    on the full-out side; membership = 1/(1 + exp(−log odds)). With full_in < full_out the set is
    decreasing (more cabinets, less stability). Example: calibrate([720, 468], 400, 550, 900) → [0.81, 0.16].
    """
    values = np.asarray(x, dtype=float)
    e, c, i = (anchor_value(values, a) for a in (full_out, crossover, full_in))
    if not (e < c < i or e > c > i):
        raise QCAError(f"anchors full-out {e:g}, crossover {c:g}, full-in {i:g}: the crossover must lie strictly "
                       "between the other two")
    dev = values - c
    inside = dev * (i - c) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(inside, log_odds * dev / (i - c), log_odds * dev / (c - e))
    out = 1.0 / (1.0 + np.exp(-lo))
    out[~np.isfinite(values)] = np.nan
    if crossover_fix is not None:
        out[np.isclose(out, 0.5, rtol=0, atol=1e-12)] = crossover_fix
    return out


def _as_anchors(spec) -> tuple:
    parts = [p for p in spec.replace(";", ",").split(",") if p.strip()] if isinstance(spec, str) else list(spec)
    if len(parts) != 3:
        raise QCAError(f"anchors {spec!r}: give three, full-out, crossover and full-in (e.g. 'p5,p50,p95')")
    return tuple(parts)


def calibrate_frame(frame: pd.DataFrame, anchors: Mapping[str, object] | Sequence | str, columns: Sequence[str],
                    *, log_odds: float = RAGIN_LOG_ODDS, crossover_fix: float | None = CROSSOVER_FIX) -> pd.DataFrame:
    """Calibrate `columns` of `frame`: `anchors` per column ({col: (e, c, i)}), or one triple for every column.

    Columns without anchors must already be memberships in [0, 1]; they are kept as they are.
    """
    out = pd.DataFrame(index=frame.index)
    per_column = isinstance(anchors, Mapping)
    for col in columns:
        if col not in frame.columns:
            raise QCAError(f"no column {col!r} (columns: {', '.join(map(str, frame.columns))})")
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        spec = anchors.get(col) if per_column else anchors
        if spec is None:
            finite = values[np.isfinite(values)]
            if finite.size and (finite.min() < 0 or finite.max() > 1):
                raise QCAError(f"column {col!r} has values outside [0, 1] ({finite.min():g} … {finite.max():g}) and "
                               "no anchors: give its full-out, crossover and full-in anchors")
            out[col] = values
        else:
            e, c, i = _as_anchors(spec)
            out[col] = calibrate(values, e, c, i, log_odds=log_odds, crossover_fix=crossover_fix)
    return out


# ---------------------------------------------------------------------------------------------- necessity
def necessity(memberships: pd.DataFrame, outcome: str, conditions: Sequence[str] | None = None) -> pd.DataFrame:
    """Consistency, coverage and relevance (RoN) of each condition and its negation (~X) as necessary for Y."""
    y = memberships[outcome].to_numpy(float)
    rows = []
    for col in conditions or [c for c in memberships.columns if c != outcome]:
        x = memberships[col].to_numpy(float)
        for name, m in ((col, x), (f"~{col}", 1 - x)):
            both = np.minimum(m, y)
            rows.append({"condition": name, "consistency": both.sum() / y.sum(), "coverage": both.sum() / m.sum(),
                         "RoN": (1 - m).sum() / (1 - both).sum()})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- fit of a set
def _fit(m: np.ndarray, y: np.ndarray) -> dict[str, float]:
    both = np.minimum(m, y)
    both_neg = np.minimum(both, 1 - y)
    denom = m.sum() - both_neg.sum()
    return {"inclS": both.sum() / m.sum() if m.sum() else float("nan"),
            "PRI": (both.sum() - both_neg.sum()) / denom if denom else float("nan"),
            "covS": both.sum() / y.sum() if y.sum() else float("nan")}


# ---------------------------------------------------------------------------------------------- truth table
@dataclass
class TruthTable:
    """Rows of all 2^k configurations: the conditions (0/1), OUT (1, 0, or '?' for a remainder), n, incl,
    PRI and the cases in each; built from memberships of the conditions and the outcome."""

    memberships: pd.DataFrame
    outcome: str
    conditions: list[str]
    incl_cut: float = 0.8
    n_cut: int = 1
    pri_cut: float = 0.0
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        mem = self.memberships
        x = mem[self.conditions].to_numpy(float)
        y = mem[self.outcome].to_numpy(float)
        if np.isnan(x).any() or np.isnan(y).any():
            bad = mem.index[np.isnan(x).any(axis=1) | np.isnan(y)].tolist()
            raise QCAError(f"cases with missing memberships: {', '.join(map(str, bad[:10]))}; drop or impute them")
        if (x < 0).any() or (x > 1).any() or (y < 0).any() or (y > 1).any():
            raise QCAError("memberships must lie in [0, 1]: calibrate the raw values first (anchors)")
        k = len(self.conditions)
        rows = []
        for bits in itertools.product((0, 1), repeat=k):
            b = np.array(bits)
            m = np.where(b == 1, x, 1 - x).min(axis=1)
            cases = [str(c) for c, v in zip(mem.index, m, strict=True) if v > 0.5]
            fit = _fit(m, y)
            n = len(cases)
            if n < self.n_cut:
                out = "?"
            else:
                out = int(fit["inclS"] >= self.incl_cut - 1e-12 and fit["PRI"] >= self.pri_cut - 1e-12)
            rows.append({**dict(zip(self.conditions, bits, strict=True)), "OUT": out, "n": n,
                         "incl": fit["inclS"], "PRI": fit["PRI"], "cases": ",".join(cases)})
        self.table = pd.DataFrame(rows, index=pd.RangeIndex(1, 2 ** k + 1, name="row"))

    def rows(self, out) -> list[tuple[int, ...]]:
        """Configurations (tuples of 0/1) with OUT == out (1, 0 or '?')."""
        sel = self.table[self.table["OUT"].astype(str) == str(out)]
        return [tuple(int(v) for v in r) for r in sel[self.conditions].itertuples(index=False)]

    def observed(self) -> pd.DataFrame:
        """The rows with cases, by consistency (highest first), as papers print the truth table."""
        return self.table[self.table["n"] > 0].sort_values(["incl", "n"], ascending=False)


# ---------------------------------------------------------------------------------------------- Quine–McCluskey
Term = tuple[int, ...]  # per condition: 1 present, 0 absent, -1 not in the term


def _covers(term: Term, row: Sequence[int]) -> bool:
    return all(t == -1 or t == r for t, r in zip(term, row, strict=True))


def prime_implicants(on: Iterable[Term], dc: Iterable[Term] = ()) -> list[Term]:
    """Quine–McCluskey: the prime implicants of the function true on `on`, free on `dc` (0/1 tuples)."""
    current = {tuple(t) for t in on} | {tuple(t) for t in dc}
    primes: set[Term] = set()
    while current:
        merged: set[Term] = set()
        used: set[Term] = set()
        by_mask: dict[tuple, list[Term]] = {}
        for t in current:
            by_mask.setdefault(tuple(v == -1 for v in t), []).append(t)
        for group in by_mask.values():
            keyed = {t: sum(v == 1 for v in t) for t in group}
            for a in group:
                for b in group:
                    if keyed[b] != keyed[a] + 1:
                        continue
                    diff = [j for j, (u, v) in enumerate(zip(a, b, strict=True)) if u != v]
                    if len(diff) == 1:
                        t = list(a)
                        t[diff[0]] = -1
                        merged.add(tuple(t))
                        used.update((a, b))
        primes |= current - used
        current = merged
    on_set = [tuple(t) for t in on]
    # a prime implicant made only of don't-cares explains no positive row: it cannot enter a solution
    return sorted((p for p in primes if any(_covers(p, r) for r in on_set)), key=_term_order)


def _term_order(t: Term) -> tuple:
    return (sum(v != -1 for v in t), tuple(2 if v == -1 else 1 - v for v in t))


def minimal_covers(primes: Sequence[Term], on: Sequence[Term]) -> list[list[Term]]:
    """Every cover of the positive rows `on` by the fewest prime implicants (the prime-implicant chart):
    the essential prime implicants, then the fewest others, found by a branching search on the row with the
    fewest candidates (iterative deepening, rows as bit masks); models ordered by their number of literals."""
    if not on:
        return [[]]
    masks = {p: sum(1 << j for j, r in enumerate(on) if _covers(p, r)) for p in primes}
    full = (1 << len(on)) - 1
    essential = list(dict.fromkeys(
        ps[0] for j in range(len(on)) if len(ps := [p for p in primes if masks[p] >> j & 1]) == 1))
    covered = 0
    for p in essential:
        covered |= masks[p]
    need = full & ~covered
    if not need:
        return [sorted(essential, key=_term_order)]
    rest = [p for p in primes if p not in essential and masks[p] & need]
    if not rest:
        raise QCAError("the prime implicants do not cover the positive rows")  # cannot happen
    widest = max(bin(masks[p] & need).count("1") for p in rest)
    found: set[frozenset] = set()

    def search(left: int, chosen: tuple, depth: int) -> None:
        if not left:
            found.add(frozenset(chosen))
            return
        if depth == 0 or depth * widest < bin(left).count("1"):
            return
        rows = [j for j in range(len(on)) if left >> j & 1]
        j = min(rows, key=lambda r: sum(1 for p in rest if masks[p] >> r & 1))
        for p in rest:
            if masks[p] >> j & 1 and p not in chosen:
                search(left & ~masks[p], (*chosen, p), depth - 1)

    for size in range(1, len(rest) + 1):
        search(need, (), size)
        if found:
            sols = [sorted(essential + list(f), key=_term_order) for f in found]
            return sorted(sols, key=lambda s: (sum(sum(v != -1 for v in t) for t in s), [_term_order(t) for t in s]))
    raise QCAError("the prime implicants do not cover the positive rows")  # cannot happen


def term_label(term: Term, conditions: Sequence[str]) -> str:
    """`DEV*~IND` for (1, -1, -1, 0, -1); the empty term is '1' (always true)."""
    parts = [c if v == 1 else f"~{c}" for c, v in zip(conditions, term, strict=True) if v != -1]
    return "*".join(parts) or "1"


def term_membership(term: Term, memberships: pd.DataFrame, conditions: Sequence[str]) -> np.ndarray:
    """Fuzzy membership of each case in a conjunction: the minimum over its literals (1 − x for ~x)."""
    m = np.ones(len(memberships))
    for c, v in zip(conditions, term, strict=True):
        if v != -1:
            x = memberships[c].to_numpy(float)
            m = np.minimum(m, x if v == 1 else 1 - x)
    return m


# ---------------------------------------------------------------------------------------------- solutions
@dataclass
class Solution:
    """One solution (complex, parsimonious or intermediate): its terms, their fit and the solution's fit.

    `terms` lists every minimal model's terms in `models`; the first model is reported. `fit` has one row per
    term — inclS, PRI, covS (raw coverage), covU (unique coverage) — and `inclS`, `PRI`, `covS` are the
    solution's. `remainders` are the logical remainders it uses (its simplifying assumptions).
    """

    kind: str
    conditions: list[str]
    models: list[list[Term]]
    memberships: pd.DataFrame
    outcome: str
    remainders: list[Term] = field(default_factory=list)
    fit: pd.DataFrame = field(init=False)
    inclS: float = field(init=False)
    PRI: float = field(init=False)
    covS: float = field(init=False)

    def __post_init__(self) -> None:
        y = self.memberships[self.outcome].to_numpy(float)
        ms = [term_membership(t, self.memberships, self.conditions) for t in self.terms]
        rows = []
        for j, (t, m) in enumerate(zip(self.terms, ms, strict=True)):
            others = np.max([ms[q] for q in range(len(ms)) if q != j], axis=0) if len(ms) > 1 else np.zeros(len(y))
            f = _fit(m, y)
            cov_without = np.minimum(others, y).sum() / y.sum()
            sol = np.max(ms, axis=0)
            f["covU"] = np.minimum(sol, y).sum() / y.sum() - cov_without
            rows.append({"term": term_label(t, self.conditions), **f,
                         "cases": ",".join(str(c) for c, v in zip(self.memberships.index, m, strict=True) if v > 0.5)})
        self.fit = pd.DataFrame(rows, columns=["term", "inclS", "PRI", "covS", "covU", "cases"])
        f = _fit(np.max(ms, axis=0), y) if ms else {"inclS": float("nan"), "PRI": float("nan"), "covS": 0.0}
        self.inclS, self.PRI, self.covS = f["inclS"], f["PRI"], f["covS"]

    @property
    def terms(self) -> list[Term]:
        """The terms of the first minimal model."""
        return self.models[0] if self.models else []

    @property
    def expression(self) -> str:
        """`DEV*~IND + URB*STB`, as R's QCA prints a model."""
        return " + ".join(term_label(t, self.conditions) for t in self.terms) or "(none)"

    def __str__(self) -> str:
        return f"{self.kind}: {self.expression} -> {self.outcome}"

    def covered_rows(self) -> set[Term]:
        """Every configuration (0/1 tuple) that the first model's terms cover."""
        k = len(self.conditions)
        return {r for r in itertools.product((0, 1), repeat=k) if any(_covers(t, r) for t in self.terms)}


def minimize(tt: TruthTable, kind: str = "complex", dir_exp: Mapping[str, int] | None = None) -> Solution:
    """Minimise a truth table: kind 'complex' (positive rows only), 'parsimonious' (with every remainder)
    or 'intermediate' (with the easy counterfactuals given directional expectations `dir_exp`,
    {condition: 1 present | 0 absent}; conditions left out have no expectation)."""
    on, rem = tt.rows(1), tt.rows("?")
    conds = tt.conditions
    if kind == "complex":
        return Solution(kind, conds, minimal_covers(prime_implicants(on), on), tt.memberships, tt.outcome)
    pars_models = minimal_covers(prime_implicants(on, rem), on)
    pars = pars_models[0]
    used = [r for r in rem if any(_covers(t, r) for t in pars)]
    if kind == "parsimonious":
        return Solution(kind, conds, pars_models, tt.memberships, tt.outcome, remainders=used)
    if kind != "intermediate":
        raise QCAError(f"kind {kind!r}: complex, parsimonious or intermediate")
    easy = easy_counterfactuals(minimal_covers(prime_implicants(on), on)[0], pars, used, conds, dir_exp or {})
    models = minimal_covers(prime_implicants(on, easy), on)
    return Solution(kind, conds, models, tt.memberships, tt.outcome, remainders=easy)


def easy_counterfactuals(complex_terms: Sequence[Term], pars_terms: Sequence[Term], simplifying: Sequence[Term],
                         conditions: Sequence[str], dir_exp: Mapping[str, int]) -> list[Term]:
    """The simplifying assumptions that are easy counterfactuals (Ragin & Sonnett 2005; R's QCA rule).

    For each complex term C and parsimonious term P that contains it, the literals of C that are not in P and
    run against the expectation of their condition are dropped; a simplifying assumption inside what is left
    of C is an easy counterfactual. Literals of conditions without an expectation are kept.
    """
    expected = [dir_exp.get(c) for c in conditions]
    regions = []
    for c_term in complex_terms:
        for p_term in pars_terms:
            if not all(p == -1 or p == c for p, c in zip(p_term, c_term, strict=True)):
                continue
            regions.append(tuple(
                -1 if (p == -1 and c != -1 and e is not None and e != c) else c
                for c, p, e in zip(c_term, p_term, expected, strict=True)))
    return [r for r in simplifying if any(_covers(g, r) for g in regions)]


# ---------------------------------------------------------------------------------------------- the analysis
@dataclass
class FsQCA:
    """The whole fsQCA of an outcome on conditions: calibrated memberships, necessity, truth table and the
    complex, parsimonious and intermediate solutions; `chart()` prints the configuration chart."""

    memberships: pd.DataFrame
    outcome: str
    conditions: list[str]
    incl_cut: float = 0.8
    n_cut: int = 1
    pri_cut: float = 0.0
    dir_exp: dict[str, int] = field(default_factory=dict)
    necessity_cut: float = 0.9
    source: str = "DataFrame"
    quality: str = "not-checked"
    necessity: pd.DataFrame = field(init=False)
    truth_table: TruthTable = field(init=False)
    complex: Solution = field(init=False)
    parsimonious: Solution = field(init=False)
    intermediate: Solution = field(init=False)

    def __post_init__(self) -> None:
        self.necessity = necessity(self.memberships, self.outcome, self.conditions)
        self.necessity["necessary"] = self.necessity["consistency"] >= self.necessity_cut
        self.truth_table = TruthTable(self.memberships, self.outcome, self.conditions, self.incl_cut, self.n_cut,
                                      self.pri_cut)
        self.complex = minimize(self.truth_table, "complex")
        self.parsimonious = minimize(self.truth_table, "parsimonious")
        self.intermediate = minimize(self.truth_table, "intermediate", self.dir_exp)

    def necessity_table(self) -> pd.DataFrame:
        """Necessity of each condition and its negation for the outcome and for its negation, in the layout of
        paper 003-P6 Table 4 (consistency and coverage for high and for low outcome)."""
        mem = self.memberships.assign(_neg=1 - self.memberships[self.outcome])
        neg = necessity(mem, "_neg", self.conditions).set_index("condition")
        pos = self.necessity.set_index("condition")
        return pd.DataFrame({"consistency": pos["consistency"], "coverage": pos["coverage"], "RoN": pos["RoN"],
                             "consistency_negated_outcome": neg["consistency"],
                             "coverage_negated_outcome": neg["coverage"]}).reset_index()

    def core(self, term: Term) -> Term:
        """The core literals of an intermediate term: those of the parsimonious term that contains it."""
        for p in self.parsimonious.terms:
            if all(q == -1 or q == t for q, t in zip(p, term, strict=True)):
                return p
        return tuple(-1 for _ in term)

    def configurations(self) -> pd.DataFrame:
        """The chart as data: one column per intermediate term (configuration), one row per condition with
        'core_present', 'peripheral_present', 'core_absent', 'peripheral_absent' or '' (does not matter),
        then consistency, PRI, raw and unique coverage, and the solution's consistency and coverage.
        Configurations that share their core conditions are numbered 1a, 1b … (Fiss 2011)."""
        sol = self.intermediate
        cores = [self.core(t) for t in sol.terms]
        groups = list(dict.fromkeys(cores))
        names = []
        for core in cores:
            g = groups.index(core) + 1
            members = [j for j, c in enumerate(cores) if c == core]
            letter = "abcdefghijklmnopqrstuvwxyz"[len([n for n in names if n.startswith(f"S{g}")])]
            names.append(f"S{g}{letter}" if len(members) > 1 else f"S{g}")
        cols = {}
        for j, t in enumerate(sol.terms):
            core = cores[j]
            marks = []
            for v, cv in zip(t, core, strict=True):
                if v == -1:
                    marks.append("")
                else:
                    marks.append(("core_" if cv != -1 else "peripheral_") + ("present" if v == 1 else "absent"))
            f = sol.fit.iloc[j]
            cols[names[j]] = marks + [f["inclS"], f["PRI"], f["covS"], f["covU"]]
        index = [*self.conditions, "consistency", "PRI", "raw coverage", "unique coverage"]
        order = sorted(cols, key=lambda n: (int(n[1:].rstrip("abcdefghijklmnopqrstuvwxyz")), n))
        frame = pd.DataFrame(cols, index=index)[order]
        frame.attrs.update(solution_consistency=sol.inclS, solution_coverage=sol.covS, solution_PRI=sol.PRI)
        return frame

    def chart(self, fmt: str = "markdown", labels: Mapping[str, str] | None = None, digits: int = 3) -> str:
        """The configuration chart as papers print it (Fiss 2011): ● core present, • peripheral present,
        ⊗ core absent, ⓧ peripheral absent, blank: does not matter. fmt: markdown | latex | html."""
        conf = self.configurations()
        if conf.shape[1] == 0:
            note = (f"no configuration is sufficient for {self.outcome} at consistency {self.incl_cut} "
                    f"and {self.n_cut} case(s)")
            return {"latex": f"% {note}\n", "html": f"<p>{html.escape(note)}</p>\n"}.get(fmt, note + "\n")
        labels = dict(labels or {})
        heads = list(conf.columns)
        n_cond = len(self.conditions)

        def num(v) -> str:
            return f"{v:.{digits}f}"

        body = []
        for name in conf.index[:n_cond]:
            body.append((labels.get(name, name), [conf.loc[name, h] for h in heads], True))
        for name in conf.index[n_cond:]:
            body.append((name, [num(conf.loc[name, h]) for h in heads], False))
        foot = [("solution consistency", num(conf.attrs["solution_consistency"])),
                ("solution coverage", num(conf.attrs["solution_coverage"]))]
        legend = ("● core condition present, • peripheral present, ⊗ core absent, ⓧ peripheral absent; "
                  "blank: either present or absent")
        if fmt == "markdown":
            lines = ["| condition | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
            for name, cells, is_mark in body:
                cells = [MARKS.get(c, "") for c in cells] if is_mark else cells
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
            for name, value in foot:
                lines.append(f"| {name} | {value} |" + " |" * (len(heads) - 1))
            return "\n".join(lines) + f"\n\n{legend}\n"
        if fmt == "latex":
            tex = {"core_present": r"\CIRCLE", "peripheral_present": r"{\footnotesize\CIRCLE}",
                   "core_absent": r"$\otimes$", "peripheral_absent": r"{\footnotesize$\otimes$}"}
            lines = [r"% needs \usepackage{wasysym} for \CIRCLE", r"\begin{tabular}{l" + "c" * len(heads) + "}",
                     r"\toprule", "Condition & " + " & ".join(heads) + r" \\", r"\midrule"]
            for name, cells, is_mark in body:
                cells = [tex.get(c, "") for c in cells] if is_mark else cells
                lines.append(f"{_tex(name)} & " + " & ".join(cells) + r" \\")
            lines.append(r"\midrule")
            for name, value in foot:
                lines.append(f"{name.capitalize()} & \\multicolumn{{{len(heads)}}}{{c}}{{{value}}} \\\\")
            lines += [r"\bottomrule", r"\end{tabular}"]
            return "\n".join(lines) + "\n"
        if fmt == "html":
            small = '<span style="font-size:70%">{}</span>'
            htm = {"core_present": "●", "peripheral_present": small.format("●"), "core_absent": "⊗",
                   "peripheral_absent": small.format("⊗")}
            rows = ["<table>", "<tr><th>condition</th>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"]
            for name, cells, is_mark in body:
                cells = [htm.get(c, "") for c in cells] if is_mark else cells
                rows.append(f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            for name, value in foot:
                rows.append(f'<tr><td>{name}</td><td colspan="{len(heads)}">{value}</td></tr>')
            rows.append("</table>")
            return "\n".join(rows) + f"\n<p>{legend}</p>\n"
        raise QCAError(f"chart format {fmt!r}: markdown, latex or html")

    def as_dict(self) -> dict:
        """Everything as plain JSON-ready data."""
        def sol(s: Solution) -> dict:
            return {"expression": s.expression, "inclS": s.inclS, "PRI": s.PRI, "covS": s.covS,
                    "terms": s.fit.to_dict("records"),
                    "n_models": len(s.models),
                    "models": [" + ".join(term_label(t, s.conditions) for t in m) for m in s.models[:20]],
                    "remainders": [term_label(r, s.conditions) for r in s.remainders]}
        tt = self.truth_table.table.copy()
        tt["OUT"] = tt["OUT"].astype(str)
        return {"source": self.source, "outcome": self.outcome, "conditions": self.conditions,
                "incl_cut": self.incl_cut, "n_cut": self.n_cut, "pri_cut": self.pri_cut, "dir_exp": self.dir_exp,
                "memberships": self.memberships.reset_index().to_dict("records"),
                "necessity": self.necessity_table().to_dict("records"),
                "truth_table": tt[tt["n"] > 0].reset_index().to_dict("records"),
                "complex": sol(self.complex), "parsimonious": sol(self.parsimonious),
                "intermediate": sol(self.intermediate),
                "configurations": self.configurations().reset_index().to_dict("records")}


def _tex(text: str) -> str:
    return text.replace("~", r"\textasciitilde{}").replace("_", r"\_").replace("&", r"\&")


def _quality_gate(con, panel, allow_failing_checks: bool) -> str:
    """The quality-gate status of the warehouse tables the data were read from (`geopanel check` must have
    passed on their current contents unless allow_failing_checks); files and frames are 'not-checked'."""
    from warehouse.quality.gate import gate_status

    return gate_status(con, panel.tables if panel.from_warehouse else [], allow_failing_checks).status


def parse_dir_exp(spec: Mapping[str, object] | str | None, conditions: Sequence[str]) -> dict[str, int]:
    """Directional expectations: 'present' (every condition), a mapping {cond: 1 | 0 | 'present' | 'absent'},
    or text 'DEV,URB,~IND' (present, absent by '~'). Conditions not named have no expectation."""
    if spec is None:
        return {}
    if isinstance(spec, str):
        if spec.strip().lower() in ("present", "all", "1"):
            return dict.fromkeys(conditions, 1)
        if spec.strip().lower() in ("absent", "0"):
            return dict.fromkeys(conditions, 0)
        out = {}
        for item in filter(None, (p.strip() for p in spec.split(","))):
            name = item.lstrip("~")
            out[name] = 0 if item.startswith("~") else 1
        spec = out
    result = {}
    for name, v in spec.items():
        if name not in conditions:
            raise QCAError(f"directional expectation for {name!r}, which is not a condition ({', '.join(conditions)})")
        value = {"present": 1, "absent": 0}.get(v, v) if isinstance(v, str) else v
        if value not in (0, 1):
            raise QCAError(f"directional expectation {name}={v!r}: present (1) or absent (0)")
        result[name] = int(value)
    return result


def fsqca(data, outcome: str, conditions: Sequence[str], *, unit: str | None = None,
          anchors: Mapping[str, object] | Sequence | str | None = None, outcome_anchors=None,
          incl_cut: float = 0.8, n_cut: int = 1, pri_cut: float = 0.0,
          dir_exp: Mapping[str, object] | str | None = None, necessity_cut: float = 0.9,
          period=None, log_odds: float = RAGIN_LOG_ODDS, crossover_fix: float | None = CROSSOVER_FIX,
          con=None, time: str | None = None, allow_failing_checks: bool = False,
          negate_outcome: bool = False) -> FsQCA:
    """fsQCA of `outcome` on `conditions` for the cases of `data` (DataFrame, table/view, SQL query or file,
    read through `warehouse.panel_data.read_panel`; one row per unit, or a panel cut to `period`, a year or
    'mean' for each unit's mean over the years).

    anchors: {column: (full_out, crossover, full_in)} or one triple for every column (values or
    percentiles 'p95'); `outcome_anchors` overrides the outcome's. Columns without
    anchors must be memberships already. Warehouse tables must have passed `geopanel check` (the quality
    gate) unless allow_failing_checks. negate_outcome: analyse the absence of the outcome (~Y = 1 − Y).
    """
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    conditions = list(conditions)
    if outcome in conditions:
        raise QCAError(f"{outcome!r} is both the outcome and a condition")
    try:
        panel = read_panel(data, con=con, unit=unit, time=time, columns=[*conditions, outcome], require_unit=False)
    except DataError as exc:
        raise QCAError(str(exc)) from exc
    quality = _quality_gate(con, panel, allow_failing_checks)
    frame = panel.frame
    if panel.time and frame[panel.time].nunique() > 1:
        if period is None:
            raise QCAError(f"{panel.source} has {frame[panel.time].nunique()} periods ({panel.time}): choose one "
                           "(period=2022, --year 2022) or each unit's mean (period='mean', --year mean)")
        if str(period) == "mean":
            frame = frame.groupby(panel.unit)[[*conditions, outcome]].mean(numeric_only=True)
        else:
            frame = frame[frame[panel.time] == int(period)]
            if frame.empty:
                raise QCAError(f"{panel.source} has no rows in {period}")
    if panel.unit and panel.unit in frame.columns:
        if frame[panel.unit].duplicated().any():
            dup = frame.loc[frame[panel.unit].duplicated(), panel.unit].iloc[0]
            raise QCAError(f"{panel.source}: unit {dup} appears more than once; give one row per case")
        frame = frame.set_index(panel.unit)
    per_col: dict | Sequence | str
    if anchors is None or isinstance(anchors, Mapping):
        per_col = dict(anchors or {})
        if outcome_anchors is not None:
            per_col[outcome] = outcome_anchors
    else:
        per_col = dict.fromkeys([*conditions, outcome], anchors)
        if outcome_anchors is not None:
            per_col[outcome] = outcome_anchors
    unknown = [c for c in per_col if c not in (*conditions, outcome)]
    if unknown:
        raise QCAError(f"anchors for {unknown[0]!r}, which is neither the outcome nor a condition")
    mem = calibrate_frame(frame, per_col, [*conditions, outcome], log_odds=log_odds, crossover_fix=crossover_fix)
    mem.index = [str(i) for i in mem.index]
    missing = mem.index[mem.isna().any(axis=1)].tolist()
    if missing:
        raise QCAError(f"{panel.source}: cases {', '.join(missing[:10])} have missing values; drop or impute them")
    if negate_outcome:
        mem[outcome] = 1 - mem[outcome]
        mem = mem.rename(columns={outcome: f"~{outcome}"})
        outcome = f"~{outcome}"
    return FsQCA(mem, outcome, conditions, incl_cut=incl_cut, n_cut=n_cut, pri_cut=pri_cut,
                 dir_exp=parse_dir_exp(dir_exp, conditions), necessity_cut=necessity_cut, source=panel.source,
                 quality=quality)


# ---------------------------------------------------------------------------------------------- warehouse
QCA_RESULTS_DDL = """run_id varchar, part varchar, item varchar, measure varchar, value double, text varchar"""


def result_rows(fit: FsQCA) -> pd.DataFrame:
    """The analysis as long rows (part, item, measure, value, text): memberships, necessity, truth table,
    each solution's terms and fit, and the chart's marks; what `store_qca` writes to analysis.qca_results."""
    rows: list[dict] = []

    def add(part, item, measure, value=None, text=None):
        v = None if value is None or (isinstance(value, float) and not np.isfinite(value)) else float(value)
        rows.append({"part": part, "item": str(item), "measure": measure, "value": v, "text": text})

    for case, r in fit.memberships.iterrows():
        for col, v in r.items():
            add("membership", case, col, v)
    for r in fit.necessity.itertuples():
        for m in ("consistency", "coverage", "RoN"):
            add("necessity", r.condition, m, getattr(r, m))
    for idx, r in fit.truth_table.table.iterrows():
        config = "".join(str(int(r[c])) for c in fit.conditions)
        add("truth_table", idx, "OUT", None, f"{config}:{r['OUT']}")
        for m in ("n", "incl", "PRI"):
            add("truth_table", idx, m, r[m])
        if r["cases"]:
            add("truth_table", idx, "cases", None, r["cases"])
    for s in (fit.complex, fit.parsimonious, fit.intermediate):
        add(s.kind, "solution", "expression", None, s.expression)
        for m in ("inclS", "PRI", "covS"):
            add(s.kind, "solution", m, getattr(s, m))
        for r in s.fit.itertuples():
            for m in ("inclS", "PRI", "covS", "covU"):
                add(s.kind, r.term, m, getattr(r, m))
    conf = fit.configurations()
    for col in conf.columns:
        for cond in fit.conditions:
            add("chart", col, cond, None, conf.loc[cond, col] or "")
    return pd.DataFrame(rows, columns=["part", "item", "measure", "value", "text"])


def store_qca(con, fit: FsQCA, spec: Mapping, started_at) -> str:
    """Write the analysis to the warehouse in one transaction: a row of analysis.model_runs (kind 'fsqca') and
    its long rows in analysis.qca_results; returns the run id."""
    import json
    import uuid
    from datetime import UTC, datetime

    from analyses.runs import DDL, geopanel_version
    from warehouse.db import insert_frame, transaction

    run_id = uuid.uuid4().hex[:16]
    run = pd.DataFrame([{
        "run_id": run_id, "kind": "fsqca", "model": "fsQCA (Quine–McCluskey)", "dependent": fit.outcome,
        "formula": f"{fit.outcome} <- {' + '.join(fit.conditions)}", "data_source": fit.source,
        "nobs": len(fit.memberships), "spec_json": json.dumps(dict(spec), ensure_ascii=False, default=str),
        "quality_status": fit.quality, "started_at": started_at, "finished_at": datetime.now(UTC),
        "geopanel_version": geopanel_version()}])
    rows = result_rows(fit)
    rows.insert(0, "run_id", run_id)
    with transaction(con):
        con.execute(f"create table if not exists analysis.model_runs ({DDL['model_runs']})")
        con.execute(f"create table if not exists analysis.qca_results ({QCA_RESULTS_DDL})")
        insert_frame(con, "analysis.model_runs", run)
        insert_frame(con, "analysis.qca_results", rows)
    return run_id
