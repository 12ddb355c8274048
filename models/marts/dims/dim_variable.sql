-- The variable registry: every variable the panels fct_<level>_year carry, with its unit of measure,
-- dimension, labels, description and where it was defined (grain '' for unit × year panels, else the
-- keys) — the standard ones of seeds/variables.csv and
-- those ingest registered from a mapping (meta.variables). One row per level and variable.
with

standard as (
    select level, '' as grain, name, unit, dimension, label_zh, label_en, description,
           'seeds/variables.csv' as defined_in, source_table as first_table, cast(null as timestamp) as registered_at
    from {{ ref('variables') }}
),

registered as (
    select level, coalesce(grain, '') as grain, name, unit, dimension, label_zh, label_en, description,
           registered_from as defined_in, cast(null as varchar) as first_table, registered_at
    from meta.variables
    qualify row_number() over (partition by level, coalesce(grain, ''), name order by registered_at) = 1
),

units as (
    select unit, label_en as unit_en from {{ ref('units_of_measure') }}
),

variables as (
    select * from standard
    union all
    select r.* from registered as r
    where not exists (select 1 from standard as s where s.level = r.level and s.grain = r.grain and s.name = r.name)
)

select v.*, u.unit_en
from variables as v
left join units as u using (unit)
