"""The offline promotion gate: is the challenger better than the champion, with confidence?

A single-number comparison ("MAE 0.651 < 0.653, promote") mistakes noise for progress. This
gate scores both models on the SAME rows and looks at the per-row loss difference:

- a **paired bootstrap** (rows, or whole accounts, resampled with replacement; both models
  always see the same resample) gives a percentile confidence interval of the improvement
  ``champion metric - challenger metric`` (for a loss; reversed for Spearman);
- **promote** only if the interval's lower bound exceeds ``min_delta`` and every secondary
  metric and every platform slice with at least ``min_slice_rows`` rows is proven
  **non-inferior**: the interval's worst end is worse than the champion by at most
  ``non_inferiority_margin`` *relative* to the champion's own value (0.05: 5 % of the
  champion's MAE, RMSE or Spearman);
- **reject** (remove ``@challenger``) on evidence of harm: the primary metric significantly
  worse, a metric or slice significantly worse by more than the margin (observed worsening
  beyond it, whole interval on the worse side), or predictions identical to the
  champion's (no test could ever separate them);
- otherwise **keep** it as challenger: no harm seen, but not proven better everywhere (too
  few rows in a slice, say); the online champion-challenger test decides with live data;
- the **first model** (no champion) is accepted only if it meets absolute thresholds
  (``max_mae_log``, ``min_spearman``) and beats the naive baseline (the account's median
  past likes) by the same paired bootstrap, lower bound above ``min_baseline_improvement``.

The bootstrap is vectorized: each chunk of resamples is a matrix of per-row weights
(how often each row was drawn), and every metric of every slice comes out of one matrix
product of those weights with a small table of per-row quantities. 2,000 resamples of
10,000 rows take well under a second.

Pure numpy/pandas: no MLflow, no files. The registry side is ``pipelines.registry.promotion``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import rankdata

#: Metrics the gate can compute; all but Spearman are losses (lower is better).
GATE_METRICS: tuple[str, ...] = ("mae_log", "rmse_log", "mae_raw", "spearman")
#: Metrics that may be the primary one (a per-row loss exists).
PRIMARY_METRICS: tuple[str, ...] = ("mae_log", "rmse_log")
HIGHER_IS_BETTER: frozenset[str] = frozenset({"spearman"})

PROMOTE, KEEP, REJECT = "promote", "keep_challenger", "reject"
#: Elements per bootstrap weight chunk (resamples x rows): bounds memory to ~16 MB.
_CHUNK_ELEMENTS = 2_000_000


def _check_arrays(where: str, actual: Any, **predictions: Any) -> dict[str, np.ndarray]:
    arrays = {"actual": np.asarray(actual, dtype=float)}
    for name, values in predictions.items():
        if values is not None:
            arrays[name] = np.asarray(values, dtype=float)
    n = arrays["actual"].shape
    if len(n) != 1 or n[0] < 2:
        raise ValueError(f"{where}: 'actual' must be a 1-d array of at least 2 rows; "
                         f"got shape {n}.")
    for name, values in arrays.items():
        if values.shape != n:
            raise ValueError(f"{where}: '{name}' must have one value per row ({n[0]}); "
                             f"got shape {values.shape}.")
        bad = ~np.isfinite(values) | ((values < 0) if name == "actual" else False)
        if bad.any():
            raise ValueError(f"{where}: '{name}' must hold finite counts"
                             f"{' >= 0' if name == 'actual' else ''} (not log scale); got "
                             f"{int(bad.sum())} bad value(s), e.g. {values[bad][0]!r}.")
        if name != "actual":
            # as regression_metrics does: a negative predicted count means zero
            arrays[name] = np.clip(values, 0, None)
    return arrays


class _Quantities:
    """Per-row quantities (columns) whose weighted sums give every metric of every scope.

    A scope is the whole holdout (``""``) or one slice; a metric of a model in a scope is a
    function of a few column sums, so one weight matrix times this table gives all of them.
    """

    def __init__(self) -> None:
        self.columns: list[np.ndarray] = []
        self.index: dict[tuple[str, ...], int] = {}

    def add(self, key: tuple[str, ...], values: np.ndarray) -> None:
        self.index[key] = len(self.columns)
        self.columns.append(np.asarray(values, dtype=float))

    def table(self) -> np.ndarray:
        return np.column_stack(self.columns)

    def metric(self, sums: np.ndarray, metric: str, model: str, scope: str = "") -> np.ndarray:
        """``metric`` of ``model`` from column sums ``sums`` (shape (..., columns))."""
        s = lambda *key: sums[..., self.index[key]]  # noqa: E731
        weight = s(scope, "one")
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric == "mae_log":
                return s(scope, model, "abs_log") / weight
            if metric == "rmse_log":
                return np.sqrt(s(scope, model, "sq_log") / weight)
            if metric == "mae_raw":
                return s(scope, model, "abs_raw") / weight
            # Spearman: Pearson correlation of the full-holdout ranks under the weights.
            ma, mp = s(scope, "rank_actual") / weight, s(scope, model, "rank") / weight
            cov = s(scope, model, "rank_cross") / weight - ma * mp
            va = s(scope, "rank_actual_sq") / weight - ma**2
            vp = s(scope, model, "rank_sq") / weight - mp**2
            return cov / np.sqrt(va * vp)


def _quantities(actual: np.ndarray, models: dict[str, np.ndarray], metrics: tuple[str, ...],
                slices: dict[str, np.ndarray], slice_metric: str) -> _Quantities:
    q = _Quantities()
    log_actual = np.log1p(actual)
    rank_actual = rankdata(actual)
    ones = np.ones_like(actual)
    q.add(("", "one"), ones)
    if "spearman" in metrics:
        q.add(("", "rank_actual"), rank_actual)
        q.add(("", "rank_actual_sq"), rank_actual**2)
    for model, predicted in models.items():
        error = np.log1p(predicted) - log_actual
        q.add(("", model, "abs_log"), np.abs(error))
        q.add(("", model, "sq_log"), error**2)
        q.add(("", model, "abs_raw"), np.abs(predicted - actual))
        if "spearman" in metrics:
            rank = rankdata(predicted)
            q.add(("", model, "rank"), rank)
            q.add(("", model, "rank_sq"), rank**2)
            q.add(("", model, "rank_cross"), rank * rank_actual)
    key = {"mae_log": "abs_log", "rmse_log": "sq_log"}[slice_metric]
    for name, member in slices.items():
        q.add((name, "one"), member.astype(float))
        for model in models:
            q.add((name, model, key), q.columns[q.index[("", model, key)]] * member)
    return q


def bootstrap_weights(n_rows: int, resamples: int, rng: np.random.Generator,
                      clusters: np.ndarray | None = None):
    """Yield chunks of bootstrap weights, shape (chunk, n_rows): how often each row is drawn.

    With ``clusters`` (an integer code per row), whole clusters are drawn with replacement
    and each row gets its cluster's count, so correlated rows (one account's posts) move
    together and the interval does not pretend they are independent.
    """
    units = n_rows if clusters is None else int(clusters.max()) + 1
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // max(units, n_rows)))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        draws = rng.integers(0, units, size=(size, units))
        offsets = (np.arange(size) * units)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=size * units)
        counts = counts.reshape(size, units).astype(float)
        yield counts if clusters is None else counts[:, clusters]
        done += size


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_bootstrap(
    actual: np.ndarray,
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    metrics: tuple[str, ...],
    slices: dict[str, np.ndarray] | None = None,
    slice_metric: str = "mae_log",
    clusters: np.ndarray | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Improvement of ``candidate`` over ``reference`` on the same rows, with bootstrap CIs.

    Improvement is ``reference - candidate`` for a loss and ``candidate - reference`` for
    Spearman, so a positive number always means the candidate is better.

    Args:
        actual, reference, candidate: Counts (not log1p), one per row.
        metrics: Metrics on the whole set (from :data:`GATE_METRICS`).
        slices: Slice name -> boolean row mask; each gets ``slice_metric``.
        clusters: Integer code per row to resample whole clusters instead of rows.
        resamples, confidence, seed: The bootstrap.

    Returns:
        ``{"overall": {metric: record}, "slices": {name: record}}``; a record holds
        ``reference``, ``candidate``, ``improvement`` (point), ``ci_low``, ``ci_high``, ``n``.
    """
    slices = slices or {}
    models = {"reference": reference, "candidate": candidate}
    q = _quantities(actual, models, metrics, slices, slice_metric)
    table = q.table()
    scopes = [("", m) for m in metrics] + [(name, slice_metric) for name in slices]

    def improvement(sums: np.ndarray, scope: str, metric: str) -> np.ndarray:
        ref = q.metric(sums, metric, "reference", scope)
        cand = q.metric(sums, metric, "candidate", scope)
        return cand - ref if metric in HIGHER_IS_BETTER else ref - cand

    rng = np.random.default_rng(seed)
    draws: dict[tuple[str, str], list[np.ndarray]] = {scope: [] for scope in scopes}
    for weights in bootstrap_weights(len(actual), resamples, rng, clusters):
        sums = weights @ table
        for scope, metric in scopes:
            draws[(scope, metric)].append(improvement(sums, scope, metric))
    point_sums = table.sum(axis=0)
    result: dict[str, Any] = {"overall": {}, "slices": {}}
    for scope, metric in scopes:
        low, high = _interval(np.concatenate(draws[(scope, metric)]), confidence)
        record = {
            "metric": metric,
            "reference": float(q.metric(point_sums, metric, "reference", scope)),
            "candidate": float(q.metric(point_sums, metric, "candidate", scope)),
            "improvement": float(improvement(point_sums, scope, metric)),
            "ci_low": low, "ci_high": high,
            "n": int(point_sums[q.index[(scope, "one")]]),
        }
        if scope:
            result["slices"][scope] = record
        else:
            result["overall"][metric] = record
    return result


