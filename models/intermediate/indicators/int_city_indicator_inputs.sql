-- The city panel plus the ratios composite indices need (per 100 / 10,000 people, per capita,
-- shares). One row per city and year; index systems name these columns.
with

panel as (
    select * from {{ ref('fct_city_year') }}
),

ratios as (
    select
        *,
        100 * broadband_subscribers / nullif(pop, 0) as broadband_per_100,
        100 * mobile_subscribers / nullif(pop, 0) as mobile_per_100,
        1e4 * students_university / nullif(pop, 0) as students_per_10k,
        1e4 * expenditure_education / nullif(pop, 0) as education_spending_pc,
        emp_research_tech / nullif(emp_total, 0) as research_employment_share,
        1e4 * telecom_business / nullif(pop, 0) as telecom_per_capita,
        patent_grant_green_invention / nullif(pop, 0) as green_invention_per_10k,
        va_primary / nullif(gdp, 0) as primary_va_share
    from panel
)

select * from ratios
