-- W·x of every numeric column of fct_province_year, for every stored province-level weight matrix: one row per
-- matrix, province and year (filter on w_name). A view, so a matrix built after the last dbt build is there.
{{ config(materialized="view") }}

{{ spatial_lag(ref('fct_province_year'), 'province_code',
               numeric_columns(ref('fct_province_year'), exclude=['year']), level='province') }}
