-- The raw value of every indicator of every index (seeds/index_systems.csv) for every unit-year of the
-- index's sample (seeds/index_definitions.csv: years, excluded units), kept only where all the index's
-- indicators are present (entropy needs a complete matrix). One row per index, indicator, unit, year.
with

systems as (
    select * from {{ ref('index_systems') }}
),

definitions as (
    select * from {{ ref('index_definitions') }}
),

raw_values as (
    {{ index_system_values(ref('index_systems'), {
        'int_city_indicator_inputs': [ref('int_city_indicator_inputs'), 'city_code'],
        'int_province_indicator_inputs': [ref('int_province_indicator_inputs'), 'province_code'],
    }) }}
),

in_sample as (
    select
        v.index_name,
        v.indicator,
        v.unit_code,
        v.year,
        v.raw_value,
        s.dimension,
        s.sub_dimension,
        s.direction,
        d.level,
        count(*) over (partition by v.index_name) as _n,
        count(*) filter (where v.raw_value is not null)
            over (partition by v.index_name, v.unit_code, v.year) as n_present,
        count(*) over (partition by v.index_name, v.unit_code, v.year) as n_indicators
    from raw_values as v
    inner join systems as s using (index_name, indicator)
    inner join definitions as d using (index_name)
    where v.year between d.first_year and d.last_year
      and not list_contains(string_split(coalesce(d.exclude_units, ''), ' '), v.unit_code)
),

complete as (
    select * exclude (_n, n_present, n_indicators)
    from in_sample
    where n_present = n_indicators
)

select * from complete
