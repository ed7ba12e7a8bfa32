import numpy as np
import pandas as pd
import pytest

from pipelines.evaluate.metrics import account_median_baseline, regression_metrics


def test_perfect_predictions():
    actual = np.array([0, 5, 50, 500])
    m = regression_metrics(actual, actual)
    assert m["mae_log"] == m["rmse_log"] == m["mae_raw"] == m["medape_raw"] == 0
    assert m["r2_log"] == 1 and m["spearman"] == pytest.approx(1) and m["n"] == 4


def test_known_errors_on_both_scales():
    actual, predicted = np.array([9.0, 99.0]), np.array([99.0, 9.0])
    m = regression_metrics(actual, predicted)
    assert m["mae_log"] == pytest.approx(np.log(10))
    assert m["mae_raw"] == pytest.approx(90)
    assert m["medape_raw"] == pytest.approx(np.median([10.0, 90 / 99]))
    assert m["spearman"] == pytest.approx(-1)


def test_negative_predictions_are_clipped_to_zero():
    assert regression_metrics(np.array([0.0, 1.0]), np.array([-5.0, 1.0]))["mae_raw"] == 0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="equal, non-empty"):
        regression_metrics(np.array([1.0]), np.array([1.0, 2.0]))


def test_account_median_baseline_falls_back_to_global_median():
    train = pd.DataFrame({"account_id": ["a", "a", "a", "b"], "likes": [1, 3, 100, 10]})
    scored = pd.DataFrame({"account_id": ["a", "b", "new"]})
    assert account_median_baseline(train, scored, "likes").tolist() == [3, 10, 6.5]
