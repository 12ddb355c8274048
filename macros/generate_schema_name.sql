{#- Use a model's custom schema name as is (staging, reference), not prefixed with the target schema,
    so marts land in `main` and analysts query `dim_city` unqualified. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
