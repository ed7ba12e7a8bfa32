"""The reference's calibration stored with the model: the same verdicts as calibrating at
check time, used when it fits the check, recomputed when it does not (or is absent)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.monitor.calibration import Calibration
from pipelines.monitor.drift import PREDICTION, TARGET, detect_drift, reference_calibration

FLOORS = {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}
SETTINGS = {"chunks": 10, "quantile": 0.95, "safety_factor": 1.5, "min_effect": FLOORS,
            "calibration_rows": 1500, "seed": 0}


def _frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "trending": np.linspace(0, 2, rows) + rng.normal(shift, 1, rows),
        "steady": rng.lognormal(shift, 1, rows),
        "few": rng.poisson(2 + shift, rows).astype(float),
        "platform": rng.choice(["instagram", "twitter"], rows, p=[0.5 + shift / 4,
                                                                  0.5 - shift / 4]),
        PREDICTION: rng.normal(shift, 1, rows),
        TARGET: rng.normal(0, 1, rows),
    })


@pytest.fixture(scope="module")
def sides():
    reference, current = _frame(2000, 1, 0.0), _frame(600, 2, 0.5)
    reference_time = pd.Series(pd.date_range("2025-01-01", "2025-12-31", periods=2000,
                                             tz="UTC"))
    current_time = pd.Series(pd.date_range("2026-01-01", "2026-01-08", periods=600, tz="UTC"))
    return reference, current, reference_time, current_time


def _decide(sides, calibration=None, *, current=None, **overrides):
    reference, window, reference_time, current_time = sides
    window = window if current is None else current
    settings = {**SETTINGS, **overrides}
    return detect_drift(reference, window, feature_columns=["trending", "steady", "few",
                                                            "platform"],
                        drift_share=0.3, reference_time=reference_time,
                        current_time=current_time[:len(window)], calibration=calibration,
                        **settings)


def _stored(sides) -> Calibration:
    reference, _, reference_time, _ = sides
    stored = reference_calibration(reference, reference_time=reference_time, **SETTINGS)
    return Calibration.from_dict(json.loads(json.dumps(stored.to_dict())))  # as logged


def _without_source(summary: dict) -> dict:
    out = {**summary, "calibration": dict(summary["calibration"])}
    out.pop("seconds")
    out["calibration"].pop("source")
    return out


def test_a_stored_calibration_gives_the_verdicts_of_calibrating_at_check_time(sides):
    computed, stored = _decide(sides), _decide(sides, _stored(sides))
    assert computed["calibration"]["source"].startswith("computed")
    assert stored["calibration"]["source"] == "stored with the model"
    assert _without_source(stored) == _without_source(computed)
    assert stored["drifted_features"]  # there are verdicts to agree on


def test_the_stored_calibration_covers_a_window_without_matured_outcomes(sides):
    current = sides[1].assign(**{TARGET: np.nan})
    computed, stored = (_decide(sides, current=current),
                        _decide(sides, _stored(sides), current=current))
    assert TARGET not in stored["columns"]
    assert stored["calibration"]["source"] == "stored with the model"
    assert _without_source(stored) == _without_source(computed)


def test_other_settings_recompute_rather_than_reuse(sides):
    stored = _decide(sides, _stored(sides), quantile=0.9)
    assert stored["calibration"]["source"].startswith("computed (other settings")
    assert _without_source(stored) == _without_source(_decide(sides, quantile=0.9))


def test_a_window_smaller_than_a_chunk_recomputes(sides):
    small = sides[1].head(120)  # chunks of the 1,500 calibrated rows hold 150
    stored = _decide(sides, _stored(sides), current=small)
    assert "fewer than a chunk" in stored["calibration"]["source"]
    assert _without_source(stored) == _without_source(_decide(sides, current=small))


def test_a_column_calibrated_with_another_method_recomputes(sides):
    stored = _stored(sides)
    other = Calibration(stored.thresholds, stored.chunk_quantile, stored.chunks,
                        stored.chunk_rows, {**stored.methods, "few": "wasserstein"},
                        stored.settings)
    assert "not calibrated alike" in _decide(sides, other)["calibration"]["source"]
