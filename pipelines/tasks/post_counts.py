"""Post count tasks: a post's likes, comments or shares (log1p regression of a count).

One class, three instances: the counts differ only in the column they predict. Models are
the regression zoo (:mod:`pipelines.train.model_zoo`) behind the post featurizer, so a
registered model takes canonical posts and predicts the count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.tasks.base import GateSpec, ScoringInput
from pipelines.tasks.posts import PostInputTask

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.collect.formats import ReadLimits
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

#: The post model zoo's names (pipelines.train.model_zoo.MODEL_NAMES; literal so the
#: registry stays light to import — a test checks the two agree).
POST_MODELS: tuple[str, ...] = (
    "ridge", "random_forest", "xgboost", "lightgbm", "hist_gradient_boosting", "mlp",
    "two_stage_hard", "two_stage_soft",
)


#: Raw model inputs drift compares as categories next to the engineered features.
CATEGORICAL_INPUTS: tuple[str, ...] = ("platform", "content_type")


class PostCountTask(PostInputTask):
    """Predict one count of a post from the post, its account's matured history and text."""

    table = "posts"
    table_key = ("platform", "post_id")
    table_time_column = "posted_at"
    problem = "count_regression"
    families = POST_MODELS
    default_models = ("ridge", "lightgbm", "random_forest")
    model_input_retypes_rows = True
    selection_metric = "mae_log"
    gate = GateSpec(primary="mae_log", guards=("rmse_log", "mae_raw", "spearman"),
                    first_model_bounds={"mae_log": ("max", 1.5), "spearman": ("min", 0.3)},
                    baseline="account-median baseline")
    slice_column = "platform"
    segments = True

    def __init__(self, count: str) -> None:
        self.name = count
        self.target = count
        self.noun = count

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Build the post feature table (shared by likes, comments and shares)."""
        from pipelines.features.stage import run_features

        return run_features(paths.validated(self.input.entity),
                            paths.feature_table(self.table), settings=settings.features,
                            embedding_cache=paths.embedding_cache,
                            model_cache_dir=paths.model_cache)

    def feature_caches(self, paths: ProjectPaths) -> dict[Path, str]:
        return {paths.embedding_cache: "persist"} if paths.embedding_cache.is_relative_to(
            paths.data) else {}

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        from pipelines.train.stage import run_train

        t = settings.train
        return run_train(paths.feature_table(self.table), paths.models, target=self.target,
                         models=t.models or self.default_models,
                         hyperparameters=t.hyperparameters, seed=t.seed,
                         valid_fraction=t.valid_fraction, test_fraction=t.test_fraction,
                         cold_account_fraction=t.cold_account_fraction,
                         history_dropout=t.history_dropout,
                         scale=t.scale_relative.model_dump(), cv_folds=t.cv_folds,
                         model_cache_dir=paths.model_cache)

    def refit(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Refit the chosen candidate on every matured label (:func:`run_refit`)."""
        from pipelines.train.stage import run_refit

        return run_refit(paths.feature_table(self.table), paths.models, paths.metrics,
                         paths.final_model, model_cache_dir=paths.model_cache)

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        from pipelines.evaluate.stage import run_evaluate

        return run_evaluate(paths.feature_table(self.table), paths.models, paths.metrics)

    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        import pandas as pd

        from pipelines.train.split import REGIME_COLUMN, labelled, manifest_split

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table = labelled(pd.read_parquet(paths.feature_table(self.table)), self.target)
        split = manifest_split(table, manifest["split"])
        test = table.iloc[split.test].assign(**{REGIME_COLUMN: split.regimes(split.test)})
        return table.iloc[split.train], test

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        from pipelines.evaluate.metrics import account_median_baseline

        return account_median_baseline(train, test, self.target)

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        from pipelines.evaluate.metrics import regression_metrics

        return regression_metrics(actual, predicted)

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        from pipelines.features.model_input import model_input

        return model_input(rows)

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame | None:
        import pandas as pd

        out = self.model_input(train)
        out[self.target] = pd.to_numeric(train[self.target]).to_numpy(dtype="float64")
        return out

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(paths.validated(self.input.entity)).tail(1)

    # --- batch scoring ---------------------------------------------------------------
    score_columns = ("post_id", "account_id", "platform", "posted_at")

    def read_for_scoring(self, path: Path, fmt: str, *, paths: ProjectPaths,
                         limits: ReadLimits) -> ScoringInput:
        """Posts of layout ``fmt`` (the collect readers; a canonical Parquet file they would
        read unchanged is read columnar: :mod:`pipelines.serve.columnar_posts`); rows that
        break the serving contract (:func:`pipelines.serve.scoring.scoring_failures`) join
        the records the reader could not read in the quarantine."""
        import pandas as pd

        from pipelines.serve.columnar_posts import read_canonical_parquet
        from pipelines.serve.scoring import split_scorable

        posts = read_canonical_parquet(Path(path), fmt)
        if posts is not None:
            rows, invalid = split_scorable(posts)
            return ScoringInput(rows, invalid, len(posts))
        from pipelines.collect.formats import read_posts  # only when the reader must read

        read = read_posts(path, fmt, limits=limits)
        rows, invalid = split_scorable(read.posts)
        rejects = (pd.concat([read.rejects.assign(stage="collect"), invalid],
                             ignore_index=True) if len(read.rejects) else invalid)
        rows["posted_at"] = pd.to_datetime(rows["posted_at"], utc=True)
        return ScoringInput(rows, rejects, read.records_read)

    def read_for_scoring_in_parts(self, path: Path, fmt: str, *, part_rows: int,
                                  workdir: Path) -> Iterator[ScoringInput] | None:
        """A canonical Parquet file larger than ``part_rows`` that the columnar path reads
        (:func:`pipelines.serve.columnar_posts.partition_canonical_parquet`), as parts of
        whole accounts, each split by the serving contract."""
        from pipelines.serve.columnar_posts import partition_canonical_parquet

        parts = partition_canonical_parquet(Path(path), fmt, group=self.score_group,
                                            part_rows=part_rows, workdir=workdir)
        if parts is None:
            return None
        return (self._scoring_part(part, Path(path), fmt) for part in parts)

    @staticmethod
    def _scoring_part(part: Path, path: Path, fmt: str) -> ScoringInput:
        import pandas as pd

        from pipelines.serve.columnar_posts import read_part
        from pipelines.serve.scoring import split_scorable

        posts, rows = read_part(part, path, fmt)
        scorable, invalid = split_scorable(posts)
        if len(invalid):  # the row in the file, not in the part
            invalid["source_row"] = pd.array(rows[invalid["source_row"].to_numpy(int) - 1] + 1,
                                             dtype="Int64")
        return ScoringInput(scorable, invalid, len(posts))

    # --- monitoring --------------------------------------------------------------------
    def drift_frame(self, model: Any, rows: pd.DataFrame, *,
                    outcome_known: pd.Series | None) -> pd.DataFrame:
        """The champion's input features (engineered and text, as the model sees them),
        the raw categorical inputs (:data:`CATEGORICAL_INPUTS`), its log1p prediction and
        the log1p outcome."""
        import numpy as np
        import pandas as pd

        from pipelines.monitor.drift import PREDICTION, TARGET

        inputs = self.model_input(rows)
        features = model.named_steps["features"].transform(inputs).reset_index(drop=True)
        # Pipeline.predict is exactly features → final step; reuse the features.
        predicted = np.asarray(model[-1].predict(features), dtype=float)
        frame = features.copy()
        for column in CATEGORICAL_INPUTS:
            frame[column] = inputs[column].astype(str).to_numpy()
        frame[PREDICTION] = np.log1p(np.clip(predicted, 0, None))
        outcome = pd.to_numeric(rows[self.target], errors="coerce").to_numpy(dtype=float)
        if outcome_known is not None:
            outcome = np.where(np.asarray(outcome_known, dtype=bool), outcome, np.nan)
        frame[TARGET] = np.log1p(outcome)
        return frame

    def realized_performance(self, rows: pd.DataFrame, judged: pd.DataFrame, *,
                             offline: Mapping[str, float], max_error_increase: float,
                             min_outcomes: int) -> dict[str, Any]:
        """Realized ``mae_log`` overall, per platform and per day
        (:func:`pipelines.monitor.realized_performance.realized_performance`)."""
        import numpy as np
        import pandas as pd

        from pipelines.monitor.drift import PREDICTION
        from pipelines.monitor.realized_performance import realized_performance

        return realized_performance(
            actual=pd.to_numeric(rows[self.target]).to_numpy(dtype=float),
            predicted=np.expm1(judged[PREDICTION].to_numpy()),
            platforms=rows["platform"].astype(str).to_numpy(), posted_at=rows["posted_at"],
            offline=offline, max_error_increase=max_error_increase,
            min_outcomes=min_outcomes)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        return (f"predicted {self.noun} {predicted:,.0f} (actual "
                f"{'not reported' if pd.isna(actual) else f'{int(actual):,}'})")


LIKES, COMMENTS, SHARES = PostCountTask("likes"), PostCountTask("comments"), \
    PostCountTask("shares")
