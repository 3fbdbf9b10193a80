"""The static HTML report: one page, thumbnails beside it, no server, no network, opens from disk.

The page carries a tiny self-check: after loading it records how many images decoded and any
script error in ``<body data-images-ok data-errors>``, which the browser test reads.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from segprep.checks.findings import Report
from segprep.engine import atomic
from segprep.report.model import ReportSection
from segprep.report.render import class_charts, overlay

MAX_FINDINGS = 200

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{margin-bottom:4px} h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:40px}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child,td.l{text-align:left} .ok{color:#17702a} .bad{color:#b00020;font-weight:bold}
figure{display:inline-block;margin:6px;vertical-align:top} figcaption{font-size:12px;max-width:480px}
.strip{white-space:nowrap;overflow-x:auto} .strip figure img{width:240px}
.chart text{font-size:11px} .legend span{display:inline-block;margin:2px 8px 2px 0;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;border:1px solid #333;vertical-align:-2px}
ul.findings{font-size:13px} nav a{margin-right:12px}
"""

_SELF_CHECK = """
window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message||e.type))},true);
window.addEventListener('load',function(){var imgs=document.images,ok=0;
for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){ok++}else{window.__errors.push('image failed: '+imgs[i].getAttribute('src'))}}
document.body.setAttribute('data-images-ok',ok+'/'+imgs.length);document.body.setAttribute('data-errors',String(window.__errors.length));
document.getElementById('selfcheck').textContent=window.__errors.join('\\n');});
"""


def write_report(sections: list[ReportSection], reports: dict[str, Report], out: Path, data_root: Path) -> Path:
    """Writes ``out/index.html`` and ``out/img/*.jpg``; returns the page's path."""
    images = out / "img"
    body = [f"<h1>segprep report</h1><p>data: <code>{html.escape(str(data_root))}</code></p>"]
    body.append("<nav>" + "".join(f'<a href="#{s.dataset}">{html.escape(s.dataset)}</a>' for s in sections) + "</nav>")
    for section in sections:
        report = reports.get(section.dataset)
        body.append(_section(section, report, images, out, data_root))
    page = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>segprep report</title>"
        f"<style>{_STYLE}</style><script>{_SELF_CHECK}</script></head><body>"
        + "\n".join(body)
        + '<pre id="selfcheck" hidden></pre></body></html>\n'
    )
    index = out / "index.html"
    atomic.write_bytes(index, page.encode("utf-8"))
    return index


def _section(section: ReportSection, report: Report | None, images: Path, out: Path, data_root: Path) -> str:
    parts = [f'<h2 id="{section.dataset}">{html.escape(section.title)} <small>({section.dataset})</small></h2>']
    parts += [f"<p>{html.escape(note)}</p>" for note in section.notes]
    if section.counts:
        rows = "".join(
            f"<tr><td>{html.escape(c.split)}</td><td class=l>{html.escape(c.what)}</td><td>{c.found:,}</td>"
            f"<td>{'' if c.published is None else f'{c.published:,}'}</td>"
            f"<td class={'ok' if c.ok else 'bad'}>{'ok' if c.ok else html.escape(c.missing or f'{c.found - c.published:+,}')}</td></tr>"
            for c in section.counts)
        parts.append("<h3>Counts</h3><table><tr><th>split</th><th>what</th><th>found</th><th>published</th>"
                     f"<th>status</th></tr>{rows}</table>")
    if section.stats is not None:
        note = f" <small>({html.escape(section.stats.note)})</small>" if section.stats.note else ""
        parts.append(f"<h3>Classes{note}</h3>" + class_charts(section.stats, section.categories))
    if section.frames or section.strips:
        shown = {i for view in section.frames + [v for strip in section.strips for v in strip]
                 for i in view.category_of.values()}
        legend = "".join(f'<span><i style="background:rgb{c.color}"></i>{html.escape(c.name)}</span>'
                         for i, c in enumerate(section.categories) if not c.isthing and i in shown)
        parts.append("<h3>Sample frames</h3><p class=legend>Stuff colours: " + legend +
                     "<br>Things: one colour per instance, white outlines; void: hatched.</p>")
        parts.append("".join(_figure(v, section, images, out, data_root, f"{section.dataset}-f{i}")
                             for i, v in enumerate(section.frames)))
        for k, strip in enumerate(section.strips):
            parts.append("<h3>Consecutive frames (an instance keeps its colour)</h3><div class=strip>" +
                         "".join(_figure(v, section, images, out, data_root, f"{section.dataset}-s{k}-{i}")
                                 for i, v in enumerate(strip)) + "</div>")
    parts.append(_findings(report, out, data_root / section.folder))
    return "\n".join(parts)


def _figure(view, section: ReportSection, images: Path, out: Path, data_root: Path, stem: str) -> str:
    target = images / f"{stem}.jpg"
    atomic.write_bytes(target, overlay(view, section.categories))
    link = _link(view.path, out, data_root / section.folder) if view.path else ""
    caption = html.escape(view.title)
    if link:
        caption = f'<a href="{link}">{caption}</a>'
    return f'<figure><img src="img/{stem}.jpg" alt="{html.escape(view.title)}"><figcaption>{caption}</figcaption></figure>'


def _findings(report: Report | None, out: Path, folder: Path) -> str:
    if report is None:
        return "<h3>Verify</h3><p>not run</p>"
    findings = report.findings
    status = "<span class=ok>all checks passed</span>" if report.ok else f"<span class=bad>{len(findings):,} problems</span>"
    items = "".join(
        f'<li>[{html.escape(f.check)}] <a href="{_link(f.path, out, folder)}">{html.escape(f.path)}</a>: '
        f"{html.escape(f.message)}</li>" for f in findings[:MAX_FINDINGS])
    more = f"<p>... and {len(findings) - MAX_FINDINGS:,} more</p>" if len(findings) > MAX_FINDINGS else ""
    return f"<h3>Verify: {status}</h3><ul class=findings>{items}</ul>{more}"


def _link(path: str, out: Path, folder: Path) -> str:
    """A relative link from the report folder to a file named relative to its dataset folder."""
    target = Path(path) if Path(path).is_absolute() else folder / path
    return html.escape(os.path.relpath(target, out).replace(os.sep, "/"))
