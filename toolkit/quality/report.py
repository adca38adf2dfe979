"""A review's files: ``review.jsonl`` (one record per sentence) and a self-contained ``review.html``.

The page carries its data as JSON and renders it with a few lines of plain JavaScript (no
external asset, nothing fetched): flagged sentences worst first, filterable by risk, flag and
document; every text is set with ``textContent``, so a translation cannot inject markup."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.io.runs import RunFolder
    from toolkit.quality.review import Review

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Review: __TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}table{border-collapse:collapse;width:100%}
td,th{border-top:1px solid #ddd;padding:.4em;vertical-align:top;text-align:left}
th{background:#f4f4f4}.risk-likely-wrong td.risk{color:#a40000;font-weight:bold}.risk-review td.risk{color:#8a5a00}
.flag{display:block}.flag b{font-family:monospace}#summary span{margin-right:1.2em}
.where a{color:#555}tr:target{background:#fff7c2}label{margin-right:1em}
</style></head><body>
<h1>Review of __TITLE__</h1>
<p id="summary"></p>
<p><label>Risk <select id="risk"><option value="flagged">review or worse</option><option value="likely-wrong">likely-wrong</option><option value="review">review</option><option value="ok">ok</option><option value="all">all</option></select></label>
<label>Flag <select id="flag"><option value="">any</option></select></label>
<label>Document <select id="doc"><option value="">any</option></select></label>
<span id="shown"></span></p>
<table><thead><tr><th>where</th><th>risk</th><th>source</th><th>output</th><th>flags</th><th>confidence</th></tr></thead>
<tbody id="rows"></tbody></table>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
const summary = document.getElementById("summary");
for (const [risk, n] of Object.entries(data.summary.risk)) summary.appendChild(el("span", risk + ": " + n));
for (const [name, n] of Object.entries(data.summary.flags)) {
  if (n) summary.appendChild(el("span", name + ": " + n));
  const o = el("option", name + " (" + n + ")"); o.value = name; document.getElementById("flag").appendChild(o);
}
for (const doc of data.summary.documents) {
  const o = el("option", doc.doc_id || "(no id)"); o.value = doc.doc_id; document.getElementById("doc").appendChild(o);
}
function render() {
  const risk = document.getElementById("risk").value, flag = document.getElementById("flag").value,
        doc = document.getElementById("doc").value, body = document.getElementById("rows");
  body.replaceChildren();
  let shown = 0;
  for (const r of data.records) {
    if (risk === "flagged" ? r.risk === "ok" : risk !== "all" && r.risk !== risk) continue;
    if (flag && !r.flags.some(f => f.name === flag)) continue;
    if (doc && r.doc_id !== doc) continue;
    const tr = el("tr", undefined, "risk-" + r.risk); tr.id = r.anchor; tr.dataset.risk = r.risk;
    const where = el("td", undefined, "where"), link = el("a", (r.doc_id || "(no id)") + " #" + r.position);
    link.href = "#" + r.anchor; where.appendChild(link); tr.appendChild(where);
    tr.appendChild(el("td", r.risk, "risk")); tr.appendChild(el("td", r.source, "source")); tr.appendChild(el("td", r.output, "output"));
    const flags = el("td", undefined, "flags");
    for (const f of r.flags) { const s = el("span", undefined, "flag"); s.appendChild(el("b", f.name)); s.appendChild(document.createTextNode(": " + f.reason)); flags.appendChild(s); }
    tr.appendChild(flags);
    tr.appendChild(el("td", r.confidence === null ? "–" : r.confidence.toFixed(2), "confidence"));
    body.appendChild(tr); shown++;
  }
  document.getElementById("shown").textContent = shown + " of " + data.records.length + " sentences";
}
for (const id of ["risk", "flag", "doc"]) document.getElementById(id).addEventListener("change", render);
render();
if (location.hash) { const t = document.getElementById(location.hash.slice(1)); if (t) t.scrollIntoView(); }
</script></body></html>
"""


def anchor(doc_id: str, position: int) -> str:
    """The page's fragment for a sentence: stable, and safe in an id whatever the document id."""
    import hashlib

    return f"s-{hashlib.sha1(doc_id.encode('utf-8')).hexdigest()[:10]}-{position}"


def page(review: Review, title: str) -> str:
    records = review.records()
    ordered = [{**records[i], "anchor": anchor(records[i]["doc_id"], records[i]["position"])}
               for i in review.worst_first()]
    data = json.dumps({"summary": review.summary(), "records": ordered}, ensure_ascii=False)
    # Inside <script>, "</" could close the element: JSON allows escaping the slash.
    data = data.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", data)


def write_review(review: Review, run: RunFolder, title: str) -> dict[str, Any]:
    """``review.jsonl`` and ``review.html`` in the run folder; returns the summary."""
    lines = [json.dumps(r, ensure_ascii=False) for r in review.records()]
    run.write_text("review.jsonl", "\n".join(lines) + "\n")
    run.write_text("review.html", page(review, title))
    return review.summary()
