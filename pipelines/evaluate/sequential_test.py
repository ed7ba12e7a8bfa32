"""An anytime-valid sequential test of two arms' mean loss: the mixture SPRT (mSPRT).

The champion-challenger DAG looks at the accumulated outcomes every day and may stop at
any look. A fixed-sample test (z-test at 5 %) checked daily would, by chance, "find" a
difference far more often than 5 % of the time — it gets one chance to be fooled per look.
The mixture sequential probability ratio test stays valid however often one looks
(Robbins 1970; Johari, Pekelis & Walsh 2017, "Always valid inference"):

With ``d`` the difference of the arms' mean losses (challenger - champion) and ``s2`` its
variance (``var_a / n_a + var_b / n_b``), the score ``d / s2`` behaves like a Brownian
motion with drift ``theta`` in "information time" ``1 / s2``. Mixing the likelihood ratio
``exp(theta * S - theta^2 I / 2)`` over a normal prior ``theta ~ N(theta0, tau^2)`` gives

    Lambda = sqrt(s2 / (s2 + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 s2 (s2 + tau^2)))

which under ``theta = theta0`` is a non-negative martingale with mean 1; by Ville's
inequality ``P(Lambda ever >= 1/alpha) <= alpha``. Inverting it gives a confidence
*sequence* ``d +- half_width`` that covers the true difference at every look at once with
probability ``1 - alpha``; a decision taken the first time it excludes 0 is therefore
valid no matter how many days were looked at. The variances are plug-in estimates, so the
guarantee is asymptotic (the seeded simulations in tests/unit/evaluate check it holds).

``tau`` (``mixture_sd``) is where the test is most sensitive; any ``tau > 0`` is valid.

Pure numpy: the functions accept arrays, so a simulation can run thousands of experiments
at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PROMOTE, KEEP_TESTING, ROLLBACK, INCONCLUSIVE = (
    "promote", "keep_testing", "rollback", "stop_inconclusive")


def mixture_log_likelihood_ratio(
    difference: Any, variance: Any, *, tau: float, theta0: float = 0.0
) -> np.ndarray:
    """log Lambda of the normal-mixture SPRT for H0: difference == ``theta0``.

    Args:
        difference: Estimated difference of means (array-like).
        variance: Variance of that estimate (``var_a / n_a + var_b / n_b``), > 0.
        tau: Standard deviation of the normal mixture (> 0).
    """
    d, s2 = np.asarray(difference, dtype=float), np.asarray(variance, dtype=float)
    t2 = tau * tau
    return 0.5 * np.log(s2 / (s2 + t2)) + t2 * (d - theta0) ** 2 / (2 * s2 * (s2 + t2))


def confidence_sequence_half_width(variance: Any, *, tau: float, alpha: float) -> np.ndarray:
    """Half-width of the (1 - ``alpha``) confidence sequence: the set of ``theta0`` whose
    mixture likelihood ratio stays below ``1 / alpha``."""
    s2 = np.asarray(variance, dtype=float)
    t2 = tau * tau
    return np.sqrt(s2 * (s2 + t2) / t2 * (2 * math.log(1 / alpha) + np.log((s2 + t2) / s2)))


def fixed_sample_half_width(variance: Any, *, alpha: float) -> np.ndarray:
    """The ordinary (1 - alpha) z-interval half-width: valid for ONE look only. For
    comparison in docs and tests; never used to decide."""
    from scipy.stats import norm

    return norm.ppf(1 - alpha / 2) * np.sqrt(np.asarray(variance, dtype=float))


#: Decision codes of :func:`decide_from_summaries` (arrays), in :data:`DECISIONS` order.
DECISIONS: tuple[str, ...] = (KEEP_TESTING, PROMOTE, ROLLBACK, INCONCLUSIVE)
_KEEP, _PROMOTE, _ROLLBACK, _INCONCLUSIVE = range(4)


def _check(alpha: float, mixture_sd: float, min_outcomes: int, guardrail_margin: float,
           max_outcomes: int) -> None:
    if not 0 < alpha < 0.5 or mixture_sd <= 0 or min_outcomes < 2 or guardrail_margin <= 0 \
            or max_outcomes < 0:
        raise ValueError(f"sequential test: need alpha in (0, 0.5), mixture_sd > 0, "
                         f"min_outcomes >= 2, guardrail_margin > 0, max_outcomes >= 0; got "
                         f"{alpha}, {mixture_sd}, {min_outcomes}, {guardrail_margin}, "
                         f"{max_outcomes}.")


def decide_from_summaries(
    n_a: Any, mean_a: Any, var_a: Any, n_b: Any, mean_b: Any, var_b: Any, *,
    alpha: float, mixture_sd: float, min_outcomes: int, max_outcomes: int,
    guardrail_margin: float,
) -> dict[str, np.ndarray]:
    """The decision rule on per-arm summaries (arm a: champion, b: challenger), vectorized
    so a simulation can apply the very rule the DAG uses to thousands of experiments.

    Rules, in order:

    1. fewer than ``min_outcomes`` per arm: keep testing;
    2. the confidence sequence of (challenger - champion) mean loss lies above 0
       (challenger significantly worse): roll back;
    3. guardrail: the challenger's mean loss is more than ``guardrail_margin`` (relative)
       above the champion's: roll back even before significance (a broken model should
       not serve for weeks; only the cheap, safe direction skips the test);
    4. the sequence lies below 0 (challenger significantly better): promote;
    5. ``max_outcomes`` (> 0) reached in both arms: stop, inconclusive;
    6. otherwise keep testing.

    Returns:
        ``code`` (index into :data:`DECISIONS`), ``difference``, ``cs_low``, ``cs_high``,
        ``log_lr`` and ``relative`` (difference / champion mean), as arrays.
    """
    _check(alpha, mixture_sd, min_outcomes, guardrail_margin, max_outcomes)
    n_a, n_b = np.asarray(n_a, dtype=float), np.asarray(n_b, dtype=float)
    mean_a, mean_b = np.asarray(mean_a, dtype=float), np.asarray(mean_b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.maximum(np.asarray(var_a, dtype=float) / n_a
                              + np.asarray(var_b, dtype=float) / n_b, 1e-300)
        difference = mean_b - mean_a
        half = confidence_sequence_half_width(variance, tau=mixture_sd, alpha=alpha)
        log_lr = mixture_log_likelihood_ratio(difference, variance, tau=mixture_sd)
        relative = np.where(mean_a > 0, difference / mean_a, np.inf * np.sign(difference))
    low, high = difference - half, difference + half
    ready = (n_a >= min_outcomes) & (n_b >= min_outcomes)
    capped = (n_a >= max_outcomes) & (n_b >= max_outcomes) if max_outcomes else False
    code = np.select(
        [~ready, low > 0, relative > guardrail_margin, high < 0, capped],
        [_KEEP, _ROLLBACK, _ROLLBACK, _PROMOTE, _INCONCLUSIVE], default=_KEEP)
    return {"code": code, "difference": difference, "cs_low": low, "cs_high": high,
            "log_lr": log_lr, "relative": relative}


def _arm(losses: Any) -> tuple[int, float, float]:
    values = np.asarray(losses, dtype=float)
    values = values[np.isfinite(values)]
    n = int(values.size)
    mean = float(values.mean()) if n else math.nan
    var = float(values.var(ddof=1)) if n > 1 else math.nan
    return n, mean, var


def sequential_decision(
    champion_losses: Any,
    challenger_losses: Any,
    *,
    alpha: float,
    mixture_sd: float,
    min_outcomes: int,
    max_outcomes: int,
    guardrail_margin: float,
) -> dict[str, Any]:
    """Today's decision from every matured per-prediction loss of each arm so far (the
    rules of :func:`decide_from_summaries`).

    Args:
        champion_losses, challenger_losses: Per-prediction losses (e.g. absolute error on
            log1p) of each arm; lower is better.

    Returns:
        A JSON-able record: ``decision`` (from :data:`DECISIONS`), per-arm
        ``n``/``mean_loss``/``var_loss``, ``difference``, ``cs_low``/``cs_high``,
        ``log_likelihood_ratio`` against ``threshold_log_lr``, ``relative_difference``,
        ``outcomes`` and a ``reason`` in plain words.

    Raises:
        ValueError: for settings out of range.
    """
    _check(alpha, mixture_sd, min_outcomes, guardrail_margin, max_outcomes)
    n_a, mean_a, var_a = _arm(champion_losses)
    n_b, mean_b, var_b = _arm(challenger_losses)
    record: dict[str, Any] = {
        "champion": {"n": n_a, "mean_loss": mean_a, "var_loss": var_a},
        "challenger": {"n": n_b, "mean_loss": mean_b, "var_loss": var_b},
        "alpha": alpha, "mixture_sd": mixture_sd, "min_outcomes": min_outcomes,
        "max_outcomes": max_outcomes, "guardrail_margin": guardrail_margin,
        "threshold_log_lr": math.log(1 / alpha),
        "difference": None, "cs_low": None, "cs_high": None, "log_likelihood_ratio": None,
        "relative_difference": None, "outcomes": n_a + n_b,
    }
    if min(n_a, n_b) < min_outcomes:
        record.update(decision=KEEP_TESTING, reason=(
            f"waiting for outcomes: champion {n_a}, challenger {n_b} matured, "
            f"{min_outcomes} per arm needed"))
        return record
    out = decide_from_summaries(n_a, mean_a, var_a, n_b, mean_b, var_b, alpha=alpha,
                                mixture_sd=mixture_sd, min_outcomes=min_outcomes,
                                max_outcomes=max_outcomes, guardrail_margin=guardrail_margin)
    values = {k: float(v) for k, v in out.items() if k != "code"}
    decision = DECISIONS[int(out["code"])]
    low, high, relative = values["cs_low"], values["cs_high"], values["relative"]
    record.update(difference=values["difference"], cs_low=low, cs_high=high,
                  log_likelihood_ratio=values["log_lr"],
                  relative_difference=relative if math.isfinite(relative) else None)
    ci = (f"mean loss challenger {mean_b:.4f} vs champion {mean_a:.4f} "
          f"(n {n_b} / {n_a}), difference {values['difference']:+.4f}, "
          f"{1 - alpha:.0%} confidence sequence [{low:+.4f}, {high:+.4f}]")
    if decision == ROLLBACK and low > 0:
        reason = f"challenger significantly worse: {ci}"
    elif decision == ROLLBACK:
        reason = (f"guardrail breach: challenger's loss {relative:+.1%} relative to the "
                  f"champion's (margin {guardrail_margin:.0%}): {ci}")
    elif decision == PROMOTE:
        reason = f"challenger significantly better: {ci}"
    elif decision == INCONCLUSIVE:
        reason = f"no significant difference after {max_outcomes} outcomes per arm: {ci}"
    else:
        reason = f"no decision yet: {ci}"
    record.update(decision=decision, reason=reason)
    return record
