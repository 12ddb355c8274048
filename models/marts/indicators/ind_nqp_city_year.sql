-- New quality productive forces (NQP) per city and year, one row per index preset of
-- seeds/index_definitions.csv whose mart is this one (nqp_topsis: the 11-indicator entropy-TOPSIS
-- system of papers-003b.md §2.3, ×10; nqp_three_dim: the three-dimension entropy-weighted sum), with
-- the three dimension sub-indices (labourers, means of labour, objects of labour) scored the same way.
with

scores as (
    select * from {{ ref('int_index_scores') }}
),

definitions as (
    select index_name, mart from {{ ref('index_definitions') }} where mart = 'ind_nqp_city_year'
),

cities as (
    select city_code, name_zh, province_code from {{ ref('dim_city') }}
),

pivoted as (
    select
        s.unit_code as city_code,
        s.year,
        s.index_name,
        max(s.value) filter (where s.component = '_index') as nqp,
        max(s.value) filter (where s.component = 'labourers') as labourers,
        max(s.value) filter (where s.component = 'means_of_labour') as means_of_labour,
        max(s.value) filter (where s.component = 'objects_of_labour') as objects_of_labour,
        max(s.d_plus) filter (where s.component = '_index') as d_plus,
        max(s.d_minus) filter (where s.component = '_index') as d_minus,
        max(s.closeness) filter (where s.component = '_index') as closeness,
        max(s.weighted_sum) filter (where s.component = '_index') as weighted_sum,
        any_value(s.method) as method,
        any_value(s.scope) as scope,
        any_value(s.shift) as shift,
        any_value(s.scale) as scale
    from scores as s
    inner join definitions as d using (index_name)
    group by s.unit_code, s.year, s.index_name
),

named as (
    select
        p.city_code,
        p.year,
        c.name_zh,
        c.province_code,
        p.* exclude (city_code, year)
    from pivoted as p
    inner join cities as c using (city_code)
)

select * from named
