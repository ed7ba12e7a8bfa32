"""Settings of training and its gate: ``train``, ``register``, ``segments``, ``promote``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pipelines.config.errors import rule_error
from pipelines.config.names import ModelName, TaskName
from pipelines.config.section import Flag, Int, Number, Section, Text
from pipelines.tasks import get_task


class LightGBMParams(Section):
    """``train.lightgbm``: small trees, slow learning (the demo set has ~3k training rows)."""

    n_estimators: Int = Field(500, ge=1, le=100_000, title="Trees")
    learning_rate: Number = Field(0.02, gt=0, le=1, title="Learning rate")
    num_leaves: Int = Field(7, ge=2, le=131_072, title="Leaves per tree")
    min_child_samples: Int = Field(50, ge=1, title="Rows per leaf")
    subsample: Number = Field(0.8, gt=0, le=1, title="Row subsample")
    subsample_freq: Int = Field(1, ge=0, title="Subsample every k trees")
    colsample_bytree: Number = Field(0.8, gt=0, le=1, title="Column subsample")


class RidgeParams(Section):
    """``train.ridge``."""

    alpha: Number = Field(1.0, ge=0, title="L2 penalty")


class ScaleRelativeParams(Section):
    """``train.scale_relative``: the scale plane every post count model learns relative to
    (:class:`pipelines.train.scale_relative.ScaleRelative`; docs/quality.md)."""

    max_slope: Number = Field(
        1.5, ge=0, le=5, title="Largest scale slope",
        description="Bound of each platform's slopes: log-likes per log-follower in "
        "[0, max_slope], per log-posting-rate in [-max_slope, 0].")
    prior_posts: Number = Field(
        5.0, gt=0, le=10_000, title="Prior posts",
        description="How many matured posts the scale plane weighs in an account's anchor: "
        "(n·own mean + prior_posts·plane) / (n + prior_posts).")
    max_extrapolation: Number = Field(
        1000.0, ge=1, le=1e9, title="Extrapolation reach",
        description="How many times beyond the training accounts' follower range the plane "
        "still extrapolates (flat beyond).")
    headroom: Number = Field(
        10.0, ge=1, le=1e6, title="Residual headroom",
        description="Residual predictions stay within the training residuals' range widened "
        "by log(headroom) on each side.")


#: The models whose hyperparameters have a sub-section of ``train``.
HYPERPARAMETER_SECTIONS: tuple[str, ...] = ("lightgbm", "ridge")


class TrainConfig(Section):
    """What to learn and how (``train``)."""

    task: TaskName = Field(
        "likes", title="Task", description="What to predict (pipelines/tasks): likes, "
        "comments or shares of a post (log1p regression), follower_growth (next period's "
        "growth of log1p followers), conversion (does a browsing session end in a "
        "purchase). Each task has its own registered model.")
    models: tuple[ModelName, ...] = Field(
        (), title="Candidate models", description="Model families to train; empty: the "
        "task's default families (what pays on real data: docs/quality.md). Each task "
        "accepts its own families only.")
    cv_folds: Int = Field(
        5, ge=0, title="CV folds", description="Expanding-window time-series CV on the "
        "training part (0: none).",
        json_schema_extra={"rule": "0 (no cross-validation) or an int >= 2"})
    seed: Int = Field(42, ge=0, title="Training seed", description="Seed of every estimator.")
    valid_fraction: Number = Field(0.15, ge=0.05, le=0.5, title="Validation fraction",
                                   description="Share of posts (before the test part) the "
                                   "candidates are chosen on.")
    test_fraction: Number = Field(0.15, ge=0.05, le=0.5, title="Test fraction",
                                  description="Newest share of posts held out for testing.")
    cold_account_fraction: Number = Field(
        0.2, ge=0, le=0.5, title="Held-out accounts",
        description="Share of accounts (a fixed hash of the account id) held out of "
        "training entirely, so validation, the gate and the summary see posts of accounts "
        "the model never met (the cold regime). 0: no cold regime. The final refit learns "
        "from every account.")
    history_dropout: Number = Field(
        1.0, ge=0, le=1, title="History dropout",
        description="Share of training accounts whose posts are also learned as if the "
        "account were new (no matured history), so the model meets cold starts in "
        "training. 0: off.")
    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams, title="LightGBM")
    ridge: RidgeParams = Field(default_factory=RidgeParams, title="Ridge")
    scale_relative: ScaleRelativeParams = Field(default_factory=ScaleRelativeParams,
                                                title="Scale-relative target")

    @field_validator("cv_folds")
    @classmethod
    def _no_single_fold(cls, value: int) -> int:
        if value == 1:
            raise ValueError("one fold is no cross-validation")
        return value

    @model_validator(mode="after")
    def _models_of_the_task(self) -> TrainConfig:
        families = get_task(self.task).families
        if any(m not in families for m in self.models):
            raise rule_error("train.models", f"empty or models that can learn task "
                             f"{self.task!r}: {list(families)}", list(self.models))
        return self

    @property
    def hyperparameters(self) -> dict[str, dict[str, Any]]:
        """Hyperparameters by model family from the sub-sections (a family without one
        takes its defaults)."""
        return {m: getattr(self, m).model_dump() for m in HYPERPARAMETER_SECTIONS}


class RegisterConfig(Section):
    """Where the chosen model is tracked and registered (``register``)."""

    model_name: Text = Field(
        "engagement-{task}", pattern=r"^([A-Za-z0-9_-]|\{task\})+$",
        title="Registered model name", description="MLflow registered model that receives "
        "the versions; {task} becomes train.task.",
        json_schema_extra={"rule": "letters, digits, '-' or '_' (and '{task}', replaced by "
                                   "train.task)"})
    experiment: Text = Field("engageflow", min_length=1, title="MLflow experiment",
                             description="Experiment of the training runs.")


class SegmentsConfig(Section):
    """Per-platform and per-campaign models with fallback (``segments``; docs/segments.md)."""

    enabled: Flag = Field(True, title="Segment models",
                          description="Train platform and segment models after the global "
                          "one.")
    key: Literal["campaign_id", "account_id"] = Field(
        "campaign_id", title="Segment key", description="The most specific level.")
    min_samples: Int = Field(20, ge=2, title="Minimum training rows",
                             description="Labelled training rows a platform/segment needs "
                             "for its own model.")
    min_holdout: Int = Field(10, ge=2, title="Minimum holdout rows",
                             description="Holdout rows it needs before the gate may say it "
                             "beats the level above.")
    retrain_after: Int = Field(50, ge=2, title="Retrain after",
                               description="New labelled posts since its model's training "
                               "that trigger a retrain.")
    only: tuple[Text, ...] = Field(
        (), title="Segments to retrain", description="Platform / campaign models to "
        "(re)train, e.g. platform=instagram or campaign=spring-sale. Empty: every segment "
        "due (enough new labelled posts) or without a model yet.",
        json_schema_extra={"rule": "a list of segment keys such as 'platform=instagram' or "
                                   "'campaign=spring-sale'"})

    @field_validator("only")
    @classmethod
    def _segment_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(k != "global" and "=" not in k for k in value):
            raise ValueError("not a segment key")
        return value


class PromoteConfig(Section):
    """The offline promotion gate (``promote``; docs/promotion.md)."""

    confidence: Number = Field(0.95, ge=0.5, lt=1, title="Confidence",
                               description="Level of the two-sided paired-bootstrap "
                               "interval.")
    resamples: Int = Field(2000, ge=100, le=100_000, title="Bootstrap resamples")
    bootstrap_unit: Literal["row", "account"] = Field(
        "row", title="Bootstrap unit", description="row, or account (resample whole "
        "accounts, whose posts' errors are correlated: wider, more honest intervals).")
    min_delta: Number = Field(0.0, ge=0, title="Minimum improvement",
                              description="Promote only if the improvement's lower bound "
                              "exceeds this (metric units).")
    non_inferiority_margin: Number = Field(
        0.05, ge=0, lt=1, title="Non-inferiority margin",
        description="RELATIVE: the worst interval end of a secondary metric or a slice at "
        "most this much worse than the champion's (0.05 = 5 %).")
    min_slice_rows: Int = Field(100, ge=1, title="Minimum slice rows",
                                description="Slices with fewer holdout rows are reported, "
                                "not gated.")
    seed: Int = Field(0, ge=0, title="Bootstrap seed")
    min_baseline_improvement: Number = Field(
        0.0, title="Min improvement over the naive baseline",
        description="Every challenger's lower bound of improvement over the task's naive "
        "baseline (e.g. the account median) must exceed this, whatever the champion does.")
