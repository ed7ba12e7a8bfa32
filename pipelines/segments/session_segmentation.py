"""Learned audience segments: K-Means after PCA on browsing-session behaviour.

A segment is a group of sessions that behave alike: how many pages of each kind they read,
for how long, how often they bounce or exit, whether the visitor is new, whether it is a
weekend. The label (``converted``) and ``page_values`` (computed from the pages before a
purchase) never enter the clustering; conversion is only reported per segment, so the
profiles say which behaviour converts.

The number of segments ``k`` is chosen from a list by three numbers reported for every k
(:func:`compare_k`):

* **silhouette** (higher is better; on a fixed sample of rows),
* **Davies-Bouldin** index (lower is better),
* **bootstrap stability**: the mean adjusted Rand index between the clustering of all rows
  and the clusterings fitted on bootstrap resamples, compared on all rows (1: the same
  segments every time). A segmentation that changes with the sample cannot be given to a
  marketer.

The chosen k has the best silhouette among the ks whose stability reaches
``min_stability`` (none does: the most stable k). :class:`SessionSegmenter` is a
scikit-learn estimator (``fit`` / ``predict``), so it is saved and registered in MLflow as
any model and assigns a segment to a new session.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

#: Session features (pipelines.tasks.conversion_features) that describe behaviour.
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "f_log_administrative", "f_log_informational", "f_log_product_related",
    "f_log_administrative_duration", "f_log_informational_duration",
    "f_log_product_related_duration", "f_log_seconds_per_product_page", "f_bounce_rates",
    "f_exit_rates", "f_special_day", "f_weekend", "f_visitor_New_Visitor")
#: Raw columns the profiles show (medians or shares), in the order of the table.
PROFILE_COLUMNS: tuple[str, ...] = ("product_related", "product_related_duration",
                                    "administrative", "informational", "bounce_rates",
                                    "exit_rates")


def behaviour_matrix(sessions: pd.DataFrame) -> pd.DataFrame:
    """The :data:`BEHAVIOUR_FEATURES` of canonical sessions (no label, no page values).

    Raises:
        ValueError: as :func:`pipelines.tasks.conversion_features.session_features`.
    """
    from pipelines.tasks.conversion_features import session_features

    return session_features(sessions, use_page_values=False)[list(BEHAVIOUR_FEATURES)]


class SessionSegmenter(BaseEstimator):
    """Standardize the behaviour features, project them on ``n_components`` principal
    components, cluster with K-Means.

    Args:
        n_clusters: Number of segments.
        n_components: PCA components kept (<= the number of behaviour features).
        seed: Seed of PCA's solver and K-Means' starts.

    Attributes:
        pipeline_: The fitted scaler → PCA → K-Means pipeline.
        explained_variance_: Share of the variance each component keeps.
    """

    def __init__(self, n_clusters: int, n_components: int, seed: int) -> None:
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> SessionSegmenter:  # noqa: N803
        """Fit on canonical sessions ``X``.

        Raises:
            ValueError: for ``n_clusters`` < 2 or more than the rows, or ``n_components``
                outside [1, number of behaviour features].
        """
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        if not isinstance(self.n_clusters, int) or not 2 <= self.n_clusters <= len(X):
            raise ValueError(f"SessionSegmenter: 'n_clusters' must be an int in [2, {len(X)}] "
                             f"(the rows); got {self.n_clusters!r}.")
        limit = len(BEHAVIOUR_FEATURES)
        if not isinstance(self.n_components, int) or not 1 <= self.n_components <= limit:
            raise ValueError(f"SessionSegmenter: 'n_components' must be an int in [1, {limit}];"
                             f" got {self.n_components!r}.")
        # one BLAS/OpenMP thread: K-Means' default spins on every core and ran ~10x slower
        # on a loaded 2-core machine (as HistGradientBoosting did: pipelines.train.model_zoo)
        with threadpool_limits(1):
            self.pipeline_ = Pipeline([
                ("scale", StandardScaler()),
                ("pca", PCA(self.n_components, random_state=self.seed)),
                ("kmeans", KMeans(self.n_clusters, n_init=4, random_state=self.seed))]).fit(
                behaviour_matrix(X))
        self.explained_variance_ = self.pipeline_.named_steps["pca"].explained_variance_ratio_
        return self

    def embed(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The sessions in the PCA space the clusters live in."""
        return self.pipeline_[:-1].transform(behaviour_matrix(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The segment (0 .. n_clusters - 1) of each session."""
        with threadpool_limits(1):
            return self.pipeline_.predict(behaviour_matrix(X)).astype(int)


def compare_k(sessions: pd.DataFrame, ks: Sequence[int], *, n_components: int,
              bootstrap_rounds: int, silhouette_rows: int, min_stability: float,
              seed: int) -> dict[str, Any]:
    """Silhouette, Davies-Bouldin and bootstrap stability for every k, and the chosen k.

    Returns:
        ``{"per_k": {k: {...}}, "chosen_k": k, "rule": words}``.

    Raises:
        ValueError: for an empty ``ks``, fewer than 2 bootstrap rounds, or a k the data
            cannot hold.
    """
    from sklearn.metrics import adjusted_rand_score, davies_bouldin_score, silhouette_score

    if not ks:
        raise ValueError("compare_k: 'ks' must list at least one number of segments.")
    if bootstrap_rounds < 2:
        raise ValueError(f"compare_k: 'bootstrap_rounds' must be >= 2; got {bootstrap_rounds}.")
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(sessions), size=min(silhouette_rows, len(sessions)), replace=False)
    per_k: dict[int, dict[str, float]] = {}
    for k in ks:
        model = SessionSegmenter(int(k), n_components, seed).fit(sessions)
        space, labels = model.embed(sessions), model.predict(sessions)
        aris = []
        for round_ in range(bootstrap_rounds):
            rows = rng.integers(0, len(sessions), size=len(sessions))
            again = SessionSegmenter(int(k), n_components, seed + 1 + round_).fit(
                sessions.iloc[rows])
            aris.append(adjusted_rand_score(labels, again.predict(sessions)))
        per_k[int(k)] = {
            "silhouette": float(silhouette_score(space[sample], labels[sample])),
            "davies_bouldin": float(davies_bouldin_score(space, labels)),
            "stability_ari": float(np.mean(aris)), "stability_ari_min": float(np.min(aris)),
            "smallest_segment_share": float(np.bincount(labels).min() / len(labels))}
        logger.info("compare_k: k=%d silhouette %.3f Davies-Bouldin %.3f stability %.3f", k,
                    per_k[int(k)]["silhouette"], per_k[int(k)]["davies_bouldin"],
                    per_k[int(k)]["stability_ari"])
    stable = [k for k, m in per_k.items() if m["stability_ari"] >= min_stability]
    if stable:
        chosen = max(stable, key=lambda k: per_k[k]["silhouette"])
        rule = (f"best silhouette among the ks with bootstrap stability (mean ARI) >= "
                f"{min_stability}")
    else:
        chosen = max(per_k, key=lambda k: per_k[k]["stability_ari"])
        rule = f"no k reached stability {min_stability}: the most stable k"
    logger.info("compare_k: chose k=%d (%s)", chosen, rule)
    return {"per_k": per_k, "chosen_k": int(chosen), "rule": rule}


def segment_profiles(sessions: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """One row per segment, ordered by conversion: sessions, share, conversion rate (when
    ``converted`` is known), medians of :data:`PROFILE_COLUMNS`, shares of new visitors and
    weekend sessions."""
    frame = sessions.assign(segment=np.asarray(labels, dtype=int))
    groups = frame.groupby("segment")
    out = pd.DataFrame({"sessions": groups.size()})
    out["share"] = out["sessions"] / len(frame)
    if "converted" in frame.columns and frame["converted"].notna().all():
        out["conversion_rate"] = groups["converted"].mean()
    for column in PROFILE_COLUMNS:
        out[f"median_{column}"] = groups[column].median()
    out["new_visitor_share"] = groups["visitor_type"].apply(lambda v: (v == "New_Visitor").mean())
    out["weekend_share"] = groups["weekend"].mean()
    order = "conversion_rate" if "conversion_rate" in out.columns else "sessions"
    return out.sort_values(order, ascending=False).round(4)


def profile_figure(profiles: pd.DataFrame) -> Any:
    """A heat map a marketer can read: each profile column scaled to its range across the
    segments (dark = the highest segment), the actual values written in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = profiles.drop(columns=["sessions"])
    span = (shown.max() - shown.min()).replace(0, 1)
    scaled = (shown - shown.min()) / span
    figure, axis = plt.subplots(figsize=(1.3 * len(shown.columns) + 2, 0.6 * len(shown) + 2))
    axis.imshow(scaled.to_numpy(dtype=float), cmap="Blues", aspect="auto", vmin=0, vmax=1)
    axis.set_xticks(range(len(shown.columns)), [c.replace("_", " ") for c in shown.columns],
                    rotation=35, ha="right")
    axis.set_yticks(range(len(shown)), [f"segment {s} ({n:,} sessions)" for s, n in
                                        zip(shown.index, profiles["sessions"], strict=True)])
    for i, row in enumerate(shown.to_numpy(dtype=float)):
        for j, value in enumerate(row):
            axis.text(j, i, f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}",
                      ha="center", va="center", fontsize=8,
                      color="white" if scaled.iloc[i, j] > 0.6 else "black")
    axis.set_title("Session segments: what each does (dark = highest of the segments)")
    figure.tight_layout()
    return figure


def segment_names(profiles: pd.DataFrame) -> pd.Series:
    """A short readable name per segment, read off its profile: the two columns in which it
    stands out most from the median segment (each column scaled to its range across the
    segments), e.g. ``"high median product related, low new visitor share"``. Names are
    made unique by the segment id when two coincide."""
    shown = profiles.drop(columns=["sessions", "share", "conversion_rate"], errors="ignore")
    span = (shown.max() - shown.min()).replace(0, 1)
    scaled = (shown - shown.median()) / span
    names: dict[int, str] = {}
    for segment, row in scaled.iterrows():
        top = row.abs().sort_values(ascending=False).index[:2]
        names[int(segment)] = ", ".join(
            f"{'high' if row[c] > 0 else 'low'} {c.replace('_', ' ')}" for c in top)
    counts = pd.Series(list(names.values())).value_counts()
    return pd.Series({s: n if counts[n] == 1 else f"{n} ({s})" for s, n in names.items()},
                     name="name")
