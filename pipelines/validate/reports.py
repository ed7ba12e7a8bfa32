"""Human-readable reports of a validation run: GE Data Docs and a data exploration page.

Both are files on disk that the stage logs as MLflow artifacts; nothing here talks to MLflow.

* :func:`render_data_docs` renders Great Expectations' own Data Docs pages (the
  ``ValidationResultsPageRenderer`` / ``ExpectationSuitePageRenderer`` documents through
  ``DefaultJinjaPageView``) for in-memory validation results, in GE's site layout, with a
  plain-HTML ``index.html``. No data context or store is involved, so nothing is persisted
  besides the HTML and it runs offline.
* :func:`exploration_report` writes one self-contained HTML file (inline CSS and SVG, no
  scripts, no external assets) and a JSON file with the same numbers.

GE is imported inside :func:`render_data_docs`: it costs seconds to import.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.validate.expectations import exception_message

logger = logging.getLogger(__name__)

#: Rows above which the Spearman matrix is computed on a seeded sample.
MAX_CORRELATION_ROWS = 200_000
#: Columns of the correlation matrix (``caption_length`` is derived from ``caption``).
CORRELATION_COLUMNS: tuple[str, ...] = (
    "likes", "comments", "shares", "followers_at_post_time", "hashtags_count",
    "mentions_count", "caption_length",
)
QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MISSING_LABEL = "(missing)"
_HIST_BINS = 30

# GE's pages draw pass/fail as Font Awesome icons loaded from a CDN; offline the icons are
# blank, so a text label is added with CSS (shown next to the icon when online).
_DATA_DOCS_OFFLINE_CSS = """<style>
i.fa-check-circle.text-success::after{content:" passed";color:#1a7f37;font-style:normal;
  font-family:sans-serif;font-size:.8em;font-weight:600}
i.fa-times.text-danger::after{content:" FAILED";color:#cf222e;font-style:normal;
  font-family:sans-serif;font-size:.8em;font-weight:600}
</style>
"""


# --------------------------------------------------------------------------- Data Docs


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

    import great_expectations as gx
    from great_expectations.render.renderer import (
        ExpectationSuitePageRenderer,
        ValidationResultsPageRenderer,
    )
    from great_expectations.render.view import DefaultJinjaPageView

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
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
        f"<style>{_BASE_CSS}</style></head><body><h1>Data Docs: validation results</h1>"
        "<p>One page per expectation suite, rendered by Great Expectations. The pages load "
        "their styles from CDNs; offline they are unstyled but complete.</p>"
        "<table><tr><th>Suite</th><th>Status</th><th>Evaluated</th><th>Passed</th>"
        "<th>Failed</th><th>Expectations</th></tr>"
        + "".join(rows) + "</table>" + "".join(details) + "</body></html>\n"
    )


# ----------------------------------------------------------------- exploration report


def exploration_report(
    posts: pd.DataFrame,
    out_path: Path,
    *,
    target: str = "likes",
    quarantined: pd.DataFrame | None = None,
    max_correlation_rows: int = MAX_CORRELATION_ROWS,
    seed: int = 0,
) -> dict[str, Any]:
    """Write an exploration report of canonical posts as one offline HTML file plus JSON.

    Sections: row counts (platform, content type, source, accounts, date range, quarantine),
    a summary and histogram per numeric column (log-spaced bins for heavy-tailed counts),
    missing values per canonical column, a Spearman correlation matrix, the target's
    distribution per platform (raw and log1p), posts per weekday and hour (UTC) and a few
    example posts. Every text from the data is HTML-escaped.

    Args:
        posts: Canonical posts (any subset of the canonical columns; may be empty).
        out_path: The HTML file; the summary is written beside it as ``.json``.
        target: The outcome column whose distribution is shown per platform.
        quarantined: The quarantine frame (:data:`pipelines.schema.QUARANTINE_COLUMNS`).
        max_correlation_rows: Above this many rows the correlations use a seeded sample.
        seed: Seed of that sample and of the example posts.

    Returns:
        The summary (JSON-serializable; the same numbers as the page).

    Raises:
        ValueError: if ``target`` is absent from a frame that has columns, or not numeric,
            or if ``max_correlation_rows`` is below 2.
    """
    if not isinstance(posts, pd.DataFrame):
        raise ValueError(
            f"exploration_report: 'posts' must be a DataFrame; got {type(posts).__name__}."
        )
    if len(posts.columns) and target not in posts.columns:
        raise ValueError(
            f"exploration_report: 'target' must name a column of 'posts'; got {target!r}, "
            f"columns are {list(posts.columns)}."
        )
    if target in posts.columns and not _is_numeric(posts[target]):
        raise ValueError(
            f"exploration_report: 'target' must be a numeric column; {target!r} is "
            f"{posts[target].dtype}."
        )
    if max_correlation_rows < 2:
        raise ValueError(
            "exploration_report: 'max_correlation_rows' must be an int >= 2; "
            f"got {max_correlation_rows}."
        )
    out_path = Path(out_path)
    numeric = _numeric_columns(posts)
    summary: dict[str, Any] = {
        "rows": _row_counts(posts, quarantined),
        "numeric": {name: _numeric_summary(values) for name, values in numeric.items()},
        "missing": _missing(posts),
        "correlation": _correlation(numeric, len(posts), target, max_correlation_rows, seed),
        "target": _target_by_platform(posts, target),
        "posting_time": _posting_time(posts),
    }
    summary = _jsonable(summary)
    examples = _examples(posts, target, seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(_report_html(summary, examples), encoding="utf-8")
    out_path.with_suffix(".json").write_text(
        json.dumps(summary, indent=2, allow_nan=False, ensure_ascii=False), encoding="utf-8"
    )
    logger.info("exploration report: %d rows, %d numeric columns, written to %s",
                summary["rows"]["total"], len(summary["numeric"]), out_path)
    return summary


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _floats(series: pd.Series) -> np.ndarray:
    """Values as float64 with NaN for nulls (nullable Int64 included)."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _numeric_columns(posts: pd.DataFrame) -> dict[str, np.ndarray]:
    """Canonical count columns, then caption length, then other numeric columns present."""
    names = [c for c in schema.COUNT_COLUMNS if c in posts.columns]
    names += [c for c in posts.columns if c not in names and _is_numeric(posts[c])]
    columns = {name: _floats(posts[name]) for name in names}
    if "caption" in posts.columns and "caption_length" not in columns:
        columns["caption_length"] = _floats(posts["caption"].astype("string").str.len())
    return columns


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.astype("string").fillna(_MISSING_LABEL).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _row_counts(posts: pd.DataFrame, quarantined: pd.DataFrame | None) -> dict[str, Any]:
    rows: dict[str, Any] = {"total": len(posts)}
    for key, column in (("per_platform", "platform"), ("per_content_type", "content_type"),
                        ("per_source", "source")):
        rows[key] = _counts(posts[column]) if column in posts.columns else {}
    rows["accounts"] = (
        int(posts["account_id"].nunique()) if "account_id" in posts.columns else None
    )
    times = posts["posted_at"].dropna() if "posted_at" in posts.columns else pd.Series([])
    rows["date_range"] = (
        {"min": times.min().isoformat(), "max": times.max().isoformat()} if len(times)
        else {"min": None, "max": None}
    )
    rows["quarantined"] = None if quarantined is None else len(quarantined)
    reasons: list[dict[str, Any]] = []
    if quarantined is not None and len(quarantined) and "rule" in quarantined.columns:
        keys = ["rule"] + (["column"] if "column" in quarantined.columns else [])
        top = (quarantined[keys].astype("string").fillna("").value_counts().head(10))
        for key, count in top.items():
            key = key if isinstance(key, tuple) else (key,)
            reasons.append({"rule": key[0], "column": key[1] if len(key) > 1 else "",
                            "count": int(count)})
    rows["quarantine_top_reasons"] = reasons
    return rows


