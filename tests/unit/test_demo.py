"""The synthetic demo generator: deterministic, yearbook-shaped, mapped correctly, and true to its DGP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from warehouse.demo import LEVEL_YEARS, DemoFile, city_label, treatment_year, write_demo_files

SMALL_YEARS = range(2010, 2012)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoFile]]:
    """Province and city files over all years (no county file, no rasters): what the DID test needs."""
    out = tmp_path_factory.mktemp("demo_full")
    return out, write_demo_files(out, levels=("province", "city"), nightlights=False)


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, list[DemoFile]]]:
    """Two runs with the same seed, every level and the rasters, but only two years."""
    runs = []
    for name in ("demo_a", "demo_b"):
        out = tmp_path_factory.mktemp(name)
        runs.append((out, write_demo_files(out, years=SMALL_YEARS)))
    return runs


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(small_runs):
    (dir_a, files_a), (dir_b, _) = small_runs
    hashes_a, hashes_b = _hashes(dir_a), _hashes(dir_b)
    assert hashes_a == hashes_b
    suffixes = {Path(name).suffix for name in hashes_a}
    assert {".csv", ".xlsx", ".tif", ".yml", ".json", ".md"} <= suffixes
    assert [f.table for f in files_a] == [
        "province_economy", "province_digital", "province_prices", "city_economy", "city_employment",
        "city_fiscal", "city_fdi", "city_innovation", "city_digital", "county_economy",
    ]


def test_another_seed_gives_other_values(small_runs, tmp_path):
    (dir_a, _), _ = small_runs
    write_demo_files(tmp_path, seed=7, levels=("city",), years=SMALL_YEARS, nightlights=False)
    assert (tmp_path / "city_economy.csv").read_bytes() != (dir_a / "city_economy.csv").read_bytes()


# ----------------------------------------------------------------------------- mappings


def _decode(data: bytes, encoding: str) -> str:
    if encoding != "auto":
        return data.decode(encoding)
    for candidate in ("utf-8", "gbk"):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise AssertionError("neither UTF-8 nor GBK")


def _tables(path: Path, mapping: dict) -> list[tuple[str, list[str], list[list[object]]]]:
    """(sheet, header, data rows) of every table the mapping reads, read independently of ingest."""
    skip = mapping.get("skip_rows") or 0
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(_decode(path.read_bytes(), mapping.get("encoding", "auto")))))
        return [("", rows[skip], rows[skip + 1:])]
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    if mapping["shape"] == "sheets":
        names = wb.sheetnames
        assert all(re.match(mapping["sheet"], n) for n in names), names
    else:
        names = [mapping.get("sheet") or wb.sheetnames[0]]
    out = []
    for name in names:
        rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
        out.append((name, [str(c) for c in rows[skip]], rows[skip + 1:]))
    return out


def _check_mapping(demo_file: DemoFile) -> dict:
    mapping = yaml.safe_load(demo_file.mapping_path.read_text(encoding="utf-8"))
    assert mapping["table"] == demo_file.table
    assert mapping["synthetic"] is True
    assert mapping["level"] in LEVEL_YEARS
    specs = [mapping["variable"]] if mapping["shape"] == "wide" and not mapping.get("indicator") else list(
        mapping["variables"].values())
    for spec in specs:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", spec["name"]) and spec["unit"], spec
    for sheet, header, rows in _tables(demo_file.data_path, mapping):
        where = f"{demo_file.data_path.name} {sheet}"
        unit = mapping["unit"]
        for col in (unit["name"], unit.get("code"), unit.get("parent")):
            assert col is None or col in header, (where, col, header)
        if mapping["shape"] == "long":
            assert mapping["year"] in header, where
        if mapping["shape"] in ("long", "sheets"):
            missing = set(mapping["variables"]) - set(header)
            assert not missing, (where, missing)
        if mapping["shape"] == "wide":
            assert any(re.fullmatch(r"\d{4}", c) for c in header), where
            if mapping.get("indicator"):
                labels = {r[header.index(mapping["indicator"])] for r in rows}
                assert set(mapping["variables"]) <= labels, where
        assert rows, where
    return mapping


def test_every_mapping_names_columns_that_exist(full_run, small_runs):
    files = full_run[1] + small_runs[0][1]
    mappings = [_check_mapping(f) for f in files]
    assert {m["shape"] for m in mappings} == {"long", "wide", "sheets"}
    # the same variable has the same canonical unit everywhere (ingest turns 万元 into 亿元)
    canonical = {"万元": "亿元", "元": "亿元", "人": "万人", "%": "fraction"}
    units: dict[str, set[str]] = {}
    for m in mappings:
        specs = [m["variable"]] if "variable" in m else list(m["variables"].values())
        for s in specs:
            units.setdefault(s["name"], set()).add(canonical.get(s["unit"], s["unit"]))
    assert {k: v for k, v in units.items() if len(v) > 1} == {}
    # 万元 and 亿元 both occur for money, so the conversion path is exercised
    printed = {s["unit"] for m in mappings for s in m.get("variables", {}).values()}
    assert {"万元", "亿元", "万人", "%"} <= printed


def test_gbk_files_really_are_gbk(full_run):
    directory, _ = full_run
    for name in ("city_fiscal_wide_gbk.csv", "city_fdi_wide.csv"):
        data = (directory / name).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        text = data.decode("gbk")
        assert "北京市" in text and "合成数据" in text.splitlines()[0] + text.splitlines()[1]


def test_bom_files_start_with_a_bom_and_plain_utf8_files_do_not(full_run):
    directory, _ = full_run
    assert (directory / "city_innovation_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (directory / "province_economy_bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (directory / "city_economy.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_sheets_workbooks_have_one_sheet_per_year_with_a_title_row(full_run):
    from openpyxl import load_workbook

    directory, _ = full_run
    for name, years, unit in (("city_employment_by_year.xlsx", LEVEL_YEARS["city"], "城市"),
                              ("province_prices_by_year.xlsx", LEVEL_YEARS["province"], "地区")):
        wb = load_workbook(directory / name, read_only=True)
        assert wb.sheetnames == [f"{y}年" for y in years]
        for y in (years[0], years[-1]):
            rows = list(wb[f"{y}年"].iter_rows(values_only=True, max_row=3))
            assert str(y) in rows[0][0] and "合成数据" in rows[0][0]
            assert rows[1][0] == unit
    prices = load_workbook(directory / "province_prices_by_year.xlsx", read_only=True)["2015年"]
    values = [v for r in prices.iter_rows(min_row=3, values_only=True) for v in r[1:]]
    assert len(values) == 31 * 16 and min(values) > 80 and max(values) < 130


# ----------------------------------------------------------------------------- the DGP


def _twfe(y: np.ndarray, d: np.ndarray, unit: np.ndarray, year: np.ndarray) -> float:
    """Two-way fixed-effects slope of y on d by alternating demeaning (unbalanced panel)."""
    frame = pd.DataFrame({"y": y, "d": d, "u": unit, "t": year})
    for _ in range(500):
        before = frame[["y", "d"]].to_numpy().copy()
        for col in ("y", "d"):
            frame[col] -= frame.groupby("u")[col].transform("mean")
            frame[col] -= frame.groupby("t")[col].transform("mean")
        if np.abs(frame[["y", "d"]].to_numpy() - before).max() < 1e-12:
            break
    return float((frame.y * frame.d).sum() / (frame.d**2).sum())


def test_twfe_did_on_city_gdp_recovers_the_true_policy_effect(full_run):
    directory, _ = full_run
    truth = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    policy = truth["city"]["policy"]
    treated = {code: t["treat_year"] for code, t in policy["treated"].items()}
    assert len(treated) >= 20
    for t in policy["treated"].values():  # July rule
        assert t["treat_year"] == treatment_year(t["approval"])
    panel = pd.read_csv(directory / "city_economy.csv", dtype={"行政区划代码": str})
    code, year = panel["行政区划代码"].to_numpy(), panel["年份"].to_numpy()
    d = np.array([float(c in treated and y >= treated[c]) for c, y in zip(code, year, strict=True)])
    assert d.sum() > 200
    effect = _twfe(np.log(panel["地区生产总值(亿元)"].to_numpy()), d, code, year)
    # tolerance: the estimator's sampling sd over seeds is about 0.0055 (spatially and serially correlated
    # errors, 30 treated cities in ~10 clusters); 0.02 is ~3.5 sd.
    assert abs(effect - policy["tau_log_gdp"]) < 0.02, effect
    placebo = _twfe(np.log(panel["年末户籍人口(万人)"].to_numpy()), d, code, year)
    assert abs(placebo) < 0.01, placebo


def test_historical_names_appear_only_in_their_valid_years(full_run):
    directory, _ = full_run
    long = pd.read_csv(directory / "city_economy.csv", dtype={"行政区划代码": str})
    innovation = pd.read_csv(directory / "city_innovation_bom.csv", encoding="utf-8-sig")
    digital = pd.read_excel(directory / "city_digital.xlsx", sheet_name="城市数字经济", skiprows=1)
    employment = pd.concat(
        [f.assign(年份=int(s[:4])) for s, f in
         pd.read_excel(directory / "city_employment_by_year.xlsx", sheet_name=None, skiprows=1).items()])
    wide = pd.read_csv(directory / "city_fiscal_wide_gbk.csv", encoding="gbk", skiprows=2)
    wide_long = wide.melt(id_vars=["地区", "指标"], var_name="年份").dropna(subset=["value"])
    wide_long = wide_long.rename(columns={"地区": "城市"}).assign(年份=lambda f: f["年份"].astype(int))
    expected = {  # name -> years in which it may appear (the brief's list)
        "襄樊市": range(2003, 2010), "襄阳市": range(2010, 2024), "巢湖市": range(2003, 2011),
        "毕节地区": range(2003, 2011), "毕节市": range(2011, 2024), "铜仁地区": range(2003, 2011),
        "铜仁市": range(2011, 2024), "海东地区": range(2003, 2013), "海东市": range(2013, 2024),
        "莱芜市": range(2003, 2019), "儋州市": range(2015, 2024), "三沙市": range(0),
    }
    for frame in (long, innovation, digital, employment, wide_long):
        for name, valid in expected.items():
            years = set(frame.loc[frame["城市"] == name, "年份"])
            assert years == set(valid), (name, sorted(years))
    codes = dict(zip(long["城市"] + "@" + long["年份"].astype(str), long["行政区划代码"], strict=True))
    assert codes["毕节地区@2010"] == "522400" and codes["毕节市@2011"] == "520500"
    assert codes["海东地区@2012"] == "632100" and codes["巢湖市@2010"] == "341400"
    # every other city is printed under its current name in every year
    assert city_label("340100", "合肥市", 2003) == ("合肥市", "340100")
    names = long.groupby("年份")["城市"].agg(set)
    assert "中卫市" not in names[2003] and "中卫市" in names[2004]  # created 2004 (seeds/admin_changes.csv)
    assert len(names[2003]) == len(names[2023])  # +巢湖 +莱芜 −中卫 −儋州
    assert long.groupby(["城市", "年份"]).size().max() == 1


def test_county_file_uses_parents_and_rasters_are_georeferenced(small_runs):
    import rasterio

    directory, _ = small_runs[0]
    county = pd.read_csv(directory / "county_economy.csv")
    assert set(county["年份"]) == set(SMALL_YEARS)
    assert county.groupby(["县(市、区)", "所属地市", "年份"]).size().max() == 1
    assert "南山区" in set(county["县(市、区)"]) and county["所属地市"].isin(["襄樊市"]).sum() == 0
    for y in SMALL_YEARS:
        with rasterio.open(directory / f"ntl_{y}.tif") as src:
            assert src.crs.to_epsg() == 4326 and src.dtypes[0] == "float32" and src.nodata is not None
            assert abs(src.res[0] - 0.1) < 1e-9
            band = src.read(1)
            inside = band != src.nodata
            assert 0.2 < inside.mean() < 0.6 and (band[inside] > 0).all()


def test_dgp_md_lists_every_table_and_variable(small_runs):
    directory, files = small_runs[0]
    text = (directory / "DGP.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "ρ = 0.5" in text
    for f in files:
        assert f"raw.{f.table}" in text
        mapping = yaml.safe_load(f.mapping_path.read_text(encoding="utf-8"))
        specs = [mapping["variable"]] if "variable" in mapping else list(mapping["variables"].values())
        for s in specs:
            assert f"`{s['name']}`" in text, s["name"]
    for y in SMALL_YEARS:
        assert f"ntl_{y}.tif" in text


def test_treatment_year_follows_the_july_rule():
    assert treatment_year("2010-01-01") == 2010
    assert treatment_year("2012-05-14") == 2012
    assert treatment_year("2010-10") == 2011
    assert treatment_year("2011-07-01") == 2012
