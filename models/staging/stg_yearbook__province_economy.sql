-- One row per province and year: raw.province_economy pivoted to one column per variable (canonical units).
{{ pivot_raw('province_economy', 'province_code') }}
