"""One writer at a time: an exclusive advisory lock (flock) on `<db>.lock` held by every writing command
for as long as it writes, and by `geopanel build` from before it copies the warehouse until after it swaps
the rebuilt copy in — so an ingest can never be lost under a build, nor a build copy a half-written file.

The lock file names its holder (pid, command, start time, and the dbt process a build started), so a
second writer is refused with who holds the lock and since when. The operating system releases the lock
when every process holding it ends: a killed command leaves nothing to clean up, and a dbt child that
outlives a killed build keeps the lock (it inherits it) until it ends too. Within one process the lock
is re-entrant (a build opens the warehouse itself while it holds the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from warehouse.errors import WarehouseError

_held: dict[Path, list[int]] = {}  # resolved db path -> [fd, depth]


class LockError(WarehouseError):
    """Another process is writing the warehouse; the message says which and since when."""


def lock_file(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_dbt(pid: int) -> bool:
    """Whether process `pid` is a dbt command (so that a reused pid is never signalled)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(a.decode(errors="replace")).name == "dbt" for a in argv[:2])


def _stop_orphaned_dbt(fd: int, child: int, wait: float = 30.0) -> bool:
    """The build that started dbt `child` was killed, so the copy dbt writes will never be swapped in: stop
    dbt (SIGTERM, then SIGKILL) and take the lock it inherited. True if the lock was taken."""
    if not _is_dbt(child):
        return False
    start = time.monotonic()
    for sig, until in ((signal.SIGTERM, wait / 2), (signal.SIGKILL, wait)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, sig)
        while time.monotonic() < start + until:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                time.sleep(0.1)
    return False


def holder(db: Path) -> dict:
    """What the lock file says about its (last) holder."""
    try:
        return json.loads(lock_file(db).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def acquire(db: Path, command: str | None = None) -> int:
    """Take the writer lock of `db` (or deepen it if this process holds it); returns the lock's fd."""
    db = db.resolve()
    if db in _held:
        _held[db][1] += 1
        return _held[db][0]
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file(db), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        info = holder(db)
        pid, child = info.get("pid"), info.get("child_pid")
        if not (pid and not _alive(pid) and child and _stop_orphaned_dbt(fd, child)):
            os.close(fd)
            who = f"pid {pid} ({info.get('command', '?')}) since {info.get('started', '?')}"
            if pid and not _alive(pid) and child and _alive(child):
                who += f"; that process has ended but the dbt process it started (pid {child}) still runs: stop it"
            raise LockError(f"{db} is being written by {who}; wait for it to finish and run the command again") \
                from None
        print(f"note: stopped dbt (pid {child}) left running by a build that was killed ({info.get('command', '?')}, "
              f"started {info.get('started', '?')}); its unfinished copy is discarded", file=sys.stderr)
    info = {"pid": os.getpid(), "command": command or " ".join(["geopanel", *sys.argv[1:]])[:200],
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    _held[db] = [fd, 1]
    return fd


def note_child(db: Path, pid: int) -> None:
    """Record in the lock file the child process (dbt) that inherits the lock."""
    db = db.resolve()
    if db in _held:
        info = holder(db) | {"child_pid": pid}
        fd = _held[db][0]
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)


def release(db: Path) -> None:
    db = db.resolve()
    entry = _held.get(db)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] == 0:
        del _held[db]
        fcntl.flock(entry[0], fcntl.LOCK_UN)
        os.close(entry[0])


@contextmanager
def writer_lock(db: Path, command: str | None = None) -> Iterator[int]:
    """`with writer_lock(path):` — hold the writer lock for the block."""
    fd = acquire(db, command)
    try:
        yield fd
    finally:
        release(db)
