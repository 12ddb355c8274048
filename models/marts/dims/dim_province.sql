with

boundaries as (
    select * from {{ ref('stg_geo__boundaries') }} where level = 'province'
),

regions as (
    select * from {{ ref('region_schemes') }}
),

capitals as (
    select * from {{ ref('provincial_capitals') }}
),

provinces as (
    select
        b.code as province_code,
        b.name_zh,
        b.name_short,
        coalesce(r.province_name_en, b.name_pinyin) as name_en,
        b.name_pinyin,
        b.unit_type,
        r.nbs_belt,
        r.region4,
        r.central_six,
        r.yreb,
        b.is_mainland,
        c.capital_city_code,
        c.capital_name_zh,
        c.seat_lon as capital_lon,
        c.seat_lat as capital_lat,
        b.area_km2,
        b.centroid_lon,
        b.centroid_lat,
        b.geometry_repaired,
        b.geometry,
        b.srid,
        b.boundary_source
    from boundaries as b
    left join regions as r on r.province_code = b.code
    left join capitals as c on c.province_code = b.code
)

select * from provinces
