-- Province pairs of the market-segmentation index: the land-adjacent pairs derived from the boundaries
-- plus the `add` and minus the `drop` rows of seeds/market_pair_adjustments.csv. One row per pair
-- (province_a < province_b).
with

adjacent as (
    select province_a, province_b, 'boundary' as link from {{ ref('market_adjacent_provinces') }}
),

adjustments as (
    select
        action,
        least(province_a, province_b) as province_a,
        greatest(province_a, province_b) as province_b
    from {{ ref('market_pair_adjustments') }}
),

added as (
    select province_a, province_b, 'added' as link from adjustments where action = 'add'
),

pairs as (
    select * from adjacent
    union all
    select * from added
    where not exists (
        select 1 from adjacent as a where a.province_a = added.province_a and a.province_b = added.province_b
    )
),

kept as (
    select * from pairs
    where not exists (
        select 1 from adjustments as d
        where d.action = 'drop' and d.province_a = pairs.province_a and d.province_b = pairs.province_b
    )
)

select * from kept
