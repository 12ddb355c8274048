-- One row per province and year: raw.province_digital pivoted to one column per variable (canonical units).
{{ pivot_raw('province_digital', 'province_code') }}
