{#- Min–max ("efficacy coefficient", 功效系数法) normalisation with indicator direction.

    positive (+):  x' = (x − min) / (max − min) + shift
    negative (−):  x' = (max − x) / (max − min) + shift

    min and max are taken over the window `partition_by`: the indicator pooled over all units and
    years ("global", as in the digital–real integration paper, papers-003b.md §1.2) or the indicator
    within each year (add `year`). `shift` is the customary small constant (e.g. 0.0001) that keeps
    every share positive so that ln p is defined in the entropy step.
    An indicator without variance in its window stops the build: its entropy weight is undefined.

    Arguments: value, direction (SQL expressions; direction is '+' or '-'), partition_by (list of
    SQL expressions), shift (number), label (SQL expression naming the indicator in the error).
-#}
{% macro normalise_minmax(value, direction, partition_by, shift=0, label="'indicator'") -%}
    {%- set w = 'over (partition by ' ~ (partition_by | join(', ')) ~ ')' -%}
    case
        when max({{ value }}) {{ w }} = min({{ value }}) {{ w }}
            then error(concat('indicator ', {{ label }}, ' has no variance (min = max = ',
                              min({{ value }}) {{ w }}, '), so its entropy weight is undefined: ',
                              'drop it from seeds/index_systems.csv or check its source column'))
        when {{ direction }} = '-'
            then (max({{ value }}) {{ w }} - {{ value }}) / (max({{ value }}) {{ w }} - min({{ value }}) {{ w }})
        else ({{ value }} - min({{ value }}) {{ w }}) / (max({{ value }}) {{ w }} - min({{ value }}) {{ w }})
    end + {{ shift }}
{%- endmacro %}
