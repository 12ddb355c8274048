"""CLI commands for spatial weights and ESDA: `geopanel weights …`, `geopanel moran`, `geopanel lisa`,
`geopanel map`. Registered on the main app by `register(app)` in geopanel/cli.py."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.markup import escape

from analyses.esda import EsdaError
from geo.weights import WeightsError
from geopanel.output import console, fail, print_frame
from geopanel.output import years as years_range

weights_app = typer.Typer(help="Spatial weight matrices in the warehouse (weights.w_catalog / w_edges).",
                          no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

DbOption = Annotated[
    Path | None, typer.Option("--db", help="Warehouse file (default $GEOPANEL_DB or data/geopanel.duckdb).")
]
ERRORS = (EsdaError, WeightsError, FileNotFoundError, ValueError)


def _user_errors():
    from analyses.plots import FontError
    from geo.boundaries import BoundaryError
    from warehouse.db import WarehouseError

    return (*ERRORS, FontError, BoundaryError, WarehouseError)


# ============================================================================ weights
@weights_app.command("build")
def weights_build(
    name: Annotated[str, typer.Argument(help="Name to store the matrix under, e.g. queen_city.")],
    kind: Annotated[str, typer.Option(help="queen | rook | knn | distance_band | inverse_distance | "
                                      "inverse_distance_squared | economic_distance | nested_economic_geographic | "
                                      "import")] = "queen",
    level: Annotated[str, typer.Option(help="province | city | county (or a name for your own units)")] = "city",
    islands: Annotated[str, typer.Option(help="Island policy: knn | manual (seeds/manual_links.csv, then knn) | "
                                         "keep | error.")] = "knn",
    k: Annotated[int | None, typer.Option(help="Neighbours for knn (default 5) or for the island policy (1).")] = None,
    power: Annotated[float | None, typer.Option(help="Distance decay of inverse_distance (1, 2 …).")] = None,
    cutoff: Annotated[float | None, typer.Option(help="Inverse distance: no weight beyond this many km.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Distance band threshold in km.")] = None,
    points: Annotated[str, typer.Option(help="centroid | capital (provincial capitals).")] = "centroid",
    variable: Annotated[str | None, typer.Option(help="Panel variable of economic / nested matrices.")] = None,
    years: Annotated[str | None, typer.Option(help="Period of the variable's mean, e.g. 2012-2022.")] = None,
    base: Annotated[str | None, typer.Option(help="Stored geographic matrix W_d of the nested matrix.")] = None,
    row_standardise: Annotated[bool, typer.Option("--row-standardise/--no-row-standardise",
                                                  help="Row-standardise (recorded in the catalog).")] = True,
    file: Annotated[Path | None, typer.Option(help="import: a GAL, GWT, edge-list CSV or dense CSV file.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="import: gal | gwt | edges | dense.")] = None,
    ids: Annotated[Path | None, typer.Option(help="import of an unlabelled dense matrix: unit codes, one a line, "
                                             "in row order.")] = None,
    boundary_file: Annotated[Path | None, typer.Option(help="Your own polygons (any codes): build over them.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Unit-code column of --boundary-file.")] = None,
    description: Annotated[str | None, typer.Option(help="Free text stored in the catalog.")] = None,
    db: DbOption = None,
) -> None:
    """Build (or import) a weight matrix and store it under NAME, replacing any matrix of that name.

    Examples: geopanel weights build queen_city --kind queen --level city --islands manual;
    geopanel weights build invdist2_province --kind inverse_distance --power 2 --points capital --level province
    --no-row-standardise; geopanel weights build mine --kind import --file my_w.gal --level city
    """
    from warehouse.db import connection
    from warehouse.weights import build_weights, write_w

    try:
        with connection(db) as con, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w = build_weights(con, kind, level, row_standardise=row_standardise, islands=islands, k=k, power=power,
                              cutoff_km=cutoff, threshold_km=threshold, points=points, variable=variable,
                              years=years_range(years), base=base, path=file, fmt=fmt, ids_file=ids,
                              boundary_file=boundary_file, id_column=id_column)
            row = write_w(con, w, name, description=description)
    except _user_errors() as exc:
        fail(str(exc))
    for c in caught:
        console.print(f"[yellow]note:[/] {escape(str(c.message))}", highlight=False)
    _print_catalog_row(row, w)


def _print_catalog_row(row: dict, w) -> None:
    name = escape(row["w_name"])
    console.print(f"[green]stored {name}[/]: {row['kind']} over {row['n']} {row['level'] or ''} units, "
                  f"{row['n_links']} links (mean {row['mean_neighbors']:.2f}, min {row['min_neighbors']}, max "
                  f"{row['max_neighbors']}), {row['components']} component(s), transform {row['transform']}",
                  highlight=False)
    params = json.loads(row["params"])
    linked = params.get("islands_found") or []
    if linked:
        manual = params.get("islands_linked_manual") or []
        knn = params.get("islands_linked_knn") or {}
        policy = params.get("island_policy")
        console.print(f"  {len(linked)} unit(s) without a contiguous neighbour: {', '.join(linked)}; policy {policy}"
                      + (f"; manual links {', '.join('–'.join(p) for p in manual)}" if manual else "")
                      + ("; nearest " + ", ".join(f"{a}→{'/'.join(b)}" for a, b in knn.items()) if knn else ""),
                      highlight=False, markup=False)  # ids are user text
    if row["islands"]:
        codes = escape(str(row["island_codes"]))
        console.print(f"  [yellow]{row['islands']} island(s) kept without neighbours[/]: {codes}",
                      highlight=False)


@weights_app.command("list")
def weights_list(db: DbOption = None) -> None:
    """The stored matrices: kind, level, n, links, islands, components, transform, build time."""
    from warehouse.db import connection
    from warehouse.weights import list_w

    try:
        with connection(db, read_only=True) as con:
            frame = list_w(con)
    except _user_errors() as exc:
        fail(str(exc))
    if frame.empty:
        console.print("no weight matrices yet; build one: geopanel weights build queen_city --kind queen "
                          "--level city")
        return
    print_frame(frame[["w_name", "kind", "level", "n", "n_links", "mean_neighbors", "islands",
                            "islands_linked", "components", "transform", "built_at"]], 500)


@weights_app.command("show")
def weights_show(name: str, db: DbOption = None) -> None:
    """One matrix's catalog row with its parameters, and its units with the fewest and most neighbours."""
    from warehouse.db import connection
    from warehouse.weights import list_w, load_weights

    try:
        with connection(db, read_only=True) as con:
            w, _ = load_weights(con, name)
            row = list_w(con).set_index("w_name").loc[name]
    except _user_errors() as exc:
        fail(str(exc))
    for key, value in row.items():
        if key == "params":
            value = json.dumps(json.loads(value), ensure_ascii=False, indent=1)
        console.print(f"[bold]{key}[/]: {value}", highlight=False)
    card = pd.Series(w.cardinalities, index=w.ids)
    console.print(f"fewest neighbours: {', '.join(f'{c} ({n})' for c, n in card.nsmallest(5).items())}")
    console.print(f"most neighbours: {', '.join(f'{c} ({n})' for c, n in card.nlargest(5).items())}")


