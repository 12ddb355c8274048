"""Treatment timing from policy lists: who is treated from which year, under an explicit timing rule.

The papers disagree on timing: 001 counts the approval year, 000 moves approvals from July onward to
the next year. The rule is a parameter here, recorded with the treatment table, never a silent choice.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pandas as pd

RULES = ("calendar", "july", "cutoff")
KEYS = {"city": "city_code", "province": "province_code", "county": "county_code"}


class TreatmentError(ValueError):
    """The policy list or the rule cannot give a treatment timing; the message says what to fix."""


def adoption_year(dates: pd.Series, rule: str = "calendar", cutoff_month: int = 7) -> pd.Series:
    """First treated year of each approval date.

    calendar: the approval year (paper 001); july: approvals from July on count from the next year
    (paper 000); cutoff: approvals in `cutoff_month` or later count from the next year.
    """
    if rule not in RULES:
        raise TreatmentError(f"timing rule {rule!r} is not one of {', '.join(RULES)}")
    dates = pd.to_datetime(dates)
    if rule == "calendar":
        return dates.dt.year
    month = 7 if rule == "july" else cutoff_month
    if not 1 <= month <= 12:
        raise TreatmentError(f"cutoff month {month} must be 1–12")
    return dates.dt.year + (dates.dt.month >= month).astype(int)


def policy_events(con: duckdb.DuckDBPyConnection, policy: str, level: str = "city") -> pd.DataFrame:
    """Approval events of a policy from the reference seeds: unit_code, date, batch, coverage, group, and the
    row's provenance (verified, source, note), which the DID report lists for the treated units.

    `demonstration_zone` reads reference.policy_demonstration_zones; any other name is looked up in
    reference.policy_pilots. Units must exist in the dim of the level.
    """
    if level not in KEYS:
        raise TreatmentError(f"level {level!r} is not one of {', '.join(KEYS)}")
    if policy == "demonstration_zone":
        events = con.execute(
            """select city_code as unit_code, approval_date as date, null::date as end_date, batch, coverage,
                      zone_id as policy_group, verified, source, note
               from reference.policy_demonstration_zones"""
        ).df()
        if level != "city":
            raise TreatmentError("demonstration zones are listed by city; use --level city")
    else:
        events = con.execute(
            """select unit_code, start_date as date, end_date, batch, 'full' as coverage, policy as policy_group,
                      verified, source, note
               from reference.policy_pilots where policy = ? and level = ?""",
            [policy, level],
        ).df()
        if events.empty:
            known = [r[0] for r in con.execute("select distinct policy from reference.policy_pilots").fetchall()]
            raise TreatmentError(f"no policy {policy!r} at level {level} in reference.policy_pilots; "
                                 f"known: demonstration_zone, {', '.join(known)}")
    dim = f"dim_{level}"
    known_units = {r[0] for r in con.execute(f"select {KEYS[level]} from {dim}").fetchall()}
    unknown = sorted(set(events["unit_code"]) - known_units)
    if unknown:
        raise TreatmentError(f"policy {policy!r}: units {', '.join(unknown[:5])} are not in {dim}; fix the seed")
    check_dates(events, policy)
    return events


def check_dates(events: pd.DataFrame, policy: str) -> None:
    """Refuse dates that cannot be right: an end before the start, one unit listed twice in the same
    group and batch with different dates, or a later batch dated before an earlier one."""
    starts, ends = pd.to_datetime(events["date"]), pd.to_datetime(events["end_date"])
    reversed_ = events[ends < starts]
    if not reversed_.empty:
        r = reversed_.iloc[0]
        raise TreatmentError(f"policy {policy!r}, unit {r['unit_code']}: end_date {r['end_date']} is before the "
                             f"start {r['date']}; fix the seed row")
    dated = events.assign(date=starts)
    spread = dated.groupby(["policy_group", "batch", "unit_code"], dropna=False)["date"].nunique()
    if (spread > 1).any():
        group, batch, unit = spread[spread > 1].index[0]
        raise TreatmentError(f"policy {policy!r}: unit {unit} is listed in {group} batch {batch} with different "
                             "dates; keep one row per unit and batch")
    batches = dated.dropna(subset=["batch"]).groupby(["policy_group", "batch"])["date"].agg(["min", "max"])
    for group, by_batch in batches.groupby(level=0):
        by_batch = by_batch.sort_index()
        late = by_batch["min"] < by_batch["max"].cummax().shift()
        if late.any():
            batch = by_batch.index[late.argmax()][1]
            raise TreatmentError(f"policy {policy!r}: batch {batch} of {group} is dated before an earlier batch "
                                 "(dates reversed?); fix the seed dates or batch numbers")


def treatment_panel(
    events: pd.DataFrame,
    spine: pd.DataFrame,
    key: str,
    rule: str = "calendar",
    cutoff_month: int = 7,
    include_partial: bool = False,
    exclude_units: Iterable[str] = (),
    exclude_groups: Iterable[str] = (),
    exclude_batches: Iterable[int] = (),
) -> pd.DataFrame:
    """Unit × year treatment table: cohort (first treated year), rel_time, treated (0/1), ever_treated.

    A unit in several zones is treated from its first adoption. A unit is treated in the years its
    listings cover: from the adoption year until `end_date` (the end year still counts under the
    calendar rule, as the start year does; under july/cutoff the end moves like the start). Partially
    covered units (only some counties in the zone) are left out of the treated group unless
    `include_partial`; excluded units are dropped from the sample, excluded groups/batches are dropped
    from the treated list (their units become controls only if not otherwise treated).
    """
    events = events.copy()
    events["adoption"] = adoption_year(events["date"], rule, cutoff_month)
    excluded_groups = set(exclude_groups)
    excluded_batches = {int(b) for b in exclude_batches}
    keep = ~events["policy_group"].isin(excluded_groups) & ~events["batch"].astype("Int64").isin(excluded_batches)
    partial = events["coverage"] != "full"
    if not include_partial:
        # a partially covered unit is neither treated nor a clean control: drop it from the sample
        exclude_units = set(exclude_units) | set(events.loc[partial & keep, "unit_code"])
        keep &= ~partial
    ends = events["end_date"] if "end_date" in events else pd.Series(pd.NaT, index=events.index)
    events["off"] = adoption_year(ends, rule, cutoff_month) + int(rule == "calendar")
    spells = events[keep].rename(columns={"unit_code": key})[[key, "adoption", "off"]]
    panel = spine[~spine[key].isin(set(exclude_units))].reset_index(drop=True)
    panel = panel.merge(spells.groupby(key)["adoption"].min().rename("cohort"), left_on=key, right_index=True,
                        how="left")
    panel["cohort"] = panel["cohort"].astype("Int64")
    panel["ever_treated"] = panel["cohort"].notna()
    panel["rel_time"] = (panel["year"] - panel["cohort"]).astype("Int64")
    covered = panel[[key, "year"]].reset_index().merge(spells, on=key)
    covered = covered[(covered["year"] >= covered["adoption"]) & ~(covered["year"] >= covered["off"])]
    panel["treated"] = panel.index.isin(covered["index"]).astype(int)
    return panel
