-- W·x of every numeric column of fct_county_year, for every stored county-level weight matrix: one row per
-- matrix, county and year (filter on w_name). A view, so a matrix built after the last dbt build is there.
{{ config(materialized="view") }}

{{ spatial_lag(ref('fct_county_year'), 'county_code',
               numeric_columns(ref('fct_county_year'), exclude=['year']), level='county') }}
