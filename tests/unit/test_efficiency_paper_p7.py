"""The equipment-manufacturing paper's printed Malmquist tables (papers/003, P7: 明哲, 中部六省装备制造业全要素
生产率的演进历程以及政策启示; spec shared/spec/papers-003a.md §P7 in the workspace) against geopanel's identities and
aggregation rules.

Transcribed by hand from the extracted text (003_af8018e6aeb53915.txt): Table 2 (表2 产业整体全要素生产率及其分解,
lines ~9100–9236), Table 3 (表3 分省份平均全要素生产率及其分解, ~9300–9322), Table 4 (表4 分省份装备制造业全要素
生产率时序变化, ~9332–9500), Table 5 (表5 分行业全要素生产率分解, ~9620–9684), Table 6 (表6 分行业全要素生产率
分解时序演进, ~9800–9954). DEAP 2.1 prints three decimals.

Tolerances are the rounding bounds of the printed digits, not fitted: a printed value v stands for a true value
within ±0.0005, so
- a product a·b of two printed values is within 0.0005·(a + b) + 0.0005² of the true product, and the printed
  third value is within another 0.0005 of it;
- the geometric mean of printed values is within max_k(0.0005 / v_k) (relative) of the geometric mean of the true
  values, and the printed mean within another 0.0005.
The checks can fail: the arithmetic mean of Table 2's TFPCH column (1.111) misses the printed 1.109 by more than
the bound, and so does a wrong pairing of columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.efficiency.malmquist import INDICES, MalmquistResult
from analyses.efficiency.tables import malmquist_table

HALF = 0.0005  # half a unit of the third printed decimal
PAIRS = [f"{y}–{y + 1}" for y in range(2002, 2022)]


def _row(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=float)


# Table 2: the six-province total, 20 year pairs, then the printed 均值 (mean) as the last value
TABLE2 = {
    "effch": _row("0.974 1.104 1.022 0.994 1.035 0.984 1.036 1.071 0.942 1.078 0.969 1.012 1.000 0.988 1.024 "
                  "1.007 0.985 1.028 0.968 0.990 1.010"),
    "techch": _row("1.250 1.140 1.116 1.159 1.172 1.113 1.007 1.138 1.290 1.010 1.120 1.046 1.088 1.120 1.010 "
                   "0.948 1.092 1.016 1.171 1.013 1.098"),
    "pech": _row("0.884 1.040 1.120 1.029 1.031 0.985 1.012 0.995 0.993 1.009 1.003 0.988 1.010 0.996 1.007 "
                 "0.982 0.984 1.021 0.969 1.002 1.002"),
    "sech": _row("1.101 1.061 0.912 0.967 1.004 0.999 1.024 1.076 0.949 1.068 0.966 1.025 0.990 0.992 1.017 "
                 "1.025 1.001 1.007 0.999 0.988 1.008"),
    "tfpch": _row("1.217 1.258 1.141 1.153 1.213 1.095 1.043 1.218 1.216 1.088 1.085 1.059 1.088 1.107 1.034 "
                  "0.954 1.075 1.045 1.134 1.003 1.109"),
}

# Table 3: province geometric means over 2002–2022 (EFFCH, TECHCH, PECH, SECH, TFPCH)
TABLE3 = pd.DataFrame({
    "安徽": _row("0.994 1.102 1.000 0.994 1.095"), "山西": _row("1.032 1.089 1.000 1.032 1.123"),
    "江西": _row("1.022 1.090 1.000 1.022 1.114"), "河南": _row("1.012 1.096 1.008 1.004 1.109"),
    "湖北": _row("0.995 1.108 0.999 0.996 1.103"), "湖南": _row("1.004 1.102 1.006 0.998 1.107"),
}, index=INDICES).T

# Table 4: province TFPCH by year pair
TABLE4 = pd.DataFrame({
    "安徽": _row("1.244 1.137 1.124 1.161 1.131 1.004 1.076 1.165 1.214 1.079 1.112 1.097 1.103 1.137 1.049 0.867 "
               "1.030 1.042 1.124 1.058"),
    "山西": _row("1.083 1.282 1.246 1.058 1.109 1.234 0.889 1.339 1.146 1.240 1.020 1.133 1.048 1.086 1.053 1.178 "
               "1.089 1.072 1.217 1.042"),
    "江西": _row("1.265 1.391 0.987 1.103 1.264 0.947 1.281 1.334 1.140 1.134 1.059 1.073 1.016 1.094 1.025 1.066 "
               "1.085 1.039 1.144 0.968"),
    "河南": _row("1.244 1.305 1.173 1.150 1.278 1.130 0.994 1.050 1.266 1.079 1.122 1.083 1.074 1.046 1.040 0.731 "
               "1.131 1.131 1.219 1.079"),
    "湖北": _row("1.261 1.201 1.180 1.191 1.127 1.127 0.952 1.267 1.252 1.007 1.079 0.940 1.205 1.138 1.078 0.983 "
               "1.091 0.967 1.130 0.982"),
    "湖南": _row("1.216 1.247 1.151 1.266 1.396 1.155 1.110 1.182 1.282 1.008 1.124 1.040 1.090 1.144 0.964 0.966 "
               "1.025 1.027 0.989 0.899"),
}, index=range(2003, 2023))

# Table 5: industry geometric means over 2002–2022
TABLE5 = pd.DataFrame({
    "专用设备": _row("0.989 1.083 0.988 1.001 1.071"), "交通运输设备": _row("0.987 1.109 0.987 1.000 1.095"),
    "仪器仪表": _row("1.019 1.069 1.000 1.019 1.089"), "电气机械": _row("0.993 1.092 0.993 1.000 1.084"),
    "通信电子": _row("1.000 1.089 1.000 1.000 1.089"), "通用设备": _row("0.999 1.076 0.999 1.000 1.075"),
    "金属制品": _row("0.980 1.080 0.978 1.003 1.058"),
}, index=INDICES).T

# Table 6: industry TFPCH by year pair
TABLE6 = pd.DataFrame({
    "专用设备": _row("1.140 1.225 1.178 1.238 1.274 1.124 0.977 1.203 1.273 0.983 0.965 1.073 1.055 1.093 1.034 "
                 "0.870 1.094 1.051 0.907 0.823"),
    "交通运输设备": _row("1.242 1.202 1.129 1.212 1.163 1.124 1.015 1.252 1.197 0.956 1.083 0.931 1.226 1.154 "
                   "1.069 0.991 1.045 1.019 1.062 0.925"),
    "仪器仪表": _row("1.449 1.249 1.009 1.274 1.308 0.996 0.968 1.050 1.398 1.124 0.966 1.023 1.052 1.044 1.168 "
                 "0.907 1.024 1.077 1.095 0.826"),
    "电气机械": _row("1.276 1.191 1.203 1.130 1.175 0.989 0.930 1.384 1.127 1.037 1.074 1.054 1.089 1.093 1.051 "
                 "0.867 1.108 1.050 1.080 0.899"),
    "通信电子": _row("1.303 1.093 1.080 1.103 1.088 1.103 0.839 1.465 1.317 0.912 1.328 1.055 1.142 1.075 1.067 "
                 "0.925 1.002 0.973 1.184 0.930"),
    "通用设备": _row("1.225 1.368 1.224 1.169 1.196 1.068 0.948 0.997 1.321 1.000 1.141 1.047 1.085 1.102 1.022 "
                 "0.803 1.083 1.095 1.075 0.745"),
    "金属制品": _row("1.252 1.018 1.175 1.201 1.155 0.975 0.864 1.245 1.139 1.098 1.061 1.129 1.062 1.240 0.875 "
                 "0.831 1.131 1.060 1.048 0.794"),
}, index=range(2003, 2023))


def product_bound(a, b) -> np.ndarray:
    """|printed(a)·printed(b) − printed(a·b)| can reach this much from rounding alone."""
    return HALF * (np.asarray(a) + np.asarray(b)) + HALF**2 + HALF


def gmean_bound(values) -> float:
    """|gmean(printed values) − printed gmean| can reach this much from rounding alone."""
    values = np.asarray(values, dtype=float)
    return float(np.exp(np.log(values).mean()) * HALF / values.min() + HALF) + 1e-12


def as_result(series: dict[str, pd.DataFrame] | pd.DataFrame, unit_name: str = "dmu") -> MalmquistResult:
    """A MalmquistResult holding printed indices (one frame per index: later year × DMU), so that geopanel's own
    aggregation (period_means, unit_means, mean, malmquist_table) runs on the paper's numbers."""
    frames = series if isinstance(series, dict) else {"tfpch": series}
    long = None
    for name, wide in frames.items():
        part = wide.rename_axis("year").reset_index().melt(id_vars="year", var_name=unit_name, value_name=name)
        long = part if long is None else long.merge(part, on=["year", unit_name])
    for c in INDICES:
        if c not in long:
            long[c] = np.nan
    years = sorted({*long["year"], min(long["year"]) - 1})
    units = sorted(long[unit_name].unique())
    distances = pd.DataFrame({unit_name: np.tile(units, len(years)), "year": np.repeat(years, len(units))})
    return MalmquistResult(orientation="output", frontier="contemporaneous", unit=unit_name, time="year",
                           distances=distances, indices=long[[unit_name, "year", *INDICES]])


