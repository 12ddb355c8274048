"""Ingest mappings: the YAML that says how to read one file, checked before anything is read.

Every key is checked: an unknown key is an error with the nearest valid one ("`units`: did you mean
`unit`?"), as is a value of the wrong type; a misspelled key can therefore never be silently ignored
(a county file in 万元 once went in 10,000× too large because `units:` was). The format is in the README
("Ingest mappings").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from warehouse.errors import IngestError

LEVELS = ("province", "city", "county")
SHAPES = ("long", "wide", "sheets")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030")
YEAR_SOURCES = ("title", "sheet", "file")
TOP_KEYS = ("table", "level", "shape", "encoding", "sheet", "skip_rows", "header_rows", "skip_after_header",
            "year", "unit", "indicator", "variables", "variable", "synthetic", "source", "totals", "keys")
# names a key column may not take: the raw tables' own columns and the panels' unit columns
RESERVED = ("unit_label", "unit_code", "year", "variable", "value", "unit", "source_value", "source_unit",
            "province_code", "city_code", "county_code", "name_zh", "is_current", "is_synthetic", "source_files")
UNIT_KEYS = ("name", "code", "parent")
VARIABLE_KEYS = ("name", "unit", "as_is", "label", "label_en", "description", "source", "plausible_min",
                 "plausible_max")
YEAR_KEYS = ("from", "pattern")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class VariableSpec:
    """One mapped variable: its name, the unit the file gives it in, and how to describe it."""

    name: str
    unit: str | None = None
    as_is: bool = False
    label: str | None = None
    label_en: str | None = None
    description: str | None = None
    source: str | None = None
    plausible_min: float | None = None  # in the registered unit; a value 100× beyond the range is refused
    plausible_max: float | None = None


@dataclass(frozen=True)
class YearSpec:
    """Where the year comes from: a column (long), a fixed year, or a pattern in a title, sheet or file name."""

    column: str | None = None
    fixed: int | None = None
    source: str | None = None  # title | sheet | file
    pattern: str | None = None


@dataclass
class Mapping:
    """How to read one file; see the README section "Ingest mappings" for the YAML format."""

    table: str
    level: str
    shape: str = "long"
    encoding: str = "auto"
    skip_rows: int = 0
    header_rows: int = 1
    skip_after_header: int = 0
    sheet: str | None = None
    unit_name: str | None = None
    unit_code: str | None = None
    unit_parent: str | None = None
    year: YearSpec = field(default_factory=YearSpec)
    indicator: str | None = None
    synthetic: bool = False
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    variable: VariableSpec | None = None
    totals: tuple[str, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)  # extra key columns: name -> header (firm, industry)
    citation: str | None = None
    source: str = "<command line>"
    text: str = ""  # the mapping as given, stored in the ingest log

    def all_variables(self) -> list[VariableSpec]:
        return list(self.variables.values()) + ([self.variable] if self.variable else [])


def load_mapping(path: str | Path, **overrides: object) -> Mapping:
    """Read and check a mapping YAML; keyword overrides (table, level) win over the file."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: mapping file not found; write one (see README 'Ingest mappings')")
    text = path.read_text(encoding="utf-8")
    try:
        spec = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise IngestError(f"{path}: not valid YAML{where} ({exc.__class__.__name__}); fix the syntax") from exc
    if not isinstance(spec, dict):
        raise IngestError(f"{path}: a mapping must be a YAML dictionary of keys (table:, level:, …)")
    spec.update({k: v for k, v in overrides.items() if v is not None})
    return mapping_from_dict(spec, source=str(path), text=text)


def _unknown(keys: object, allowed: tuple[str, ...], source: str, where: str) -> None:
    for key in keys:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f"did you mean '{near[0]}'?" if near else f"valid keys: {', '.join(allowed)}"
            raise IngestError(f"{source}: unknown key '{key}'{where} — {hint}")


