-- The city panel: every mainland city in every year it existed (city_years), with every
-- ingested variable as a column (null where no value was loaded). One row per city and year.
with

spine as (
    {{ unit_year_spine('dim_city', 'city_code', 'city_years') }}
),

units as (
    select city_code, name_zh, province_code, is_current from {{ ref('dim_city') }}
),

economy as (
    select * from {{ ref('stg_yearbook__city_economy') }}
),

employment as (
    select * from {{ ref('stg_yearbook__city_employment') }}
),

fiscal as (
    select * from {{ ref('stg_yearbook__city_fiscal') }}
),

fdi as (
    select * from {{ ref('stg_yearbook__city_fdi') }}
),

innovation as (
    select * from {{ ref('stg_yearbook__city_innovation') }}
),

digital as (
    select * from {{ ref('stg_yearbook__city_digital') }}
),

joined as (
    select
        spine.city_code,
        spine.year,
        units.name_zh,
        units.province_code,
        units.is_current,
        economy.* exclude (city_code, year, is_synthetic, source_files),
        employment.* exclude (city_code, year, is_synthetic, source_files),
        fiscal.* exclude (city_code, year, is_synthetic, source_files),
        fdi.* exclude (city_code, year, is_synthetic, source_files),
        innovation.* exclude (city_code, year, is_synthetic, source_files),
        digital.* exclude (city_code, year, is_synthetic, source_files),
        coalesce(economy.is_synthetic, false) or coalesce(employment.is_synthetic, false) or coalesce(fiscal.is_synthetic, false) or coalesce(fdi.is_synthetic, false) or coalesce(innovation.is_synthetic, false) or coalesce(digital.is_synthetic, false) as is_synthetic
    from spine
    inner join units using (city_code)
    left join economy using (city_code, year)
    left join employment using (city_code, year)
    left join fiscal using (city_code, year)
    left join fdi using (city_code, year)
    left join innovation using (city_code, year)
    left join digital using (city_code, year)
)

select * from joined
