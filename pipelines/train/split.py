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
