-- The province panel plus the ratios composite indices need. One row per province and year.
with

panel as (
    select * from {{ ref('fct_province_year') }}
),

ratios as (
    select
        *,
        1e4 * gdp / nullif(pop_resident, 0) as gdp_per_capita,
        1e4 * retail_sales / nullif(pop_resident, 0) as retail_sales_per_capita,
        va_primary / nullif(gdp, 0) as primary_va_share
    from panel
)

select * from ratios