def _histogram(values: np.ndarray, *, log_bins: bool | None = None) -> dict[str, Any]:
    """Bin finite values: one bin per integer for small integer ranges; for heavy tails
    (max above 50 and above 10x the median) bins equally wide in sign(x)*log1p(|x|);
    otherwise equally wide bins."""
    if not len(values):
        return {"edges": [], "counts": [], "scale": "none"}
    low, high = float(values.min()), float(values.max())
    if log_bins is None:
        log_bins = high > 50 and high > 10 * max(abs(float(np.median(values))), 1.0)
    if high - low <= _HIST_BINS and bool(np.all(values == np.round(values))):
        edges = np.arange(low, high + 2) - 0.5
        scale = "integer"
    elif log_bins:
        stretched = np.linspace(_signed_log1p(low), _signed_log1p(high), _HIST_BINS + 1)
        edges = np.sign(stretched) * np.expm1(np.abs(stretched))
        edges[0], edges[-1] = low, high  # undo rounding so the extremes fall inside
        scale = "log"
    else:
        edges = np.linspace(low, high, _HIST_BINS + 1) if high > low else np.array([low, low + 1])
        scale = "linear"
    counts, edges = np.histogram(values, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "scale": scale}


def _signed_log1p(value: float) -> float:
    return math.copysign(math.log1p(abs(value)), value)


def _numeric_summary(values: np.ndarray) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    total = len(values)
    out: dict[str, Any] = {
        "count": int(len(present)), "missing": int(total - len(present)),
        "missing_pct": round(100.0 * (total - len(present)) / total, 4) if total else 0.0,
    }
    if len(present):
        p5, median, p95 = np.quantile(present, [0.05, 0.5, 0.95])
        out.update(mean=float(present.mean()), median=float(median), p5=float(p5),
                   p95=float(p95), min=float(present.min()), max=float(present.max()))
    else:
        out.update(mean=None, median=None, p5=None, p95=None, min=None, max=None)
    out["histogram"] = _histogram(present)
    return out


