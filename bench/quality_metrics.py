"""What the quality benchmark reports per slice, and the issue's goals as ratios.

All errors are on log1p(likes) unless the name says likes. Predictions below 0 count as 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Accounts need this many scored posts to enter the within-account Spearman.
MIN_ACCOUNT_POSTS = 10
#: "Off by more than 10x": |log1p(pred) - log1p(actual)| > ln 10.
OFF_10X = math.log(10.0)

#: The issue's goal thresholds.
KNOWN_MAE_RATIO_MAX = 0.90          # model / history-free LightGBM, known accounts, fresh
KNOWN_WITHIN_SPEARMAN_MIN = 0.60    # tweets, known accounts, fresh
NEW_MAE_RATIO_VS_LIGHTGBM_MAX = 1.0  # no worse
NEW_BIAS_MAX = 0.25                 # |mean log error|
NEW_OFF_10X_MAX = 0.05


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho; 0 where either side is constant (no ranking at all)."""
    from scipy.stats import spearmanr

    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def within_account_spearman(accounts: np.ndarray, actual_log: np.ndarray,
                            predicted_log: np.ndarray) -> tuple[float | None, int]:
    """Mean over accounts with >= :data:`MIN_ACCOUNT_POSTS` scored posts of the Spearman of
    their own posts (0 for an account whose predictions are all equal), and how many
    accounts entered (None when none did)."""
    frame = pd.DataFrame({"a": accounts, "y": actual_log, "p": predicted_log})
    values = [_spearman(g["y"].to_numpy(), g["p"].to_numpy())
              for _, g in frame.groupby("a", sort=False) if len(g) >= MIN_ACCOUNT_POSTS]
    return (float(np.mean(values)) if values else None), len(values)


def slice_metrics(accounts: np.ndarray, actual: np.ndarray, predicted: np.ndarray
                  ) -> dict[str, Any]:
    """Every figure the benchmark reports for one set of scored posts.

    Raises:
        ValueError: if the arrays differ in length, are empty, or hold NaN.
    """
    actual = np.asarray(actual, dtype=float)
    predicted = np.clip(np.asarray(predicted, dtype=float), 0.0, None)
    if not (len(accounts) == len(actual) == len(predicted)) or not len(actual):
        raise ValueError(f"slice_metrics: accounts, actual and predicted must be non-empty "
                         f"and of one length; got {len(accounts)}, {len(actual)}, "
                         f"{len(predicted)}.")
    if np.isnan(actual).any() or np.isnan(predicted).any():
        raise ValueError("slice_metrics: actual and predicted must not hold NaN.")
    y, p = np.log1p(actual), np.log1p(predicted)
    error = p - y
    within, ranked = within_account_spearman(np.asarray(accounts), y, p)
    return {
        "mae_log": float(np.mean(np.abs(error))),
        "rmse_log": float(np.sqrt(np.mean(error ** 2))),
        "spearman": _spearman(y, p),
        "within_account_spearman": within,
        "accounts_ranked": ranked,
        "mae_likes": float(np.mean(np.abs(predicted - actual))),
        "mean_log_error": float(np.mean(error)),
        "share_off_10x": float(np.mean(np.abs(error) > OFF_10X)),
        "n_rows": len(actual),
        "n_accounts": int(pd.Series(accounts).nunique()),
    }


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded (recursively) for the JSON."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def _ratio(model: float, reference: float) -> float | None:
    return None if reference == 0 else model / reference


def goal(name: str, where: str, value: float | None, *, at_most: float | None = None,
         at_least: float | None = None, below: float | None = None,
         reference: str | None = None) -> dict[str, Any]:
    """One goal's record: the figure, the rule and whether it holds (False when the figure
    could not be computed)."""
    if value is None:
        ok = False
    elif at_most is not None:
        ok = value <= at_most
    elif at_least is not None:
        ok = value >= at_least
    else:
        ok = value < below
    rule = (f"<= {at_most}" if at_most is not None else
            f">= {at_least}" if at_least is not None else f"< {below}")
    out = {"goal": name, "where": where, "value": value, "rule": rule, "pass": bool(ok)}
    if reference:
        out["reference"] = reference
    return out


def dataset_goals(name: str, slices: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals on one data set's results (``slices[slice]["regimes"][regime]``).

    MAE comparisons are ratios model / reference of MAE(log1p), on the same rows (seed-001,
    when it scored a subsample only, on that subsample, where every method is scored too).
    """
    out: list[dict[str, Any]] = []

    def mae_ratio(block: dict[str, Any], reference: str) -> float | None:
        methods = block["methods"]
        if reference not in methods:
            return None
        return _ratio(methods["model"]["mae_log"], methods[reference]["mae_log"])

    known = slices["known_later"]["regimes"]["fresh"]
    out.append(goal("known: MAE(log1p) >= 10 % below history-free LightGBM",
                    f"{name}/known_later/fresh", mae_ratio(known, "lightgbm_no_history"),
                    at_most=KNOWN_MAE_RATIO_MAX, reference="lightgbm_no_history"))
    if name.startswith("tweets"):
        out.append(goal("known: within-account Spearman >= 0.60 (tweets)",
                        f"{name}/known_later/fresh",
                        known["methods"]["model"]["within_account_spearman"],
                        at_least=KNOWN_WITHIN_SPEARMAN_MIN))
    for regime in ("frozen", "fresh"):
        block = slices["new_later"]["regimes"][regime]
        where = f"{name}/new_later/{regime}"
        model = block["methods"]["model"]
        out.append(goal("new: MAE(log1p) no worse than history-free LightGBM", where,
                        mae_ratio(block, "lightgbm_no_history"),
                        at_most=NEW_MAE_RATIO_VS_LIGHTGBM_MAX,
                        reference="lightgbm_no_history"))
        out.append(goal("new: MAE(log1p) better than seed-000", where,
                        mae_ratio(block, "seed_000"), below=1.0, reference="seed_000"))
        seed_001 = block.get("seed_001_subsample", block)  # scored on a subsample or all
        out.append(goal("new: MAE(log1p) better than seed-001", where,
                        mae_ratio(seed_001, "seed_001"), below=1.0, reference="seed_001"))
        out.append(goal("new: |mean log error| <= 0.25", where,
                        abs(model["mean_log_error"]), at_most=NEW_BIAS_MAX))
        out.append(goal("new: share off by > 10x < 5 %", where, model["share_off_10x"],
                        below=NEW_OFF_10X_MAX))
    for slice_name, entry in slices.items():
        for regime, block in entry["regimes"].items():
            out.append(goal("every slice: MAE(log1p) below the account-mean reference",
                            f"{name}/{slice_name}/{regime}", mae_ratio(block, "account_mean"),
                            below=1.0, reference="account_mean"))
    return [rounded(g) for g in out]
