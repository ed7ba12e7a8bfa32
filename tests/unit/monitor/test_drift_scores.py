"""The numpy scores that decide: large same-distribution samples stay quiet, real shifts
are flagged, and the scores equal Evidently's on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.monitor.drift import detect_drift
from pipelines.monitor.drift_scores import choose_method, profile_frame, score_frame

FLOORS = {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}
CALIBRATION = {"chunks": 10, "quantile": 0.95, "safety_factor": 1.5, "min_effect": FLOORS,
               "calibration_rows": 100_000, "seed": 0}


def _posts_like(rows: int, seed: int, *, followers_scale: float = 1.0,
                platform_mix: tuple[float, ...] = (0.35, 0.2, 0.15, 0.3)) -> pd.DataFrame:
    """A million-row stand-in for featurized posts: numeric, few-valued and categorical."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "log_followers": np.log1p(rng.lognormal(np.log(20_000), 1.6, rows) * followers_scale),
        "caption_words": rng.gamma(3.0, 6.0, rows),
        "hour": rng.integers(0, 24, rows).astype(float),
        "hashtags_count": rng.poisson(2.0, rows).clip(0, 12).astype(float),
        "is_weekend": (rng.random(rows) < 2 / 7).astype(float),
        "platform": rng.choice(["instagram", "facebook", "linkedin", "twitter"], rows,
                               p=list(platform_mix)),
    })


@pytest.fixture(scope="module")
def million_reference() -> pd.DataFrame:
    return _posts_like(1_000_000, seed=1)


def test_methods_follow_the_column_kind(million_reference):
    methods = {c: choose_method(million_reference[c]) for c in million_reference}
    assert methods == {"log_followers": "wasserstein", "caption_words": "wasserstein",
                       "hour": "wasserstein", "hashtags_count": "psi", "is_weekend": "psi",
                       "platform": "jensenshannon"}


def test_a_million_rows_from_the_same_distribution_are_not_drifted(million_reference):
    current = _posts_like(1_000_000, seed=2)
    summary = detect_drift(million_reference, current,
                           feature_columns=list(current.columns), drift_share=0.3,
                           **CALIBRATION)
    assert summary["rows"] == {"reference": 1_000_000, "current": 1_000_000}
    assert summary["drifted_features"] == []
    assert summary["dataset_drift"] is False
    # the scores are tiny effects, far below the floors: a p-value test would differ
    assert max(c["score"] for c in summary["columns"].values()) < 0.02


@pytest.mark.parametrize("shift, expected", [
    ({"followers_scale": 4.0}, ["log_followers"]),
    ({"platform_mix": (0.7, 0.1, 0.1, 0.1)}, ["platform"]),
])
def test_a_real_shift_in_a_million_rows_is_flagged(million_reference, shift, expected):
    current = _posts_like(1_000_000, seed=3, **shift)
    summary = detect_drift(million_reference, current,
                           feature_columns=list(current.columns), drift_share=0.15,
                           **CALIBRATION)
    assert summary["drifted_features"] == expected
    assert summary["dataset_drift"] is True
    column = summary["columns"][expected[0]]
    assert column["score"] >= column["threshold"] >= FLOORS[column["method"]]


def test_calibration_raises_thresholds_of_columns_that_vary_by_nature():
    rng = np.random.default_rng(5)
    rows = 20_000
    # "month" moves through the year in time order; "stable" does not
    reference = pd.DataFrame({"month": np.repeat(np.arange(1, 13), rows // 12 + 1)[:rows]
                              + rng.random(rows), "stable": rng.normal(size=rows)})
    current = pd.DataFrame({"month": 6 + rng.random(500), "stable": rng.normal(size=500)})
    summary = detect_drift(reference, current, feature_columns=["month", "stable"],
                           drift_share=0.5, **CALIBRATION)
    assert summary["columns"]["month"]["threshold"] > 1.0
    assert summary["columns"]["month"]["drifted"] is False
    # a stable column keeps a threshold near the floor: only 500-row sampling noise on top
    assert 0.1 <= summary["columns"]["stable"]["threshold"] < 0.2
    assert summary["calibration"]["chunk_rows"] == 500


def test_scores_and_verdicts_agree_with_evidently_on_the_same_data():
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    reference = _posts_like(4000, seed=11)
    current = _posts_like(4000, seed=12, followers_scale=2.0,
                          platform_mix=(0.5, 0.2, 0.1, 0.2))
    profiles = profile_frame(reference)
    ours = score_frame(profiles, current)
    definition = DataDefinition(numerical_columns=[c for c in reference if c != "platform"],
                                categorical_columns=["platform"])
    snapshot = Report([ValueDrift(column=c, method=profiles[c].method, threshold=0.1)
                       for c in reference]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition))
    theirs = {m["config"]["column"]: m["value"] for m in snapshot.dict()["metrics"]}
    for column, score in ours.items():
        assert score == pytest.approx(theirs[column], rel=0.02, abs=0.002), column
        assert (score >= 0.1) == (theirs[column] >= 0.1), column
    assert ours["log_followers"] >= 0.1 and ours["platform"] >= 0.1
    assert ours["hour"] < 0.1


