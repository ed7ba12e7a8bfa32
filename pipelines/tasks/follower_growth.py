"""Follower growth: the growth of log1p(followers) over an account's next period.

Reads the same validated posts as the count tasks; its training table has one row per
(account, period) (:mod:`pipelines.features.follower_growth`), its models are the growth
families with absolute-error objectives (:mod:`pipelines.train.follower_growth_training`),
its naive baseline is "no growth". Values are already a log difference, so the gate judges
them with plain ``mae``/``rmse`` (no pseudo-counts).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pipelines.tasks.base import GateSpec
from pipelines.tasks.posts import PostInputTask

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

#: pipelines.train.follower_growth_training.GROWTH_MODELS, literal so the registry stays
#: light (a test checks the two agree).
GROWTH_MODELS: tuple[str, ...] = (
    "ridge", "lightgbm", "xgboost", "random_forest", "hist_gradient_boosting")


class FollowerGrowthTask(PostInputTask):
    name = "follower_growth"
    table = "account_periods"
    table_key = ("account_id", "period_end")
    table_time_column = "period_end"
    target = "follower_growth"
    problem = "growth_regression"
    families = GROWTH_MODELS
    default_models = ("ridge", "lightgbm", "random_forest")
    selection_metric = "mae_log"
    gate = GateSpec(primary="mae", guards=("rmse", "spearman"),
                    first_model_bounds={}, baseline="no-growth baseline")
    slice_column = "platform"
    segments = False
    noun = "growth of log1p(followers) next period"
    target_is_log = True

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """The (account, period) table: features of the period and earlier, target the
        next period's growth."""
        import pandas as pd

        from pipelines.features.follower_growth import TARGET, account_periods

        posts = pd.read_parquet(paths.validated(self.input.entity))
        periods = account_periods(posts, period=settings.features.growth_period)
        periods[self.target] = periods[TARGET]
        out = paths.feature_table(self.table)
        out.parent.mkdir(parents=True, exist_ok=True)
        periods.to_parquet(out, index=False)
        manifest = {"rows": len(periods), "growth_period": settings.features.growth_period}
        out.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        from pipelines.train.follower_growth_training import run_train_growth

        t = settings.train
        return run_train_growth(paths.feature_table(self.table), paths.models,
                                models=t.models or self.default_models,
                                hyperparameters=t.hyperparameters, seed=t.seed,
                                valid_fraction=t.valid_fraction,
                                test_fraction=t.test_fraction)

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        from pipelines.train.follower_growth_training import run_evaluate_growth

        return run_evaluate_growth(paths.feature_table(self.table), paths.models,
                                   paths.metrics)

    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        import pandas as pd

        from pipelines.train.follower_growth_training import labelled_periods
        from pipelines.train.split import time_split

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table = labelled_periods(pd.read_parquet(paths.feature_table(self.table)))
        split = time_split(table[self.table_time_column], manifest["split"]["valid_fraction"],
                           manifest["split"]["test_fraction"])
        return table.iloc[split.train], table.iloc[split.test]

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.zeros(len(test))

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        from pipelines.train.follower_growth_training import growth_metrics

        return growth_metrics(actual, predicted)

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        from pipelines.train.follower_growth_training import FEATURES

        return rows[list(FEATURES)].reset_index(drop=True)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        return (f"predicted {self.noun} {predicted:+.4f} "
                f"({'not known yet' if pd.isna(actual) else f'actual {actual:+.4f}'})")


FOLLOWER_GROWTH = FollowerGrowthTask()
