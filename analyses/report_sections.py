"""The sections of `geopanel report` (analyses.report): each reads the warehouse through one connection and
returns HTML fragments: tables drawn with the paper-table renderer (analyses.tables.render_html, the 三线表) and
figures embedded as PNG data URIs, so the page is one file that opens offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from analyses.plots import format_number
from analyses.tables import render_html, stars
from warehouse.db import table_exists

LEVELS = ("province", "city", "county")
KEYS = {"year", "name_zh", "is_current", "is_synthetic"}
WORDS = {  # (zh, en)
    "sources": ("数据来源与溯源", "Data sources and provenance"),
    "coverage": ("面板覆盖", "Panel coverage"),
    "quality": ("最近一次数据质量检查", "Latest data-quality check"),
    "weights": ("空间权重矩阵", "Spatial weight matrices"),
    "moran": ("全局 Moran's I 逐年结果", "Global Moran's I by year"),
    "maps": ("地图", "Maps"),
    "runs": ("模型结果", "Model runs"),
    "none": ("（无）", "(none)"),
    "estimates": ("估计结果", "Estimates"),
    "effects": ("直接效应、间接效应与总效应", "Direct, indirect and total effects"),
    "tests": ("检验", "Tests"),
    "note_se": ("括号内为标准误；* p < 0.1，** p < 0.05，*** p < 0.01。",
                "Standard errors in parentheses; * p < 0.1, ** p < 0.05, *** p < 0.01."),
}


def word(key: str, lang: str) -> str:
    """A heading or note in `lang` ('zh' or 'en')."""
    return WORDS[key][0 if lang == "zh" else 1]


@dataclass
class Section:
    """One section of the report: its anchor, title, HTML body, and entries for the table of contents."""

    key: str
    title: str
    body: str
    toc: list[tuple[str, str]] = field(default_factory=list)  # (anchor, text) of sub-entries


# ----------------------------------------------------------------------------- small helpers
e = html.escape


def num(value: object, decimals: int | None = None) -> str:
    """A number for people (45,800,000; 0.0123; −3.5), '' for missing; never an exponent."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return format_number(value, decimals)


def coef(value: float, digits: int = 3) -> str:
    """A coefficient with `digits` decimals, more for small non-zero ones (0.000222 stays readable)."""
    if value is None or pd.isna(value):
        return ""
    v = float(value)
    d = digits if v == 0 or abs(v) >= 10 ** -digits else min(8, digits - math.floor(math.log10(abs(v))))
    return format_number(v, d)


