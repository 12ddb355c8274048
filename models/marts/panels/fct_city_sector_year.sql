-- City × sector × year: every raw table of city level ingested with `keys: {sector: …}` (sector employment
-- for location quotients), one column per variable registered for that grain.
{{ pivot_keyed('city', 'sector', 'city_code', exact=true) }}
