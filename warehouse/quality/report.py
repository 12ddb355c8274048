"""Report files of a check run: one self-contained HTML page (inline CSS, no scripts, no network) and the
same content as Markdown. Per-table status first, then every failure with example unit-years, then all
results.

Numbers are written for people (45,800,000, never 4.58e+07; `np.float64(1.0)` in a threshold reads 1);
long cells wrap so that the page fits a laptop window. A full run writes latest.html / latest.md beside
check_<run_id>.*; a partial run (`geopanel check --select …`) writes only its own check_<run_id>.* files, so
latest.* always shows the last full run.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from pathlib import Path

from warehouse.quality.runner import CheckRun

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:2em auto;
padding:0 1.5em;color:#222;max-width:1200px;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:.5em 0 1.5em;max-width:100%;border:1px solid #999}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;font-size:90%;
overflow-wrap:anywhere;word-break:break-word;max-width:36em}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
#results td:last-child{min-width:20em}
.failed{color:#b00020;font-weight:bold}
.warn{color:#a66300;font-weight:bold}.passed{color:#1b7a1b}.skipped{color:#777}.error{color:#b00020}
code{background:#f6f6f6;padding:0 3px;overflow-wrap:anywhere}.partial{background:#fff4ce;padding:.4em .8em}
"""


def table_status(run: CheckRun) -> list[dict]:
    """Per table: counts by outcome and an overall status (failed > warn > passed > skipped)."""
    rows: dict[str, Counter] = {}
    for r in run.results:
        c = rows.setdefault(r.table, Counter())
        c["checks"] += 1
        c["errors" if r.blocking else "warnings" if r.status in ("failed", "error") else r.status] += 1
    out = []
    for table, c in rows.items():
        status = ("failed" if c["errors"] else "warn" if c["warnings"] else "passed" if c["passed"] else "skipped")
        out.append({"table": table, "status": status, "checks": c["checks"], "passed": c["passed"],
                    "errors": c["errors"], "warnings": c["warnings"], "skipped": c["skipped"]})
    return out


def _problems(run: CheckRun):
    return sorted((r for r in run.results if r.status in ("failed", "error")),
                  key=lambda r: (not r.blocking, r.table, r.check, r.column or ""))