@weights_app.command("drop")
def weights_drop(name: str, db: DbOption = None) -> None:
    """Delete a stored matrix."""
    from warehouse.db import connection
    from warehouse.weights import drop_w

    try:
        with connection(db) as con:
            drop_w(con, name)
    except _user_errors() as exc:
        fail(str(exc))
    console.print(f"dropped {name}")


@weights_app.command("export")
def weights_export(
    name: str,
    out: Annotated[Path, typer.Option(help="File to write: .gal, .gwt, or .csv (edge list).")],
    db: DbOption = None,
) -> None:
    """Write a stored matrix as GAL, GWT or a CSV edge list (focal, neighbor, weight)."""
    from geo.weights import write_gal, write_gwt
    from warehouse.db import connection
    from warehouse.weights import load_weights

    try:
        with connection(db, read_only=True) as con:
            w, _ = load_weights(con, name)
        suffix = out.suffix.lower()
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".gal":
            write_gal(w, out)
        elif suffix == ".gwt":
            write_gwt(w, out)
        elif suffix == ".csv":
            w.edges().to_csv(out, index=False)
        else:
            fail(f"--out {out}: use .gal, .gwt or .csv")
    except _user_errors() as exc:
        fail(str(exc))
    console.print(f"wrote {out} ({w.n} units, {w.n_links} links)")


