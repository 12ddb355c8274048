{#- Panels from raw ingest tables, driven by the variable registry (warehouse/variables.py).

    raw_tables_of(level): the raw tables of a level that exist — the standard ones of seeds/variables.csv
    and every table ingest recorded in meta.raw_tables.
    registered_variables(level): every variable of the level — seeds/variables.csv in file order, then
    meta.variables in the order ingest registered them.
    union_raw(level): one row per unit, year and variable of every raw table of the level, without values
    that a later file superseded (raw.revisions kind prefer_new).
    pivot_registered(level, key): one row per unit and year, one column per registered variable, plus
    is_synthetic (any value synthetic) and source_files. A variable loaded but not registered stops the
    build with its name. Ingest guarantees one value per unit, year and variable across a level's tables.
-#}
{% macro raw_tables_of(level) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        with existing as (
            select table_name from information_schema.tables
            where table_schema = 'raw' and table_catalog = current_database()
        )
        select distinct table_name from (
            select table_name from meta.raw_tables where level = '{{ level }}' and coalesce(keys, '') = ''
            union all
            select source_table from {{ ref('variables') }} where level = '{{ level }}'
        ) where table_name in (select table_name from existing)
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}


{% macro registered_variables(level) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        select name from (
            select name, 0 as origin, rowid as position from {{ ref('variables') }} where level = '{{ level }}'
            union all
            select name, 1, rowid from meta.variables where level = '{{ level }}' and coalesce(grain, '') = ''
        ) group by name order by min(origin), min(position)
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}


{% macro union_raw(level) -%}
    {%- set tables = raw_tables_of(level) -%}
    {%- if tables | length == 0 %}
select cast(null as varchar) as table_name, cast(null as varchar) as unit_code, cast(null as integer) as year,
       cast(null as varchar) as variable, cast(null as double) as value, cast(null as varchar) as unit,
       cast(null as boolean) as _synthetic, cast(null as varchar) as _source_file,
       cast(null as varchar) as _content_hash
where false
    {%- else %}
with values_ as (
    {%- for t in tables %}
    select '{{ t }}' as table_name, unit_code, year, variable, value, unit, _synthetic, _source_file, _content_hash
    from raw.{{ t }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)
select v.* from values_ as v
where not exists (
    select 1 from raw.revisions as r
    where r.kind = 'prefer_new' and r.old_hash = v._content_hash and r.unit_code = v.unit_code
      and r.year = v.year and r.variable = v.variable
)
    {%- endif %}
{%- endmacro %}


{% macro pivot_registered(level, key) -%}
    {%- set variables = registered_variables(level) -%}
    {%- if execute -%}
        {%- set loaded = run_query("select distinct variable from " ~ ref('stg_raw__' ~ level ~ '_values')
                                   ~ " order by 1").columns[0].values() | list -%}
        {%- set unknown = loaded | reject('in', variables) | list -%}
        {%- if unknown | length > 0 -%}
            {{ exceptions.raise_compiler_error("variable(s) " ~ unknown | join(', ') ~ " loaded at " ~ level
               ~ " level but not registered (meta.variables / seeds/variables.csv): load them with geopanel "
               ~ "ingest so that they are registered, or add them to seeds/variables.csv") }}
        {%- endif -%}
    {%- endif %}
select
    unit_code as {{ key }},
    year,
    {%- for v in variables %}
    max(value) filter (where variable = '{{ v }}') as {{ v }},
    {%- endfor %}
    bool_or(_synthetic) as is_synthetic,
    string_agg(distinct _source_file, '; ') as source_files
from {{ ref('stg_raw__' ~ level ~ '_values') }}
group by unit_code, year
{%- endmacro %}


{#- The unit × year spine of a level: every unit of the mainland dim in every year of
    var('<level>_years') during which it existed (valid_from / valid_to). -#}
{% macro unit_year_spine(dim, key, years_var) -%}
    {%- set first, last = var(years_var) -%}
select d.{{ key }}, y.year
from {{ ref(dim) }} as d
cross join range({{ first }}, {{ last }} + 1) as y(year)
where d.is_mainland
  and y.year >= coalesce({{ 'd.valid_from' if dim != 'dim_province' else 'null' }}, {{ first }})
  and y.year <= coalesce({{ 'd.valid_to' if dim != 'dim_province' else 'null' }}, {{ last }})
{%- endmacro %}


{#- Panels of other grains (raw tables ingested with `keys:`).

    keyed_tables(level, key, exact): [table, [its keys]] for the raw tables of a level keyed by exactly `key`
    (exact) or by any keys that include `key` (firm panels: firm, or firm and industry).
    pivot_keyed(level, key, unit_column, exact): one row per `key` value, unit and year (exact; e.g. province ×
    industry × year) or per `key` value and year with the unit as a column (firm × year with the registration
    city, other keys as attributes); one column per variable registered for those tables' grains.
-#}
{% macro keyed_tables(level, key, exact) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        select r.table_name, coalesce(r.keys, '') as keys from meta.raw_tables as r
        inner join information_schema.tables as t
            on t.table_schema = 'raw' and t.table_name = r.table_name and t.table_catalog = current_database()
        where r.level = '{{ level }}'
          and {% if exact %}coalesce(r.keys, '') = '{{ key }}'{% else %}list_contains(string_split(r.keys, ','), '{{ key }}'){% endif %}
        order by 1
    {%- endset -%}
    {%- set rows = run_query(sql) -%}
    {%- set out = [] -%}
    {%- for row in rows -%}{%- do out.append([row[0], row[1].split(',')]) -%}{%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{% macro pivot_keyed(level, key, unit_column, exact) -%}
    {%- set tables = keyed_tables(level, key, exact) -%}
    {%- set grains = tables | map(attribute=1) | map('join', ',') | unique | list -%}
    {%- set attributes = [] -%}
    {%- for t in tables -%}{%- for k in t[1] -%}
        {%- if k != key and k not in attributes -%}{%- do attributes.append(k) -%}{%- endif -%}
    {%- endfor -%}{%- endfor -%}
    {%- set variables = [] -%}
    {%- if execute and grains | length > 0 -%}
        {%- set sql -%}
            select name from meta.variables where level = '{{ level }}' and grain in (
                {%- for g in grains %}'{{ g }}'{% if not loop.last %}, {% endif %}{% endfor -%})
            group by name order by min(registered_at), name
        {%- endset -%}
        {%- set variables = run_query(sql).columns[0].values() | list -%}
    {%- endif -%}
    {%- if tables | length == 0 %}
select cast(null as varchar) as {{ key }}, cast(null as varchar) as {{ unit_column }}, cast(null as integer) as year,
       {%- if not exact %} cast(null as bigint) as n_{{ unit_column }}s,{% endif %}
       cast(null as boolean) as is_synthetic
where false
    {%- else %}
with values_ as (
    {%- for t in tables %}
    select unit_code, {{ key }}, year, variable, value, _synthetic, _content_hash,
        {%- for a in attributes %} {{ a if a in t[1] else 'cast(null as varchar)' }} as {{ a }},{% endfor %}
        _source_file
    from raw.{{ t[0] }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

current_values as (
    select v.* from values_ as v
    where not exists (
        select 1 from raw.revisions as r
        where r.kind = 'prefer_new' and r.old_hash = v._content_hash and r.unit_code = v.unit_code
          and r.year = v.year and r.variable = v.variable
    )
)

select
    {{ key }},
    {%- if exact %}
    unit_code as {{ unit_column }},
    {%- endif %}
    year,
    {%- if not exact %}
    min(unit_code) as {{ unit_column }},
    count(distinct unit_code) as n_{{ unit_column }}s,
    {%- endif %}
    {%- for a in attributes %}
    min({{ a }}) as {{ a }},
    {%- endfor %}
    {%- for v in variables %}
    max(value) filter (where variable = '{{ v }}') as {{ v }},
    {%- endfor %}
    bool_or(_synthetic) as is_synthetic
from current_values
group by all
    {%- endif %}
{%- endmacro %}
