"""Inputs and outputs through the one data contract (`warehouse.panel_data.read_panel`): a DataFrame, a
warehouse table or view, a SQL query or a file, with explicit unit / time columns and ids as text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.efficiency.errors import EfficiencyError


@dataclass
class Frame:
    """The rows of a DEA: ids (unit, and time when given) and the numeric columns, checked."""

    frame: pd.DataFrame
    unit: str
    time: str | None
    source: str
    quality: str = "not-checked"  # the quality gate's status (warehouse tables read) or not-checked (files, frames)


def as_list(names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return list(names)


def load(data, inputs: Sequence[str], outputs: Sequence[str], undesirable: Sequence[str] = (), *,
         unit: str | None = None, time: str | None = None, con=None, where: str | None = None,
         positive: bool = False, deflate: dict[str, str] | None = None, base_year=None,
         allow_failing_checks: bool = False, extra: Sequence[str] = ()) -> Frame:
    """Read and check the DEA variables: present, numeric, no missing and no negative values (positive=True:
    none zero either, as SBM divides by them). Each complaint names the unit (and period) and the column.

    deflate: {variable: deflator column}, e.g. {"gdp": "gdp_deflator", "capital": "fai_price_index"}: the
    variable is divided by its deflator rescaled to 1 in `base_year` for each unit (value_t × d_base / d_t), so
    that the deflator's own base does not matter; without base_year the deflator is read as an index with
    base 100 (value_t × 100 / d_t). extra: further numeric columns to read and check the same way (e.g. the
    per-DMU direction of a directional distance function)."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    inputs, outputs, undesirable = as_list(inputs), as_list(outputs), as_list(undesirable)
    if not inputs or not outputs:
        raise EfficiencyError("name at least one input and one output (inputs=[...], outputs=[...])")
    names = inputs + outputs + undesirable
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise EfficiencyError(f"{', '.join(dup)} named twice among inputs, outputs and undesirable outputs")
    deflate = dict(deflate or {})
    unknown = sorted(set(deflate) - set(names))
    if unknown:
        raise EfficiencyError(f"deflate names {', '.join(unknown)}, which is not among the inputs and outputs")
    read = list(dict.fromkeys(names + list(deflate.values()) + list(extra)))
    try:
        if isinstance(data, pd.DataFrame) and time is None and "year" not in data.columns:
            pdata = read_panel(data, con=con, unit=unit, where=where, columns=read)
        else:
            pdata = read_panel(data, con=con, unit=unit, time=time, where=where, columns=read)
    except DataError as exc:
        raise EfficiencyError(str(exc)) from None
    from warehouse.errors import WarehouseError
    from warehouse.quality.gate import gate_status

    try:
        quality = gate_status(con, pdata.tables if pdata.from_warehouse else [], allow_failing_checks).status
    except WarehouseError as exc:  # QualityGateError: failing or unchecked warehouse data
        raise EfficiencyError(str(exc)) from None
    frame = pdata.frame
    source = pdata.source
    ids = [c for c in (pdata.unit, pdata.time) if c]
    if frame.duplicated(ids).any():
        row = frame[frame.duplicated(ids, keep=False)].iloc[0]
        where_ = ", ".join(f"{c} {row[c]}" for c in ids)
        raise EfficiencyError(f"{source}: more than one row for {where_}; a DMU is one row per unit"
                              + (" and period" if pdata.time else " (name the period column with time=/--time)"))
    for col in read:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = frame[bad].iloc[0]
            raise EfficiencyError(f"{source}: column {col!r} holds {row[col]!r} for {_where(row, ids)}, not a number")
        if values.isna().any():
            row = frame[values.isna()].iloc[0]
            raise EfficiencyError(f"{source}: {col} is missing for {_where(row, ids)} "
                                  f"({int(values.isna().sum())} missing in all); fill or drop those rows first")
        strict = positive or col in deflate.values()
        if (values < 0).any() or (strict and (values <= 0).any()):
            row = frame[(values <= 0) if strict else (values < 0)].iloc[0]
            need = ("positive (a deflator)" if col in deflate.values() and col not in names else
                    "positive (SBM divides by each input and output)" if positive else "non-negative")
            raise EfficiencyError(f"{source}: {col} is {row[col]} for {_where(row, ids)}; DEA needs {need} values")
        frame[col] = values.astype(float)
    if not np.isfinite(frame[read].to_numpy()).all():
        raise EfficiencyError(f"{source}: infinite values among {', '.join(read)}")
    if deflate:
        frame, source = _deflate(frame, deflate, base_year, pdata.unit, pdata.time, source)
    return Frame(frame=frame, unit=pdata.unit, time=pdata.time, source=source, quality=quality)


def _where(row, ids: list[str]) -> str:
    return ", ".join(f"{c} {row[c]}" for c in ids) or f"row {row.name}"


def _deflate(frame: pd.DataFrame, deflate: dict[str, str], base_year, unit: str, time: str | None,
             source: str) -> tuple[pd.DataFrame, str]:
    """Real values: value_t × d_base / d_t per unit (or × 100 / d_t without a base year)."""
    frame = frame.copy()
    for var, col in deflate.items():
        if base_year is None:
            frame[var] = frame[var] * 100.0 / frame[col]
            continue
        if time is None:
            raise EfficiencyError(f"{source}: deflating to base year {base_year} needs the period column (time=)")
        base = frame.loc[frame[time].astype(str) == str(base_year)].set_index(unit)[col]
        missing = sorted(set(frame[unit]) - set(base.index))
        if missing:
            raise EfficiencyError(f"{source}: {col} has no {time} {base_year} value for {missing[0]}"
                                  f"{f' and {len(missing) - 1} more units' if len(missing) > 1 else ''}; "
                                  "choose a base year every unit has")
        frame[var] = frame[var] * frame[unit].map(base).to_numpy() / frame[col]
    what = ", ".join(f"{v} by {c}" for v, c in deflate.items())
    return frame, f"{source} ({what}, {'base ' + str(base_year) if base_year is not None else 'index base 100'})"
