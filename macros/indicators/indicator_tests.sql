{#- Generic tests of the indicator layers. -#}

{#- Entropy weights of each index (and weight group) add up to 1. -#}
{% test weights_sum_to_one(model, tolerance=1e-9) %}
select index_name, weight_group, sum(weight) as total_weight
from {{ model }}
group by index_name, weight_group
having abs(sum(weight) - 1) > {{ tolerance }}
{% endtest %}

{#- Completeness: every year of the model has at least `min_units` distinct units (a year that lost
    units to missing data fails instead of silently thinning the panel). `where` restricts the rows. -#}
{% test min_units_per_year(model, unit_column, min_units, where_sql='true') %}
select year, count(distinct {{ unit_column }}) as n_units
from {{ model }}
where {{ where_sql }}
group by year
having count(distinct {{ unit_column }}) < {{ min_units }}
{% endtest %}
