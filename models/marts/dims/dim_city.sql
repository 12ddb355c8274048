with

boundaries as (
    select * from {{ ref('stg_geo__boundaries') }} where level = 'city'
),

defunct as (
    select * from {{ ref('int_defunct_units') }} where level = 'city'
),

provinces as (
    select * from {{ ref('dim_province') }}
),

created as (
    select * from {{ ref('int_created_units') }} where level = 'city'
),

current_cities as (
    select
        b.code as city_code,
        b.name_zh,
        b.name_short,
        b.name_pinyin,
        b.unit_type,
        b.province_code,
        b.parent_code,
        true as is_current,
        c.valid_from,
        cast(null as integer) as valid_to,
        cast(null as varchar) as successor_code,
        b.area_km2,
        b.centroid_lon,
        b.centroid_lat,
        b.geometry_repaired,
        b.geometry,
        b.srid
    from boundaries as b
    left join created as c on c.code = b.code
),

ended_cities as (
    select
        d.code as city_code,
        d.name_zh,
        {{ short_name('d.name_zh') }} as name_short,
        cast(null as varchar) as name_pinyin,
        {{ unit_type("'city'", 'd.code', 'd.name_zh') }} as unit_type,
        left(d.code, 2) || '0000' as province_code,
        left(d.code, 2) || '0000' as parent_code,
        false as is_current,
        cast(null as integer) as valid_from,
        d.valid_to,
        d.successor_code,
        cast(null as double) as area_km2,
        cast(null as double) as centroid_lon,
        cast(null as double) as centroid_lat,
        false as geometry_repaired,
        cast(null as blob) as geometry,
        cast(null as integer) as srid
    from defunct as d
),

cities as (
    select * from current_cities
    union all
    select * from ended_cities
)

select
    c.*,
    p.name_zh as province_name_zh,
    p.nbs_belt,
    p.region4,
    p.is_mainland,
    c.city_code = p.capital_city_code as is_provincial_capital,
    c.unit_type = 'municipality' as is_municipality
from cities as c
inner join provinces as p on p.province_code = c.province_code
