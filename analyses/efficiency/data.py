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


def as_list(names: Sequence[str] | str | None) -> list[str]:
    if names is None:
        return []
    if isinstance(names, str):
        return [n.strip() for n in names.split(",") if n.strip()]
    return list(names)


def load(data, inputs: Sequence[str], outputs: Sequence[str], undesirable: Sequence[str] = (), *,
         unit: str | None = None, time: str | None = None, con=None, where: str | None = None,
         positive: bool = False) -> Frame:
    """Read and check the DEA variables: present, numeric, no missing and no negative values (positive=True:
    none zero either, as SBM divides by them). Each complaint names the unit (and period) and the column."""
    from warehouse.errors import DataError
    from warehouse.panel_data import read_panel

    inputs, outputs, undesirable = as_list(inputs), as_list(outputs), as_list(undesirable)
    if not inputs or not outputs:
        raise EfficiencyError("name at least one input and one output (inputs=[...], outputs=[...])")
    names = inputs + outputs + undesirable
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise EfficiencyError(f"{', '.join(dup)} named twice among inputs, outputs and undesirable outputs")
    try:
        if isinstance(data, pd.DataFrame) and time is None and "year" not in data.columns:
            pdata = read_panel(data, con=con, unit=unit, where=where, columns=names)
        else:
            pdata = read_panel(data, con=con, unit=unit, time=time, where=where, columns=names)
    except DataError as exc:
        raise EfficiencyError(str(exc)) from None
    frame = pdata.frame
    source = pdata.source
    ids = [c for c in (pdata.unit, pdata.time) if c]
    if frame.duplicated(ids).any():
        row = frame[frame.duplicated(ids, keep=False)].iloc[0]
        where_ = ", ".join(f"{c} {row[c]}" for c in ids)
        raise EfficiencyError(f"{source}: more than one row for {where_}; a DMU is one row per unit"
                              + (" and period" if pdata.time else " (name the period column with time=/--time)"))
    for col in names:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna()
        if bad.any():
            row = frame[bad].iloc[0]
            raise EfficiencyError(f"{source}: column {col!r} holds {row[col]!r} for {_where(row, ids)}, not a number")
        if values.isna().any():
            row = frame[values.isna()].iloc[0]
            raise EfficiencyError(f"{source}: {col} is missing for {_where(row, ids)} "
                                  f"({int(values.isna().sum())} missing in all); fill or drop those rows first")
        if (values < 0).any() or (positive and (values <= 0).any()):
            row = frame[(values <= 0) if positive else (values < 0)].iloc[0]
            need = "positive (SBM divides by each input and output)" if positive else "non-negative"
            raise EfficiencyError(f"{source}: {col} is {row[col]} for {_where(row, ids)}; DEA needs {need} values")
        frame[col] = values.astype(float)
    if not np.isfinite(frame[names].to_numpy()).all():
        raise EfficiencyError(f"{source}: infinite values among {', '.join(names)}")
    return Frame(frame=frame, unit=pdata.unit, time=pdata.time, source=source)


def _where(row, ids: list[str]) -> str:
    return ", ".join(f"{c} {row[c]}" for c in ids) or f"row {row.name}"
