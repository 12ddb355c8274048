-- Province × industry × year: every raw table of province level ingested with `keys: {industry: …}`,
-- one column per variable registered for that grain (papers 004 and the central-China TFP paper).
{{ pivot_keyed('province', 'industry', 'province_code', exact=true) }}
