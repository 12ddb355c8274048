-- Relative-price market segmentation by province pair and year (Parsley & Wei 1996, as adapted by
-- 桂琦寒, 陈敏, 陆铭, 陈钊 2006; papers-000-001.md, paper 000 §3):
--   ΔQ_ijt^k = ln(P_it^k / P_jt^k) − ln(P_it−1^k / P_jt−1^k) = ln p_it^k − ln p_jt^k   (p = chained index / 100)
--   q_ijt^k  = |ΔQ_ijt^k| − mean over pairs of |ΔQ_ijt^k|   (removes goods-year common shocks)
--   Var(q_ijt) over goods k (sample variance), one value per pair and year.
-- A non-positive price index stops the build with the province, goods and year.
-- One row per pair and year.
with

prices as (
    select * from {{ ref('fct_province_goods_price_year') }}
),

goods as (
    select goods from {{ ref('market_goods') }} where include
),

pairs as (
    select * from {{ ref('int_market_province_pairs') }}
),

log_prices as (
    select
        p.province_code,
        p.year,
        p.goods,
        case
            when p.price_index <= 0 then error(concat('fct_province_goods_price_year: price index of ', p.goods,
                ' in province ', p.province_code, ', year ', p.year, ' is ', p.price_index,
                ' (chained, previous year = 100: must be positive); fix the source file and re-ingest'))
            else ln(p.price_index / 100)
        end as log_p
    from prices as p
    inner join goods using (goods)
    where p.price_index is not null
),

relative as (
    select
        pairs.province_a,
        pairs.province_b,
        a.year,
        a.goods,
        a.log_p - b.log_p as delta_q
    from pairs
    inner join log_prices as a on a.province_code = pairs.province_a
    inner join log_prices as b on b.province_code = pairs.province_b and b.year = a.year and b.goods = a.goods
),

demeaned as (
    select
        *,
        abs(delta_q) - avg(abs(delta_q)) over (partition by goods, year) as q
    from relative
),

pair_variance as (
    select
        province_a,
        province_b,
        year,
        count(*) as n_goods,
        var_samp(q) as variance
    from demeaned
    group by province_a, province_b, year
)

select * from pair_variance
