-- The province panel: every mainland province in every year it existed (province_years), with one column per
-- registered province variable (seeds/variables.csv and meta.variables), null where no value was loaded.
-- One row per province and year. A new raw table or variable reaches this panel with the next build.
-- depends_on: {{ ref('variables') }}
with

spine as (
    {{ unit_year_spine('dim_province', 'province_code', 'province_years') }}
),

units as (
    select province_code, name_zh, true as is_current from {{ ref('dim_province') }}
),

panel_values as (
    {{ pivot_registered('province', 'province_code') | indent(4) }}
),

joined as (
    select
        spine.province_code,
        spine.year,
        units.* exclude (province_code),
        panel_values.* exclude (province_code, year, is_synthetic, source_files),
        coalesce(panel_values.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (province_code)
    left join panel_values using (province_code, year)
)

select * from joined
