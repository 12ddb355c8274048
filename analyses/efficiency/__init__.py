"""Efficiency and productivity: radial DEA (CCR/BCC, super-efficiency), the DEAP-style Malmquist index,
SBM and super-SBM with undesirable outputs, the directional distance function, and the (global, sequential)
Malmquist–Luenberger index.

    from analyses.efficiency import dea
    dea("fct_province_year", ["labour", "capital"], ["gdp"], unit="province_code", time="year", rts="vrs")
"""

from analyses.efficiency.ddf import DDFResult, ddf
from analyses.efficiency.dea import DEAResult, dea, efficiency_scores
from analyses.efficiency.errors import EfficiencyError
from analyses.efficiency.luenberger import LuenbergerResult, malmquist_luenberger
from analyses.efficiency.malmquist import MalmquistResult, malmquist
from analyses.efficiency.sbm import SBMResult, sbm

__all__ = ["DDFResult", "DEAResult", "EfficiencyError", "LuenbergerResult", "MalmquistResult", "SBMResult", "ddf",
           "dea", "efficiency_scores", "malmquist", "malmquist_luenberger", "sbm"]
