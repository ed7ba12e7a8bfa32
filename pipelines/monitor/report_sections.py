"""Plain-HTML sections heading the Evidently drift report: what Evidently's own widgets do
not show, so a user opening the one page sees the whole verdict.

- Text drift (tasks with a text column, :mod:`pipelines.monitor.text_drift`): each
  descriptor's score, threshold and verdict, the language mix of both sides and the
  embedding drift, with a link to Evidently's embeddings-drift page beside the report.
- Estimated performance (:mod:`pipelines.monitor.estimated_performance`: CBPE for binary
  tasks, DLE for regressions): per time chunk the estimate with its confidence band and,
  where the outcomes matured, the realized metric and whether it fell inside the band.

The sections are inserted right after ``<body>``; Evidently's page renders below them.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_STYLE = ("<style>.ef-section{font-family:sans-serif;margin:16px 24px;padding:8px 16px;"
          "border:1px solid #ccc;border-radius:6px}.ef-section table{border-collapse:"
          "collapse}.ef-section td,.ef-section th{border:1px solid #ddd;padding:3px 8px;"
          "text-align:right}.ef-section th{background:#f3f3f3}.ef-drift{color:#b00020;"
          "font-weight:bold}</style>")


def _number(value: Any, digits: int = 4) -> str:
    if value is None or value != value:      # None or NaN
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _verdict(drifted: bool | None) -> str:
    if drifted is None:
        return "–"
    return '<span class="ef-drift">drifted</span>' if drifted else "no drift"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def text_section(text: dict[str, Any] | None, *, embedding_page: str | None) -> str:
    """The text drift section (empty string when the task has no text)."""
    if not text:
        return ""
    rows = [[html.escape(name), html.escape(d["method"]), _number(d["score"]),
             _number(d["threshold"]), _verdict(d["drifted"])]
            for name, d in text["descriptors"].items()]
    e = text["embedding"]
    rows.append([f"{html.escape(text['column'])} embeddings (MiniLM)", "mmd (MMD²)",
                 _number(e["score"]), _number(e["threshold"]), _verdict(e["drifted"])])
    languages = sorted(set(text["languages"]["reference"]) | set(text["languages"]["current"]),
                       key=lambda k: -text["languages"]["reference"].get(k, 0.0))
    mix = [[html.escape(k), f"{text['languages']['reference'].get(k, 0.0):.1%}",
            f"{text['languages']['current'].get(k, 0.0):.1%}"] for k in languages]
    link = (f' Evidently\'s embeddings drift page: <a href="{html.escape(embedding_page)}">'
            f"{html.escape(embedding_page)}</a>." if embedding_page else "")
    return (f'<section class="ef-section" id="text-drift"><h2>Text drift: '
            f"{html.escape(text['column'])}</h2><p>Descriptors are judged like the other "
            f"columns (calibrated thresholds; their Evidently plots are below). Embedding "
            f"drift: MMD² of {e['rows']['reference']} reference vs {e['rows']['current']} "
            f"current texts, threshold calibrated by {e['permutations']} permutations "
            f"(p = {e['p_value']:.3f}).{link}</p>"
            + _table(["descriptor", "method", "score", "threshold", "verdict"], rows)
            + "<h3>Language mix</h3>" + _table(["language", "reference", "current"], mix)
            + "</section>")


def estimate_section(estimated: dict[str, Any] | None) -> str:
    """The estimated-performance section: a line saying why there is none, or the table."""
    if not estimated:
        return ('<section class="ef-section" id="estimated-performance"><h2>Estimated '
                "performance</h2><p>No performance estimator is stored with this model "
                "version (CBPE for binary tasks, DLE for regressions): no estimate before "
                "the labels.</p></section>")
    metric = estimated["metric"]
    parts = [(f"chunk {i + 1}", c) for i, c in enumerate(estimated["chunks"])]
    parts.append(("whole window", estimated["window"]))
    rows = []
    for name, chunk in parts:
        e = chunk["estimated"].get(metric, {})
        realized = (chunk.get("realized") or {}).get(metric)
        inside = (chunk.get("within_band") or {}).get(metric)
        rows.append([name, html.escape(f"{chunk['start'][:16]} … {chunk['end'][:16]}"),
                     str(chunk["rows"]), str(chunk["outcomes"]), _number(e.get("value")),
                     f"[{_number(e.get('lower'))}, {_number(e.get('upper'))}]",
                     _number(realized), "–" if inside is None else ("yes" if inside else
                                                                    '<span class="ef-drift">'
                                                                    "no</span>")])
    offline = estimated.get(f"offline_{metric}")
    loss = estimated.get("performance_loss")
    return (f'<section class="ef-section" id="estimated-performance"><h2>Estimated '
            f"performance ({html.escape(estimated['method'])}, before the labels)</h2>"
            f"<p>{html.escape(metric)}: offline {_number(offline)}, budget "
            f"+{_number(estimated['max_error_increase'], 3)} → estimated loss: "
            f"{_verdict(loss) if loss is not None else 'not judged'}. "
            f"{html.escape(estimated['comparison']['verdict'])}.</p>"
            + _table(["chunk", "time", "rows", "outcomes", f"estimated {metric}",
                      "confidence band", f"realized {metric}", "realized within band"], rows)
            + "</section>")


def add_sections(html_path: Path, summary: dict[str, Any]) -> None:
    """Insert the text drift and estimated-performance sections of ``summary`` (the drift
    check's) at the top of the Evidently page at ``html_path``.

    Raises:
        ValueError: if the page has no ``<body>`` tag.
    """
    page = html_path.read_text(encoding="utf-8")
    at = page.find("<body")
    if at < 0:
        raise ValueError(f"add_sections: {html_path} has no <body> tag; not an Evidently "
                         "HTML report.")
    at = page.index(">", at) + 1
    evidently = summary.get("evidently") or {}
    page_link = (evidently.get("embedding") or {}).get("report")
    sections = (_STYLE + text_section((summary.get("drift") or {}).get("text"),
                                      embedding_page=Path(page_link).name if page_link else None)
                + estimate_section(summary.get("estimated_performance")))
    html_path.write_text(page[:at] + sections + page[at:], encoding="utf-8")
    logger.info("drift report: text drift %s and estimated performance %s sections added to "
                "%s", "with" if (summary.get("drift") or {}).get("text") else "without",
                "with an estimate" if summary.get("estimated_performance") else "without one",
                html_path)
