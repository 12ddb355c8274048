"""Check declarations: one `<table>.checks.yml` per table, read into `TableChecks` / `CheckSpec`.

Declarations live beside the dbt models they check (`models/**/<model>.checks.yml`; `.dbtignore` keeps
dbt from parsing them) and, for tables not built by dbt (spatial weights, indicator layers matched by a
pattern), in `warehouse/quality/checks/`. YAML rather than a Python registry so that a researcher adds a
variable's bounds next to the model's own YAML without touching code. Format::

    table: main.fct_city_year      # schema.table, or a pattern such as main.ind_*
    unit: city_code                # the unit column (key = unit [+ year])
    year: year                     # omit for tables without a year
    checks:
      - check: unit_jump           # a kind in warehouse.quality.registry.KINDS
        columns: [gdp, "va_*"]     # names or glob patterns; "@numeric" = every numeric non-key column
        severity: error            # error | warn; default per kind
        tolerance: 0.2             # any other key is a parameter of the kind (defaults per kind)
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warehouse.settings import PROJECT_DIR

SEVERITIES = ("error", "warn")
CHECK_ROOTS = (PROJECT_DIR / "models", Path(__file__).resolve().parent / "checks")
RESERVED = {"check", "severity", "columns", "column"}


class CheckConfigError(ValueError):
    """A `.checks.yml` file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class CheckSpec:
    """One declared check: its kind, the columns it applies to, severity and parameters."""

    kind: str
    severity: str
    columns: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True)
class TableChecks:
    """The checks declared for one table (or table pattern) and the table's key columns."""

    table: str
    unit: str | None
    year: str | None
    checks: tuple[CheckSpec, ...]
    source: str

    @property
    def key(self) -> list[str]:
        return [c for c in (self.unit, self.year) if c]

    @property
    def is_pattern(self) -> bool:
        return any(ch in self.table for ch in "*?[")

    def for_table(self, table: str) -> TableChecks:
        """This declaration applied to one concrete table a pattern matched."""
        return TableChecks(table, self.unit, self.year, self.checks, self.source)


def qualify(table: str) -> str:
    """`fct_city_year` -> `main.fct_city_year`; schema-qualified names are kept."""
    return table if "." in table else f"main.{table}"


def resolve_columns(patterns: tuple[str, ...], columns: dict[str, str], exclude: list[str]) -> list[str]:
    """Columns of a table (name -> DuckDB type) matched by names, globs or '@numeric', in table order."""
    out: list[str] = []
    for pattern in patterns:
        if pattern == "@numeric":
            hits = [c for c, t in columns.items() if _is_numeric(t) and c not in exclude]
        else:
            hits = [c for c in columns if fnmatch.fnmatchcase(c, pattern)]
        out += [c for c in hits if c not in out]
    return out


def _is_numeric(duck_type: str) -> bool:
    t = duck_type.upper()
    return t in {"DOUBLE", "FLOAT", "REAL"} or t.startswith("DECIMAL") or t.endswith("INT") or t in {
        "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT"}


def load_file(path: Path, kinds: dict[str, Any]) -> TableChecks:
    """Read and validate one `.checks.yml` file against the known kinds."""
    where = str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CheckConfigError(f"{where}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict) or not doc.get("table") or not isinstance(doc.get("checks"), list):
        raise CheckConfigError(f"{where}: needs `table:` and a `checks:` list")
    specs = []
    for i, entry in enumerate(doc["checks"], start=1):
        label = f"{where}: check #{i}"
        if not isinstance(entry, dict) or entry.get("check") not in kinds:
            raise CheckConfigError(f"{label}: `check:` must be one of {', '.join(sorted(kinds))}")
        kind = kinds[entry["check"]]
        severity = entry.get("severity", kind.severity)
        if severity not in SEVERITIES:
            raise CheckConfigError(f"{label} ({entry['check']}): severity must be error or warn, not {severity!r}")
        cols = entry.get("columns", entry.get("column", ()))
        cols = (cols,) if isinstance(cols, str) else tuple(cols or ())
        params = {**kind.defaults, **{k: v for k, v in entry.items() if k not in RESERVED}}
        unknown = set(params) - set(kind.defaults)
        if unknown:
            raise CheckConfigError(f"{label} ({entry['check']}): unknown parameter(s) {', '.join(sorted(unknown))}; "
                                   f"known: {', '.join(sorted(kind.defaults)) or 'none'}")
        specs.append(CheckSpec(entry["check"], severity, cols, params, where))
    return TableChecks(qualify(str(doc["table"])), doc.get("unit"), doc.get("year"), tuple(specs), where)


def load_all(kinds: dict[str, Any], roots: tuple[Path, ...] = CHECK_ROOTS) -> list[TableChecks]:
    """Every `*.checks.yml` under the roots, in path order."""
    files = sorted(p for root in roots if root.exists() for p in root.rglob("*.checks.yml"))
    return [load_file(p, kinds) for p in files]
