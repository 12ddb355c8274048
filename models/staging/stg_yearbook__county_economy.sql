-- One row per county and year: raw.county_economy pivoted to one column per variable (canonical units).
{{ pivot_raw('county_economy', 'county_code') }}
