-- One row per city, year and variable from every raw table of city level (the standard tables and every
-- table ingest recorded in meta.raw_tables), minus values a later file superseded (raw.revisions).
-- depends_on: {{ ref('variables') }}
{{ union_raw('city') }}
