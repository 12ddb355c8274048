-- Location quotient of each industry in each province and year (paper 004's vocal):
-- LQ_ij = (q_ij / q_j) / (q_i / q), q_ij the industry's measure in province j (fct_province_industry_year),
-- q_j the province's total (fct_province_year), q_i and q their sums over the provinces with both that year.
-- The columns are var('lq_province_industry'); if either is not in the panels yet the model is empty.
-- depends_on: {{ ref('fct_province_industry_year') }}
-- depends_on: {{ ref('fct_province_year') }}
{%- set spec = var('lq_province_industry') -%}
{%- set measure, total = spec['measure'], spec['province_total'] -%}
{%- set ready = execute
    and measure in (adapter.get_columns_in_relation(ref('fct_province_industry_year')) | map(attribute='name') | list)
    and total in (adapter.get_columns_in_relation(ref('fct_province_year')) | map(attribute='name') | list) %}
{%- if ready %}
with

industry as (
    select province_code, industry, year, {{ measure }} as q_ij
    from {{ ref('fct_province_industry_year') }}
    where {{ measure }} is not null
),

provinces as (
    select province_code, year, {{ total }} as q_j
    from {{ ref('fct_province_year') }}
    where {{ total }} > 0
),

joined as (
    select i.*, p.q_j from industry as i inner join provinces as p using (province_code, year)
),

national as (
    select industry, year, sum(q_ij) as q_i from joined group by industry, year
),

national_total as (
    select year, sum(q_j) as q from provinces as p
    where exists (select 1 from joined as j where j.province_code = p.province_code and j.year = p.year)
    group by year
)

select
    j.province_code,
    j.industry,
    j.year,
    j.q_ij,
    j.q_j,
    n.q_i,
    t.q,
    {{ location_quotient('j.q_ij', 'j.q_j', 'n.q_i', 't.q') }} as location_quotient
from joined as j
inner join national as n using (industry, year)
inner join national_total as t using (year)
{%- else %}
select cast(null as varchar) as province_code, cast(null as varchar) as industry, cast(null as integer) as year,
       cast(null as double) as q_ij, cast(null as double) as q_j, cast(null as double) as q_i,
       cast(null as double) as q, cast(null as double) as location_quotient
where false
{%- endif %}
