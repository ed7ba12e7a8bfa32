"""The player retention task: does a new player come back seven days after installing?

Players (``players`` entity: :mod:`pipelines.tasks.retention_data`) come from a seeded demo
generator or the Cookie Cats A/B test CSV. Inputs: the A/B arm, rounds played and 1-day
retention. Cookie Cats counts rounds over the first 14 days, so that count partly happens
after the 7-day outcome it predicts (a leak the docs report beside the rule without it).
The file has no time: the split is a seeded hash of the player id. Judged by log-loss
against the 1-day rule (the training 7-day rate of players with the same 1-day retention).

Light to import (no pandas or scikit-learn at module level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.base import GateSpec, InputSpec
from pipelines.tasks.binary_table_task import QUARANTINE_KEY, BinaryTableTask, Inputs, Loaded

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.collect.formats import ReadLimits
    from pipelines.paths import ProjectPaths


class RetentionSettings(BaseModel):
    """The ``player_retention`` section of params.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "file"] = Field(
        "demo", title="Player source",
        description="demo: seeded synthetic players; file: the Cookie Cats CSV at 'path'.")
    path: str | None = Field(None, title="Players CSV",
                             description="The players CSV for source=file, relative to the "
                                         "project root.")
    demo_rows: int = Field(20_000, ge=200, le=1_000_000, title="Demo players",
                           description="How many synthetic players source=demo makes.")
    seed: int = Field(42, ge=0, title="Data and split seed",
                      description="Seed of the synthetic players and of the hash that puts "
                                  "each player in a part (the file has no time).")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Share of players that picks the best "
                                              "candidate.")
    test_fraction: float = Field(0.2, gt=0, lt=1, title="Test share",
                                 description="Share of players no choice sees.")

    @model_validator(mode="after")
    def _consistent(self) -> RetentionSettings:
        if self.source == "file" and not self.path:
            raise ValueError("player_retention.path must name the players CSV when "
                             "player_retention.source is 'file'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"player_retention.valid_fraction + player_retention."
                             f"test_fraction must be at most 0.8; got {self.valid_fraction} "
                             f"+ {self.test_fraction}.")
        return self


class PlayerRetentionTask(BinaryTableTask):
    """Probability that a player is back seven days after installing."""

    name = "player_retention"
    input = InputSpec(entity="players", key=("player_id",), time_column="file_row",
                      row_suite="expectations/players_row_contract.json",
                      table_suite="expectations/players_table_contract.json")
    table = "players"
    table_key = ("player_id",)
    table_time_column = "file_row"
    target = "retention_7"
    gate = GateSpec(primary="log_loss", guards=("roc_auc", "brier"),
                    first_model_bounds={"roc_auc": ("min", 0.6)}, baseline="1-day rule")
    # A model must not trade one arm's calibration for the other's.
    slice_column = "arm"
    noun = "probability of 7-day retention"
    settings_model = RetentionSettings
    request_suite = "expectations/players_row_contract.json"
    serve_key = "player_id"
    inputs = Inputs({"arm": "object", "sum_gamerounds": "int64", "retention_1": "int64"},
                    ("sum_gamerounds",), ("retention_1",), {"arm": ("gate_30", "gate_40")})

    def load(self, paths: ProjectPaths, section: RetentionSettings, *,
             limits: ReadLimits) -> Loaded:
        from pipelines.tasks import retention_data
        from pipelines.validate.entity_contract import quarantine_frame

        if section.source == "demo":
            rows = retention_data.generate_players(section.demo_rows, section.seed)
            return Loaded(rows, quarantine_frame([], QUARANTINE_KEY), len(rows),
                          f"demo(rows={section.demo_rows}, seed={section.seed})")
        return retention_data.read_cookie_cats(paths.resolve(section.path), limits=limits)

    def build_table(self, rows: pd.DataFrame, section: RetentionSettings
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        from pipelines.tasks.retention_data import player_table

        table, split = player_table(rows, seed=section.seed,
                                    valid_fraction=section.valid_fraction,
                                    test_fraction=section.test_fraction)
        return table, {"rows": len(table), "key": list(self.table_key),
                       "target": self.target, "input_columns": list(self.inputs.dtypes),
                       "split": split}

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The 1-day rule: the training 7-day retention of players with the same 1-day
        retention (the base rate where training had none)."""
        rates = train.groupby("retention_1")[self.target].mean()
        base = float(train[self.target].mean())
        return test["retention_1"].map(rates).fillna(base).to_numpy(dtype=float)


PLAYER_RETENTION = PlayerRetentionTask()
