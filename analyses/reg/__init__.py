"""Regressions of the papers beyond the spatial ones: `reg` (any fixed effects, IV with weak-instrument
diagnostics, stepwise columns), the Hansen (1999) panel threshold, and esttab-style tables."""

from analyses.reg.fit import RegResult, reg, stepwise
from analyses.reg.prepare import RegError

__all__ = ["RegError", "RegResult", "reg", "stepwise"]
