-- One row per city and year: raw.city_employment pivoted to one column per variable (canonical units).
{{ pivot_raw('city_employment', 'city_code') }}
