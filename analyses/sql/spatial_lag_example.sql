-- W·x for one panel column and one matrix, by name: compile with `dbt compile --select spatial_lag_example`
-- and run the SQL in target/compiled/... (or query the views fct_<level>_year_spatial_lag directly:
--   select province_code, year, gdp, w_gdp from fct_province_year_spatial_lag where w_name = 'queen_province').
{{ spatial_lag(ref('fct_province_year'), 'province_code', ['gdp', 'pop_resident'], w_name='queen_province') }}
