"""Feature settings: which feature groups to build. Light on imports (read at DAG parse)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureSettings:
    """Which feature groups to build (``features`` section of params.yaml).

    Attributes:
        maturity_hours: A post's outcome is used as history only once it is this old.
        account_history: Add :data:`HISTORY_COLUMNS`.
        interactions: Add :data:`INTERACTION_COLUMNS` (platform × content, hour × platform).
        text_embeddings: Add the caption's MiniLM embedding (384 columns ``emb_*``).
        text_backend: ``onnx_int8`` (fast) or ``torch`` (reference).
        text_with_account: Embed "caption | account" instead of the caption alone.
        text_components: Size of the SVD of the embeddings that models see (fitted on the
            training rows only).
        growth_period: Length of the periods of the follower-growth table (a fixed pandas
            offset such as ``7D``); the ``follower_growth`` target predicts the next one.
    """

    maturity_hours: float = 48.0
    account_history: bool = True
    interactions: bool = True
    text_embeddings: bool = False
    text_backend: str = "onnx_int8"
    text_with_account: bool = False
    text_components: int = 16
    growth_period: str = "7D"

    def __post_init__(self) -> None:
        if not isinstance(self.maturity_hours, (int, float)) or self.maturity_hours < 0:
            raise ValueError(f"params.yaml: 'features.maturity_hours' must be a number >= 0; "
                             f"got {self.maturity_hours!r}.")
        if not isinstance(self.text_components, int) or not 1 <= self.text_components <= 384:
            raise ValueError(f"params.yaml: 'features.text_components' must be an int in "
                             f"[1, 384]; got {self.text_components!r}.")
        import re

        if not isinstance(self.growth_period, str) or not re.fullmatch(
                r"[1-9][0-9]*[DH]", self.growth_period):
            raise ValueError(f"params.yaml: 'features.growth_period' must be a number of "
                             f"days or hours such as '7D' or '12H'; got "
                             f"{self.growth_period!r}.")
        if self.text_backend not in ("onnx_int8", "torch"):
            raise ValueError(f"params.yaml: 'features.text_backend' must be 'onnx_int8' or "
                             f"'torch'; got {self.text_backend!r}.")