NON_INFERIOR, INCONCLUSIVE, INFERIOR = "non_inferior", "inconclusive", "inferior"


def _non_inferior(record: dict[str, Any], margin: float) -> dict[str, Any]:
    """Judge one metric (or slice) against a margin RELATIVE to the champion's value.

    ``non_inferior``: even the interval's worst end (``-ci_low``) is within ``margin`` x
    |champion value| — proven. ``inferior``: evidence of material harm — the observed
    worsening exceeds the margin AND the whole interval lies on the worse side (a noisy
    point estimate on a small slice alone does not reject). ``inconclusive``: neither (too
    few rows to tell). A relative margin lets one number serve MAE, RMSE, raw MAE and
    Spearman alike.
    """
    allowed = margin * abs(record["reference"])
    worst, observed = -record["ci_low"], -record["improvement"]
    out = {**record, "worst_worsening": worst, "observed_worsening": observed,
           "allowed_worsening": allowed}
    if not math.isfinite(record["reference"]):
        # e.g. Spearman of a constant champion: nothing to be inferior to
        return {**out, "status": NON_INFERIOR, "passed": True, "not_comparable": True}
    if not math.isfinite(observed) or (observed > allowed and record["ci_high"] < 0):
        status = INFERIOR
    elif math.isfinite(worst) and worst <= allowed:
        status = NON_INFERIOR
    else:
        status = INCONCLUSIVE
    return {**out, "status": status, "passed": status == NON_INFERIOR}


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:+.4f}"


