"""The post entity shared by every post task: collecting and validating posts.

Post count tasks (:mod:`pipelines.tasks.post_counts`) and follower growth
(:mod:`pipelines.tasks.follower_growth`) read the same validated posts; they differ from
the feature table on.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pipelines.tasks.base import InputSpec, Task

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

POSTS = InputSpec(entity="posts", key=("platform", "post_id"), time_column="posted_at",
                  row_suite="expectations/posts_row_contract.json",
                  table_suite="expectations/posts_table_contract.json")


class PostInputTask(Task):
    """A task whose input is canonical posts (collect formats, the posts contract) and
    whose models predict a real value judged on the log scale (a count's log1p, or a
    growth that already is a log difference: :attr:`target_is_log`)."""

    input = POSTS
    # the account history featurizer counts a batch's posts of an account as known posts
    score_group = "account_id"
    #: The target is already on the log scale (plots must not take log1p of it again).
    target_is_log: bool = False

    def figures(self, name: str, actual: np.ndarray, predicted: np.ndarray
                ) -> dict[str, Any]:
        from pipelines.evaluate import plots

        log_scale = self.target_is_log
        return {"plots/predicted_vs_actual.png": plots.predicted_vs_actual(
                    actual, predicted, f"{name}: test part", log_scale=log_scale),
                "plots/residuals.png": plots.residuals(
                    actual, predicted, f"{name}: test residuals", log_scale=log_scale)}

    def plot_values(self, values: Any) -> tuple[str, np.ndarray]:
        """Counts on the log1p scale the metrics use; a log-scale target as it is."""
        import numpy as np

        values = np.asarray(values, dtype=float)
        if self.target_is_log:
            return "", values
        return "log1p", np.log1p(np.clip(values, 0, None))

    def metric_columns(self) -> tuple[str, ...]:
        return ("mae_log", "rmse_log", "r2_log", "spearman")

    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Collect posts from ``collect.source`` into the raw layer. The ``validated``
        source reads the validated store (``collect.path`` or the data folder)."""
        from pipelines.collect.formats import ReadLimits
        from pipelines.collect.stage import run_collect

        c = settings.collect
        path = c.path or (str(paths.data) if c.source == "validated" else "")
        summary = run_collect(paths.raw(POSTS.entity), source=c.source, path=path,
                              fmt=c.format, demo_rows=c.demo_rows,
                              demo_accounts=c.demo_accounts, seed=c.seed,
                              limits=ReadLimits.from_settings(c))
        return {"raw": str(paths.raw(POSTS.entity)), **asdict(summary)}

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Validate the raw posts into the validated and quarantine layers."""
        from pipelines.validate.stage import run_validate

        summary = run_validate(
            paths.raw(POSTS.entity), paths.validated(POSTS.entity),
            paths.quarantined(POSTS.entity), paths.validation_report,
            row_suite_path=paths.resolve(settings.validate.suite),
            table_suite_path=paths.resolve(settings.validate.table_suite), as_of=as_of,
            rules=settings.validate,
            reports_dir=paths.validation_reports if reports else None,
        )
        return {"validated": str(paths.validated(POSTS.entity)), **asdict(summary)}

    def monitored_rows(self, paths: ProjectPaths) -> pd.DataFrame:
        """The collection DAG's validated store (``02_validated/date=*``), one row per post:
        its latest observation."""
        from pipelines.validate.partition import read_validated_posts

        return read_validated_posts(paths.data)

    def outcome_known(self, rows: pd.DataFrame, *, maturity_hours: float) -> pd.Series:
        """A post's count is a realized result once read ``maturity_hours`` after posting
        (:func:`pipelines.monitor.realized_performance.matured`)."""
        from pipelines.monitor.realized_performance import matured

        return matured(rows, target=self.target, maturity_hours=maturity_hours)
