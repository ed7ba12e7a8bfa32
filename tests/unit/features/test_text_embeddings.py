"""Caption embeddings on the real all-MiniLM-L6-v2 (offline), both backends, and the cache."""

from pathlib import Path

import numpy as np
import pytest

from pipelines.features import text_embeddings as te
from pipelines.features.embedding_cache import EmbeddingCacheError, read_cache

SENTENCES = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "Quarterly revenue grew by twelve percent.",
    "Our profits rose sharply this quarter.",
    "Big launch today! Check out the new product #news",
    "Sunset at the beach 🌅 #travel #summer",
    "Breaking: storm warning issued for the coast tonight",
    "Hiring senior data engineers, remote friendly, apply now",
    "I love pizza",
    "",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def model_cache_dir(text_model_cache_dir: Path) -> Path:
    """One ONNX export per test session (tests/conftest.py)."""
    return text_model_cache_dir


@pytest.fixture(scope="session")
def reference() -> np.ndarray:
    """The plain torch pipeline on SENTENCES (HF_HUB_OFFLINE set: session fixtures run first)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return te.get_encoder("torch", Path("/unused")).encode(SENTENCES, batch_size=4)


@pytest.fixture(scope="session")
def onnx_encoder(model_cache_dir: Path) -> te.OnnxInt8Encoder:
    pytest.importorskip("onnx", reason="onnx_int8 needs the 'onnx' package to quantize")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return te.get_encoder("onnx_int8", model_cache_dir)


def _embed(texts, tmp_path: Path, model_cache_dir: Path, backend: str = "torch", **kw):
    return te.embed_texts(texts, cache_path=tmp_path / "cache.parquet", backend=backend,
                          model_cache_dir=model_cache_dir, batch_size=kw.pop("batch_size", 4),
                          show_progress=kw.pop("show_progress", False), **kw)


def test_torch_shape_dtype_and_unit_norm(reference: np.ndarray) -> None:
    assert reference.shape == (len(SENTENCES), te.EMBEDDING_DIM)
    assert reference.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)


def test_torch_matches_sentence_transformers_encode(reference: np.ndarray) -> None:
    model = te.get_encoder("torch", Path("/unused")).model
    plain = model.encode(SENTENCES, batch_size=32, show_progress_bar=False)
    np.testing.assert_allclose(reference, plain, atol=1e-5)


def test_semantically_similar_sentences_are_closer(reference: np.ndarray) -> None:
    sim = reference @ reference.T
    assert sim[0, 1] > sim[0, 2] + 0.2 and sim[0, 1] > sim[0, 3] + 0.2  # cat ~ kitten
    assert sim[2, 3] > sim[2, 0] + 0.2 and sim[2, 3] > sim[2, 8] + 0.2  # revenue ~ profits


def test_onnx_int8_is_close_to_torch(onnx_encoder: te.OnnxInt8Encoder,
                                     reference: np.ndarray) -> None:
    fast = onnx_encoder.encode(SENTENCES, batch_size=3)
    assert fast.shape == reference.shape and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosine = (fast * reference).sum(axis=1)
    assert cosine.mean() >= 0.99 and cosine.min() >= 0.97, cosine


def test_onnx_int8_handles_the_longest_input_and_is_deterministic(
        onnx_encoder: te.OnnxInt8Encoder) -> None:
    long_text = " ".join(["engagement"] * 600)  # truncated to 256 tokens
    first = onnx_encoder.encode([long_text, "short"], batch_size=2)
    np.testing.assert_array_equal(first, onnx_encoder.encode([long_text, "short"], batch_size=2))
    # Dynamic int8 scales activations per batch, so batch mates nudge a text's embedding.
    alone = onnx_encoder.encode(["short", long_text], batch_size=1)[::-1]
    assert ((first * alone).sum(axis=1) >= 0.98).all()
    reference = te.get_encoder("torch", Path("/unused")).encode([long_text], batch_size=1)
    assert float(first[0] @ reference[0]) >= 0.97


def test_onnx_export_is_cached_by_key(onnx_encoder: te.OnnxInt8Encoder,
                                      model_cache_dir: Path) -> None:
    assert onnx_encoder.model_file.exists()
    assert onnx_encoder.model_file == te.onnx_model_file(te.model_path(), model_cache_dir)
    assert list(model_cache_dir.glob("*.onnx")) == [onnx_encoder.model_file]


def test_cache_second_call_encodes_nothing(tmp_path: Path, reference: np.ndarray) -> None:
    encoder = te.get_encoder("torch", tmp_path)
    before = encoder.texts_encoded
    first = _embed(SENTENCES, tmp_path, tmp_path)
    assert encoder.texts_encoded - before == len(SENTENCES)
    second = _embed(SENTENCES, tmp_path, tmp_path)
    assert encoder.texts_encoded - before == len(SENTENCES)  # nothing new encoded
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, reference, atol=1e-5)


def test_cache_mixed_hits_keep_input_order_and_append(tmp_path: Path,
                                                      reference: np.ndarray) -> None:
    encoder = te.get_encoder("torch", tmp_path)
    _embed(SENTENCES[:4], tmp_path, tmp_path)
    before = encoder.texts_encoded
    mixed = [SENTENCES[5], SENTENCES[1], SENTENCES[6], SENTENCES[0]]
    out = _embed(mixed, tmp_path, tmp_path)
    assert encoder.texts_encoded - before == 2  # only SENTENCES[5] and [6] were new
    np.testing.assert_allclose(out, reference[[5, 1, 6, 0]], atol=1e-5)
    hashes, embeddings = read_cache(tmp_path / "cache.parquet", dim=te.EMBEDDING_DIM)
    assert len(hashes) == len(set(hashes)) == 6 and embeddings.shape == (6, 384)


def test_duplicates_are_encoded_once_and_blank_means_empty_string(
        tmp_path: Path, reference: np.ndarray) -> None:
    encoder = te.get_encoder("torch", tmp_path)
    before = encoder.texts_encoded
    texts = ["I love pizza", "  I love pizza ", None, "", float("nan"), "I love pizza"]
    out = _embed(texts, tmp_path, tmp_path)
    assert encoder.texts_encoded - before == 2
    np.testing.assert_allclose(out[[0, 1, 5]], np.repeat(reference[[8]], 3, 0), atol=1e-5)
    np.testing.assert_allclose(out[[2, 3, 4]], np.repeat(reference[[9]], 3, 0), atol=1e-5)


def test_backends_do_not_share_cache_entries(tmp_path: Path, model_cache_dir: Path,
                                             onnx_encoder: te.OnnxInt8Encoder) -> None:
    before = onnx_encoder.texts_encoded
    torch_out = _embed(SENTENCES[:3], tmp_path, model_cache_dir, backend="torch")
    onnx_out = _embed(SENTENCES[:3], tmp_path, model_cache_dir, backend="onnx_int8")
    assert onnx_encoder.texts_encoded - before == 3
    assert not np.array_equal(torch_out, onnx_out)
    assert len(read_cache(tmp_path / "cache.parquet", dim=te.EMBEDDING_DIM)[0]) == 6


def test_corrupt_cache_raises_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cache.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(EmbeddingCacheError, match=r"cache\.parquet.*delete it to rebuild"):
        _embed(SENTENCES[:2], tmp_path, tmp_path)


def test_cache_with_wrong_schema_raises(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame({"text_hash": ["a"], "vector": [1.0]}).to_parquet(tmp_path / "cache.parquet")
    with pytest.raises(EmbeddingCacheError, match=r"lacks column\(s\) \['embedding'\]"):
        _embed(SENTENCES[:2], tmp_path, tmp_path)


def test_missing_cache_file_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "cache.parquet"
    te.embed_texts(["hello"], cache_path=target, backend="torch", model_cache_dir=tmp_path,
                   batch_size=8, show_progress=False)
    assert target.exists() and not list(target.parent.glob("*.tmp"))


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _embed(["a fresh caption for the bar"], tmp_path, tmp_path, show_progress=True)
    captured = capsys.readouterr()
    assert "embed (torch)" in captured.err and captured.out == ""


def test_unknown_backend_names_the_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'backend' must be one of \['torch', 'onnx_int8'\]"):
        _embed(["x"], tmp_path, tmp_path, backend="tensorflow")


def test_bad_batch_size_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        _embed(["x"], tmp_path, tmp_path, batch_size=0)


def test_build_embedding_texts_with_accounts() -> None:
    assert te.build_embedding_texts(["Hi there", None], ["acme", "bob"]) == [
        "Hi there | acme", " | bob"]
    with pytest.raises(ValueError, match="accounts"):
        te.build_embedding_texts(["a", "b"], ["acme"])


def test_text_reducer_shapes_names_and_determinism(reference: np.ndarray) -> None:
    train = np.vstack([reference, reference[::-1] * 0.5 + 0.01])
    reducer = te.TextReducer(n_components=4, random_state=7)
    assert reducer.fit(train) is reducer
    out = reducer.transform(reference)
    assert out.shape == (len(SENTENCES), 4) and out.dtype == np.float32
    again = te.TextReducer(n_components=4, random_state=7).fit(train).transform(reference)
    np.testing.assert_array_equal(out, again)
    assert list(reducer.get_feature_names_out()) == [f"text_svd_{i}" for i in range(4)]
    pca = te.TextReducer(n_components=3, method="pca").fit(train)
    assert pca.transform(reference).shape == (len(SENTENCES), 3)


def test_text_reducer_rejects_bad_params(reference: np.ndarray) -> None:
    with pytest.raises(ValueError, match="n_components"):
        te.TextReducer(n_components=500).fit(reference)
    with pytest.raises(ValueError, match="method"):
        te.TextReducer(method="umap").fit(reference)
    with pytest.raises(ValueError, match="384 columns"):
        te.TextReducer(n_components=2).fit(reference).transform(reference[:, :10])
