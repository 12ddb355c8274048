"""`geopanel did` on any data: the same battery on mpdta read as a warehouse table, a SQL query and a CSV file gives
the same estimates; warehouse data pass the quality gate, files are 'not-checked'."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geopanel.cli import app
from warehouse.db import connection

MPDTA = Path(__file__).parents[1] / "fixtures" / "mpdta.csv"
SOURCES = {"table": "mpdta", "query": 'select m.* from mpdta as m where m."first.treat" is not null', "file": None}
FAST = ["--unit", "countyreal", "--cohort", "first.treat", "--window", "-3:3", "--stacked-window", "-1:1",
        "--placebo", "20", "--boot", "20", "--json"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, Path]:
    """A small warehouse holding mpdta as main.mpdta (never checked), and the same rows as a CSV file."""
    folder = tmp_path_factory.mktemp("did_data")
    db = folder / "small.duckdb"
    csv = folder / "mpdta.csv"
    shutil.copy(MPDTA, csv)
    with connection(db) as con:
        con.execute(f"create table main.mpdta as select * from read_csv('{MPDTA}')")
    return db, csv


def run(db: Path, data: str, *extra: str, out: Path) -> tuple[int, str, str]:
    """Exit code, stdout (the JSON with --json) and stderr (messages with --json; else everything)."""
    result = CliRunner().invoke(app, ["did", "lemp", "--data", data, *extra, "--db", str(db), "--out", str(out)])
    return result.exit_code, result.stdout, result.stderr if "--json" in extra else result.output


@pytest.fixture(scope="module")
def three_ways(warehouse, tmp_path_factory) -> dict[str, dict]:
    db, csv = warehouse
    runs = {}
    for name, data in SOURCES.items():
        code, out, err = run(db, data or str(csv), *FAST, "--allow-failing-checks",
                             out=tmp_path_factory.mktemp(name))
        assert code == 0, err
        runs[name] = json.loads(out)
    return runs


def test_table_query_and_file_give_identical_estimates(three_ways):
    table = three_ways["table"]
    for name in ("query", "file"):
        other = three_ways[name]
        for key in ("sample", "estimates", "event_study", "dynamic_by_estimator", "robustness", "bacon",
                    "callaway_santanna", "stacked", "placebo", "notes"):
            assert other[key] == table[key], (name, key)


def test_json_holds_every_estimate_and_the_cs_overall_aggregates(three_ways):
    result = three_ways["file"]
    assert result["sample"] == {"units": 500, "periods": 5, "treated_units": 191, "adoption_years": [2004, 2006, 2007],
                                "dropped_units": 0, "timing": "cohort column",
                                "cohorts": {"never": 309, "2004": 20, "2006": 40, "2007": 131}, "never_code": "0",
                                "listings_verified": None, "listings_unverified": None}  # no seed codes a file
    assert result["coding"] == ("mpdta.csv: first.treat: never treated coded 0 (309 units); cohorts 2004 (20), 2006 "
                                "(40), 2007 (131)")
    estimators = [e["estimator"] for e in result["estimates"]]
    assert estimators[:3] == ["TWFE", "Callaway–Sant'Anna (never treated)", "Callaway–Sant'Anna (not-yet treated)"]
    overall = {row["kind"]: row for row in result["callaway_santanna"]["never"]["aggregates"]
               if row["term"] == "overall"}
    # R did aggte(..., bstrap = FALSE) on mpdta (csdid repository, r_ref/ref_aggte.csv): overall.att, overall.se
    assert overall["simple"]["att"] == pytest.approx(-0.0399512751551763, abs=1e-10)
    assert overall["group"]["se"] == pytest.approx(0.0124460593209979, abs=1e-10)
    assert overall["dynamic"]["att"] == pytest.approx(-0.0772398214573151, abs=1e-10)
    assert overall["calendar"]["se"] == pytest.approx(0.01597185188456, abs=1e-10)
    assert {row["event_time"] for row in result["sun_abraham"]} == {-4, -3, -2, 0, 1, 2, 3}  # -1 the reference
    assert all(row["se"] > 0 for row in result["sun_abraham"] + result["stacked"]["event_study"] if row["se"])
    # cohort 2004 has one untreated year: the imputation is not estimable, said so, never 0 ± 0
    imputation = next(e for e in result["estimates"] if e["estimator"].startswith("two-stage"))
    assert imputation["estimate"] is None and imputation["se"] is None
    assert any("20 units have fewer than two untreated periods" in n for n in result["notes"])


def test_warehouse_runs_pass_the_gate_and_every_run_is_stored(three_ways, warehouse):
    db, _ = warehouse
    assert three_ways["table"]["quality"] == three_ways["query"]["quality"] == "unchecked-allowed"
    assert three_ways["file"]["quality"] == "not-checked"
    with connection(db, read_only=True) as con:
        runs = con.execute("select run_id, data_source, quality_status, data_fingerprint from analysis.model_runs "
                           "where kind = 'did'").df().set_index("run_id")
        estimates = con.execute("select run_id, term, estimate from analysis.model_estimates").df()
    for name, result in three_ways.items():
        row = runs.loc[result["run_id"]]
        assert row["quality_status"] == result["quality"]
        assert pd.notna(row["data_fingerprint"]) == (name == "table")  # a query may read several tables
        stored = estimates[(estimates["run_id"] == result["run_id"])
                           & (estimates["term"] == "dynamic [Callaway–Sant'Anna (never treated)]")]
        assert stored["estimate"].iloc[0] == pytest.approx(-0.0772398214573151, abs=1e-10)


def test_unchecked_warehouse_data_are_refused_without_allow_failing_checks(warehouse, tmp_path):
    db, _ = warehouse
    for data in (SOURCES["table"], SOURCES["query"]):
        code, out, err = run(db, data, *FAST, out=tmp_path)
        assert code == 1 and out == ""
        assert "main.mpdta" in err and "never checked" in err


def test_flag_and_coding_errors_say_what_to_change(warehouse, tmp_path):
    db, csv = warehouse
    code, _, err = run(db, str(csv), "--unit", "countyreal", out=tmp_path)
    assert code == 1 and "--data needs --cohort" in err
    code, _, err = run(db, str(csv), *FAST[:4], "--rule", "july", out=tmp_path)
    assert code == 1 and "--rule sets the timing of a seeded policy" in err
    bad = tmp_path / "bad.csv"
    bad.write_text(csv.read_text().replace(",2007,1\n", ",1,1\n"), encoding="utf-8")
    code, _, err = run(db, str(bad), *FAST, out=tmp_path)
    assert code == 1
    assert ("bad.csv: first.treat holds 2004, 2006 and 1; 1 is neither a panel period (2003–2007) nor a never-treated "
            "code (0, empty, inf): recode it") in " ".join(err.split())


def test_all_treated_data_and_stray_flags_are_refused_with_what_to_do(warehouse, tmp_path):
    db, csv = warehouse
    treated_only = tmp_path / "treated.csv"
    lines = csv.read_text().splitlines()
    treated_only.write_text("\n".join([lines[0], *[x for x in lines[1:] if not x.endswith(",0,0")]]) + "\n")
    code, _, err = run(db, str(treated_only), *FAST, out=tmp_path)
    assert code == 1
    assert "treated.csv is treated by 2007: the estimators need never-treated units" in " ".join(err.split())
    code, _, err = run(db, str(csv), *[x for x in FAST if x not in ("--stacked-window", "-1:1")], out=tmp_path)
    assert code == 1 and "with --stacked-window LOW:HIGH (now -3:3)" in " ".join(err.split())
    result = CliRunner().invoke(app, ["did", "gdp", "--unit", "countyreal", "--db", str(db)])
    assert result.exit_code == 1 and "--unit names a column of --data" in result.output


def test_cohort_column_reproduces_the_policy_run_on_the_demo(demo, tmp_path):
    # the battery with --cohort on a query joining the stored treatment table runs the same estimators as --policy
    copy = tmp_path / "w.duckdb"
    shutil.copyfile(demo[0], copy)
    common = ["--log", "--placebo", "30", "--allow-failing-checks", "--json", "--db", str(copy)]
    by_policy = CliRunner().invoke(app, ["did", "gdp", "--rule", "july", *common, "--out", str(tmp_path / "a")])
    assert by_policy.exit_code == 0, by_policy.output
    query = ("select f.city_code, f.year, f.gdp, t.cohort from fct_city_year as f join "
             "analysis.treat_demonstration_zone_city_year as t on t.unit = f.city_code and t.year = f.year")
    by_cohort = CliRunner().invoke(app, ["did", "gdp", "--data", query, "--unit", "city_code", "--cohort", "cohort",
                                         *common, "--out", str(tmp_path / "b")])
    assert by_cohort.exit_code == 0, by_cohort.output
    a, b = json.loads(by_policy.stdout), json.loads(by_cohort.stdout)
    assert b["quality"] == "unchecked-allowed"  # both tables the query reads pass through the gate
    assert b["sample"]["adoption_years"] == a["sample"]["adoption_years"]
    assert b["sample"]["units"] == a["sample"]["units"]
    assert [e["estimator"] for e in b["estimates"]] == [e["estimator"] for e in a["estimates"]]
    for mine, theirs in zip(b["estimates"], a["estimates"], strict=True):
        # rows come in another order: pyfixest's iterative demeaning (did2s) agrees to its tolerance, ~1e-12
        assert mine["estimate"] == pytest.approx(theirs["estimate"], abs=1e-9)
        assert mine["se"] == pytest.approx(theirs["se"], abs=1e-9)
    for control in ("never", "notyet"):
        for mine, theirs in zip(b["callaway_santanna"][control]["aggregates"],
                                a["callaway_santanna"][control]["aggregates"], strict=True):
            assert mine["att"] == pytest.approx(theirs["att"], abs=1e-12)
            assert mine["se"] == pytest.approx(theirs["se"], abs=1e-12)
    assert b["placebo"] == a["placebo"]


def test_python_api_on_a_dataframe_and_a_parquet_file_equals_the_csv_run(three_ways, tmp_path):
    from analyses.did.report import run_battery_on_data

    frame = pd.read_csv(MPDTA)
    parquet = tmp_path / "mpdta.parquet"
    frame.to_parquet(parquet)
    options = {"cohort": "first.treat", "unit": "countyreal", "window": (-3, 3), "stacked_window": (-1, 1),
               "placebo_reps": 20, "boot_reps": 20}
    csv_run = three_ways["file"]
    for data in (frame, str(parquet)):
        battery = run_battery_on_data(None, data, "lemp", tmp_path / "out", **options)
        result = battery.as_dict("lemp")
        assert result["quality"] == "not-checked"
        for key in ("estimates", "callaway_santanna", "event_study", "placebo"):
            assert result[key] == csv_run[key], key
