"""Open one input file safely: regular files only, a size cap, and no file that changed.

Every read of a dropped file goes through :func:`open_source`, which

* opens the path without blocking (``O_NONBLOCK``, so a FIFO cannot hang the read) and
  refuses anything that is not a regular file once opened (a FIFO, a device such as a
  symlink to ``/dev/urandom``, a folder named like a file): rule ``not_regular_file``;
* refuses a file larger than ``max_file_mb`` before reading it, and stops a read (gzip
  output included) as soon as it passes that many bytes: rule ``max_file_mb``;
* on :meth:`SourceFile.check_unchanged`, compares size, modification time and the bytes
  actually read with what it saw when it opened the file, so a file rewritten or appended
  while it was read is never taken half-read: rule ``file_changed``.

:func:`read_unchanged` is the one way a file is read whole under these rules: open, read,
check unchanged, and read once more if a writer was still at work. The post reader and the
task readers (sessions, feedback, articles, news, impressions, account days, players, ads)
all read through it.

The limits come from the ``collect`` params section (:class:`ReadLimits`).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from pipelines.collect.formats.rejects import CollectError, error

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_MIB = 1024 * 1024
_KINDS = (
    (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class ReadLimits:
    """What one file read may take (params ``collect.*``; bounds in ``CollectConfig``).

    Attributes:
        max_file_mb: Largest file, and largest decompressed ``.gz`` content, in MiB.
        max_columns: Most columns (CSV header, Parquet schema, keys over a JSON file).
        max_json_depth: Deepest nesting of arrays/objects in one JSON record.
        chunk_rows: CSV records parsed and mapped at a time (bounds the read's memory).
    """

    max_file_mb: int
    max_columns: int
    max_json_depth: int
    chunk_rows: int

    @classmethod
    def from_settings(cls, collect: object) -> ReadLimits:
        """The limits of a ``CollectConfig`` (the ``collect`` params section)."""
        return cls(**{name: getattr(collect, name) for name in cls.__dataclass_fields__})

    @classmethod
    def defaults(cls) -> ReadLimits:
        """The ``collect`` section's defaults (params.yaml), for callers without settings."""
        from pipelines.config import CollectConfig

        return cls.from_settings(CollectConfig())

    @property
    def max_bytes(self) -> int:
        return self.max_file_mb * _MIB


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path) -> None:
    """Refuse a path that is not a regular file (symlinks are followed), without opening it.

    Raises:
        CollectError: rule ``not_regular_file``.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)


def _not_regular(path: Path, mode: int) -> Exception:
    target = f" (a link to {os.path.realpath(path)!r})" if os.path.islink(path) else ""
    return error(str(path), "not_regular_file",
                 f"is {_kind(mode)}{target}, not a regular file; only regular files are "
                 "read (a pipe or device could hang the read or never end)")


def too_large(path: Path, limits: ReadLimits, seen: int, what: str) -> Exception:
    """The ``max_file_mb`` error: names the file, the limit and how to raise it."""
    return error(str(path), "max_file_mb",
                 f"{what} is over collect.max_file_mb = {limits.max_file_mb} MiB; split the "
                 "file, or raise collect.max_file_mb in params.yaml (or --set "
                 f"collect.max_file_mb=N)", value=f"{seen / _MIB:.1f} MiB")


class _Capped(io.RawIOBase):
    """A binary stream that counts what it hands out and stops past ``limit`` bytes."""

    def __init__(self, inner: BinaryIO, path: Path, limits: ReadLimits, what: str) -> None:
        self.inner, self.path, self.limits, self.what = inner, path, limits, what
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limits.max_bytes:
            raise too_large(self.path, self.limits, self.count, self.what)
        buffer[: len(data)] = data
        return len(data)


class SourceFile:
    """An opened regular file: :attr:`stream` gives its (gunzipped) bytes under the cap.

    Use as a context manager; call :meth:`check_unchanged` after reading to the end.
    """

    def __init__(self, path: Path, limits: ReadLimits) -> None:
        self.path = path
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            self.before = os.fstat(fd)
            if not stat.S_ISREG(self.before.st_mode):
                raise _not_regular(path, self.before.st_mode)
            if self.before.st_size > limits.max_bytes:
                raise too_large(path, limits, self.before.st_size, "the file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        self._raw = _Capped(io.FileIO(fd, "rb", closefd=True), path, limits, "the file")
        binary: BinaryIO = io.BufferedReader(self._raw, 1 << 20)
        if path.suffix.lower() == ".gz":
            unzipped = gzip.GzipFile(fileobj=binary, mode="rb")
            binary = io.BufferedReader(_Capped(unzipped, path, limits,  # type: ignore[arg-type]
                                               "the decompressed content"), 1 << 20)
        self.stream = binary
        self.mtime = self.before.st_mtime

    def __enter__(self) -> SourceFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.stream.close()
        self._raw.inner.close()

    def changed(self) -> bool:
        """Whether the file's size or modification time differs from when it was opened."""
        now = os.fstat(self._raw.inner.fileno())
        return (now.st_size, now.st_mtime_ns) != (self.before.st_size, self.before.st_mtime_ns)

    def check_unchanged(self) -> None:
        """Raise when the file changed since it was opened (size, mtime or bytes read).

        Raises:
            CollectError: rule ``file_changed``.
        """
        now = os.fstat(self._raw.inner.fileno())
        before = self.before
        if (now.st_size, now.st_mtime_ns) == (before.st_size, before.st_mtime_ns) \
                and self._raw.count == before.st_size:
            return
        raise error(str(self.path), "file_changed",
                    f"the file changed while it was read (size {before.st_size} -> "
                    f"{now.st_size} bytes, {self._raw.count} bytes read, modification time "
                    f"{'changed' if now.st_mtime_ns != before.st_mtime_ns else 'unchanged'}); "
                    "nothing was taken from it. Write files under a temporary name and "
                    "rename them into place, then collect again")


def open_source(path: Path, limits: ReadLimits) -> SourceFile:
    """Open ``path`` for reading under ``limits`` (see the module docstring).

    Raises:
        CollectError: rules ``not_regular_file`` and ``max_file_mb``.
    """
    return SourceFile(path, limits)


def read_unchanged(path: Path, limits: ReadLimits, read: Callable[[SourceFile], _T], *,
                   reader: str) -> _T:
    """``read(source)`` of ``path`` opened by :func:`open_source`, taken only if the file was
    the same from open to end of read.

    A file that changed while it was read is read once more (a writer that just finished);
    if it changes again, nothing is returned. When ``read`` fails on a file that changed
    meanwhile, the change is reported (a half-written file explains the failure better).

    Args:
        path: The file.
        limits: What the read may take (``collect`` params).
        read: Reads the opened file to its end and returns what it made of it.
        reader: The public function reading (named first in every error message).

    Raises:
        CollectError: rules ``not_regular_file``, ``max_file_mb``, ``file_changed``, or one
            ``read`` raised, each naming ``reader`` and the file.
    """
    try:
        try:
            return _read_once(path, limits, read)
        except CollectError as exc:
            if exc.rule != "file_changed":
                raise
            logger.warning("%s: %s changed while it was read; reading it once more", reader,
                           path)
            return _read_once(path, limits, read)
    except CollectError as exc:
        raise exc.named(reader) from None


def _read_once(path: Path, limits: ReadLimits, read: Callable[[SourceFile], _T]) -> _T:
    with open_source(path, limits) as source:
        try:
            value = read(source)
        except Exception:
            if source.changed():
                source.check_unchanged()
            raise
        source.check_unchanged()
    return value
