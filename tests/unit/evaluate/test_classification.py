import numpy as np
import pytest
from sklearn.metrics import f1_score

from pipelines.evaluate.classification import classification_metrics, reliability_table

TRUE = [0, 0, 1, 1, 2, 2]
PRED = [0, 1, 1, 1, 2, 0]


def test_hand_computed_scores():
    m = classification_metrics(TRUE, PRED)
    # rows = true, columns = predicted
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["0"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["1"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert m["per_class"]["2"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["macro_f1"] == pytest.approx(f1_score(TRUE, PRED, average="macro"))
    assert m["labels"] == [0, 1, 2] and m["n"] == 6
    assert "brier" not in m


def test_a_class_absent_from_both_arrays_keeps_the_shape_and_counts_zero():
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 0]))
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert m["per_class"]["2"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["macro_f1"] == pytest.approx(
        f1_score([0, 1, 1], [0, 1, 0], labels=[0, 1, 2], average="macro", zero_division=0))


def test_brier_and_reliability_by_hand():
    proba = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    m = classification_metrics([0, 1], [0, 0], proba)
    # Row 1 is perfect; row 2 misses by 0.5 on classes 0 and 1: (0.25 + 0.25) / 2 rows.
    assert m["brier"] == pytest.approx(0.25)
    class0 = m["reliability"]["0"]
    assert class0["bins"] == [
        {"lower": 0.5, "upper": 0.6, "count": 1, "mean_predicted": 0.5,
         "observed_frequency": 0.0},
        {"lower": 0.9, "upper": 1.0, "count": 1, "mean_predicted": 1.0,
         "observed_frequency": 1.0},
    ]
    assert class0["ece"] == pytest.approx(0.25)
    assert m["reliability"]["2"] == {"ece": 0.0, "bins": [
        {"lower": 0.0, "upper": 0.1, "count": 2, "mean_predicted": 0.0,
         "observed_frequency": 0.0}]}


def test_calibrated_probabilities_have_small_gaps():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    hit = rng.uniform(size=p.size) < p
    table = reliability_table(p, hit, n_bins=5)
    assert [b["count"] for b in table["bins"]] == pytest.approx([4000] * 5, rel=0.05)
    assert table["ece"] < 0.02


@pytest.mark.parametrize(("args", "match"), [
    (([0, 1], [0]), "must be equal, non-empty 1-d arrays; got shapes"),
    (([], []), "must be equal, non-empty"),
    (([0, 3], [0, 1]), r"class\(es\) \[3\] are not in 'labels' \[0, 1, 2\]"),
    (([0, 1], [0, 1], np.ones((2, 2)) / 2), r"'proba' must have shape \(2, 3\)"),
    (([0, 1], [0, 1], np.full((2, 3), 0.5)), "rows sum to 1"),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(*args)


def test_bad_bins():
    with pytest.raises(ValueError, match="'n_bins' must be an int >= 1; got 0"):
        reliability_table(np.array([0.5]), np.array([1.0]), n_bins=0)
