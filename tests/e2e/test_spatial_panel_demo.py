"""End to end: a two-way SDM on the demo city panel from the CLI, stored in analysis.* (SYNTHETIC data)."""

from __future__ import annotations

import shutil

import libpysal
import numpy as np
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection

YEARS = (2011, 2022)
VARS = ("gdp", "fai", "pop")
# an explicit balanced subset: cities with positive gdp, fai and pop in every year of the window
WHERE = (f"year between {YEARS[0]} and {YEARS[1]} and city_code in (select city_code from fct_city_year "
         f"where year between {YEARS[0]} and {YEARS[1]} and {' and '.join(f'{v} > 0' for v in VARS)} "
         f"group by city_code having count(*) = {YEARS[1] - YEARS[0] + 1})")


def test_demo_city_sdm_runs_from_the_cli_and_writes_its_tables(demo, tmp_path):
    db = tmp_path / "geopanel.duckdb"
    shutil.copyfile(demo[0], db)
    with connection(db, read_only=True) as con:
        # the demo panel is unbalanced at the edges (三沙 from 2012, 巢湖 to 2010, 莱芜 to 2018 …)
        kept = con.execute(f"select distinct city_code from fct_city_year where {WHERE}").df()["city_code"]
        dropped = con.execute(f"select distinct city_code, name_zh from fct_city_year where city_code not in "
                              f"(select city_code from fct_city_year where {WHERE})").fetchall()
        cities = con.execute(f"""select city_code, centroid_lon, centroid_lat from dim_city
                                 where city_code in (select city_code from fct_city_year where {WHERE})
                                 order by city_code""").fetchall()
    print(f"balanced demo subset {YEARS[0]}–{YEARS[1]}: {len(kept)} cities kept, dropped {dropped}")
    assert len(kept) > 250 and len(dropped) > 0
    ids = [c[0] for c in cities]
    w = libpysal.weights.KNN.from_array(np.array([[c[1], c[2]] for c in cities]), k=6, ids=ids)
    gal = tmp_path / "knn6_city.gal"
    writer = libpysal.io.open(str(gal), "w")
    writer.write(w)
    writer.close()
    args = ["spatial-panel", "fit", "np.log(gdp) ~ np.log(fai) + np.log(pop)", "--data", "fct_city_year",
            "--where", WHERE, "--w", str(gal), "--model", "sdm", "--effects", "twoways", "--lee-yu",
            "--draws", "500", "--db", str(db)]
    out = CliRunner().invoke(app, args)
    # fct_city_year has not been through `geopanel check` in this copy: the quality gate refuses
    assert out.exit_code == 1 and "quality gate" in out.output
    out = CliRunner().invoke(app, [*args, "--allow-failing-checks"])
    assert out.exit_code == 0, out.output
    assert "stored as run" in out.output and "direct" in out.output
    with connection(db, read_only=True) as con:
        run = con.execute("select run_id, n_units, n_periods, quality_status from analysis.model_runs").fetchall()
        assert len(run) == 1 and run[0][1:] == (len(kept), 12, "unchecked-allowed")
        for table, rows in (("model_estimates", 6), ("model_effects", 6)):  # β, θ, ρ, σ²; 2 × 3
            assert con.execute(f"select count(*) from analysis.{table} where run_id = ?", [run[0][0]]
                               ).fetchone()[0] == rows
        assert con.execute("select count(*) from analysis.model_tests").fetchone()[0] >= 9
