"""The ``news_shares`` task: how many times a news article is shared, from its content,
keyword, self-reference, topic, sentiment and weekday features (log1p regression of a
heavy-tailed count).

News articles (``news`` entity: :mod:`pipelines.tasks.news_data`) come from a seeded demo
generator or the UCI "Online News Popularity" CSV. Splits are by publication day (oldest
70 % train, then validation, newest test); the features are the file's own, the heavy
counts on a log scale (:class:`NewsFeaturizer`, which learns nothing). The naive baseline
is the training part's median shares. Models are the article families
(:mod:`pipelines.tasks.article_models`).

This module stays light to import (no pandas or scikit-learn at module level).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.article_counts import DEFAULT_MODELS, FAMILIES, ArticleCountTask
from pipelines.tasks.base import GateSpec, InputSpec, Task

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)


class NewsSettings(BaseModel):
    """The ``news_shares`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "online_news"] = Field(
        "demo", title="News source",
        description="demo: seeded synthetic articles; online_news: the UCI Online News "
                    "Popularity CSV at 'path'.")
    path: str | None = Field(None, title="News CSV",
                             description="The CSV for source=online_news, relative to the "
                                         "project root.")
    demo_rows: int = Field(3000, ge=200, le=1_000_000, title="Demo articles",
                           description="How many synthetic articles source=demo generates.")
    seed: int = Field(42, ge=0, title="Demo data seed",
                      description="Seed of the synthetic articles (the model seed is "
                                  "train.seed).")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Share of articles, before the test part, that "
                                              "picks the best candidate.")
    test_fraction: float = Field(0.15, gt=0, lt=1, title="Test share",
                                 description="Share of the newest articles no choice sees.")

    @model_validator(mode="after")
    def _consistent(self) -> NewsSettings:
        if self.source == "online_news" and not self.path:
            raise ValueError("news_shares.path must name the news CSV when news_shares.source "
                             "is 'online_news'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"news_shares.valid_fraction + news_shares.test_fraction must be "
                             f"at most 0.8; got {self.valid_fraction} + {self.test_fraction}.")
        return self


class NewsSharesTask(ArticleCountTask):
    """Shares of a news article. Collect, validate and the metrics are the article tasks'
    (same contract machinery, its own suites); features, baseline and serving are its own."""

    name = "news_shares"
    input = InputSpec(entity="news", key=("article_id",), time_column="published_at",
                      row_suite="expectations/news_row_contract.json",
                      table_suite="expectations/news_table_contract.json")
    table = "news"
    table_time_column = "published_at"
    target = "shares"
    noun = "shares of the news article"
    families = FAMILIES
    gate = GateSpec(primary="mae_log", guards=("rmse_log", "mae_raw", "spearman"),
                    first_model_bounds={"mae_log": ("max", 1.5), "spearman": ("min", 0.1)},
                    baseline="training median")
    settings_model = NewsSettings

    def __init__(self) -> None:
        """One instance; nothing to choose."""

    @property
    def section_name(self) -> str:
        return self.name

    def _read(self, paths: ProjectPaths, settings: Settings) -> tuple[Any, Any, int, str]:
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import news_data
        from pipelines.tasks.articles_data import quarantine_frame

        section = self.section(settings)
        if section.source == "demo":
            rows = news_data.generate_news(section.demo_rows, section.seed)
            return (rows, quarantine_frame([]), len(rows),
                    f"demo(rows={section.demo_rows}, seed={section.seed})")
        csv_path = paths.resolve(section.path)
        result = news_data.read_online_news_csv(
            csv_path, limits=ReadLimits.from_settings(settings.collect))
        return result.articles, result.rejects, result.records_read, str(csv_path)

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/news.parquet``: the validated articles in time order."""
        import pandas as pd

        rows = pd.read_parquet(paths.validated(self.input.entity))
        table = rows.sort_values(["published_at", "article_id"], kind="stable").reset_index(
            drop=True)
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        manifest = {"rows": len(table), "first": str(table["published_at"].min()),
                    "last": str(table["published_at"].max())}
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        logger.info("news_shares.features: %d articles -> %s", len(table), path)
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: the article defaults) on the
        training part behind :class:`NewsFeaturizer`.

        Raises:
            ValueError: for a model name that is not one of the families.
        """
        import time

        import joblib
        from sklearn.pipeline import Pipeline

        from pipelines.tasks.article_models import default_hyperparameters, make_regressor
        from pipelines.tasks.news_features import NewsFeaturizer

        section = self.section(settings)
        models = tuple(settings.train.models) or DEFAULT_MODELS
        unknown = [m for m in models if m not in self.families]
        if unknown:
            raise ValueError(f"news_shares.train: train.models {unknown} are not families; "
                             f"the task knows {list(self.families)}.")
        table, split = self._split(paths, section.valid_fraction, section.test_fraction)
        train = table.iloc[split.train]
        featurizer = NewsFeaturizer().fit(train)
        features = featurizer.transform(train)
        paths.models.mkdir(parents=True, exist_ok=True)
        candidates = {}
        for name in models:
            overrides = dict(settings.train.hyperparameters.get(name, {}))
            started = time.perf_counter()
            regressor = make_regressor(name, overrides, settings.train.seed).fit(
                features, train[self.target].to_numpy(dtype=float))
            seconds = round(time.perf_counter() - started, 3)
            joblib.dump(Pipeline([("features", featurizer), ("model", regressor)]),
                        paths.models / f"{name}.joblib")
            candidates[name] = {"fit_seconds": seconds, "features": list(features.columns),
                                "hyperparameters": {**default_hyperparameters(
                                    name, settings.train.seed), **overrides}}
            logger.info("news_shares.train: %s fitted in %.2f s on %d articles", name,
                        seconds, len(train))
        manifest = {"task": self.name, "target": self.target, "seed": settings.train.seed,
                    "rows": len(table), "maturity_hours": 0.0,
                    "split": {"valid_fraction": section.valid_fraction,
                              "test_fraction": section.test_fraction,
                              "valid_start": split.valid_start, "test_start": split.test_start,
                              **{p: len(getattr(split, p)) for p in ("train", "valid", "test")}},
                    "candidates": candidates, "references": {}}
        (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return manifest

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate and the training median on the validation and test parts;
        the best candidate has the lowest validation ``mae_log``."""
        import joblib

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table, split = self._split(paths, manifest["split"]["valid_fraction"],
                                   manifest["split"]["test_fraction"])
        parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
        train = table.iloc[split.train]
        results = {name: {part: self._scored(joblib.load(paths.models / f"{name}.joblib"),
                                             rows) for part, rows in parts.items()}
                   for name in manifest["candidates"]}
        baseline = {part: self.metrics(rows[self.target].to_numpy(float),
                                       self.baseline(train, rows))
                    for part, rows in parts.items()}
        best = min(results, key=lambda n: results[n]["valid"][self.selection_metric])
        report = {"task": self.name, "target": self.target,
                  "selection_metric": self.selection_metric, "best": best,
                  "candidates": results, "references": {},
                  "baselines": {"training_median": baseline}, "split": manifest["split"]}
        paths.metrics.parent.mkdir(parents=True, exist_ok=True)
        paths.metrics.write_text(json.dumps(report, indent=2))
        logger.info("news_shares.evaluate: best %s, test mae_log %.4f r2_log %.3f (training "
                    "median %.4f) -> %s", best, results[best]["test"]["mae_log"],
                    results[best]["test"]["r2_log"], baseline["test"]["mae_log"],
                    paths.metrics)
        return report

    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(training and validation articles, test articles)."""
        manifest = json.loads((paths.models / "manifest.json").read_text())
        table, split = self._split(paths, manifest["split"]["valid_fraction"],
                                   manifest["split"]["test_fraction"])
        return table.iloc[split.train_valid], table.iloc[split.test].reset_index(drop=True)

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The median shares of ``train`` for every test article."""
        import numpy as np

        return np.full(len(test), float(train[self.target].median()))

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The feature columns a client sends.

        Raises:
            ValueError: naming the missing columns.
        """
        from pipelines.tasks.news_data import FEATURES

        missing = [c for c in FEATURES if c not in rows.columns]
        if missing:
            raise ValueError(f"news_shares.model_input: rows lack column(s) {missing}.")
        return rows[list(FEATURES)].copy()

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(model.predict(self.model_input(rows)), dtype=float)

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        """The training articles' features, publication time and shares."""
        out = self.model_input(train)
        out[self.input.time_column] = train[self.input.time_column].to_numpy()
        out[self.target] = train[self.target].to_numpy(dtype="float64")
        return out

    def drift_frame(self, model: Any, rows: pd.DataFrame, *,
                    outcome_known: pd.Series | None) -> pd.DataFrame:
        """The platform's default: the 58 features as sent, the prediction, the outcome."""
        return Task.drift_frame(self, model, rows, outcome_known=outcome_known)

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """One article's id and features, with the news row contract's one-row rules."""
        from pipelines.tasks.news_data import COLUMNS, FEATURES
        from pipelines.validate.expectations import load_suite
        from pipelines.validate.row_rules import request_model

        return request_model(
            "NewsArticle", {c: COLUMNS[c] for c in ("article_id", *FEATURES)},
            load_suite(paths.resolve(self.input.row_suite)),
            doc=f"One news article to score. Rules: {self.input.row_suite}.")

    def request_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame.from_records(rows)

    def _split(self, paths: ProjectPaths, valid_fraction: float, test_fraction: float
               ) -> tuple[pd.DataFrame, Any]:
        import pandas as pd

        from pipelines.tasks.article_models import ArticleSplit
        from pipelines.train.split import time_split

        table = pd.read_parquet(paths.feature_table(self.table))
        split = time_split(table["published_at"], valid_fraction, test_fraction)
        return table, ArticleSplit(split.train, split.valid, split.test, split.valid_start,
                                   split.test_start)


NEWS_SHARES = NewsSharesTask()
