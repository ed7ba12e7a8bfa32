"""Settings of serving: the online test (``champion_challenger``), the API and batch scoring
(``serve``). Secrets (API keys) come from the environment, never from here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.config.errors import rule_error
from pipelines.config.names import FileFormat, ServableTask
from pipelines.config.section import Int, Number, OptionalText, Section, Text


class ChampionChallengerConfig(Section):
    """The online champion-challenger test (``champion_challenger``; the DAG runs daily).

    Outcomes count once matured (``features.maturity_hours``).
    """

    alpha: Number = Field(0.05, gt=0, lt=0.5, title="Error level (alpha)",
                          description="Chance of a wrong promotion or rollback over the "
                          "whole test, however many daily looks it takes (anytime-valid).")
    min_outcomes: Int = Field(200, ge=2, title="Minimum outcomes per arm",
                              description="Matured outcomes each arm needs before the test "
                              "may decide anything.")
    max_outcomes: Int = Field(20_000, ge=0, title="Maximum outcomes per arm",
                              description="With this many per arm and no decision, the test "
                              "ends inconclusive (0: never).")
    guardrail_margin: Number = Field(
        0.25, gt=0, title="Guardrail margin", description="Roll back at once if the "
        "challenger's mean loss is this much (relative, 0.25 = 25 %) above the champion's, "
        "significant or not.")
    mixture_sd: Number = Field(0.05, gt=0, title="Mixture sd",
                               description="Normal-mixture sd of the loss difference (log1p "
                               "units): the effect size the test is most sensitive to.")
    experiment: Text = Field("engageflow-champion-challenger", min_length=1,
                             title="MLflow experiment",
                             description="Experiment of the daily decisions.")

    @model_validator(mode="after")
    def _cap_above_minimum(self) -> ChampionChallengerConfig:
        if self.max_outcomes != 0 and self.max_outcomes < self.min_outcomes:
            raise rule_error("champion_challenger.max_outcomes",
                             "0 (no cap) or an int >= champion_challenger.min_outcomes",
                             self.max_outcomes)
        return self


class ServeConfig(Section):
    """``engageflow serve`` (the online API) and ``engageflow score`` / the batch_scoring
    DAG (``serve``). API keys come from ENGAGEFLOW_API_KEYS, never from here."""

    host: Text = Field("127.0.0.1", min_length=1, title="Bind address")
    port: Int = Field(8000, ge=1, le=65535, title="Port")
    routing: Literal["sticky", "thompson"] = Field(
        "sticky", title="Routing", description="sticky: hash of sticky_key; thompson: bandit "
        "on realized (matured) outcomes.")
    sticky_key: Literal["account_id", "post_id"] = Field("account_id", title="Sticky key")
    challenger_share: Number = Field(0.1, ge=0, le=1, title="Challenger share",
                                     description="sticky: share of keys answered by "
                                     "@challenger.")
    exploration_floor: Number = Field(0.05, ge=0, le=0.5, title="Exploration floor",
                                      description="thompson: least share of traffic every "
                                      "arm keeps.")
    reward_refresh_seconds: Number = Field(60, ge=0, title="Reward refresh (s)",
                                           description="thompson: how often rewards are "
                                           "re-read.")
    seed: Int = Field(0, ge=0, title="Seed", description="Seed of the Thompson sampler.")
    poll_seconds: Number = Field(10, ge=0, title="Alias poll (s)",
                                 description="How often the aliases are checked (hot "
                                 "reload); 0 = never.")
    tasks: tuple[ServableTask, ...] = Field(
        (), title="Served tasks", description="Tasks served beside the post API, each by "
        "POST /tasks/<task>/predict from its own registered model (register.model_name with "
        "{task} = the task), sticky by the task's serve_key with challenger_share.")
    max_body_bytes: Int = Field(1_000_000, ge=1_000, le=100_000_000, title="Max body bytes",
                                description="413 above this.")
    max_batch: Int = Field(256, ge=1, le=10_000, title="Max batch",
                           description="413 above this many posts (or task rows) in one "
                           "request.")
    future_tolerance_seconds: Number = Field(
        300, ge=0, le=86_400, title="Future tolerance (s)", description="How far after the "
        "server's clock a post's posted_at or an outcome's observed_at may be (clients' "
        "clocks run ahead): the row contract's as_of for a request is its arrival plus this.")
    log_batch_size: Int = Field(500, ge=1, le=100_000, title="Log batch size",
                                description="Prediction log: rows per insert (background "
                                "writer).")
    log_flush_seconds: Number = Field(0.5, ge=0, title="Log flush (s)")
    score_model_uri: Text = Field(
        "models:/engagement-{task}@champion", pattern=r"^models:/", title="Model URI",
        description="models:/NAME@ALIAS or models:/NAME/VERSION; {task} becomes train.task.",
        json_schema_extra={"rule": "a registry URI 'models:/NAME@ALIAS' or "
                                   "'models:/NAME/VERSION'"})
    score_input: OptionalText = Field(
        "", title="Input path", description="File or folder of rows to score (relative to "
        "the project or absolute). Leave empty to score the validated rows of the newest "
        "training run of the task (after `make run`: its demo posts; format canonical).")
    score_format: FileFormat = Field("canonical", title="Input format",
                                     description="Layout of the input files.")
    score_output: Text = Field(
        "data/07_scoring/predictions.parquet", min_length=1, title="Output path",
        description="Predictions Parquet; the quarantine is written beside it as "
        "*.quarantine.parquet.")
    score_chunk_rows: Int = Field(
        200_000, ge=1, le=100_000_000, title="Scoring chunk rows",
        description="Batch scoring: rows featurized and predicted at a time (whole "
        "accounts), so the features of a large file are never all in memory; a larger "
        "canonical Parquet file is also read in parts of about this many rows.")
    score_threads: Int = Field(
        0, ge=0, le=1024, title="Scoring threads",
        description="Batch scoring: threads the model predicts with; 0 = every CPU. A "
        "prediction does not depend on it.")
    auto_train: Literal["off", "sync", "airflow"] = Field(
        "sync", title="Auto-train", description="No model yet when a prediction arrives "
        "(503 meanwhile): sync = train in the server when the validated store is at most "
        "auto_train_max_rows, else (or with airflow) trigger engagement_training.")
    auto_train_max_rows: Int = Field(20_000, ge=1, title="Auto-train max rows")
    history_store: Literal["none", "feast"] = Field(
        "none", title="History store", description="Where a post model reads account history "
        "collected since its training (serving and batch scoring): none = only the history "
        "frozen at training; feast = the Feast online store the collection DAG materializes "
        "and POST /outcomes updates (docs/feature_store.md).")
    history_cache_seconds: Number = Field(
        30, ge=0, le=86_400, title="History cache (s)", description="Freshness bound of "
        "the in-process per-account history cache: a prediction uses an account's store "
        "history at most this old plus one background refresh (older answers keep serving "
        "while a background thread re-reads them; 0: read the store on every request).")
    airflow_url: OptionalText = Field("", title="Airflow URL",
                                      description="Airflow API server that auto_train "
                                      "triggers.")

    @model_validator(mode="after")
    def _each_task_once(self) -> ServeConfig:
        if len(set(self.tasks)) != len(self.tasks):
            raise rule_error("serve.tasks", "a list of distinct task names", list(self.tasks))
        return self

    @model_validator(mode="after")
    def _airflow_needs_a_url(self) -> ServeConfig:
        if self.auto_train == "airflow" and not self.airflow_url:
            raise rule_error("serve.airflow_url", "the Airflow API server URL when "
                             "serve.auto_train is 'airflow'", self.airflow_url)
        return self
