{#- Entropy weights of indicators (information entropy, divergence, weight).

    For indicator j over the N observations of its group (all unit-years pooled, or one year):
        p_ij = x'_ij / Σ_i x'_ij
        e_j  = −(1 / ln N) Σ_i p_ij ln p_ij          (0 · ln 0 = 0)
        d_j  = 1 − e_j                               (divergence)
        w_j  = d_j / Σ_j d_j
    papers-003b.md §1.2, eqs (1)–(2) (the digital–real integration paper; its "global" entropy pools
    d years × n provinces, so N = d·n). x' must be non-negative (min–max normalised).

    Arguments: relation (a CTE or relation with one row per group, indicator and observation),
    group_by (list of columns, e.g. ['index_name'] or ['index_name', 'year']), indicator and value
    (column names). Returns group_by, indicator, n_obs, entropy, divergence, weight.
-#}
{% macro entropy_weights(relation, group_by, indicator='indicator', value='x_norm') -%}
    {%- set g = group_by | join(', ') -%}
    with

    shares as (
        select
            {{ g }},
            {{ indicator }} as indicator,
            {{ value }} / sum({{ value }}) over (partition by {{ g }}, {{ indicator }}) as p,
            count(*) over (partition by {{ g }}, {{ indicator }}) as n_obs
        from {{ relation }}
    ),

    entropy as (
        select
            {{ g }},
            indicator,
            max(n_obs) as n_obs,
            -sum(case when p > 0 then p * ln(p) else 0 end) / ln(nullif(max(n_obs), 1)) as entropy
        from shares
        group by {{ g }}, indicator
    )

    select
        {{ g }},
        indicator,
        n_obs,
        entropy,
        1 - entropy as divergence,
        (1 - entropy) / sum(1 - entropy) over (partition by {{ g }}) as weight
    from entropy
{%- endmacro %}