def test_table2_rows_satisfy_tfpch_effch_techch_and_effch_pech_sech():
    t = TABLE2
    assert (abs(t["effch"] * t["techch"] - t["tfpch"]) <= product_bound(t["effch"], t["techch"])).all()
    assert (abs(t["pech"] * t["sech"] - t["effch"]) <= product_bound(t["pech"], t["sech"])).all()
    # and the identities discriminate: TECHCH × PECH is not TFPCH
    assert not (abs(t["pech"] * t["techch"] - t["tfpch"]) <= product_bound(t["pech"], t["techch"])).all()


@pytest.mark.parametrize("table", [TABLE3, TABLE5], ids=["table3-provinces", "table5-industries"])
def test_mean_tables_satisfy_the_identities(table):
    assert (abs(table.effch * table.techch - table.tfpch) <= product_bound(table.effch, table.techch)).all()
    assert (abs(table.pech * table.sech - table.effch) <= product_bound(table.pech, table.sech)).all()


def test_table2_mean_row_is_geopanels_geometric_mean_of_the_printed_years():
    """One DMU (the six-province total): the overall mean is the geometric mean of the period means (DEAP)."""
    printed_mean = {k: v[-1] for k, v in TABLE2.items()}
    wide = {k: pd.DataFrame({"total": v[:-1]}, index=range(2003, 2023)) for k, v in TABLE2.items()}
    res = as_result(wide)
    for k in INDICES:
        assert abs(res.mean[k] - printed_mean[k]) <= gmean_bound(TABLE2[k][:-1]), k
    table = malmquist_table(res)
    assert list(table.index) == [*PAIRS, "mean"]
    assert (table.loc["mean"] == [1.010, 1.098, 1.002, 1.008, 1.108]).all()  # 1.109 printed: within the bound
    # an arithmetic mean would not pass: 1.111 is farther from the printed 1.109 than rounding allows
    assert abs(TABLE2["tfpch"][:-1].mean() - printed_mean["tfpch"]) > gmean_bound(TABLE2["tfpch"][:-1])
    # geometric means keep the identity: mean EFFCH × mean TECHCH = mean TFPCH up to the rows' rounding
    assert abs(res.mean["effch"] * res.mean["techch"] - res.mean["tfpch"]) <= product_bound(1.01, 1.098).item()


