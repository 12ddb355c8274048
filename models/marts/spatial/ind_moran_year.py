"""The standard ESDA table: global Moran's I of every indicator layer by year, refreshed by `dbt build`.

Each layer is tested under the standard queen matrix of its level (weights.queen_<level>, built by
`geopanel init` with the manual island links of seeds/manual_links.csv), 999 permutations, seed 12345,
through analyses.esda.moran — the same computation as `geopanel moran`, equal to esda 2.9. A unit with no
value in a year is left out that year and the matrix re-standardised (counts in n / n_missing); indicator
units the matrix does not cover are dropped and counted (n_unmatched). Other columns, matrices and
permutation counts: `geopanel moran COLUMN --w NAME` (stored in analysis.moran_global).
"""

import pandas as pd

from analyses.esda import DEFAULT_SEED, moran

PERMUTATIONS = 999
# (model, column, level, key, variant column or None): the layers of the papers' ESDA sections
LAYERS = [
    ("ind_nqp_city_year", "nqp", "city", "city_code", "index_name"),
    ("ind_digital_real_province_year", "coordination_d", "province", "province_code", None),
    ("ind_digital_real_province_year", "de_index", "province", "province_code", None),
    ("ind_market_segmentation_province_year", "segmentation", "province", "province_code", None),
    ("ind_ntl_gini_city_year", "gini", "city", "city_code", None),
    ("ind_coagglomeration_city_year", "isa", "city", "city_code", None),
    ("ind_nightlight_county_year", "ntl", "county", "county_code", None),
]
COLUMNS = {"layer": "object", "indicator": "object", "variant": "object", "level": "object", "year": "int64",
           "w_name": "object", "n": "int64", "n_missing": "int64", "n_unmatched": "int64", "moran_i": "float64",
           "expected_i": "float64", "z_norm": "float64", "p_norm": "float64", "z_sim": "float64",
           "p_sim": "float64", "permutations": "int64", "seed": "int64"}


def model(dbt, session):
    dbt.config(materialized="table")
    stored = {r[0] for r in session.execute("select w_name from weights.w_catalog").fetchall()}
    # dbt parses refs statically: each layer is named by a literal here
    tables = {"ind_nqp_city_year": dbt.ref("ind_nqp_city_year"),
              "ind_digital_real_province_year": dbt.ref("ind_digital_real_province_year"),
              "ind_market_segmentation_province_year": dbt.ref("ind_market_segmentation_province_year"),
              "ind_ntl_gini_city_year": dbt.ref("ind_ntl_gini_city_year"),
              "ind_coagglomeration_city_year": dbt.ref("ind_coagglomeration_city_year"),
              "ind_nightlight_county_year": dbt.ref("ind_nightlight_county_year")}
    frames = []
    for layer, column, level, key, variant in LAYERS:
        w_name = f"queen_{level}"
        if w_name not in stored:
            raise ValueError(f"ind_moran_year needs the standard matrix {w_name}: run `geopanel weights build "
                             f"{w_name} --kind queen --level {level} --islands manual`, then `geopanel build`")
        data = tables[layer].df()
        groups = data.groupby(variant) if variant else [(None, data)]
        for name, part in groups:
            part = part.dropna(subset=[column])
            if part.empty:
                continue
            result = moran(part[[key, "year", column]], column, w_name, con=session, level=level,
                           id_column=key, permutations=PERMUTATIONS, seed=DEFAULT_SEED, unmatched="drop")
            long = result.long.rename(columns={"value": "moran_i", "expected": "expected_i"})
            frames.append(long.assign(layer=layer, variant=name, permutations=PERMUTATIONS, seed=DEFAULT_SEED))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})
    out = pd.concat(frames, ignore_index=True)
    return out[list(COLUMNS)].astype(COLUMNS)
