"""Effect-size drift scores in numpy: what decides whether a column drifted.

p-value tests (KS, chi-square) call everything drifted on large samples: with a million
rows a shift nobody would act on is "significant". These scores measure *how much* a
distribution moved instead, and do not grow with the sample size:

- ``wasserstein``: the Wasserstein-1 distance divided by the reference's standard deviation
  ("the distribution moved by x standard deviations"), for numeric columns with more than
  :data:`MAX_DISCRETE_VALUES` distinct reference values. Computed from quantile-block means
  of the sorted columns (:data:`QUANTILE_BLOCKS` blocks), which equals the exact distance up
  to crossings inside one block (tested against Evidently's exact value).
- ``psi``: the population stability index over the reference's distinct values, for
  low-cardinality numeric columns (flags, one-hot columns, small counts); values the
  reference never saw share one bucket.
- ``jensenshannon``: the Jensen-Shannon distance (natural log) of category frequencies, for
  categorical columns.

Scores and their definitions match Evidently's ``wasserstein`` / ``psi`` /
``jensenshannon`` drift methods on the same data, so the human report
(:mod:`pipelines.monitor.drift_report`) shows the numbers that decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS: tuple[str, ...] = ("wasserstein", "psi", "jensenshannon")
#: Numeric columns with at most this many distinct reference values are scored with PSI
#: (Evidently bins such columns by value too).
MAX_DISCRETE_VALUES = 20
QUANTILE_BLOCKS = 1000
#: Evidently's floor for the reference standard deviation of the normed Wasserstein distance.
MIN_STD = 0.001
#: Evidently's stand-in for an empty bucket in PSI (avoids log(0)).
EMPTY_BUCKET = 0.0001


@dataclass(frozen=True)
class ColumnReference:
    """What scoring a column needs from the reference, computed once per check.

    Attributes:
        name: Column name.
        method: One of :data:`METHODS`.
        std: Reference standard deviation (``wasserstein``).
        block_means: Quantile-block means of the sorted reference (``wasserstein``).
        keys: Distinct reference values (``psi``: sorted floats; ``jensenshannon``: labels).
        shares: Reference share of each key.
    """

    name: str
    method: str
    std: float = 0.0
    block_means: np.ndarray | None = None
    keys: np.ndarray | None = None
    shares: np.ndarray | None = None


def choose_method(values: pd.Series) -> str:
    """The method for a reference column: categorical → Jensen-Shannon, few distinct
    numeric values → PSI, else normed Wasserstein."""
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        return "jensenshannon"
    distinct = pd.unique(values.dropna().to_numpy())
    return "psi" if len(distinct) <= MAX_DISCRETE_VALUES else "wasserstein"


def _numeric(values: pd.Series | np.ndarray, where: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[~np.isnan(array)]


def _block_means(sorted_values: np.ndarray, blocks: int) -> np.ndarray:
    """Mean of each of ``blocks`` equal-probability slices of a sorted array: the integral
    of the quantile function over each slice, up to rounding of the slice edges."""
    n = len(sorted_values)
    if n >= blocks:
        starts = (np.arange(blocks) * n) // blocks
        sums = np.add.reduceat(sorted_values, starts)
        counts = np.diff(np.append(starts, n))
        return sums / counts
    # Fewer values than blocks: the quantile function at each block's middle.
    positions = ((np.arange(blocks) + 0.5) * n / blocks).astype(int)
    return sorted_values[np.minimum(positions, n - 1)]


def reference_profile(name: str, values: pd.Series, method: str | None = None,
                      blocks: int = QUANTILE_BLOCKS) -> ColumnReference:
    """Summarize one reference column for :func:`score_column`.

    Raises:
        ValueError: if the column has no non-missing value or ``method`` is unknown.
    """
    method = method or choose_method(values)
    if method not in METHODS:
        raise ValueError(f"reference_profile: column {name!r}: method must be one of "
                         f"{list(METHODS)}; got {method!r}.")
    if method == "jensenshannon":
        counts = values.dropna().astype(str).value_counts(sort=False)
        if counts.empty:
            raise ValueError(f"reference_profile: column {name!r} has no non-missing value "
                             f"in the reference.")
        return ColumnReference(name, method, keys=counts.index.to_numpy(dtype=object),
                               shares=counts.to_numpy() / counts.sum())
    array = _numeric(values, name)
    if len(array) == 0:
        raise ValueError(f"reference_profile: column {name!r} has no non-missing value "
                         f"in the reference.")
    if method == "psi":
        keys, counts = np.unique(array, return_counts=True)
        return ColumnReference(name, method, keys=keys, shares=counts / counts.sum())
    return ColumnReference(name, method, std=max(float(np.std(array)), MIN_STD),
                           block_means=_block_means(np.sort(array), blocks))


def _fill_empty(shares: np.ndarray) -> np.ndarray:
    """Evidently's rule: empty buckets get 1e-4, or 1e-6 of the smallest share if tiny."""
    nonzero = shares[shares > 0]
    smallest = nonzero.min() if len(nonzero) else 1.0
    return np.where(shares > 0, shares, smallest / 1e6 if smallest <= 0.0001 else EMPTY_BUCKET)


