"""The DID battery on the demo warehouse recovers the demonstration-zone effect planted by the DGP."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyses.did import DIDError
from analyses.did.report import run_battery
from geopanel.cli import app
from warehouse.db import connection


@pytest.fixture(scope="module")
def battery(demo, tmp_path_factory):
    db, _, _ = demo
    with connection(db, read_only=True) as con:
        return run_battery(con, "gdp", tmp_path_factory.mktemp("did"), rule="july", log_outcome=True,
                           placebo_reps=300, covariates=("pop",), allow_failing_checks=True)


def test_estimators_recover_the_planted_effect(battery, demo):
    _, files, _ = demo
    truth = json.loads((files / "truth.json").read_text(encoding="utf-8"))
    tau = truth["city"]["policy"]["tau_log_gdp"]  # the DGP's true effect on log GDP
    assert abs(battery.twfe.coef - tau) < 0.015          # seed-specific draw; ~0.039 on the default seed
    post = battery.event_study.table.query("rel_time >= 0")["coef"]
    assert abs(post.mean() - tau) < 0.01                  # the DGP effect is flat from adoption on
    pre = battery.event_study.table.query("rel_time < -1")["coef"]
    assert pre.abs().max() < 0.02                          # no anticipation in the DGP
    robust = battery.robust.set_index("estimator")["att"]
    assert (robust - tau).abs().max() < 0.015              # CS (both controls) and imputation agree


def test_robustness_checks_follow_the_dgp(battery):
    checks = battery.robustness.set_index(["check", "term"])
    anticipation = "anticipation: dummy for the year before adoption"
    assert abs(checks.loc[(anticipation, "pre_1"), "coef"]) < 0.02  # none planted
    assert abs(checks.loc[(anticipation, "treated"), "coef"] - battery.twfe.coef) < 0.01
    checks = checks.xs("treated", level="term")
    data = battery.sample.data
    municipalities = data.loc[data["is_municipality"].astype(bool), "unit"].nunique()
    assert checks.loc["without the four municipalities", "nobs"] == battery.twfe.nobs - 21 * municipalities


def test_psm_did_on_the_demo(battery):
    # in the DGP treatment does not depend on population, so matching changes little and the effect remains
    assert abs(battery.psm.did.coef - 0.05) < 0.02
    assert battery.psm.balance.set_index("covariate").loc["pop", "smd_after"] < 0.1


def test_paper_tables_in_three_formats(battery):
    from analyses.did.paper_tables import did_table, robustness_table

    coef = f"{battery.twfe.coef:.4f}"
    latex = did_table(battery, "latex")
    # columns: TWFE, Callaway–Sant'Anna × 2, imputation, stacked, PSM-DID
    assert latex.startswith(r"\begin{tabular}{lcccccc}") and r"\toprule" in latex and coef in latex
    assert "<table>" in did_table(battery, "html") and coef in did_table(battery, "markdown")
    assert any(f.name == "did_table.tex" for f in battery.files)
    table = robustness_table(battery)  # paper 001, Table 5: PSM-DID first, anticipation with its pre_1 term
    assert table.splitlines()[0].startswith("| | (1) PSM-DID (period-by-period matching) | (2) baseline |")
    assert "pre_1 " in table and any(f.name == "did_robustness.html" for f in battery.files)


def test_bacon_and_placebo_on_the_demo(battery):
    assert battery.bacon.estimate == pytest.approx(battery.twfe.coef, abs=1e-10)
    assert abs(battery.placebo.estimates.mean()) < 0.002
    assert battery.placebo.p_value < 0.01
    assert all(f.exists() and f.stat().st_size > 0 for f in battery.files)


def test_cli_runs_and_stores_the_treatment_table(demo, tmp_path):
    db, _, _ = demo
    copy = tmp_path / "w.duckdb"
    shutil.copyfile(db, copy)
    runner = CliRunner()
    args = ["did", "gdp", "--log", "--rule", "july", "--placebo", "50", "--db", str(copy),
            "--out", str(tmp_path / "out")]
    refused = runner.invoke(app, args)  # the demo copy was never checked: the gate refuses
    assert refused.exit_code == 1 and "fct_city_year" in refused.output and "never checked" in refused.output
    res = runner.invoke(app, [*args, "--allow-failing-checks"])
    assert res.exit_code == 0, res.output
    assert "unchecked-allowed" in res.output
    assert (tmp_path / "out" / "event_study.png").exists()
    with connection(copy, read_only=True) as con:
        rules = con.execute("select distinct rule from analysis.treat_demonstration_zone_city_year").fetchall()
        run = con.execute("select kind, quality_status, nobs from analysis.model_runs").fetchall()
        terms = {r[0] for r in con.execute("select term from analysis.model_estimates").fetchall()}
        placebo_p = con.execute(
            "select p_value from analysis.model_tests where test = 'randomisation placebo'").fetchone()[0]
    assert rules == [("july",)]
    assert run == [("did", "unchecked-allowed", 6972)]
    assert {"treated [TWFE]", "treated [Callaway–Sant'Anna (never treated)]", "event_time 0"} <= terms
    assert placebo_p < 0.05
    bad = runner.invoke(app, ["did", "gdp", "--policy", "no_such_policy", "--allow-failing-checks", "--db", str(copy)])
    assert bad.exit_code == 1 and "no policy 'no_such_policy'" in bad.output
    bad = runner.invoke(app, ["did", "gdpp", "--allow-failing-checks", "--db", str(copy)])
    assert bad.exit_code == 1 and "fct_city_year has no column 'gdpp'" in bad.output


def test_the_sample_can_be_restricted_to_years(demo):
    from analyses.did.sample import policy_sample

    with connection(demo[0], read_only=True) as con:
        sample = policy_sample(con, "demonstration_zone", ["gdp"], rule="july", years=(2005, 2015))
    assert (sample.data["year"].min(), sample.data["year"].max()) == (2005, 2015)
    assert sample.n_treated > 0


def test_a_policy_that_ends_inside_the_sample_is_refused(demo, tmp_path):
    from analyses.did.sample import policy_sample

    copy = tmp_path / "w.duckdb"
    shutil.copyfile(demo[0], copy)
    with connection(copy) as con:
        con.execute("""insert into reference.policy_pilots (policy, policy_name_zh, batch, start_date, end_date, level,
                       unit_code, unit_name_zh, source, verified, note)
                       values ('trial', '试点', 1, '2012-05-01', '2015-12-31', 'city', '340100', '合肥市', 'test',
                               false, 'planted'),
                              ('trial', '试点', 1, '2012-05-01', null, 'city', '340200', '芜湖市', 'test', false,
                               'planted')""")
        with pytest.raises(DIDError, match=r"policy 'trial' stops for 1 units inside the sample years \(first: "
                                           r"340100 in 2016\).*clear end_date"):
            policy_sample(con, "trial", ["gdp"])
        sample = policy_sample(con, "trial", ["gdp"], years=(2008, 2015))  # ends after the sample: fine
    assert sample.n_treated == 2


def test_cli_runs_the_whole_battery_with_flags_mechanism_concurrent_policy_and_spatial_did(demo, tmp_path):
    db, files, _ = demo
    truth = json.loads((files / "truth.json").read_text(encoding="utf-8"))["city"]["policy"]["tau_log_gdp"]
    copy = tmp_path / "geopanel.duckdb"
    shutil.copyfile(db, copy)
    runner = CliRunner()
    built = runner.invoke(app, ["weights", "build", "queen_city", "--kind", "queen", "--level", "city", "--islands",
                                "manual", "--db", str(copy)])
    assert built.exit_code == 0, built.output
    out = tmp_path / "out"
    res = runner.invoke(app, ["did", "gdp", "--log", "--rule", "july", "--placebo", "20", "--controls", "pop",
                              "--by", "is_resource_based,is_large_city", "--mediator", "patent_app_invention",
                              "--moderator", "fai", "--concurrent",
                              "info_consumption_pilot", "--w", "queen_city", "--boot", "49",
                              "--allow-failing-checks", "--db", str(copy), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "stacked DID:" in res.output and "spatial DID: direct" in res.output
    report = (out / "did_report.md").read_text(encoding="utf-8")
    assert (out / "did_heterogeneity.tex").exists()
    stepwise = (out / "did_stepwise.html").read_text(encoding="utf-8")  # 001, Table 3: controls added in turn
    assert "<th>(2)</th>" in stepwise and "within R²" in stepwise
    het = (out / "did_heterogeneity.html").read_text(encoding="utf-8")
    assert "is_resource_based = 1" in het and "is_large_city = 0" in het and "perm. p" in het
    for section in ("## Stacked DID", "## Heterogeneity by city flags",
                    "by adoption cohort and by calendar year", "## Mechanism: patent_app_invention",
                    "## Spatial DID", "controlling for concurrent policies: info_consumption_pilot",
                    "Controls pop enter TWFE", "## Moderation by fai"):
        assert section in report
    with connection(copy, read_only=True) as con:
        terms = dict(con.execute("select term, estimate from analysis.model_estimates").fetchall())
        effects = dict(con.execute("select effect, estimate from analysis.model_effects").fetchall())
        tests = {r[0] for r in con.execute("select test from analysis.model_tests").fetchall()}
    assert abs(terms["treated [stacked DID (weighted)]"] - truth) < 0.015
    assert "treated_x_is_resource_based [moderation]" in terms and "treated_x_is_large_city [moderation]" in terms
    assert "treated_x_fai [moderation by fai]" in terms
    assert "mediation by patent_app_invention: indirect effect a·b" in tests
    assert set(effects) == {"direct", "indirect", "total"}
    assert abs(effects["direct"] - truth) < 0.02  # the DGP has no policy spillover through W·treated
    bad = runner.invoke(app, ["did", "gdp", "--by", "size_class", "--placebo", "0", "--allow-failing-checks",
                              "--db", str(copy)])
    assert bad.exit_code == 1 and "'size_class' is not a 0/1 flag" in bad.output


def test_cli_exclusions_and_cutoff_month_reach_the_treatment_table(demo, tmp_path):
    copy = tmp_path / "geopanel.duckdb"
    shutil.copyfile(demo[0], copy)
    runner = CliRunner()
    base = ["did", "gdp", "--log", "--placebo", "0", "--allow-failing-checks", "--db", str(copy), "--out",
            str(tmp_path / "out")]
    res = runner.invoke(app, [*base, "--exclude-zones", "wanjiang", "--exclude-units", "430400", "--rule", "cutoff",
                              "--cutoff-month", "10"])
    assert res.exit_code == 0, res.output
    with connection(copy, read_only=True) as con:
        table = con.execute("select unit, min(cohort) as cohort, any_value(rule) as rule "
                            "from analysis.treat_demonstration_zone_city_year group by unit").df().set_index("unit")
        spec = json.loads(con.execute("select spec_json from analysis.model_runs").fetchone()[0])
    assert pd.isna(table.loc["340200", "cohort"])  # 芜湖 (皖江 only): now a control
    assert "430400" not in table.index  # dropped from the sample
    assert table.loc["431000", "cohort"] == 2012  # 郴州, 湘南 approved 2011-10: moves a year from October on
    assert spec["exclude_groups"] == ["wanjiang"] and spec["cutoff_month"] == 10
    bad = runner.invoke(app, [*base, "--rule", "cutoff", "--cutoff-month", "13"])
    assert bad.exit_code == 1 and "cutoff month 13 must be 1–12" in bad.output
    # paper 000's restricted comparison sample: Sichuan, Chongqing, Guangxi and Hunan only
    res = runner.invoke(app, [*base, "--provinces", "510000,500000,450000,430000"])
    assert res.exit_code == 0, res.output
    with connection(copy, read_only=True) as con:
        units = {r[0] for r in con.execute("select distinct unit from analysis.treat_demonstration_zone_city_year")
                 .fetchall()}
    assert units and {u[:2] for u in units} == {"51", "45", "43"}  # 重庆 is only partly in its zone: left out
    dropped = pd.read_csv(tmp_path / "out" / "dropped_units.csv", dtype=str)
    assert (dropped["reason"] == "outside the chosen provinces").sum() > 250
    bad = runner.invoke(app, [*base, "--exclude-provinces", "990000"])
    assert bad.exit_code == 1 and "province 990000 has no unit in fct_city_year" in bad.output


def test_the_report_lists_the_treatment_rows_not_verified_against_their_source(battery, demo):
    """The seed rows of the treated cities, with their verification, are in treatment_sources.csv and the
    unverified ones are printed in the report — read back here from the seed file itself, not from the code."""
    seed = pd.read_csv("seeds/policy_demonstration_zones.csv", dtype=str)
    treated = set(battery.sample.data.loc[battery.sample.data["ever_treated"], "unit"])
    rows = seed[seed["city_code"].isin(treated)]
    unverified = rows[rows["verified"].str.lower() != "true"]
    out = next(f for f in battery.files if f.name == "did_report.md").parent
    listed = pd.read_csv(out / "treatment_sources.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(listed["unit"]) == sorted(rows["city_code"])
    report = (out / "did_report.md").read_text(encoding="utf-8")
    assert f"{len(rows) - len(unverified)} verified against their source, {len(unverified)} not verified" in report
    for code in unverified["city_code"]:
        assert code in report.split("Not verified")[1].split("##")[0]
    assert len(unverified) > 0  # the seed has unverified rows (宁夏 date); the listing must show them
