"""Disk full beyond the build's free-space pre-check: an ingest, a weights build and a build that run out of
space mid-way fail with one line naming the file and the space needed, and leave the warehouse file byte for
byte as it was (no WAL left behind).

The disk is simulated with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, so writes past it get EFBIG),
which works without privileges; where tmpfs can be mounted (root), the ingest also runs on a real full disk
(ENOSPC)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

import warehouse.build as build

LIMIT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
sys.argv = ["geopanel", *{args!r}]
from geopanel.cli import main
main()
"""
RUN_DBT = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
import warehouse.build as b
from warehouse.db import DiskFullError
try:
    b.run_dbt(["build", "--select", "dim_province", "--indirect-selection", "cautious"], db=r"{db}",
              progress=lambda m: None)
except DiskFullError as exc:
    print(exc)
    raise SystemExit(3)
"""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def city_file(folder: Path, rows: int = 40) -> Path:
    """A small long-format city file (GDP and population of 20 cities) with its mapping beside it."""
    names = ["合肥市", "芜湖市", "蚌埠市", "淮南市", "马鞍山市", "淮北市", "铜陵市", "安庆市", "黄山市", "滁州市",
             "阜阳市", "宿州市", "六安市", "亳州市", "池州市", "宣城市", "南京市", "无锡市", "徐州市", "常州市"]
    lines = ["城市,年份,地区生产总值(亿元),年末人口(万人)"]
    lines += [f"{names[i % 20]},{2010 + i // 20},{1000 + 7.5 * i:.2f},{300 + i:.1f}" for i in range(rows)]
    data = folder / "city_econ.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = {"table": "city_econ", "level": "city", "shape": "long", "unit": {"name": "城市"}, "year": "年份",
               "variables": {"地区生产总值(亿元)": {"name": "gdp", "unit": "亿元"},
                             "年末人口(万人)": {"name": "pop", "unit": "万人"}}}
    (folder / "city_econ.csv.yml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return data


def run_limited(args: list[str], limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LIMIT.format(limit=limit, args=args)], capture_output=True,
                          text=True, cwd=build.PROJECT_DIR, timeout=300)


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def assert_refused(result: subprocess.CompletedProcess, db: Path, before: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result)
    assert "Traceback" not in line
    assert f"{db}: out of disk space" in line and "it needs about" in line and "MB free in" in line, line
    assert "file-size limit (ulimit -f)" in line and "the warehouse is unchanged" in line, line
    assert digest(db) == before
    assert not Path(str(db) + ".wal").exists()
    return line


def test_an_ingest_that_runs_out_of_space_changes_nothing(warehouse, tmp_path):
    data = city_file(tmp_path)
    before = digest(warehouse)
    result = run_limited(["ingest", str(data), "--db", str(warehouse)], warehouse.stat().st_size)
    assert_refused(result, warehouse, before)
    # with room, the same command succeeds: the failed one left nothing to clean up
    ok = subprocess.run([sys.executable, "-m", "geopanel", "ingest", str(data), "--db", str(warehouse)],
                        capture_output=True, text=True, cwd=build.PROJECT_DIR)
    assert ok.returncode == 0 and "80 loaded" in ok.stdout, ok.stdout + ok.stderr


def test_a_weights_build_that_runs_out_of_space_changes_nothing(warehouse):
    before = digest(warehouse)
    result = run_limited(["weights", "build", "rook_county", "--kind", "rook", "--level", "county",
                          "--db", str(warehouse)], warehouse.stat().st_size)
    assert_refused(result, warehouse, before)


def test_a_build_that_runs_out_of_space_mid_way_is_not_swapped_in(warehouse):
    """The copy fits (the limit is the warehouse's size) but dbt's growth of it does not: before this was
    handled, dbt's close dropped the refused checkpoint silently, and the build swapped in a file without its
    WAL and reported success."""
    with build.connection(warehouse):  # merge any WAL first: the digest is of the file a build would copy
        pass
    before = digest(warehouse)
    result = subprocess.run([sys.executable, "-c", RUN_DBT.format(limit=warehouse.stat().st_size, db=warehouse)],
                            capture_output=True, text=True, cwd=build.PROJECT_DIR, timeout=600)
    assert result.returncode == 3, result.stdout + result.stderr
    line = one_line(result)
    assert f"{warehouse}.next: out of disk space" in line and "it needs about" in line, line
    assert digest(warehouse) == before
    assert sorted(p.name for p in warehouse.parent.glob("geopanel.duckdb*")) == ["geopanel.duckdb",
                                                                                 "geopanel.duckdb.lock"]


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs of 48 MB (skipped where mounting is not permitted)."""
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root on Linux; the RLIMIT tests above cover the same paths")
    mnt = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_an_ingest_on_a_full_disk_changes_nothing(warehouse, tmp_path, small_disk):
    db = small_disk / "geopanel.duckdb"
    shutil.copyfile(warehouse, db)
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    with open(filler, "wb") as f:  # leave 64 KB: less than one DuckDB block
        f.write(b"\0" * max(free - 64 * 1024, 0))
    data = city_file(tmp_path)
    before = digest(db)
    result = subprocess.run([sys.executable, "-m", "geopanel", "ingest", str(data), "--db", str(db)],
                            capture_output=True, text=True, cwd=build.PROJECT_DIR, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    line = one_line(result)
    assert f"{db}: out of disk space" in line and "it needs about" in line, line
    assert digest(db) == before
    assert not Path(str(db) + ".wal").exists()
