"""Segment models with fallback (pipelines/segments/gated_segment_models.py) on rows built
in code: a segment whose rate differs from the rest keeps its model through the real
promotion gate, one like the rest falls back, one under the minimum and an unseen one get
the global model, and each status says so."""

import numpy as np
import pandas as pd
import pytest

from pipelines.config import PromoteConfig
from pipelines.segments.gated_segment_models import (
    SegmentModels,
    fit_segment_models,
    shrink_weight,
)
from pipelines.tasks.base import GateSpec

GATE = GateSpec(primary="log_loss", guards=(), first_model_bounds={}, baseline="rate")


class MeanRate:
    """The training rows' mean label as every row's probability (a real, tiny model)."""

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> "MeanRate":
        self.rate_ = float(np.mean(y))
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.rate_)


class GroupModels(SegmentModels):
    column = "group"
    level = "group"
    method = "predict"
    noun = "rows"


def rows(seed: int, sparse: int) -> pd.DataFrame:
    """``odd`` and ``sparse`` (``sparse`` rows) convert at 0.8, ``plain`` and ``other`` at
    0.2, ``tiny`` has 5 rows."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["odd", "plain", "other", "tiny", "sparse"], [400, 400, 800, 5, sparse])
    rate = np.where(np.isin(groups, ["odd", "sparse"]), 0.8, 0.2)
    return pd.DataFrame({"group": groups, "y": (rng.random(len(groups)) < rate).astype(int)})


@pytest.fixture(scope="module")
def fitted():
    train, valid = rows(1, sparse=100), rows(2, sparse=5)
    # the global model knows the common rate (as a model of the whole data would)
    common = train[~train["group"].isin(["odd", "sparse"])]
    global_model = MeanRate().fit(common, common["y"].to_numpy())
    return fit_segment_models(
        GroupModels, global_model, fit=lambda r: MeanRate().fit(r, r["y"].to_numpy()),
        features=lambda r: r[["group"]], train=train, valid=valid, target="y",
        weight_column=None, min_samples=20, min_holdout=10, shrinkage=50.0, gate=GATE,
        promote=PromoteConfig(resamples=300))


def test_only_the_segment_the_gate_shows_better_keeps_its_model(fitted):
    model, summary = fitted
    assert summary["kept"] == ["odd"]
    assert summary["groups"]["odd"]["decision"] == "promote"
    for name in ("plain", "other"):
        assert summary["groups"][name]["kept"] is False
        assert summary["groups"][name]["decision"] != "promote"
    assert summary["groups"]["tiny"]["train_rows"] == 5
    assert "has 5 of 20 rows" in summary["groups"]["tiny"]["reason"]
    # as different as odd, but 5 validation rows cannot show it (the gate needs 10)
    assert summary["groups"]["sparse"]["kept"] is False
    assert "5 validation rows (the gate needs 10)" in summary["groups"]["sparse"]["reason"]
    odd = summary["groups"]["odd"]["valid_metrics"]
    assert odd["group"]["log_loss"] < odd["global"]["log_loss"]
    assert summary["groups"]["odd"]["improvement"]["ci_low"] > 0


def test_a_kept_segment_blends_by_its_weight_and_the_rest_answer_globally(fitted):
    model, _ = fitted
    x = pd.DataFrame({"group": ["odd", "plain", "tiny", "never-seen"]})
    got = model.predict(x)
    own, weight = model.models["odd"]
    assert weight == pytest.approx(shrink_weight(400, 50.0))
    base = model.global_model.rate_
    assert got[0] == pytest.approx(weight * own.rate_ + (1 - weight) * base)
    assert got[1:] == pytest.approx([base] * 3)


def test_the_status_names_the_level_that_answered_and_why(fitted):
    model, _ = fitted
    odd, plain = model.segment_status("odd"), model.segment_status("plain")
    tiny, unseen = model.segment_status("tiny"), model.segment_status("never-seen")
    assert (odd["level"], odd["segment"], odd["segment_model"]) == ("group", "group=odd", True)
    assert "the group model of 'odd' answered (400 rows" in odd["message"]
    assert plain["level"] == "global" and plain["segment_model"] is False
    assert "'plain' was not shown to beat the global model" in plain["message"]
    assert tiny["message"] == "group 'tiny' has 5 of 20 rows; using the global model"
    assert unseen["message"] == "group 'never-seen' has 0 of 20 rows; using the global model"