def promotion_decision(
    actual: Any,
    challenger: Any,
    champion: Any | None = None,
    *,
    baseline: Any | None = None,
    slice_labels: Any | None = None,
    cluster_labels: Any | None = None,
    metric: str = "mae_log",
    secondary_metrics: tuple[str, ...] = ("rmse_log", "mae_raw", "spearman"),
    confidence: float = 0.95,
    resamples: int = 2000,
    min_delta: float = 0.0,
    non_inferiority_margin: float = 0.05,
    min_slice_rows: int = 100,
    seed: int = 0,
    max_mae_log: float = 1.5,
    min_spearman: float = 0.3,
    min_baseline_improvement: float = 0.0,
) -> dict[str, Any]:
    """Decide whether ``challenger`` should replace ``champion`` (or, with no champion,
    whether it may become the first champion).

    Args:
        actual: Realized counts of the holdout rows (time-ordered test part).
        challenger, champion: Predicted counts of each model for the same rows; ``champion``
            None means there is no champion yet (first-model mode).
        baseline: The naive baseline's predicted counts; required in first-model mode.
        slice_labels: A label per row (the platform); slices with at least
            ``min_slice_rows`` rows must be non-inferior on ``metric``.
        cluster_labels: A label per row (the account) to resample whole accounts; None
            resamples rows.
        metric: The primary metric, from :data:`PRIMARY_METRICS`.
        secondary_metrics: Must be non-inferior, from :data:`GATE_METRICS`.
        confidence: Level of the two-sided percentile interval.
        resamples, seed: The bootstrap.
        min_delta: The improvement's lower bound must exceed this (metric units).
        non_inferiority_margin: Allowed worsening, relative to the champion's value.
        min_slice_rows: Smaller slices are reported but not gated.
        max_mae_log, min_spearman: Absolute thresholds of the first model.
        min_baseline_improvement: The first model's lower bound over the baseline must
            exceed this.

    Returns:
        A JSON-able record: ``decision`` (``promote``, ``keep_challenger`` or ``reject``),
        ``promoted``, ``mode``, the numbers of every check, and ``reasons`` in plain words.

    Raises:
        ValueError: for arrays of the wrong shape or with negative / non-finite values, an
            unknown metric, a first-model call without ``baseline``, or bad settings.
    """
    where = "promotion_decision"
    if metric not in PRIMARY_METRICS:
        raise ValueError(f"{where}: 'metric' must be one of {list(PRIMARY_METRICS)}; "
                         f"got {metric!r}.")
    unknown = [m for m in secondary_metrics if m not in GATE_METRICS]
    if unknown:
        raise ValueError(f"{where}: 'secondary_metrics' must be drawn from "
                         f"{list(GATE_METRICS)}; got {unknown}.")
    if not 0.5 <= confidence < 1 or resamples < 100 or non_inferiority_margin < 0 \
            or min_slice_rows < 1:
        raise ValueError(f"{where}: need confidence in [0.5, 1), resamples >= 100, "
                         f"non_inferiority_margin >= 0, min_slice_rows >= 1; got "
                         f"{confidence}, {resamples}, {non_inferiority_margin}, "
                         f"{min_slice_rows}.")
    first = champion is None
    if first and baseline is None:
        raise ValueError(f"{where}: the first model (no champion) needs 'baseline' "
                         f"predictions to beat.")
    arrays = _check_arrays(where, actual, challenger=challenger, champion=champion,
                           baseline=baseline)
    n = len(arrays["actual"])
    settings = {
        "metric": metric, "secondary_metrics": list(secondary_metrics),
        "confidence": confidence, "resamples": resamples, "min_delta": min_delta,
        "non_inferiority_margin": non_inferiority_margin,
        "non_inferiority_margin_kind": "relative to the champion's value",
        "min_slice_rows": min_slice_rows, "seed": seed,
        "bootstrap_unit": "row" if cluster_labels is None else "cluster",
        "max_mae_log": max_mae_log, "min_spearman": min_spearman,
        "min_baseline_improvement": min_baseline_improvement,
    }
    clusters = None
    if cluster_labels is not None:
        labels = np.asarray(cluster_labels, dtype=object)
        if labels.shape != (n,):
            raise ValueError(f"{where}: 'cluster_labels' needs one label per row ({n}); "
                             f"got shape {labels.shape}.")
        clusters = np.unique(labels.astype(str), return_inverse=True)[1]
    slices, small = {}, {}
    if slice_labels is not None:
        labels = np.asarray(slice_labels, dtype=object)
        if labels.shape != (n,):
            raise ValueError(f"{where}: 'slice_labels' needs one label per row ({n}); "
                             f"got shape {labels.shape}.")
        labels = np.where(labels == None, "<missing>", labels).astype(str)  # noqa: E711
        for name in sorted(set(labels)):
            member = labels == name
            if member.sum() >= min_slice_rows:
                slices[name] = member
            else:
                small[name] = int(member.sum())
    reference = arrays["baseline"] if first else arrays["champion"]
    metrics = tuple(dict.fromkeys((metric, *secondary_metrics, "mae_log", "spearman")))
    boot = paired_bootstrap(
        arrays["actual"], reference, arrays["challenger"], metrics=metrics,
        slices={} if first else slices, slice_metric=metric, clusters=clusters,
        resamples=resamples, confidence=confidence, seed=seed)
    primary = boot["overall"][metric]
    level = f"{confidence:.0%}"
    checks: list[dict[str, Any]] = []
    record: dict[str, Any] = {"mode": "first_model" if first else "challenger_vs_champion",
                              "n_rows": n, "settings": settings}
    if first:
        challenger_metrics = {m: r["candidate"] for m, r in boot["overall"].items()}
        checks.append({
            "name": "absolute: max_mae_log", "passed": challenger_metrics["mae_log"]
            <= max_mae_log, "value": challenger_metrics["mae_log"], "threshold": max_mae_log,
            "detail": f"MAE log1p {challenger_metrics['mae_log']:.4f} (at most "
                      f"{max_mae_log})"})
        spearman = challenger_metrics["spearman"]
        checks.append({
            "name": "absolute: min_spearman",
            "passed": bool(math.isfinite(spearman) and spearman >= min_spearman),
            "value": spearman, "threshold": min_spearman,
            "detail": f"Spearman {spearman:.4f} (at least {min_spearman})"})
        checks.append({
            "name": f"beats baseline on {metric}",
            "passed": bool(primary["ci_low"] > min_baseline_improvement), **primary,
            "threshold": min_baseline_improvement,
            "detail": f"improvement over the account-median baseline {_fmt(primary['improvement'])}"
                      f", {level} CI [{_fmt(primary['ci_low'])}, {_fmt(primary['ci_high'])}]"
                      f" (lower bound must exceed {min_baseline_improvement})"})
        passed = all(c["passed"] for c in checks)
        decision = PROMOTE if passed else REJECT
        record.update({"challenger": challenger_metrics, "baseline": {
            m: r["reference"] for m, r in boot["overall"].items()}, "primary": primary})
    else:
        better = bool(primary["ci_low"] > min_delta)
        worse = bool(primary["ci_high"] < 0)
        checks.append({
            "name": f"improvement on {metric}", "passed": better, **primary,
            "threshold": min_delta,
            "detail": f"{metric} {primary['reference']:.4f} -> {primary['candidate']:.4f}, "
                      f"improvement {_fmt(primary['improvement'])}, {level} CI "
                      f"[{_fmt(primary['ci_low'])}, {_fmt(primary['ci_high'])}] (lower bound "
                      f"must exceed {min_delta})"})
        for name in dict.fromkeys((metric, *secondary_metrics)):
            check = _non_inferior(boot["overall"][name], non_inferiority_margin)
            checks.append({"name": f"non-inferior: {name}", **check,
                           "detail": _inferiority_detail(name, check, level)})
        for name, values in boot["slices"].items():
            check = _non_inferior(values, non_inferiority_margin)
            checks.append({"name": f"non-inferior: slice {name}", "slice": name, **check,
                           "detail": _inferiority_detail(f"{metric} on {name}", check, level)})
        identical = bool(np.array_equal(arrays["challenger"], arrays["champion"]))
        checks.append({
            "name": "differs from the champion", "passed": not identical,
            "detail": "identical predictions on every holdout row: no test could ever tell "
                      "the two apart" if identical else "predictions differ"})
        statuses = [c.get("status") for c in checks]
        if identical or worse or INFERIOR in statuses:
            decision = REJECT
        elif better and INCONCLUSIVE not in statuses:
            decision = PROMOTE
        else:
            decision = KEEP
        record.update({
            "champion": {m: r["reference"] for m, r in boot["overall"].items()},
            "challenger": {m: r["candidate"] for m, r in boot["overall"].items()},
            "primary": primary, "slices": boot["slices"],
            "slices_without_support": small,
        })
    record["checks"] = [{k: _jsonable(v) for k, v in c.items()} for c in checks]
    record["decision"] = decision
    record["promoted"] = decision == PROMOTE
    record["reasons"] = _reasons(decision, first, checks, small, min_slice_rows)
    return _jsonable(record)