def render_html(run: CheckRun) -> str:
    e = html.escape
    n_err = len(run.blocking)
    verdict = (f'<p class="failed">{n_err} error-level check(s) failed: estimation on these tables is refused '
               "until fixed (or run with --allow-failing-checks).</p>" if n_err else
               '<p class="passed">No error-level check failed.</p>')
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>geopanel check {e(run.run_id)}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>geopanel data-quality report</h1><p>Run <code>{e(run.run_id)}</code>, "
             f"{run.started_at:%Y-%m-%d %H:%M:%S} – {run.finished_at:%H:%M:%S} UTC; "
             f"selection: {e(', '.join(run.selection) or 'all')}; {len(run.results)} results.</p>",
             '<p class="partial">A partial run (--select): latest.html still shows the last full run.</p>'
             if run.selection else "",
             f"<p id=\"provenance\">{e(run.provenance)}</p>" if run.provenance else "", verdict,
             "<h2>Tables</h2><table id=\"tables\"><tr><th>table</th><th>status</th><th>checks</th><th>passed</th>"
             "<th>errors</th><th>warnings</th><th>skipped</th></tr>"]
    for t in table_status(run):
        parts.append(f"<tr><td>{e(t['table'])}</td><td class=\"{t['status']}\">{t['status']}</td>"
                     + "".join(f"<td class=\"num\">{t[k]}</td>"
                               for k in ("checks", "passed", "errors", "warnings", "skipped"))
                     + "</tr>")
    parts.append("</table><h2>Failures</h2>")
    problems = _problems(run)
    if not problems:
        parts.append("<p>None.</p>")
    for r in problems:
        cls = "failed" if r.blocking else "warn"
        parts.append(f"<h3 class=\"{cls}\">{e(r.check)} — {e(r.where)} ({e(r.severity)})</h3>"
                     f"<p>{e(_text(r.message))}</p><p>rows failing: {_num(r.n_failing)} of {_num(r.n_checked)}; "
                     f"observed {e(_num(r.observed))}; threshold {e(_text(r.threshold))}</p>")
        if r.examples:
            cols = list(dict.fromkeys(k for ex in r.examples for k in ex))
            parts.append("<table class=\"examples\"><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
                         + "".join("<tr>" + "".join(_td(_cell(ex.get(c), c), ex.get(c)) for c in cols) + "</tr>"
                                   for ex in r.examples) + "</table>")
    parts.append("<h2>All results</h2><table id=\"results\"><tr><th>table</th><th>check</th><th>column</th>"
                 "<th>severity</th><th>status</th><th>observed</th><th>threshold</th><th>message</th></tr>")
    for r in run.results:
        parts.append(f"<tr><td>{e(r.table)}</td><td>{e(r.check)}</td><td>{e(r.column or '')}</td>"
                     f"<td>{e(r.severity)}</td><td class=\"{e(r.status)}\">{e(r.status)}</td>"
                     f"<td class=\"num\">{e(_num(r.observed))}</td><td>{e(_text(r.threshold))}</td>"
                     f"<td>{e(_text(r.message))}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)


def render_markdown(run: CheckRun) -> str:
    lines = ["# geopanel data-quality report", "",
             f"Run `{run.run_id}`, {run.started_at:%Y-%m-%d %H:%M:%S} UTC; selection: "
             f"{', '.join(run.selection) or 'all'}; {len(run.results)} results; "
             f"{len(run.blocking)} error-level failure(s).", "", *([run.provenance, ""] if run.provenance else []),
             "## Tables", "",
             "| table | status | checks | passed | errors | warnings | skipped |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {t['table']} | {t['status']} | {t['checks']} | {t['passed']} | {t['errors']} | {t['warnings']} | "
              f"{t['skipped']} |" for t in table_status(run)]
    lines += ["", "## Failures", ""]
    problems = _problems(run)
    lines += ["None."] if not problems else []
    for r in problems:
        lines += [f"### {r.check} — {r.where} ({r.severity})", "", _md(_text(r.message)), "",
                  f"rows failing: {_num(r.n_failing)} of {_num(r.n_checked)}; observed {_num(r.observed)}; "
                  f"threshold {_md(_text(r.threshold))}", ""]
        lines += [f"- `{json.dumps({k: _cell(v, k) for k, v in ex.items()}, ensure_ascii=False)}`"
                  for ex in r.examples] + [""]
    return "\n".join(lines) + "\n"


def write_reports(run: CheckRun, out_dir: Path) -> tuple[Path, Path]:
    """Write check_<run_id>.html and .md into out_dir, and for a full run (no --select) latest.html / latest.md
    copies too: a partial run never replaces the full report."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page, md = render_html(run), render_markdown(run)
    paths = out_dir / f"check_{run.run_id}.html", out_dir / f"check_{run.run_id}.md"
    for path, text in zip(paths, (page, md), strict=True):
        path.write_text(text, encoding="utf-8")
        if not run.selection:
            (out_dir / f"latest{path.suffix}").write_text(text, encoding="utf-8")
    return paths


def format_number(value: object, grouping: bool = True) -> str:
    """A number for people: thousands separators (unless `grouping` is False, for numbers inside a list), no
    exponent, at most 4 significant decimals (45,800,000; 0.0123; 1.5); the same rule as
    analyses.plots.format_number, which warehouse/ cannot import."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    decimals = 0 if v == round(v) else min(6, max(0, 3 - (math.floor(math.log10(abs(v))) if v else 0)))
    out = f"{v:{',' if grouping else ''}.{decimals}f}"
    out = out.rstrip("0").rstrip(".") if "." in out else out
    return out if out != "-0" else "0"


_NUMPY_SCALAR = re.compile(r"np\.(?:float|int|uint|bool_?)\d*\(([^()]*)\)")
_SCIENTIFIC = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?[eE][-+]?\d+(?![\w.])")


def _text(text: str | None) -> str:
    """A message or threshold as people read it: numpy reprs unwrapped (np.float64(1.0) → 1) and numbers in
    scientific notation spelt out (4.58e+07 → 45,800,000)."""
    if not text:
        return ""
    text = _NUMPY_SCALAR.sub(lambda m: format_number(m.group(1), grouping=False)
                             if m.group(1) not in ("True", "False") else m.group(1), text)
    return _SCIENTIFIC.sub(lambda m: format_number(m.group(0)), text)


def _num(v: float | None) -> str:
    return "" if v is None else format_number(v)


def _cell(v: object, key: str = "") -> str:
    """One example value: codes and years as they are, other numbers for people."""
    if v is None:
        return ""
    plain = key == "year" or key.endswith(("_year", "_code", "code", "_id")) or key in ("id", "年份")
    if isinstance(v, bool) or not isinstance(v, int | float):
        return _text(str(v))
    if plain:
        return str(int(v)) if float(v).is_integer() else str(v)
    return format_number(v)


def _td(text: str, raw: object) -> str:
    cls = ' class="num"' if isinstance(raw, int | float) and not isinstance(raw, bool) else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
