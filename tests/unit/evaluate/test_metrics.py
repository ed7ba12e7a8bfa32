import numpy as np
import pandas as pd
import pytest

from pipelines.evaluate.metrics import (
    account_median_baseline,
    regression_metrics,
    within_account_spearman,
)


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


def test_within_account_spearman_averages_accounts_with_enough_posts():
    accounts = ["a"] * 3 + ["b"] * 3 + ["c"] * 2
    actual = [1, 2, 3, 10, 20, 30, 5, 6]
    predicted = [1, 2, 3, 30, 20, 10, 6, 5]  # a in order, b reversed, c too small
    assert within_account_spearman(actual, predicted, accounts, min_posts=3) == (0.0, 2)
    # from two posts on, c counts: reversed, -1
    rho, used = within_account_spearman(actual, predicted, accounts, min_posts=2)
    assert rho == pytest.approx(-1 / 3) and used == 3


def test_within_account_spearman_skips_accounts_it_cannot_rank():
    accounts = ["flat"] * 3 + ["same_guess"] * 3 + ["ok"] * 3
    actual = [7, 7, 7, 1, 2, 3, 1, 2, 3]
    predicted = [1, 2, 3, 4, 4, 4, 1, 3, 2]
    rho, used = within_account_spearman(actual, predicted, accounts, min_posts=3)
    assert (rho, used) == (pytest.approx(0.5), 1)
    assert np.isnan(within_account_spearman([7, 7], [1, 2], ["flat"] * 2, min_posts=2)[0])
    assert within_account_spearman([1, 2], [1, 2], ["a", "b"], min_posts=2)[1] == 0


@pytest.mark.parametrize("kwargs,message", [
    ({"min_posts": 1}, "'min_posts' must be an int >= 2"),
    ({"min_posts": 2.0}, "'min_posts' must be an int >= 2"),
    ({"actual": [1.0, np.nan, 3.0]}, "'actual' must be finite; got 1 non-finite"),
    ({"predicted": [1.0, 2.0]}, r"'actual', 'predicted' and 'accounts' must be 1-d with one "
                                r"value per row; got shapes \(3,\), \(2,\) and \(3,\)"),
    ({"accounts": ["a", None, "a"]}, "'accounts' must name the account of every row; got 1 "
                                     "missing"),
])
def test_within_account_spearman_names_bad_input(kwargs, message):
    call = {"actual": [1.0, 2.0, 3.0], "predicted": [1.0, 2.0, 3.0],
            "accounts": ["a", "a", "a"], "min_posts": 2, **kwargs}
    with pytest.raises(ValueError, match=f"within_account_spearman: {message}"):
        within_account_spearman(call["actual"], call["predicted"], call["accounts"],
                                min_posts=call["min_posts"])
