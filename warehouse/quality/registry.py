"""Every check kind: its function, default severity, default parameters, engine and stage.

Defaults: structural and impossible-value checks are errors (estimation must not run); judgement calls
(coverage, balance, outliers, overlaps, other rejects) are warnings. Every default can be overridden per
check in the table's `.checks.yml`. Stage 1 runs after stage 0 on the same table, so generic checks can
skip what specific ones already reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warehouse.quality import expectations as ge
from warehouse.quality import indicators, panel, rejects, spatial
from warehouse.quality.context import TableContext
from warehouse.quality.results import CheckResult
from warehouse.quality.spec import CheckSpec

UNIT_REASONS = ["unknown %", "ambiguous %", "no % under %", "% is not valid in %", "% is not a province in %",
                "% is not a city in %", "% is not a county in %"]


@dataclass(frozen=True)
class Kind:
    name: str
    run: Callable[[TableContext, CheckSpec], list[CheckResult]]
    severity: str
    defaults: dict[str, Any] = field(default_factory=dict)
    engine: str = "custom"
    stage: int = 0


_GEOM = {"geometry_column": "geometry", "where": None}
KINDS: dict[str, Kind] = {k.name: k for k in (
    # keys
    Kind("unique_key", ge.unique_key, "error", engine="great_expectations"),
    Kind("not_null", ge.not_null, "error", engine="great_expectations"),
    Kind("codes_in_dim", ge.codes_in_dim, "error", {"dim": None, "dim_column": None}, engine="great_expectations"),
    Kind("unmapped_units", rejects.unmapped_units, "error", {"unit_reasons": UNIT_REASONS}),
    Kind("rejected_rows", rejects.rejected_rows, "warn", {"unit_reasons": UNIT_REASONS}),
    # completeness
    Kind("year_gaps", panel.year_gaps, "error"),
    Kind("series_gaps", panel.series_gaps, "warn"),
    Kind("coverage", panel.coverage, "warn", {"min_ratio": 0.8}),
    Kind("balanced_panel", panel.balanced_panel, "warn", {"min_share": 0.5}),
    Kind("empty_units", panel.empty_units, "warn"),
    # plausibility
    Kind("share", ge.share, "error", {"min": 0.0, "max": 1.0}, engine="great_expectations"),
    Kind("non_negative", ge.non_negative, "error", {"min": 0.0, "max": None}, engine="great_expectations"),
    Kind("range", ge.value_range, "warn", {"min": None, "max": None}, engine="great_expectations"),
    Kind("unit_jump", panel.unit_jump, "error", {"factors": [10, 100, 10000], "tolerance": 0.15}),
    Kind("outliers", panel.outliers, "warn", {"max_z": 8.0}, stage=1),
    # geometry
    Kind("geometry_valid", spatial.geometry_valid, "error", dict(_GEOM)),
    Kind("geometry_empty", spatial.geometry_empty, "error", dict(_GEOM)),
    Kind("geometry_missing", spatial.geometry_missing, "error", dict(_GEOM)),
    Kind("geometry_overlaps", spatial.geometry_overlaps, "warn", {**_GEOM, "max_overlap": 0.01}),
    # spatial weights
    Kind("weights_islands", spatial.weights_islands, "error"),
    Kind("weights_symmetry", spatial.weights_symmetry, "error",
         {"asymmetric_kinds": ["knn", "nearest", "kernel", "nested"]}),
    Kind("weights_row_sums", spatial.weights_row_sums, "error", {"tolerance": 1e-6}),
    Kind("weights_components", spatial.weights_components, "warn", {"max_components": 1}),
    # indicator layers
    Kind("no_nan", indicators.no_nan, "error"),
    Kind("weights_sum_to_one", indicators.weights_sum_to_one, "error",
         {"weight_column": "weight", "group_by": None, "tolerance": 1e-6}),
)}
