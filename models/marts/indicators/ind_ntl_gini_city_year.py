"""Within-city Dagum Gini of county nighttime light (INDG of paper 001) per city and year.

G_jj = Σ_i Σ_r |y_i − y_r| / (2 n_j² μ_j) over the counties of city j (papers-000-001.md, formula (3)),
computed by analyses.inequality.dagum (sorted pair sums); a dbt Python model because the pair sums are
awkward in SQL. Counties without a prefecture city (province-administered) are left out.
"""

import pandas as pd

from analyses.inequality import dagum_panel

COLUMNS = {"city_code": "object", "year": "int64", "n_counties": "int64", "mean_ntl": "float64",
           "gini": "float64"}


def model(dbt, session):
    dbt.config(materialized="table")
    light = dbt.ref("ind_nightlight_county_year").df()
    light = light[light["city_code"].notna()]
    if light.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS.items()})
    _, out = dagum_panel(light, "ntl", "city_code", by="year")
    out = out.rename(columns={"n_units": "n_counties", "mean": "mean_ntl", "gini_within": "gini"})
    return out[list(COLUMNS)].astype(COLUMNS)
