{#- Winsorising: clamp x to [q_lower, q_upper], the lower and upper percentiles of x within the
    window `partition_by` (empty list = pooled over the whole table; ['year'] = by year).
    Percentiles by linear interpolation between order statistics (quantile_cont; numpy's default
    'linear'). Papers: 1 % / 99 % in 001 and P8/P10, 5 % in 000 (papers-000-001.md §2).
-#}
{% macro winsorise(value, lower=0.01, upper=0.99, partition_by=[]) -%}
    {%- set w = 'over (' ~ ('partition by ' ~ (partition_by | join(', ')) if partition_by else '') ~ ')' -%}
    least(greatest({{ value }}, quantile_cont({{ value }}, {{ lower }}) {{ w }}),
          quantile_cont({{ value }}, {{ upper }}) {{ w }})
{%- endmacro %}
