"""A LightGBM regression booster as lookup tables, predicted by a compiled kernel.

``Booster.predict`` walks every tree for one row at a time; for a batch that costs far more
than the features (the batch benchmark's 500-tree post model: about 9 µs a row on one
core). Here each tree is turned into one table: the outcome of its split conditions, taken
as the bits of a small integer, indexes the value of the leaf those outcomes lead to. A
batch is predicted by :func:`_predict_rows`, compiled by numba: blocks of rows that stay in
the CPU's cache, one tree at a time over a block, a comparison per split that the compiler
turns into vector instructions, a table lookup and an add (about 1 µs a row on one core,
8x LightGBM's own predict; the kernel releases the GIL, so threads predict parts of a batch
at once). The compiled kernel is cached on disk by numba (beside this module, or in the
user's cache folder when that is read-only): the first process after an install compiles it
(a few seconds), later ones load it (about 0.4 s; :func:`warm_up` does that off the
critical path).

The answer is bit-identical to ``Booster.predict``: the split rule is LightGBM's own
(``Tree::NumericalDecision``: values within ``kZeroThreshold`` of 0 are 0, a missing value
is 0 unless the split sends missing values its default way, ``value <= threshold`` goes
left) and the leaf values are added in tree order starting from 0, as its predictor does.
:func:`compile_booster` refuses (returns None) what it does not reproduce: categorical
splits, linear trees, output transforms (objectives other than plain regression losses),
averaged output (random-forest mode), several trees per iteration, trees too deep for a
table. A test compares it with ``Booster.predict`` on random data with zeros and NaNs.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

logger = logging.getLogger(__name__)

#: LightGBM's ``kZeroThreshold`` (1e-35 as a C float): values this close to 0 are 0.
ZERO_THRESHOLD = float(np.float32(1e-35))
#: Objectives whose prediction is the raw sum of the leaves (no output transform).
_IDENTITY_OBJECTIVES = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
#: A tree with more splits than this is not tabled (a table has 2**splits entries).
MAX_SPLITS = 12
#: Rows predicted together (their columns fit in the CPU's cache).
BLOCK_ROWS = 8192


@dataclass(frozen=True)
class _Tree:
    features: np.ndarray      # split feature per split (int)
    thresholds: np.ndarray    # split threshold per split (float64)
    missing: np.ndarray       # 0 None, 1 Zero, 2 NaN per split
    default_left: np.ndarray  # bool per split
    table: np.ndarray         # leaf value per outcome code (float64, 2**splits entries)


class TreeTables:
    """A compiled booster: :meth:`predict` equals ``Booster.predict`` bit for bit.

    Args:
        trees: One :class:`_Tree` per tree, in the booster's order.
        n_features: Columns the booster was trained on.
        threads: Threads that predict parts of a batch at once (numpy releases the GIL).
    """

    def __init__(self, trees: list[_Tree], n_features: int, threads: int) -> None:
        self.trees = trees
        self.n_features = n_features
        self.threads = threads
        # the trees as flat arrays for the compiled kernel: tree t's splits are
        # split_start[t]:split_start[t + 1], its table tables[table_start[t]:...]
        counts = [len(t.features) for t in trees]
        self._split_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._table_start = np.concatenate(
            [[0], np.cumsum([len(t.table) for t in trees])]).astype(np.int64)
        self._features = _flat([t.features for t in trees], np.int64)
        self._thresholds = _flat([t.thresholds for t in trees], np.float64)
        self._missing = _flat([t.missing for t in trees], np.int64)
        self._default_left = _flat([t.default_left for t in trees], np.bool_)
        self._tables = _flat([t.table for t in trees], np.float64)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for the rows of ``x`` (n_rows × n_features).

        Raises:
            ValueError: if ``x`` has another number of columns than the booster.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"TreeTables.predict: expected {self.n_features} columns; "
                             f"got shape {x.shape}.")
        if self.threads <= 1 or len(x) < 2 * 4096:
            return self._predict(x)
        parts = np.array_split(np.arange(len(x)), self.threads)
        with ThreadPoolExecutor(self.threads) as pool:
            done = list(pool.map(lambda rows: self._predict(x[rows]), parts))
        return np.concatenate(done)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x))
        _predict_rows(np.ascontiguousarray(x), self._features, self._thresholds,
                      self._missing, self._default_left, self._split_start,
                      self._table_start, self._tables, out)
        return out


def _compiled(function: Any) -> Any:
    """``function`` compiled without the GIL, cached on disk where numba finds a writable
    place for it (else compiled once per process)."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError as why:  # no writable cache location
        logger.info("tree tables: the compiled kernel is not cached on disk (%s)", why)
        return numba.njit(nogil=True)(function)


