-- One row per city and year: raw.city_economy pivoted to one column per variable (canonical units).
{{ pivot_raw('city_economy', 'city_code') }}
