-- Units that existed in the panel years but no longer do, and whose territory changed when they
-- ended (巢湖 2011, 莱芜 2019): their data cannot be carried 1:1 to a current unit, so they keep
-- their own code for the years they existed. Renames and upgrades (襄樊 -> 襄阳) are not here:
-- those are aliases of a current unit (see dim_unit_crosswalk).
with

changes as (
    select * from {{ ref('admin_changes') }}
),

current_units as (
    select level, code from {{ ref('stg_geo__boundaries') }}
),

ended as (
    select
        c.level,
        c.old_code as code,
        c.old_name as name_zh,
        c.effective_year - 1 as valid_to,
        nullif(c.new_code, '') as successor_code,
        c.change_type,
        c.change_id
    from changes as c
    where c.mapping = 'partial'
      and c.old_code is not null
      and not exists (
          select 1 from current_units as u where u.level = c.level and u.code = c.old_code
      )
)

select * from ended
-- a split unit has one row per receiving unit: its successor is named by the abolish/merge row
qualify row_number() over (
    partition by level, code
    order by change_type in ('abolish', 'merge') desc, valid_to desc, successor_code
) = 1
