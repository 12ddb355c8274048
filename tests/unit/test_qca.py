"""fsQCA (analyses.qca) on Ragin's Lipset data, and the minimiser against an exhaustive Boolean check.

Reference: Lipset's indicators of the survival of democracy in 18 inter-war European countries, as used by
Ragin (2009, "Qualitative Comparative Analysis Using Fuzzy Sets", in Rihoux & Ragin, *Configurational
Comparative Methods*, p. 112) and shipped with R's QCA package (Dusa), version 3.23: raw data `LR`
(data/LR.tab.gz), calibrated memberships `LF` (data/LF.rda), documented in man/Lipset.Rd; the solutions of
`minimize(truthTable(LF, SURV, incl.cut = 0.8))` are the examples of man/minimize.Rd ("Lipset fuzzy sets data
(Ragin 2009, p.112)"). Printed digits (inclS, PRI, covS, covU, truth-table incl and PRI, easy counterfactuals)
are R QCA's own output as its test suite records it: github.com/dusadrian/QCA, commit ee9fd13,
tests/testthat/_snaps/minimize.md, truthTable.md, pof.md and calibrate.md (Lipset LC and LF, Emmenegger's
job-security data d.jobsecurity and Cebotari & Vink's CVF, data/*.tab.* of QCA 3.23).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyses.qca import (
    CROSSOVER_FIX,
    R_LOG_ODDS,
    FsQCA,
    QCAError,
    TruthTable,
    calibrate,
    calibrate_frame,
    fsqca,
    minimal_covers,
    minimize,
    necessity,
    prime_implicants,
    term_label,
    term_membership,
)

CASES = ["AU", "BE", "CZ", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "NL", "PL", "PT", "RO", "ES", "SE", "UK"]
CONDITIONS = ["DEV", "URB", "LIT", "IND", "STB"]
# R QCA 3.23 data/LR.tab.gz (Lipset 1959 raw data)
LR = pd.DataFrame({
    "case": CASES,
    "DEV": [720, 1098, 586, 468, 590, 983, 795, 390, 424, 662, 517, 1008, 350, 320, 331, 367, 897, 1038],
    "URB": [33.4, 60.5, 69, 28.5, 22, 21.2, 56.5, 31.1, 36.3, 25, 31.4, 78.8, 37, 15.3, 21.9, 43, 34, 74],
    "LIT": [98, 94.4, 95.9, 95, 99.1, 96.2, 98, 59.2, 85, 95, 72.1, 99.9, 76.9, 38, 61.8, 55.6, 99.9, 99.9],
    "IND": [33.4, 48.9, 37.4, 14, 22, 34.8, 40.4, 28.1, 21.6, 14.5, 29.6, 39.3, 11.2, 23.1, 12.2, 25.5, 32.3, 49.9],
    "STB": [10, 4, 6, 6, 9, 5, 11, 10, 13, 5, 9, 2, 21, 19, 7, 12, 6, 4],
    "SURV": [-9, 10, 7, -6, 4, 10, -9, -8, -1, 8, -9, 10, -6, -9, -4, -8, 10, 10],
})
# R QCA 3.23 data/LF.rda: the printed fuzzy memberships (Ragin 2009)
LF_PRINTED = """
AU 0.81 0.12 0.99 0.73 0.43 0.05
BE 0.99 0.89 0.98 1.00 0.98 0.95
CZ 0.58 0.98 0.98 0.90 0.91 0.89
EE 0.16 0.07 0.98 0.01 0.91 0.12
FI 0.58 0.03 0.99 0.08 0.58 0.77
FR 0.98 0.03 0.99 0.81 0.95 0.95
DE 0.89 0.79 0.99 0.96 0.31 0.05
GR 0.04 0.09 0.13 0.36 0.43 0.06
HU 0.07 0.16 0.88 0.07 0.13 0.42
IE 0.72 0.05 0.98 0.01 0.95 0.92
IT 0.34 0.10 0.41 0.47 0.58 0.05
NL 0.98 1.00 0.99 0.94 0.99 0.95
PL 0.02 0.17 0.59 0.00 0.00 0.12
PT 0.01 0.02 0.01 0.11 0.01 0.05
RO 0.01 0.03 0.17 0.00 0.84 0.21
ES 0.03 0.30 0.09 0.21 0.20 0.06
SE 0.95 0.13 0.99 0.67 0.91 0.95
UK 0.98 0.99 0.99 1.00 0.98 0.95
"""
LF = pd.DataFrame([line.split() for line in LF_PRINTED.strip().splitlines()],
                  columns=["case", *CONDITIONS, "SURV"]).set_index("case").astype(float)
# The anchors that reproduce LF (full-out, crossover, full-in); STB is reversed: more cabinets, less stability.
ANCHORS = {"DEV": (400, 550, 900), "URB": (25, 50, 65), "LIT": (50, 75, 90), "IND": (20, 30, 40),
           "STB": (15, 9.5, 5), "SURV": (-9, 0, 10)}
ALL_PRESENT = dict.fromkeys(CONDITIONS, 1)


@pytest.fixture(scope="module")
def lipset() -> FsQCA:
    return FsQCA(LF, "SURV", CONDITIONS, incl_cut=0.8, dir_exp=ALL_PRESENT)


# ------------------------------------------------------------------------------------------ calibration
def test_direct_calibration_of_the_raw_lipset_data_gives_every_printed_membership():
    mem = calibrate_frame(LR.set_index("case"), ANCHORS, list(ANCHORS))
    assert (mem.round(2) - LF).abs().to_numpy().max() < 1e-9  # all 108 memberships to the printed 2 digits


def test_rs_log_odds_of_0_95_do_not_reproduce_the_printed_lipset_memberships():
    # LF was made with Ragin's ±3 log odds (fsQCA); R's default 0.95 changes 24 of the 108 printed values
    mem = calibrate_frame(LR.set_index("case"), ANCHORS, list(ANCHORS), log_odds=R_LOG_ODDS)
    assert int(((mem.round(2) - LF).abs() > 1e-9).sum().sum()) == 24
    assert calibrate([900], 400, 550, 900, log_odds=R_LOG_ODDS)[0] == pytest.approx(0.95)


def test_each_side_of_the_crossover_has_its_own_scale():
    # Ragin 2008 ch. 5: deviation 170 above the crossover, scale 3/350 → log odds 1.457 → 0.811
    out = calibrate([720, 468, 900, 400], 400, 550, 900)
    assert out[0] == pytest.approx(1 / (1 + np.exp(-170 * 3 / 350)))
    assert out[1] == pytest.approx(1 / (1 + np.exp(82 * 3 / 150)))
    assert out[2] == pytest.approx(1 / (1 + np.exp(-3))) and out[3] == pytest.approx(1 / (1 + np.exp(3)))


def test_a_case_at_the_crossover_gets_0_501_unless_asked_not_to():
    assert calibrate([550.0], 400, 550, 900)[0] == CROSSOVER_FIX
    assert calibrate([550.0], 400, 550, 900, crossover_fix=None)[0] == 0.5


def test_percentile_anchors_are_percentiles_of_the_column():
    x = np.arange(1.0, 32.0)  # 31 provinces
    got = calibrate(x, "p5", "p50", "95%")
    want = calibrate(x, np.percentile(x, 5), np.percentile(x, 50), np.percentile(x, 95))
    np.testing.assert_allclose(got, want)


def test_anchors_in_the_wrong_order_are_refused():
    with pytest.raises(QCAError, match="crossover must lie strictly between"):
        calibrate([1, 2], 5, 10, 8)


# ------------------------------------------------------------------------------------------ necessity
def test_necessity_consistency_coverage_and_relevance_by_hand():
    m = pd.DataFrame({"X": [0.2, 0.8, 0.6], "Y": [0.1, 0.9, 0.4]})
    row = necessity(m, "Y", ["X"]).set_index("condition")
    # Σmin(X,Y) = 0.1 + 0.8 + 0.4 = 1.3; ΣY = 1.4; ΣX = 1.6; Σ(1−X) = 1.4; Σ(1−min) = 1.7
    assert row.loc["X", "consistency"] == pytest.approx(1.3 / 1.4)
    assert row.loc["X", "coverage"] == pytest.approx(1.3 / 1.6)
    assert row.loc["X", "RoN"] == pytest.approx(1.4 / 1.7)
    # ~X = 0.8, 0.2, 0.4: Σmin(~X,Y) = 0.1 + 0.2 + 0.4 = 0.7
    assert row.loc["~X", "consistency"] == pytest.approx(0.7 / 1.4)


def test_lipset_necessity_flags_literacy_and_stability_at_0_9(lipset):
    nec = lipset.necessity.set_index("condition")
    assert nec.index[nec["necessary"]].tolist() == ["LIT", "STB"]
    assert nec.loc["LIT", "consistency"] == pytest.approx(0.991, abs=5e-4)


# ------------------------------------------------------------------------------------------ truth table
def test_lipset_truth_table_rows_cases_and_outcome(lipset):
    tt = lipset.truth_table.observed()
    got = {r.cases: (r.OUT, r.n) for r in tt.itertuples()}
    assert got == {"BE,CZ,NL,UK": (1, 4), "FI,IE": (1, 2), "FR,SE": (0, 2), "EE": (0, 1), "HU,PL": (0, 2),
                   "DE": (0, 1), "AU": (0, 1), "IT,RO": (0, 2), "GR,PT,ES": (0, 3)}
    assert len(lipset.truth_table.rows("?")) == 32 - 9


def test_row_consistency_and_pri_equal_their_sums(lipset):
    m = np.minimum.reduce([LF["DEV"], 1 - LF["URB"], LF["LIT"], 1 - LF["IND"], LF["STB"]])
    y = LF["SURV"].to_numpy()
    row = lipset.truth_table.table.query("DEV == 1 and URB == 0 and LIT == 1 and IND == 0 and STB == 1").iloc[0]
    assert row["incl"] == pytest.approx(np.minimum(m, y).sum() / m.sum())
    neg = np.minimum.reduce([m, y, 1 - y]).sum()
    assert row["PRI"] == pytest.approx((np.minimum(m, y).sum() - neg) / (m.sum() - neg))


# ------------------------------------------------------------------------------------------ solutions
def test_lipset_complex_parsimonious_and_intermediate_solutions_as_r_qca_prints_them(lipset):
    assert lipset.complex.expression == "DEV*URB*LIT*IND*STB + DEV*~URB*LIT*~IND*STB"
    assert lipset.parsimonious.expression == "DEV*~IND + URB*STB"
    assert lipset.intermediate.expression == "DEV*URB*LIT*STB + DEV*LIT*~IND*STB"
    # twelve simplifying assumptions, one of them an easy counterfactual (DEV*URB*LIT*~IND*STB)
    assert len(lipset.parsimonious.remainders) == 12
    assert [term_label(r, CONDITIONS) for r in lipset.intermediate.remainders] == ["DEV*URB*LIT*~IND*STB"]


def test_solution_fit_equals_its_definition(lipset):
    # independent computation from the printed memberships: inclS, covS and covU of the intermediate terms
    y = LF["SURV"].to_numpy()
    t1 = np.minimum.reduce([LF["DEV"], LF["URB"], LF["LIT"], LF["STB"]])
    t2 = np.minimum.reduce([LF["DEV"], LF["LIT"], 1 - LF["IND"], LF["STB"]])
    sol = np.maximum(t1, t2)
    fit = lipset.intermediate.fit.set_index("term")
    assert fit.loc["DEV*URB*LIT*STB", "inclS"] == pytest.approx(np.minimum(t1, y).sum() / t1.sum())
    assert fit.loc["DEV*URB*LIT*STB", "covS"] == pytest.approx(np.minimum(t1, y).sum() / y.sum())
    assert fit.loc["DEV*LIT*~IND*STB", "covU"] == pytest.approx(
        (np.minimum(sol, y).sum() - np.minimum(t1, y).sum()) / y.sum())
    assert lipset.intermediate.inclS == pytest.approx(np.minimum(sol, y).sum() / sol.sum())
    assert lipset.intermediate.covS == pytest.approx(np.minimum(sol, y).sum() / y.sum())
    # the digits geopanel prints for them (computed, not copied from a print)
    assert [round(v, 3) for v in fit["inclS"]] == [0.901, 0.814]
    assert (round(lipset.intermediate.inclS, 3), round(lipset.intermediate.covS, 3)) == (0.866, 0.660)


def test_core_and_peripheral_conditions_of_the_lipset_configurations(lipset):
    conf = lipset.configurations()
    assert conf["S1"].iloc[:5].tolist() == ["peripheral_present", "core_present", "peripheral_present", "",
                                            "core_present"]
    assert conf["S2"].iloc[:5].tolist() == ["core_present", "", "peripheral_present", "core_absent",
                                            "peripheral_present"]


def test_configuration_chart_in_markdown_latex_and_html(lipset):
    md = lipset.chart("markdown", labels={"DEV": "发展 DEV"})
    assert "| 发展 DEV | • | ● |" in md and "| IND |  | ⊗ |" in md and "| solution coverage | 0.660 |" in md
    assert r"\CIRCLE" in lipset.chart("latex") and "$\\otimes$" in lipset.chart("latex")
    assert lipset.chart("html").startswith("<table>")
    with pytest.raises(QCAError):
        lipset.chart("docx")


def test_fsqca_reads_a_csv_through_the_data_contract(tmp_path):
    path = tmp_path / "lipset.csv"
    LR.to_csv(path, index=False)
    fit = fsqca(str(path), "SURV", CONDITIONS, unit="case", anchors=ANCHORS, dir_exp="present")
    assert fit.intermediate.expression == "DEV*URB*LIT*STB + DEV*LIT*~IND*STB"
    assert fit.as_dict()["parsimonious"]["expression"] == "DEV*~IND + URB*STB"


def test_a_panel_needs_a_period(tmp_path):
    panel = pd.concat([LR.assign(year=2020), LR.assign(year=2021)])
    with pytest.raises(QCAError, match="2 periods"):
        fsqca(panel, "SURV", CONDITIONS, unit="case", anchors=ANCHORS)
    fit = fsqca(panel, "SURV", CONDITIONS, unit="case", anchors=ANCHORS, period="mean", dir_exp="present")
    assert fit.parsimonious.expression == "DEV*~IND + URB*STB"


# ------------------------------------------------------------------------------------------ the minimiser
def _covers(term, row) -> bool:
    return all(t == -1 or t == r for t, r in zip(term, row, strict=True))


def _crisp_table(k: int, outs: list[str]) -> TruthTable:
    """One case per non-remainder row, memberships 0/1: row consistency is 1 (OUT 1) or 0 (OUT 0)."""
    conds = [f"C{j}" for j in range(k)]
    rows = []
    for bits, out in zip(itertools.product((0, 1), repeat=k), outs, strict=True):
        if out != "?":
            rows.append({**dict(zip(conds, bits, strict=True)), "Y": float(out == "1")})
    frame = pd.DataFrame(rows, columns=[*conds, "Y"], dtype=float)
    frame.index = [f"c{j}" for j in range(len(frame))]
    return TruthTable(frame, "Y", conds, incl_cut=0.8)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 4).flatmap(
    lambda k: st.tuples(st.just(k), st.lists(st.sampled_from("10?"), min_size=2 ** k, max_size=2 ** k),
                        st.lists(st.sampled_from([None, 0, 1]), min_size=k, max_size=k))))
def test_minimiser_solutions_are_exactly_the_positive_rows_plus_used_remainders(case):
    k, outs, expectations = case
    if "1" not in outs or "0" not in outs:
        return
    tt = _crisp_table(k, outs)
    rows = list(itertools.product((0, 1), repeat=k))
    on = {r for r, o in zip(rows, outs, strict=True) if o == "1"}
    off = {r for r, o in zip(rows, outs, strict=True) if o == "0"}
    dc = {r for r, o in zip(rows, outs, strict=True) if o == "?"}
    dir_exp = {c: e for c, e in zip(tt.conditions, expectations, strict=True) if e is not None}
    covered = {}
    for kind, allowed in (("complex", set()), ("parsimonious", dc), ("intermediate", dc)):
        sol = minimize(tt, kind, dir_exp)
        cover = sol.covered_rows()
        covered[kind] = cover
        # exhaustive Boolean evaluation: the solution is true on every positive row, false on every negative one,
        # and true on a remainder only if it is one the solution says it used
        assert on <= cover and not cover & off
        assert cover - on == set(sol.remainders) & cover <= allowed
        # each term is prime (no literal can go without covering a negative row or an unused remainder) …
        usable = on | set(sol.remainders) if kind != "parsimonious" else on | dc
        for t in sol.terms:
            for j, v in enumerate(t):
                if v != -1:
                    wider = t[:j] + (-1,) + t[j + 1:]
                    assert any(_covers(wider, r) and r not in usable for r in rows)
        # … and none is redundant
        for t in sol.terms:
            rest = [u for u in sol.terms if u != t]
            assert not on <= {r for r in rows if any(_covers(u, r) for u in rest)}
    # the intermediate solution lies between the complex and the parsimonious one
    assert covered["complex"] <= covered["intermediate"] <= covered["parsimonious"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from("10?"), min_size=8, max_size=8))
def test_no_cover_with_fewer_implicants_exists(outs):
    rows = list(itertools.product((0, 1), repeat=3))
    on = [r for r, o in zip(rows, outs, strict=True) if o == "1"]
    dc = [r for r, o in zip(rows, outs, strict=True) if o == "?"]
    if not on:
        return
    best = minimal_covers(prime_implicants(on, dc), on)[0]
    # brute force over all 3^3 implicants inside ON ∪ DC
    ok = set(on) | set(dc)
    implicants = [t for t in itertools.product((-1, 0, 1), repeat=3)
                  if all(r in ok for r in rows if _covers(t, r))]
    smallest = next(n for n in range(1, len(on) + 1) for combo in itertools.combinations(implicants, n)
                    if all(any(_covers(t, r) for t in combo) for r in on))
    assert len(best) == smallest


# ------------------------------------------------------------------------------------------ command line
ANCHOR_TEXT = ";".join(f"{k}={','.join(str(v) for v in a)}" for k, a in ANCHORS.items())


def _cli():
    import typer

    from geopanel.commands.qca import register

    app = typer.Typer()
    register(app)
    return app


def test_anchor_flag_per_column_and_for_all_columns():
    from geopanel.commands.qca import parse_anchors

    assert parse_anchors("DEV=400,550,900;STB=15,9.5,5") == {"DEV": ("400", "550", "900"), "STB": ("15", "9.5", "5")}
    assert parse_anchors("p5,p50,p95") == ("p5", "p50", "p95")


def test_geopanel_qca_json_on_the_lipset_csv(tmp_path):
    import json

    from typer.testing import CliRunner

    path = tmp_path / "lipset.csv"
    LR.to_csv(path, index=False)
    result = CliRunner().invoke(_cli(), [
        "qca", "--data", str(path), "--unit", "case", "--outcome", "SURV", "--conditions", ",".join(CONDITIONS),
        "--anchors", ANCHOR_TEXT, "--json", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["intermediate"]["expression"] == "DEV*URB*LIT*STB + DEV*LIT*~IND*STB"
    assert got["complex"]["expression"] == "DEV*URB*LIT*IND*STB + DEV*~URB*LIT*~IND*STB"
    assert "| STB | ● | • |" in got["chart"]
    assert (tmp_path / "out" / "configurations.md").exists()


def test_geopanel_qca_error_is_one_line(tmp_path):
    from typer.testing import CliRunner

    path = tmp_path / "lipset.csv"
    LR.to_csv(path, index=False)
    result = CliRunner().invoke(_cli(), ["qca", "--data", str(path), "--unit", "case", "--outcome", "SURV",
                                         "--conditions", "DEV,URB", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "values outside [0, 1]" in result.output and "anchors" in result.output


def test_store_writes_the_run_and_its_rows_to_the_warehouse(lipset, tmp_path):
    from datetime import UTC, datetime

    from analyses.qca import store_qca
    from warehouse.db import connection

    with connection(tmp_path / "w.duckdb") as con:
        run_id = store_qca(con, lipset, {"incl_cut": 0.8}, datetime.now(UTC))
        kind, nobs = con.execute("select kind, nobs from analysis.model_runs where run_id = ?", [run_id]).fetchone()
        expr = con.execute("select text from analysis.qca_results where run_id = ? and part = 'intermediate' "
                           "and measure = 'expression'", [run_id]).fetchone()[0]
        n_members = con.execute("select count(*) from analysis.qca_results where part = 'membership'").fetchone()[0]
    assert (kind, nobs, expr, n_members) == ("fsqca", 18, "DEV*URB*LIT*STB + DEV*LIT*~IND*STB", 18 * 6)


def test_a_warehouse_table_must_pass_the_quality_gate(tmp_path):
    from warehouse.db import connection
    from warehouse.quality.gate import QualityGateError

    with connection(tmp_path / "w.duckdb") as con:
        con.register("lr", LR)
        con.execute("create table main.lipset as select * from lr")
        with pytest.raises(QualityGateError):
            fsqca("lipset", "SURV", CONDITIONS, unit="case", anchors=ANCHORS, con=con)
        fit = fsqca("lipset", "SURV", CONDITIONS, unit="case", anchors=ANCHORS, con=con, allow_failing_checks=True)
    assert fit.quality == "unchecked-allowed" and fit.parsimonious.expression == "DEV*~IND + URB*STB"


def test_the_negated_outcome_is_one_minus_the_outcome(lipset):
    table = lipset.necessity_table().set_index("condition")
    y_neg = 1 - LF["SURV"]
    x = LF["IND"]
    assert table.loc["IND", "consistency_negated_outcome"] == pytest.approx(np.minimum(x, y_neg).sum() / y_neg.sum())
    assert table.loc["IND", "coverage_negated_outcome"] == pytest.approx(np.minimum(x, y_neg).sum() / x.sum())
    neg = fsqca(LR, "SURV", CONDITIONS, unit="case", anchors=ANCHORS, negate_outcome=True)
    assert neg.outcome == "~SURV" and neg.truth_table.table.query("n > 0 and OUT == 1")["cases"].str.len().sum() > 0
    # a configuration is sufficient for SURV or for ~SURV, never both at these cutoffs
    pos_rows = set(lipset.truth_table.rows(1))
    assert not pos_rows & set(neg.truth_table.rows(1))


def test_configurations_sharing_a_core_are_numbered_1a_1b():
    # A*B*~C and A*~B*C are positive, A*~B*~C and A*B*C remainders: parsimonious A, intermediate A*B + A*C
    outs = ["0", "0", "0", "0", "?", "1", "1", "?"]  # rows 000 001 010 011 100 101 110 111 (A B C)
    tt = _crisp_table(3, outs)
    fit = FsQCA(tt.memberships, "Y", tt.conditions, dir_exp={"C1": 1, "C2": 1})
    assert fit.parsimonious.expression == "C0" and fit.intermediate.expression == "C0*C1 + C0*C2"
    conf = fit.configurations()
    assert list(conf.columns) == ["S1a", "S1b"] and conf.loc["C0"].tolist() == ["core_present"] * 2


def test_no_sufficient_configuration_is_said_in_words():
    fit = FsQCA(LF, "SURV", CONDITIONS, incl_cut=0.99)
    assert fit.complex.expression == "(none)" and fit.chart().startswith("no configuration is sufficient for SURV")


# ------------------------------------------------------------------------------------------ R QCA's printed output
# R QCA 3.23 data/d.jobsecurity.tab.bz2 (Emmenegger 2011): fuzzy memberships of 19 countries
JOBSECURITY = """
AU 0.00 0.00 0.57 0.20 0.00 1.00 0.14
AT 0.67 1.00 0.57 1.00 0.80 0.67 0.71
BE 1.00 0.67 0.43 1.00 1.00 0.67 0.57
CA 0.00 0.00 0.14 0.20 0.00 1.00 0.14
DK 0.00 0.67 0.86 0.40 0.40 0.00 0.29
FI 0.67 1.00 0.71 0.40 0.40 0.00 0.43
FR 1.00 0.33 0.43 1.00 0.20 0.33 0.71
DE 1.00 1.00 0.43 0.60 0.80 1.00 0.86
IE 0.33 0.00 0.14 1.00 0.40 0.00 0.29
IT 1.00 0.33 0.57 1.00 1.00 0.33 0.86
NL 0.00 0.67 0.29 0.20 1.00 0.67 0.71
NZ 0.67 0.00 0.29 0.00 0.00 0.00 0.14
NO 0.00 1.00 1.00 0.40 0.60 0.00 0.86
PT 1.00 0.00 0.43 1.00 0.20 0.00 1.00
ES 1.00 0.00 0.71 1.00 0.60 0.67 1.00
SE 0.00 1.00 1.00 0.40 0.20 0.33 0.86
CH 0.00 0.67 0.14 0.20 0.80 1.00 0.29
GB 1.00 0.00 0.29 0.00 0.00 0.00 0.14
US 0.00 0.00 0.00 0.00 0.00 1.00 0.00
"""
JS = pd.DataFrame([line.split() for line in JOBSECURITY.strip().splitlines()],
                  columns=["case", "S", "C", "L", "R", "P", "V", "JSR"]).set_index("case").astype(float)


def _fit3(sol) -> list[tuple]:
    return [(r.term, round(r.inclS, 3), round(r.PRI, 3), round(r.covS, 3)) for r in sol.fit.itertuples()]


def test_lipset_fuzzy_at_0_7_to_r_qcas_printed_digits():
    # ttLF <- truthTable(LF, SURV, incl.cut = 0.7) in R QCA's test-minimize.R; output from _snaps/minimize.md
    fit = FsQCA(LF, "SURV", CONDITIONS, incl_cut=0.7, dir_exp=ALL_PRESENT)
    assert fit.complex.expression == "DEV*~URB*LIT*STB + DEV*LIT*IND*STB"
    assert _fit3(fit.complex) == [("DEV*~URB*LIT*STB", 0.809, 0.761, 0.433), ("DEV*LIT*IND*STB", 0.843, 0.821, 0.622)]
    assert [round(v, 3) for v in fit.complex.fit["covU"]] == [0.196, 0.385]
    assert (round(fit.complex.inclS, 3), round(fit.complex.PRI, 3), round(fit.complex.covS, 3)) == (0.871, 0.851, 0.818)
    assert fit.parsimonious.expression == "DEV*STB"
    assert (round(fit.parsimonious.inclS, 3), round(fit.parsimonious.PRI, 3), round(fit.parsimonious.covS, 3)) == (
        0.869, 0.848, 0.824)
    assert fit.intermediate.expression == "DEV*LIT*STB"  # dir.exp = "1,1,1,1,1"


def test_lipset_crisp_to_r_qcas_printed_output():
    lc = (LR.set_index("case").assign(
        DEV=lambda d: d.DEV >= 550, URB=lambda d: d.URB >= 50, LIT=lambda d: d.LIT >= 75, IND=lambda d: d.IND >= 30,
        STB=lambda d: d.STB < 10, SURV=lambda d: d.SURV > 0)).astype(float)  # the crisp rules of man/Lipset.Rd
    fit = FsQCA(lc, "SURV", CONDITIONS, incl_cut=1.0)
    assert fit.complex.expression == "DEV*~URB*LIT*STB + DEV*LIT*IND*STB"
    assert [(round(r.covS, 3), round(r.covU, 3)) for r in fit.complex.fit.itertuples()] == [(0.5, 0.25), (0.75, 0.5)]
    assert fit.parsimonious.expression == "DEV*STB"
    # pLC$SA: rows 18, 20, 26, 28, 30 (R numbers rows from 1 in binary order)
    assert sorted(int("".join(map(str, r)), 2) + 1 for r in fit.parsimonious.remainders) == [18, 20, 26, 28, 30]
    neg = FsQCA(lc.assign(SURV=1 - lc["SURV"]), "SURV", CONDITIONS, incl_cut=1.0)
    assert neg.complex.expression == "~DEV*~URB*~IND + DEV*LIT*IND*~STB"
    assert neg.parsimonious.expression == "~DEV + ~STB"
    assert [(round(r.covS, 3), round(r.covU, 3)) for r in neg.parsimonious.fit.itertuples()] == [(0.8, 0.3),
                                                                                                  (0.7, 0.2)]


def test_job_security_truth_table_to_r_qcas_printed_digits():
    tt = TruthTable(JS, "JSR", ["S", "C", "L", "R", "P", "V"], incl_cut=0.9).table
    got = {i: (r.n, round(r.incl, 3), round(r.PRI, 3)) for i, r in tt[tt["n"] > 0].iterrows()}
    assert got == {2: (2, 0.198, 0.0), 5: (1, 0.581, 0.0), 10: (1, 0.494, 0.0), 20: (2, 0.716, 0.5),
                   25: (2, 0.839, 0.699), 27: (1, 0.94, 0.825), 33: (2, 0.203, 0.0), 37: (2, 0.977, 0.966),
                   47: (1, 1.0, 1.0), 48: (1, 1.0, 1.0), 56: (2, 1.0, 1.0), 57: (1, 0.717, 0.0), 64: (1, 1.0, 1.0)}


def test_job_security_parsimonious_models_and_intermediate_solution_to_r_qcas_printed_digits():
    conds = ["S", "C", "L", "R", "P", "V"]
    fit = FsQCA(JS, "JSR", conds, incl_cut=0.9, dir_exp={"S": 1, "C": 1, "L": 1, "R": 1, "P": 1, "V": 0})
    # M1: S*R + (L*P), M2: S*R + (P*~V)
    assert [" + ".join(term_label(t, conds) for t in m) for m in fit.parsimonious.models] == ["S*R + L*P",
                                                                                               "S*R + P*~V"]
    assert _fit3(fit.parsimonious) == [("S*R", 0.871, 0.821, 0.61), ("L*P", 0.979, 0.955, 0.506)]
    assert [round(v, 3) for v in fit.parsimonious.fit["covU"]] == [0.256, 0.152]  # R's (M1) column
    assert (round(fit.parsimonious.inclS, 3), round(fit.parsimonious.PRI, 3), round(fit.parsimonious.covS, 3)) == (
        0.883, 0.821, 0.762)
    # Emm.si (dir.exp = "1,1,1,1,1,0"): From C1P1, C1P2
    assert _fit3(fit.intermediate) == [("S*R*~V", 0.99, 0.983, 0.402), ("S*C*R*P", 0.965, 0.921, 0.277),
                                       ("S*L*R*P", 1.0, 1.0, 0.354), ("C*L*P*~V", 0.964, 0.872, 0.297)]
    assert [round(v, 3) for v in fit.intermediate.fit["covU"]] == [0.152, 0.041, 0.027, 0.138]
    assert (round(fit.intermediate.inclS, 3), round(fit.intermediate.PRI, 3), round(fit.intermediate.covS, 3)) == (
        0.965, 0.941, 0.685)
    # EC1: the easy counterfactuals, rows 31 39 45 53 55 59 61 63
    assert sorted(int("".join(map(str, r)), 2) + 1 for r in fit.intermediate.remainders) == [
        31, 39, 45, 53, 55, 59, 61, 63]


def test_r_log_odds_reproduce_r_qcas_printed_logistic_calibration():
    # _snaps/calibrate.md: the same y calibrated linearly (logistic = FALSE) and logistically with
    # thresholds e=165, c=175, i=185 (and reversed); the linear memberships give back y = 165 + 20 m
    linear = np.array([0.792764409, 0.854733009, 0.445348343, 0.273251413, 0.802943728, 0.815049276, 0.361907947,
                       0.357920128, 0.040338999, 0.441876097])
    logistic = [0.8486502644, 0.8898274110, 0.4202281368, 0.2082848994, 0.8561899153, 0.8647466321, 0.3072074727,
                0.3022321494, 0.0625681594, 0.4152546341]
    reversed_ = [0.151349736, 0.110172589, 0.579771863, 0.791715101, 0.143810085, 0.135253368, 0.692792527,
                 0.697767851, 0.937431841, 0.584745366]
    y = 165 + 20 * linear
    np.testing.assert_allclose(calibrate(y, 165, 175, 185, log_odds=R_LOG_ODDS), logistic, atol=1e-8)
    np.testing.assert_allclose(calibrate(y, 185, 175, 165, log_odds=R_LOG_ODDS), reversed_, atol=1e-8)


# R QCA 3.23 data/CVF.tab.gz (Cebotari & Vink 2013): ethnic minorities' protest, fuzzy memberships
CVF_TEXT = """
GreeksAlbania 0.41 0.08 0.95 0.88 0.77 0.47
LezginsAzerbaijan 0.06 0.14 0.35 0.05 0.88 0.70
RussiansAzerbaijan 0.06 0.14 0.35 0.24 0.91 0.03
PolesBelarus 0.10 0.32 0.78 0.37 0.80 0.03
RussiansBelarus 0.10 0.32 0.35 0.05 0.60 0.03
CroatsBosnia 0.13 0.86 0.78 0.05 0.66 0.27
MuslimsBosnia 0.13 0.86 0.78 0.05 0.96 0.15
SerbsBosnia 0.13 0.86 0.78 0.05 0.87 0.44
TurksBulgaria 0.87 0.23 0.78 0.05 0.70 0.47
RomaBulgaria 0.87 0.23 0.05 0.95 0.83 0.36
RussiansEstonia 0.82 0.54 0.78 0.80 0.54 0.79
RussiansGeorgia 0.35 0.49 0.35 0.11 0.93 0.33
SardiniansItaly 0.96 0.06 0.95 0.05 0.86 0.02
SouthTyrolians 0.96 0.06 0.95 0.05 0.75 0.36
RussiansLatvia 0.88 0.72 0.35 0.92 0.29 0.85
AlbaniansFYROM 0.56 0.59 0.95 0.58 0.25 0.85
SerbsFYROM 0.56 0.59 0.78 0.05 0.87 0.57
RomaFYROM 0.56 0.59 0.35 0.69 0.95 0.09
GagauzMoldova 0.49 0.54 0.95 0.65 0.60 0.73
SlavsMoldova 0.49 0.54 0.35 0.05 0.51 0.56
HungariansRom 0.70 0.23 0.95 0.83 0.62 0.59
BasquesSpain 0.96 0.51 0.95 0.05 0.38 0.93
CatalansSpain 0.96 0.51 0.95 0.05 0.86 0.56
CatholicsNIreland 0.96 0.26 0.95 0.58 0.75 0.89
ScotsUK 0.96 0.26 0.95 0.05 0.88 0.36
CrimRussiansUkr 0.49 0.39 0.95 0.05 0.06 0.89
RussiansUkraine 0.49 0.39 0.95 0.05 0.34 0.52
HungariansYugo 0.12 0.95 0.95 0.95 0.43 0.85
KosovoAlbanians 0.12 0.95 0.95 0.92 0.41 0.98
"""
CVF = pd.DataFrame([line.split() for line in CVF_TEXT.strip().splitlines()],
                   columns=["case", "DEMOC", "ETHFRACT", "GEOCON", "POLDIS", "NATPRIDE", "PROTEST"]
                   ).set_index("case").astype(float)
CVF_CONDITIONS = ["DEMOC", "ETHFRACT", "GEOCON", "POLDIS", "NATPRIDE"]


def test_necessity_to_r_qcas_printed_digits():
    # _snaps/pof.md: pof(conds, PROTEST), pof(1 - conds, PROTEST) and pof(conds, 1 - PROTEST): inclN, RoN, covN
    fit = FsQCA(CVF, "PROTEST", CVF_CONDITIONS, incl_cut=0.8)
    t = fit.necessity_table().set_index("condition").round(3)
    got = {c: tuple(t.loc[c, ["consistency", "RoN", "coverage"]]) for c in t.index}
    assert got["DEMOC"] == (0.741, 0.758, 0.713) and got["ETHFRACT"] == (0.68, 0.83, 0.755)
    assert got["GEOCON"] == (0.904, 0.492, 0.624) and got["POLDIS"] == (0.518, 0.878, 0.744)
    assert got["NATPRIDE"] == (0.708, 0.523, 0.539) and got["~NATPRIDE"] == (0.597, 0.952, 0.899)
    assert got["~DEMOC"] == (0.564, 0.736, 0.601) and got["~GEOCON"] == (0.317, 0.873, 0.601)
    neg = {c: tuple(t.loc[c, ["consistency_negated_outcome", "coverage_negated_outcome"]]) for c in CVF_CONDITIONS}
    assert neg == {"DEMOC": (0.618, 0.58), "ETHFRACT": (0.574, 0.623), "GEOCON": (0.784, 0.529),
                   "POLDIS": (0.335, 0.47), "NATPRIDE": (0.932, 0.693)}


def test_tied_parsimonious_models_and_their_implicants_to_r_qcas_printed_digits():
    # _snaps/minimize.md, pCVF: four models M1–M4 from six prime implicants
    fit = FsQCA(CVF, "PROTEST", CVF_CONDITIONS, incl_cut=0.8)
    models = {frozenset(term_label(t, CVF_CONDITIONS) for t in m) for m in fit.parsimonious.models}
    common = {"~NATPRIDE", "DEMOC*GEOCON*POLDIS"}
    assert models == {frozenset(common | pair) for pair in (
        {"~DEMOC*ETHFRACT*POLDIS", "DEMOC*ETHFRACT*GEOCON"}, {"~DEMOC*ETHFRACT*POLDIS", "DEMOC*ETHFRACT*~POLDIS"},
        {"DEMOC*ETHFRACT*GEOCON", "ETHFRACT*GEOCON*POLDIS"}, {"DEMOC*ETHFRACT*~POLDIS", "ETHFRACT*GEOCON*POLDIS"})}
    printed = {"~NATPRIDE": (0.899, 0.807, 0.597), "DEMOC*GEOCON*POLDIS": (0.906, 0.805, 0.342),
               "~DEMOC*ETHFRACT*POLDIS": (0.842, 0.718, 0.299), "DEMOC*ETHFRACT*GEOCON": (0.935, 0.826, 0.48),
               "DEMOC*ETHFRACT*~POLDIS": (0.932, 0.773, 0.417), "ETHFRACT*GEOCON*POLDIS": (0.869, 0.786, 0.365)}
    y = CVF["PROTEST"].to_numpy()
    for m in fit.parsimonious.models:
        for t in m:
            m_t = term_membership(t, CVF, CVF_CONDITIONS)
            both = np.minimum(m_t, y).sum()
            neg = np.minimum.reduce([m_t, y, 1 - y]).sum()
            got = (round(both / m_t.sum(), 3), round((both - neg) / (m_t.sum() - neg), 3), round(both / y.sum(), 3))
            assert got == printed[term_label(t, CVF_CONDITIONS)]
