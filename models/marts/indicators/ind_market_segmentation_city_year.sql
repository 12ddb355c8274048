{{ config(materialized='view') }}
-- Market segmentation at city level: every city in every year it existed inherits its province's value
-- (the index is provincial). One row per city and year.
with

provincial as (
    select * from {{ ref('ind_market_segmentation_province_year') }}
),

cities as (
    select city_code, name_zh, province_code, valid_from, valid_to from {{ ref('dim_city') }} where is_mainland
),

inherited as (
    select
        c.city_code,
        p.year,
        c.name_zh,
        c.province_code,
        p.segmentation,
        p.segmentation_x1e4,
        p.integration,
        p.n_pairs
    from cities as c
    inner join provincial as p using (province_code)
    where p.year >= coalesce(c.valid_from, p.year) and p.year <= coalesce(c.valid_to, p.year)
)

select * from inherited
