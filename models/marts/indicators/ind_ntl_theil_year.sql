-- Theil T of city nighttime light (the mean of each city's counties) with its within/between
-- decomposition by NBS four regions (macro theil_decomposition), per year: a companion of the Dagum
-- decomposition in ind_ntl_dagum_year. One row per year.
with

light as (
    select * from {{ ref('ind_nightlight_county_year') }} where city_code is not null
),

cities as (
    select city_code, region4 from {{ ref('dim_city') }}
),

city_light as (
    select l.city_code, l.year, c.region4, avg(l.ntl) as ntl
    from light as l
    inner join cities as c using (city_code)
    group by l.city_code, l.year, c.region4
),

theil as (
    {{ theil_decomposition('city_light', 'ntl', 'region4', ['year']) }}
)

select * from theil
