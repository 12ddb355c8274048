"""National Dagum (1997) decomposition of nighttime-light inequality per year.

Two decompositions (column `decomposition`): cities grouped by NBS four regions (a city's value is the
mean of its counties' light, as in paper 001), and counties grouped by their city. G = G_w + G_nb + G_t
with contribution shares, from analyses.inequality.dagum (sorted pair sums, O(n log n) per group).
"""

import pandas as pd

from analyses.inequality import dagum_panel

COLUMNS = {"decomposition": "object", "year": "int64", "n_units": "int64", "n_groups": "int64", "g": "float64",
           "g_w": "float64", "g_nb": "float64", "g_t": "float64", "share_w": "float64", "share_nb": "float64",
           "share_t": "float64"}


def model(dbt, session):
    dbt.config(materialized="table")
    light = dbt.ref("ind_nightlight_county_year").df()
    light = light[light["city_code"].notna()]
    if light.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})
    regions = dbt.ref("dim_city").df()[["city_code", "region4"]]
    cities = light.groupby(["year", "city_code"], as_index=False)["ntl"].mean().merge(regions, on="city_code")
    by_region, _ = dagum_panel(cities, "ntl", "region4", by="year")
    by_city, _ = dagum_panel(light, "ntl", "city_code", by="year")
    out = pd.concat([by_region.assign(decomposition="cities_by_region4"),
                     by_city.assign(decomposition="counties_by_city")], ignore_index=True)
    return out[list(COLUMNS)].astype(COLUMNS)
