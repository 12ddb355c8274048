-- Resolves a unit label as it appears in a file (a code, a full or short name, current or
-- historical, a 州 abbreviation, a standard alias from seeds/unit_aliases.csv) in a given year to the
-- unit code the warehouse uses. warehouse/resolve.py joins raw labels against this table (plus the
-- user aliases in raw.unit_aliases); a label with no row, or with several, is rejected with the reason.
with

units as (
    select 'province' as level, province_code as unit_code, name_zh, name_short,
           cast(null as varchar) as parent_code, cast(null as integer) as valid_from, true as is_current,
           cast(null as integer) as valid_to
    from {{ ref('dim_province') }}
    union all
    select 'city', city_code, name_zh, name_short, province_code, valid_from, is_current, valid_to
    from {{ ref('dim_city') }}
    union all
    select 'county', county_code, name_zh, name_short, parent_code, valid_from, is_current, valid_to
    from {{ ref('dim_county') }}
),

changes as (
    select * from {{ ref('admin_changes') }}
),

seed_aliases as (
    select * from {{ ref('unit_aliases') }}
),

prefectures as (
    select * from {{ ref('dim_city') }}
    where unit_type = 'autonomous_prefecture' and name_short <> name_zh
),

unit_labels as (
    -- a unit is known by its code, its full name and its short name while it exists
    select level, unit_code as alias, 'code' as alias_kind, unit_code, parent_code,
           coalesce(valid_from, 1949) as valid_from, coalesce(valid_to, 9999) as valid_to,
           cast(null as varchar) as change_id
    from units
    union all
    select level, name_zh, 'name', unit_code, parent_code,
           coalesce(valid_from, 1949), coalesce(valid_to, 9999), null
    from units
    union all
    select level, name_short, 'short_name', unit_code, parent_code,
           coalesce(valid_from, 1949), coalesce(valid_to, 9999), null
    from units
    where name_short <> name_zh
),

carried_changes as (
    -- same territory under an old name or code (rename, upgrade, code change, full merge):
    -- the old label maps to the current unit up to and including the year of the change,
    -- since yearbooks of that year use either label
    select c.level, c.old_code, c.old_name, c.new_code as unit_code, c.effective_year as valid_to, c.change_id
    from changes as c
    where c.mapping = 'full' and nullif(c.new_code, '') is not null
),

change_aliases as (
    select level, old_code as alias, 'old_code' as alias_kind, unit_code, 1949 as valid_from, valid_to, change_id
    from carried_changes where old_code is not null and old_code <> unit_code
    union all
    select level, old_name, 'old_name', unit_code, 1949, valid_to, change_id
    from carried_changes where old_name is not null
    union all
    select level, {{ short_name('old_name') }}, 'old_short_name', unit_code, 1949, valid_to, change_id
    from carried_changes where old_name is not null and {{ short_name('old_name') }} <> old_name
),

abbreviations as (
    -- yearbooks write autonomous prefectures as 恩施州 / 恩施自治州 (short name + 州 / 自治州)
    select 'city' as level, name_short || suffix as alias, 'abbreviation' as alias_kind, city_code as unit_code,
           province_code as parent_code, coalesce(valid_from, 1949) as valid_from, coalesce(valid_to, 9999) as valid_to,
           cast(null as varchar) as change_id
    from prefectures
    cross join (values ('州'), ('自治州')) as s (suffix)
),

standard_aliases as (
    -- seeds/unit_aliases.csv: other labels yearbooks use (博州, 巴州, 伊犁州 …)
    select level, alias, 'alias' as alias_kind, unit_code,
           coalesce(valid_from, 1949) as valid_from, coalesce(valid_to, 9999) as valid_to
    from seed_aliases
),

all_aliases as (
    select level, alias, alias_kind, unit_code, parent_code, valid_from, valid_to, change_id from unit_labels
    union all
    select a.level, a.alias, a.alias_kind, a.unit_code, u.parent_code, a.valid_from, a.valid_to, a.change_id
    from change_aliases as a
    inner join units as u on u.level = a.level and u.unit_code = a.unit_code
    union all
    select * from abbreviations
    union all
    select a.level, a.alias, a.alias_kind, a.unit_code, u.parent_code,
           greatest(a.valid_from, coalesce(u.valid_from, 1949)), least(a.valid_to, coalesce(u.valid_to, 9999)), null
    from standard_aliases as a
    inner join units as u on u.level = a.level and u.unit_code = a.unit_code
)

-- a label that is also the current name of the same unit adds nothing
select distinct * from all_aliases
where alias is not null and length(alias) >= 2
