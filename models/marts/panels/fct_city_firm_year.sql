-- Firms rolled up to their registration city: one row per city and year with the number of firms and
-- the sum of every additive firm variable (money, people, counts …; shares, indices and years are not
-- summed). Built from fct_firm_year with the roll_up_to_city macro.
{{ roll_up_to_city(ref('fct_firm_year'), additive_variables('city', 'firm'), how='sum') }}
