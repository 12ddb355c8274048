-- Province × GB/T 4754-2002 equipment division × year (paper 003-P7's seven industries): the rows of
-- fct_province_industry_year classified by int_province_industry_classified, summed into their 2002
-- division — after 2011 汽车制造业 + 铁路、船舶、航空航天和其他运输设备制造业 = 交通运输设备制造业. Additive
-- variables (macro additive_variables) are summed only when every part of the group is present in one
-- version; other variables are carried only for one-part groups. A group whose parts are missing or
-- mixed across versions has its values null and complete = false (never a partial or double sum).
-- depends_on: {{ ref('fct_province_industry_year') }}
{%- set keys = ['province_code', 'industry', 'year', 'is_synthetic'] -%}
{%- set all_vars = [] -%}
{%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(ref('fct_province_industry_year')) -%}
        {%- if c.name not in keys %}{% do all_vars.append(c.name) %}{% endif -%}
    {%- endfor -%}
{%- endif -%}
{%- set additive = additive_variables('province', 'industry') %}
with

panel as (
    select * from {{ ref('fct_province_industry_year') }}
),

classified as (
    select * from {{ ref('int_province_industry_classified') }} where group_code is not null
),

groups as (
    select distinct group_code, group_label_zh from {{ ref('industry_gbt4754') }}
),

rows_ as (
    select c.group_code, c.part_code, c.parts_in_group, p.*
    from classified as c
    inner join panel as p using (province_code, industry, year)
),

summed as (
    select
        province_code,
        group_code,
        year,
        count(*) as n_parts,
        string_agg(industry, ' + ' order by industry) as parts,
        count(distinct parts_in_group) > 1 or count(*) > min(parts_in_group)
            or count(*) > count(distinct part_code) as mixed_versions,
        count(distinct parts_in_group) = 1 and count(*) = count(distinct part_code)
            and count(distinct part_code) = min(parts_in_group) as complete,
        {%- for v in all_vars %}
        {%- if v in additive %}
        sum({{ v }}) as {{ v }}_sum,
        {%- else %}
        any_value({{ v }}) as {{ v }}_one,
        {%- endif %}
        {%- endfor %}
        bool_or(is_synthetic) as is_synthetic
    from rows_
    group by province_code, group_code, year
)

select
    s.province_code,
    s.group_code as industry,
    g.group_label_zh as industry_label_zh,
    s.year,
    s.n_parts,
    s.parts,
    s.complete,
    s.mixed_versions,
    {%- for v in all_vars %}
    {%- if v in additive %}
    case when s.complete then s.{{ v }}_sum end as {{ v }},
    {%- else %}
    case when s.complete and s.n_parts = 1 then s.{{ v }}_one end as {{ v }},
    {%- endif %}
    {%- endfor %}
    s.is_synthetic
from summed as s
inner join groups as g using (group_code)