def _missing(posts: pd.DataFrame) -> dict[str, Any]:
    total = len(posts)
    names = list(schema.COLUMN_NAMES) + [c for c in posts.columns if c not in schema.DTYPES]
    out = {}
    for name in names:
        present = name in posts.columns
        missing = int(posts[name].isna().sum()) if present else total
        out[name] = {"in_frame": present, "missing": missing,
                     "missing_pct": round(100.0 * missing / total, 4) if total else 0.0}
    return out


def _correlation(
    numeric: dict[str, np.ndarray], rows: int, target: str, max_rows: int, seed: int
) -> dict[str, Any]:
    names = [c for c in (target, *CORRELATION_COLUMNS) if c in numeric]
    names = list(dict.fromkeys(names))
    sampled = rows > max_rows
    frame = pd.DataFrame({name: numeric[name] for name in names})
    if sampled:
        frame = frame.sample(n=max_rows, random_state=seed)
    # Pairwise-complete Spearman: columns a source does not report (all null) give None.
    matrix = frame.corr(method="spearman", min_periods=3) if names else pd.DataFrame()
    return {
        "method": "spearman", "columns": names, "rows_used": len(frame), "sampled": sampled,
        "seed": seed if sampled else None,
        "matrix": [[None if pd.isna(v) else round(float(v), 4) for v in row]
                   for row in matrix.to_numpy()],
    }


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {f"p{round(q * 100)}": None for q in QUANTILES}
    found = np.quantile(values, QUANTILES)
    return {f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, found, strict=True)}


def _target_by_platform(posts: pd.DataFrame, target: str) -> dict[str, Any]:
    out: dict[str, Any] = {"column": target, "per_platform": {}}
    if target not in posts.columns:
        return out
    values = _floats(posts[target])
    groups: list[tuple[str, np.ndarray]] = []
    if "platform" in posts.columns:
        codes, names = pd.factorize(posts["platform"].astype("string").fillna(_MISSING_LABEL))
        groups = sorted(((str(n), codes == i) for i, n in enumerate(names)), key=lambda g: g[0])
    groups.append(("(all)", np.ones(len(values), dtype=bool)))
    for name, mask in groups:
        chosen = values[mask]
        present = chosen[~np.isnan(chosen)]
        # log1p is undefined below -1; negative targets are quarantined upstream anyway.
        logged = np.log1p(present[present > -1])
        out["per_platform"][name] = {
            "rows": int(mask.sum()), "count": int(len(present)),
            "missing": int(len(chosen) - len(present)),
            "mean": float(present.mean()) if len(present) else None,
            "quantiles": _quantiles(present),
            "log1p_quantiles": _quantiles(logged),
            "log1p_histogram": _histogram(logged, log_bins=False),
        }
    return out


def _posting_time(posts: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"timezone": "UTC", "weekdays": list(WEEKDAYS), "rows_with_time": 0,
                           "weekday_hour": [[0] * 24 for _ in WEEKDAYS],
                           "per_weekday": dict.fromkeys(WEEKDAYS, 0),
                           "per_hour": {str(h): 0 for h in range(24)}}
    if "posted_at" not in posts.columns:
        return out
    times = pd.to_datetime(posts["posted_at"].dropna(), utc=True)
    if not len(times):
        return out
    cells = times.dt.weekday.to_numpy() * 24 + times.dt.hour.to_numpy()
    grid = np.bincount(cells, minlength=7 * 24).reshape(7, 24)
    out.update(
        rows_with_time=int(len(times)), weekday_hour=grid.tolist(),
        per_weekday={day: int(n) for day, n in zip(WEEKDAYS, grid.sum(axis=1), strict=True)},
        per_hour={str(h): int(n) for h, n in enumerate(grid.sum(axis=0))},
    )
    return out


def _examples(posts: pd.DataFrame, target: str, seed: int, n: int = 5) -> list[dict[str, str]]:
    if not len(posts):
        return []
    chosen = posts.sample(n=min(n, len(posts)), random_state=seed)
    wanted = [c for c in ("platform", "account_id", "posted_at", "content_type", target,
                          "caption") if c in chosen.columns]
    rows = []
    for record in chosen[wanted].to_dict(orient="records"):
        row = {}
        for key, value in record.items():
            text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) \
                else str(value)
            row[key] = text[:160] + ("…" if len(text) > 160 else "")
        rows.append(row)
    return rows


def _jsonable(value: Any) -> Any:
    """Plain Python types only; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------------- HTML output

_BASE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em 2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0;font-size:.85em}
th,td{border:1px solid #ddd;padding:2px 7px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.ok{color:#1a7f37}.bad{color:#cf222e}.note{color:#555;font-size:.9em}
.grid{display:flex;flex-wrap:wrap;gap:1.2em}.card{border:1px solid #ddd;padding:.5em .8em}
svg text{font-size:9px;fill:#555}
"""


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


def _report_html(summary: dict[str, Any], examples: list[dict[str, str]]) -> str:
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
    parts.append(f"<h2>Target distribution per platform: {e(target['column'])}</h2>")
    if target["per_platform"]:
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
    parts.append("<h2>Posts per weekday and hour (UTC)</h2>")
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
        f"<style>{_BASE_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    )
