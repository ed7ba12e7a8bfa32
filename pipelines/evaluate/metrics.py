"""Regression metrics for count targets, on the log1p scale and on the raw scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Metrics comparing predicted with actual counts.

    Returns:
        ``mae_log``, ``rmse_log``, ``r2_log`` (on log1p), ``spearman`` (rank correlation),
        ``mae_raw`` and ``medape_raw`` (median absolute percentage error, actual > 0 only),
        ``bias_log`` (mean of log1p(predicted) - log1p(actual): below 0 predicts too low),
        ``off_10x`` (share of predictions off by more than 10x on log1p) and ``n``.

    Raises:
        ValueError: if the arrays differ in length or are empty.
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.clip(np.asarray(predicted, dtype=float), 0, None)
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError(
            f"regression_metrics: need two equal, non-empty arrays; got {actual.shape} "
            f"and {predicted.shape}."
        )
    log_a, log_p = np.log1p(actual), np.log1p(predicted)
    error = log_p - log_a
    total = np.sum((log_a - log_a.mean()) ** 2)
    positive = actual > 0
    rho = spearmanr(actual, predicted).statistic if actual.size > 1 else float("nan")
    return {
        "mae_log": float(np.mean(np.abs(error))),
        "rmse_log": float(np.sqrt(np.mean(error**2))),
        "r2_log": float(1 - np.sum(error**2) / total) if total > 0 else float("nan"),
        "spearman": float(rho),
        "mae_raw": float(np.mean(np.abs(predicted - actual))),
        "bias_log": float(np.mean(error)),
        "off_10x": float(np.mean(np.abs(error) > np.log(10))),
        "medape_raw": float(np.median(np.abs(predicted[positive] - actual[positive])
                                      / actual[positive])) if positive.any() else float("nan"),
        "n": int(actual.size),
    }


def account_median_baseline(
    train: pd.DataFrame, scored: pd.DataFrame, target: str
) -> np.ndarray:
    """The naive baseline: each account's median past ``target`` (global median if unseen).

    Args:
        train: Earlier posts with ``account_id`` and ``target``.
        scored: Posts to predict, with ``account_id``.
    """
    medians = train.groupby("account_id")[target].median()
    fallback = float(train[target].median())
    return scored["account_id"].map(medians).astype(float).fillna(fallback).to_numpy()


def within_account_spearman(
    actual: np.ndarray, predicted: np.ndarray, accounts: np.ndarray, *, min_posts: int
) -> tuple[float, int]:
    """Does the model rank one account's own posts? The mean, over accounts with at least
    ``min_posts`` rows, of the Spearman correlation of that account's own rows.

    The overall Spearman mostly rewards telling big accounts from small ones; this one asks
    which of an account's posts will do better, which is what a team choosing between its
    own drafts needs. Every qualifying account weighs the same, whatever its number of rows.
    Ties get average ranks (as :func:`scipy.stats.spearmanr`); values are ranked as given,
    so counts and their log1p give the same answer.

    An account whose Spearman is undefined (all its actual values equal, or all its
    predictions equal: nothing to rank) is skipped and not counted.

    Args:
        actual, predicted: One finite value per row.
        accounts: The account of each row (any hashable label; none missing).
        min_posts: Accounts with fewer rows are left out (an int >= 2).

    Returns:
        ``(mean Spearman, accounts used)``; ``(nan, 0)`` when no account qualifies.

    Raises:
        ValueError: for ``min_posts`` not an int >= 2, arrays that are not 1-d of one
            length, non-finite values or missing accounts.
    """
    where = "within_account_spearman"
    if not isinstance(min_posts, (int, np.integer)) or isinstance(min_posts, bool) \
            or min_posts < 2:
        raise ValueError(f"{where}: 'min_posts' must be an int >= 2 (a Spearman needs two "
                         f"rows); got {min_posts!r}.")
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    accounts = np.asarray(accounts, dtype=object)
    if actual.ndim != 1 or not actual.shape == predicted.shape == accounts.shape:
        raise ValueError(f"{where}: 'actual', 'predicted' and 'accounts' must be 1-d with one "
                         f"value per row; got shapes {actual.shape}, {predicted.shape} and "
                         f"{accounts.shape}.")
    problems = [f"'{name}' must be finite; got {int((~np.isfinite(values)).sum())} non-finite "
                f"value(s)" for name, values in (("actual", actual), ("predicted", predicted))
                if not np.isfinite(values).all()]
    missing = pd.isna(accounts)
    if missing.any():
        problems.append(f"'accounts' must name the account of every row; got "
                        f"{int(missing.sum())} missing")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")
    rows = pd.DataFrame({"account": accounts, "actual": actual, "predicted": predicted})
    rows = rows[rows.groupby("account", sort=False)["actual"].transform("size") >= min_posts]
    if rows.empty:
        return float("nan"), 0
    groups = rows.groupby("account", sort=False)
    # average ranks within the account, centred on their mean (n + 1) / 2: half-integers,
    # so a constant column is exactly zero and its account exactly undefined
    centre = (groups["actual"].transform("size") + 1) / 2
    ranked = groups[["actual", "predicted"]].rank(method="average").sub(centre, axis=0)
    sums = pd.DataFrame({
        "account": rows["account"], "cross": ranked["actual"] * ranked["predicted"],
        "actual": ranked["actual"] ** 2, "predicted": ranked["predicted"] ** 2,
    }).groupby("account", sort=False).sum()
    defined = (sums["actual"] > 0) & (sums["predicted"] > 0)
    if not defined.any():
        return float("nan"), 0
    sums = sums[defined]
    rho = (sums["cross"] / np.sqrt(sums["actual"] * sums["predicted"])).clip(-1.0, 1.0)
    return float(rho.mean()), int(defined.sum())
