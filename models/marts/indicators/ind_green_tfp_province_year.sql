-- Inclusive green TFP per province and year: the global Malmquist–Luenberger index of one stored run
-- (`geopanel malmquist --undesirable ...` or analyses.efficiency.malmquist_luenberger, e.g. SBM with
-- undesirable outputs under VRS, as the NQP paper measures inclusive green growth) chained from the base
-- year. The run is var('green_tfp_run') when given, else the latest stored global-ML run whose units are
-- all province codes. Empty when there is none.
with

gml_runs as (
    select * from {{ ref('int_green_tfp_runs_pivoted') }}
),

provinces as (
    select * from {{ ref('dim_province') }}
),

province_runs as (
    -- runs at province level: every unit is a province code
    select
        g.run_id,
        max(g.finished_at) as finished_at
    from gml_runs as g
    left join provinces as p on g.unit = p.province_code
    group by g.run_id
    having count(distinct g.unit) = count(distinct p.province_code)
),

chosen_run as (
    select run_id
    from province_runs
    {%- if var('green_tfp_run', none) %}
    where run_id = '{{ var("green_tfp_run") }}'
    {%- endif %}
    order by finished_at desc, run_id
    limit 1
),

indicator as (
    select
        g.unit as province_code,
        p.name_zh,
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
    inner join provinces as p on g.unit = p.province_code
)

select * from indicator
