"""Article engagement tasks: an article's points or comments (log1p regression of a
heavy-tailed count) from its title, link, author history and submission time.

One class, two instances (``article_points``, ``article_comments``), as for post counts:
they differ only in the column predicted; both read the one ``article_points`` params
section (one source for the articles' settings). Articles (``articles`` entity:
:mod:`pipelines.tasks.articles_data`) come from a seeded demo generator or the Hacker News
CSV; features: :mod:`pipelines.tasks.article_features`.

Splits are by time (oldest 70 % train, then validation, newest test). The registered
model is the featurizer (history known up to the end of the validation part, title SVD
fitted on the training part) in front of the regressor, so it takes an article as a client
submits it. References beside the candidates: the author's past median (the gate's naive
baseline) and LightGBM without the author history.

This module stays light to import (no pandas or scikit-learn at module level).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from pipelines.tasks.article_settings import SECTION, ArticleSettings
from pipelines.tasks.base import GateSpec, InputSpec, Task
from pipelines.validate.entity_stage import rejects_path

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pydantic import BaseModel

    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: pipelines.tasks.article_models.FAMILIES (literal: no scikit-learn at import).
FAMILIES: tuple[str, ...] = ("ridge", "lightgbm", "hist_gradient_boosting")
DEFAULT_MODELS: tuple[str, ...] = ("ridge", "lightgbm")
#: The history-free reference: LightGBM on the same features without the author history.
REFERENCE = "lightgbm_no_author_history"


class ArticleCountTask(Task):
    """Predict one count of an article (points or comments)."""

    input = InputSpec(entity="articles", key=("article_id",), time_column="created_at",
                      row_suite="expectations/articles_row_contract.json",
                      table_suite="expectations/articles_table_contract.json")
    table = "articles"
    table_key = ("article_id",)
    table_time_column = "created_at"
    problem = "count_regression"
    families = FAMILIES
    default_models = DEFAULT_MODELS
    selection_metric = "mae_log"
    gate = GateSpec(primary="mae_log", guards=("rmse_log", "mae_raw", "spearman"),
                    first_model_bounds={"mae_log": ("max", 1.5), "spearman": ("min", 0.1)},
                    baseline="author's past median")
    slice_column = None
    segments = False
    serve_key = "article_id"

    def __init__(self, count: Literal["points", "comments"], *, owns_section: bool) -> None:
        self.name = f"article_{count}"
        self.target = count
        self.noun = f"{count} of the article"
        # one params section for both tasks: the first declares it, the second reads it
        self.settings_model = ArticleSettings if owns_section else None

    @property
    def section_name(self) -> str:
        """Both article tasks read the ``article_points`` section."""
        return SECTION

    # --- stage hooks ---------------------------------------------------------------
    def collect(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Generate or read the source into ``01_raw/<entity>.parquet``; unreadable records
        go to ``01_raw/<entity>.rejects.parquet`` (always written, so none is stale)."""
        articles, rejects, read, source = self._read(paths, settings)
        raw = paths.raw(self.input.entity)
        raw.parent.mkdir(parents=True, exist_ok=True)
        articles.to_parquet(raw, index=False)
        rejects.to_parquet(rejects_path(raw), index=False)
        logger.info("%s.collect: %s: %d records, %d articles, %d rejected -> %s", self.name,
                    source, read, len(articles), len(rejects), raw)
        return {"source": source, "records_read": read, "rows": len(articles),
                "rejected": len(rejects), "files": [str(raw)]}

    def _read(self, paths: ProjectPaths, settings: Settings) -> tuple[Any, Any, int, str]:
        """(articles, collect-time rejects, records read, the source in words)."""
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import articles_data as data

        section = self.section(settings)
        if section.source == "demo":
            articles = data.generate_articles(section.demo_rows, section.demo_authors,
                                              section.seed)
            return (articles, data.quarantine_frame([]), len(articles),
                    f"demo(rows={section.demo_rows}, authors={section.demo_authors}, "
                    f"seed={section.seed})")
        csv_path = paths.resolve(section.path)
        result = data.read_hacker_news_csv(csv_path,
                                           limits=ReadLimits.from_settings(settings.collect))
        return result.articles, result.rejects, result.records_read, str(csv_path)

    def validate(self, paths: ProjectPaths, settings: Settings, *, as_of: Any,
                 reports: bool) -> dict[str, Any]:
        """Apply the articles contract; write the validated and quarantine layers and the
        validation report (:func:`pipelines.validate.entity_stage.validate_entity_stage`
        with :data:`pipelines.tasks.articles_data.CONTRACT`).

        Raises:
            ValueError: if ``as_of`` is None.
            DataContractError: listing every dataset-level failure, after the layers and
                the report are written.
        """
        from pipelines.tasks.articles_data import CONTRACT
        from pipelines.validate.entity_stage import validate_entity_stage

        return validate_entity_stage(
            paths, self.input, task=self.name, as_of=as_of,
            min_rows=settings.validate.min_rows,
            max_quarantine_rate=settings.validate.max_quarantine_rate, reports=reports,
            **CONTRACT)

    def features(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Write ``03_features/articles.parquet`` (the validated articles in time order)
        and embed every title into the embedding cache (so training and evaluation encode
        nothing)."""
        import pandas as pd

        section = self.section(settings)
        articles = pd.read_parquet(paths.validated(self.input.entity))
        table = articles.sort_values(["created_at", "article_id"], kind="stable").reset_index(
            drop=True)
        if section.title_components > 0:
            from pipelines.features.text_embeddings import embed_texts

            embed_texts(table["title"].tolist(), cache_path=paths.embedding_cache,
                        backend=section.text_backend, model_cache_dir=paths.model_cache,
                        show_progress=False)
        path = paths.feature_table(self.table)
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        manifest = {"rows": len(table), "authors": int(table["author"].nunique()),
                    "first": str(table["created_at"].min()),
                    "last": str(table["created_at"].max()),
                    "title_embeddings": section.title_components > 0}
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2))
        logger.info("%s.features: %d articles of %d authors -> %s", self.name, len(table),
                    manifest["authors"], path)
        return manifest

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Fit every family of ``train.models`` (empty: :data:`DEFAULT_MODELS`) and the
        history-free reference on the training part; save each behind its featurizer.

        Raises:
            ValueError: for a model name that is not one of :data:`FAMILIES`.
        """
        from pipelines.tasks.article_models import fit_candidate

        section = self.section(settings)
        models = tuple(settings.train.models) or DEFAULT_MODELS
        unknown = [m for m in models if m not in self.families]
        if unknown:
            raise ValueError(f"{self.name}.train: train.models {unknown} are not article "
                             f"families; the task knows {list(self.families)}.")
        table, split = self._split(paths, section.valid_fraction, section.test_fraction)
        train, valid = table.iloc[split.train], table.iloc[split.valid]
        paths.models.mkdir(parents=True, exist_ok=True)
        candidates = {}
        for name in (*models, REFERENCE):
            candidates[name] = fit_candidate(
                name, train, valid, target=self.target, section=section,
                hyperparameters=dict(settings.train.hyperparameters.get(name, {})),
                seed=settings.train.seed, paths=paths)
            logger.info("%s.train: %s fitted in %.2f s on %d articles", self.name, name,
                        candidates[name]["fit_seconds"], len(train))
        manifest = {
            "task": self.name, "target": self.target, "seed": settings.train.seed,
            "rows": len(table), "reference": REFERENCE,
            "maturity_hours": section.maturity_hours,
            "split": {"valid_fraction": section.valid_fraction,
                      "test_fraction": section.test_fraction,
                      "valid_start": split.valid_start, "test_start": split.test_start,
                      **{part: len(getattr(split, part)) for part in ("train", "valid",
                                                                      "test")}},
            "candidates": {n: c for n, c in candidates.items() if n != REFERENCE},
            "references": {REFERENCE: candidates[REFERENCE]}}
        (paths.models / "manifest.json").write_text(json.dumps(manifest, indent=2,
                                                               default=str))
        return manifest

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """Score every candidate, the history-free reference and the author's past median
        on the validation and test parts; the best candidate has the lowest validation
        ``mae_log``. Writes ``paths.metrics``."""
        import joblib

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table, split = self._split(paths, manifest["split"]["valid_fraction"],
                                   manifest["split"]["test_fraction"])
        parts = {"valid": table.iloc[split.valid], "test": table.iloc[split.test]}
        results: dict[str, Any] = {}
        for name in (*manifest["candidates"], REFERENCE):
            model = joblib.load(paths.models / f"{name}.joblib")
            results[name] = {part: self._scored(model, rows) for part, rows in parts.items()}
        references = {REFERENCE: results.pop(REFERENCE)}
        baseline = {}
        for part, known in (("valid", split.train), ("test", split.train_valid)):
            known_rows = table.iloc[known]
            known_rows.attrs["maturity_hours"] = manifest["maturity_hours"]
            baseline[part] = self.metrics(parts[part][self.target].to_numpy(float),
                                          self.baseline(known_rows, parts[part]))
        best = min(results, key=lambda n: results[n]["valid"][self.selection_metric])
        report = {"task": self.name, "target": self.target,
                  "selection_metric": self.selection_metric, "best": best,
                  "candidates": results, "references": references,
                  "baselines": {"author_past_median": baseline}, "split": manifest["split"]}
        paths.metrics.parent.mkdir(parents=True, exist_ok=True)
        paths.metrics.write_text(json.dumps(report, indent=2))
        logger.info("%s.evaluate: best %s, test mae_log %.4f r2_log %.3f (author median "
                    "%.4f, %s %.4f) -> %s", self.name, best, results[best]["test"]["mae_log"],
                    results[best]["test"]["r2_log"], baseline["test"]["mae_log"], REFERENCE,
                    references[REFERENCE]["test"]["mae_log"], paths.metrics)
        return report

    # --- model-facing hooks ----------------------------------------------------------
    def holdout(self, paths: ProjectPaths) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(articles known before the test part: training and validation, test articles
        with their ``regime``: ``warm`` when the author had a matured earlier article)."""
        from pipelines.tasks.article_features import outcome_pool, prior_outcomes
        from pipelines.train.split import COLD, REGIME_COLUMN, WARM

        manifest = json.loads((paths.models / "manifest.json").read_text())
        table, split = self._split(paths, manifest["split"]["valid_fraction"],
                                   manifest["split"]["test_fraction"])
        test = table.iloc[split.test].reset_index(drop=True)
        maturity = float(manifest["maturity_hours"])
        found = prior_outcomes(test["author"], test["created_at"],
                               outcome_pool(table, "author"), maturity_hours=maturity)
        test[REGIME_COLUMN] = [WARM if m > 0 else COLD for m in found["matured"]]
        known = table.iloc[split.train_valid].reset_index(drop=True)
        # the baseline's point-in-time rule needs the run's maturity (the gate passes
        # these rows on, and knows no settings)
        known.attrs["maturity_hours"] = maturity
        return known, test

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """Each test article's author's median count over their earlier matured articles
        (in ``train`` and earlier in ``test``); the median of ``train`` for a new author.

        Raises:
            ValueError: if ``train`` does not carry the run's maturity (rows from
                :meth:`holdout` do).
        """
        import pandas as pd

        from pipelines.tasks.article_features import past_median

        maturity = train.attrs.get("maturity_hours")
        if maturity is None:
            raise ValueError(f"{self.name}.baseline: 'train' must carry attrs['maturity_hours'] "
                             f"(the rows {self.name}.holdout returns do); got none.")
        pool = pd.concat([train, test], ignore_index=True)
        return past_median(test, pool, self.target, maturity_hours=float(maturity),
                           fallback=float(train[self.target].median()))

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """:func:`pipelines.evaluate.metrics.regression_metrics` plus ``r2_raw`` (R² of the
        counts themselves, the seed's "engagement R²" read literally)."""
        import numpy as np

        from pipelines.evaluate.metrics import regression_metrics

        out = regression_metrics(actual, predicted)
        actual = np.asarray(actual, dtype=float)
        total = float(np.sum((actual - actual.mean()) ** 2))
        error = float(np.sum((np.clip(np.asarray(predicted, float), 0, None) - actual) ** 2))
        out["r2_raw"] = 1 - error / total if total > 0 else float("nan")
        return out

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The article columns a client sends.

        Raises:
            ValueError: naming the missing columns.
        """
        from pipelines.tasks.articles_data import INPUT_COLUMNS

        missing = [c for c in INPUT_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"{self.name}.model_input: rows lack article column(s) "
                             f"{missing}; an article needs {list(INPUT_COLUMNS)}.")
        return rows[list(INPUT_COLUMNS)].copy()

    def predict(self, model: Any, rows: pd.DataFrame) -> np.ndarray:
        """The predicted count of each row (outcome columns, when present, count as known
        history for the later rows: a backtest)."""
        import numpy as np

        from pipelines.tasks.articles_data import INPUT_COLUMNS, OUTCOME_COLUMNS

        columns = [c for c in (*INPUT_COLUMNS, *OUTCOME_COLUMNS) if c in rows.columns]
        self.model_input(rows)
        return np.asarray(model.predict(rows[columns]), dtype=float)

    def drift_reference(self, train: pd.DataFrame) -> pd.DataFrame:
        out = self.model_input(train)
        out[self.target] = train[self.target].to_numpy(dtype="float64")
        return out

    def drift_frame(self, model: Any, rows: pd.DataFrame, *,
                    outcome_known: pd.Series | None) -> pd.DataFrame:
        """The champion's engineered features as a request sees them (titles and times as
        text would drift by construction: every title is new), the domain as a category,
        the log1p prediction and the log1p outcome."""
        import numpy as np
        import pandas as pd

        from pipelines.monitor.drift import PREDICTION, TARGET
        from pipelines.tasks.article_features import domain_of

        inputs = self.model_input(rows).reset_index(drop=True)
        frame = model.named_steps["features"].transform(inputs)
        predicted = np.asarray(model[-1].predict(frame), dtype=float)
        frame = frame.copy()
        frame["domain"] = domain_of(inputs["url"]).to_numpy()
        frame[PREDICTION] = np.log1p(np.clip(predicted, 0, None))
        outcome = pd.to_numeric(rows[self.target], errors="coerce").to_numpy(dtype=float)
        if outcome_known is not None:
            outcome = np.where(np.asarray(outcome_known, dtype=bool), outcome, np.nan)
        frame[TARGET] = np.log1p(outcome)
        return frame

    def metric_columns(self) -> tuple[str, ...]:
        return ("mae_log", "rmse_log", "r2_log", "spearman")

    def figures(self, name: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
        from pipelines.evaluate import plots

        return {"plots/predicted_vs_actual.png": plots.predicted_vs_actual(
                    actual, predicted, f"{name}: test part", log_scale=False),
                "plots/residuals.png": plots.residuals(
                    actual, predicted, f"{name}: test residuals", log_scale=False)}

    def request_model(self, paths: ProjectPaths) -> type[BaseModel]:
        """One article as a client submits it, with the row contract's one-row rules
        (title and author lengths, ``created_at`` not after now)."""
        from pipelines.tasks.article_serving import article_request

        return article_request(paths.resolve(self.input.row_suite))

    def request_frame(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame.from_records(rows)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame

    def example(self, paths: ProjectPaths) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(paths.feature_table(self.table)).tail(1)

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        known = "not known yet" if pd.isna(actual) else f"actual {int(actual):,}"
        return f"predicted {self.noun} {predicted:,.1f} ({known})"

    # --- helpers -----------------------------------------------------------------------
    def _scored(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        """The metrics of ``model`` on labelled ``rows`` through :meth:`predict`."""
        return self.metrics(rows[self.target].to_numpy(dtype=float), self.predict(model, rows))

    def _split(self, paths: ProjectPaths, valid_fraction: float, test_fraction: float
               ) -> tuple[pd.DataFrame, Any]:
        import pandas as pd

        from pipelines.tasks.article_models import article_split

        table = pd.read_parquet(paths.feature_table(self.table))
        return table, article_split(table, valid_fraction, test_fraction)


ARTICLE_POINTS = ArticleCountTask("points", owns_section=True)
ARTICLE_COMMENTS = ArticleCountTask("comments", owns_section=False)
