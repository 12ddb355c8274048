"""Formula pre-processing for `reg`: Stata-style lags and leads on the panel index, and winsorising.

`L.x`, `L2.x`, `F.x`, `F2.x` in a formula become columns `L_x`, `L2_x`, `F_x`, `F2_x` holding x of the same unit
`k` periods earlier / later — looked up by (unit, time ± k), so a gap in the panel gives a missing value, as
Stata's time-series operators do after `xtset`, never the neighbouring row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd


class RegError(ValueError):
    """A regression the data or the formula cannot support; the message says what to change."""


VCE_HELP = "iid | hetero | cluster:COL | twoway:COL1,COL2"
_OPERATOR = re.compile(r"(?<![\w.])([LF])(\d*)\.([A-Za-z_][A-Za-z0-9_]*)")


def operator_columns(formula: str) -> tuple[str, dict[str, tuple[str, int]]]:
    """The formula with `L.x` / `F2.x` replaced by column names, and {column: (variable, shift)} (lag > 0)."""
    made: dict[str, tuple[str, int]] = {}

    def name(match: re.Match) -> str:
        op, k, var = match.group(1), int(match.group(2) or 1), match.group(3)
        column = f"{op}{'' if k == 1 else k}_{var}"
        made[column] = (var, k if op == "L" else -k)
        return column

    return _OPERATOR.sub(name, formula), made


def add_lags(frame: pd.DataFrame, made: dict[str, tuple[str, int]], unit: str | None, time: str | None) -> pd.DataFrame:
    """Add the lag / lead columns of `made`, each x of the same unit at time − shift (missing when absent)."""
    if not made:
        return frame
    if time is None:
        raise RegError("L. and F. operators need the panel index: name the unit and time columns (--unit, --time)")
    keys = [unit, time] if unit is not None else [time]  # no unit: one time series
    if frame.duplicated(keys).any():
        if unit is None:
            raise RegError(f"L./F. without --unit treat the data as one time series, but {time} repeats: name --unit")
        row = frame[frame.duplicated(keys, keep=False)].iloc[0]
        raise RegError(f"L./F. need one row per unit and period; {unit}={row[unit]} has two rows in {time}={row[time]}")
    out = frame.copy()
    for column, (var, shift) in made.items():
        if var not in frame.columns:
            raise RegError(f"{column}: no column {var!r} to lag or lead")
        source = frame[[*keys, var]].assign(**{time: frame[time] + shift}).rename(columns={var: column})
        out = out.merge(source, on=keys, how="left")
    return out


def winsorise(frame: pd.DataFrame, columns: list[str], p: float, by: str | None = None) -> pd.DataFrame:
    """Clip each column at its p and 1 − p quantiles (within each `by` group when given); Stata's winsor2, cuts."""
    if not 0 < p < 0.5:
        raise RegError(f"--winsor {p}: give the tail share, e.g. 0.01 for the 1st and 99th percentiles")
    out = frame.copy()
    for c in columns:
        if not pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
            continue
        if by is None:
            low, high = out[c].quantile([p, 1 - p])
            out[c] = out[c].clip(low, high)
        else:
            grouped = out.groupby(by)[c]
            out[c] = out[c].clip(grouped.transform(lambda s: s.quantile(p)),
                                 grouped.transform(lambda s: s.quantile(1 - p)))
    return out


def variables(formula: str) -> list[str]:
    """Column names a pyfixest formula mentions (after operator replacement), in order, without duplicates."""
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", formula)
    skip = {"C", "i", "I", "np", "log", "exp", "center", "scale", "ref", "Treatment", "sw", "csw", "sw0", "csw0"}
    return list(dict.fromkeys(n for n in names if n not in skip and not n.startswith("np.")))


def is_binary(values: pd.Series) -> bool:
    """True for 0/1 or boolean columns (kept as they are by winsorising)."""
    uniq = pd.unique(values.dropna())
    return len(uniq) <= 2 and set(np.asarray(uniq, dtype=float).tolist()) <= {0.0, 1.0}


def parse_vce(vce: str) -> str | dict[str, str]:
    """`iid`, `hetero` (alias robust), `cluster:COL`, `twoway:A,B` → pyfixest's vcov argument."""
    text = vce.strip()
    kind, _, cols = text.partition(":")
    kind = kind.lower()
    if kind in ("iid", "hetero", "robust") and not cols:
        return "hetero" if kind == "robust" else kind
    if kind == "cluster" and cols and "," not in cols:
        return {"CRV1": cols.strip()}
    if kind == "twoway" and len([c for c in cols.split(",") if c.strip()]) == 2:
        a, b = (c.strip() for c in cols.split(","))
        return {"CRV1": f"{a}+{b}"}
    raise RegError(f"--vce {vce!r}: use {VCE_HELP}")


def cluster_columns(vce: str) -> list[str]:
    """The columns a vce string clusters on."""
    spec = parse_vce(vce)
    return [] if isinstance(spec, str) else [c.strip() for c in spec["CRV1"].split("+")]
