-- Market segmentation per province and year: the mean over the province's pairs of the pair
-- variance of de-meaned relative-price changes (int_market_pair_variance), with the usual scaled
-- variants. One row per province and year.
with

pair_variance as (
    select * from {{ ref('int_market_pair_variance') }}
),

provinces as (
    select province_code, name_zh from {{ ref('dim_province') }}
),

sides as (
    select province_a as province_code, year, variance, n_goods from pair_variance
    union all
    select province_b as province_code, year, variance, n_goods from pair_variance
),

by_province as (
    select
        province_code,
        year,
        count(*) as n_pairs,
        min(n_goods) as min_goods,
        avg(variance) as segmentation
    from sides
    where variance is not null
    group by province_code, year
),

final as (
    select
        b.province_code,
        b.year,
        p.name_zh,
        b.segmentation,
        1e4 * b.segmentation as segmentation_x1e4,
        case when b.segmentation > 0 then sqrt(1 / b.segmentation) end as integration,
        b.n_pairs,
        b.min_goods,
        'relative price (Parsley-Wei; 桂琦寒 et al. 2006)' as method,
        'adjacent pairs + seeds/market_pair_adjustments' as pairs,
        'sample variance across goods of |dQ| de-meaned by goods-year' as variance
    from by_province as b
    inner join provinces as p using (province_code)
)

select * from final
