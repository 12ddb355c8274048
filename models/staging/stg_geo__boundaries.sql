with

boundaries as (
    select * from {{ source('raw', 'boundaries') }}
),

named as (
    select
        level,
        code,
        name_zh,
        {{ short_name('name_zh') }} as name_short,
        name_pinyin_syllables,
        parent_code,
        province_code,
        is_mainland,
        geometry_repaired,
        area_km2,
        centroid_lon,
        centroid_lat,
        geometry,
        srid,
        _source_file as boundary_source
    from boundaries
)

select
    * exclude (name_pinyin_syllables),
    {{ pinyin_prefix('name_pinyin_syllables', 'length(name_short)') }} as name_pinyin,
    {{ unit_type('level', 'code', 'name_zh') }} as unit_type
from named
