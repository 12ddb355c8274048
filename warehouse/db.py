"""DuckDB connections to the warehouse, with the spatial extension loaded from its wheel (never downloaded)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import duckdb_extensions

from warehouse.errors import WarehouseError
from warehouse.lock import acquire, release
from warehouse.settings import db_path

SCHEMAS = ("raw", "staging", "reference", "weights", "analysis", "quality", "meta")


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    """Install the spatial extension from the duckdb-extension-spatial wheel (no network), then load it."""
    try:
        con.execute("LOAD spatial")
    except duckdb.Error:
        duckdb_extensions.import_extension("spatial", con=con)
        con.execute("LOAD spatial")


def connect(path: str | Path | None = None, read_only: bool = False, spatial: bool = True,
            create: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Read-only connections need an existing file; a writer takes the writer lock
    (warehouse/lock.py) and creates the file and its schemas unless `create=False`, which refuses a missing
    file (a command that only adds to a warehouse must not leave a new empty one behind a typo).
    Close a writer with `disconnect` (or use `connection`) to release the lock."""
    path = db_path(path)
    if path.is_dir():
        raise WarehouseError(f"{path} is a folder; give the warehouse file, e.g. {path / 'geopanel.duckdb'}")
    if (read_only or not create) and not path.exists():
        raise WarehouseError(f"{path}: no warehouse here; run `geopanel init --db {path}` (or `geopanel demo`) first")
    if not read_only:
        acquire(path)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if not read_only:
            release(path)
        detail = str(exc).splitlines()[0]
        raise WarehouseError(f"{path}: cannot open the warehouse ({detail}); another process has it open — a "
                             "notebook's connection counts, even a read-only one: close it and run again") from exc
    except duckdb.Error as exc:
        if not read_only:
            release(path)
        raise WarehouseError(f"{path}: not a DuckDB warehouse ({str(exc).splitlines()[0]})") from exc
    if not read_only:
        _writers[id(con)] = path
    if spatial:
        load_spatial(con)
    if not read_only:
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
    return con


_writers: dict[int, Path] = {}


def disconnect(con: duckdb.DuckDBPyConnection) -> None:
    """Close a connection (a writer's close checkpoints the file) and release its writer lock."""
    con.close()
    path = _writers.pop(id(con), None)
    if path is not None:
        release(path)


@contextmanager
def connection(path: str | Path | None = None, read_only: bool = False,
               create: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with connection() as con:` — a connection that is always closed (and so checkpointed), its lock released."""
    con = connect(path, read_only=read_only, create=create)
    try:
        yield con
    finally:
        disconnect(con)


def single_select(con: duckdb.DuckDBPyConnection, sql: str, what: str) -> str:
    """`sql` if it is exactly one SELECT statement, else an error: user SQL (a --where, a --data query) is
    never spliced into a writable session as anything else (`1=1); drop table …` is refused)."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"{what}: not valid SQL ({str(exc).splitlines()[0]})") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(str(s.type).rsplit(".", 1)[-1] for s in statements)
        raise WarehouseError(f"{what}: must be a single SELECT (a query or a row condition), not {kinds}")
    return sql


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
