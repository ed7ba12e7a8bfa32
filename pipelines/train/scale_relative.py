"""Learn a post's log-likes relative to its account's scale, so cold starts scale.

A model that learns ``log1p(likes)`` directly leans on the account's history (its mean
log-likes) and, where history is missing, sees few rows that tell it how likes grow with
followers; tree models also cannot predict beyond the range they saw. Real accounts span
1k to 100M+ followers, and a new account of 50M followers was predicted like a small one.

:class:`ScaleRelative` splits the log prediction in two:

* the **scale offset** ``o(x) = a_p + b_p · log_followers + c_p · r``: a least-squares
  plane per platform ``p`` (from the ``platform_*`` indicator columns; one global plane for
  rows without a known platform and for platforms with too few rows), with the follower
  slope ``b_p`` kept in ``[0, max_slope]`` (more followers never means fewer likes). A line
  extrapolates: an account 10x larger than any in training gets ``b_p · ln 10`` more
  log-likes. ``r = log1p(posts_per_30d)`` is how often the account posts, known from post
  times alone, so also for a new account: an account posting a thousand times a month
  (a news wire) gets far fewer likes per post than one of the same size posting twenty
  times (on the tweets, followers alone put new news accounts ~35x too high:
  docs/quality.md). Its slope ``c_p`` is kept in ``[-max_slope, 0]`` (posting more never
  means more likes per post) and ``r`` within its training range; where the account has no
  known post at all (``prev_posts_count`` 0: its rate is unknown, not zero) ``r`` is the
  training rows' median.
* the **anchor**: the account's own level where it has one, shrunk toward its scale line
  — ``(n · m + k · o(x)) / (n + k)`` with ``m`` the mean log-likes of its ``n`` matured
  posts (``account_mean_log_likes_all``, ``account_matured_posts``) and ``k =
  prior_posts`` — so an account with no history sits on its line, one with a few posts
  moves part of the way to its own mean, and a long-known account is its own mean.
* the **residual** ``z - anchor``, learned by the wrapped regressor from the features plus
  ``scale_offset`` and ``scale_anchor``; rows without matured history (new accounts, and
  the history-dropout copies of training accounts) get a second residual model of the
  same kind, fitted on such rows only (where there are at least :data:`MIN_COLD_ROWS`):
  cold starts are routed to a model that learned only cold starts.

Both the offset and the anchor rise with followers, so a residual model that is
non-decreasing in them (the monotone models' constraint, :data:`MONOTONE_COLUMNS`) keeps
the whole prediction non-decreasing in followers.

The line extrapolates up to ``max_extrapolation`` times beyond the smallest and largest
accounts in training (1000x by default: trained on accounts up to 100k followers, it still
scales to 100M) and is flat beyond, so an impossible follower count cannot overflow.
The residual prediction is clipped to the training residuals' range widened by
``log(headroom)`` on each side: a model extrapolating on drifted inputs cannot run away,
while the offset still follows the account's size.

With no ``log_followers`` column the offset is a per-platform constant.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

#: The account's matured mean log-likes and how many matured posts it has.
HISTORY_MEAN, HISTORY_COUNT = "account_mean_log_likes_all", "account_matured_posts"
OFFSET_COLUMN, ANCHOR_COLUMN = "scale_offset", "scale_anchor"
#: 1 where a post's account has no matured history (:mod:`account_history`).
MISSING_COLUMN = "history_missing"
#: Rows without history needed for a residual model of their own.
MIN_COLD_ROWS = 200
#: How many posts the account published in the 30 days before the post, and in all.
POSTING_COLUMN, KNOWN_POSTS_COLUMN = "posts_per_30d", "prev_posts_count"
#: Columns the residual model sees that rise with followers.
MONOTONE_COLUMNS: tuple[str, ...] = (OFFSET_COLUMN, ANCHOR_COLUMN)
SCALE_COLUMN = "log_followers"
PLATFORM_PREFIX = "platform_"
#: A platform needs this many rows for its own line (else the global line).
MIN_PLATFORM_ROWS = 30


class ScaleRelative(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit ``regressor`` on the residual of log-likes from a per-platform scale line.

    Args:
        regressor: The estimator of the residual (cloned).
        max_slope: Upper bound of each platform's slope on ``log_followers``.
        prior_posts: How many matured posts the scale line weighs in the anchor.
        max_extrapolation: How many times beyond the training accounts' follower range
            the line still extrapolates (>= 1).
        headroom: Residual predictions stay within the training residuals' range widened
            by ``log(headroom)`` on each side (>= 1).

    Attributes:
        regressor_: The fitted clone (every row).
        cold_regressor_: The clone fitted on the rows without history, or None.
        lines_: ``{platform column or "": (intercept, follower slope, posting slope)}``;
            ``""`` is the global plane.
        posting_fill_, posting_range_: ``log1p(posts_per_30d)`` where the account has no
            known post, and the training range it is clipped to.
        feature_names_in_, feature_names_out_: Input columns, and what the residual
            model sees (inputs + :data:`OFFSET_COLUMN` + :data:`ANCHOR_COLUMN`).
    """

    def __init__(self, regressor: BaseEstimator, *, max_slope: float, prior_posts: float,
                 max_extrapolation: float, headroom: float) -> None:
        self.regressor = regressor
        self.max_slope = max_slope
        self.prior_posts = prior_posts
        self.max_extrapolation = max_extrapolation
        self.headroom = headroom

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ScaleRelative:  # noqa: N803
        """Fit the scale planes, then the residual model(s) (module docstring).

        Raises:
            ValueError: for a setting out of its bounds or an X that is not a DataFrame.
        """
        if not (isinstance(self.headroom, int | float) and self.headroom >= 1):
            raise ValueError(f"ScaleRelative: 'headroom' must be a number >= 1; "
                             f"got {self.headroom!r}.")
        if not (isinstance(self.prior_posts, int | float) and self.prior_posts > 0):
            raise ValueError(f"ScaleRelative: 'prior_posts' must be a number > 0; "
                             f"got {self.prior_posts!r}.")
        if not (isinstance(self.max_slope, int | float) and self.max_slope >= 0):
            raise ValueError(f"ScaleRelative: 'max_slope' must be a number >= 0; "
                             f"got {self.max_slope!r}.")
        if not isinstance(X, pd.DataFrame):
            raise ValueError(f"ScaleRelative: X must be a DataFrame with named feature "
                             f"columns; got {type(X).__name__}.")
        z = np.asarray(y, dtype=float).ravel()
        self.feature_names_in_ = np.array(X.columns, dtype=object)
        names = list(X.columns)
        self._index(names)
        x = X.to_numpy(dtype=float)
        self.scale_range_ = (-np.inf, np.inf)
        raw = self._scale(x)
        reach = float(np.log(max(self.max_extrapolation, 1.0)))
        self.scale_range_ = ((float(raw.min()) - reach, float(raw.max()) + reach)
                             if len(raw) else (-np.inf, np.inf))
        scale = self._scale(x)
        self.posting_fill_, self.posting_range_ = 0.0, (-np.inf, np.inf)
        if self._posting_idx is not None:
            raw = np.log1p(np.clip(np.nan_to_num(x[:, self._posting_idx[0]]), 0, None))
            known = np.nan_to_num(x[:, self._posting_idx[1]]) > 0
            if known.any():
                self.posting_fill_ = float(np.median(raw[known]))
                self.posting_range_ = (float(raw[known].min()), float(raw[known].max()))
        posting = self._posting(x)
        platform = self._platform(x)
        self.lines_ = {"": _plane(scale, posting, z, self.max_slope)}
        for column, i in self._platform_idx.items():
            rows = platform == i
            if rows.sum() >= MIN_PLATFORM_ROWS:
                self.lines_[column] = _plane(scale[rows], posting[rows], z[rows],
                                             self.max_slope)
        residual = z - self._anchor(x, self._offset(x))
        low, high = float(residual.min(initial=0.0)), float(residual.max(initial=0.0))
        margin = float(np.log(self.headroom))
        self.residual_range_ = (low - margin, high + margin)
        self.feature_names_out_ = np.array(augmented_names(names), dtype=object)
        augmented = pd.DataFrame(self.augment(x), columns=list(self.feature_names_out_))
        self.regressor_ = clone(self.regressor).fit(augmented, residual)
        cold = self._cold(x)
        self.cold_regressor_ = (clone(self.regressor).fit(augmented[cold], residual[cold])
                                if cold.sum() >= MIN_COLD_ROWS else None)
        self.n_features_in_ = len(names)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "regressor_")
        x = X[list(self.feature_names_in_)].to_numpy(dtype=float) if isinstance(
            X, pd.DataFrame) else np.asarray(X, dtype=float)
        def frame(a: np.ndarray) -> pd.DataFrame:
            return pd.DataFrame(a, columns=list(self.feature_names_out_))

        cold = getattr(self, "cold_regressor_", None)  # absent in models saved before it
        return self.predict_array(
            x, lambda a: self.regressor_.predict(frame(a)),
            None if cold is None else (lambda a: cold.predict(frame(a))))

    def predict_array(self, x: np.ndarray,
                      residual_predict: Callable[[np.ndarray], np.ndarray],
                      cold_predict: Callable[[np.ndarray], np.ndarray] | None = None
                      ) -> np.ndarray:
        """Log predictions for a feature matrix ``x`` (input column order), with
        ``residual_predict`` answering for the residual model and ``cold_predict`` for the
        cold-start one (rows without matured history) on the augmented matrix (the serving
        fast path passes its compiled predictors)."""
        anchor = self._anchor(x, self._offset(x))
        augmented = self.augment(x)
        cold = self._cold(x) if cold_predict is not None else None
        if cold is None or not cold.any():
            residual = np.asarray(residual_predict(augmented), float).ravel()
        else:  # each row predicted by one model only
            residual = np.empty(len(x))
            if not cold.all():
                residual[~cold] = np.asarray(residual_predict(augmented[~cold]),
                                             float).ravel()
            residual[cold] = np.asarray(cold_predict(augmented if cold.all() else
                                                     augmented[cold]), float).ravel()
        return anchor + np.clip(residual, *self.residual_range_)

    def augment(self, x: np.ndarray) -> np.ndarray:
        """``x`` with :data:`OFFSET_COLUMN` and :data:`ANCHOR_COLUMN` appended."""
        offset = self._offset(x)
        return np.column_stack([x, offset, self._anchor(x, offset)])

    def offset(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The scale offset of each row (log-likes expected for its platform and size)."""
        check_is_fitted(self, "lines_")
        return self._offset(X[list(self.feature_names_in_)].to_numpy(dtype=float))

    # --- internals ----------------------------------------------------------------------

    def _index(self, names: list[str]) -> None:
        self._scale_idx = names.index(SCALE_COLUMN) if SCALE_COLUMN in names else None
        self._platform_idx = {c: names.index(c) for c in names
                              if c.startswith(PLATFORM_PREFIX)}
        self._missing_idx = names.index(MISSING_COLUMN) if MISSING_COLUMN in names else None
        self._history_idx = ((names.index(HISTORY_MEAN), names.index(HISTORY_COUNT))
                             if HISTORY_MEAN in names and HISTORY_COUNT in names else None)
        self._posting_idx = ((names.index(POSTING_COLUMN), names.index(KNOWN_POSTS_COLUMN))
                             if POSTING_COLUMN in names and KNOWN_POSTS_COLUMN in names
                             else None)

    def _scale(self, x: np.ndarray) -> np.ndarray:
        if self._scale_idx is None:
            return np.zeros(len(x))
        return np.clip(np.nan_to_num(x[:, self._scale_idx]), *self.scale_range_)

    def _posting(self, x: np.ndarray) -> np.ndarray:
        """``log1p(posts_per_30d)`` within its training range; the training median where
        the account has no known post (zeros without the columns)."""
        idx = getattr(self, "_posting_idx", None)  # absent in models saved before it
        if idx is None:
            return np.zeros(len(x))
        rate = np.log1p(np.clip(np.nan_to_num(x[:, idx[0]]), 0, None))
        rate = np.where(np.nan_to_num(x[:, idx[1]]) > 0, rate, self.posting_fill_)
        return np.clip(rate, *self.posting_range_)

    def _platform(self, x: np.ndarray) -> np.ndarray:
        """The column index of each row's platform indicator; -1 where none is set."""
        if not self._platform_idx:
            return np.full(len(x), -1)
        columns = np.array(list(self._platform_idx.values()))
        on = x[:, columns] > 0.5
        return np.where(on.any(axis=1), columns[on.argmax(axis=1)], -1)

    def _cold(self, x: np.ndarray) -> np.ndarray:
        """Rows without any matured history (the account is new to the model)."""
        if getattr(self, "_missing_idx", None) is None:
            return np.zeros(len(x), dtype=bool)
        return x[:, self._missing_idx] > 0.5

    def _anchor(self, x: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """The account's level: its matured mean shrunk toward the scale line."""
        if self._history_idx is None:
            return offset
        mean_at, count_at = self._history_idx
        n = np.clip(np.nan_to_num(x[:, count_at]), 0, None)
        mean = np.nan_to_num(x[:, mean_at])
        return (n * mean + self.prior_posts * offset) / (n + self.prior_posts)

    def _offset(self, x: np.ndarray) -> np.ndarray:
        scale, posting, platform = self._scale(x), self._posting(x), self._platform(x)
        # models saved before the posting term have (intercept, slope) lines
        intercept, slope, *rest = self.lines_[""]
        out = intercept + slope * scale + (rest[0] * posting if rest else 0.0)
        for column, i in self._platform_idx.items():
            if column in self.lines_:
                a, b, *c = self.lines_[column]
                rows = platform == i
                out[rows] = a + b * scale[rows] + (c[0] * posting[rows] if c else 0.0)
        return out


def augmented_names(feature_names: list[str]) -> list[str]:
    """The columns the residual model of :class:`ScaleRelative` sees for these inputs."""
    names = list(feature_names)
    return [*names, OFFSET_COLUMN, ANCHOR_COLUMN]


def _plane(scale: np.ndarray, posting: np.ndarray, z: np.ndarray, max_slope: float
           ) -> tuple[float, float, float]:
    """Least-squares ``z ≈ a + b·scale + c·posting`` with ``b`` in ``[0, max_slope]`` and
    ``c`` in ``[-max_slope, 0]``: the box-constrained least squares, by exact coordinate
    steps (each slope the clipped least-squares fit given the other; the problem is convex,
    so this converges to its optimum), the intercept fitted last."""
    if not len(z):
        return 0.0, 0.0, 0.0
    s, p, r = scale - scale.mean(), posting - posting.mean(), z - z.mean()
    ss, pp, sp = float(s @ s), float(p @ p), float(s @ p)
    b = c = 0.0
    for _ in range(100):
        b_new = float(np.clip((s @ r - c * sp) / ss, 0.0, max_slope)) if ss > 1e-12 else 0.0
        c_new = float(np.clip((p @ r - b_new * sp) / pp, -max_slope, 0.0)) \
            if pp > 1e-12 else 0.0
        done = abs(b_new - b) < 1e-12 and abs(c_new - c) < 1e-12
        b, c = b_new, c_new
        if done:
            break
    return float(z.mean() - b * scale.mean() - c * posting.mean()), b, c
