"""How what cannot be read is described: whole-file errors and quarantine text.

A whole file (or the call) that cannot be read raises one :class:`CollectError` whose
message names the file, row, column, rule and the value seen. A record that cannot be
mapped is quarantined instead; its ``value`` is shown with :func:`show` and the original
record kept as JSON text with :func:`to_json`. Undecodable bytes (kept as lone surrogates
by ``surrogateescape``) appear as ``\\xNN`` in both, never as mojibake; any other lone
surrogate (an unpaired ``\\ud800`` escape in JSON) appears as its ``\\uXXXX`` escape, so the
text can always be stored as UTF-8.
"""

from __future__ import annotations

import json
import re

import numpy as np

VALUE_CHARS = 200
SURROGATES = re.compile("[\udc80-\udcff]")
#: Any lone surrogate: not text, cannot be encoded as UTF-8 (nor written to Parquet).
LONE_SURROGATES = re.compile("[\ud800-\udfff]")


class CollectError(ValueError):
    """A whole file (or the call) cannot be read; the message says where and why.

    Attributes:
        file: The file or folder concerned, if any.
        row: 1-based data record number, if the problem is at one record.
        column: The column or field concerned, if any.
        rule: Short rule code, e.g. ``csv_syntax``, ``missing_column``, ``json_shape``.
        value: The value seen (as text), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        rule: str | None = None,
        value: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file, self.row, self.column, self.rule, self.value = file, row, column, rule, value

    def named(self, reader: str) -> CollectError:
        """The same error as raised by ``reader`` (the message's first word names the
        function that read the file: a task reader reuses :mod:`.source_file`)."""
        _, _, detail = str(self).partition(": ")
        return CollectError(f"{reader}: {detail}", file=self.file, row=self.row,
                            column=self.column, rule=self.rule, value=self.value)


def error(
    file: str | None,
    rule: str,
    detail: str,
    *,
    row: int | None = None,
    column: str | None = None,
    value: object = None,
) -> CollectError:
    """Build a :class:`CollectError` whose message names file, row, column, rule and value."""
    where = [f"file {file!r}"] if file is not None else []
    if row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column {column!r}")
    where.append(f"rule {rule!r}")
    seen = None if value is None else show(value)
    message = f"read_posts: {', '.join(where)}: {detail}"
    message += f"; got {seen}." if seen is not None else "."
    return CollectError(message, file=file, row=row, column=column, rule=rule, value=seen)


def clean(text: str, escape: str = "\\") -> str:
    """Show undecodable bytes (lone surrogates from ``surrogateescape``) as ``\\xNN``;
    inside JSON text the backslash itself is escaped (``escape="\\\\"``). Other lone
    surrogates become their ``\\uXXXX`` escape (valid JSON, and the same text back)."""
    if not LONE_SURROGATES.search(text):
        return text

    def one(match: re.Match[str]) -> str:
        code = ord(match.group())
        if 0xDC80 <= code <= 0xDCFF:
            return f"{escape}x{code - 0xDC00:02x}"
        return f"\\u{code:04x}"

    return LONE_SURROGATES.sub(one, text)


def show(value: object) -> str:
    """A value as quarantine text: its repr, bytes escaped, truncated to 200 characters."""
    text = clean(value) if isinstance(value, str) else value
    shown = repr(text)
    return shown if len(shown) <= VALUE_CHARS else shown[: VALUE_CHARS - 3] + "..."


def to_json(value: object) -> str:
    """Serialize a record or extra object to JSON text (NaN/inf as null, undecodable bytes
    as ``\\xNN``)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=_json_default, allow_nan=False)
    except ValueError:  # a NaN or inf somewhere: not valid JSON, write null instead
        text = json.dumps(_jsonable(value), ensure_ascii=False, default=_json_default)
    return clean(text, escape="\\\\")


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _jsonable(value: object) -> object:
    """Replace float NaN/inf (not valid JSON) by None, recursively for containers."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
