"""A LightGBM regression booster as lookup tables, for batch prediction in numpy.

``Booster.predict`` walks every tree for one row at a time; for a batch that costs far more
than the features (the batch benchmark's 500-tree post model: about 30 µs a row). Here each
tree is turned into one table: the outcome of its split conditions, taken as the bits of a
small integer, indexes the value of the leaf those outcomes lead to. A batch is then
predicted one tree at a time over all its rows: a vectorized comparison per split, a table
lookup and an add.

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
        for start in range(0, len(x), BLOCK_ROWS):  # blocks that stay in the CPU's cache
            out[start:start + BLOCK_ROWS] = self._predict_block(x[start:start + BLOCK_ROWS])
        return out

    def _predict_block(self, x: np.ndarray) -> np.ndarray:
        # LightGBM reads a dense row as (index, value) pairs of the values beyond
        # kZeroThreshold: the others are 0 (NaN is kept).
        columns = np.where(np.abs(x) <= ZERO_THRESHOLD, 0.0, x).T.copy()
        nan = np.isnan(columns)
        zero_or_nan = nan | (columns == 0.0)
        filled = np.where(nan, 0.0, columns)
        n = len(x)
        out = np.zeros(n)
        code = np.empty(n, dtype=np.uint16)
        left = np.empty(n, dtype=bool)
        bits = np.empty(n, dtype=np.uint16)
        leaf = np.empty(n)
        for tree in self.trees:
            code[:] = 0
            for k, f in enumerate(tree.features):
                missing = tree.missing[k]
                np.less_equal(filled[f], tree.thresholds[k], out=left)
                if missing == 2:    # NaN goes the default way; other values compare
                    np.copyto(left, tree.default_left[k], where=nan[f])
                elif missing == 1:  # 0 and NaN (read as 0) go the default way
                    np.copyto(left, tree.default_left[k], where=zero_or_nan[f])
                # missing == 0: NaN is read as 0 (``filled``)
                np.left_shift(left, k, out=bits, dtype=np.uint16)
                np.bitwise_or(code, bits, out=code)
            np.take(tree.table, code, out=leaf)
            out += leaf
        return out


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
