-- Scores of every index and of each of its dimensions: the entropy-weighted sum (macro
-- weighted_composite) and the entropy-weight TOPSIS distances and closeness (macro entropy_topsis,
-- ideals within the index, component and weight group). `value` is the one the index's method asks
-- for, times its scale. One row per index, component, unit and year.
with

normalised as (
    select * from {{ ref('int_index_normalised') }}
),

weights as (
    select index_name, weight_group, indicator, weight from {{ ref('ind_weights') }}
),

composite as (
    {{ weighted_composite('normalised', 'weights', ['index_name', 'component', 'weight_group', 'unit_code', 'year'],
                          ['index_name', 'weight_group']) }}
),

topsis as (
    {{ entropy_topsis('normalised', 'weights', ['index_name', 'component', 'weight_group', 'unit_code', 'year'],
                      ['index_name', 'component', 'weight_group'], ['index_name', 'weight_group']) }}
),

definitions as (
    select index_name, level, method, scope, shift, scale from {{ ref('index_definitions') }}
),

scored as (
    select
        c.index_name,
        c.component,
        c.unit_code,
        c.year,
        d.level,
        d.method,
        d.scope,
        d.shift,
        d.scale,
        c.value as weighted_sum,
        t.d_plus,
        t.d_minus,
        t.closeness,
        d.scale * case when d.method = 'topsis' then t.closeness else c.value end as value
    from composite as c
    inner join topsis as t using (index_name, component, weight_group, unit_code, year)
    inner join definitions as d using (index_name)
)

select * from scored
