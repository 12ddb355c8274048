-- Employment location quotient of each sector in each city and year (macro location_quotient):
-- LQ = (E_is / E_i) / (E_s / E), national totals over the cities with data that year.
with

sector_employment as (
    select * from {{ ref('int_city_sector_employment') }}
),

national as (
    select
        year,
        sector,
        sum(employees) as national_sector_employees,
        sum(total_employees) as national_total_employees
    from sector_employment
    group by year, sector
),

quotients as (
    select
        s.city_code,
        s.year,
        s.sector,
        s.sector_group,
        s.employees,
        s.total_employees,
        {{ location_quotient('s.employees', 's.total_employees', 'n.national_sector_employees',
                             'n.national_total_employees') }} as location_quotient
    from sector_employment as s
    inner join national as n using (year, sector)
)

select * from quotients
