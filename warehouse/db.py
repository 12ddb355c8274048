"""DuckDB connections to the warehouse, with the spatial extension loaded from its wheel (never downloaded)."""

from __future__ import annotations

import errno
import os
import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import duckdb_extensions

from warehouse.errors import WarehouseError
from warehouse.lock import acquire, release
from warehouse.settings import db_path

SCHEMAS = ("raw", "staging", "reference", "weights", "analysis", "quality", "meta")
HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two alternating database headers
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_DISK_FULL_TEXT = ("no space left on device", "file too large", "disk quota exceeded")


class DiskFullError(WarehouseError):
    """The disk (or the file-size limit) refused a write; the message names the file and the space needed."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it was raised from) is the disk or the file-size limit refusing a write:
    OSError ENOSPC / EFBIG / EDQUOT, or DuckDB's IOException / TransactionException saying so."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if any(text in str(exc).lower() for text in _DISK_FULL_TEXT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def space_message(path: Path, need: int, what: str) -> str:
    """One line: which file could not be written, how much space the command needs and how much there is."""
    mb = 2**20
    folder = path.parent
    free = shutil.disk_usage(folder).free if folder.exists() else 0
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    cap = f"; the file-size limit (ulimit -f) is {limit / mb:,.0f} MB" if limit != resource.RLIM_INFINITY else ""
    return (f"{path}: out of disk space {what}; it needs about {need / mb:,.0f} MB free in {folder} "
            f"({free / mb:,.0f} MB free now{cap}); the warehouse is unchanged — free some space and run it again")


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
        _writers[id(con)] = _Snapshot(path)
    try:
        if spatial:
            load_spatial(con)
        if not read_only:
            for schema in SCHEMAS:
                con.execute(f"create schema if not exists {schema}")
            # merge what an earlier writer committed but never checkpointed (a kill after COMMIT): from here on
            # the WAL holds only this connection's writes, and the file as it is now is the state to restore
            try:
                con.execute("checkpoint")
            except duckdb.Error as exc:
                if is_disk_full(exc):
                    raise
                # another connection of this process is in a transaction: its own close checkpoints
            _writers[id(con)] = _Snapshot.take(path)
    except BaseException as exc:
        _abandon(con, exc)
        raise
    return con


@dataclass
class _Snapshot:
    """A writer's warehouse file as it was when the connection opened: its size and header blocks."""

    path: Path
    size: int = -1
    header: bytes = b""

    @classmethod
    def take(cls, path: Path) -> _Snapshot:
        with open(path, "rb") as f:
            return cls(path, os.fstat(f.fileno()).st_size, f.read(HEADER_BYTES))

    def restore(self) -> int:
        """After a write the disk refused: if no checkpoint reached the file (its headers are as they were),
        cut off the blocks written past its old end and delete the WAL of the failed command, so the file
        is again byte for byte what it was. Returns the bytes the command had written when it was refused."""
        wal = Path(str(self.path) + ".wal")
        written = wal.stat().st_size if wal.exists() else 0
        if self.size < 0 or not self.path.exists():
            return written
        with open(self.path, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(HEADER_BYTES) != self.header or size < self.size:
                return written  # a checkpoint was written: the file is DuckDB's own consistent state
            written += size - self.size
            f.truncate(self.size)
        wal.unlink(missing_ok=True)
        return written


_writers: dict[int, _Snapshot] = {}


def _abandon(con: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    """Close a connection whose command failed; a write the disk refused becomes a `DiskFullError` naming the
    file and the space needed, with the warehouse restored to its state when the connection opened."""
    snapshot = _writers.pop(id(con), None)
    with suppress(duckdb.Error):
        con.close()
    if snapshot is None:
        return
    try:
        if is_disk_full(exc):
            written = snapshot.restore()
            size = max(snapshot.size, 0)
            need = size + max(2 * written, 64 * 2**20)
            raise DiskFullError(space_message(snapshot.path, need, f"writing it ({written / 2**20:,.1f} MB "
                                              "written when the disk refused)")) from exc
    finally:
        release(snapshot.path)


def disconnect(con: duckdb.DuckDBPyConnection) -> None:
    """Close a connection and release its writer lock. A writer is checkpointed first, so a write the disk
    refuses at the checkpoint is an error here (`DiskFullError`), not a silent WAL left behind."""
    if id(con) not in _writers:
        con.close()
        return
    try:
        con.execute("checkpoint")
    except duckdb.Error as exc:
        if is_disk_full(exc):
            _abandon(con, exc)
        # anything else (a connection already closed, a transaction left open): the close below checkpoints
    snapshot = _writers.pop(id(con), None)
    con.close()
    if snapshot is not None:
        release(snapshot.path)


@contextmanager
def connection(path: str | Path | None = None, read_only: bool = False,
               create: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """`with connection() as con:` — a connection that is always closed (a writer checkpointed), its lock
    released. A write the disk refuses anywhere in the block is a `DiskFullError` (one line: the file, the
    space needed) and leaves the warehouse as it was when the connection opened."""
    con = connect(path, read_only=read_only, create=create)
    try:
        yield con
    except BaseException as exc:
        _abandon(con, exc)
        raise
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


VOLATILE_TYPES = ("TIMESTAMP", "DATE", "TIME", "INTERVAL")


def table_digests(con: duckdb.DuckDBPyConnection, skip_columns: frozenset[str] = frozenset(),
                  skip_types: tuple[str, ...] = VOLATILE_TYPES) -> dict[str, tuple[int, str]]:
    """What every table of the warehouse holds, for comparing two states of it: schema.table -> (rows, an
    order-independent hash of the rows). Columns of `skip_types` (when a row was written) and the names in
    `skip_columns` (run ids made from the clock) are left out of the hash."""
    digests: dict[str, tuple[int, str]] = {}
    tables = con.execute("select schema_name, table_name from duckdb_tables() where database_name = "
                         "current_database() and not temporary order by 1, 2").fetchall()
    for schema, table in tables:
        columns = con.execute("select column_name, data_type from duckdb_columns() where database_name = "
                              "current_database() and schema_name = ? and table_name = ? order by column_index",
                              [schema, table]).fetchall()
        keep = ['"' + c.replace('"', '""') + '"' for c, kind in columns
                if c not in skip_columns and not kind.upper().startswith(skip_types)]
        row_hash = f"hash({', '.join(keep)})::hugeint" if keep else "0"
        rows, total = con.execute(f'select count(*), coalesce(sum({row_hash}), 0) from "{schema}"."{table}"').fetchone()
        digests[f"{schema}.{table}"] = (int(rows), str(total))
    return digests
