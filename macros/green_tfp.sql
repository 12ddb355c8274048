{#- Inclusive green TFP of one stored run at one level (ind_green_tfp_<level>_year): the global
    Malmquist–Luenberger index (`geopanel malmquist --undesirable ...` or
    analyses.efficiency.malmquist_luenberger, e.g. SBM with undesirable outputs under VRS, as the NQP paper
    measures inclusive green growth) chained from the base year. The run is var('green_tfp_run') when given,
    else the latest stored global-ML run whose units are all codes of `level` (dim_<level>). Empty when there
    is none. -#}
{% macro green_tfp_for_level(level) -%}
{%- set key = level ~ '_code' -%}
with

gml_runs as (
    select * from {{ ref('int_green_tfp_runs_pivoted') }}
),

units as (
    select * from {{ ref('dim_' ~ level) }}
),

level_runs as (
    -- runs at this level: every unit is a code of dim_{{ level }}
    select
        g.run_id,
        max(g.finished_at) as finished_at
    from gml_runs as g
    left join units as u on g.unit = u.{{ key }}
    group by g.run_id
    having count(distinct g.unit) = count(distinct u.{{ key }})
),

chosen_run as (
    select run_id
    from level_runs
    {%- if var('green_tfp_run', none) %}
    where run_id = '{{ var("green_tfp_run") }}'
    {%- endif %}
    order by finished_at desc, run_id
    limit 1
),

indicator as (
    select
        g.unit as {{ key }},
        u.name_zh,
        g.year,
        g.green_tfp,
        g.green_ec_cumulative,
        g.green_bpc_cumulative,
        g.gml,
        g.ec,
        g.bpc,
        g.run_id,
        g.model
    from gml_runs as g
    inner join chosen_run using (run_id)
    inner join units as u on g.unit = u.{{ key }}
)

select * from indicator
{%- endmacro %}
