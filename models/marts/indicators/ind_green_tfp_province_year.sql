-- Inclusive green TFP per province and year (macro green_tfp_for_level): the chained global
-- Malmquist–Luenberger index of var('green_tfp_run') or the latest stored global-ML run of provinces.
{{ green_tfp_for_level('province') }}