def _value_shares(ref: ColumnReference, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference and current shares over the reference keys plus one "unseen" bucket."""
    keys = ref.keys
    assert keys is not None and ref.shares is not None
    position = np.searchsorted(keys, values)
    seen = position < len(keys)
    seen[seen] = keys[position[seen]] == values[seen]
    counts = np.bincount(np.where(seen, position, len(keys)), minlength=len(keys) + 1)
    current = counts / max(len(values), 1)
    reference = np.append(ref.shares, 0.0)
    if current[-1] == 0:  # no unseen value: drop the empty bucket, as Evidently does
        return reference[:-1], current[:-1]
    return reference, current


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def score_column(ref: ColumnReference, values: pd.Series | np.ndarray) -> float:
    """The drift score of ``values`` (the current column) against ``ref``; NaN when the
    current column holds no value (reported, never decided on).

    Raises:
        ValueError: for an unknown method in ``ref``.
    """
    if ref.method == "jensenshannon":
        current = pd.Series(values).dropna().astype(str)
        if current.empty:
            return float("nan")
        codes = pd.Categorical(current, categories=ref.keys).codes
        counts = np.bincount(np.where(codes < 0, len(ref.keys), codes),
                             minlength=len(ref.keys) + 1)
        return _jensen_shannon(np.append(ref.shares, 0.0), counts / counts.sum())
    array = _numeric(values, ref.name)
    if len(array) == 0:
        return float("nan")
    if ref.method == "psi":
        reference, current = _value_shares(ref, array)
        reference, current = _fill_empty(reference), _fill_empty(current)
        return float(np.sum((current - reference) * np.log(current / reference)))
    if ref.method == "wasserstein":
        assert ref.block_means is not None
        current_means = _block_means(np.sort(array), len(ref.block_means))
        return float(np.mean(np.abs(current_means - ref.block_means)) / ref.std)
    raise ValueError(f"score_column: column {ref.name!r}: unknown method {ref.method!r}.")


def profile_frame(reference: pd.DataFrame, methods: dict[str, str] | None = None
                  ) -> dict[str, ColumnReference]:
    """:func:`reference_profile` of every column of ``reference``."""
    methods = methods or {}
    return {c: reference_profile(c, reference[c], methods.get(c)) for c in reference.columns}


def score_frame(profiles: dict[str, ColumnReference], current: pd.DataFrame
                ) -> dict[str, float]:
    """Score every profiled column of ``current``.

    Raises:
        ValueError: naming the profiled columns missing from ``current``.
    """
    missing = [c for c in profiles if c not in current.columns]
    if missing:
        raise ValueError(f"score_frame: current data lacks reference column(s) {missing}; "
                         f"it has {list(current.columns)[:40]}.")
    return {c: score_column(p, current[c]) for c, p in profiles.items()}
