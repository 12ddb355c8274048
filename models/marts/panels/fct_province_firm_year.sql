-- Firms rolled up to provinces through their registration cities (fct_city_firm_year, macro
-- roll_up_to_province): n_cities with firms, the number of firms and the sum of every additive firm variable.
{{ roll_up_to_province(ref('fct_city_firm_year'), 'city_code', ['n_firms'] + additive_variables('city', 'firm')) }}
