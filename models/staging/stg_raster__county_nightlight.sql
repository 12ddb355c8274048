-- County zonal statistics of the nighttime-light rasters, as `geopanel ingest-raster` wrote them to
-- raw.county_nightlight. Rasters are optional: without that table this view is empty (same columns),
-- so a warehouse without light data still builds. One row per county and year.
{%- set loaded = adapter.get_relation(database=target.database, schema='raw', identifier='county_nightlight') %}
{%- if loaded %}
select
    county_code,
    year,
    ntl_mean,
    ntl_sum,
    pixel_count,
    pixel_touched,
    coverage,
    sensor,
    _synthetic as is_synthetic,
    _source_file as source_file
from {{ loaded.include(database=False) }}
{%- else %}
select
    cast(null as varchar) as county_code, cast(null as integer) as year, cast(null as double) as ntl_mean,
    cast(null as double) as ntl_sum, cast(null as integer) as pixel_count, cast(null as integer) as pixel_touched,
    cast(null as double) as coverage, cast(null as varchar) as sensor, cast(null as boolean) as is_synthetic,
    cast(null as varchar) as source_file
where false
{%- endif %}
