"""The account churn task: will an active account go quiet for ``horizon_days`` or more?

Daily account activity (``account_days`` entity: :mod:`pipelines.tasks.churn_data`) comes
from a seeded demo generator or the IRA followers daily CSV; the training table is one row
per (active account, cut-off) at rolling cut-offs with features from before the cut-off
only, the label from the horizon after it, censored pairs left out and counted, and a split
by cut-off with purging (:mod:`pipelines.tasks.churn_features`). Models are the binary
families judged by log-loss against the recency rule: the training churn rate of accounts
last active as many days ago.

Light to import (no pandas or scikit-learn at module level).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.base import GateSpec, InputSpec
from pipelines.tasks.binary_table_task import QUARANTINE_KEY, BinaryTableTask, Inputs, Loaded

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.collect.formats import ReadLimits
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: Bucket edges (days since the last activity) of the recency rule.
RECENCY_EDGES: tuple[int, ...] = (0, 1, 2, 4, 8, 15, 22, 31, 61)


class ChurnSettings(BaseModel):
    """The ``account_churn`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "file"] = Field(
        "demo", title="Activity source",
        description="demo: seeded synthetic daily activity; file: the IRA followers daily "
                    "CSV at 'path'.")
    path: str | None = Field(
        None, title="Daily activity CSV",
        description="The daily activity CSV (.csv or .csv.gz) for source=file, relative to "
                    "the project root.")
    demo_accounts: int = Field(600, ge=20, le=100_000, title="Demo accounts",
                               description="How many synthetic accounts source=demo makes.")
    demo_days: int = Field(730, ge=120, le=3650, title="Demo days",
                           description="Days of synthetic activity.")
    seed: int = Field(42, ge=0, title="Demo data seed",
                      description="Seed of the synthetic activity (the model seed is "
                                  "train.seed).")
    horizon_days: int = Field(
        30, ge=1, le=365, title="Churn horizon (days)",
        description="An account is churned at a cut-off when it has no activity in this "
                    "many days after it; accounts observed for less are censored.")
    spacing_days: int = Field(14, ge=1, le=365, title="Cut-off spacing (days)",
                              description="Days between rolling cut-offs.")
    active_within_days: int = Field(
        30, ge=1, le=365, title="Active within (days)",
        description="An account is scored at a cut-off when it was active this recently.")
    history_days: int = Field(60, ge=1, le=3650, title="History before the first cut-off",
                              description="The first cut-off is this many days after the "
                                          "first day in the data.")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Share of rows, from the cut-offs before the "
                                              "test ones, that picks the best candidate.")
    test_fraction: float = Field(0.2, gt=0, lt=1, title="Test share",
                                 description="Share of rows from the newest cut-offs that no "
                                             "choice sees.")

    @model_validator(mode="after")
    def _consistent(self) -> ChurnSettings:
        if self.source == "file" and not self.path:
            raise ValueError("account_churn.path must name the daily activity CSV when "
                             "account_churn.source is 'file'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"account_churn.valid_fraction + account_churn.test_fraction "
                             f"must be at most 0.8; got {self.valid_fraction} + "
                             f"{self.test_fraction}.")
        return self


class AccountChurnTask(BinaryTableTask):
    """Probability that an active account has no activity in the next horizon."""

    name = "account_churn"
    input = InputSpec(entity="account_days", key=("account_id", "date"), time_column="date",
                      row_suite="expectations/account_days_row_contract.json",
                      table_suite="expectations/account_days_table_contract.json")
    table = "account_snapshots"
    table_key = ("account_id", "cutoff")
    table_time_column = "cutoff"
    target = "churned"
    gate = GateSpec(primary="log_loss", guards=("roc_auc", "brier"),
                    first_model_bounds={"roc_auc": ("min", 0.6)}, baseline="recency rule")
    slice_column = None
    noun = "probability of churn"
    settings_model = ChurnSettings
    request_suite = "expectations/account_snapshots_request_contract.json"
    serve_key = "account_id"

    @property
    def inputs(self) -> Inputs:  # type: ignore[override]
        from pipelines.tasks.churn_data import CATEGORIES
        from pipelines.tasks.churn_features import LOG_COLUMNS, PLAIN_COLUMNS, SNAPSHOT_COLUMNS

        return Inputs(dict(SNAPSHOT_COLUMNS), LOG_COLUMNS, PLAIN_COLUMNS,
                      {"category": CATEGORIES})

    def load(self, paths: ProjectPaths, section: ChurnSettings, *,
             limits: ReadLimits) -> Loaded:
        from pipelines.tasks import churn_data
        from pipelines.validate.entity_contract import quarantine_frame

        if section.source == "demo":
            rows = churn_data.generate_account_days(section.demo_accounts, section.demo_days,
                                                    section.seed)
            return Loaded(rows, quarantine_frame([], QUARANTINE_KEY), len(rows),
                          f"demo(accounts={section.demo_accounts}, days={section.demo_days}, "
                          f"seed={section.seed})")
        return churn_data.read_ira_daily(paths.resolve(section.path), limits=limits)

    def build_table(self, rows: pd.DataFrame, section: ChurnSettings
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        from pipelines.tasks.churn_features import snapshots, split_by_cutoff

        table, counts = snapshots(rows, horizon_days=section.horizon_days,
                                  spacing_days=section.spacing_days,
                                  active_within_days=section.active_within_days,
                                  history_days=section.history_days)
        table, split = split_by_cutoff(table, horizon_days=section.horizon_days,
                                       valid_fraction=section.valid_fraction,
                                       test_fraction=section.test_fraction)
        return table, {"rows": len(table), "key": list(self.table_key),
                       "time_column": self.table_time_column, "target": self.target,
                       "input_columns": list(self.inputs.dtypes),
                       "horizon_days": section.horizon_days, "snapshots": counts,
                       "split": split}

    def monitored_rows(self, paths: ProjectPaths) -> pd.DataFrame:
        """The account snapshots of the feature table (what the model scores), with each
        cut-off also as ``date``: drift is judged on snapshots, not on raw account-days.

        Raises:
            ValueError: if the feature table does not exist, naming it.
        """
        import pandas as pd

        path = paths.feature_table(self.table)
        if not path.is_file():
            raise ValueError(f"{self.name}.monitored_rows: the snapshot table {path} does not "
                             f"exist; run `engageflow features --set train.task={self.name}` "
                             f"first.")
        table = pd.read_parquet(path)
        return table.assign(**{self.input.time_column: table[self.table_time_column]})

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The recency rule: the training churn rate of accounts whose last activity was
        as many days ago (buckets :data:`RECENCY_EDGES`), the training base rate for a
        bucket training never saw."""
        import numpy as np
        import pandas as pd

        def bucket(rows: pd.DataFrame) -> np.ndarray:
            return np.searchsorted(RECENCY_EDGES, rows["days_since_last_activity"].to_numpy(),
                                   side="right")

        rates = pd.Series(train[self.target].to_numpy(float)).groupby(bucket(train)).mean()
        base = float(train[self.target].mean())
        return pd.Series(bucket(test)).map(rates).fillna(base).to_numpy(dtype=float)


ACCOUNT_CHURN = AccountChurnTask()
