-- One row per city and year: raw.city_digital pivoted to one column per variable (canonical units).
{{ pivot_raw('city_digital', 'city_code') }}
