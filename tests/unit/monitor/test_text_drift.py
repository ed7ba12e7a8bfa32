"""Text drift on simulated shifts: descriptors (real VADER, real langdetect) judged by the
drift decision, embeddings (the real MiniLM, torch backend) by the MMD permutation test,
both checked against Evidently's own definitions."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.monitor.drift import detect_drift
from pipelines.monitor.text_drift import (
    TextDrift,
    _mmd2u_labelled,
    descriptor_names,
    embedding_drift,
    mmd2u,
    rbf_kernel,
    sample_texts,
    text_drift_summary,
    with_text_descriptors,
    word_count,
)
from pipelines.tasks.feedback_language import detect_languages
from pipelines.tasks.feedback_models import vader_scores

SUBJECTS = ["the flight", "our pilot", "the crew", "my seat", "the gate agent", "the app",
            "the lounge", "the boarding", "the meal", "customer service"]
GOOD = ["was great", "was friendly and helpful", "made my day", "was excellent", "was fine"]
BAD = ["was terrible and rude", "ruined my awful trip", "was a horrible disaster",
       "left me angry and miserable", "was the worst ever"]
SPANISH = ["el vuelo fue muy bueno y la tripulación amable", "mi asiento estaba roto y sucio",
           "la comida del avión estaba fría otra vez", "el servicio al cliente no contesta",
           "perdieron mi maleta en el aeropuerto", "gracias por el viaje tan agradable"]
MIN_EFFECT = {"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1}


def short_english(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series([f"{rng.choice(SUBJECTS)} {rng.choice(GOOD + BAD)} today on my trip home"
                      for _ in range(n)])


def long_negative(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series([". ".join(f"{rng.choice(SUBJECTS)} {rng.choice(BAD)}" for _ in range(4))
                      for _ in range(n)])


def spanish(n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series([f"{rng.choice(SPANISH)}, {rng.choice(SPANISH)}" for _ in range(n)])


@pytest.fixture(scope="module")
def embed(tmp_path_factory, text_model_cache_dir: Path):
    from pipelines.features.text_embeddings import embed_texts

    cache = tmp_path_factory.mktemp("text_drift") / "embeddings.parquet"
    return partial(embed_texts, cache_path=cache, backend="torch",
                   model_cache_dir=text_model_cache_dir, show_progress=False)


def _spec(embed=None, rows: int = 150) -> TextDrift:
    """The feedback task's scorers; ``embed`` None: descriptors only."""
    return TextDrift(column="text", sentiment=vader_scores, embed=embed, language_column=None,
                     languages=partial(detect_languages, min_letters=20, min_confidence=0.95,
                                       seed=0),
                     rows=rows, permutations=100, min_mmd=0.01)


def _judge(reference: pd.Series, current: pd.Series, spec: TextDrift) -> dict:
    ref = with_text_descriptors(pd.DataFrame({"text": reference}),
                                pd.DataFrame({"text": reference}), spec=spec)
    cur = with_text_descriptors(pd.DataFrame({"text": current}),
                                pd.DataFrame({"text": current}), spec=spec)
    drift = detect_drift(ref, cur, feature_columns=list(ref.columns), drift_share=0.3,
                         chunks=5, quantile=0.95, safety_factor=1.5, min_effect=MIN_EFFECT,
                         calibration_rows=10_000, seed=0)
    return text_drift_summary(reference, current, ref, cur, drift, spec=spec, quantile=0.95,
                              safety_factor=1.5, seed=0)


def test_the_descriptors_are_evidentlys_text_length_and_word_count():
    from evidently import DataDefinition, Dataset
    from evidently.descriptors import TextLength, WordCount

    texts = ["Hello there, world!", "ünïcode wörds 123", "", "a  b\tc", "@united #fail :("]
    spec = _spec()
    ours = with_text_descriptors(pd.DataFrame({"text": texts}), pd.DataFrame({"text": texts}),
                                 spec=spec)
    dataset = Dataset.from_pandas(pd.DataFrame({"text": texts}),
                                  data_definition=DataDefinition(text_columns=["text"]),
                                  descriptors=[TextLength("text", alias="length"),
                                               WordCount("text", alias="words")])
    theirs = dataset.as_dataframe()
    assert ours["text_length"].tolist() == theirs["length"].tolist()
    assert ours["text_word_count"].tolist() == theirs["words"].tolist()
    assert list(ours.columns) == descriptor_names("text")      # the raw text is replaced
    assert word_count(None) == 0


