"""The feedback model families that need no text encoder: VADER with tuned thresholds,
CategoricalNB against GaussianNB on label codes, and abstention on non-English text."""

import numpy as np
import pandas as pd
import pytest

from pipelines.evaluate.multiclass_metrics import multiclass_metrics
from pipelines.tasks.feedback_data import CLASSES, INPUT_COLUMNS, generate_feedback
from pipelines.tasks.feedback_models import (
    CATEGORICAL,
    CategoricalDemographics,
    GaussianDemographics,
    VaderModel,
    make_model,
    vader_scores,
)

LANGUAGE = (20, 0.95, 0)
POSITIVE = ["I love this, it was great and wonderful", "Excellent service, thank you!",
            "Best trip ever, amazing crew", "So happy with it, perfect fit"]
NEGATIVE = ["Terrible, the worst delay ever", "I hate it, awful and broken",
            "Rude staff and a horrible seat", "Disappointed, bad quality, refund please"]
NEUTRAL = ["The flight leaves at 7", "Order number 5521 arrived on Tuesday",
           "Is the blue size available", "Checking the baggage rules for Boston"]


def frame(texts, language=None):
    rows = pd.DataFrame({"text": texts, "campaign": "c1",
                         **{c: "unknown" for c in INPUT_COLUMNS if c not in ("text",
                                                                             "campaign")}})
    if language is not None:
        rows["language"] = language
    return rows


def test_vader_thresholds_are_tuned_on_training_rows_and_probabilities_are_a_mapping():
    texts = POSITIVE * 3 + NEGATIVE * 3 + NEUTRAL * 3
    y = np.repeat([2, 0, 1], 12)
    model = VaderModel(LANGUAGE).fit(frame(texts, "en"), y)
    assert -1 <= model.low_ <= model.high_ <= 1
    assert model.train_macro_f1_ > 0.9
    p = model.predict(frame(["What a fantastic, lovely day", "Awful. Just awful.",
                             "The gate is B12"], "en"))
    assert p.shape == (3, 3) and np.allclose(p.sum(axis=1), 1)
    assert p.argmax(axis=1).tolist() == [2, 0, 1]
    # a probability is a training frequency within a threshold bin: one of three rows
    assert len({tuple(row) for row in model.mapping_.round(6)}) == 3


def test_vader_reads_emoji_and_an_empty_text_scores_zero():
    scores = vader_scores(["😍", "😠", ""])   # VADER knows 😠 (angry), not every emoji
    assert scores[0] > 0 > scores[1] and scores[2] == 0


def test_text_models_abstain_on_non_english_rows_with_the_prior():
    texts = POSITIVE * 3 + NEGATIVE * 3 + NEUTRAL * 3
    y = np.repeat([2, 0, 1], 12)
    model = VaderModel(LANGUAGE).fit(frame(texts + ["c'est horrible"] * 5,
                                           ["en"] * 36 + ["fr"] * 5), np.r_[y, [0] * 5])
    p = model.predict(frame(["Terrible awful service", "Terrible awful service"],
                            ["fr", "en"]))
    assert np.allclose(p[0], model.prior_)            # French: the prior, not VADER
    assert p[1].argmax() == 0
    # the prior counts every training row, the thresholds only the English ones
    assert model.prior_[0] == pytest.approx((12 + 5 + 1) / (41 + 3))


def test_without_a_language_column_the_model_detects_it():
    model = VaderModel(LANGUAGE).fit(frame(POSITIVE + NEGATIVE + NEUTRAL, "en"),
                                     np.repeat([2, 0, 1], 4))
    p = model.predict(frame(["El servicio fue terrible y la comida estaba fría y mala."]))
    assert np.allclose(p[0], model.prior_)


def test_categorical_nb_uses_categories_where_gaussian_nb_reads_codes_as_numbers():
    data = generate_feedback(3000, 21, campaigns=8)
    train, test = data.iloc[:2400], data.iloc[2400:]
    y, actual = train["sentiment"].to_numpy(), test["sentiment"].to_numpy()
    scores = {}
    for cls in (CategoricalDemographics, GaussianDemographics):
        model = cls(LANGUAGE, alpha=1.0).fit(train[list(INPUT_COLUMNS)], y)
        scores[cls.__name__] = multiclass_metrics(
            actual, model.predict(test[list(INPUT_COLUMNS)]), classes=CLASSES)
    assert (scores["CategoricalDemographics"]["multiclass_log_loss"]
            < scores["GaussianDemographics"]["multiclass_log_loss"])


def test_an_unseen_campaign_or_value_gets_an_answer():
    data = generate_feedback(400, 2)
    model = CategoricalDemographics(LANGUAGE, alpha=1.0).fit(
        data[list(INPUT_COLUMNS)], data["sentiment"].to_numpy())
    new = data[list(INPUT_COLUMNS)].head(2).assign(campaign="never-seen", country="ZZ")
    p = model.predict(new)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1)


def test_make_model_refuses_an_unknown_family(tmp_path):
    with pytest.raises(ValueError, match="'name' must be one of .*'vader'.*got 'bert'"):
        make_model("bert", language=LANGUAGE, cache_path=tmp_path, model_cache_dir=tmp_path,
                   backend="onnx_int8", seed=0, c=1.0, alpha=1.0)


def test_an_unseen_campaign_carries_no_evidence_for_categorical_nb():
    data = generate_feedback(600, 4)
    x, y = data[list(INPUT_COLUMNS)], data["sentiment"].to_numpy()
    model = CategoricalDemographics(LANGUAGE, alpha=1.0).fit(x, y)
    row = x.head(1)
    unseen = model.predict(row.assign(campaign="never-seen"))[0]
    # the naive Bayes posterior from every column but the campaign (column 0)
    codes = model.encoder_.transform(row[list(CATEGORICAL)].astype(str)).astype(int)[0]
    joint = model.nb_.class_log_prior_ + sum(
        model.nb_.feature_log_prob_[j][:, codes[j]] for j in range(1, len(CATEGORICAL)))
    expected = np.exp(joint - joint.max())
    assert unseen == pytest.approx(expected / expected.sum(), rel=1e-6)
    assert not np.allclose(unseen, model.predict(row)[0])     # a seen campaign does count
