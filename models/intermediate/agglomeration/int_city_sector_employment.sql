-- Employees by sector (seeds/agglomeration_sectors.csv) and in total per city and year, long.
-- A sector whose source_column is not an employment column of fct_city_year stops the build.
-- One row per city, year and sector (city-years without the value are absent).
with

panel as (
    select * from {{ ref('fct_city_year') }}
),

sectors as (
    select * from {{ ref('agglomeration_sectors') }}
),

long as (
    unpivot (select city_code, year, columns('^emp_') from panel)
    on columns('^emp_')
    into name source_column value employees
),

totals as (
    select city_code, year, emp_total as total_employees from panel where emp_total > 0
),

checked as (
    select
        s.*,
        case
            when not exists (select 1 from long where long.source_column = s.source_column)
                 and exists (select 1 from long)
                then error(concat('seeds/agglomeration_sectors.csv: sector ', s.sector, ' names column ',
                                  s.source_column, ', which fct_city_year has no values for; correct source_column'))
        end as _check
    from sectors as s
),

joined as (
    select
        long.city_code,
        long.year,
        checked.sector,
        checked.sector_group,
        long.employees,
        totals.total_employees
    from long
    inner join checked using (source_column)
    inner join totals using (city_code, year)
)

select * from joined
