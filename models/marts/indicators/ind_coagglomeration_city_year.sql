-- Producer-services / manufacturing co-agglomeration per city and year (杨仁发's index, paper 001
-- formulas (7)–(9), reconstructed in papers-000-001.md §3):
--   ISAS = LQ of producer services (sum of the producer_services sectors), ISAM = LQ of manufacturing,
--   ISA  = [1 − |ISAS − ISAM| / (ISAS + ISAM)] + (ISAS + ISAM).
with

sector_employment as (
    select * from {{ ref('int_city_sector_employment') }}
    where sector_group in ('producer_services', 'manufacturing')
),

grouped as (
    select
        city_code,
        year,
        sector_group,
        sum(employees) as employees,
        any_value(total_employees) as total_employees,
        count(*) as n_sectors
    from sector_employment
    group by city_code, year, sector_group
),

complete as (
    -- every sector of the group present, so a missing sector does not lower a group's employment
    select g.* from grouped as g
    where g.n_sectors = (
        select count(*) from {{ ref('agglomeration_sectors') }} as s where s.sector_group = g.sector_group
    )
),

national as (
    select year, sector_group, sum(employees) as national_group, sum(total_employees) as national_total
    from complete
    group by year, sector_group
),

quotients as (
    select
        c.city_code,
        c.year,
        c.sector_group,
        {{ location_quotient('c.employees', 'c.total_employees', 'n.national_group', 'n.national_total') }} as lq
    from complete as c
    inner join national as n using (year, sector_group)
),

pivoted as (
    select
        city_code,
        year,
        max(lq) filter (where sector_group = 'producer_services') as isas,
        max(lq) filter (where sector_group = 'manufacturing') as isam
    from quotients
    group by city_code, year
    having count(*) = 2
),

indexed as (
    select
        *,
        1 - abs(isas - isam) / nullif(isas + isam, 0) + (isas + isam) as isa
    from pivoted
)

select * from indexed
