import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from pipelines.evaluate.binary_metrics import (
    binary_metrics,
    prior_rate_baseline,
    reliability_plot,
    reliability_table,
)

ACTUAL = np.array([0, 0, 1, 1, 0, 1, 0, 0])
PROB = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.05, 0.6])


def test_agrees_with_scikit_learn():
    m = binary_metrics(ACTUAL, PROB)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(ACTUAL, PROB))
    assert m["pr_auc"] == pytest.approx(average_precision_score(ACTUAL, PROB))
    assert m["log_loss"] == pytest.approx(log_loss(ACTUAL, PROB))
    assert m["brier"] == pytest.approx(brier_score_loss(ACTUAL, PROB))
    assert m["base_rate"] == pytest.approx(3 / 8)
    assert m["mean_predicted"] == pytest.approx(PROB.mean())
    assert m["n"] == 8
    assert set(m) == {"roc_auc", "pr_auc", "log_loss", "brier", "base_rate", "mean_predicted",
                      "calibration", "n"}


def test_calibration_is_the_reliability_tables_ece_by_hand():
    # Two bins: [0.1, 0.1] predicted vs rate 0.5; [0.9, 0.9] vs rate 0.5 -> gap 0.4 each.
    actual, prob = [0, 1, 0, 1], [0.1, 0.1, 0.9, 0.9]
    table = reliability_table(actual, prob, n_bins=10)
    assert [b["count"] for b in table["bins"]] == [2, 2]
    assert [b["observed_frequency"] for b in table["bins"]] == [0.5, 0.5]
    assert table["ece"] == pytest.approx(0.4)
    assert binary_metrics(actual, prob)["calibration"] == pytest.approx(0.4)


def test_a_perfect_model_and_a_confident_miss():
    perfect = binary_metrics([0, 1], [0.0, 1.0])
    assert perfect["roc_auc"] == 1.0 and perfect["brier"] == 0.0
    assert perfect["log_loss"] == pytest.approx(0.0, abs=1e-12)
    miss = binary_metrics([1, 0], [0.0, 1.0])
    assert np.isfinite(miss["log_loss"]) and miss["log_loss"] > 30  # clipped, not infinite
    assert miss["brier"] == 1.0


def test_one_outcome_only_leaves_ranking_undefined():
    m = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert np.isnan(m["roc_auc"]) and np.isnan(m["pr_auc"])
    assert m["base_rate"] == 0.0 and np.isfinite(m["log_loss"])


def test_bools_are_outcomes():
    assert binary_metrics([False, True], [0.2, 0.7]) == binary_metrics([0, 1], [0.2, 0.7])


@pytest.mark.parametrize("actual, prob, match", [
    ([0, 1], [0.5], "'actual' and 'probability' must be equal, non-empty 1-d"),
    ([], [], "'actual' and 'probability' must be equal"),
    ([0, 2], [0.1, 0.2], r"'actual' must hold only 0 and 1; got values \['0', '2'\]"),
    ([0, 1], [0.1, 1.2], r"'probability' must be finite numbers in \[0, 1\]; got 1 outside"),
    ([0, 1], [0.1, np.nan], "'probability' must be finite"),
    ([0, 1], ["a", "b"], "'probability' must be numbers"),
])
def test_bad_input_names_the_argument_and_rule(actual, prob, match):
    with pytest.raises(ValueError, match=f"binary_metrics: {match}"):
        binary_metrics(actual, prob)


def test_bad_bins():
    with pytest.raises(ValueError, match="reliability_table: 'n_bins' must be an int >= 1; got 0"):
        reliability_table([0, 1], [0.1, 0.9], n_bins=0)


def test_prior_rate_baseline():
    assert prior_rate_baseline([0, 0, 1, 1, 1], 3).tolist() == [0.6, 0.6, 0.6]
    assert prior_rate_baseline(np.array([True, False]), 0).shape == (0,)
    with pytest.raises(ValueError, match="prior_rate_baseline: 'train_labels' must be a "
                                         "non-empty"):
        prior_rate_baseline([], 3)
    with pytest.raises(ValueError, match="prior_rate_baseline: 'train_labels' must hold only"):
        prior_rate_baseline([0, 3], 3)
    with pytest.raises(ValueError, match="prior_rate_baseline: 'n' must be an int >= 0; got -1"):
        prior_rate_baseline([0, 1], -1)


def test_reliability_plot_names_each_model(tmp_path):
    figure = reliability_plot(ACTUAL, {"lightgbm": PROB, "prior rate": np.full(8, 0.375)},
                              "test part")
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("lightgbm (ECE ") and labels[1].startswith("prior rate (ECE ")
    figure.savefig(tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 0
    with pytest.raises(ValueError, match="reliability_plot: 'probabilities' must name"):
        reliability_plot(ACTUAL, {}, "none")