def test_known_languages_are_read_not_detected_again():
    rows = pd.DataFrame({"text": ["bonjour tout le monde, merci beaucoup", "hi"],
                         "language": ["xx", "yy"]})
    spec = TextDrift(**{**_spec().__dict__, "language_column": "language"})
    assert with_text_descriptors(rows[["text"]], rows, spec=spec)["text_language"].tolist() \
        == ["xx", "yy"]


def test_the_mmd_is_evidentlys_mmd_method():
    from evidently.metrics.embeddings import MMDDriftMethod

    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=(120, 8)), rng.normal(0.3, 1.0, size=(90, 8))
    theirs, _, _ = MMDDriftMethod(threshold=0.0)(pd.DataFrame(cur), pd.DataFrame(ref))
    assert mmd2u(rbf_kernel(ref, cur), len(ref)) == pytest.approx(theirs, rel=1e-9)
    # the permutation null's vectorized MMD² equals the direct one on each relabelling
    kernel, labels = rbf_kernel(ref, cur), np.zeros((210, 3))
    orders = [np.random.default_rng(i).permutation(210) for i in range(3)]
    for i, order in enumerate(orders):
        labels[order[:120], i] = 1.0
    direct = [mmd2u(kernel[np.ix_(o, o)], 120) for o in orders]
    assert _mmd2u_labelled(kernel, labels, 120) == pytest.approx(direct, rel=1e-9)


def test_an_identical_distribution_does_not_drift(embed):
    summary = _judge(short_english(500, 1), short_english(250, 2), _spec(embed))
    assert summary["drifted_descriptors"] == []
    assert summary["embedding"]["drifted"] is False
    assert summary["embedding"]["score"] < summary["embedding"]["threshold"]


def test_long_negative_texts_drift_length_words_and_sentiment_not_language(embed):
    summary = _judge(short_english(500, 1), long_negative(250, 3), _spec(embed))
    descriptors = summary["descriptors"]
    for name in ("text_length", "text_word_count", "text_vader_compound"):
        assert descriptors[name]["drifted"] is True, (name, descriptors[name])
    assert descriptors["text_language"]["drifted"] is False


def test_another_language_drifts_the_language_mix_and_the_embeddings(embed):
    summary = _judge(short_english(500, 1), spanish(250, 4), _spec(embed))
    assert summary["descriptors"]["text_language"]["drifted"] is True
    assert summary["languages"]["current"].get("es", 0) > 0.5
    assert summary["languages"]["reference"].get("es", 0) == 0
    assert summary["embedding"]["drifted"] is True
    assert summary["embedding"]["p_value"] < 0.05


def test_the_sample_is_seeded_and_capped():
    texts = pd.Series([f"text {i}" for i in range(50)])
    assert sample_texts(texts, 10, 0) == sample_texts(texts, 10, 0)
    assert len(sample_texts(texts, 10, 0)) == 10
    assert sample_texts(texts, 100, 0) == texts.tolist()


def test_bad_embedding_inputs_are_refused():
    with pytest.raises(ValueError, match="each side needs 2 to 1000 rows"):
        embedding_drift(np.zeros((1, 3)), np.zeros((5, 3)), permutations=10, quantile=0.95,
                        safety_factor=1.5, min_mmd=0.0, seed=0)
    with pytest.raises(ValueError, match="permutations >= 1"):
        embedding_drift(np.zeros((5, 3)), np.zeros((5, 3)), permutations=0, quantile=0.95,
                        safety_factor=1.5, min_mmd=0.0, seed=0)
    with pytest.raises(ValueError, match="3 texts for 2 drift-frame rows"):
        with_text_descriptors(pd.DataFrame({"text": ["a", "b"]}),
                              pd.DataFrame({"text": ["a", "b", "c"]}), spec=_spec())
