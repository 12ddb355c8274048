{#- The raw values of every indicator of every index system, long: one select per row of
    seeds/index_systems.csv (index_name, indicator, unit_code, year, raw_value).

    `systems` is the seed relation; `inputs` maps each allowed source_model name to
    [its relation, its unit-code column]. The seed is read when the model runs, and a row naming an
    unknown model or a column the model does not have stops the build with a message that names the
    index, the indicator and the column, before anything is written.
-#}
{% macro index_system_values(systems, inputs) -%}
    {%- set rows = [] -%}
    {%- if execute -%}
        {%- set rows = run_query('select index_name, indicator, source_model, source_column from '
                                 ~ systems ~ ' order by index_name, indicator').rows -%}
    {%- endif -%}
    {%- set known = {} -%}
    {%- for r in rows -%}
        {%- if r['source_model'] not in inputs -%}
            {{ exceptions.raise_compiler_error('seeds/index_systems.csv: index ' ~ r['index_name'] ~ ', indicator '
                ~ r['indicator'] ~ ': source_model ' ~ r['source_model'] ~ ' is not one of '
                ~ (inputs.keys() | list | join(', ')) ~ '; correct source_model') }}
        {%- endif -%}
        {%- if r['source_model'] not in known -%}
            {%- do known.update({r['source_model']: adapter.get_columns_in_relation(inputs[r['source_model']][0])
                                 | map(attribute='name') | map('lower') | list}) -%}
        {%- endif -%}
        {%- if (r['source_column'] | lower) not in known[r['source_model']] -%}
            {{ exceptions.raise_compiler_error('seeds/index_systems.csv: index ' ~ r['index_name'] ~ ', indicator '
                ~ r['indicator'] ~ ': column ' ~ r['source_column'] ~ ' is not in ' ~ r['source_model']
                ~ '; correct source_column, or add the column to models/intermediate/indicators/'
                ~ r['source_model'] ~ '.sql') }}
        {%- endif -%}
    {%- endfor -%}
    {%- for r in rows %}
    select
        '{{ r['index_name'] }}' as index_name,
        '{{ r['indicator'] }}' as indicator,
        {{ inputs[r['source_model']][1] }} as unit_code,
        year,
        cast("{{ r['source_column'] }}" as double) as raw_value
    from {{ inputs[r['source_model']][0] }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- if rows | length == 0 %}
    select
        cast(null as varchar) as index_name, cast(null as varchar) as indicator,
        cast(null as varchar) as unit_code, cast(null as integer) as year, cast(null as double) as raw_value
    where false
    {%- endif %}
{%- endmacro %}
