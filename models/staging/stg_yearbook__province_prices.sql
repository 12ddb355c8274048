-- Retail price indices stay long: one row per province, year and goods category, the grain
-- the market-segmentation method works on.
with

prices as (
    select * from {{ source('raw', 'province_prices') }}
)

select
    unit_code as province_code,
    year,
    replace(variable, 'price_index_', '') as goods,
    value as price_index,
    _synthetic as is_synthetic,
    _source_file as source_file
from prices
