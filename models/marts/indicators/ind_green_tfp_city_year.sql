-- Inclusive green TFP per prefecture city and year: the global Malmquist–Luenberger index of one stored run
-- (`geopanel malmquist --undesirable ...` or analyses.efficiency.malmquist_luenberger, e.g. SBM with
-- undesirable outputs under VRS, as the NQP paper measures inclusive green growth) chained from the base
-- year. The run is var('green_tfp_run') when given, else the latest stored global-ML run whose units are
-- all city codes. Empty when there is none.
with

gml_runs as (
    select * from {{ ref('int_green_tfp_runs_pivoted') }}
),

cities as (
    select * from {{ ref('dim_city') }}
),

city_runs as (
    -- runs at city level: every unit is a city code
    select
        g.run_id,
        max(g.finished_at) as finished_at
    from gml_runs as g
    left join cities as c on g.unit = c.city_code
    group by g.run_id
    having count(distinct g.unit) = count(distinct c.city_code)
),

chosen_run as (
    select run_id
    from city_runs
    {%- if var('green_tfp_run', none) %}
    where run_id = '{{ var("green_tfp_run") }}'
    {%- endif %}
    order by finished_at desc, run_id
    limit 1
),

indicator as (
    select
        g.unit as city_code,
        c.name_zh,
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
    inner join cities as c on g.unit = c.city_code
)

select * from indicator