def _inferiority_detail(name: str, check: dict[str, Any], level: str) -> str:
    return (f"{name} champion {check['reference']:.4f}, challenger "
            f"{check['candidate']:.4f}; worsening {_fmt(check['observed_worsening'])}, at "
            f"the {level} CI's worst end {_fmt(check['worst_worsening'])} (allowed "
            f"{check['allowed_worsening']:.4f})")


def _reasons(decision: str, first: bool, checks: list[dict[str, Any]],
             small: dict[str, int], min_slice_rows: int) -> list[str]:
    failed = [c for c in checks if not c["passed"]]
    if first:
        head = ("first model accepted: meets the absolute thresholds and beats the baseline"
                if decision == PROMOTE else "first model rejected")
    elif decision == PROMOTE:
        head = "challenger promoted: clearly better and non-inferior everywhere"
    elif decision == REJECT:
        harms = [c["name"].removeprefix("non-inferior: ") for c in failed
                 if c.get("status") == INFERIOR]
        if any(c["name"] == "differs from the champion" for c in failed):
            head = "challenger rejected: identical predictions to the champion's"
        elif harms:
            head = f"challenger rejected: worse than the margin on {', '.join(harms)}"
        else:
            head = "challenger rejected: significantly worse on the primary metric"
    else:
        head = ("challenger kept as challenger, not promoted: no evidence of harm, but "
                "not proven better everywhere (the online champion-challenger test decides)")
    reasons = [head] + [
        f"{'NOT PROVEN' if c.get('status') == INCONCLUSIVE else 'FAILED'} {c['name']}: "
        f"{c['detail']}" for c in failed]
    reasons += [f"passed {c['name']}: {c['detail']}" for c in checks if c["passed"]]
    if small:
        reasons.append(f"not gated (fewer than {min_slice_rows} rows): "
                       + ", ".join(f"{k} ({v})" for k, v in sorted(small.items())))
    return reasons


def _jsonable(value: Any) -> Any:
    """Plain Python types; non-finite floats become None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def format_decision(record: dict[str, Any]) -> str:
    """The decision as lines a person reads in a task log."""
    lines = [f"promotion gate ({record['mode']}, {record['n_rows']} holdout rows): "
             f"{record['decision'].upper()}"]
    lines += [f"  {reason}" for reason in record["reasons"]]
    return "\n".join(lines)
