"""The drift HTML a user opens: Evidently's page headed by the text drift section (each
descriptor's verdict, the language mix, the embedding drift with Evidently's own embeddings
page beside it) and the estimated-performance section (per chunk, band, realized metric).
Real Evidently, a real CBPE estimator; small seeded data."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from pipelines.monitor.drift import detect_drift
from pipelines.monitor.drift_report import EMBEDDING_REPORT_FILE, evidently_drift
from pipelines.monitor.estimated_performance import ESTIMATORS, estimate_window
from pipelines.monitor.report_sections import add_sections, estimate_section
from pipelines.monitor.text_drift import (
    TextDrift,
    sample_texts,
    text_drift_summary,
    with_text_descriptors,
)

WORDS = ["flight", "crew", "seat", "delay", "bag", "gate", "meal", "pilot", "app", "lounge"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A small deterministic text embedding (hashed word counts): what the section shows
    does not depend on MiniLM, and this keeps the test fast."""
    out = np.zeros((len(texts), 16))
    for i, text in enumerate(texts):
        for word in text.split():
            out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 16] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


SPEC = TextDrift(column="text", languages=lambda texts: ["en"] * len(texts),
                 sentiment=lambda texts: [0.5 if "great" in t else -0.5 for t in texts],
                 embed=bag_of_words, language_column=None, rows=200, permutations=50,
                 min_mmd=0.01)


def texts(n: int, seed: int, words: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, words)) + (" great" if rng.random() < 0.5 else "")
            for _ in range(n)]


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"text": texts(400, 1, 4), "x": rng.normal(size=400)})
    current = pd.DataFrame({"text": texts(300, 2, 12), "x": rng.normal(size=300)})
    ref = with_text_descriptors(reference, reference, spec=SPEC)
    cur = with_text_descriptors(current, current, spec=SPEC)
    drift = detect_drift(ref, cur, feature_columns=list(ref.columns), drift_share=0.3,
                         chunks=5, quantile=0.95, safety_factor=1.5,
                         min_effect={"wasserstein": 0.1, "psi": 0.1, "jensenshannon": 0.1},
                         calibration_rows=10_000, seed=0)
    drift["text"] = text_drift_summary(reference["text"], current["text"], ref, cur, drift,
                                       spec=SPEC, quantile=0.95, safety_factor=1.5, seed=0)
    scores = rng.beta(2, 5, 1200)
    frame = pd.DataFrame({"prediction": scores,
                          "target": (rng.random(1200) < scores).astype(float)})
    estimator = ESTIMATORS["binary"]("log_loss", 0).fit(frame.iloc[:600])
    window = frame.iloc[600:].reset_index(drop=True)
    window.loc[400:, "target"] = np.nan                 # the last labels have not matured
    times = pd.Series(pd.date_range("2026-11-01", periods=600, freq="h", tz="UTC"))
    estimated = estimate_window(estimator, window, times, metric="log_loss", chunks=3,
                                min_rows=150, offline=estimator.realized(frame.iloc[:600]),
                                max_error_increase=0.1)
    html = tmp_path_factory.mktemp("report") / "drift_report.html"
    summary = {"drift": drift, "estimated_performance": estimated}
    summary["evidently"] = evidently_drift(
        ref, cur, drift, categorical=["text_language"], sample_rows=500, seed=0,
        html_path=html, data_quality=False,
        embeddings=(bag_of_words(sample_texts(reference["text"], SPEC.rows, 0)),
                    bag_of_words(sample_texts(current["text"], SPEC.rows, 0))))
    add_sections(html, summary)
    return summary, html


def test_longer_texts_drift_their_length_and_word_count_descriptors(decided):
    summary, _ = decided
    text = summary["drift"]["text"]
    assert text["descriptors"]["text_length"]["drifted"] is True
    assert text["descriptors"]["text_word_count"]["drifted"] is True
    assert text["descriptors"]["text_language"]["drifted"] is False
    assert summary["drift"]["columns"]["x"]["drifted"] is False


def test_evidently_runs_the_descriptors_and_the_embedding_drift_with_the_decided_rule(decided):
    summary, html = decided
    columns = summary["evidently"]["columns"]
    assert {"text_length", "text_word_count", "text_vader_compound",
            "text_language"} <= set(columns)
    assert "text" not in columns                      # the raw text is not a category
    embedding = summary["evidently"]["embedding"]
    assert embedding["threshold"] == summary["drift"]["text"]["embedding"]["threshold"]
    assert (html.parent / EMBEDDING_REPORT_FILE).is_file()
    # the same rows, the same MMD² as the decision
    assert embedding["score"] == pytest.approx(summary["drift"]["text"]["embedding"]["score"])


def test_the_html_opens_with_the_text_and_estimate_sections(decided):
    summary, html = decided
    page = html.read_text(encoding="utf-8")
    body = page.index("<body")
    text_at, estimate_at = page.index('id="text-drift"'), page.index('id="estimated-performance"')
    assert body < text_at < estimate_at
    section = page[text_at:estimate_at]
    for name in ("text_length", "text_word_count", "text_vader_compound", "text_language",
                 "Language mix", EMBEDDING_REPORT_FILE, "drifted"):
        assert name in section, name
    estimate = page[estimate_at:page.index("</section>", estimate_at)]
    assert "CBPE" in estimate and "confidence band" in estimate
    chunks = summary["estimated_performance"]["chunks"]
    assert estimate.count("<tr>") == len(chunks) + 2  # header, chunks, the whole window
    # realized where labels matured, a dash where they did not
    realized = chunks[0]["realized"]["log_loss"]
    assert f"{realized:.4f}" in estimate
    assert chunks[-1]["realized"] is None
    json.dumps(summary, default=str)                   # the summary stays JSON-able


def test_no_estimator_says_so_and_a_page_without_body_is_refused(tmp_path):
    assert "No performance estimator" in estimate_section(None)
    page = tmp_path / "x.html"
    page.write_text("<html></html>")
    with pytest.raises(ValueError, match="no <body> tag"):
        add_sections(page, {})
