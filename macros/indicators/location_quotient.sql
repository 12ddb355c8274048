{#- Location quotient: LQ_is = (E_is / E_i) / (E_s / E) — the share of sector s in unit i's
    employment over its share nationally (papers-000-001.md, paper 001 eqs (8)–(9); paper 004's vocal).
    Arguments are SQL expressions; a unit or nation without employment gives null, not a division error.
-#}
{% macro location_quotient(e_is, e_i, e_s, e) -%}
    (({{ e_is }}) / nullif({{ e_i }}, 0)) / nullif(({{ e_s }}) / nullif({{ e }}, 0), 0)
{%- endmacro %}
