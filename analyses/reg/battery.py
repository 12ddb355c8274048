"""The mechanism and robustness battery of a `reg` formula, for its first regressor x (the rest are controls):
moderation, mediation (three-step or two-step), split samples with between-group tests, Altonji / Oster selection
ratios, and the FE vs RE Hausman test — on the data and sample `reg` prepares (contract, winsorising, L./F.).

    b = battery("panel.csv", "y ~ d + pop + fai | city + year", unit="city", vce="cluster:city",
                moderator="hum", mediator="inn", split="east")
    b.fits        # RegResult columns for the paper table; b.tests: one row per test; b.as_dict()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analyses.reg.fit import RegResult, gate, prepare_data, split_formula
from analyses.reg.prepare import RegError


@dataclass
class Battery:
    """The fits (paper-table columns), the tests, and the objects behind them."""

    x: str
    fits: list[RegResult] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    details: dict[str, Any] = field(default_factory=dict)
    quality: str = "not-checked"

    def as_dict(self) -> dict:
        def num(v):
            v = v.item() if hasattr(v, "item") else v
            return None if isinstance(v, float) and not math.isfinite(v) else v
        out = {"x": self.x, "quality": self.quality,
               "models": [{"label": lab, **f.as_dict()} for lab, f in zip(self.labels, self.fits, strict=True)],
               "tests": [{k: num(v) for k, v in r.items()} for r in self.tests.to_dict("records")]}
        if "selection" in self.details:
            out["selection"] = self.details["selection"].as_dict()
        if "hausman" in self.details:
            out["hausman"] = {k: (num(v) if not isinstance(v, list) else v)
                              for k, v in self.details["hausman"].as_dict().items()}
        return out


def battery(data: Any, formula: str, *, con=None, unit: str | None = None, time: str | None = None,
            where: str | None = None, vce: str = "iid", winsor: float | None = None, winsor_by_year: bool = False,
            moderator: str | None = None, mediator: str | None = None, steps: int = 3, split: str | None = None,
            selection: bool = False, hausman: bool = False, reps: int = 500, seed: int = 20240601,
            allow_failing_checks: bool = False) -> Battery:
    """Run the requested analyses for the formula's first regressor (OLS formulas; not IV)."""
    from analyses.reg import hausman as hausman_mod
    from analyses.reg import mechanisms
    from analyses.reg import selection as selection_mod

    frame, fitted, panel = prepare_data(data, formula, con=con, unit=unit, time=time, where=where, vce=vce,
                                        winsor=winsor, winsor_by_year=winsor_by_year)
    y, rhs, fe, iv = split_formula(fitted)
    if iv is not None:
        raise RegError("mechanisms and selection ratios take an OLS formula; leave out the IV part")
    if not rhs:
        raise RegError(f"{formula}: name the regressor of interest first, e.g. y ~ x + controls")
    x, controls = rhs[0], rhs[1:]
    out = Battery(x=x, quality=gate(con, panel, allow_failing_checks))
    rows = []
    if moderator:
        fit = mechanisms.moderation(frame, y, x, moderator, controls, fe, vce)
        out.fits.append(fit)
        out.labels.append(f"moderation by {moderator}")
    if mediator:
        med = mechanisms.mediation(frame, y, x, mediator, controls, fe, vce, steps=steps, reps=reps, seed=seed)
        out.details["mediation"] = med
        steps_fits = [(f"(1) {y} on {x}", med.total), (f"(2) {mediator} on {x}", med.a_fit)]
        if med.outcome is not None:
            steps_fits.append((f"(3) {y} on {x} and {mediator}", med.outcome))
            rows.append({"test": f"Sobel: indirect effect of {x} through {mediator}", "statistic": med.sobel_z,
                         "p_value": med.sobel_p,
                         "note": f"a·b = {med.indirect:.6g}; cluster bootstrap 95% CI {med.boot_ci[0]:.6g}.."
                                 f"{med.boot_ci[1]:.6g} ({reps} draws, seed {seed})"})
        for label, fit in steps_fits:
            out.fits.append(fit)
            out.labels.append(label)
    if split:
        res = mechanisms.split_sample(frame, y, x, split, controls, fe, vce, reps=reps, seed=seed)
        out.details["split"] = res
        for r in res.effects.itertuples():
            sub = frame[frame[split].astype(str) == r.group.split(" = ", 1)[1]]
            out.fits.append(mechanisms._fit(sub, y, [x, *controls], fe, vce))
            out.labels.append(r.group)
        rows += [{**t, "note": f"difference {res.difference:.6g} ({x}, second group minus first)"}
                 for t in res.tests().to_dict("records")]
    if selection:
        sel = selection_mod.selection_ratios(frame, y, x, controls, fe=fe, vce=vce)
        out.details["selection"] = sel
        rows += [{"test": "Altonji-Elder-Taber ratio", "statistic": sel.aet_ratio, "p_value": None, "note": None},
                 {"test": "Oster delta (beta = 0)", "statistic": sel.oster_delta, "p_value": None,
                  "note": f"exact, as psacalc; R_max {sel.r_max:.4f}; beta* (delta = 1) {sel.oster_beta:.6g}; "
                          f"eq. (3) approximations: delta {sel.oster_delta_approx:.6g}, "
                          f"beta* {sel.oster_beta_approx:.6g}"}]
    if hausman:
        if panel.unit is None or panel.time is None:
            raise RegError("the Hausman test needs the panel index: name --unit and --time")
        h = hausman_mod.hausman(frame, y, rhs, panel.unit, panel.time)
        out.details["hausman"] = h
        rows.append({"test": "Hausman FE vs RE", "statistic": h.statistic, "p_value": h.p_value,
                     "note": f"chi2({h.df}) {h.note}".strip()})
    out.tests = pd.DataFrame(rows, columns=["test", "statistic", "p_value", "note"])
    return out
