-- One row per city and year: raw.city_innovation pivoted to one column per variable (canonical units).
{{ pivot_raw('city_innovation', 'city_code') }}
