"""Units of measure as data: `seeds/units_of_measure.csv` gives each unit its dimension and its factor to
the dimension's base, so that only units of the same dimension convert (万元 → 亿元, 人 → 万人, % → fraction)
and 元/人 can never become 亿元. A value is stored in its variable's registered unit; a variable seen for
the first time takes its dimension's canonical unit (亿元, 万人, 元/人, fraction, 平方公里 …) or, where the
dimension has none (counts such as 万件, chain indices), the unit the file gives.

Unit names are compared after Unicode NFKC normalisation with spaces removed, so （％）, ％ and % agree and
km² is km2.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import pandas as pd

from warehouse.errors import IngestError
from warehouse.settings import SEEDS_DIR

UNITS_CSV = SEEDS_DIR / "units_of_measure.csv"


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str
    factor: float  # to the dimension's base
    canonical: bool


def norm_unit(text: object) -> str:
    """'（万元）' -> '万元', '％' -> '%', 'km²' -> 'km2'."""
    value = unicodedata.normalize("NFKC", str(text or "")).strip()
    return "".join(value.split()).strip("()[]")


@cache
def registry() -> dict[str, Unit]:
    """All known units by normalised name."""
    frame = pd.read_csv(UNITS_CSV, dtype=str, keep_default_na=False)
    return {norm_unit(r.unit): Unit(norm_unit(r.unit), r.dimension, float(r.factor), r.is_canonical == "true")
            for r in frame.itertuples()}


def lookup(unit: str, where: str) -> Unit:
    """The registered unit, or an error naming the place and the known units of similar spelling."""
    key = norm_unit(unit)
    found = registry().get(key)
    if found is None:
        raise IngestError(f"{where}: unknown unit {unit!r}; use one of {', '.join(_nearest(key))} "
                          "(seeds/units_of_measure.csv), or write as_is: true to store the values unconverted")
    return found


def _nearest(key: str) -> list[str]:
    import difflib

    names = list(registry())
    near = difflib.get_close_matches(key, names, n=4, cutoff=0.3)
    return near or ["亿元", "万元", "万人", "%", "元/人"]


def canonical_unit(unit: Unit) -> Unit:
    """The dimension's canonical unit, or the unit itself where the dimension has none."""
    for u in registry().values():
        if u.dimension == unit.dimension and u.canonical:
            return u
    return unit


def conversion(source: Unit, target: Unit, where: str) -> float:
    """Factor taking values in `source` to `target`; different dimensions are an error."""
    if source.dimension != target.dimension:
        raise IngestError(f"{where}: {source.name} ({source.dimension}) cannot be converted to {target.name} "
                          f"({target.dimension}); map the column to a variable measured in {source.name}")
    return source.factor / target.factor
