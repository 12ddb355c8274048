-- Current units that did not exist before some year of the panel: created outright (三沙 2012) or
-- formed from other units' territory under a new code (伊春's 友好区 230719, 2019). Before that year
-- their name and code are not valid labels. A unit that only changed name or status (毕节地区 ->
-- 毕节市) is not here: the same territory existed, so its current name serves for back years too.
with

changes as (
    select * from {{ ref('admin_changes') }}
),

new_codes as (
    select level, new_code as code, min(effective_year) as valid_from
    from changes
    where nullif(new_code, '') is not null
      and (change_type = 'create' or (mapping = 'partial' and old_code is distinct from new_code))
    group by level, new_code
)

select n.*
from new_codes as n
where not exists (
    select 1 from changes as c where c.level = n.level and c.old_code = n.code
)
