-- One row per city and year: raw.city_fdi pivoted to one column per variable (canonical units).
{{ pivot_raw('city_fdi', 'city_code') }}