@weights_app.command("check")
def weights_check(
    name: str,
    table: Annotated[str | None, typer.Option("--table", "--data", help="Panel table, SQL query or file (default "
                                              "fct_<level>_year of the matrix).")] = None,
    column: Annotated[str | None, typer.Option(help="Only units with a value of this column.")] = None,
    year: Annotated[int | None, typer.Option(help="Only units of this year.")] = None,
    id_column: Annotated[str | None, typer.Option("--unit", "--id-column",
                                                 help="Unit-code column of the table.")] = None,
    db: DbOption = None,
) -> None:
    """Compare a matrix's units with a panel's: what subsetting to the panel would drop, and what it lacks."""
    from warehouse.db import connection
    from warehouse.weights import panel_coverage

    try:
        with connection(db, read_only=True) as con:
            report = panel_coverage(con, name, table, unit=id_column, year=year, column=column)
    except _user_errors() as exc:
        fail(str(exc))
    console.print(str(report), highlight=False)
    if report.missing:
        raise typer.Exit(1)


# ============================================================================ ESDA
DataOpt = Annotated[str | None, typer.Option(
    "--data", help="A table or view (e.g. ind_x_city_year), a SQL query (\"select …\") or a file "
    "(.csv in UTF-8/GBK, .parquet, .xlsx, .dta; wide-by-year files are melted). Default fct_<level>_year.")]
TableOpt = Annotated[str | None, typer.Option("--table", help="Same as --data with a table name (kept for "
                                              "older scripts).")]
UnitOpt = Annotated[str | None, typer.Option("--unit", "--id-column",
                                             help="Unit-id column (default <level>_code); ids are read as text.")]
TimeOpt = Annotated[str, typer.Option("--time", help="Year column.")]
WhereOpt = Annotated[str | None, typer.Option(help="SQL condition selecting rows, e.g. \"year >= 2015\".")]
WOpt = Annotated[str, typer.Option("--w", help="A stored weight matrix, or a .gal/.gwt/.mat/.csv weights file "
                                   "(row-standardised).")]
WOrderOpt = Annotated[str | None, typer.Option(
    "--w-order", help="Row order of an id-less matrix (.mat, unlabelled dense CSV): ascending-text | "
    "ascending-numeric (the data's unit ids sorted as text / as numbers) | a file with one id per line.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results as JSON (every statistic with its "
                                       "standard error and p-values).")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Words on the plots: zh | en (default: Chinese when the "
                                             "title is Chinese, else English; LISA legends bilingual).")]


def _lang(lang: str | None) -> str | None:
    """--lang checked before any work: zh, en or None (the plot's own default)."""
    if lang not in (None, "zh", "en"):
        fail(f"--lang {lang!r}: use zh or en")
    return lang


def _store_possible(data: str | None, w: str, db: Path | None, save: bool) -> bool:
    """Whether to store the run: files-only runs without a warehouse are not stored (and say so)."""
    from analyses.esda import needs_warehouse
    from warehouse.settings import db_path

    if not save:
        return False
    return needs_warehouse(data, w) or db_path(db).exists()


