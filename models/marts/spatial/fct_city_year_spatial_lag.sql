-- W·x of every numeric column of fct_city_year, for every stored city-level weight matrix: one row per
-- matrix, city and year (filter on w_name). A view, so a matrix built after the last dbt build is there.
{{ config(materialized="view") }}

{{ spatial_lag(ref('fct_city_year'), 'city_code',
               numeric_columns(ref('fct_city_year'), exclude=['year']), level='city') }}
