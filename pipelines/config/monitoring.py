"""Settings of the drift_monitoring DAG (``monitor``; docs/drift.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from pipelines.config.errors import rule_error
from pipelines.config.names import Notifier
from pipelines.config.section import Int, Number, OptionalText, Section, Text


class MinEffect(Section):
    """``monitor.min_effect``: threshold floors, the smallest effect worth retraining for."""

    wasserstein: Number = Field(0.1, gt=0, title="Wasserstein",
                                description="Distance in reference standard deviations "
                                "(numeric).")
    psi: Number = Field(0.1, gt=0, title="PSI",
                        description="Population stability index (few-valued numeric).")
    jensenshannon: Number = Field(0.1, gt=0, title="Jensen-Shannon",
                                  description="Jensen-Shannon distance (categorical).")


class MonitorConfig(Section):
    """The window, calibrated thresholds, budgets and notifier of the drift check."""

    model_alias: Text = Field("champion", min_length=1, title="Model alias",
                              description="The model watched; its training-data sample is "
                              "the reference.")
    window_days: Int = Field(14, ge=1, le=366, title="Window (days)",
                             description="Days of validated posts judged, ending at the "
                             "window end (two weeks: the demo data hold ~75 posts a week, "
                             "fewer than the minimum, so one week could never be judged).")
    window_end: OptionalText = Field(
        "", title="Window end", description="Leave empty for the latest data: the run's "
        "data interval end, or the day after the newest row when the data ends earlier "
        "(the demo data of `make run`). Or a date (YYYY-MM-DD) to judge another window.",
        json_schema_extra={"rule": "empty (the latest data) or a date like 2022-04-01",
                           "format": "date"})
    min_rows: Int = Field(100, ge=1, title="Minimum posts",
                          description="Fewer posts in the window: no verdict, no retraining.")
    drift_share: Number = Field(0.3, gt=0, le=1, title="Drift share budget",
                                description="Dataset drift when at least this share of the "
                                "model's features drifted.")
    min_effect: MinEffect = Field(
        default_factory=MinEffect, title="Minimum effects",
        description="Threshold floor per method; calibrated thresholds never go below them.")
    chunks: Int = Field(10, ge=2, le=100, title="Calibration chunks",
                        description="The reference is split in this many time-ordered "
                        "chunks; the window, for performance estimates, in at most this "
                        "many of at least min_outcomes rows.")
    quantile: Number = Field(0.95, gt=0, le=1, title="Calibration quantile",
                             description="Threshold = max(min_effect, this quantile of "
                             "chunk-vs-rest scores × safety_factor).")
    safety_factor: Number = Field(1.5, ge=1, title="Safety factor")
    calibration_rows: Int = Field(100_000, ge=1, title="Calibration rows")
    max_error_increase: Number = Field(
        0.15, ge=0, title="Error budget", description="Retrain when the realized loss (the "
        "task's gate metric: mae_log, log_loss, ...) or, before outcomes mature, the "
        "estimated loss exceeds the offline test loss by more than this.")
    min_outcomes: Int = Field(100, ge=1, title="Minimum outcomes",
                              description="Fewer matured outcomes: performance reported, "
                              "not judged.")
    report_rows: Int = Field(5000, ge=1, title="Report rows",
                             description="Rows per side in the Evidently HTML report (the "
                             "decision uses all).")
    text_rows: Int = Field(500, ge=2, le=1000, title="Texts embedded",
                           description="Texts per side (a seeded sample) embedded for the "
                           "embedding drift of a task with a text column (at most 1000: "
                           "Evidently's MMD width rule).")
    embedding_permutations: Int = Field(200, ge=10, le=10_000, title="Permutations",
                                        description="Relabellings of the embedding drift's "
                                        "permutation test (its threshold).")
    min_mmd: Number = Field(0.01, ge=0, title="Minimum MMD²",
                            description="Embedding drift threshold floor: the smallest "
                            "MMD² called drift.")
    seed: Int = Field(42, ge=0, title="Seed")
    notifier: Notifier = Field("log", title="Notifier",
                               description="Where alerts go: log, webhook (Slack-compatible) "
                               "or email.")
    webhook_url_env: Text = Field(
        "ENGAGEFLOW_ALERT_WEBHOOK_URL", min_length=1, title="Webhook URL variable",
        description="Environment variable holding the webhook URL (a secret: never in "
        "params).")
    smtp_host: Text = Field("localhost", min_length=1, title="SMTP host")
    smtp_port: Int = Field(25, ge=1, le=65535, title="SMTP port")
    email_from: Text = Field("engageflow@localhost", min_length=1, title="Email sender")
    email_to: tuple[Text, ...] = Field((), title="Email recipients",
                                       description="Required when the notifier is email.")

    @field_validator("window_end", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2022-04-01 as a date
        return value.isoformat() if isinstance(value, date) else value

    @field_validator("window_end")
    @classmethod
    def _a_date(cls, value: str) -> str:
        if value:
            datetime.fromisoformat(value)   # ValueError: not a date
        return value

    @model_validator(mode="after")
    def _email_needs_recipients(self) -> MonitorConfig:
        if self.notifier == "email" and not self.email_to:
            raise rule_error("monitor.email_to", "a non-empty list when monitor.notifier is "
                             "'email'", list(self.email_to))
        return self