def _clean(value):
    """A JSON-safe scalar: NaN/NA → null, numpy → Python."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _se(var):
    v = _clean(var)
    return None if v is None or v < 0 else float(np.sqrt(v))


def global_json(result, stored: bool) -> dict:
    """Global statistics as plain data: one entry per indicator, year and statistic, with SEs and p-values."""
    p = result.prepared
    rows = []
    for r in result.long.to_dict(orient="records"):
        rows.append({
            "statistic": r["statistic"], "indicator": r["indicator"], "indicator2": _clean(r["indicator2"]),
            "year": _clean(r["year"]), "n": _clean(r["n"]), "n_missing": _clean(r["n_missing"]),
            "n_unmatched": _clean(r["n_unmatched"]), "islands": _clean(r["islands"]), "value": _clean(r["value"]),
            "expected": _clean(r["expected"]), "se_norm": _se(r["var_norm"]), "z_norm": _clean(r["z_norm"]),
            "p_norm": _clean(r["p_norm"]), "se_rand": _se(r["var_rand"]), "z_rand": _clean(r["z_rand"]),
            "p_rand": _clean(r["p_rand"]), "permutations": _clean(r["permutations"]), "seed": _clean(r["seed"]),
            "mean_sim": _clean(r["mean_sim"]), "se_sim": _clean(r["sd_sim"]), "z_sim": _clean(r["z_sim"]),
            "p_sim": _clean(r["p_sim"]), "p_z_sim": _clean(r["p_z_sim"]), "is_synthetic": _clean(r["is_synthetic"]),
        })
    return {"run_id": result.run_id, "stored": stored, "source": p.source, "level": p.level, "w": p.w_name,
            "transform": p.w_transform, "notes": p.notes, "results": rows}


def lisa_json(result, stored: bool) -> dict:
    """LISA as plain data: one entry per unit, indicator and year (local I, its simulated SE, p-values, cluster)."""
    p = result.prepared
    keep = ["indicator", "year", "code", "name", "value", "local_i", "ei_sim", "sd_sim", "z_sim", "p_sim",
            "p_z_sim", "p_adjusted", "quadrant", "cluster", "is_island", "gi_star", "gi_star_z", "gi_star_p_norm",
            "gi_star_p_sim"]
    rows = [{("se_sim" if k == "sd_sim" else k): _clean(v) for k, v in r.items()}
            for r in result.table[keep].to_dict(orient="records")]
    first = result.table.iloc[0] if len(result.table) else None
    return {"run_id": result.run_id, "stored": stored, "source": p.source, "level": p.level, "w": p.w_name,
            "transform": p.w_transform, "permutations": _clean(first["permutations"]) if first is not None else None,
            "seed": _clean(first["seed"]) if first is not None else None,
            "correction": first["correction"] if first is not None else None,
            "alpha": _clean(first["alpha"]) if first is not None else None, "notes": p.notes,
            "clusters": [{k: _clean(v) for k, v in r.items()} for r in result.clusters().to_dict(orient="records")],
            "units": rows}


def _write_table(frame: pd.DataFrame, out: Path) -> None:
    from warehouse.export import write_frame

    write_frame(frame, out)


def moran(
    columns: Annotated[list[str], typer.Argument(help="Numeric column(s) of the panel, e.g. gdp.")],
    w: WOpt,
    level: Annotated[str | None, typer.Option(help="province | city | county (default: the matrix's).")] = None,
    years: Annotated[str | None, typer.Option(help="A year or a range, e.g. 2011-2022 (default: all).")] = None,
    permutations: Annotated[int, typer.Option(help="Permutations for pseudo p-values (0 = none).")] = 999,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 12345,
    data: DataOpt = None,
    table: TableOpt = None,
    id_column: UnitOpt = None,
    time: TimeOpt = "year",
    where: WhereOpt = None,
    w_order: WOrderOpt = None,
    geary: Annotated[bool, typer.Option("--geary/--no-geary", help="Also Geary's C (esda).")] = True,
    getis_ord: Annotated[bool, typer.Option("--getis-ord/--no-getis-ord", help="Also global G (esda).")] = True,
    with_column: Annotated[str | None, typer.Option("--with", help="Bivariate Moran of COLUMN with the lag of "
                                                    "this column.")] = None,
    drop_unmatched: Annotated[bool, typer.Option(help="Leave out panel units the matrix lacks (reported; never "
                                                 "units whose ids differ only by zero padding).")] = False,
    scatter: Annotated[Path | None, typer.Option(help="Write the Moran scatter plot (.png/.svg) of the last "
                                                 "year (or --scatter-year).")] = None,
    scatter_year: Annotated[int | None, typer.Option(help="Year of the scatter plot.")] = None,
    plot_years: Annotated[Path | None, typer.Option(help="Write Moran's I over the years (.png/.svg).")] = None,
    lang: LangOpt = None,
    out: Annotated[Path | None, typer.Option(help="Also write the long table to .csv (UTF-8 with BOM), .xlsx, "
                                             ".dta or .parquet.")] = None,
    as_json: JsonOpt = False,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store in analysis.moran_global.")] = True,
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run even if `geopanel check` failed or is out of date (recorded).")] = False,
    db: DbOption = None,
) -> None:
    """Global Moran's I by year (E[I], variance, z and p under normality and randomisation, permutation p),
    with Geary's C and Getis–Ord G; stored in analysis.moran_global with a run id.

    Examples: geopanel moran gdp --level city --w queen_city --years 2011-2022 --scatter moran.png;
    geopanel moran income --data usjoin.csv --unit STATE_FIPS --w us48.gal --json
    """
    from analyses.esda import global_stats

    lang = _lang(lang)
    stats = ["moran"] + (["geary"] if geary else []) + (["getis_ord"] if getis_ord else []) + (
        ["moran_bv"] if with_column else [])
    source = data or table
    stored = _store_possible(source, w, db, save)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with console.status("computing …"):
                result = global_stats(source, columns, w, years=years, statistics=stats,
                                      permutations=permutations, seed=seed, level=level, id_column=id_column,
                                      year_column=time, unmatched="drop" if drop_unmatched else "error", db=db,
                                      save=stored, column2=with_column, allow_failing_checks=allow_failing_checks,
                                      where=where, w_order=w_order)
        table_out = result.table
        if out:
            _write_table(result.long, out)
        if scatter:
            year = scatter_year if scatter_year is not None else result.prepared.slices[-1].year
            result.plot_scatter(year, column=columns[0], path=scatter, lang=lang)
        if plot_years:
            result.plot_years(path=plot_years, lang=lang)
    except _user_errors() as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(global_json(result, stored), ensure_ascii=False, indent=1))
        return
    show = [c for c in ["indicator", "year", "n", "I", "EI", "z_norm", "p_norm", "z_rand", "p_rand", "p_sim", "C",
                        "p_sim_C", "G", "p_sim_G", "I_bv", "p_sim_I_bv"] if c in table_out.columns]
    print_frame(table_out[show], 500)
    _print_footer(result.prepared, stored, result.run_id, [scatter, plot_years, out], asked=save)


def _print_footer(prepared, saved: bool, run_id: str, files, asked: bool = False) -> None:
    slices = prepared.slices
    missing = max((s.n_missing for s in slices), default=0)
    unmatched = max((s.n_unmatched for s in slices), default=0)
    console.print(escape(f"W = {prepared.w_name} (transform {prepared.w_transform}); source {prepared.source}")
                  + (f"; up to {missing} matrix units without a value in a year were left out" if missing else "")
                  + (f"; {unmatched} panel units not in the matrix were left out" if unmatched else ""),
                  highlight=False)
    if any(s.is_synthetic for s in slices):
        console.print("[yellow]the data are SYNTHETIC (demo panel)[/]")
    for note in prepared.notes[:5]:
        console.print(f"note: {note}", highlight=False, markup=False)
    if saved:
        console.print(f"run {run_id} stored (analysis.moran_global / analysis.lisa)", highlight=False)
    elif asked:
        console.print("not stored (no warehouse; pass --db to keep the run)", highlight=False)
    for f in files:
        if f:
            console.print(f"wrote {f}", markup=False)


def lisa(
    column: Annotated[str, typer.Argument(help="Numeric column of the panel, e.g. gdp.")],
    w: WOpt,
    level: Annotated[str | None, typer.Option(help="province | city | county (default: the matrix's).")] = None,
    years: Annotated[str | None, typer.Option(help="A year or a range, e.g. 2022 or 2011-2022 (default: all).")] = None,
    permutations: Annotated[int, typer.Option(help="Permutations for pseudo p-values.")] = 999,
    seed: Annotated[int, typer.Option(help="Seed of the permutations.")] = 12345,
    correction: Annotated[str, typer.Option(help="Multiple testing: none | bonferroni | fdr.")] = "none",
    alpha: Annotated[float, typer.Option(help="Significance level of the clusters.")] = 0.05,
    gi_star: Annotated[bool, typer.Option("--gi-star/--no-gi-star", help="Also local Getis–Ord Gi* (esda).")] = True,
    data: DataOpt = None,
    table: TableOpt = None,
    id_column: UnitOpt = None,
    time: TimeOpt = "year",
    where: WhereOpt = None,
    w_order: WOrderOpt = None,
    boundary_file: Annotated[Path | None, typer.Option(help="Polygons for --map when the units are your own.")] = None,
    drop_unmatched: Annotated[bool, typer.Option(help="Leave out panel units the matrix lacks (reported; never "
                                                 "units whose ids differ only by zero padding).")] = False,
    map_path: Annotated[Path | None, typer.Option("--map", help="Write the LISA cluster map (.png/.svg) of the "
                                                  "last year (or --map-year).")] = None,
    map_year: Annotated[int | None, typer.Option(help="Year of the map.")] = None,
    scatter: Annotated[Path | None, typer.Option(help="Also write the Moran scatter plot of that year.")] = None,
    lang: LangOpt = None,
    out: Annotated[Path | None, typer.Option(help="Also write the unit table to .csv (UTF-8 with BOM), .xlsx, "
                                             ".dta or .parquet.")] = None,
    as_json: JsonOpt = False,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store in analysis.lisa.")] = True,
    allow_failing_checks: Annotated[bool, typer.Option(
        "--allow-failing-checks", help="Run even if `geopanel check` failed or is out of date (recorded).")] = False,
    db: DbOption = None,
) -> None:
    """Local Moran (LISA) by year: I_i, quadrant HH/LH/LL/HL, seeded permutation pseudo p-values, optional
    Bonferroni/FDR, clusters, and local Gi*; stored in analysis.lisa with a run id.

    Example: geopanel lisa gdp --level city --w queen_city --years 2022 --correction fdr --map lisa_2022.png
    """
    from analyses.esda import lisa as run_lisa

    lang = _lang(lang)
    source = data or table
    stored = _store_possible(source, w, db, save)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with console.status("computing …"):
                result = run_lisa(source, column, w, years=years, permutations=permutations,
                                  seed=seed, correction=None if correction == "none" else correction, alpha=alpha,
                                  gi_star=gi_star, level=level, id_column=id_column, year_column=time,
                                  unmatched="drop" if drop_unmatched else "error", db=db, save=stored,
                                  allow_failing_checks=allow_failing_checks, where=where, w_order=w_order)
        year = map_year if map_year is not None else result.prepared.slices[-1].year
        if map_path:
            from analyses.esda import read_boundaries

            boundaries = read_boundaries(boundary_file, id_column) if boundary_file else None
            result.plot_map(year, path=map_path, boundaries=boundaries, lang=lang)
        if scatter:
            s = result.prepared.slices
            pick = next(x for x in s if x.year == year)
            from analyses import plots

            plots.moran_scatter(pick.y, pick.w, labels=pick.names, path=scatter,
                                title=f"{column}{' ' + str(year) if year is not None else ''} · W = {w}",
                                lang=lang)
        if out:
            _write_table(result.table, out)
    except _user_errors() as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(lisa_json(result, stored), ensure_ascii=False, indent=1))
        return
    print_frame(result.clusters(), 500)
    _print_footer(result.prepared, stored, result.run_id, [map_path, scatter, out], asked=save)


def choropleth_map(
    column: Annotated[str, typer.Argument(help="Numeric column to map, e.g. gdp.")],
    out: Annotated[Path, typer.Option(help="File to write (.png/.svg).")],
    level: Annotated[str, typer.Option(help="province | city | county.")] = "province",
    year: Annotated[int | None, typer.Option(help="Year to map (default: the last).")] = None,
    scheme: Annotated[str, typer.Option(help="mapclassify scheme: quantiles, equal_interval, natural_breaks, "
                                        "fisher_jenks, std_mean …")] = "quantiles",
    k: Annotated[int, typer.Option(help="Number of classes.")] = 5,
    table: Annotated[str | None, typer.Option(help="Table (default fct_<level>_year).")] = None,
    data: Annotated[str | None, typer.Option(help="A table or view, a SQL query or a file (.csv/.parquet/.xlsx/.dta) "
                                             "instead of fct_<level>_year.")] = None,
    id_column: Annotated[str | None, typer.Option("--unit", "--id-column", help="Unit-code column.")] = None,
    boundary_file: Annotated[Path | None, typer.Option(help="Your own polygons.")] = None,
    title: Annotated[str | None, typer.Option(help="Map title.")] = None,
    lang: LangOpt = None,
    db: DbOption = None,
) -> None:
    """Choropleth map of a panel column in one year, classified with mapclassify.

    Example: geopanel map gdp --level province --year 2022 --scheme natural_breaks --k 5 --out gdp_2022.png
    """
    from analyses.esda import choropleth_map as draw
    from analyses.esda import read_boundaries
    from warehouse.db import connection

    lang = _lang(lang)
    try:
        boundaries = read_boundaries(boundary_file, id_column) if boundary_file else None
        with connection(db, read_only=True) as con:
            gdf = draw(data if data else table, column, path=out, level=level, year=year, scheme=scheme, k=k,
                       unit=id_column, boundaries=boundaries, title=title, lang=lang, con=con)
    except _user_errors() as exc:
        fail(str(exc))
    console.print(f"wrote {out} ({int(gdf[column].notna().sum())} of {len(gdf)} units with a value)")


def register(app: typer.Typer) -> None:
    """Add the weights group and the ESDA commands to the main `geopanel` app."""
    app.add_typer(weights_app, name="weights")
    app.command("moran")(moran)
    app.command("lisa")(lisa)
    app.command("map")(choropleth_map)
