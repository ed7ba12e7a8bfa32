"""A data exploration report of canonical posts (or any task's entity): one offline HTML
page plus JSON.

:func:`exploration_report` computes the numbers (row counts, numeric summaries and
histograms, missing values, Spearman correlations, the target per platform, posting times,
example posts), writes them as JSON and renders them with
:func:`pipelines.validate.exploration_page.render_page`. The stage logs both files as
MLflow artifacts; nothing here talks to MLflow.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines import schema
from pipelines.validate.exploration_page import render_page

logger = logging.getLogger(__name__)

#: Rows above which the Spearman matrix is computed on a seeded sample.
MAX_CORRELATION_ROWS = 200_000
#: Columns of the correlation matrix (``caption_length`` is derived from ``caption``).
CORRELATION_COLUMNS: tuple[str, ...] = (
    "likes", "comments", "shares", "followers_at_post_time", "hashtags_count",
    "mentions_count", "caption_length",
)
#: Numeric columns correlated for an entity without the post columns.
MAX_OTHER_CORRELATION_COLUMNS = 12
#: Columns of the example rows of an entity without the post columns.
MAX_EXAMPLE_COLUMNS = 8
QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MISSING_LABEL = "(missing)"
_HIST_BINS = 30


def exploration_report(
    posts: pd.DataFrame,
    out_path: Path,
    *,
    target: str | None = "likes",
    time_column: str = "posted_at",
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
        target: The outcome column whose distribution is shown per platform (None: an
            entity without a numeric outcome column, e.g. a class label).
        time_column: The column whose weekday and hour (UTC) are counted.
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
    if target is not None and len(posts.columns) and target not in posts.columns:
        raise ValueError(
            f"exploration_report: 'target' must name a column of 'posts'; got {target!r}, "
            f"columns are {list(posts.columns)}."
        )
    if target is not None and target in posts.columns and not _is_numeric(posts[target]):
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
        "posting_time": _posting_time(posts, time_column),
    }
    summary = _jsonable(summary)
    examples = _examples(posts, target, seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(render_page(summary, examples), encoding="utf-8")
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
    numeric: dict[str, np.ndarray], rows: int, target: str | None, max_rows: int, seed: int
) -> dict[str, Any]:
    names = list(dict.fromkeys(c for c in (target, *CORRELATION_COLUMNS) if c in numeric))
    if len(names) < 2:      # another entity than posts: its own numeric columns
        names = list(dict.fromkeys([*names, *numeric]))[:MAX_OTHER_CORRELATION_COLUMNS]
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


def _target_by_platform(posts: pd.DataFrame, target: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"column": target, "per_platform": {}}
    if target is None or target not in posts.columns:
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


def _posting_time(posts: pd.DataFrame, time_column: str) -> dict[str, Any]:
    out: dict[str, Any] = {"timezone": "UTC", "weekdays": list(WEEKDAYS), "rows_with_time": 0,
                           "weekday_hour": [[0] * 24 for _ in WEEKDAYS],
                           "per_weekday": dict.fromkeys(WEEKDAYS, 0),
                           "per_hour": {str(h): 0 for h in range(24)}}
    out["column"] = time_column
    if time_column not in posts.columns:
        return out
    times = pd.to_datetime(posts[time_column].dropna(), utc=True)
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


def _examples(posts: pd.DataFrame, target: str | None, seed: int, n: int = 5
              ) -> list[dict[str, str]]:
    if not len(posts):
        return []
    chosen = posts.sample(n=min(n, len(posts)), random_state=seed)
    wanted = [c for c in ("platform", "account_id", "posted_at", "content_type", target,
                          "caption") if c in chosen.columns]
    if len(wanted) < 3:     # another entity than posts: its first columns
        wanted = list(chosen.columns[:MAX_EXAMPLE_COLUMNS])
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
