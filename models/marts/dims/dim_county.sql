with

boundaries as (
    select * from {{ ref('stg_geo__boundaries') }} where level = 'county'
),

defunct as (
    select * from {{ ref('int_defunct_units') }} where level = 'county'
),

created as (
    select * from {{ ref('int_created_units') }} where level = 'county'
),

cities as (
    select city_code, name_zh as city_name_zh from {{ ref('dim_city') }}
),

provinces as (
    select province_code, name_zh as province_name_zh, nbs_belt, region4, is_mainland
    from {{ ref('dim_province') }}
),

counties as (
    select
        b.code as county_code,
        b.name_zh,
        b.name_short,
        b.name_pinyin,
        b.unit_type,
        b.parent_code,
        b.province_code,
        b.code like '__90__' as is_province_administered,
        true as is_current,
        c.valid_from,
        cast(null as integer) as valid_to,
        cast(null as varchar) as successor_code,
        area_km2,
        centroid_lon,
        centroid_lat,
        geometry_repaired,
        geometry,
        srid
    from boundaries as b
    left join created as c on c.code = b.code
    union all
    select
        code,
        name_zh,
        {{ short_name('name_zh') }},
        cast(null as varchar),
        {{ unit_type("'county'", 'code', 'name_zh') }},
        coalesce(
            (select c.city_code from cities as c where c.city_code = left(d.code, 4) || '00'),
            left(d.code, 2) || '0000'
        ),
        left(code, 2) || '0000',
        code like '__90__',
        false,
        null,
        valid_to,
        successor_code,
        null, null, null, false, null, null
    from defunct as d
)

select
    k.*,
    c.city_code,
    c.city_name_zh,
    p.province_name_zh,
    p.nbs_belt,
    p.region4,
    p.is_mainland
from counties as k
left join cities as c on c.city_code = k.parent_code
inner join provinces as p on p.province_code = k.province_code
