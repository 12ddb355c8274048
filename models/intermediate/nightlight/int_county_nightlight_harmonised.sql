-- The place for DMSP-OLS / NPP-VIIRS harmonisation: every sensor's county mean is mapped to one
-- consistent series by ntl = gain × raw + offset, with gain and offset per sensor from
-- var('ntl_calibration') (e.g. {viirs: {gain: 0.7, offset: 1.2}} from an intercalibration regression
-- on an overlap year). Without a calibration the value is unchanged (the demo rasters are one
-- synthetic sensor). Saturation and blooming corrections belong before ingest, on the rasters.
-- One row per county and year.
{%- set calibration = var('ntl_calibration', {}) %}
with

light as (
    select * from {{ ref('stg_raster__county_nightlight') }}
),

harmonised as (
    select
        *,
        case
            when sensor is null then ntl_mean
            {%- for sensor, c in calibration.items() %}
            when sensor = '{{ sensor }}' then {{ c.get('gain', 1) }} * ntl_mean + {{ c.get('offset', 0) }}
            {%- endfor %}
            else ntl_mean
        end as ntl_harmonised
    from light
)

select * from harmonised
