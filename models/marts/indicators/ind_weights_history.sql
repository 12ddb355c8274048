{{ config(materialized='incremental', unique_key=['build_id', 'index_name', 'weight_group', 'indicator']) }}
-- Every build's entropy weights, appended (ind_weights holds only the latest build's), so the weights
-- behind an earlier result can still be printed. One row per build, index, weight group and indicator.
with

weights as (
    select * from {{ ref('ind_weights') }}
)

select * from weights
{% if is_incremental() %}
where build_id not in (select distinct build_id from {{ this }})
{% endif %}
