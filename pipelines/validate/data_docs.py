"""Great Expectations Data Docs for in-memory validation results, rendered offline.

:func:`render_data_docs` renders GE's own Data Docs pages (the
``ValidationResultsPageRenderer`` / ``ExpectationSuitePageRenderer`` documents through
``DefaultJinjaPageView``) in GE's site layout, with a plain-HTML ``index.html``. No data
context or store is involved, so nothing is persisted besides the HTML and it runs offline.
The stage logs the folder as an MLflow artifact; nothing here talks to MLflow.

GE is imported inside :func:`render_data_docs`: it costs seconds to import.
"""

from __future__ import annotations

import copy
import html
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.validate.expectations import exception_message
from pipelines.validate.report_style import PAGE_CSS

logger = logging.getLogger(__name__)

# GE's pages draw pass/fail as Font Awesome icons loaded from a CDN; offline the icons are
# blank, so a text label is added with CSS (shown next to the icon when online).
_DATA_DOCS_OFFLINE_CSS = """<style>
i.fa-check-circle.text-success::after{content:" passed";color:#1a7f37;font-style:normal;
  font-family:sans-serif;font-size:.8em;font-weight:600}
i.fa-times.text-danger::after{content:" FAILED";color:#cf222e;font-style:normal;
  font-family:sans-serif;font-size:.8em;font-weight:600}
</style>
"""


def render_data_docs(
    results: Sequence[Any], out_dir: Path, *, run_name: str | None = None
) -> Path:
    """Render GE Data Docs for validation results, one validation page and one suite page each.

    Pages are rendered by GE's own renderers and laid out as a GE site does
    (``validations/<suite>/<run name>/<run time>/<asset>.html`` and
    ``expectations/<suite>.html``), so the pages' "Home" and suite links resolve. The index
    is plain HTML (GE's index is a JavaScript table that shows nothing offline). Pages load
    Bootstrap, jQuery and Font Awesome from CDNs: offline they are unstyled but every
    expectation, status, observed value and unexpected-value table is in the HTML.

    Args:
        results: GE ``ExpectationSuiteValidationResult`` objects (e.g. from
            :func:`pipelines.validate.expectations.run_suite_with_result`).
        out_dir: Folder for the site; created if needed; pages are overwritten.
        run_name: Folder name for this run's pages (e.g. the logical date); defaults to the
            result's run id, or ``__none__`` as GE does.

    Returns:
        The path of ``index.html``.

    Raises:
        ValueError: if ``results`` is empty or holds something that is not a suite
            validation result.
    """
    results = list(results)
    if not results:
        raise ValueError("render_data_docs: 'results' is empty; pass at least one GE result.")
    for position, result in enumerate(results):
        if not (hasattr(result, "suite_name") and hasattr(result, "results")):
            raise ValueError(
                f"render_data_docs: results[{position}] must be a GE "
                f"ExpectationSuiteValidationResult; got {type(result).__name__}."
            )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # before its imports
    import great_expectations as gx
    from great_expectations.render.renderer import (
        ExpectationSuitePageRenderer,
        ValidationResultsPageRenderer,
    )
    from great_expectations.render.view import DefaultJinjaPageView

    out_dir = Path(out_dir)
    view = DefaultJinjaPageView()
    entries = []
    used: set[str] = set()
    for position, result in enumerate(results):
        suite_name = str(result.suite_name)
        parts = [_safe_name(p) for p in suite_name.split(".")]
        name_run, name_time = _run_folders(result)
        asset = _safe_name(
            (result.meta.get("active_batch_definition") or {}).get("data_asset_name") or "batch"
        )
        page = Path("validations", *parts, _safe_name(run_name or name_run),
                    _safe_name(name_time), f"{asset}.html")
        if page.as_posix() in used:  # the same suite twice in one call
            page = page.with_name(f"{asset}-{position}.html")
        used.add(page.as_posix())
        document = ValidationResultsPageRenderer().render(_escaped_copy(result))
        _write_page(out_dir / page, view.render(document, show_how_to_buttons=False),
                    _page_appendix(_expectation_rows(result)))

        suite_page = Path("expectations", *parts[:-1], f"{parts[-1]}.html")
        suite = gx.ExpectationSuite(name=suite_name, expectations=[
            _bare_configuration(r.expectation_config) for r in result.results
            if r.expectation_config is not None
        ])
        document = ExpectationSuitePageRenderer().render(suite)
        _write_page(out_dir / suite_page, view.render(document))
        entries.append(_index_entry(result, page, suite_page))

    index = out_dir / "index.html"
    index.write_text(_data_docs_index(entries), encoding="utf-8")
    logger.info("data docs: %d suite(s) rendered to %s", len(entries), index)
    return index


def _run_folders(result: Any) -> tuple[str, str]:
    """(run name, run time) folder names from the result's run id, ``__none__`` if unset."""
    run_id = result.meta.get("run_id")
    if run_id is None:
        return "__none__", "__none__"
    if isinstance(run_id, dict):
        name, time = run_id.get("run_name"), run_id.get("run_time")
    else:
        name, time = getattr(run_id, "run_name", run_id), getattr(run_id, "run_time", None)
    try:
        stamp = pd.Timestamp(time).strftime("%Y%m%dT%H%M%S.%fZ") if time else "__none__"
    except (ValueError, TypeError):
        stamp = "__none__"
    return str(name or "__none__"), stamp


