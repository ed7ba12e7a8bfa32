"""Time-ordered splits: train on the past, validate and test on the future."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TimeSplit:
    """Positions of a time-sorted frame in each part, and the cut instants."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    valid_start: str
    test_start: str


def time_split(posted_at: pd.Series, valid_fraction: float, test_fraction: float) -> TimeSplit:
    """Split rows by posting time: the oldest for training, then validation, then test.

    Rows sharing the instant at a cut stay on the same side, so no post in the training
    part is later than one in the validation part.

    Raises:
        ValueError: if a part would be empty.
    """
    times = pd.to_datetime(posted_at, utc=True).reset_index(drop=True)
    order = np.argsort(times.to_numpy(), kind="stable")
    n = len(times)
    valid_at = times.iloc[order[int(n * (1 - valid_fraction - test_fraction))]] if n else None
    test_at = times.iloc[order[int(n * (1 - test_fraction))]] if n else None
    train = np.flatnonzero(times < valid_at) if n else np.array([], dtype=int)
    valid = np.flatnonzero((times >= valid_at) & (times < test_at)) if n else train
    test = np.flatnonzero(times >= test_at) if n else train
    if min(len(train), len(valid), len(test)) == 0:
        raise ValueError(
            f"time_split: every part needs rows; got train={len(train)}, valid={len(valid)}, "
            f"test={len(test)} from {n} rows (valid_fraction={valid_fraction}, "
            f"test_fraction={test_fraction})."
        )
    return TimeSplit(train, valid, test, valid_at.isoformat(), test_at.isoformat())


def labelled(table: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows whose ``target`` is known (a source may not report comments or shares),
    re-indexed; every stage splits these same rows."""
    if target not in table.columns:
        raise ValueError(f"labelled: target column {target!r} is not in the table; "
                         f"columns: {list(table.columns)}.")
    return table[table[target].notna()].reset_index(drop=True)


#: Regime labels of holdout rows: accounts the model trained on, and accounts held out.
WARM, COLD = "warm", "cold"
#: The holdout column naming each test row's regime (tasks with held-out accounts).
REGIME_COLUMN = "regime"


def cold_accounts(accounts: pd.Series, fraction: float) -> np.ndarray:
    """True for the accounts held out of training entirely (about ``fraction`` of them).

    The choice is a fixed hash of the account id (the first 8 hex digits of its SHA-256,
    as a share of 16^8, below ``fraction``): the same account is always in or out,
    whatever the data, the run or the machine.
    """
    import hashlib

    if not 0 <= fraction < 1:
        raise ValueError(f"cold_accounts: 'fraction' must be in [0, 1); got {fraction!r}.")
    ids = accounts.astype(str)
    unique = pd.unique(ids)
    shares = np.array([int(hashlib.sha256(a.encode()).hexdigest()[:8], 16) / 16 ** 8
                       for a in unique])
    held = dict(zip(unique, shares < fraction, strict=True))
    return ids.map(held).to_numpy(dtype=bool)


@dataclass(frozen=True)
class HoldoutSplit:
    """The training pipeline's split: time-ordered, with an account-disjoint part.

    Attributes:
        train: Positions of the training rows: the oldest part, warm accounts only.
        valid, test: Positions of the later parts, every account (selection and the
            gate's evidence).
        cold: Per row of the table: True for a held-out account (its earlier posts are
            neither trained on nor in the model's history).
        valid_start, test_start: The cut instants.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    cold: np.ndarray
    valid_start: str
    test_start: str

    def regimes(self, rows: np.ndarray) -> np.ndarray:
        """:data:`WARM` / :data:`COLD` for the given positions."""
        return np.where(self.cold[rows], COLD, WARM)


def holdout_split(table: pd.DataFrame, *, valid_fraction: float, test_fraction: float,
                  cold_fraction: float, time_column: str = "posted_at") -> HoldoutSplit:
    """:func:`time_split` of ``table``, with the rows of :func:`cold_accounts` removed from
    the training part (they stay in validation and test as the cold regime).

    Raises:
        ValueError: if a part would be empty (naming the sizes).
    """
    split = time_split(table[time_column], valid_fraction, test_fraction)
    cold = (cold_accounts(table["account_id"], cold_fraction) if cold_fraction > 0
            else np.zeros(len(table), dtype=bool))
    train = split.train[~cold[split.train]]
    if not len(train):
        raise ValueError(f"holdout_split: no training rows are left after holding out "
                         f"{cold_fraction:.0%} of accounts ({int(cold.sum())} of {len(table)} "
                         f"rows); lower train.cold_account_fraction.")
    return HoldoutSplit(train, split.valid, split.test, cold, split.valid_start,
                        split.test_start)


def manifest_split(table: pd.DataFrame, split: dict) -> HoldoutSplit:
    """The split recorded in a training manifest (``manifest["split"]``), re-derived."""
    return holdout_split(table, valid_fraction=split["valid_fraction"],
                         test_fraction=split["test_fraction"],
                         cold_fraction=split.get("cold_account_fraction", 0.0))
