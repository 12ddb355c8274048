"""`geopanel report`: one self-contained HTML page about a warehouse — data sources and provenance (a banner when
any data is synthetic), panel coverage, the latest quality check, stored weight matrices, Moran by year, maps and
every stored model run with its tables and plots — with a table of contents. CSS inline, figures embedded as PNG
data URIs, no scripts and no network: the file opens anywhere, offline.

Each run writes its own dated folder (`report_<UTC time>`, `report_<UTC time>_partial` for a selection) under
`reports_dir(db)` or `out`, so nothing is overwritten; a full report also refreshes `latest_report.html`.

    result = build_report("data/geopanel.duckdb")                       # everything
    build_report(db, select=["quality", "runs"], run_ids=("a4f5",))     # a partial report
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from analyses import report_sections as rs
from analyses.runs import geopanel_version
from warehouse.db import connection
from warehouse.settings import db_path, reports_dir

SECTIONS = ("sources", "coverage", "quality", "weights", "moran", "maps", "runs")

CSS = """
*{box-sizing:border-box}
body{margin:0;color:#222;line-height:1.5;font-size:15px;background:#fff;
font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif}
.banner{background:#b00020;color:#fff;padding:.7em 1.5em;font-weight:bold;font-size:15px}
.layout{display:grid;grid-template-columns:220px minmax(0,1fr);gap:2.2em;max-width:1380px;margin:0 auto;
padding:0 1.5em}
nav.toc{position:sticky;top:0;align-self:start;max-height:100vh;overflow-y:auto;padding:1.2em 0;font-size:13.5px}
nav.toc ol{list-style:none;padding-left:0;margin:.3em 0}nav.toc ol ol{padding-left:1.1em}
nav.toc ol ol a{font-size:12.5px;color:#4a6f94}nav.toc li{margin:.15em 0}
nav.toc a{color:#1f4e79;text-decoration:none}nav.toc a:hover{text-decoration:underline}
main{min-width:0;padding:1em 0 4em}
h1{font-size:1.6em;margin:.6em 0 .2em}h2{border-bottom:2px solid #1f4e79;padding-bottom:.2em;margin-top:2em}
h3{margin:1.4em 0 .4em;font-size:1.1em}h4{margin:1em 0 .2em;font-size:1em;color:#444}
.meta{color:#555;font-size:13.5px}.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:0 3px;
overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%}
table.gp-plain{border-collapse:collapse;margin:.4em 0 1em;font-size:13px;font-variant-numeric:tabular-nums}
table.gp-plain th,table.gp-plain td{border:1px solid #b8b8b8;padding:3px 9px;text-align:left;vertical-align:top}
table.gp-plain th{background:#eef2f7}table.gp-plain td.num{text-align:right;white-space:nowrap}
table.wrap td{white-space:nowrap}table.wrap td:last-child{white-space:normal;min-width:20em;max-width:44em;
overflow-wrap:anywhere}
.figs{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}.figs figure{flex:1 1 460px;max-width:760px}
.pair{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.pair>*{flex:0 1 auto;max-width:100%}
.pair figure{flex:1 1 440px}
figure{margin:.6em 0}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#555}
section.run{border-top:1px solid #ddd;padding-top:.4em}
.passed{color:#1b7a1b}.failed{color:#b00020;font-weight:bold}
@media (max-width:900px){.layout{grid-template-columns:minmax(0,1fr)}nav.toc{position:static;max-height:none}}
"""
TITLE = ("geopanel 仓库报告", "geopanel warehouse report")


@dataclass
class Report:
    """A written report: the HTML file, its folder, the sections it has and whether any data is synthetic."""

    path: Path
    folder: Path
    sections: tuple[str, ...]
    partial: bool
    synthetic: bool
    n_runs: int


def parse_select(select: Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`--select` items (comma lists allowed) → (sections, run ids). A run id or id prefix is `run:<id>` and
    implies the runs section. Unknown names raise ValueError listing the sections."""
    sections: list[str] = []
    runs: list[str] = []
    for item in select or ():
        for name in (s.strip() for s in str(item).split(",")):
            if not name:
                continue
            if name.startswith("run:"):
                runs.append(name[4:])
                sections.append("runs")
            elif name in SECTIONS:
                sections.append(name)
            else:
                raise ValueError(f"--select {name!r}: use one of {', '.join(SECTIONS)}, or run:<run id>")
    return tuple(dict.fromkeys(sections)), tuple(runs)


def report_folder(base: Path, partial: bool, when: datetime) -> Path:
    """A new folder for one run: report_<UTC time>[_partial], with -2, -3 … if that name is taken."""
    stem = f"report_{when:%Y%m%dT%H%M%SZ}" + ("_partial" if partial else "")
    folder, n = base / stem, 1
    while folder.exists():
        n += 1
        folder = base / f"{stem}-{n}"
    folder.mkdir(parents=True)
    return folder


def render_page(sections: list[rs.Section], banner: str, lang: str, heading: str, meta: str) -> str:
    """The whole page: banner, title, table of contents and the sections."""
    e = html.escape
    toc = []
    for i, s in enumerate(sections, 1):
        sub = "".join(f'<li><a href="#{a}">{e(t)}</a></li>' for a, t in s.toc)
        toc.append(f'<li><a href="#{s.key}">{i}. {e(s.title)}</a>' + (f"<ol>{sub}</ol>" if sub else "") + "</li>")
    body = "".join(f'<section id="{s.key}"><h2>{i}. {e(s.title)}</h2>{s.body}</section>'
                   for i, s in enumerate(sections, 1))
    contents = "目录" if lang == "zh" else "Contents"
    return ("<!DOCTYPE html>\n<html lang=\"" + ("zh-CN" if lang == "zh" else "en") + "\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(heading)}</title><style>{CSS}</style></head><body>{banner}"
            f'<div class="layout"><nav class="toc" aria-label="{contents}"><strong>{contents}</strong>'
            f"<ol>{''.join(toc)}</ol></nav><main><h1>{e(heading)}</h1><p class=\"meta\">{meta}</p>"
            f"{body}</main></div></body></html>\n")


def build_report(db: str | Path | None = None, out: str | Path | None = None, select: Sequence[str] | None = None,
                 lang: str = "zh", progress: Callable[[str], None] | None = None,
                 now: datetime | None = None) -> Report:
    """Write the report of warehouse `db` into a new dated folder under `out` (default: reports_dir(db)) and
    return where. `select` limits it to sections (sources, coverage, quality, weights, moran, maps, runs) and/or
    runs (`run:<id prefix>`): a partial report, written to a `_partial` folder and never to latest_report.html.

        build_report("data/geopanel.duckdb", select=["coverage", "run:a4f5"], lang="en")
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang {lang!r}: use zh or en")
    chosen, run_ids = parse_select(select)
    partial = bool(chosen)
    wanted = [s for s in SECTIONS if not partial or s in chosen]
    say = progress or (lambda message: None)
    path = db_path(db)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no warehouse; run `geopanel demo` or pass --db")
    when = now or datetime.now(UTC)
    with connection(path, read_only=True) as con:
        labels = rs.registry(con)
        banner = rs.banner(con, lang)
        sections = []
        makers = {
            "sources": lambda: rs.sources_section(con, lang),
            "coverage": lambda: rs.coverage_section(con, lang, labels),
            "quality": lambda: rs.quality_section(con, lang),
            "weights": lambda: rs.weights_section(con, lang),
            "moran": lambda: rs.moran_section(con, lang),
            "maps": lambda: rs.maps_section(con, lang, labels),
            "runs": lambda: rs.runs_section(con, lang, run_ids),
        }
        for key in wanted:
            say(f"report: {key} …")
            sections.append(makers[key]())
        n_runs = len(rs.model_runs(con, run_ids)) if "runs" in wanted else 0
    zh = lang == "zh"
    heading = f"{TITLE[0 if zh else 1]}：{path.name}" if zh else f"{TITLE[1]}: {path.name}"
    scope = ("部分报告（--select " if zh else "partial report (--select ") + ", ".join(select or ()) + (
        "）" if zh else ")") if partial else ("完整报告" if zh else "full report")
    meta = html.escape(f"{'仓库' if zh else 'warehouse'} {path} · {scope} · "
                       f"{'生成于' if zh else 'generated'} {when:%Y-%m-%d %H:%M} UTC · geopanel {geopanel_version()}")
    page = render_page(sections, banner, lang, heading, meta)
    base = Path(out) if out is not None else reports_dir(path)
    folder = report_folder(base, partial, when)
    target = folder / "report.html"
    target.write_text(page, encoding="utf-8")
    if not partial:
        (base / "latest_report.html").write_text(page, encoding="utf-8")
    say(f"report: wrote {target}")
    return Report(target, folder, tuple(wanted), partial, bool(banner), n_runs)
