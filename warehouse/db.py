"""DuckDB connections to the warehouse, with the spatial extension loaded from its wheel (never downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import duckdb_extensions

from warehouse.settings import db_path

SCHEMAS = ("raw", "staging", "reference", "weights", "analysis", "quality", "meta")


class WarehouseError(RuntimeError):
    """The warehouse cannot be used as asked; the message says what to do."""


def lock_path(path: Path) -> Path:
    """The marker file a running build holds, so writers and readers know the file is being rebuilt."""
    return path.with_name(path.name + ".building")


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    """Install the spatial extension from the duckdb-extension-spatial wheel (no network), then load it."""
    try:
        con.execute("LOAD spatial")
    except duckdb.Error:
        duckdb_extensions.import_extension("spatial", con=con)
        con.execute("LOAD spatial")


def connect(path: str | Path | None = None, read_only: bool = False, spatial: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Read-only connections need an existing file; writers create it and its schemas."""
    path = db_path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"{path}: no warehouse here; run `geopanel demo` or `geopanel init` first")
    if not read_only:
        if lock_path(path).exists():
            raise WarehouseError(
                f"{path} is being rebuilt by `geopanel build` (lock {lock_path(path).name}); "
                "wait for it to finish, or delete the lock file if no build is running"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(f"{path}: cannot open the warehouse ({exc}); is another process writing it?") from exc
    if spatial:
        load_spatial(con)
    if not read_only:
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
    return con


@contextmanager
def connection(path: str | Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with connection() as con:` — a connection that is always closed (and so checkpointed)."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with transaction(con):` — commit if the block finishes, roll back if it raises."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame, columns: list[str] | None = None) -> None:
    """Append a pandas frame to `table`, matching columns by name (all of the frame's, or `columns`)."""
    cols = ", ".join(columns or list(frame.columns))
    con.register("_geopanel_frame", frame)
    try:
        con.execute(f"insert into {table} ({cols}) select {cols} from _geopanel_frame")
    finally:
        con.unregister("_geopanel_frame")


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    """Whether schema.table (or a view of that name) exists."""
    schema, _, name = qualified.rpartition(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema or "main", name],
        ).fetchone()[0]
    )
