"""Settings of the data stages: ``collect``, ``collect_daily``, ``validate``, ``features``.

The defaults equal params.yaml (a test loads the file and compares), which stays the full,
commented list a user edits.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from pipelines.config.errors import rule_error
from pipelines.config.names import API_SOURCES, DailySource, FileFormat
from pipelines.config.section import Flag, Int, Number, OptionalText, Section, Text


class CollectConfig(Section):
    """Where the training DAG's posts come from (``collect``)."""

    source: Literal["demo", "file", "validated"] = Field(
        "demo", title="Source", description="demo: seeded generator; file: read the path in "
        "the format; validated: the validated store. Runs started by new validated data "
        "always train on the validated store.")
    path: OptionalText = Field(
        "", title="Input path", description="File or folder to read when the source is "
        "'file' (relative to the project or absolute).")
    format: FileFormat = Field(
        "canonical", title="Input format", description="Layout of the input files "
        "(see `engageflow collect --help`).")
    demo_rows: Int = Field(4000, ge=1, le=10_000_000, title="Demo rows",
                           description="Posts to generate when the source is 'demo'.")
    demo_accounts: Int = Field(60, ge=1, le=1_000_000, title="Demo accounts",
                               description="Accounts the demo posts are spread over.")
    seed: Int = Field(42, ge=0, title="Data seed", description="Seed of the demo generator.")
    max_file_mb: Int = Field(
        1024, ge=1, le=1_048_576, title="Max file size (MiB)",
        description="Largest input file one read takes, and largest decompressed .gz "
        "content; a larger file is refused (a link to a device can never fill memory).")
    max_columns: Int = Field(
        500, ge=16, le=100_000, title="Max columns",
        description="Most columns one input file may have (CSV header, Parquet schema, keys "
        "over a JSON file); more refuse the file at once.")
    max_json_depth: Int = Field(
        64, ge=2, le=500, title="Max JSON depth",
        description="Deepest nesting of arrays/objects in one JSON record; a deeper record "
        "is quarantined (json_depth), its neighbours kept.")
    chunk_rows: Int = Field(
        100_000, ge=1, le=10_000_000, title="CSV chunk rows",
        description="CSV records parsed and mapped at a time: bounds the memory of a read "
        "beyond its output (docs/collecting.md).")

    @model_validator(mode="after")
    def _file_needs_a_path(self) -> CollectConfig:
        if self.source == "file" and not self.path:
            raise rule_error("collect.path", "a file or folder when collect.source is 'file'",
                             self.path)
        return self


class CollectDailyConfig(Section):
    """The engagement_collect DAG: which sources feed one partition per logical date
    (``collect_daily``). API tokens come from the environment or Connections."""

    sources: tuple[DailySource, ...] = Field(
        ("demo",), min_length=1, title="Sources", description="Where the day's posts come "
        "from ('file' reads collect.path in collect.format). API sources need accounts and "
        "a token (environment or Connection).")
    demo_rows: Int = Field(300, ge=1, le=1_000_000, title="Demo posts per day",
                           description="Posts the 'demo' source generates for the day.")
    api_accounts: dict[str, tuple[Text, ...]] = Field(
        default_factory=dict, title="API accounts",
        description='Accounts per API, e.g. {"x": ["2244994945"]}.')
    api_base_urls: dict[str, Text] = Field(
        default_factory=dict, title="API base URLs",
        description="Only to point a client elsewhere (tests, proxies).")
    lookback_hours: Number = Field(
        48, ge=0, title="Lookback (hours)",
        description="API sources re-read this far back: recent counts still grow.")

    @model_validator(mode="after")
    def _apis_need_accounts(self) -> CollectDailyConfig:
        for api in self.sources:
            if api in API_SOURCES and not self.api_accounts.get(api):
                raise rule_error(f"collect_daily.api_accounts.{api}",
                                 f"a non-empty list of account ids when '{api}' is a source",
                                 self.api_accounts.get(api))
        return self


class ValidateConfig(Section):
    """The data contract's suites and the dataset-level gate (``validate``)."""

    suite: Text = Field("expectations/posts_row_contract.json", min_length=1,
                        title="Row contract", description="Row-level expectation suite.")
    table_suite: Text = Field("expectations/posts_table_contract.json", min_length=1,
                              title="Table contract",
                              description="Table-level expectation suite.")
    min_rows: Int = Field(100, ge=1, title="Minimum rows",
                          description="Fewer accepted rows fail the run.")
    max_quarantine_rate: Number = Field(
        0.05, ge=0, le=1, title="Max quarantine rate",
        description="Largest share of all rows in quarantine (parse rejects + failed rules).")
    max_platform_share: Number = Field(
        1.0, gt=0, le=1, title="Max platform share",
        description="Largest share of accepted rows one platform may hold (1 allows "
        "single-platform data; e.g. 0.6 demands a mix).")
    max_null_rate: dict[str, Annotated[Number, Field(ge=0, le=1)]] = Field(
        default_factory=dict, title="Max null rates",
        description="Optional column → largest share of nulls, e.g. {caption: 0.2}.")
    min_quality_score: Number = Field(
        60, ge=0, le=100, title="Minimum quality score",
        description="0-100: mean of validity, completeness and uniqueness.")


class FeatureSettings(Section):
    """Which feature groups to build (``features``).

    ``maturity_hours`` is the one definition of a matured outcome: account history uses an
    outcome only once its post is this old, and so do realized performance, the online
    champion-challenger test and the Thompson router's rewards.
    """

    maturity_hours: Number = Field(
        48, ge=0, title="Maturity (hours)",
        description="An outcome counts (as history, a realized result or a reward) only "
        "once its post is this old: its counts have settled.")
    account_history: Flag = Field(True, title="Account history",
                                  description="7/30-day matured means, cadence, follower "
                                  "growth.")
    interactions: Flag = Field(True, title="Interactions",
                               description="Platform × content type, hour × platform.")
    text_embeddings: Flag = Field(False, title="Caption embeddings",
                                  description="MiniLM caption embeddings: better on the real "
                                  "tweets, 5-10 ms more per predicted post "
                                  "(docs/quality.md).")
    text_backend: Literal["onnx_int8", "torch"] = Field(
        "onnx_int8", title="Text backend", description="onnx_int8 (fast) or torch "
        "(reference).")
    text_with_account: Flag = Field(False, title="Embed the account",
                                    description='Embed "caption | account" instead of the '
                                    "caption alone.")
    text_components: Int = Field(16, ge=1, le=384, title="Text components",
                                 description="SVD size of the embeddings, fitted on the "
                                 "training rows only.")
    growth_period: Text = Field(
        "7D", pattern=r"^[1-9][0-9]*[DH]$", title="Growth period",
        description="Period of the follower-growth table (task follower_growth predicts the "
        "next one).", json_schema_extra={"rule": "a number of days or hours such as '7D' or "
                                         "'12H'"})
