"""The per-ad rate tasks: an ad's click-through rate (``ad_rates``: clicks per impression)
and its conversion rate (``ad_conversion_rates``: conversions per impression), from the
campaign and the audience it targets (age range, gender, interest).

One class, two instances (as :mod:`pipelines.tasks.post_counts` does for likes, comments
and shares). Ads (``ads`` entity: :mod:`pipelines.tasks.ad_rates_data`) come from a seeded
demo generator or the Kaggle Facebook-ads CSV. A model learns the rate as a binomial
(:class:`pipelines.tasks.ad_rates_training.BinomialRateModel`) and is judged per
impression: the gate weighs each ad by its impressions (:attr:`AdRateTask.weight_column`)
and decides on the binomial log-loss against the global training rate; the campaigns are
its slices. Each campaign with enough training ads may also get its own model, kept only
where it beats the global model on that campaign's validation ads through the gate
(:class:`pipelines.tasks.ad_rates_training.CampaignRateModels`); every answer's
``model_status`` says which level answered. Conversions are counted per impression, not
per click: the Kaggle file has more conversions than clicks for 218 of its 1,143 ads
(conversions are attributed to views too), so conversions per click is not a share of
trials.

Light to import (no pandas or scikit-learn at module level).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipelines.tasks.ad_vocabulary import AGES, CAMPAIGNS, GENDERS, INTERESTS
from pipelines.tasks.base import GateSpec, InputSpec
from pipelines.tasks.binary_table_task import QUARANTINE_KEY, BinaryTableTask, Inputs, Loaded

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipelines.collect.formats import ReadLimits
    from pipelines.config import Settings
    from pipelines.paths import ProjectPaths


#: The families a rate task fits (names in ``train.models``; ad_rates_training fits them).
RATE_FAMILIES: tuple[str, ...] = ("logistic_regression", "lightgbm")
class AdRatesSettings(BaseModel):
    """The ``ad_rates`` section of params.yaml (click-through rate per ad)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["demo", "file"] = Field(
        "demo", title="Ad source",
        description="demo: seeded synthetic ads; file: the Facebook-ads CSV at 'path'.")
    path: str | None = Field(None, title="Ads CSV",
                             description="KAG_conversion_data.csv for source=file, relative "
                                         "to the project root.")
    demo_rows: int = Field(3_000, ge=100, le=1_000_000, title="Demo ads",
                           description="How many synthetic ads source=demo makes.")
    seed: int = Field(42, ge=0, title="Data and split seed",
                      description="Seed of the synthetic ads and of the hash that puts each "
                                  "ad in a part (the file has no meaningful time).")
    valid_fraction: float = Field(0.15, gt=0, lt=1, title="Validation share",
                                  description="Share of ads that picks the best candidate.")
    test_fraction: float = Field(0.2, gt=0, lt=1, title="Test share",
                                 description="Share of ads no choice sees.")
    campaign_min_samples: int = Field(
        30, ge=1, title="Campaign model minimum",
        description="Training ads a campaign needs before a campaign model may be trained "
                    "(kept only if it beats the global model on the campaign's validation "
                    "ads through the promotion gate).")
    campaign_min_holdout: int = Field(
        20, ge=2, title="Campaign gate minimum",
        description="Validation ads of a campaign the gate needs before it may keep the "
                    "campaign's model (fewer: the global model answers).")
    campaign_shrinkage: float = Field(
        30.0, gt=0, title="Campaign shrinkage k",
        description="A campaign model's rate counts with weight n / (n + k) against the "
                    "global model's (n: the campaign's training ads).")

    @model_validator(mode="after")
    def _consistent(self) -> AdRatesSettings:
        if self.source == "file" and not self.path:
            raise ValueError("path must name the ads CSV when source is 'file'; got none.")
        if self.valid_fraction + self.test_fraction > 0.8:
            raise ValueError(f"valid_fraction + test_fraction must be at most 0.8; got "
                             f"{self.valid_fraction} + {self.test_fraction}.")
        return self


class AdConversionRatesSettings(AdRatesSettings):
    """The ``ad_conversion_rates`` section of params.yaml (conversions per impression)."""


