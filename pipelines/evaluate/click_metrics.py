"""Metrics of predicted click probabilities: the binary metrics plus normalized entropy.

Normalized entropy (He et al., "Practical Lessons from Predicting Clicks on Ads at
Facebook", ADKDD 2014) is the log-loss divided by the entropy of the base rate, i.e. the
log-loss of always predicting the observed click rate. Below 1 the model knows more than
the rate; at a 0.5 % click rate raw log-loss values are all small (about 0.03), and NE
makes them comparable across days and data sets. He et al. divide by the entropy of the
training rate; here the rate of the rows judged is used, so NE is a property of one set
of predictions (and "always the observed rate" scores exactly 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def base_rate_entropy(rate: float) -> float:
    """Entropy (nats) of a 0/1 outcome with rate ``rate``; 0 for a rate of 0 or 1."""
    if not 0.0 < rate < 1.0:
        return 0.0
    return float(-(rate * np.log(rate) + (1 - rate) * np.log1p(-rate)))


def click_metrics(actual: Any, probability: Any) -> dict[str, float]:
    """:func:`pipelines.evaluate.binary_metrics.binary_metrics` plus ``normalized_entropy``
    (NaN when every row has the same outcome: the denominator is 0).

    Raises:
        ValueError: as :func:`pipelines.evaluate.binary_metrics.binary_metrics`.
    """
    from pipelines.evaluate.binary_metrics import binary_metrics

    metrics = binary_metrics(actual, probability)
    entropy = base_rate_entropy(metrics["base_rate"])
    metrics["normalized_entropy"] = (metrics["log_loss"] / entropy if entropy > 0
                                     else float("nan"))
    return metrics
