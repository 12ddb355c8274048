"""What every command prints with: the consoles, the one-line error, a frame as a table, a cell as text.

Shared by `geopanel.cli` and `geopanel.commands.*` (a command module never imports the app that registers it).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit non-zero."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def years(text: str | None) -> tuple[int, int] | None:
    """`--years 2011-2022` (or one year) as (first, last)."""
    if not text:
        return None
    try:
        first, _, last = text.partition("-")
        return int(first), int(last or first)
    except ValueError:
        fail(f"--years {text!r}: write a year or a range like 2011-2022")


def print_frame(frame: pd.DataFrame, limit: int) -> None:
    """The first `limit` rows as a table, cells through `fmt`."""
    table = Table(show_lines=False)
    for col in frame.columns:
        table.add_column(escape(str(col)), overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[escape(fmt(v)) for v in row])  # data, never markup: a label may hold [/x]
    console.print(table, highlight=False)
    if len(frame) > limit:
        console.print(f"(first {limit} rows; use --limit or --out for more)")


def fmt(value: object) -> str:
    """A cell as text: floats in full precision (shortest repr; no exponent between 1e-4 and 1e21), NaN as
    NaN, NULL / NA / NaT as empty."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, float | np.floating):
        value = float(value)
        if value != value:
            return "NaN"
        text = repr(value)
        if "e" in text and 1e-4 <= abs(value) < 1e21:
            text = np.format_float_positional(value, trim="-")
        return text
    if value is None or (not isinstance(value, list | tuple | dict | np.ndarray) and pd.isna(value)):
        return ""
    return str(value)
