-- The city panel: every mainland city in every year it existed (city_years), with one column per
-- registered city variable (seeds/variables.csv and meta.variables), null where no value was loaded.
-- One row per city and year. A new raw table or variable reaches this panel with the next build.
-- depends_on: {{ ref('variables') }}
with

spine as (
    {{ unit_year_spine('dim_city', 'city_code', 'city_years') }}
),

units as (
    select city_code, name_zh, province_code, is_current from {{ ref('dim_city') }}
),

panel_values as (
    {{ pivot_registered('city', 'city_code') | indent(4) }}
),

joined as (
    select
        spine.city_code,
        spine.year,
        units.* exclude (city_code),
        panel_values.* exclude (city_code, year, is_synthetic, source_files),
        coalesce(panel_values.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (city_code)
    left join panel_values using (city_code, year)
)

select * from joined