class AdRateTask(BinaryTableTask):
    """The rate of ``successes`` per ``trials`` of one ad."""

    problem = "rate"
    input = InputSpec(entity="ads", key=("ad_id",), time_column="file_row",
                      row_suite="expectations/ads_row_contract.json",
                      table_suite="expectations/ads_table_contract.json")
    table = "ads"
    table_key = ("ad_id",)
    table_time_column = "file_row"
    selection_metric = "rate_log_loss"
    gate = GateSpec(primary="rate_log_loss", guards=("rate_brier", "spearman"),
                    first_model_bounds={"spearman": ("min", 0.1)}, baseline="global rate")
    # A model must not buy one campaign's log-loss with another's.
    slice_column = "campaign"
    weight_column = "impressions"
    request_suite = "expectations/ads_row_contract.json"
    serve_key = "ad_id"
    inputs = Inputs({"campaign": "object", "age": "object", "gender": "object",
                     "interest": "int64"}, (), (),
                    {"campaign": CAMPAIGNS, "age": AGES, "gender": GENDERS,
                     "interest": tuple(str(i) for i in INTERESTS)})

    def __init__(self, name: str, *, successes: str, target: str, noun: str,
                 settings_model: type[AdRatesSettings]) -> None:
        self.name = name
        self.successes = successes
        self.trials = "impressions"
        self.target = target
        self.noun = noun
        self.settings_model = settings_model
        self.families = RATE_FAMILIES
        self.default_models = RATE_FAMILIES

    def load(self, paths: ProjectPaths, section: AdRatesSettings, *,
             limits: ReadLimits) -> Loaded:
        from pipelines.tasks import ad_rates_data
        from pipelines.validate.entity_contract import quarantine_frame

        if section.source == "demo":
            rows = ad_rates_data.generate_ads(section.demo_rows, section.seed)
            return Loaded(rows, quarantine_frame([], QUARANTINE_KEY), len(rows),
                          f"demo(rows={section.demo_rows}, seed={section.seed})")
        return ad_rates_data.read_facebook_ads(paths.resolve(section.path), limits=limits)

    def build_table(self, rows: pd.DataFrame, section: AdRatesSettings
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        from pipelines.tasks.ad_rates_data import ad_table

        table, split = ad_table(rows, successes=self.successes, trials=self.trials,
                                target=self.target, seed=section.seed,
                                valid_fraction=section.valid_fraction,
                                test_fraction=section.test_fraction)
        return table, {"rows": len(table), "key": list(self.table_key),
                       "target": self.target, "weight": self.weight_column,
                       "input_columns": list(self.inputs.dtypes), "split": split}

    def stage_sections(self, stage: str) -> tuple[str, ...]:
        """The train stage gates campaign models with ``promote``."""
        return ("promote",) if stage == "train" else ()

    def train(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """:func:`pipelines.tasks.ad_rates_training.train_rate_models`."""
        from pipelines.tasks.ad_rates_training import train_rate_models

        section = self.section(settings)
        return train_rate_models(self, paths, settings,
                                 min_samples=section.campaign_min_samples,
                                 min_holdout=section.campaign_min_holdout,
                                 shrinkage=section.campaign_shrinkage)

    def evaluate(self, paths: ProjectPaths, settings: Settings) -> dict[str, Any]:
        """:func:`pipelines.tasks.ad_rates_training.evaluate_rate_models`."""
        from pipelines.tasks.ad_rates_training import evaluate_rate_models

        return evaluate_rate_models(self, paths)

    def baseline(self, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        """The global rate: the training part's pooled rate (successes / trials), the same
        for every ad."""
        import numpy as np

        rate = float(train[self.successes].sum() / train[self.trials].sum())
        return np.full(len(test), rate)

    def metrics(self, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
        """Metrics with every ad weighing the same (this hook gets no weights: realized
        performance and the registry's champion comparison use it); the stages and the
        gate weigh ads by impressions
        (:func:`pipelines.tasks.ad_rates_training.weighted_rate_metrics`)."""
        import numpy as np

        from pipelines.tasks.ad_rates_training import weighted_rate_metrics

        return weighted_rate_metrics(actual, predicted, np.ones(len(actual)))

    def answers(self, model: Any, rows: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """The rate and a ``model_status`` per row
        (:func:`pipelines.tasks.ad_rates_training.rate_answers`)."""
        from pipelines.tasks.ad_rates_training import rate_answers

        return rate_answers(model, self.model_input(rows), self.predict(model, rows))

    def featurizer(self) -> Any:
        """The unfitted featurizer of the input columns (one-hot over fixed levels)."""
        return self._featurizer()

    def describe(self, predicted: float, actual: Any) -> str:
        import pandas as pd

        known = "not known yet" if pd.isna(actual) else f"actual {actual:.4%}"
        return f"predicted {self.noun} {predicted:.4%} ({known})"

    def metric_columns(self) -> tuple[str, ...]:
        return (self.selection_metric, *self.gate.guards, "normalized_entropy")


AD_RATES = AdRateTask("ad_rates", successes="clicks", target="click_rate",
                      noun="click-through rate", settings_model=AdRatesSettings)
AD_CONVERSION_RATES = AdRateTask("ad_conversion_rates", successes="conversions",
                                 target="conversion_rate", noun="conversions per impression",
                                 settings_model=AdConversionRatesSettings)
