"""Regressions of the papers beyond the spatial ones: `reg` (any fixed effects, IV with weak-instrument
diagnostics, stepwise columns), the Hansen (1999) panel threshold, and esttab-style tables."""

from analyses.reg.battery import Battery, battery
from analyses.reg.fit import RegResult, reg, stepwise
from analyses.reg.prepare import RegError
from analyses.reg.tables import reg_table
from analyses.reg.threshold import ThresholdResult, threshold

__all__ = ["Battery", "RegError", "RegResult", "ThresholdResult", "battery", "reg", "reg_table", "stepwise",
           "threshold"]