def _bare_configuration(config: Any) -> dict[str, Any]:
    """An expectation configuration as a suite holds it (no run-time batch id or result id)."""
    raw = config.to_json_dict()
    kwargs = {k: v for k, v in raw["kwargs"].items() if k != "batch_id"}
    return {"type": raw["type"], "kwargs": kwargs, "meta": raw.get("meta") or {}}


def _safe_name(text: str) -> str:
    """A file or folder name made of safe characters only."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip(".") or "_"


def _write_page(path: Path, page: str, appendix: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page = page.replace("</head>", _DATA_DOCS_OFFLINE_CSS + "</head>", 1)
    path.write_text(page.replace("</body>", appendix + "</body>", 1), encoding="utf-8")


def _expectation_rows(result: Any) -> list[dict[str, Any]]:
    """Per expectation: its type, column, success and what was seen, in suite order."""
    rows = []
    for evr in result.results:
        config = evr.expectation_config
        raw = evr.to_json_dict()
        detail = raw.get("result") or {}
        error = exception_message(raw.get("exception_info"))
        if error:
            seen = f"error: {error}"
        elif "observed_value" in detail:
            seen = f"observed {detail['observed_value']!r}"
        elif "unexpected_count" in detail:
            seen = (f"{detail['unexpected_count']} unexpected value(s)"
                    + (f", e.g. {detail['partial_unexpected_list'][:3]!r}"
                       if detail.get("partial_unexpected_list") else ""))
        else:
            seen = ""
        rows.append({
            "expectation": config.type if config is not None else "?",
            "column": _columns_of(config.kwargs if config is not None else {}),
            "success": bool(evr.success), "seen": seen[:300],
        })
    return rows


def _escaped_copy(result: Any) -> Any:
    """A copy of ``result`` whose observed data (values, exception text) is HTML-escaped.

    GE 1.24.1's validation page inserts unexpected values into its tables unescaped, so a
    value such as ``<script>`` from the data would run in the reader's browser.
    """
    result = copy.deepcopy(result)
    for evr in result.results:
        if isinstance(evr.result, dict):
            evr.result = _escape_strings(evr.result)
        if isinstance(evr.exception_info, dict):
            evr.exception_info = _escape_strings(evr.exception_info)
    return result


def _escape_strings(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {k: _escape_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_strings(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_escape_strings(v) for v in value)
    return value


def _columns_of(kwargs: dict[str, Any]) -> str:
    if kwargs.get("column"):
        return str(kwargs["column"])
    return ", ".join(str(c) for c in kwargs.get("column_list") or [])


def _page_appendix(rows: list[dict[str, Any]]) -> str:
    """A plain table of the page's expectations by type name, appended to GE's page."""
    e = html.escape
    body = "".join(
        f"<tr><td>{e(r['expectation'])}</td><td>{e(r['column'])}</td>"
        f"<td>{'passed' if r['success'] else '<b>FAILED</b>'}</td><td>{e(r['seen'])}</td></tr>"
        for r in rows
    )
    return (
        '<div class="container-fluid pl-5 pr-5 pb-4" id="engageflow-expectations">'
        "<h4>Expectations by type</h4><table class=\"table table-sm\" border=\"1\">"
        "<tr><th>expectation</th><th>column</th><th>status</th><th>seen</th></tr>"
        f"{body}</table></div>\n"
    )


def _index_entry(result: Any, page: Path, suite_page: Path) -> dict[str, Any]:
    stats = result.statistics or {}
    return {
        "suite": str(result.suite_name), "success": bool(result.success),
        "evaluated": stats.get("evaluated_expectations", len(result.results)),
        "successful": stats.get("successful_expectations"),
        "unsuccessful": stats.get("unsuccessful_expectations"),
        "page": page.as_posix(), "suite_page": suite_page.as_posix(),
        "failed": [r for r in _expectation_rows(result) if not r["success"]],
    }


def _data_docs_index(entries: list[dict[str, Any]]) -> str:
    e = html.escape
    rows, details = [], []
    for entry in entries:
        status = ('<b class="ok">passed</b>' if entry["success"]
                  else '<b class="bad">FAILED</b>')
        rows.append(
            f"<tr><td><a href=\"{e(entry['page'])}\">{e(entry['suite'])}</a></td>"
            f"<td>{status}</td><td>{entry['evaluated']}</td><td>{entry['successful']}</td>"
            f"<td>{entry['unsuccessful']}</td>"
            f"<td><a href=\"{e(entry['suite_page'])}\">suite</a></td></tr>"
        )
        if entry["failed"]:
            items = "".join(
                f"<li><code>{e(f['expectation'])}</code>"
                + (f" on <code>{e(f['column'])}</code>" if f["column"] else "")
                + f": {e(f['seen'])}</li>" for f in entry["failed"]
            )
            details.append(f"<h2>Failed in {e(entry['suite'])}</h2><ul>{items}</ul>")
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Data Docs</title>"
        f"<style>{PAGE_CSS}</style></head><body><h1>Data Docs: validation results</h1>"
        "<p>One page per expectation suite, rendered by Great Expectations. The pages load "
        "their styles from CDNs; offline they are unstyled but complete.</p>"
        "<table><tr><th>Suite</th><th>Status</th><th>Evaluated</th><th>Passed</th>"
        "<th>Failed</th><th>Expectations</th></tr>"
        + "".join(rows) + "</table>" + "".join(details) + "</body></html>\n"
    )