def pval(p: object) -> str:
    """A p-value: three decimals, '<0.001' below."""
    if p is None or pd.isna(p):
        return ""
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def plain_table(frame: pd.DataFrame, numeric: tuple[str, ...] = (), cls: str = "") -> str:
    """A bordered data table (not a paper table): header row, numbers right-aligned."""
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    rows = []
    for rec in frame.itertuples(index=False):
        cells = []
        for col, v in zip(frame.columns, rec, strict=True):
            text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
            cells.append(f'<td class="num">{e(text)}</td>' if col in numeric else f"<td>{e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="gp-plain {cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def paper_table(grid: pd.DataFrame, note: str = "", caption: str = "") -> str:
    """A paper table (三线表) from analyses.tables, in a box that scrolls rather than widen the page."""
    return f'<div class="scroll">{render_html(grid, note=note, caption=caption)}</div>'


def figure(fig, caption: str, alt: str = "") -> str:
    """A matplotlib figure as an embedded PNG (data URI) with its caption; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{e(alt or caption)}">'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def readable(text: object) -> str:
    """Messages as people read them: numpy reprs unwrapped, no scientific notation (as the check report)."""
    from warehouse.quality.report import _text

    return _text(None if text is None else str(text))


def _ts(value: object) -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# ----------------------------------------------------------------------------- provenance
def synthetic_share(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(synthetic rows, all rows) loaded into raw.* (files and rasters), from their provenance columns."""
    total = synthetic = 0
    if table_exists(con, "raw.ingest_log"):
        t, s = con.execute("select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_loaded) filter (where "
                           "_synthetic), 0) from raw.ingest_log where coalesce(status, 'loaded') = 'loaded'"
                           ).fetchone()
        total, synthetic = total + int(t), synthetic + int(s)
    if table_exists(con, "raw.county_nightlight"):
        t, s = con.execute("select count(*), count(*) filter (where _synthetic) from raw.county_nightlight"
                           ).fetchone()
        total, synthetic = total + int(t), synthetic + int(s)
    return synthetic, total


def banner(con: duckdb.DuckDBPyConnection, lang: str) -> str:
    """The synthetic-data banner when any loaded row is synthetic (the demo labels its rows), else ''."""
    synthetic, total = synthetic_share(con)
    if not synthetic:
        return ""
    share = f"{100 * synthetic / total:.0f}%"
    text = (f"合成数据（SYNTHETIC）：本仓库已载入的 {num(total)} 行原始数据中有 {num(synthetic)} 行（{share}）"
            "由演示数据生成过程产生，不是真实统计数据；本报告中的数字、地图与模型结果仅供演示与检验方法。"
            if lang == "zh" else
            f"SYNTHETIC DATA: {num(synthetic)} of the {num(total)} raw rows loaded ({share}) come from the demo's "
            "data-generating process, not from real statistics; numbers, maps and model results in this report "
            "only demonstrate and check the methods.")
    return f'<div class="banner" id="synthetic-banner" role="alert">{e(text)}</div>'


def sources_section(con: duckdb.DuckDBPyConnection, lang: str) -> Section:
    """Files loaded (raw.ingest_log), boundary sources and the dbt builds."""
    zh = lang == "zh"
    parts = []
    if table_exists(con, "raw.ingest_log"):
        log = _rows(con, """select table_name, level, source_path, encoding, rows_loaded, rows_rejected,
                                   _loaded_at, _synthetic, coalesce(status, 'loaded') as status
                            from raw.ingest_log order by _loaded_at""")
        frame = pd.DataFrame({
            ("原始表" if zh else "raw table"): "raw." + log["table_name"],
            ("层级" if zh else "level"): log["level"],
            ("文件" if zh else "file"): log["source_path"].map(lambda p: str(p).replace("\\", "/").rsplit("/", 1)[-1]),
            ("编码" if zh else "encoding"): log["encoding"],
            ("载入行数" if zh else "rows loaded"): log["rows_loaded"].map(num),
            ("拒收行数" if zh else "rows rejected"): log["rows_rejected"].map(num),
            ("载入时间" if zh else "loaded at"): log["_loaded_at"].map(_ts),
            ("合成" if zh else "synthetic"): log["_synthetic"].map(lambda v: ("是" if zh else "yes") if v else ""),
            ("状态" if zh else "status"): log["status"],
        })
        parts.append(f"<h3 id=\"sources-files\">{'载入的文件' if zh else 'Files loaded'}</h3>")
        parts.append(plain_table(frame, numeric=tuple(frame.columns[4:6]), cls="sources"))
    if table_exists(con, "raw.county_nightlight"):
        lights = _rows(con, """select count(distinct year) as years, min(year) as first, max(year) as last,
                                      count(distinct county_code) as counties, bool_or(_synthetic) as synthetic
                               from raw.county_nightlight""").iloc[0]
        if lights["years"]:
            parts.append(f"<p>{'夜间灯光栅格' if zh else 'Nighttime-light rasters'}: {int(lights['years'])} "
                         f"{'年' if zh else 'years'} ({int(lights['first'])}–{int(lights['last'])}), "
                         f"{num(lights['counties'])} {'个县' if zh else 'counties'}"
                         + (("（合成）" if zh else " (synthetic)") if lights["synthetic"] else "") + "</p>")
    if table_exists(con, "raw.boundaries"):
        b = _rows(con, """select level, _source_file as source, count(*) as units,
                                 count(*) filter (where geometry_repaired) as repaired
                          from raw.boundaries group by all order by units""")
        frame = pd.DataFrame({("层级" if zh else "level"): b["level"], ("来源" if zh else "source"): b["source"],
                              ("单元数" if zh else "units"): b["units"].map(num),
                              ("修复的几何" if zh else "geometries repaired"): b["repaired"].map(num)})
        parts.append(f"<h3 id=\"sources-boundaries\">{'行政区划边界' if zh else 'Boundaries'}</h3>")
        parts.append(plain_table(frame, numeric=tuple(frame.columns[2:]), cls="boundaries"))
    if table_exists(con, "meta.builds"):
        builds = _rows(con, "select command, started_at, finished_at, status, nodes_ok, nodes_failed "
                            "from meta.builds order by started_at desc limit 5")
        if len(builds):
            frame = pd.DataFrame({("命令" if zh else "command"): builds["command"],
                                  ("开始" if zh else "started"): builds["started_at"].map(_ts),
                                  ("状态" if zh else "status"): builds["status"],
                                  ("成功节点" if zh else "nodes ok"): builds["nodes_ok"].map(num),
                                  ("失败节点" if zh else "nodes failed"): builds["nodes_failed"].map(num)})
            parts.append(f"<h3 id=\"sources-builds\">{'最近的构建（dbt build）' if zh else 'Latest builds (dbt)'}</h3>")
            parts.append(plain_table(frame, numeric=tuple(frame.columns[3:]), cls="builds"))
    body = "".join(parts) or f"<p>{word('none', lang)}</p>"
    return Section("sources", word("sources", lang), body)


# ----------------------------------------------------------------------------- coverage
def panel_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(level, table) of every fct_<level>_year panel in the warehouse."""
    return [(lv, f"fct_{lv}_year") for lv in LEVELS if table_exists(con, f"main.fct_{lv}_year")]


def panel_variables(con: duckdb.DuckDBPyConnection, table: str, level: str) -> list[str]:
    """Numeric variables of a panel (not its keys or flags)."""
    cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = 'main' "
                       "and table_name = ? order by ordinal_position", [table]).fetchall()
    numeric = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "DECIMAL")
    return [c for c, t in cols if c != f"{level}_code" and c not in KEYS and str(t).upper().startswith(numeric)]


def registry(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The variable registry (level, name, unit, label_zh, label_en), empty if there is none."""
    from warehouse.variables import variables_frame

    try:
        return variables_frame(con)
    except duckdb.Error:
        return pd.DataFrame(columns=["level", "name", "unit", "label_zh", "label_en"])


def coverage_section(con: duckdb.DuckDBPyConnection, lang: str, labels: pd.DataFrame) -> Section:
    """Per panel and variable: units and years with a value, observations and the share of unit-years filled."""
    zh = lang == "zh"
    parts, toc = [], []
    for level, table in panel_tables(con):
        variables = panel_variables(con, table, level)
        key = f"{level}_code"
        units, years, y0, y1 = con.execute(f"select count(distinct {key}), count(distinct year), min(year), "
                                           f"max(year) from main.{table}").fetchone()
        if not variables or not units:
            continue
        cols = ", ".join(f'count("{v}") as "n:{v}", count(distinct "{key}") filter (where "{v}" is not null) as '
                         f'"u:{v}", min(year) filter (where "{v}" is not null) as "a:{v}", max(year) filter (where '
                         f'"{v}" is not null) as "b:{v}"' for v in variables)
        stats = con.execute(f"select {cols} from main.{table}").df().iloc[0]
        lab = labels[labels["level"] == level].set_index("name") if len(labels) else pd.DataFrame()
        rows = []
        for v in variables:
            n = int(stats[f"n:{v}"])
            label = ""
            if v in lab.index:
                r = lab.loc[v]
                label = str(r.get("label_zh" if zh else "label_en") or r.get("label_zh") or "")
                unit = r.get("unit")
                label += f"（{unit}）" if zh and isinstance(unit, str) and unit else ""
            first, last = stats[f"a:{v}"], stats[f"b:{v}"]
            rows.append({("变量" if zh else "variable"): v, ("名称" if zh else "label"): label,
                         ("单元" if zh else "units"): num(stats[f"u:{v}"]),
                         ("年份" if zh else "years"): "" if pd.isna(first) else f"{int(first)}–{int(last)}",
                         ("观测值" if zh else "observations"): num(n),
                         ("覆盖率" if zh else "filled"): f"{100 * n / (units * years):.1f}%"})
        frame = pd.DataFrame(rows)
        anchor = f"coverage-{level}"
        title = (f"{table}：{num(units)} 个单元 × {years} 年（{y0}–{y1}），{len(variables)} 个变量" if zh else
                 f"{table}: {num(units)} units × {years} years ({y0}–{y1}), {len(variables)} variables")
        parts.append(f'<h3 id="{anchor}">{e(title)}</h3>')
        parts.append(plain_table(frame, numeric=tuple(frame.columns[2:]), cls="coverage"))
        toc.append((anchor, table))
    body = "".join(parts) or f"<p>{word('none', lang)}</p>"
    return Section("coverage", word("coverage", lang), body, toc)


# ----------------------------------------------------------------------------- quality
def quality_section(con: duckdb.DuckDBPyConnection, lang: str) -> Section:
    """The latest full `geopanel check` run (the latest partial one if there is no full run): per-table status
    and every failure."""
    zh = lang == "zh"
    if not table_exists(con, "quality.check_runs"):
        text = ("尚未运行数据质量检查：运行 geopanel check。" if zh else
                "No data-quality check has run yet: run geopanel check.")
        return Section("quality", word("quality", lang), f"<p>{e(text)}</p>")
    runs = _rows(con, "select * from quality.check_runs order by (coalesce(selection, '') = '') desc, "
                      "finished_at desc limit 1")
    run = runs.iloc[0]
    partial = bool(run["selection"])
    head = (f"检查 {run['run_id']}，{_ts(run['finished_at'])}（UTC）：{num(run['n_results'])} 项结果，"
            f"{num(run['n_error_failed'])} 项错误级失败，{num(run['n_warn_failed'])} 项警告，"
            f"{num(run['n_skipped'])} 项跳过；状态 {run['status']}。" if zh else
            f"Check {run['run_id']}, {_ts(run['finished_at'])} UTC: {num(run['n_results'])} results, "
            f"{num(run['n_error_failed'])} error-level failures, {num(run['n_warn_failed'])} warnings, "
            f"{num(run['n_skipped'])} skipped; status {run['status']}.")
    cls = "failed" if run["status"] == "failed" else "passed"
    parts = [f'<p class="{cls}">{e(head)}</p>']
    if partial:
        text = (f"部分检查（--select {run['selection']}）：尚无完整检查。" if zh else
                f"A partial check (--select {run['selection']}): no full check has run yet.")
        parts.append(f'<p class="note">{e(text)}</p>')
    res = _rows(con, "select * from quality.check_results where run_id = ?", [run["run_id"]])
    status = (res.assign(err=(res["severity"] == "error") & res["status"].isin(["failed", "error"]),
                         warn=(res["severity"] != "error") & res["status"].isin(["failed", "error"]),
                         ok=res["status"] == "passed", skip=res["status"] == "skipped")
              .groupby("table_name", sort=True)[["err", "warn", "ok", "skip"]].sum().reset_index())
    counts = res.groupby("table_name").size()
    frame = pd.DataFrame({
        ("表" if zh else "table"): status["table_name"],
        ("状态" if zh else "status"): [("失败" if zh else "failed") if r.err else ("警告" if zh else "warn") if r.warn
                                     else ("通过" if zh else "passed") if r.ok else ("跳过" if zh else "skipped")
                                     for r in status.itertuples()],
        ("检查数" if zh else "checks"): status["table_name"].map(counts).map(num),
        ("通过" if zh else "passed"): status["ok"].map(num), ("错误" if zh else "errors"): status["err"].map(num),
        ("警告" if zh else "warnings"): status["warn"].map(num), ("跳过" if zh else "skipped"): status["skip"].map(num),
    })
    parts.append(plain_table(frame, numeric=tuple(frame.columns[2:]), cls="quality-tables"))
    problems = res[res["status"].isin(["failed", "error"])].sort_values(["severity", "table_name", "check_name"])
    if len(problems):
        frame = pd.DataFrame({
            ("检查" if zh else "check"): problems["check_name"],
            ("位置" if zh else "where"): problems["table_name"] + problems["column_name"].map(
                lambda c: f".{c}" if isinstance(c, str) and c else ""),
            ("级别" if zh else "severity"): problems["severity"],
            ("失败行" if zh else "rows failing"): [f"{num(a)} / {num(b)}" for a, b in
                                                  zip(problems["n_failing"], problems["n_checked"], strict=True)],
            ("阈值" if zh else "threshold"): problems["threshold"].map(readable),
            ("说明" if zh else "message"): problems["message"].map(readable),
        })
        parts.append(f"<h3 id=\"quality-failures\">{'未通过的检查' if zh else 'Checks that failed'}</h3>")
        parts.append(plain_table(frame, numeric=(frame.columns[3],), cls="quality-failures wrap"))
    if isinstance(run.get("report_path"), str) and run["report_path"]:
        parts.append(f"<p class=\"note\">{'完整检查报告' if zh else 'Full check report'}: "
                     f"<code>{e(run['report_path'])}</code></p>")
    return Section("quality", word("quality", lang), "".join(parts))


# ----------------------------------------------------------------------------- weights
def weights_section(con: duckdb.DuckDBPyConnection, lang: str) -> Section:
    """The stored matrices (weights.w_catalog)."""
    zh = lang == "zh"
    if not table_exists(con, "weights.w_catalog"):
        return Section("weights", word("weights", lang), f"<p>{word('none', lang)}</p>")
    w = _rows(con, "select * from weights.w_catalog order by level, w_name")
    if w.empty:
        return Section("weights", word("weights", lang), f"<p>{word('none', lang)}</p>")
    frame = pd.DataFrame({
        ("名称" if zh else "name"): w["w_name"], ("类型" if zh else "kind"): w["kind"],
        ("层级" if zh else "level"): w["level"], ("单元" if zh else "units"): w["n"].map(num),
        ("连接" if zh else "links"): w["n_links"].map(num),
        ("平均邻居" if zh else "mean neighbours"): w["mean_neighbors"].map(lambda v: num(v, 2)),
        ("孤岛（已连接）" if zh else "islands (linked)"): [
            f"{num(a)} ({num(b)})" if pd.notna(b) else num(a)
            for a, b in zip(w["islands"], w["islands_linked"] if "islands_linked" in w else [None] * len(w),
                            strict=True)],
        ("连通分量" if zh else "components"): w["components"].map(num),
        ("变换" if zh else "transform"): w["transform"], ("构建时间" if zh else "built"): w["built_at"].map(_ts),
    })
    return Section("weights", word("weights", lang),
                   plain_table(frame, numeric=tuple(frame.columns[3:8]), cls="weights"))


# ----------------------------------------------------------------------------- Moran by year
def moran_section(con: duckdb.DuckDBPyConnection, lang: str) -> Section:
    """The latest stored global Moran run of each indicator, source and matrix: a table by year and a plot."""
    from analyses import plots

    zh = lang == "zh"
    if not table_exists(con, "analysis.moran_global"):
        text = "尚无 Moran 结果：运行 geopanel moran。" if zh else "No stored Moran run: run geopanel moran."
        return Section("moran", word("moran", lang), f"<p>{e(text)}</p>")
    rows = _rows(con, """with latest as (
                             select source, indicator, w_name, arg_max(run_id, computed_at) as run_id
                             from analysis.moran_global where statistic = 'moran' group by all)
                         select m.* from analysis.moran_global as m join latest using (source, indicator, w_name,
                         run_id) where m.statistic = 'moran' order by m.source, m.indicator, m.w_name, m.year""")
    parts, toc = [], []
    for i, ((source, indicator, w_name), part) in enumerate(rows.groupby(["source", "indicator", "w_name"],
                                                                         sort=False)):
        grid = pd.DataFrame({"N": part["n"].map(num).to_list(), "I": part["value"].map(coef).to_list(),
                             "E[I]": part["expected"].map(coef).to_list(), "z": part["z_norm"].map(
                                 lambda v: coef(v, 2)).to_list(),
                             ("p（正态）" if zh else "p (normal)"): part["p_norm"].map(pval).to_list(),
                             ("p（置换）" if zh else "p (permutation)"): part["p_sim"].map(pval).to_list()},
                            index=[str(int(y)) if pd.notna(y) else "" for y in part["year"]])
        grid = grid.loc[:, [c for c in grid.columns if (grid[c] != "").any()]]
        anchor = f"moran-{i + 1}"
        title = f"{indicator} · {source} · W = {w_name}"
        note = (f"运行 {part['run_id'].iloc[0]}，{_ts(part['computed_at'].iloc[0])}；置换次数 "
                f"{num(part['permutations'].iloc[0])}。" if zh else
                f"Run {part['run_id'].iloc[0]}, {_ts(part['computed_at'].iloc[0])}; "
                f"{num(part['permutations'].iloc[0])} permutations.")
        fig = plots.moran_over_years(part, lang=lang)
        parts.append(f'<h3 id="{anchor}">{e(title)}</h3><div class="pair">'
                     f"{paper_table(grid, note=note)}"
                     f"{figure(fig, title, alt='Moran I by year')}</div>")
        toc.append((anchor, f"{indicator} · {w_name}"))
    body = "".join(parts) or f"<p>{word('none', lang)}</p>"
    return Section("moran", word("moran", lang), body, toc)


# ----------------------------------------------------------------------------- maps
def _map_variable(con: duckdb.DuckDBPyConnection, table: str, level: str) -> tuple[str, int] | None:
    """The variable to map (gdp if the panel has it, else the best covered) and its latest well-covered year."""
    variables = panel_variables(con, table, level)
    if not variables:
        return None
    pick = "gdp" if "gdp" in variables else max(
        variables, key=lambda v: con.execute(f'select count("{v}") from main.{table}').fetchone()[0])
    units = con.execute(f"select count(distinct {level}_code) from main.{table}").fetchone()[0]
    year = con.execute(f'select max(year) from (select year, count("{pick}") as n from main.{table} group by year) '
                       "where n >= ?", [max(5, units // 2)]).fetchone()[0]
    return (pick, int(year)) if year is not None else None


def maps_section(con: duckdb.DuckDBPyConnection, lang: str, labels: pd.DataFrame,
                 levels: tuple[str, ...] = ("province", "city")) -> Section:
    """A choropleth of the main variable of the province and city panels, and the latest stored LISA map."""
    from analyses import plots
    from analyses.esda import load_geometries

    zh = lang == "zh"
    figs = []
    for level, table in panel_tables(con):
        if level not in levels:
            continue
        picked = _map_variable(con, table, level)
        if picked is None:
            continue
        column, year = picked
        values = con.execute(f'select {level}_code as code, "{column}" from main.{table} where year = ?',
                             [year]).df()
        gdf = load_geometries(level, con=con).merge(values, on="code", how="left")
        label = plots.variable_label(column, lang, labels if len(labels) else None, level, unit=False)
        title = f"{year} 年{label}（{table}）" if zh else f"{label}, {year} ({table})"
        fig = plots.choropleth(gdf, column, scheme="quantiles", k=5, title=title, lang=lang,
                               registry=labels if len(labels) else None, level=level)
        figs.append(figure(fig, title, alt=f"map of {column} {year}"))
    if table_exists(con, "analysis.lisa"):
        last = con.execute("select run_id, level, indicator, w_name, max(year) from analysis.lisa where run_id = "
                           "(select arg_max(run_id, computed_at) from analysis.lisa) group by all").fetchone()
        if last is not None and last[1] in LEVELS:
            run_id, level, indicator, w_name, year = last
            part = con.execute("select code, cluster from analysis.lisa where run_id = ? and indicator = ? and "
                               "year is not distinct from ?", [run_id, indicator, year]).df()
            gdf = load_geometries(level, con=con)[["code", "geometry"]].merge(part, on="code", how="left")
            name = plots.variable_label(indicator, lang, labels if len(labels) else None, level, unit=False)
            title = (f"{year} 年{name}的 LISA 聚类（W = {w_name}）" if zh else
                     f"LISA clusters of {name}, {year} (W = {w_name})")
            figs.append(figure(plots.lisa_cluster_map(gdf, title=title, lang=lang), title, alt="LISA cluster map"))
            figs.append(_moran_scatter(con, run_id, indicator, level, w_name, year, lang, labels))
    note = ("地图未经审图；公开出版的地图须取得审图号。" if zh else
            "These maps have not been through map review; a published map needs its own review number.")
    body = (f'<div class="figs">{"".join(figs)}</div><p class="note">{e(note)}</p>' if figs else
            f"<p>{word('none', lang)}</p>")
    return Section("maps", word("maps", lang), body)


def _moran_scatter(con: duckdb.DuckDBPyConnection, run_id: str, indicator: str, level: str, w_name: str,
                   year: object, lang: str, labels: pd.DataFrame) -> str:
    """The Moran scatter plot of a stored LISA run's year, when its matrix is stored in the warehouse."""
    from analyses import plots
    from warehouse.weights import load_weights

    stored = table_exists(con, "weights.w_catalog") and con.execute(
        "select count(*) from weights.w_catalog where w_name = ?", [w_name]).fetchone()[0]
    rows = con.execute("select code, name, value from analysis.lisa where run_id = ? and indicator = ? and year is "
                       "not distinct from ? and value is not null order by code", [run_id, indicator, year]).df()
    if not stored or len(rows) < 3:
        return ""
    w, _ = load_weights(con, w_name, ids=rows["code"].astype(str).tolist())
    name = plots.variable_label(indicator, lang, labels if len(labels) else None, level, unit=False)
    title = (f"{year} 年{name}的 Moran 散点图（W = {w_name}）" if lang == "zh" else
             f"Moran scatter plot of {name}, {year} (W = {w_name})")
    fig = plots.moran_scatter(rows["value"].to_numpy(), w, labels=[plots.short_name(str(n)) for n in rows["name"]],
                              title=title, lang=lang, variable=indicator,
                              registry=labels[labels["level"] == level] if len(labels) else None)
    return figure(fig, title, alt="Moran scatter plot")


# ----------------------------------------------------------------------------- model runs
def model_runs(con: duckdb.DuckDBPyConnection, run_ids: tuple[str, ...] = ()) -> pd.DataFrame:
    """Stored model runs (analysis.model_runs), oldest first; only `run_ids` (or id prefixes) when given."""
    if not table_exists(con, "analysis.model_runs"):
        return pd.DataFrame()
    runs = _rows(con, "select * from analysis.model_runs order by started_at, run_id")
    if run_ids:
        runs = runs[runs["run_id"].map(lambda r: any(str(r).startswith(p) for p in run_ids))]
    return runs.reset_index(drop=True)


def _part(con: duckdb.DuckDBPyConnection, table: str, run_id: str) -> pd.DataFrame:
    if not table_exists(con, f"analysis.{table}"):
        return pd.DataFrame()
    return _rows(con, f"select * from analysis.{table} where run_id = ?", [run_id])


def estimates_grid(est: pd.DataFrame, column: str) -> pd.DataFrame:
    """Estimates in the papers' layout: the coefficient with stars, its standard error in parentheses below."""
    cells, index = [], []
    for r in est.itertuples():
        p = r.p_value if pd.notna(r.p_value) else (math.erfc(abs(r.z) / math.sqrt(2)) if pd.notna(r.z) else None)
        cells += [coef(r.estimate) + (stars(p) if p is not None else ""),
                  f"({coef(r.std_error)})" if pd.notna(r.std_error) else ""]
        index += [str(r.term), f"{r.term} "]  # a trailing space: the SE row's label prints empty
    return pd.DataFrame({column: cells}, index=index)


def effects_grid(eff: pd.DataFrame) -> pd.DataFrame:
    """Direct / indirect / total effects by variable, SEs in parentheses below."""
    order = [x for x in ("direct", "indirect", "total") if x in set(eff["effect"])] + sorted(
        set(eff["effect"]) - {"direct", "indirect", "total"})
    variables = list(dict.fromkeys(eff["variable"]))
    cols: dict[str, list[str]] = {k: [] for k in order}
    index = []
    for v in variables:
        index += [v, f"{v} "]
        for k in order:
            hit = eff[(eff["variable"] == v) & (eff["effect"] == k)]
            if hit.empty:
                cols[k] += ["", ""]
                continue
            r = hit.iloc[0]
            cols[k] += [coef(r["estimate"]) + (stars(r["p_value"]) if pd.notna(r["p_value"]) else ""),
                        f"({coef(r['std_error'])})" if pd.notna(r["std_error"]) else ""]
    return pd.DataFrame(cols, index=index)


def tests_grid(tests: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Tests: statistic, degrees of freedom, p-value and note."""
    zh = lang == "zh"
    return pd.DataFrame({("统计量" if zh else "statistic"): tests["statistic"].map(lambda v: coef(v, 3)).to_list(),
                         ("自由度" if zh else "df"): tests["df"].map(num).to_list(),
                         "p": tests["p_value"].map(pval).to_list(),
                         ("说明" if zh else "note"): tests["note"].map(
                             lambda v: readable(v) if isinstance(v, str) else "").to_list()},
                        index=tests["test"].astype(str).to_list())


_EVENT = re.compile(r"^event_time (-?\d+)$")


def event_study_figure(run: pd.Series, est: pd.DataFrame, lang: str) -> str:
    """The event-study plot of a DID run from its stored event_time coefficients, '' if it has none."""
    from analyses.plots import event_study_plot

    hit = est[est["term"].astype(str).str.match(_EVENT)]
    if hit.empty:
        return ""
    k = hit["term"].str.extract(_EVENT)[0].astype(int)
    se = hit["std_error"].fillna(0.0)
    table = pd.DataFrame({"rel_time": k.to_numpy(), "coef": hit["estimate"].to_numpy(),
                          "ci_low": (hit["estimate"] - 1.96 * se).to_numpy(),
                          "ci_high": (hit["estimate"] + 1.96 * se).to_numpy()})
    spec = _spec(run)
    window = tuple(spec.get("window") or (int(k.min()), int(k.max())))
    title = (f"事件研究：{run['dependent']}" if lang == "zh" else f"Event study: {run['dependent']}")
    fig = event_study_plot(table, (int(window[0]), int(window[1])), int(spec.get("reference", -1)), title=title,
                           lang=lang)
    return figure(fig, title, alt="event study")


def coefficient_figure(run: pd.Series, est: pd.DataFrame, lang: str, max_terms: int = 25) -> str:
    """Coefficients with 95% intervals (a forest plot) of a run with 2 to `max_terms` terms, else ''."""
    import matplotlib.pyplot as plt

    from analyses.plots import use_cjk_font

    est = est[~est["term"].astype(str).isin(["sigma2", "sigma^2", "σ²"]) & est["std_error"].notna()]
    if not 2 <= len(est) <= max_terms:
        return ""
    use_cjk_font()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(est) + 1.2))
    y = list(range(len(est)))[::-1]
    ax.errorbar(est["estimate"], y, xerr=1.96 * est["std_error"], fmt="o", color="#1f4e79", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([str(t) for t in est["term"]])
    ax.set_xlabel("估计系数与 95% 置信区间" if lang == "zh" else "estimate with 95% confidence interval")
    title = f"{run['model']}：{run['dependent']}" if lang == "zh" else f"{run['model']}: {run['dependent']}"
    ax.set_title(title)
    fig.tight_layout()
    return figure(fig, title, alt="coefficient plot")


def _spec(run: pd.Series) -> dict:
    try:
        spec = json.loads(run.get("spec_json") or "{}")
    except (TypeError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


def run_block(con: duckdb.DuckDBPyConnection, run: pd.Series, index: int, lang: str, max_rows: int = 80) -> str:
    """One model run: what was estimated on which data, then its estimates, effects and tests, and a plot."""
    zh = lang == "zh"
    run_id = str(run["run_id"])
    est, eff, tests = (_part(con, t, run_id) for t in ("model_estimates", "model_effects", "model_tests"))

    def field_(zh_name: str, en_name: str, value: object) -> tuple[str, str] | None:
        text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
        return ((zh_name if zh else en_name), text) if text else None

    periods = f"{num(run['n_units'])} × {num(run['n_periods'])}" if pd.notna(run.get("n_units")) else None
    facts = [f for f in (
        field_("类型", "kind", run.get("kind")), field_("模型", "model", run.get("model")),
        field_("公式", "formula", run.get("formula")), field_("数据", "data", run.get("data_source")),
        field_("空间权重", "weights", run.get("w_source")), field_("固定效应", "effects", run.get("effects")),
        field_("单元 × 期数", "units × periods", periods), field_("观测值", "observations", num(run.get("nobs"))),
        field_("对数似然", "log-likelihood", coef(run.get("loglik"))), field_("R²", "R²", coef(run.get("r2"))),
        field_("方差估计", "variance", run.get("vcov_method")),
        field_("质量门", "quality gate", run.get("quality_status")),
        field_("时间", "time", _ts(run.get("started_at"))), field_("运行编号", "run id", run_id)) if f]
    meta = pd.DataFrame(facts, columns=["项目" if zh else "item", "内容" if zh else "value"])
    anchor = f"run-{index}"
    title = f"{index}. {run.get('kind') or ''} · {run.get('model') or ''} · {run.get('dependent') or ''}"
    parts = [f'<section class="run" id="{anchor}"><h3>{e(title)}</h3>', plain_table(meta, cls="run-meta wrap")]
    if len(est):
        shown = est.head(max_rows)
        more = (f"（另有 {len(est) - max_rows} 行未显示，见 analysis.model_estimates）" if zh else
                f" ({len(est) - max_rows} more rows in analysis.model_estimates)") if len(est) > max_rows else ""
        parts.append(f"<h4>{word('estimates', lang)}</h4>"
                     + paper_table(estimates_grid(shown, str(run.get("model") or "")),
                                   note=word("note_se", lang) + more))
    if len(eff):
        parts.append(f"<h4>{word('effects', lang)}</h4>" + paper_table(effects_grid(eff), note=word("note_se", lang)))
    if len(tests):
        parts.append(f"<h4>{word('tests', lang)}</h4>" + paper_table(tests_grid(tests, lang)))
    plot = event_study_figure(run, est, lang) if len(est) and run.get("kind") == "did" else ""
    if not plot and len(est):
        plot = coefficient_figure(run, est, lang)
    if plot:
        parts.append(f'<div class="figs">{plot}</div>')
    parts.append("</section>")
    return "".join(parts)


def runs_section(con: duckdb.DuckDBPyConnection, lang: str, run_ids: tuple[str, ...] = ()) -> Section:
    """Every stored model run (or those selected), oldest first."""
    runs = model_runs(con, run_ids)
    if runs.empty:
        text = ("尚无模型结果：运行 geopanel spatial-panel fit、geopanel did 或 geopanel reg。" if lang == "zh" else
                "No stored model run: run geopanel spatial-panel fit, geopanel did or geopanel reg.")
        return Section("runs", word("runs", lang), f"<p>{e(text)}</p>")
    blocks, toc = [], []
    for i, run in runs.iterrows():
        blocks.append(run_block(con, run, i + 1, lang))
        toc.append((f"run-{i + 1}", f"{i + 1}. {run.get('kind') or ''} · {run.get('dependent') or ''}"))
    if not run_ids:
        blocks.append(_analysis_tables(con, lang))
    return Section("runs", word("runs", lang), "".join(blocks), toc)


def _analysis_tables(con: duckdb.DuckDBPyConnection, lang: str) -> str:
    """Every analysis.* table with its rows, so that results shown elsewhere (or not at all) can be found."""
    names = [r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = "
                                       "'analysis' order by table_name").fetchall()]
    if not names:
        return ""
    counts = [con.execute(f'select count(*) from analysis."{n}"').fetchone()[0] for n in names]
    zh = lang == "zh"
    frame = pd.DataFrame({("表" if zh else "table"): [f"analysis.{n}" for n in names],
                          ("行数" if zh else "rows"): [num(c) for c in counts]})
    title = "仓库中的全部分析结果表" if zh else "Every analysis table in the warehouse"
    return f'<h3 id="analysis-tables">{title}</h3>' + plain_table(frame, numeric=(frame.columns[1],),
                                                                  cls="analysis-tables")
