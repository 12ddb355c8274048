{#- Panels from raw ingest tables.

    pivot_raw(table, key): one row per unit and year from raw.<table> (one row per unit, year and
    variable), with one column per variable listed in var('raw_variables')[table], plus provenance:
    is_synthetic (any value synthetic) and source_files. Ingest guarantees at most one value per
    unit, year and variable, so `max` only picks that value.
-#}
{% macro pivot_raw(table, key) -%}
select
    unit_code as {{ key }},
    year,
    {%- for v in var('raw_variables')[table] %}
    max(value) filter (where variable = '{{ v }}') as {{ v }},
    {%- endfor %}
    bool_or(_synthetic) as is_synthetic,
    string_agg(distinct _source_file, '; ') as source_files
from {{ source('raw', table) }}
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
