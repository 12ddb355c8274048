-- Firm × year: every raw table of city level ingested with a `firm` key (e.g. keys: {firm: 证券代码,
-- industry: 行业代码}); the unit column is the registration city resolved through the crosswalk (so codes of
-- older vintages land on the current city), other keys are attributes, one column per registered variable.
{{ pivot_keyed('city', 'firm', 'city_code', exact=false) }}
