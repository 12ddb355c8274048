{% macro city_size_class(population) %}
{#-
    City size class of the State Council standard (国发〔2014〕51号《关于调整城市规模划分标准的通知》), from a
    population in 万人. The standard classifies by urban-area resident population (城区常住人口): 超大城市
    >= 1000, 特大城市 500-1000, I型大城市 300-500, II型大城市 100-300, 中等城市 50-100, I型小城市 20-50,
    II型小城市 < 20; "以上" includes the bound, "以下" excludes it, so each class is [lower, upper).
    Null population gives a null class.
-#}
    case
        when {{ population }} is null then null
        when {{ population }} >= 1000 then '超大城市'
        when {{ population }} >= 500 then '特大城市'
        when {{ population }} >= 300 then 'I型大城市'
        when {{ population }} >= 100 then 'II型大城市'
        when {{ population }} >= 50 then '中等城市'
        when {{ population }} >= 20 then 'I型小城市'
        else 'II型小城市'
    end
{% endmacro %}
