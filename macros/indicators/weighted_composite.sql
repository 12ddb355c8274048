{#- Weighted composite index: I_u = Σ_j w_j x'_uj (papers-003b.md §1.2, eq (3)).

    Arguments: relation (one row per key and indicator with the normalised value), weights (one row
    per weight key and indicator with `weight`), keys (columns identifying a score, e.g.
    ['index_name', 'component', 'unit_code', 'year']), weight_keys (columns the two share besides
    the indicator, e.g. ['index_name']), value (normalised column). Returns keys, value.
-#}
{% macro weighted_composite(relation, weights, keys, weight_keys, value='x_norm') -%}
    select
        {% for k in keys %}x.{{ k }}, {% endfor %}
        sum(w.weight * x.{{ value }}) as value
    from {{ relation }} as x
    inner join {{ weights }} as w
        on w.indicator = x.indicator{% for k in weight_keys %} and w.{{ k }} = x.{{ k }}{% endfor %}
    group by {% for k in keys %}x.{{ k }}{% if not loop.last %}, {% endif %}{% endfor %}
{%- endmacro %}