def test_bad_input_names_the_rule_and_the_value(million_reference):
    small = million_reference.head(100)
    with pytest.raises(ValueError, match="'drift_share' must be in \\(0, 1\\]; got 0"):
        detect_drift(small, small, feature_columns=["hour"], drift_share=0, **CALIBRATION)
    with pytest.raises(ValueError, match="current data lacks feature column\\(s\\) \\['hour'\\]"):
        detect_drift(small, small.drop(columns="hour"), feature_columns=["hour"],
                     drift_share=0.5, **CALIBRATION)
    with pytest.raises(ValueError, match="'safety_factor' must be >= 1; got 0.5"):
        detect_drift(small, small, feature_columns=["hour"], drift_share=0.5,
                     **{**CALIBRATION, "safety_factor": 0.5})


def _growing_history(start: str, days: int, rows: int, seed: int,
                     followers_scale: float = 1.0) -> tuple[pd.DataFrame, pd.Series]:
    """Posts whose accounts gain followers steadily (+0.4 log units a year), as in the
    demo data, with a stable column beside: the frame and its posting times."""
    rng = np.random.default_rng(seed)
    times = pd.Series(pd.to_datetime(start, utc=True)
                      + pd.to_timedelta(np.sort(rng.uniform(0, days, rows)), unit="D"))
    age = (times - pd.Timestamp("2025-07-01", tz="UTC")).dt.days.to_numpy() / 365
    frame = pd.DataFrame({
        "log_followers": rng.normal(10, 0.3, rows) + 0.4 * age + np.log(followers_scale),
        "caption_words": rng.gamma(3.0, 6.0, rows),
    })
    return frame, times


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_trend_the_reference_already_shows_is_not_drift(seed):
    # reference: 8 months of history; current: 8 weeks, 3 months after the reference ends
    # (the validation and test periods lie between, as for a champion)
    reference, reference_time = _growing_history("2025-07-01", 245, 4000, seed)
    current, current_time = _growing_history("2026-05-04", 56, 400, seed + 10)
    columns = list(reference.columns)
    naive = detect_drift(reference, current, feature_columns=columns, drift_share=0.5,
                         **CALIBRATION)
    assert naive["drifted_features"] == ["log_followers"]  # the old false alarm
    summary = detect_drift(reference, current, feature_columns=columns, drift_share=0.5,
                           reference_time=reference_time, current_time=current_time,
                           **CALIBRATION)
    assert summary["detrended"] == ["log_followers"]
    assert summary["columns"]["log_followers"]["trend_per_day"] == pytest.approx(0.4 / 365,
                                                                              rel=0.3)
    assert summary["drifted_features"] == []
    # a real shift of the trending column is still a shift after the trend is removed
    shifted, _ = _growing_history("2026-05-04", 56, 400, seed + 10, followers_scale=8.0)
    flagged = detect_drift(reference, shifted, feature_columns=columns, drift_share=0.5,
                           reference_time=reference_time, current_time=current_time,
                           **CALIBRATION)
    assert flagged["drifted_features"] == ["log_followers"]
    assert flagged["dataset_drift"] is True


def test_times_must_match_the_rows():
    reference, reference_time = _growing_history("2025-07-01", 245, 400, 1)
    with pytest.raises(ValueError, match="'reference_time'/'current_time' have 399/400"):
        detect_drift(reference, reference, feature_columns=["log_followers"], drift_share=0.5,
                     reference_time=reference_time.iloc[1:], current_time=reference_time,
                     **CALIBRATION)