def _int(spec: dict, key: str, source: str, default: int, minimum: int) -> int:
    value = spec.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise IngestError(f"{source}: '{key}' must be a whole number ≥ {minimum}, not {value!r}")
    return value


def mapping_from_dict(spec: dict, source: str, text: str = "") -> Mapping:
    """Build a Mapping from parsed YAML, naming the offending key in every error."""
    _unknown(spec, TOP_KEYS, source, "")

    def need(key: str) -> object:
        if spec.get(key) in (None, ""):
            raise IngestError(f"{source}: missing '{key}'; add it to the mapping (or pass --{key})")
        return spec[key]

    table = str(need("table"))
    if not _SNAKE.fullmatch(table):
        raise IngestError(f"{source}: table {table!r} must be snake_case (letters, digits, _)")
    level, shape = str(need("level")), str(spec.get("shape") or "long")
    if level not in LEVELS:
        raise IngestError(f"{source}: level {level!r} is not one of {', '.join(LEVELS)}")
    if shape not in SHAPES:
        raise IngestError(f"{source}: shape {shape!r} is not one of {', '.join(SHAPES)}")
    encoding = str(spec.get("encoding") or "auto").lower()
    if encoding not in ENCODINGS:
        raise IngestError(f"{source}: encoding {encoding!r} is not one of {', '.join(ENCODINGS)}")
    unit = spec.get("unit") or {}
    if isinstance(unit, str):
        unit = {"name": unit}
    if not isinstance(unit, dict):
        raise IngestError(f"{source}: 'unit' must name the unit column: unit: {{name: 地区}}")
    _unknown(unit, UNIT_KEYS, source, " under 'unit'")
    if not (unit.get("name") or unit.get("code")):
        raise IngestError(f"{source}: 'unit' must name the column with the unit name or code (unit: {{name: 地区}})")
    variables_raw = spec.get("variables") or {}
    if not isinstance(variables_raw, dict):
        raise IngestError(f"{source}: 'variables' must map column headers to variables: {{地区生产总值: gdp}}")
    variables = {str(k): _variable_spec(v, source, f"variables.{k}") for k, v in variables_raw.items()}
    variable = _variable_spec(spec["variable"], source, "variable") if spec.get("variable") else None
    totals = spec.get("totals") or []
    if isinstance(totals, str):
        totals = [totals]
    if not isinstance(totals, list):
        raise IngestError(f"{source}: 'totals' must be a list of row labels, e.g. [全省合计, 其中：市辖区]")
    mapping = Mapping(
        table=table, level=level, shape=shape, encoding=encoding,
        skip_rows=_int(spec, "skip_rows", source, 0, 0), header_rows=_int(spec, "header_rows", source, 1, 1),
        skip_after_header=_int(spec, "skip_after_header", source, 0, 0), sheet=spec.get("sheet"),
        unit_name=unit.get("name"), unit_code=unit.get("code"), unit_parent=unit.get("parent"),
        year=_year_spec(spec.get("year"), source), indicator=spec.get("indicator"),
        synthetic=_bool(spec, "synthetic", source), variables=variables, variable=variable,
        totals=tuple(str(t) for t in totals), keys=_keys(spec.get("keys"), source),
        citation=spec.get("source"), source=source, text=text,
    )
    _check_shape(mapping, source)
    return mapping


