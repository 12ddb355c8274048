{#- Refer to models and sources without the database (catalog) name.

    dbt-duckdb qualifies every relation with the catalog, which DuckDB names after the file; a view
    built into geopanel.duckdb would then stop working in a copy saved under another name. Views
    compiled from these unqualified references resolve in whatever file they live in.
-#}
{% macro ref() -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- do return(relation.include(database=False)) -%}
{%- endmacro %}

{% macro source() -%}
    {%- set relation = builtins.source(*varargs, **kwargs) -%}
    {%- do return(relation.include(database=False)) -%}
{%- endmacro %}
