-- Entropy weights of every indicator of every index, as this build computed them (macro
-- entropy_weights over the min–max values of the whole index), with the method parameters and the
-- build that produced them, so a paper's weight table can be printed from the warehouse:
--   select indicator, label_zh, weight from ind_weights where index_name = 'digital_real'
-- One row per index, weight group ('pooled' or a year) and indicator.
with

normalised as (
    select * from {{ ref('int_index_normalised') }} where component = '_index'
),

systems as (
    select * from {{ ref('index_systems') }}
),

definitions as (
    select * from {{ ref('index_definitions') }}
),

weights as (
    {{ entropy_weights('normalised', ['index_name', 'weight_group']) }}
),

described as (
    select
        w.index_name,
        w.weight_group,
        w.indicator,
        s.label_zh,
        s.dimension,
        s.sub_dimension,
        s.direction,
        s.unit,
        w.n_obs,
        w.entropy,
        w.divergence,
        w.weight,
        'entropy' as weighting,
        'minmax' as normalisation,
        d.method,
        d.scope,
        d.shift,
        d.first_year,
        d.last_year,
        '{{ invocation_id }}' as build_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as built_at
    from weights as w
    inner join systems as s using (index_name, indicator)
    inner join definitions as d using (index_name)
)

select * from described
