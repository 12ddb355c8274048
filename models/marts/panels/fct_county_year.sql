-- The county panel: every mainland county in every year it existed (county_years), with every
-- ingested variable as a column (null where no value was loaded). One row per county and year.
with

spine as (
    {{ unit_year_spine('dim_county', 'county_code', 'county_years') }}
),

units as (
    select county_code, name_zh, province_code, is_current from {{ ref('dim_county') }}
),

economy as (
    select * from {{ ref('stg_yearbook__county_economy') }}
),

joined as (
    select
        spine.county_code,
        spine.year,
        units.name_zh,
        units.province_code,
        units.is_current,
        economy.* exclude (county_code, year, is_synthetic, source_files),
        coalesce(economy.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (county_code)
    left join economy using (county_code, year)
)

select * from joined
