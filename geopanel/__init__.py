"""geopanel's Python API: the same capabilities as the `geopanel` command, on any data.

    import geopanel as gp

    panel = gp.read_panel("mpdta.csv", unit="countyreal")             # ids as text, explicit unit / time
    battery = gp.did("mpdta.csv", "lemp", cohort="first.treat", unit="countyreal")
    print(battery.to_table())                                          # TWFE, Callaway–Sant'Anna, … side by side
    gp.moran("usjoin.csv", "income", "us48.gal", unit="STATE_FIPS", years=[2009]).table
    fit = gp.spatial_panel("y ~ x1 + x2", "panel.csv", "w.gal", unit="code", time="year", model="sdm")
    with gp.connect("data/geopanel.duckdb", read_only=True) as con:   # the warehouse, for table names and SQL
        gp.moran("fct_city_year", "gdp", "queen_city", con=con, years=range(2011, 2023)).table

Data are whatever `read_panel` reads: a DataFrame, a warehouse table or view, a SQL query, or a .csv / .parquet /
.xlsx / .dta file. Names are imported on first use, so `import geopanel` (and the command line) stays fast.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for readers and type checkers; at run time the names load lazily (see __getattr__)
    from analyses.did.callaway_santanna import callaway_santanna
    from analyses.did.report import DIDBattery
    from analyses.esda import GlobalResult, LisaResult, global_stats
    from analyses.spatial_panel.model import spatial_panel
    from analyses.spatial_panel.select import specification_search
    from warehouse.export import write_frame
    from warehouse.ingest import IngestResult
    from warehouse.panel_data import read_panel
    from warehouse.quality.check import check_warehouse as check
    from warehouse.weights import read_w

# public name → "module:attribute", re-exported unchanged (their own docstrings apply)
_REEXPORTS = {
    "read_panel": "warehouse.panel_data:read_panel",
    "write_frame": "warehouse.export:write_frame",
    "global_stats": "analyses.esda:global_stats",
    "callaway_santanna": "analyses.did.callaway_santanna:callaway_santanna",
    "spatial_panel": "analyses.spatial_panel.model:spatial_panel",
    "specification_search": "analyses.spatial_panel.select:specification_search",
    "read_w": "warehouse.weights:read_w",
    "check": "warehouse.quality.check:check_warehouse",
}

__all__ = ["callaway_santanna", "check", "connect", "did", "global_stats", "ingest", "lisa", "moran", "read_panel",
           "read_w", "spatial_panel", "specification_search", "write_frame"]


def __getattr__(name: str) -> Any:
    if name in _REEXPORTS:
        module, _, attribute = _REEXPORTS[name].partition(":")
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'geopanel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def connect(db: str | Path | None = None, read_only: bool = False):
    """A DuckDB connection to the warehouse (default $GEOPANEL_DB or data/geopanel.duckdb), usable as
    `with gp.connect(db) as con:` (closed, and so checkpointed, at the end). Read-only needs an existing file."""
    from warehouse.db import connection

    return connection(db, read_only=read_only)


def ingest(file: str | Path, mapping: str | Path | None = None, *, db: str | Path | None = None, con=None,
           **options: Any) -> IngestResult:
    """Load a yearbook file into raw.<table> with its mapping YAML (default FILE.yml beside it), as `geopanel
    ingest` does; `options` are those of `warehouse.ingest.ingest_file` (years, dry_run, replace, prefer,
    tolerance). Run `geopanel build` afterwards to refresh the panels."""
    from warehouse.db import connection
    from warehouse.ingest import ingest_file, load_mapping

    file = Path(file)
    spec = load_mapping(mapping if mapping is not None else file.with_name(file.name + ".yml"))
    if con is not None:
        return ingest_file(con, file, spec, **options)
    with connection(db, read_only=bool(options.get("dry_run"))) as own:
        return ingest_file(own, file, spec, **options)


def did(data, outcome: str, *, cohort: str | None = None, unit: str | None = None, time: str | None = None,
        policy: str | None = None, level: str = "city", out: str | Path | None = None, con=None,
        db: str | Path | None = None, **options: Any) -> DIDBattery:
    """The DID battery (TWFE, event study, Bacon, Callaway–Sant'Anna, Sun–Abraham, imputation, stacked DID,
    robustness, placebo; on request PSM-DID, heterogeneity, mediation, moderation, spatial DID), as `geopanel did`.

    Any panel: `data` with `cohort`, its column of first-treated periods (never treated: empty, 0, inf or a
    period after the panel), and `unit` / `time`. A seeded policy on the warehouse panel fct_<level>_year:
    `data=None, policy="demonstration_zone"` with `con` or `db`. `options` are those of
    `analyses.did.report.run_battery` (window=(-3, 3), placebo_reps, controls, covariates, seed, …).
    Plots and tables go to `out` (default: a new temporary folder; `battery.files` lists them).

        b = gp.did("mpdta.csv", "lemp", cohort="first.treat", unit="countyreal", window=(-3, 3))
        b.cs["never"].overall("group")      # Callaway–Sant'Anna overall ATT and SE (= R did / csdid)
    """
    from analyses.did.errors import DIDError
    from analyses.did.report import run_battery, run_battery_on_data
    from warehouse.db import connection

    if (cohort is None) == (policy is None):
        raise DIDError("give cohort= (a column of first-treated periods of `data`) or policy= (a seeded policy on "
                       "the warehouse panel, with data=None), not both and not neither")
    if policy is not None and data is not None:
        raise DIDError(f"policy={policy!r} runs on the warehouse panel fct_{level}_year: pass data=None, or give "
                       "cohort= to use `data`")
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"geopanel_did_{outcome}_"))

    def battery(c):
        if cohort is not None:
            return run_battery_on_data(c, data, outcome, out_dir, cohort=cohort, unit=unit, time=time, level=level,
                                       **options)
        return run_battery(c, outcome, out_dir, policy=policy, level=level, **options)

    if con is not None or (db is None and cohort is not None):
        return battery(con)
    with connection(db, read_only=True) as own:
        return battery(own)


def moran(data, columns, w, *, unit: str | None = None, time: str = "year", **options: Any) -> GlobalResult:
    """Global Moran's I by year (E[I], variances, z and p under normality and randomisation, permutation p), equal
    to esda.Moran; `.table` has one row per indicator and year. `w` is a stored matrix name (with `con` / `db`), a
    .gal/.gwt/.mat/.csv file (`w_order=` for an id-less one), a libpysal W or a SpatialWeights. `options` are those
    of `analyses.esda.global_stats` (years, permutations, seed, where, con, db, save, …); `unit` / `time` name the
    data's columns."""
    from analyses.esda import moran as _moran

    return _moran(data, columns, w, id_column=unit, year_column=time, **options)


def lisa(data, column, w, *, unit: str | None = None, time: str = "year", **options: Any) -> LisaResult:
    """Local Moran (LISA) by year: I_i, quadrant, seeded permutation pseudo p-values, clusters and Gi*; equal to
    esda.Moran_Local with the same seed. Arguments as `moran`; `options` are those of `analyses.esda.lisa`
    (years, permutations, seed, correction, alpha, …)."""
    from analyses.esda import lisa as _lisa

    return _lisa(data, column, w, id_column=unit, year_column=time, **options)
