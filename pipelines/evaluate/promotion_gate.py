"""The offline promotion gate: is the challenger better than the champion, with confidence?

A single-number comparison ("MAE 0.651 < 0.653, promote") mistakes noise for progress. This
gate scores both models on the SAME rows and looks at the per-row loss difference:

- a **paired bootstrap** (rows, or whole accounts, resampled with replacement; both models
  always see the same resample) gives a percentile confidence interval of the improvement
  ``champion metric - challenger metric`` (for a loss; reversed for a metric where higher is
  better, such as Spearman or ROC AUC);
- **promote** only if the interval's lower bound exceeds ``min_delta`` and every secondary
  metric and every slice (platform) with at least ``min_slice_rows`` rows is proven
  **non-inferior**: the interval's worst end is worse than the champion by at most
  ``non_inferiority_margin`` *relative* to the champion's own value (0.05: 5 % of the
  champion's MAE, log loss or Spearman);
- **reject** (remove ``@challenger``) on evidence of harm: the primary metric significantly
  worse, a metric or slice significantly worse by more than the margin (observed worsening
  beyond it, whole interval on the worse side), predictions identical to the champion's (no
  test could ever separate them), or — when a ``baseline`` is given — no proven
  improvement over the naive baseline on the primary metric (lower bound above
  ``min_baseline_improvement``): a model worse than the naive baseline is never promoted,
  whatever the champion does;
- otherwise **keep** it as challenger: no harm seen, but not proven better everywhere (too
  few rows in a slice, say); the online champion-challenger test decides with live data;
- with **regimes** (``regime_labels``: ``warm`` rows of accounts the model trained on,
  ``cold`` rows of accounts held out of training), each regime with at least
  ``min_slice_rows`` rows is compared on the primary metric from the same resamples and
  must be non-inferior like a slice, and the proven improvement may come from the whole
  holdout OR either gated regime: a cold-start fix that the mostly warm holdout averages
  away still promotes when warm accounts lose nothing;
- the **first model** (no champion) is accepted only if it meets every absolute bound of
  ``first_model_bounds`` (``{"mae_log": ("max", 1.5), "spearman": ("min", 0.3)}``) and
  beats the naive baseline by the same paired bootstrap, lower bound above
  ``min_baseline_improvement``.

The metrics come from the catalog :mod:`pipelines.evaluate.gate_metrics`: counts (likes:
``mae_log``, ``rmse_log``, ``mae_raw``), real values already on a log or difference scale
(follower growth: ``mae``, ``rmse``), binary probabilities (conversion: ``log_loss``,
``brier``, ``roc_auc``), and ``spearman`` for counts and values. The caller names the
metrics; each metric's input kind is checked on every array.

The bootstrap is vectorized: each chunk of resamples is a matrix of per-row weights
(how often each row was drawn), and every metric of every model in every slice comes out of
one matrix product of those weights with a small table of per-row quantities
(:class:`~pipelines.evaluate.gate_metrics.QuantityTable`). 2,000 resamples of 10,000 rows
take about a second.

Pure numpy/pandas: no MLflow, no files. The registry side is ``pipelines.registry.promotion``;
the words of the record (details, reasons, the log lines) are
:mod:`pipelines.evaluate.gate_report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pipelines.evaluate.gate_metrics import (
    CATALOG,
    GATE_METRICS,
    PRIMARY_METRICS,
    QuantityTable,
    check_inputs,
)
from pipelines.evaluate.gate_report import (
    INCONCLUSIVE,
    INFERIOR,
    KEEP,
    NON_INFERIOR,
    OVERALL,
    PROMOTE,
    REJECT,
    baseline_detail,
    format_decision,
    improvement_detail,
    inferiority_detail,
    reasons,
    regime_improvement_detail,
)
from pipelines.evaluate.slices import REGIMES, check_regime_labels

__all__ = ["GATE_METRICS", "PRIMARY_METRICS", "PROMOTE", "KEEP", "REJECT", "bootstrap_weights",
           "paired_bootstrap", "promotion_decision", "format_decision"]

#: Elements per bootstrap weight chunk (resamples x rows): bounds memory to ~16 MB.
_CHUNK_ELEMENTS = 2_000_000
#: Directions of a first-model bound: the metric must be at most / at least the bound.
BOUND_DIRECTIONS: tuple[str, ...] = ("max", "min")


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


#: One comparison of the candidate: (reference model, scope, metric); scope "" is the whole
#: holdout, otherwise a slice name.
Comparison = tuple[str, str, str]


def _bootstrap(actual: np.ndarray, candidate: np.ndarray,
               references: Mapping[str, np.ndarray], comparisons: Sequence[Comparison], *,
               slices: Mapping[str, np.ndarray], clusters: np.ndarray | None, resamples: int,
               confidence: float, seed: int, row_weights: np.ndarray | None = None
               ) -> dict[Comparison, dict[str, Any]]:
    """Every comparison of ``candidate`` with a reference from the SAME resamples: one
    weight matrix per chunk, one matrix product with the quantity table (whose columns
    carry ``row_weights``, if any)."""
    models = {"candidate": candidate, **references}
    needs = dict.fromkeys((scope, model, metric) for reference, scope, metric in comparisons
                          for model in ("candidate", reference))
    quantities = QuantityTable(actual, models, slices, needs, row_weights)
    table = quantities.table()

    def improvement(sums: np.ndarray, reference: str, scope: str, metric: str) -> np.ndarray:
        ref = quantities.metric(sums, metric, reference, scope)
        cand = quantities.metric(sums, metric, "candidate", scope)
        return cand - ref if CATALOG[metric].higher_is_better else ref - cand

    rng = np.random.default_rng(seed)
    draws: dict[Comparison, list[np.ndarray]] = {c: [] for c in comparisons}
    for weights in bootstrap_weights(len(actual), resamples, rng, clusters):
        sums = weights @ table
        for comparison in comparisons:
            draws[comparison].append(improvement(sums, *comparison))
    point = table.sum(axis=0)
    result = {}
    for comparison in comparisons:
        reference, scope, metric = comparison
        low, high = _interval(np.concatenate(draws[comparison]), confidence)
        result[comparison] = {
            "metric": metric,
            "reference": float(quantities.metric(point, metric, reference, scope)),
            "candidate": float(quantities.metric(point, metric, "candidate", scope)),
            "improvement": float(improvement(point, *comparison)),
            "ci_low": low, "ci_high": high,
            "n": int(point[quantities.index[(scope, "", "row")]]),
        }
    return result


def paired_bootstrap(
    actual: np.ndarray,
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    metrics: Sequence[str],
    resamples: int,
    confidence: float,
    seed: int,
    slices: Mapping[str, np.ndarray] | None = None,
    slice_metric: str | None = None,
    clusters: np.ndarray | None = None,
) -> dict[str, Any]:
    """Improvement of ``candidate`` over ``reference`` on the same rows, with bootstrap CIs.

    Improvement is ``reference - candidate`` for a loss and ``candidate - reference`` where
    higher is better (Spearman, ROC AUC), so a positive number always means the candidate
    is better.

    Args:
        actual, reference, candidate: One value per row, of the kind each metric accepts
            (counts, not log1p, for the count metrics).
        metrics: Metrics on the whole set (from :data:`GATE_METRICS`).
        resamples, confidence, seed: The bootstrap and its two-sided interval.
        slices: Slice name -> boolean row mask; each gets ``slice_metric``. None: no slices.
        slice_metric: The metric of the slices (needed with ``slices``).
        clusters: Integer code per row to resample whole clusters; None resamples rows.

    Returns:
        ``{"overall": {metric: record}, "slices": {name: record}}``; a record holds
        ``reference``, ``candidate``, ``improvement`` (point), ``ci_low``, ``ci_high``, ``n``.

    Raises:
        ValueError: for an unknown metric, ``slices`` without ``slice_metric``, arrays a
            metric does not accept, or ``resamples`` < 1 or ``confidence`` outside (0, 1).
    """
    where = "paired_bootstrap"
    slices = dict(slices or {})
    if slices and slice_metric is None:
        raise ValueError(f"{where}: 'slice_metric' must name a metric when 'slices' are "
                         f"given; got None for slices {sorted(slices)}.")
    if not (_is_int(resamples) and resamples >= 1 and 0 < confidence < 1):
        raise ValueError(f"{where}: need 'resamples' an int >= 1 and 'confidence' in (0, 1);"
                         f" got {resamples!r} and {confidence!r}.")
    wanted = (*metrics, *([slice_metric] if slices else []))
    arrays = check_inputs(where, wanted, actual, {"reference": reference,
                                                  "candidate": candidate})
    comparisons = [("reference", "", m) for m in dict.fromkeys(metrics)]
    comparisons += [("reference", name, slice_metric) for name in slices]
    out = _bootstrap(arrays["actual"], arrays["candidate"], {"reference": arrays["reference"]},
                     comparisons, slices=slices, clusters=clusters, resamples=resamples,
                     confidence=confidence, seed=seed)
    return {"overall": {m: r for (_, scope, m), r in out.items() if not scope},
            "slices": {scope: r for (_, scope, _), r in out.items() if scope}}


def _non_inferior(record: dict[str, Any], margin: float) -> dict[str, Any]:
    """Judge one metric (or slice) against a margin RELATIVE to the champion's value.

    ``non_inferior``: even the interval's worst end (``-ci_low``) is within ``margin`` x
    |champion value| — proven. ``inferior``: evidence of material harm — the observed
    worsening exceeds the margin AND the whole interval lies on the worse side (a noisy
    point estimate on a small slice alone does not reject). ``inconclusive``: neither (too
    few rows to tell). A relative margin lets one number serve MAE, RMSE, log loss, Brier,
    Spearman and ROC AUC alike.
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


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and math.isfinite(value))


