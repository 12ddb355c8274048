-- The county panel: every mainland county in every year it existed (county_years), with one column per
-- registered county variable (seeds/variables.csv and meta.variables), null where no value was loaded.
-- One row per county and year. A new raw table or variable reaches this panel with the next build.
-- depends_on: {{ ref('variables') }}
with

spine as (
    {{ unit_year_spine('dim_county', 'county_code', 'county_years') }}
),

units as (
    select county_code, name_zh, province_code, is_current from {{ ref('dim_county') }}
),

panel_values as (
    {{ pivot_registered('county', 'county_code') | indent(4) }}
),

joined as (
    select
        spine.county_code,
        spine.year,
        units.* exclude (county_code),
        panel_values.* exclude (county_code, year, is_synthetic, source_files),
        coalesce(panel_values.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (county_code)
    left join panel_values using (county_code, year)
)

select * from joined
