"""The decision threshold chosen on validation rows, and precision/recall at it."""

import numpy as np
import pytest

from pipelines.evaluate.threshold import choose_threshold, precision_recall_at


def test_the_f1_best_threshold_on_a_hand_made_case():
    actual = [1, 1, 0, 1, 0, 0]
    probability = [0.9, 0.8, 0.7, 0.6, 0.2, 0.1]
    # Flag >= 0.6: tp 3, flagged 4 -> F1 6/7, the best cut.
    assert choose_threshold(actual, probability) == 0.6
    at = precision_recall_at(actual, probability, 0.6)
    assert (at["precision"], at["recall"], at["flagged_share"]) == (0.75, 1.0, 4 / 6)


def test_ties_are_cut_together():
    assert choose_threshold([1, 0, 1], [0.5, 0.5, 0.5]) == 0.5


def test_f1_at_the_chosen_threshold_is_the_best_of_every_cut():
    rng = np.random.default_rng(0)
    actual = rng.random(300) < 0.3
    probability = np.clip(actual * 0.3 + rng.random(300) * 0.7, 0, 1)
    best = precision_recall_at(actual, probability, choose_threshold(actual, probability))
    for cut in np.unique(probability):
        assert precision_recall_at(actual, probability, cut)["f1"] <= best["f1"] + 1e-12


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no positive outcome"):
        choose_threshold([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="equal length"):
        choose_threshold([0, 1], [0.1])
    with pytest.raises(ValueError, match="'threshold' must be in"):
        precision_recall_at([0, 1], [0.1, 0.2], 1.5)
