"""The estimation sample of a policy evaluation: a panel mart joined to a policy's treatment timing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from analyses.did.errors import DIDError
from analyses.did.treatment import KEYS, policy_events, treatment_panel


@dataclass
class PolicySample:
    """`data` (unit, year, outcomes, cohort, rel_time, treated) and what was left out, and why."""

    data: pd.DataFrame
    dropped: pd.DataFrame  # unit, reason
    rule: str
    policy: str
    # the seed rows that code the treated units of the sample: unit, date, batch, verified, source, note
    listings: pd.DataFrame | None = None

    @property
    def unverified(self) -> pd.DataFrame:
        """Listings of treated units not checked against their source (empty if none, or no seed was used)."""
        if self.listings is None:
            return pd.DataFrame(columns=["unit", "date", "batch", "verified", "source", "note"])
        return self.listings[~self.listings["verified"].fillna(False).astype(bool)]

    @property
    def adoption_years(self) -> list[int]:
        return sorted(int(c) for c in self.data["cohort"].dropna().unique())

    @property
    def n_treated(self) -> int:
        return int(self.data.loc[self.data["ever_treated"], "unit"].nunique())


def policy_sample(
    con: duckdb.DuckDBPyConnection, policy: str, outcomes: Sequence[str], level: str = "city",
    rule: str = "calendar", cutoff_month: int = 7, years: tuple[int, int] | None = None,
    balanced: bool = True, log_outcomes: bool = False, provinces: Sequence[str] = (),
    exclude_provinces: Sequence[str] = (), **exclusions: object,
) -> PolicySample:
    """Read fct_<level>_year, attach treatment timing, and (by default) keep a balanced panel.

    Units missing an outcome in any year are dropped when `balanced`, and listed in `dropped`, so the
    sample is an explicit choice. With `log_outcomes`, outcomes are replaced by their natural log.
    `provinces` keeps only units of those provinces (a restricted comparison sample, as paper 000's
    Sichuan–Chongqing–Guangxi–Hunan runs); `exclude_provinces` drops units of those provinces.
    """
    key = KEYS[level]
    table = f"fct_{level}_year"
    columns = {r[0] for r in con.execute(f"describe {table}").fetchall()}
    missing = [c for c in outcomes if c not in columns]
    if missing:
        raise DIDError(f"{table} has no column {missing[0]!r}; see `geopanel sql \"describe {table}\"`")
    where = f"where f.year between {int(years[0])} and {int(years[1])}" if years else ""
    flags = ("d.is_municipality, d.is_provincial_capital" if level == "city"
             else "false as is_municipality, false as is_provincial_capital")
    panel = con.execute(
        f"""select f.{key}, f.year, {', '.join(f'f.{c}' for c in outcomes)}, d.province_code, {flags}
            from {table} as f inner join dim_{level} as d using ({key}) {where}"""
    ).df()
    known = set(panel["province_code"])
    unknown = sorted(set(provinces) - known) + sorted(set(exclude_provinces) - known)
    if unknown:
        raise DIDError(f"province {unknown[0]} has no unit in {table}; use 6-digit province codes, e.g. 510000")
    outside = panel["province_code"].isin(set(exclude_provinces))
    if provinces:
        outside |= ~panel["province_code"].isin(set(provinces))
    dropped = [(u, "outside the chosen provinces") for u in sorted(set(panel.loc[outside, key]))]
    panel = panel[~outside]
    events = policy_events(con, policy, level)
    data = treatment_panel(events, panel, key, rule=rule, cutoff_month=cutoff_month, **exclusions)
    data = data.rename(columns={key: "unit"})
    ended = data[data["year"].ge(data["cohort"]).fillna(False) & (data["treated"] == 0)]
    if not ended.empty:
        first = ended.sort_values(["year", "unit"]).iloc[0]
        raise DIDError(f"policy {policy!r} stops for {ended['unit'].nunique()} units inside the sample years (first: "
                       f"{first['unit']} in {first['year']}); the staggered-DID estimators need a treatment that "
                       "stays on: end the sample before that year, or clear end_date to estimate intention-to-treat")
    dropped += [(u, "excluded or partially covered by the policy")
                for u in sorted(set(panel[key]) - set(data["unit"]))]
    if log_outcomes:
        for c in outcomes:
            bad = data[c] <= 0
            data.loc[bad, c] = np.nan
            data[c] = np.log(data[c])
    if balanced:
        n_years = data["year"].nunique()
        complete = data.dropna(subset=list(outcomes)).groupby("unit")["year"].nunique() == n_years
        keep = set(complete[complete].index)
        dropped += [(u, "missing outcome in some year") for u in sorted(set(data["unit"]) - keep)]
        data = data[data["unit"].isin(keep)].reset_index(drop=True)
    if data.empty:
        raise DIDError(f"no unit of {table} has complete {', '.join(outcomes)} in the chosen years")
    if not data["ever_treated"].any():
        raise DIDError(f"no treated unit of policy {policy!r} is left in the sample")
    treated = set(data.loc[data["ever_treated"], "unit"])
    listings = (events[events["unit_code"].isin(treated)]
                .rename(columns={"unit_code": "unit", "policy_group": "group"})
                [["unit", "group", "date", "batch", "verified", "source", "note"]]
                .sort_values(["unit", "date"]).reset_index(drop=True))
    return PolicySample(data=data, dropped=pd.DataFrame(dropped, columns=["unit", "reason"]), rule=rule, policy=policy,
                        listings=listings)


def require_never_treated(data: pd.DataFrame) -> None:
    """The battery compares with never-treated units (Callaway–Sant'Anna, Sun–Abraham, stacked DID); say what
    to do when the sample has none."""
    ever = data.groupby("unit")["ever_treated"].first()
    if ever.all():
        last = int(data["cohort"].max())
        raise DIDError(f"every unit of the sample is treated by {last}: the estimators need never-treated units; "
                       f"end the sample before {last} (its units then count as not yet treated), or leave that "
                       "cohort out with --exclude-batches / --exclude-zones")
