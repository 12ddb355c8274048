"""Report files of a check run: one self-contained HTML page (inline CSS, no scripts, no network) and the
same content as Markdown. Per-table status first, then every failure with example unit-years, then all
results."""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

from warehouse.quality.runner import CheckRun

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top;font-size:90%}th{background:#f3f3f3}.failed{color:#b00020;font-weight:bold}
.warn{color:#a66300;font-weight:bold}.passed{color:#1b7a1b}.skipped{color:#777}.error{color:#b00020}
code{background:#f6f6f6;padding:0 3px}
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
             f"<p id=\"provenance\">{e(run.provenance)}</p>" if run.provenance else "", verdict,
             "<h2>Tables</h2><table id=\"tables\"><tr><th>table</th><th>status</th><th>checks</th><th>passed</th>"
             "<th>errors</th><th>warnings</th><th>skipped</th></tr>"]
    for t in table_status(run):
        parts.append(f"<tr><td>{e(t['table'])}</td><td class=\"{t['status']}\">{t['status']}</td>"
                     + "".join(f"<td>{t[k]}</td>" for k in ("checks", "passed", "errors", "warnings", "skipped"))
                     + "</tr>")
    parts.append("</table><h2>Failures</h2>")
    problems = _problems(run)
    if not problems:
        parts.append("<p>None.</p>")
    for r in problems:
        cls = "failed" if r.blocking else "warn"
        parts.append(f"<h3 class=\"{cls}\">{e(r.check)} — {e(r.where)} ({e(r.severity)})</h3>"
                     f"<p>{e(r.message)}</p><p>rows failing: {r.n_failing} of {r.n_checked}; observed "
                     f"{e(_num(r.observed))}; threshold {e(r.threshold or '')}</p>")
        if r.examples:
            cols = list(dict.fromkeys(k for ex in r.examples for k in ex))
            parts.append("<table class=\"examples\"><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
                         + "".join("<tr>" + "".join(f"<td>{e(_cell(ex.get(c)))}</td>" for c in cols) + "</tr>"
                                   for ex in r.examples) + "</table>")
    parts.append("<h2>All results</h2><table id=\"results\"><tr><th>table</th><th>check</th><th>column</th>"
                 "<th>severity</th><th>status</th><th>observed</th><th>threshold</th><th>message</th></tr>")
    for r in run.results:
        parts.append(f"<tr><td>{e(r.table)}</td><td>{e(r.check)}</td><td>{e(r.column or '')}</td>"
                     f"<td>{e(r.severity)}</td><td class=\"{e(r.status)}\">{e(r.status)}</td>"
                     f"<td>{e(_num(r.observed))}</td><td>{e(r.threshold or '')}</td><td>{e(r.message)}</td></tr>")
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
        lines += [f"### {r.check} — {r.where} ({r.severity})", "", _md(r.message), "",
                  f"rows failing: {r.n_failing} of {r.n_checked}; threshold {r.threshold or ''}", ""]
        lines += [f"- `{json.dumps(ex, ensure_ascii=False, default=str)}`" for ex in r.examples] + [""]
    return "\n".join(lines) + "\n"


def write_reports(run: CheckRun, out_dir: Path) -> tuple[Path, Path]:
    """Write check_<run_id>.html and .md (plus latest.html / latest.md copies) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page, md = render_html(run), render_markdown(run)
    paths = out_dir / f"check_{run.run_id}.html", out_dir / f"check_{run.run_id}.md"
    for path, text in zip(paths, (page, md), strict=True):
        path.write_text(text, encoding="utf-8")
        (out_dir / f"latest{path.suffix}").write_text(text, encoding="utf-8")
    return paths


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def _cell(v: object) -> str:
    return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
