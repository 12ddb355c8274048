-- One row per county, year and variable from every raw table of county level (the standard tables and every
-- table ingest recorded in meta.raw_tables), minus values a later file superseded (raw.revisions).
-- depends_on: {{ ref('variables') }}
{{ union_raw('county') }}
