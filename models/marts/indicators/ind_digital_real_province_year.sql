-- Digital–real economy integration per province and year: the 15-indicator pooled-entropy index of
-- papers-003b.md §1.2 (min–max, global entropy, weighted sum) with its two dimension sub-indices, and
-- the coupling coordination degree between the digital subsystem (that index) and a real-economy
-- subsystem (index real_economy), macros coupling_degree / coordination_degree / coordination_grade.
with

scores as (
    select * from {{ ref('int_index_scores') }}
),

provinces as (
    select province_code, name_zh from {{ ref('dim_province') }}
),

digital as (
    select
        unit_code as province_code,
        year,
        max(value) filter (where component = '_index') as de_index,
        max(value) filter (where component = 'core_digital_industry') as core_digital_industry,
        max(value) filter (where component = 'industrial_digitalisation') as industrial_digitalisation,
        any_value(scope) as scope,
        any_value(shift) as shift
    from scores
    where index_name = 'digital_real'
    group by unit_code, year
),

real_economy as (
    select unit_code as province_code, year, value as real_economy_index
    from scores
    where index_name = 'real_economy' and component = '_index'
),

coupled as (
    select
        d.province_code,
        d.year,
        p.name_zh,
        d.de_index,
        d.core_digital_industry,
        d.industrial_digitalisation,
        r.real_economy_index,
        {{ coupling_degree(['d.de_index', 'r.real_economy_index']) }} as coupling_c,
        {{ coordination_index(['d.de_index', 'r.real_economy_index']) }} as coordination_t,
        {{ coordination_degree(['d.de_index', 'r.real_economy_index']) }} as coordination_d,
        {{ coordination_grade(coordination_degree(['d.de_index', 'r.real_economy_index'])) }} as coordination_grade,
        'minmax (efficacy coefficient)' as normalisation,
        'entropy' as weighting,
        d.scope,
        d.shift
    from digital as d
    inner join real_economy as r using (province_code, year)
    inner join provinces as p using (province_code)
)

select * from coupled