def _keys(value: object, source: str) -> dict[str, str]:
    """Extra key columns (keys: {industry: 行业代码}): a raw table of unit × key × year (or entity × year)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not value:
        raise IngestError(f"{source}: 'keys' must map key names to columns: keys: {{industry: 行业代码}}")
    for name, column in value.items():
        if not _SNAKE.fullmatch(str(name)) or name in RESERVED:
            raise IngestError(f"{source}: key name {name!r} must be snake_case and not one of {', '.join(RESERVED)}")
        if not column:
            raise IngestError(f"{source}: keys.{name} must name a column")
    return {str(k): str(v) for k, v in sorted(value.items())}


def _bool(spec: dict, key: str, source: str) -> bool:
    value = spec.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise IngestError(f"{source}: '{key}' must be true or false, not {value!r}")
    return value


def _year_spec(value: object, source: str) -> YearSpec:
    if value is None or value == "":
        return YearSpec()
    if isinstance(value, bool):
        raise IngestError(f"{source}: 'year' must be a column name, a year (2020) or {{from: title, pattern: …}}")
    if isinstance(value, int):
        return YearSpec(fixed=value)
    if isinstance(value, str):
        return YearSpec(column=value)
    if isinstance(value, dict):
        _unknown(value, YEAR_KEYS, source, " under 'year'")
        where, pattern = value.get("from"), value.get("pattern") or r"((?:19|20)\d{2})\s*年?"
        if where not in YEAR_SOURCES:
            raise IngestError(f"{source}: year.from must be one of {', '.join(YEAR_SOURCES)}, not {where!r}")
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise IngestError(f"{source}: year.pattern {pattern!r} is not a valid regex ({exc})") from exc
        if compiled.groups < 1:
            raise IngestError(f"{source}: year.pattern {pattern!r} needs a group around the year, e.g. '(\\d{{4}})年'")
        return YearSpec(source=where, pattern=pattern)
    raise IngestError(f"{source}: 'year' must be a column name, a year (2020) or {{from: title, pattern: …}}")


def _variable_spec(value: object, source: str, key: str) -> VariableSpec:
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or not value.get("name"):
        raise IngestError(f"{source}: {key} needs a name: {{name: gdp, unit: 亿元}}")
    _unknown(value, VARIABLE_KEYS, source, f" under {key}")
    name = str(value["name"])
    if not _SNAKE.fullmatch(name):
        raise IngestError(f"{source}: variable name {name!r} ({key}) must be snake_case (gdp, pop_resident)")
    as_is = _bool(value, "as_is", f"{source}: {key}")
    unit = value.get("unit")
    bounds = {k: _bound(value, k, source, key) for k in ("plausible_min", "plausible_max")}
    if None not in bounds.values() and bounds["plausible_min"] > bounds["plausible_max"]:
        raise IngestError(f"{source}: {key}: plausible_min {bounds['plausible_min']} is above plausible_max "
                          f"{bounds['plausible_max']}")
    return VariableSpec(name=name, unit=None if unit is None else str(unit), as_is=as_is,
                        label=value.get("label"), label_en=value.get("label_en"),
                        description=value.get("description"), source=value.get("source"), **bounds)


def _bound(value: dict, bound: str, source: str, key: str) -> float | None:
    """A plausible bound: a number in the variable's registered unit, or absent."""
    number = value.get(bound)
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise IngestError(f"{source}: {key}.{bound} must be a number in the variable's unit, not {number!r}")
    return float(number)


def _check_shape(m: Mapping, source: str) -> None:
    y = m.year
    if m.shape == "long" and not (y.column or y.fixed or y.source):
        raise IngestError(f"{source}: shape long needs 'year': the column holding the year, a fixed year "
                          "(year: 2020) or where to find it (year: {from: title})")
    if m.shape == "sheets" and not m.sheet and y.source != "sheet":
        raise IngestError(f"{source}: shape sheets needs 'sheet', a regex whose group 1 is the year, "
                          "e.g. '^(\\d{4})年$'")
    if m.shape == "wide" and not m.indicator and not m.variable:
        raise IngestError(f"{source}: shape wide needs 'variable' (or 'indicator' with 'variables')")
    if m.shape == "wide" and (y.column or y.fixed):
        raise IngestError(f"{source}: shape wide takes the years from its column headers; remove 'year'")
    if m.shape != "wide" and not m.variables:
        raise IngestError(f"{source}: 'variables' is empty; map at least one source column to a variable")
    if m.shape != "wide" and m.variable:
        raise IngestError(f"{source}: 'variable' is for shape wide; use 'variables' (column → variable)")
    if m.indicator and not m.variables:
        raise IngestError(f"{source}: 'indicator' needs 'variables' (indicator label → variable)")
