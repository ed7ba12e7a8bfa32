"""The exploration report as one self-contained HTML page.

:func:`render_page` turns the summary computed by
:func:`pipelines.validate.exploration_report.exploration_report` into HTML with inline CSS
and SVG, no scripts and no external assets. Every text from the data is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any

from pipelines.validate.report_style import PAGE_CSS


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.{digits}g}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """An HTML table; cells are already HTML; the first ``left`` columns align left."""
    head = "".join(f"<th{' class=l' if i < left else ''}>{h}</th>"
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(
            cell if cell.startswith("<td") else f"<td{' class=l' if i < left else ''}>{cell}</td>"
            for i, cell in enumerate(row)
        ) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _svg_histogram(hist: dict[str, Any], width: int = 300, height: int = 70) -> str:
    counts, edges = hist["counts"], hist["edges"]
    if not counts or max(counts) == 0:
        return '<p class="note">no values</p>'
    top = max(counts)
    bar = width / len(counts)
    bars = []
    for i, count in enumerate(counts):
        h = 0 if count == 0 else max(1.0, (height - 12) * count / top)
        label = html.escape(f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}): {count:,}")
        bars.append(
            f'<rect x="{i * bar:.1f}" y="{height - 12 - h:.1f}" width="{max(bar - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="#4c78a8"><title>{label}</title></rect>'
        )
    axis = (
        f'<text x="0" y="{height - 1}">{html.escape(_fmt(edges[0]))}</text>'
        f'<text x="{width}" y="{height - 1}" text-anchor="end">'
        f"{html.escape(_fmt(edges[-1]))}</text>"
    )
    scale = {"log": "log-spaced bins", "integer": "one bin per value"}.get(hist["scale"], "")
    return (f'<svg width="{width}" height="{height}" role="img" '
            f'aria-label="histogram">{"".join(bars)}{axis}</svg>'
            + (f'<div class="note">{scale}</div>' if scale else ""))


def _shade(value: float | None, text: str | None = None) -> str:
    """A table cell shaded blue (positive) or red (negative) by magnitude (at most 1)."""
    if value is None:
        return '<td style="color:#999">–</td>'
    alpha = min(abs(value), 1.0) * 0.85
    rgb = "76,120,168" if value >= 0 else "207,34,46"
    colour = "#fff" if alpha > 0.5 else "#222"
    text = f"{value:.2f}" if text is None else text
    return f'<td style="background:rgba({rgb},{alpha:.2f});color:{colour}">{text}</td>'


def render_page(summary: dict[str, Any], examples: list[dict[str, str]]) -> str:
    """The HTML page of an exploration summary and its example posts."""
    e = html.escape
    rows = summary["rows"]
    parts = [f"<h1>Exploration report: {rows['total']:,} posts</h1>"]

    parts.append("<h2>Row counts</h2>")
    date_range = rows["date_range"]
    facts = [["posts", _fmt(rows["total"])], ["accounts", _fmt(rows["accounts"])],
             ["first post", e(date_range["min"] or "–")],
             ["last post", e(date_range["max"] or "–")]]
    if rows["quarantined"] is not None:
        facts.append(["quarantined", _fmt(rows["quarantined"])])
    parts.append(_table(["", "value"], facts))
    cards = []
    for key, title in (("per_platform", "platform"), ("per_content_type", "content type"),
                       ("per_source", "source")):
        if rows[key]:
            cards.append(f'<div class="card"><h3>Per {title}</h3>' + _table(
                [title, "posts", "%"],
                [[e(k), _fmt(v), f"{100 * v / max(rows['total'], 1):.1f}"]
                 for k, v in rows[key].items()]) + "</div>")
    parts.append(f'<div class="grid">{"".join(cards)}</div>')
    if rows["quarantine_top_reasons"]:
        parts.append("<h3>Top quarantine reasons</h3>" + _table(
            ["rule", "column", "rows"],
            [[e(r["rule"]), e(r["column"]), _fmt(r["count"])]
             for r in rows["quarantine_top_reasons"]], left=2))

    parts.append("<h2>Numeric columns</h2>")
    stat_rows = []
    for name, stats in summary["numeric"].items():
        stat_rows.append([e(name)] + [_fmt(stats[k]) for k in (
            "count", "missing_pct", "mean", "median", "p5", "p95", "min", "max")])
    parts.append(_table(["column", "count", "missing %", "mean", "median", "p5", "p95", "min",
                         "max"], stat_rows))
    parts.append('<div class="grid">' + "".join(
        f'<div class="card"><h3>{e(name)}</h3>{_svg_histogram(stats["histogram"])}</div>'
        for name, stats in summary["numeric"].items()) + "</div>")

    parts.append("<h2>Missing values</h2>")
    parts.append(_table(["column", "in frame", "missing", "missing %"], [
        [e(name), "yes" if m["in_frame"] else '<b class="bad">absent</b>', _fmt(m["missing"]),
         f"{m['missing_pct']:.2f}"] for name, m in summary["missing"].items()]))

    corr = summary["correlation"]
    parts.append("<h2>Spearman correlation</h2>")
    note = (f"computed on a random sample of {corr['rows_used']:,} rows (seed {corr['seed']})"
            if corr["sampled"] else f"computed on all {corr['rows_used']:,} rows")
    parts.append(f'<p class="note">Pairwise-complete rank correlation, {note}; '
                 "– where a column has too few values.</p>")
    if corr["columns"]:
        parts.append(_table([""] + [e(c) for c in corr["columns"]], [
            [e(name)] + [_shade(v) for v in row]
            for name, row in zip(corr["columns"], corr["matrix"], strict=True)]))

    target = summary["target"]
    parts.append(f"<h2>Target distribution per platform: {e(target['column'] or '-')}</h2>")
    if target["column"] is None:
        parts.append('<p class="note">no numeric outcome column in this entity</p>')
    elif target["per_platform"]:
        q_names = list(next(iter(target["per_platform"].values()))["quantiles"])
        parts.append(_table(["platform", "rows", "missing", "mean"] + q_names, [
            [e(p), _fmt(s["rows"]), _fmt(s["missing"]), _fmt(s["mean"])]
            + [_fmt(s["quantiles"][q]) for q in q_names]
            for p, s in target["per_platform"].items()]))
        parts.append(f"<h3>log1p({e(target['column'])})</h3>" + _table(
            ["platform"] + q_names,
            [[e(p)] + [_fmt(s["log1p_quantiles"][q], 3) for q in q_names]
             for p, s in target["per_platform"].items()]))
        parts.append('<div class="grid">' + "".join(
            f'<div class="card platform" data-platform="{e(p)}"><h3>{e(p)}: '
            f'log1p({e(target["column"])})</h3>{_svg_histogram(s["log1p_histogram"])}</div>'
            for p, s in target["per_platform"].items()) + "</div>")
    else:
        parts.append('<p class="note">no rows</p>')

    timing = summary["posting_time"]
    column = timing.get("column", "posted_at")
    parts.append("<h2>Posts per weekday and hour (UTC)</h2>" if column == "posted_at" else
                 f"<h2>Rows per weekday and hour (UTC) of {e(column)}</h2>")
    top = max((max(r) for r in timing["weekday_hour"]), default=0) or 1
    parts.append(_table(["", *[str(h) for h in range(24)], "total"], [
        [day] + [_shade(n / top, f"{n:,}") for n in row] + [_fmt(timing["per_weekday"][day])]
        for day, row in zip(timing["weekdays"], timing["weekday_hour"], strict=True)]))

    if examples:
        parts.append("<h2>Example posts</h2>")
        header = list(examples[0])
        parts.append(_table([e(h) for h in header],
                            [[e(row[h]) for h in header] for row in examples], left=len(header)))

    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>EngageFlow exploration report</title>"
        f"<style>{PAGE_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    )