@_compiled
def _predict_rows(x, features, thresholds, missing, default_left, split_start,  # noqa: PLR0913
                  table_start, tables, out):  # pragma: no cover  (compiled: numba)
    """``out[i]`` = the booster's prediction for row ``x[i]``: blocks of rows that stay in
    the CPU's cache, one tree at a time over a block (each split a loop the compiler turns
    into vector instructions), leaves added in tree order starting from 0."""
    n, n_features = x.shape
    n_trees = len(split_start) - 1
    for start in range(0, n, BLOCK_ROWS):
        stop = min(n, start + BLOCK_ROWS)
        m = stop - start
        # LightGBM reads a dense row as (index, value) pairs of the values beyond
        # kZeroThreshold: the others are 0 (NaN is kept: abs(NaN) <= t is false).
        columns = np.empty((n_features, m))
        for i in range(m):
            for f in range(n_features):
                value = x[start + i, f]
                columns[f, i] = 0.0 if abs(value) <= ZERO_THRESHOLD else value
        total = np.zeros(m)
        code = np.empty(m, dtype=np.int64)
        for tree in range(n_trees):
            code[:] = 0
            first = split_start[tree]
            for k in range(first, split_start[tree + 1]):
                column = columns[features[k]]
                threshold = thresholds[k]
                default = default_left[k]
                bit = k - first
                if missing[k] == 2:    # NaN goes the default way; other values compare
                    for i in range(m):
                        value = column[i]
                        left = default if value != value else value <= threshold
                        code[i] |= np.int64(left) << bit
                elif missing[k] == 1:  # 0 and NaN (read as 0) go the default way
                    for i in range(m):
                        value = column[i]
                        left = (default if value != value or value == 0.0
                                else value <= threshold)
                        code[i] |= np.int64(left) << bit
                else:                  # NaN is read as 0
                    for i in range(m):
                        value = column[i]
                        left = (0.0 if value != value else value) <= threshold
                        code[i] |= np.int64(left) << bit
            base = table_start[tree]
            for i in range(m):
                total[i] += tables[base + code[i]]
        out[start:stop] = total


def warm_up() -> None:
    """Load the compiled kernel now: the first call in a process loads it from numba's
    on-disk cache (about 0.4 s) or compiles it (a few seconds, once per install), so a
    batch scorer calls this in a background thread while its model loads."""
    out = np.empty(1)
    _predict_rows(np.zeros((1, 1)), np.zeros(1, np.int64), np.zeros(1), np.zeros(1, np.int64),
                  np.zeros(1, np.bool_), np.array([0, 1], np.int64), np.array([0, 2], np.int64),
                  np.zeros(2), out)


def _flat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype)


def compile_booster(booster: Any, *, num_iteration: int | None, threads: int
                    ) -> TreeTables | None:
    """``booster`` (a ``lightgbm.Booster``) as :class:`TreeTables`, or None when it uses
    something the tables do not reproduce (see the module docstring; logged).

    The trees are read from the booster's text model (``model_to_string``: thresholds and
    leaf values printed to round-trip), which LightGBM writes and Python splits in
    milliseconds; its JSON dump takes about a second to parse for a 500-tree model.

    Args:
        booster: A fitted LightGBM booster.
        num_iteration: Trees used, as ``Booster.predict(num_iteration=...)`` (None or <= 0:
            the best iteration when there is one, else all).
        threads: Threads that predict parts of a batch at once.
    """
    header, trees_text = _parse_model(booster.model_to_string(num_iteration=num_iteration))
    why = _unsupported(header, trees_text)
    if why is None:
        trees = []
        for info in trees_text:
            tree = _table(info)
            if tree is None:
                why = f"a tree with more than {MAX_SPLITS} splits"
                break
            trees.append(tree)
    if why is not None:
        logger.info("tree tables: LightGBM's own predict is used (%s)", why)
        return None
    return TreeTables(trees, int(header["max_feature_idx"]) + 1, threads)


def _parse_model(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(the header's ``key=value`` lines, one dict of ``key=value`` lines per tree) of a
    LightGBM text model; a bare key (``average_output``) maps to ""."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        key, _, value = line.partition("=")
        if key:
            current[key] = value
    return header, trees


def _unsupported(header: dict[str, str], trees: list[dict[str, str]]) -> str | None:
    objective = header.get("objective", "").split()[0] if header.get("objective") else ""
    if objective not in _IDENTITY_OBJECTIVES:
        return f"objective {objective!r} transforms its output"
    if "average_output" in header:
        return "averaged output (random-forest mode)"
    if int(header.get("num_tree_per_iteration", 1)) != 1 or int(header.get("num_class", 1)) != 1:
        return "several trees per iteration"
    for info in trees:
        if int(info.get("num_cat", 0) or 0):
            return "categorical splits"
        if int(info.get("is_linear", 0) or 0):
            return "linear trees"
    return None


def _numbers(info: dict[str, str], key: str, kind: type) -> list:
    return [kind(v) for v in info.get(key, "").split()]


def _table(info: dict[str, str]) -> _Tree | None:
    """One tree of the text model as its split arrays and outcome table (None: too many
    splits). Split ``k`` is LightGBM's internal node ``k``; a negative child ``c`` is leaf
    ``~c``."""
    leaves = _numbers(info, "leaf_value", float)
    n_splits = int(info["num_leaves"]) - 1
    if n_splits > MAX_SPLITS:
        return None
    decision = _numbers(info, "decision_type", int)[:n_splits]
    if any(d & 1 for d in decision):      # kCategoricalMask
        return None
    left = _numbers(info, "left_child", int)
    right = _numbers(info, "right_child", int)
    table = np.empty(2 ** n_splits)
    for code in range(len(table)):
        node = 0 if n_splits else ~0
        while node >= 0:
            node = left[node] if code >> node & 1 else right[node]
        table[code] = leaves[~node]
    return _Tree(
        features=np.array(_numbers(info, "split_feature", int)[:n_splits], dtype=np.int64),
        thresholds=np.array(_numbers(info, "threshold", float)[:n_splits], dtype=np.float64),
        missing=np.array([(d >> 2) & 3 for d in decision], dtype=np.int64),
        default_left=np.array([bool(d & 2) for d in decision], dtype=bool),
        table=table)
