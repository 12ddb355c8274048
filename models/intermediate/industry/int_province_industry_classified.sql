-- Every industry row of fct_province_industry_year placed in seeds/industry_gbt4754.csv: by its label in
-- any GB/T 4754 version (labels are unique to a division, so a label never matches two ways), or by its
-- code in the version named by var('industry_code_version') — codes alone are ambiguous (C37 is 交通运输设备
-- in 2002 but 铁路、船舶… in 2011; C39 电气机械 then 计算机), so without that var a bare code stays
-- unclassified with the reason. One row per province, industry and year.
with

panel as (
    select province_code, industry, year from {{ ref('fct_province_industry_year') }}
),

classification as (
    select
        *,
        replace(replace(label_zh, ' ', ''), '其它', '其他') as label_key
    from {{ ref('industry_gbt4754') }}
),

keyed as (
    select
        *,
        replace(replace(trim(industry), ' ', ''), '其它', '其他') as label_key,
        upper(trim(industry)) as code_key
    from panel
),

by_label as (
    -- a label printed in two versions (e.g. 汽车制造业 in 2011 and 2017) names one group and one split
    select k.province_code, k.industry, k.year, any_value(c.group_code) as group_code,
           any_value(c.code) as part_code, min(c.parts_in_group) as parts_in_group,
           string_agg(distinct c.version, ', ' order by c.version) as versions
    from keyed as k
    inner join classification as c using (label_key)
    group by all
),

by_code as (
    {%- set version = var('industry_code_version', none) %}
    {%- if version is not none %}
    select k.province_code, k.industry, k.year, c.group_code, c.code as part_code, c.parts_in_group,
           c.version as versions
    from keyed as k
    inner join classification as c
        on c.version = '{{ version }}' and k.code_key in (c.code, substr(c.code, 2))
    {%- else %}
    select cast(null as varchar) as province_code, cast(null as varchar) as industry, cast(null as integer) as year,
           cast(null as varchar) as group_code, cast(null as varchar) as part_code,
           cast(null as integer) as parts_in_group,
           cast(null as varchar) as versions
    where false
    {%- endif %}
),

classified as (
    select
        k.province_code,
        k.industry,
        k.year,
        coalesce(l.group_code, c.group_code) as group_code,
        coalesce(l.part_code, c.part_code) as part_code,
        coalesce(l.parts_in_group, c.parts_in_group) as parts_in_group,
        coalesce(l.versions, c.versions) as versions,
        case
            when l.group_code is not null then 'label'
            when c.group_code is not null then 'code ({{ var("industry_code_version", "") }})'
        end as classified_by,
        case
            when l.group_code is not null or c.group_code is not null then null
            when exists (select 1 from classification as x where k.code_key in (x.code, substr(x.code, 2)))
                then 'a bare GB/T 4754 code: its meaning depends on the version; set var industry_code_version'
            else 'not an industry of seeds/industry_gbt4754.csv'
        end as unclassified_reason
    from keyed as k
    left join by_label as l using (province_code, industry, year)
    left join by_code as c using (province_code, industry, year)
)

select * from classified
