"""`geopanel build --var KEY=VALUE`: the dbt vars a user may set for one build, checked by name.

dbt ignores a var no model reads, so a misspelt name (`industry_code_versoin=2011`) would build as if it had not
been given. The names a build can use are the ones the project's models and macros read with `var('…')`; any
other name is refused with the nearest known one. Values are read as YAML scalars (2011, true, a run id).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from warehouse.errors import WarehouseError
from warehouse.settings import PROJECT_DIR

_VAR = re.compile(r"""\bvar\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


def known_vars(project: Path = PROJECT_DIR) -> set[str]:
    """Every var name read by the dbt project's models and macros."""
    names: set[str] = set()
    for folder in ("models", "macros"):
        for path in (project / folder).rglob("*.sql"):
            names.update(_VAR.findall(path.read_text(encoding="utf-8")))
    return names


def vars_args(pairs: Sequence[str], project: Path = PROJECT_DIR) -> list[str]:
    """dbt's `--vars` argument for KEY=VALUE pairs ([] when none), refusing unknown names and malformed pairs."""
    if not pairs:
        return []
    known = known_vars(project)
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise WarehouseError(f"--var {pair!r}: write KEY=VALUE, e.g. --var industry_code_version=2011")
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise WarehouseError(f"--var {key!r}: no model reads this var; {hint}known: {', '.join(sorted(known))}")
        try:
            values[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise WarehouseError(f"--var {key}: value {raw!r} is not a plain value ({exc.__class__.__name__})") from exc
    return ["--vars", json.dumps(values, ensure_ascii=False)]
