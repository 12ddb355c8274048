{#- Theil T index with its within/between-group decomposition (Shorrocks 1980):

    T   = (1/n) Σ_i (y_i/μ) ln(y_i/μ)
    T_w = Σ_g s_g T_g,            s_g = n_g μ_g / (n μ)   (group's share of the total)
    T_b = Σ_g s_g ln(μ_g / μ)
    T = T_w + T_b.  y must be positive (y ln y → 0 at 0).

    Arguments: relation, value, group (column of the group), partition_by (list: one decomposition
    per partition, e.g. ['year']). Returns partition_by, n, theil, theil_within, theil_between,
    share_within, share_between.
-#}
{% macro theil_decomposition(relation, value, group, partition_by) -%}
    {%- set p = partition_by | join(', ') -%}
    with

    base as (
        select
            {{ p }},
            {{ group }} as grp,
            {{ value }} as y,
            avg({{ value }}) over (partition by {{ p }}) as mu,
            count(*) over (partition by {{ p }}) as n,
            avg({{ value }}) over (partition by {{ p }}, {{ group }}) as mu_g,
            count(*) over (partition by {{ p }}, {{ group }}) as n_g
        from {{ relation }}
        where {{ value }} is not null
    ),

    groups as (
        select
            {{ p }},
            grp,
            max(n) as n,
            max(mu) as mu,
            max(n_g) * max(mu_g) / (max(n) * max(mu)) as s_g,
            avg(case when y > 0 then (y / mu_g) * ln(y / mu_g) else 0 end) as theil_g,
            ln(max(mu_g) / max(mu)) as log_ratio
        from base
        group by {{ p }}, grp
    ),

    totals as (
        select
            {{ p }},
            max(n) as n,
            sum(s_g * theil_g) as theil_within,
            sum(s_g * log_ratio) as theil_between
        from groups
        group by {{ p }}
    )

    select
        {{ p }},
        n,
        theil_within + theil_between as theil,
        theil_within,
        theil_between,
        theil_within / nullif(theil_within + theil_between, 0) as share_within,
        theil_between / nullif(theil_within + theil_between, 0) as share_between
    from totals
{%- endmacro %}
