{#- Generic data tests written here because dbt-utils cannot be installed offline (no `dbt deps`). -#}

{#- No two rows share the same values of `columns` (a composite key). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every value lies in [min_value, max_value] (nulls pass; pair with not_null where needed). -#}
{% test between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    {% if min_value is not none %} {{ column_name }} < {{ min_value }} {% else %} false {% endif %}
    or {% if max_value is not none %} {{ column_name }} > {{ max_value }} {% else %} false {% endif %}
  )
{% endtest %}

{#- The query `sql` returns no rows: an expression of a model-level invariant. -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}

{#- Every (columns) combination of the model exists in `to`: no row falls outside a panel's spine. -#}
{% test covered_by(model, to, columns) %}
select {{ columns | join(', ') }}
from {{ model }} as m
where not exists (
    select 1 from {{ to }} as t
    where {% for c in columns %}t.{{ c }} = m.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
)
{% endtest %}
