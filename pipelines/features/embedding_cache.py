"""A content-addressed Parquet store of text embeddings (one row per text hash).

The file lives under the DVC-tracked feature store and holds two columns: ``text_hash``
(64-char sha256 hex) and ``embedding`` (``fixed_size_list<float32>[dim]``), which reads back
into one contiguous ``(n, dim)`` array without a Python loop. Writes replace the whole file
atomically (temp file in the same folder + ``os.replace``), so a crash mid-write leaves the
previous cache intact. One writer per cache file at a time (one Airflow task owns it).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


class EmbeddingCacheError(ValueError):
    """The cache file exists but cannot be read as an embedding cache."""


def read_cache(path: Path, *, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the cache; a missing file is an empty cache.

    Args:
        path: The Parquet file.
        dim: Expected embedding width.

    Returns:
        ``(hashes, embeddings)``: an object array of hex strings and a float32 ``(n, dim)``
        array, row-aligned.

    Raises:
        EmbeddingCacheError: the file is unreadable, lacks a column, or has the wrong width.
            The cache is derived data, so deleting the file rebuilds it on the next run; it is
            not deleted silently because it is a tracked artifact.
    """
    if not path.exists():
        return np.empty(0, dtype=object), np.empty((0, dim), dtype=np.float32)
    hint = "delete it to rebuild the cache from scratch"
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise EmbeddingCacheError(
            f"read_cache: {path} is not a readable Parquet file ({exc}); {hint}."
        ) from exc
    missing = [c for c in ("text_hash", "embedding") if c not in table.column_names]
    if missing:
        raise EmbeddingCacheError(
            f"read_cache: {path} lacks column(s) {missing}; has {table.column_names}; {hint}."
        )
    emb_type = table.schema.field("embedding").type
    if not pa.types.is_fixed_size_list(emb_type) or emb_type.list_size != dim:
        raise EmbeddingCacheError(
            f"read_cache: {path} column 'embedding' must be fixed_size_list<float>[{dim}]; "
            f"got {emb_type}; {hint}."
        )
    hashes = table.column("text_hash").to_numpy(zero_copy_only=False).astype(object)
    flat = table.column("embedding").combine_chunks().flatten()
    embeddings = flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return hashes, embeddings.reshape(len(table), dim)


def write_cache(path: Path, hashes: np.ndarray, embeddings: np.ndarray) -> None:
    """Write the whole cache atomically (temp file in the same folder, then rename)."""
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    n, dim = embeddings.shape
    column = pa.FixedSizeListArray.from_arrays(pa.array(embeddings.reshape(-1)), dim)
    table = pa.table({"text_hash": pa.array(list(hashes), type=pa.string()),
                      "embedding": column})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # No compression: float noise does not compress, and reads stay fast.
        pq.write_table(table, tmp, compression="none")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
