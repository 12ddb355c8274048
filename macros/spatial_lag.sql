{#- Spatial lag in SQL, from the weight matrices geopanel stores (geo/weights, `geopanel weights build`).

    spatial_lag(panel, key, columns, w_name=none, level=none, time_column='year')

    For every matrix (or only `w_name`, or only matrices whose catalog level is `level`) and every row of
    `panel` whose unit is in the matrix, W·x of each column:

        w_<column> = Σ_j w_ij · x_jt      over the neighbours j of unit i, in the same period t

    with the weights as stored (after the matrix's recorded transform; see weights.w_catalog.transform).
    Strict about gaps: w_<column> is null when any neighbour has no value that period (a partial sum
    would silently change the weights), and 0 for a unit without neighbours (an empty row of W).
    `n_neighbors` counts the unit's neighbours in the matrix. One row per matrix, unit and period.

    Example (analyses/sql/spatial_lag_example.sql):
        {{ spatial_lag(ref('fct_province_year'), 'province_code', ['gdp'], w_name='queen_province') }}
-#}
{% macro spatial_lag(panel, key, columns, w_name=none, level=none, time_column='year') -%}
{%- set t = time_column -%}
with

panel as (
    select * from {{ panel }}
),

catalog as (
    select * from {{ source('weights', 'w_catalog') }}
    where true
    {%- if w_name %} and w_name = '{{ w_name }}'{% endif %}
    {%- if level %} and level = '{{ level }}'{% endif %}
),

edges as (
    select e.w_name, e.focal, e.neighbor, e.weight
    from {{ source('weights', 'w_edges') }} as e
    inner join catalog as c using (w_name)
),

units as (
    -- every unit of each matrix, islands included (w_units), plus units of matrices written without it
    select u.w_name, u.code from {{ source('weights', 'w_units') }} as u inner join catalog as c using (w_name)
    union
    select w_name, focal as code from edges
),

degree as (
    select w_name, focal as code, count(*) as n_neighbors from edges group by w_name, focal
),

lagged as (
    select
        e.w_name,
        e.focal as code,
        {%- if t %}
        n.{{ t }},
        {%- endif %}
        {%- for c in columns %}
        sum(e.weight * n.{{ c }}) as sum_{{ c }},
        count(n.{{ c }}) as n_with_{{ c }},
        {%- endfor %}
        count(*) as n_joined
    from edges as e
    inner join panel as n on n.{{ key }} = e.neighbor
    group by all
),

spatial_lag as (
    select
        u.w_name,
        p.{{ key }},
        {%- if t %}
        p.{{ t }},
        {%- endif %}
        {%- for c in columns %}
        p.{{ c }},
        case
            when coalesce(d.n_neighbors, 0) = 0 then 0.0
            when l.n_with_{{ c }} = d.n_neighbors then l.sum_{{ c }}
        end as w_{{ c }},
        {%- endfor %}
        coalesce(d.n_neighbors, 0) as n_neighbors
    from panel as p
    inner join units as u on u.code = p.{{ key }}
    left join degree as d on d.w_name = u.w_name and d.code = p.{{ key }}
    left join lagged as l
        on l.w_name = u.w_name and l.code = p.{{ key }}{% if t %} and l.{{ t }} = p.{{ t }}{% endif %}
)

select * from spatial_lag
{%- endmacro %}


{#- The numeric columns of a relation, except keys and flags: what a lag view lags. Empty while dbt parses. -#}
{% macro numeric_columns(relation, exclude=[]) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set numeric = ['DOUBLE', 'FLOAT', 'REAL', 'DECIMAL', 'INTEGER', 'BIGINT', 'HUGEINT', 'SMALLINT', 'TINYINT',
                       'UBIGINT', 'UINTEGER'] -%}
    {%- set out = [] -%}
    {%- for col in adapter.get_columns_in_relation(relation) -%}
        {%- set dtype = col.dtype | upper -%}
        {%- if col.name not in exclude and (dtype.split('(')[0] in numeric) -%}
            {%- do out.append(col.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{#- The weights tables, as warehouse/weights.py creates them (tests/integration/test_spatial_lag_sql.py
    checks that both agree), so views over them can be created before any matrix is built. -#}
{% macro create_weights_tables() -%}
create schema if not exists weights;
create table if not exists weights.w_edges (
    w_name varchar not null, focal varchar not null, neighbor varchar not null, weight double not null);
create table if not exists weights.w_units (w_name varchar not null, position integer not null, code varchar not null);
create table if not exists weights.w_catalog (
    w_name varchar primary key, kind varchar, params varchar, level varchar, unit_set varchar,
    units_hash varchar, n integer, n_links bigint, mean_neighbors double, min_neighbors integer,
    max_neighbors integer, islands integer, island_codes varchar, islands_linked integer,
    islands_linked_codes varchar, components integer, is_symmetric boolean, transform varchar,
    description varchar, built_at timestamp)
{%- endmacro %}
