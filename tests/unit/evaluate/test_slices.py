import numpy as np
import pandas as pd
import pytest

from pipelines.evaluate.binary_metrics import binary_metrics
from pipelines.evaluate.metrics import regression_metrics, within_account_spearman
from pipelines.evaluate.slices import MISSING_SLICE, REGIMES, regime_metrics, slice_metrics


@pytest.fixture
def rows():
    rng = np.random.default_rng(3)
    platform = ["instagram"] * 40 + ["twitter"] * 10 + [None] * 5
    frame = pd.DataFrame({"platform": platform}, index=np.arange(100, 155))  # not 0..n-1
    actual = rng.poisson(50, len(frame)).astype(float)
    predicted = actual * rng.uniform(0.5, 1.5, len(frame))
    return frame, actual, predicted


def test_slices_with_support_get_metrics_others_only_their_size(rows):
    frame, actual, predicted = rows
    result = slice_metrics(frame, actual, predicted, by="platform", min_support=30)
    assert list(result) == sorted(["instagram", "twitter", MISSING_SLICE])
    expected = regression_metrics(actual[:40], predicted[:40])
    assert result["instagram"] == {**expected, "support": 40}
    assert result["twitter"] == {"insufficient_support": 10}
    assert result[MISSING_SLICE] == {"insufficient_support": 5}


def test_the_threshold_is_inclusive_and_series_inputs_align_by_position(rows):
    frame, actual, predicted = rows
    result = slice_metrics(frame, pd.Series(actual), pd.Series(predicted), min_support=10)
    assert result["twitter"]["support"] == 10
    assert result["twitter"]["mae_log"] == pytest.approx(
        regression_metrics(actual[40:50], predicted[40:50])["mae_log"])


def test_other_columns_can_slice(rows):
    frame, actual, predicted = rows
    frame = frame.assign(content_type=["image", "video"] * 27 + ["image"])
    result = slice_metrics(frame, actual, predicted, by="content_type", min_support=1)
    assert {k: v["support"] for k, v in result.items()} == {"image": 28, "video": 27}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"by": "country"}, "'by' must be a column of frame; got 'country'"),
    ({"min_support": 0}, "'min_support' must be an int >= 1; got 0"),
])
def test_bad_arguments(rows, kwargs, match):
    frame, actual, predicted = rows
    with pytest.raises(ValueError, match=match):
        slice_metrics(frame, actual, predicted, **kwargs)


def test_length_mismatch(rows):
    frame, actual, predicted = rows
    with pytest.raises(ValueError, match="got 54 and 55 for 55 rows"):
        slice_metrics(frame, actual[1:], predicted)


def test_regime_metrics_are_the_tasks_metrics_and_the_within_account_spearman(rows):
    _, actual, predicted = rows
    regime = np.array(["warm", "cold"] * 27 + ["warm"])
    accounts = np.array(["a", "b", "c", "d", "e"] * 11)
    result = regime_metrics(actual, predicted, regime_labels=regime, accounts=accounts,
                            min_support=20, min_posts=5, metrics=regression_metrics)
    assert list(result) == list(REGIMES) == ["warm", "cold"]
    for name, entry in result.items():
        rows_of = regime == name
        rho, used = within_account_spearman(actual[rows_of], predicted[rows_of],
                                            accounts[rows_of], min_posts=5)
        assert entry == {**regression_metrics(actual[rows_of], predicted[rows_of]),
                         "support": int(rows_of.sum()), "within_account_spearman": rho,
                         "within_account_spearman_accounts": used}
    assert result["warm"]["within_account_spearman_accounts"] == 5  # 5 or 6 rows each


def test_regime_metrics_report_a_small_or_absent_regime_by_its_size(rows):
    _, actual, predicted = rows
    accounts = np.repeat(["a", "b"], [30, 25])
    all_warm = regime_metrics(actual, predicted, regime_labels=["warm"] * 55,
                              accounts=accounts, min_support=30, min_posts=10,
                              metrics=regression_metrics)
    assert all_warm["cold"] == {"insufficient_support": 0}
    assert all_warm["warm"]["support"] == 55
    few_cold = np.array(["warm"] * 50 + ["cold"] * 5)
    binary = regime_metrics((actual > 50).astype(float), np.clip(predicted / 100, 0, 1),
                            regime_labels=few_cold, accounts=accounts, min_support=10,
                            min_posts=10, metrics=binary_metrics)
    assert binary["cold"] == {"insufficient_support": 5}
    assert "log_loss" in binary["warm"]  # the task's own metrics, whatever they are


def test_regime_metrics_name_bad_labels_and_lengths(rows):
    _, actual, predicted = rows
    with pytest.raises(ValueError, match=r"regime_metrics: 'regime_labels' must be one of "
                                         r"\['warm', 'cold'\].*got 1 other value\(s\), "
                                         r"e.g. 'new'"):
        regime_metrics(actual, predicted, regime_labels=["warm"] * 54 + ["new"],
                       accounts=["a"] * 55, min_support=1, min_posts=2,
                       metrics=regression_metrics)
    with pytest.raises(ValueError, match="regime_metrics: 'actual', 'predicted' and "
                                         "'accounts' need one value per row; got 55, 55 and 3"):
        regime_metrics(actual, predicted, regime_labels=["warm"] * 55, accounts=["a"] * 3,
                       min_support=1, min_posts=2, metrics=regression_metrics)
