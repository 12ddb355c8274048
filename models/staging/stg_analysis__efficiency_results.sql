-- Stored efficiency and productivity results (analysis.efficiency_results, written by
-- analyses/efficiency/store.py) with the run's model and provenance from analysis.model_runs.
-- Before the first stored run the tables do not exist: this view is then empty (same columns), so a
-- warehouse without efficiency runs still builds. One row per run, unit, period and measure.
-- depends_on: {{ source('analysis', 'efficiency_results') }}, {{ source('analysis', 'model_runs') }}
{%- set loaded = adapter.get_relation(database=target.database, schema='analysis', identifier='efficiency_results') %}
{%- if loaded %}
with

results as (
    select * from {{ source('analysis', 'efficiency_results') }}
),

runs as (
    select * from {{ source('analysis', 'model_runs') }}
),

joined as (
    select
        r.run_id,
        m.model,
        m.data_source,
        m.unit_column,
        m.time_column,
        m.quality_status,
        m.finished_at,
        r.unit,
        r.period,
        r.measure,
        r.value,
        r.label
    from results as r
    inner join runs as m using (run_id)
    where m.kind = 'efficiency'
)

select * from joined
{%- else %}
select
    cast(null as varchar) as run_id, cast(null as varchar) as model, cast(null as varchar) as data_source,
    cast(null as varchar) as unit_column, cast(null as varchar) as time_column,
    cast(null as varchar) as quality_status, cast(null as timestamptz) as finished_at,
    cast(null as varchar) as unit, cast(null as varchar) as period, cast(null as varchar) as measure,
    cast(null as double) as value, cast(null as varchar) as label
where false
{%- endif %}
