-- One row per city of dim_city: the dimension flags used to split policy effects (issue 7).
with

cities as (
    select * from {{ ref('dim_city') }}
),

panel as (
    select * from {{ ref('fct_city_year') }}
),

resource_cities as (
    select * from {{ ref('resource_based_cities') }}
),

agglomerations as (
    select * from {{ ref('urban_agglomerations') }}
),

revolutionary_bases as (
    select * from {{ ref('old_revolutionary_base_areas') }}
),

{#- The 2014 standard's measure, 城区常住人口 (variable pop_urban_area, registered by ingesting it), where a city
    has it; else the proxy, the whole prefecture's registered population (pop). size_basis says which. -#}
{%- set panel_columns = adapter.get_columns_in_relation(ref('fct_city_year')) | map(attribute='name') | list
    if execute else [] %}
{%- set has_urban = 'pop_urban_area' in panel_columns %}
base_population as (
    -- population of the base year, or of the first later year with data (units created later, e.g. 海东)
    {%- if has_urban %}
    select
        city_code,
        coalesce(arg_min(pop_urban_area, year) filter (where pop_urban_area is not null),
                 arg_min(pop, year) filter (where pop is not null)) as size_population,
        coalesce(min(year) filter (where pop_urban_area is not null),
                 min(year) filter (where pop is not null)) as size_base_year,
        case when count(pop_urban_area) > 0 then 'pop_urban_area' else 'pop (proxy)' end as size_basis
    from panel
    where (pop_urban_area is not null or pop is not null) and year >= {{ var('city_size_base_year', 2009) }}
    group by city_code
    {%- else %}
    select
        city_code,
        arg_min(pop, year) as size_population,
        min(year) as size_base_year,
        'pop (proxy)' as size_basis
    from panel
    where pop is not null and year >= {{ var('city_size_base_year', 2009) }}
    group by city_code
    {%- endif %}
),

agglomeration_membership as (
    select
        city_code,
        string_agg(agglomeration_id, ',' order by agglomeration_id) as agglomerations,
        bool_or(coverage = 'full') as agglomeration_full
    from agglomerations
    group by city_code
),

revolutionary_membership as (
    select
        city_code,
        string_agg(area_id, ',' order by area_id) as revolutionary_base_areas,
        bool_or(coverage = 'full') as revolutionary_base_full
    from revolutionary_bases
    group by city_code
),

flags as (
    select
        c.city_code,
        c.name_zh,
        c.is_current,
        c.is_municipality,
        c.is_provincial_capital,
        p.size_base_year,
        p.size_population,
        p.size_basis,
        {{ city_size_class('p.size_population') }} as size_class,
        {{ city_size_class('p.size_population') }} in ('超大城市', '特大城市') as is_large_city,
        r.city_code is not null as is_resource_based,
        r.resource_type,
        a.city_code is not null as in_agglomeration,
        a.agglomerations,
        coalesce(a.agglomeration_full, false) as agglomeration_full,
        v.city_code is not null as is_old_revolutionary_base,
        v.revolutionary_base_areas,
        coalesce(v.revolutionary_base_full, false) as revolutionary_base_full
    from cities as c
    left join base_population as p on p.city_code = c.city_code
    left join resource_cities as r on r.city_code = c.city_code
    left join agglomeration_membership as a on a.city_code = c.city_code
    left join revolutionary_membership as v on v.city_code = c.city_code
)

select * from flags
