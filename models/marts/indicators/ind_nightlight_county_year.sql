-- Nighttime light per county and year (zonal statistics of the rasters, harmonised), with the county's
-- prefecture city and province. One row per county and year.
with

light as (
    select * from {{ ref('int_county_nightlight_harmonised') }}
),

counties as (
    select county_code, name_zh, city_code, province_code, is_province_administered from {{ ref('dim_county') }}
),

joined as (
    select
        light.county_code,
        light.year,
        counties.name_zh,
        counties.city_code,
        counties.province_code,
        counties.is_province_administered,
        light.ntl_harmonised as ntl,
        light.ntl_mean,
        light.ntl_sum,
        light.pixel_count,
        light.pixel_touched,
        light.coverage,
        light.sensor,
        light.is_synthetic
    from light
    inner join counties using (county_code)
)

select * from joined
