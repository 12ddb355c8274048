-- One row per city and year: raw.city_fiscal pivoted to one column per variable (canonical units).
{{ pivot_raw('city_fiscal', 'city_code') }}