def test_table4_column_means_are_table3_tfpch():
    """Table 3's TFPCH per province = geopanel's unit_means (geometric, over the 20 year pairs) of Table 4."""
    means = as_result(TABLE4, "province").unit_means["tfpch"]
    for prov in TABLE4:
        assert abs(means[prov] - TABLE3.loc[prov, "tfpch"]) <= gmean_bound(TABLE4[prov]), prov
        assert round(means[prov], 3) == TABLE3.loc[prov, "tfpch"], prov  # the paper notes: exact to 3 decimals


def test_table6_column_means_are_table5_tfpch():
    means = as_result(TABLE6, "industry").unit_means["tfpch"]
    for ind in TABLE6:
        assert abs(means[ind] - TABLE5.loc[ind, "tfpch"]) <= gmean_bound(TABLE6[ind]), ind
    # metal products: 1.0585 from the printed years vs 1.058 printed — within rounding, not to the digit
    assert round(means["金属制品"], 3) != TABLE5.loc["金属制品", "tfpch"]


def test_period_means_over_provinces_are_geometric():
    """period_means: the geometric mean over DMUs of each year pair (checked against a direct computation)."""
    pm = as_result(TABLE4, "province").period_means["tfpch"]
    direct = np.exp(np.log(TABLE4).mean(axis=1))
    assert np.allclose(pm.to_numpy(), direct.to_numpy(), atol=1e-12)
