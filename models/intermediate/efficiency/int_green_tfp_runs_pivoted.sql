-- Every stored global Malmquist–Luenberger run (models gml-ddf-crs, gml-sbm-vrs, …) pivoted to one row per
-- run, unit and year: the cumulative index from the base year and its components, and the year's own index.
-- The indicator models (ind_green_tfp_<level>_year) pick one run each.
with

results as (
    select * from {{ ref('stg_analysis__efficiency_results') }}
),

pivoted as (
    select
        run_id,
        unit,
        cast(period as integer) as year,
        any_value(model) as model,
        any_value(finished_at) as finished_at,
        max(value) filter (where measure = 'gml_cumulative') as green_tfp,
        max(value) filter (where measure = 'ec_cumulative') as green_ec_cumulative,
        max(value) filter (where measure = 'tc_cumulative') as green_bpc_cumulative,
        max(value) filter (where measure = 'gml') as gml,
        max(value) filter (where measure = 'ec') as ec,
        max(value) filter (where measure = 'tc') as bpc
    from results
    where model like 'gml-%'
    group by run_id, unit, period
)

select * from pivoted