def _bound_problem(metric: Any, bound: Any) -> bool:
    return (metric not in CATALOG or not isinstance(bound, (tuple, list)) or len(bound) != 2
            or bound[0] not in BOUND_DIRECTIONS or not _is_number(bound[1]))


def _setting_problems(*, metric: Any, secondary_metrics: Any, first_model_bounds: Any,
                      baseline_name: Any, confidence: Any, resamples: Any, min_delta: Any,
                      non_inferiority_margin: Any, min_slice_rows: Any,
                      min_baseline_improvement: Any, seed: Any) -> list[str]:
    """Every bad setting of :func:`promotion_decision`, as 'which, rule, got'."""
    problems = []
    if metric not in PRIMARY_METRICS:
        problems.append(f"'metric' must be one of the losses {list(PRIMARY_METRICS)}; "
                        f"got {metric!r}")
    if isinstance(secondary_metrics, str) or not isinstance(secondary_metrics, Sequence) \
            or any(m not in CATALOG for m in secondary_metrics):
        problems.append(f"'secondary_metrics' must be a sequence of names drawn from "
                        f"{list(GATE_METRICS)}; got {secondary_metrics!r}")
    if not isinstance(first_model_bounds, Mapping):
        problems.append(f"'first_model_bounds' must be a mapping metric -> ('max' or 'min',"
                        f" bound); got {first_model_bounds!r}")
    else:
        bad = {k: v for k, v in first_model_bounds.items() if _bound_problem(k, v)}
        if bad:
            problems.append(f"'first_model_bounds' must map metrics from "
                            f"{list(GATE_METRICS)} to ('max' or 'min', a finite number); "
                            f"got {bad!r}")
    if not isinstance(baseline_name, str) or not baseline_name.strip():
        problems.append(f"'baseline_name' must be a non-empty string (it names the baseline "
                        f"in the reasons); got {baseline_name!r}")
    if not (_is_number(confidence) and 0.5 <= confidence < 1):
        problems.append(f"'confidence' must be a number in [0.5, 1); got {confidence!r}")
    if not (_is_int(resamples) and resamples >= 100):
        problems.append(f"'resamples' must be an int >= 100; got {resamples!r}")
    if not _is_number(min_delta):
        problems.append(f"'min_delta' must be a finite number; got {min_delta!r}")
    if not (_is_number(non_inferiority_margin) and non_inferiority_margin >= 0):
        problems.append(f"'non_inferiority_margin' must be a finite number >= 0 (relative); "
                        f"got {non_inferiority_margin!r}")
    if not (_is_int(min_slice_rows) and min_slice_rows >= 1):
        problems.append(f"'min_slice_rows' must be an int >= 1; got {min_slice_rows!r}")
    if not _is_number(min_baseline_improvement):
        problems.append(f"'min_baseline_improvement' must be a finite number; "
                        f"got {min_baseline_improvement!r}")
    if not (_is_int(seed) and seed >= 0):
        problems.append(f"'seed' must be an int >= 0; got {seed!r}")
    return problems


