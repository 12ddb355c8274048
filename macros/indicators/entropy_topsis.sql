{#- Entropy-weight TOPSIS: closeness of each observation to the ideal solution.

    z_uj = w_j x'_uj                       (weighted normalised matrix)
    Z+_j = max_u z_uj,  Z−_j = min_u z_uj  (positive / negative ideal within the comparison group)
    D+_u = √Σ_j (z_uj − Z+_j)²,  D−_u = √Σ_j (z_uj − Z−_j)²
    C_u  = D−_u / (D+_u + D−_u) ∈ [0, 1]
    Hwang & Yoon (1981); used with entropy weights by the NQP paper, papers-003b.md §2.3 (which does
    not print the formulas). Directions are already in x' (min–max with direction), so the ideal is
    the column maximum for every indicator.

    Arguments: relation, weights, keys (identify one score), ideal_by (columns of the group within
    which the ideals are taken, e.g. ['index_name', 'component'] pooled, or + 'year'), weight_keys,
    value. Returns keys, d_plus, d_minus, closeness.
-#}
{% macro entropy_topsis(relation, weights, keys, ideal_by, weight_keys, value='x_norm') -%}
    {%- set ib = ideal_by | join(', ') -%}
    with

    weighted as (
        select
            {% for k in keys %}x.{{ k }}, {% endfor %}
            x.indicator,
            w.weight * x.{{ value }} as z
        from {{ relation }} as x
        inner join {{ weights }} as w
            on w.indicator = x.indicator{% for k in weight_keys %} and w.{{ k }} = x.{{ k }}{% endfor %}
    ),

    ideals as (
        select
            *,
            max(z) over (partition by {{ ib }}, indicator) as z_plus,
            min(z) over (partition by {{ ib }}, indicator) as z_minus
        from weighted
    ),

    distances as (
        select
            {{ keys | join(', ') }},
            sqrt(sum((z - z_plus) ^ 2)) as d_plus,
            sqrt(sum((z - z_minus) ^ 2)) as d_minus
        from ideals
        group by {{ keys | join(', ') }}
    )

    select
        *,
        d_minus / nullif(d_plus + d_minus, 0) as closeness
    from distances
{%- endmacro %}
