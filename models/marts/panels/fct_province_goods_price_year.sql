-- Retail price indices by goods category (previous year = 100) on the province × year × goods grain,
-- for the relative-price (market segmentation) method. One row per province, year and goods.
with

prices as (
    select * from {{ ref('stg_yearbook__province_prices') }}
),

provinces as (
    select province_code, name_zh from {{ ref('dim_province') }} where is_mainland
)

select
    prices.province_code,
    provinces.name_zh,
    prices.year,
    prices.goods,
    prices.price_index,
    prices.is_synthetic
from prices
inner join provinces using (province_code)
