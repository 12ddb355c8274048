-- Min–max normalised indicator values with direction, scope and shift from the index definition
-- (macro normalise_minmax), repeated once for the whole index (component '_index') and once for the
-- indicator's dimension (component = dimension), the rows scores are built from.
-- weight_group: 'pooled' for a global index, the year for a per-year index.
-- One row per index, component, indicator, unit and year.
with

index_values as (
    select * from {{ ref('int_index_values') }}
),

definitions as (
    select index_name, method, scope, shift, scale from {{ ref('index_definitions') }}
),

normalised as (
    select
        v.*,
        d.method,
        d.scope,
        d.shift,
        d.scale,
        case when d.scope = 'year' then cast(v.year as varchar) else 'pooled' end as weight_group,
        {{ normalise_minmax('v.raw_value', 'v.direction',
                            ['v.index_name', 'v.indicator', "case when d.scope = 'year' then v.year end"],
                            'd.shift', "v.index_name || '.' || v.indicator") }} as x_norm
    from index_values as v
    inner join definitions as d using (index_name)
),

components as (
    select '_index' as component, * from normalised
    union all
    select dimension as component, * from normalised
)

select * from components
