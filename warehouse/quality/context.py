"""What a check sees: a read-only connection, the table's declaration, its columns and a cached DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from warehouse.quality.spec import CheckSpec, TableChecks, resolve_columns


@dataclass
class TableContext:
    """One concrete table under check. `frame()` pulls it from DuckDB once (pandas, for GE and custom checks)."""

    con: duckdb.DuckDBPyConnection
    decl: TableChecks
    columns: dict[str, str]
    flagged: dict[str, set[tuple]] = field(default_factory=dict)  # column -> keys already reported
    _frame: pd.DataFrame | None = None

    @property
    def table(self) -> str:
        return self.decl.table

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            schema, name = self.table.split(".", 1)
            self._frame = self.con.table(f'"{schema}"."{name}"').df()
        return self._frame

    def columns_of(self, spec: CheckSpec, default: tuple[str, ...] = ()) -> list[str]:
        """The spec's columns resolved against this table (globs, '@numeric'), key columns excluded for @numeric."""
        return resolve_columns(spec.columns or default, self.columns, exclude=self.decl.key)

    def flag(self, column: str, keys: list[tuple]) -> None:
        """Remember keys a more specific check already reported, so generic checks (outliers) skip them."""
        self.flagged.setdefault(column, set()).update(keys)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    schema, name = table.split(".", 1)
    rows = con.execute("select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]).fetchall()
    return dict(rows)

