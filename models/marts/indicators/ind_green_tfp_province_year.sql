-- Inclusive green TFP per province and year: the global Malmquist–Luenberger index of a stored run
-- (`geopanel malmquist --undesirable ... --index gml` or analyses.efficiency.malmquist_luenberger, e.g.
-- SBM with undesirable outputs under VRS, as the NQP paper measures inclusive green growth) chained from
-- the base year. The run is var('green_tfp_run') when given, else the latest stored global-ML run whose
-- units are all province codes. Empty when there is none.
with

results as (
    select * from {{ ref('stg_analysis__efficiency_results') }}
),

provinces as (
    select province_code, name_zh from {{ ref('dim_province') }}
),

province_gml_runs as (
    -- global-ML runs at province level: every unit is a province code
    select
        r.run_id,
        max(r.finished_at) as finished_at
    from results as r
    left join provinces as p on r.unit = p.province_code
    where r.model like 'gml-%'
    group by r.run_id
    having count(distinct r.unit) = count(distinct p.province_code)
),

chosen_run as (
    select run_id
    from province_gml_runs
    {%- if var('green_tfp_run', none) %}
    where run_id = '{{ var("green_tfp_run") }}'
    {%- endif %}
    order by finished_at desc, run_id
    limit 1
),

indicator as (
    select
        r.unit as province_code,
        cast(r.period as integer) as year,
        any_value(r.run_id) as run_id,
        any_value(r.model) as model,
        max(r.value) filter (where r.measure = 'gml_cumulative') as green_tfp,
        max(r.value) filter (where r.measure = 'ec_cumulative') as green_ec_cumulative,
        max(r.value) filter (where r.measure = 'tc_cumulative') as green_bpc_cumulative,
        max(r.value) filter (where r.measure = 'gml') as gml,
        max(r.value) filter (where r.measure = 'ec') as ec,
        max(r.value) filter (where r.measure = 'tc') as bpc
    from results as r
    inner join chosen_run using (run_id)
    group by r.unit, r.period
),

named as (
    select
        i.province_code,
        p.name_zh,
        i.year,
        i.green_tfp,
        i.green_ec_cumulative,
        i.green_bpc_cumulative,
        i.gml,
        i.ec,
        i.bpc,
        i.run_id,
        i.model
    from indicator as i
    inner join provinces as p using (province_code)
)

select * from named
