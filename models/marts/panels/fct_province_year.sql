-- The province panel: every mainland province in every year it existed (province_years), with every
-- ingested variable as a column (null where no value was loaded). One row per province and year.
with

spine as (
    {{ unit_year_spine('dim_province', 'province_code', 'province_years') }}
),

units as (
    select province_code, name_zh, true as is_current from {{ ref('dim_province') }}
),

economy as (
    select * from {{ ref('stg_yearbook__province_economy') }}
),

digital as (
    select * from {{ ref('stg_yearbook__province_digital') }}
),

joined as (
    select
        spine.province_code,
        spine.year,
        units.name_zh,
        units.is_current,
        economy.* exclude (province_code, year, is_synthetic, source_files),
        digital.* exclude (province_code, year, is_synthetic, source_files),
        coalesce(economy.is_synthetic, false) or coalesce(digital.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (province_code)
    left join economy using (province_code, year)
    left join digital using (province_code, year)
)

select * from joined
