{#- Coupling coordination degree of n = 2 or 3 subsystems with indices U_1 … U_n in [0, 1].

    C = n (Π_i U_i)^(1/n) / Σ_i U_i     (coupling degree; equals {Π U_i / [(Σ U_i)/n]^n}^(1/n))
    T = Σ_i α_i U_i,  Σ α_i = 1         (comprehensive coordination index; equal α by default)
    D = √(C · T)                        (coupling coordination degree)
    The usual ten-grade scale of D in steps of 0.1 (极度失调 … 优质协调) follows 廖重斌 (1999),
    as used throughout the Chinese regional literature [NOT IN PAPER: the digital–real paper,
    papers-003b.md §1, uses the entropy index only; the coupling measure is the issue's second measure].

    coupling_degree(us), coordination_index(us, alphas), coordination_degree(us, alphas) and
    coordination_grade(d) are SQL expressions; us is a list of column expressions.
-#}
{% macro coupling_degree(us) -%}
    {%- set n = us | length -%}
    {%- if n not in (2, 3) -%}{{ exceptions.raise_compiler_error('coupling_degree: give 2 or 3 subsystems, got ' ~ n) }}{%- endif -%}
    ({{ n }} * pow({{ us | join(' * ') }}, 1.0 / {{ n }}) / nullif({{ us | join(' + ') }}, 0))
{%- endmacro %}

{% macro coordination_index(us, alphas=none) -%}
    {%- set n = us | length -%}
    {%- set a = alphas if alphas else [1.0 / n] * n -%}
    ({% for u in us %}{{ a[loop.index0] }} * {{ u }}{% if not loop.last %} + {% endif %}{% endfor %})
{%- endmacro %}

{% macro coordination_degree(us, alphas=none) -%}
    sqrt({{ coupling_degree(us) }} * {{ coordination_index(us, alphas) }})
{%- endmacro %}

{% macro coordination_grade(d) -%}
    case
        when {{ d }} is null then null
        when {{ d }} < 0.1 then '极度失调 extreme imbalance'
        when {{ d }} < 0.2 then '严重失调 serious imbalance'
        when {{ d }} < 0.3 then '中度失调 moderate imbalance'
        when {{ d }} < 0.4 then '轻度失调 mild imbalance'
        when {{ d }} < 0.5 then '濒临失调 verge of imbalance'
        when {{ d }} < 0.6 then '勉强协调 barely coordinated'
        when {{ d }} < 0.7 then '初级协调 primary coordination'
        when {{ d }} < 0.8 then '中级协调 intermediate coordination'
        when {{ d }} < 0.9 then '良好协调 good coordination'
        else '优质协调 high-quality coordination'
    end
{%- endmacro %}
