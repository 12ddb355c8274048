{#- Roll-ups between grains, summing (or averaging) registered variables.

    roll_up_to_city(relation, variables, how): firm × year (fct_firm_year) → city × year by the registration
    city: n_firms and, for each variable, its sum (how='sum') or mean (how='avg') over the city's firms.
    roll_up_to_province(relation, city_key, variables, how): city × year → province × year through
    dim_city.province_code (current and ended cities alike): n_cities and each variable's sum or mean.
    A null value is skipped (SQL aggregates); n_* counts the units with a row, whatever their values.
-#}
{% macro roll_up_to_city(relation, variables, how='sum') -%}
select
    city_code,
    year,
    count(distinct firm) as n_firms,
    {%- for v in variables %}
    {{ how }}({{ v }}) as {{ v }},
    {%- endfor %}
    bool_or(is_synthetic) as is_synthetic
from {{ relation }}
where city_code is not null
group by city_code, year
{%- endmacro %}


{% macro roll_up_to_province(relation, city_key, variables, how='sum') -%}
select
    c.province_code,
    r.year,
    count(distinct r.{{ city_key }}) as n_cities,
    {%- for v in variables %}
    {{ how }}(r.{{ v }}) as {{ v }},
    {%- endfor %}
    bool_or(r.is_synthetic) as is_synthetic
from {{ relation }} as r
inner join {{ ref('dim_city') }} as c on c.city_code = r.{{ city_key }}
group by c.province_code, r.year
{%- endmacro %}


{#- Variables registered for the raw tables keyed by `key` at `level` that can be summed (money, people,
    counts, areas, quantities — not shares, indices, years or per-person values). -#}
{% macro additive_variables(level, key) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set sql -%}
        select distinct v.name from meta.variables as v
        where v.level = '{{ level }}' and list_contains(string_split(coalesce(v.grain, ''), ','), '{{ key }}')
          and (v.dimension like 'money_%' and v.dimension not like '%_per_%'
               or v.dimension in ('people', 'person_times', 'households', 'area', 'length', 'mass', 'energy_tce',
                                  'electricity')
               or v.dimension like 'count_%')
        order by 1
    {%- endset -%}
    {{ return(run_query(sql).columns[0].values() | list) }}
{%- endmacro %}
