"""Spatial panel econometrics: SAR, SDM, SEM, SDEM and SLX with fixed effects, LeSage–Pace effects, tests."""

from analyses.spatial_panel.model import spatial_panel
from analyses.spatial_panel.panel import SpatialPanelError
from analyses.spatial_panel.result import SpatialPanelResult
from analyses.spatial_panel.tables import effects_table, regression_table

__all__ = ["SpatialPanelError", "SpatialPanelResult", "effects_table", "regression_table", "spatial_panel"]