def _weights(where: str, row_weights: Any | None, n: int) -> np.ndarray | None:
    """``row_weights`` as a float array, checked: one finite weight > 0 per row.

    Raises:
        ValueError: naming the count of bad weights and an example.
    """
    if row_weights is None:
        return None
    weights = np.asarray(row_weights, dtype=float)
    if weights.shape != (n,):
        raise ValueError(f"{where}: 'row_weights' needs one weight per row ({n}); got shape "
                         f"{weights.shape}.")
    bad = ~(np.isfinite(weights) & (weights > 0))
    if bad.any():
        raise ValueError(f"{where}: 'row_weights' must be finite and > 0; got "
                         f"{int(bad.sum())} bad weight(s), e.g. {float(weights[bad][0])!r}.")
    return weights


def _labels(where: str, name: str, labels: Any, n: int) -> np.ndarray:
    values = np.asarray(labels, dtype=object)
    if values.shape != (n,):
        raise ValueError(f"{where}: '{name}' needs one label per row ({n}); "
                         f"got shape {values.shape}.")
    # "" would collide with the whole-holdout scope
    missing = (values == None) | (values == "")  # noqa: E711
    return np.where(missing, "<missing>", values).astype(str)


def promotion_decision(
    actual: Any,
    challenger: Any,
    champion: Any | None,
    *,
    baseline: Any | None,
    metric: str,
    secondary_metrics: Sequence[str],
    first_model_bounds: Mapping[str, tuple[str, float]],
    baseline_name: str,
    confidence: float,
    resamples: int,
    min_delta: float,
    non_inferiority_margin: float,
    min_slice_rows: int,
    min_baseline_improvement: float,
    seed: int,
    slice_labels: Any | None = None,
    cluster_labels: Any | None = None,
    regime_labels: Any | None = None,
    row_weights: Any | None = None,
) -> dict[str, Any]:
    """Decide whether ``challenger`` should replace ``champion`` (or, with no champion,
    whether it may become the first champion).

    Every setting is the caller's (params.yaml through its typed config): none has a
    default here, so a setting that is not plumbed through fails loudly.

    Args:
        actual: Realized values of the holdout rows (time-ordered test part), of the kind
            the metrics accept (counts for ``mae_log``; real values for ``mae``; 0/1
            outcomes for ``log_loss``).
        challenger, champion: Predictions of each model for the same rows; ``champion``
            None means there is no champion yet (first-model mode).
        baseline: The naive baseline's predictions, or None. Required in first-model mode;
            with a champion, when given, the challenger must also beat it on ``metric``.
        metric: The primary metric, a loss from :data:`PRIMARY_METRICS`.
        secondary_metrics: Must be non-inferior, from :data:`GATE_METRICS`.
        first_model_bounds: Metric -> ``("max" | "min", bound)``: absolute bounds the first
            model must meet, e.g. ``{"mae_log": ("max", 1.5), "spearman": ("min", 0.3)}``;
            a NaN value (undefined metric) fails its bound.
        baseline_name: How the reasons name the baseline ("account-median baseline").
        confidence: Level of the two-sided percentile interval, in [0.5, 1).
        resamples, seed: The bootstrap (resamples >= 100).
        min_delta: The improvement's lower bound must exceed this (metric units).
        non_inferiority_margin: Allowed worsening, relative to the champion's value.
        min_slice_rows: Smaller slices are reported but not gated.
        min_baseline_improvement: The lower bound of the improvement over the baseline must
            exceed this.
        slice_labels: A label per row (the platform), or None; slices with at least
            ``min_slice_rows`` rows must be non-inferior on ``metric``.
        cluster_labels: A label per row (the account) to resample whole accounts; None
            resamples rows.
        regime_labels: ``"warm"`` (an account the model trained on) or ``"cold"`` (an
            account held out of training entirely) per row, or None: no regimes. With a
            champion, each regime with at least ``min_slice_rows`` rows is compared on
            ``metric`` from the same resamples and must be non-inferior (an inferior one
            rejects, an unproven one keeps), and the proven improvement may hold overall
            OR on either gated regime; the other checks are unchanged. A first model is
            gated overall only, each regime's comparison with the baseline is reported.
        row_weights: A positive weight per row (``Task.weight_column``: an ad's
            impressions), or None (every row weighs 1). Every metric is then the
            row-weighted mean of its per-row quantities: a rate's loss per impression.

    Returns:
        A JSON-able record: ``decision`` (``promote``, ``keep_challenger`` or ``reject``),
        ``promoted``, ``mode``, the numbers of every check, and ``reasons`` in plain words.
        With ``regime_labels``, also ``regimes`` (``{"warm": ..., "cold": ...}``, both
        always present: the bootstrap record of ``metric`` against ``against`` (the
        champion, or the baseline for a first model), ``gated``, and for a gated regime
        its non-inferiority ``status`` and ``proven_better``, else None) and
        ``regimes_without_support`` (regime -> rows, for those under ``min_slice_rows``);
        the improvement check then names the scopes that ``carried_by`` it
        (``"overall"``, ``"warm"``, ``"cold"``).

    Raises:
        ValueError: listing every bad setting at once; for arrays of the wrong shape or
            with values a metric does not accept, a first-model call without
            ``baseline``, or a regime label other than ``warm`` and ``cold``.
    """
    where = "promotion_decision"
    problems = _setting_problems(
        metric=metric, secondary_metrics=secondary_metrics,
        first_model_bounds=first_model_bounds, baseline_name=baseline_name,
        confidence=confidence, resamples=resamples, min_delta=min_delta,
        non_inferiority_margin=non_inferiority_margin, min_slice_rows=min_slice_rows,
        min_baseline_improvement=min_baseline_improvement, seed=seed)
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")
    first = champion is None
    if first and baseline is None:
        raise ValueError(f"{where}: the first model (no champion) needs 'baseline' "
                         f"predictions to beat; got None.")
    bounds = {m: (d, float(b)) for m, (d, b) in first_model_bounds.items()}
    metrics = tuple(dict.fromkeys((metric, *secondary_metrics, *bounds)))
    arrays = check_inputs(where, metrics, actual, {
        "challenger": challenger, "champion": champion, "baseline": baseline})
    n = len(arrays["actual"])
    settings = {
        "metric": metric, "secondary_metrics": list(secondary_metrics),
        "confidence": confidence, "resamples": resamples, "min_delta": min_delta,
        "non_inferiority_margin": non_inferiority_margin,
        "non_inferiority_margin_kind": "relative to the champion's value",
        "min_slice_rows": min_slice_rows, "seed": seed,
        "bootstrap_unit": "row" if cluster_labels is None else "cluster",
        "row_weights": row_weights is not None,
        "first_model_bounds": {m: list(b) for m, b in bounds.items()},
        "min_baseline_improvement": min_baseline_improvement,
        "baseline_name": baseline_name,
    }
    clusters = None if cluster_labels is None else np.unique(
        _labels(where, "cluster_labels", cluster_labels, n), return_inverse=True)[1]
    slices, small = {}, {}
    labels = None if slice_labels is None else _labels(where, "slice_labels", slice_labels, n)
    if labels is not None and not first:  # the baseline comparison is not sliced
        for name in sorted(set(labels)):
            member = labels == name
            if member.sum() >= min_slice_rows:
                slices[name] = member
            else:
                small[name] = int(member.sum())
    regime_of = None if regime_labels is None else check_regime_labels(where, regime_labels, n)
    regimes = {} if regime_of is None else {name: regime_of == name for name in REGIMES}
    gated = [name for name, member in regimes.items()  # in REGIMES order
             if not first and member.sum() >= min_slice_rows]
    # scopes are named by kind, so a platform called "cold" cannot collide with a regime
    scopes = {**{f"slice {k}": v for k, v in slices.items()},
              **{f"regime {k}": v for k, v in regimes.items()}}
    references = {k: arrays[k] for k in ("champion", "baseline") if k in arrays}
    against = "baseline" if first else "champion"
    if first:
        comparisons = [("baseline", "", m) for m in metrics]
    else:
        comparisons = [("champion", "", m) for m in metrics]
        comparisons += [("champion", f"slice {name}", metric) for name in slices]
    comparisons += [(against, f"regime {name}", metric) for name in regimes]
    if not first and "baseline" in arrays:
        comparisons.append(("baseline", "", metric))
    boot = _bootstrap(arrays["actual"], arrays["challenger"], references, comparisons,
                      slices=scopes, clusters=clusters, resamples=resamples,
                      confidence=confidence, seed=seed,
                      row_weights=_weights(where, row_weights, n))
    level = f"{confidence:.0%}"
    checks: list[dict[str, Any]] = []
    record: dict[str, Any] = {"mode": "first_model" if first else "challenger_vs_champion",
                              "n_rows": n, "settings": settings}
    regime_records = {name: {
        **boot[(against, f"regime {name}", metric)], "against": against,
        "gated": name in gated, "status": None, "proven_better": None} for name in regimes}
    if first:
        overall = {m: boot[("baseline", "", m)] for m in metrics}
        challenger_metrics = {m: r["candidate"] for m, r in overall.items()}
        for name, (direction, bound) in bounds.items():
            value = challenger_metrics[name]
            checks.append({
                "name": f"absolute: {name} {direction} {bound:g}",
                "passed": bool(math.isfinite(value) and (
                    value <= bound if direction == "max" else value >= bound)),
                "value": value, "threshold": bound, "direction": direction,
                "detail": f"{name} {value:.4f} (at {'most' if direction == 'max' else 'least'}"
                          f" {bound:g})"})
        primary = overall[metric]
        checks.append(_baseline_check(primary, min_baseline_improvement, baseline_name,
                                      level))
        decision = PROMOTE if all(c["passed"] for c in checks) else REJECT
        record.update({"challenger": challenger_metrics, "baseline": {
            m: r["reference"] for m, r in overall.items()}, "primary": primary})
    else:
        overall = {m: boot[("champion", "", m)] for m in metrics}
        primary = overall[metric]
        for name in gated:
            regime_records[name]["proven_better"] = bool(
                regime_records[name]["ci_low"] > min_delta)
        carried_by = [scope for scope, proven in (
            (OVERALL, primary["ci_low"] > min_delta),
            *((name, regime_records[name]["proven_better"]) for name in gated)) if proven]
        better = bool(carried_by)
        worse = bool(primary["ci_high"] < 0)
        improvement = {"name": f"improvement on {metric}", "passed": better, **primary,
                       "threshold": min_delta,
                       "detail": improvement_detail(primary, min_delta, level)}
        if regimes:
            improvement.update(carried_by=carried_by, detail=regime_improvement_detail(
                primary, regime_records, carried_by, min_delta, level))
        checks.append(improvement)
        for name in dict.fromkeys((metric, *secondary_metrics)):
            check = _non_inferior(overall[name], non_inferiority_margin)
            checks.append({"name": f"non-inferior: {name}", **check,
                           "detail": inferiority_detail(name, check, level)})
        slice_records = {name: boot[("champion", f"slice {name}", metric)] for name in slices}
        for name, values in slice_records.items():
            check = _non_inferior(values, non_inferiority_margin)
            checks.append({"name": f"non-inferior: slice {name}", "slice": name, **check,
                           "detail": inferiority_detail(f"{metric} on {name}", check, level)})
        for name in gated:
            check = _non_inferior(boot[("champion", f"regime {name}", metric)],
                                  non_inferiority_margin)
            regime_records[name]["status"] = check["status"]
            checks.append({"name": f"non-inferior: {REGIMES[name]}", "regime": name, **check,
                           "detail": inferiority_detail(f"{metric} on {REGIMES[name]}", check,
                                                        level)})
        identical = bool(np.array_equal(arrays["challenger"], arrays["champion"]))
        checks.append({
            "name": "differs from the champion", "passed": not identical,
            "detail": "identical predictions on every holdout row: no test could ever tell "
                      "the two apart" if identical else "predictions differ"})
        beats_baseline = True
        if "baseline" in arrays:
            versus = boot[("baseline", "", metric)]
            checks.append(_baseline_check(versus, min_baseline_improvement, baseline_name,
                                          level))
            beats_baseline = checks[-1]["passed"]
            record["baseline"] = {metric: versus["reference"]}
        statuses = [c.get("status") for c in checks]
        if identical or worse or not beats_baseline or INFERIOR in statuses:
            decision = REJECT
        elif better and INCONCLUSIVE not in statuses:
            decision = PROMOTE
        else:
            decision = KEEP
        record.update({
            "champion": {m: r["reference"] for m, r in overall.items()},
            "challenger": {m: r["candidate"] for m, r in overall.items()},
            "primary": primary, "slices": slice_records,
            "slices_without_support": small,
        })
    if regimes:
        record["regimes"] = regime_records
        record["regimes_without_support"] = {
            name: int(member.sum()) for name, member in regimes.items()
            if member.sum() < min_slice_rows}
    record["checks"] = [{k: _jsonable(v) for k, v in c.items()} for c in checks]
    record["decision"] = decision
    record["promoted"] = decision == PROMOTE
    record["reasons"] = reasons(decision, first, checks, small, min_slice_rows, metric,
                                baseline_name, regimes=regime_records if regimes else None,
                                level=level)
    return _jsonable(record)


def _baseline_check(versus: dict[str, Any], min_improvement: float, baseline_name: str,
                    level: str) -> dict[str, Any]:
    """The challenger against the naive baseline on the primary metric (both modes)."""
    return {
        "name": f"beats baseline on {versus['metric']}",
        "passed": bool(versus["ci_low"] > min_improvement), **versus,
        "threshold": min_improvement, "baseline_name": baseline_name,
        "detail": baseline_detail(versus, min_improvement, baseline_name, level)}


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
