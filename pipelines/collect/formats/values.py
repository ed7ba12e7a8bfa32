"""Value rules every format shares: parse raw source values into canonical ones.

Each parser takes a Series of raw values and returns ``(values, bad mask, missing mask)``,
so the caller can quarantine the bad ones with a named rule and leave the judgement of
missing ones to the column's ``required`` flag.

* counts: integers; ``3.0`` is accepted, ``3.5``, ``inf``, ``"1,234"`` and text are rejected
  (``parse_int``). Negative counts pass (the validation stage judges them).
* empty strings and the tokens ``NA N/A NaN nan null None <NA>`` are missing values in count
  and time columns; a missing required value is rejected (``required_value``).
* times: ISO 8601 (``2021-02-28 11:05:34+00:00``, ``2021-02-28T11:05:34.000Z``,
  ``2017-05-01T12:00:00+0000``); naive times are taken as UTC; anything else, or a time
  outside 1677-2262, is rejected (``parse_datetime``). Future and 1970 dates pass.
* ``platform`` and ``content_type`` are lower-cased and a few aliases mapped (``x`` →
  twitter, ``photo`` → image, ``carousel_album`` → carousel, ``reel`` → video, ``status`` →
  text, ``article`` → link); other values are rejected (``enum_value``).
* caption text is kept byte-exact; ids are stripped of surrounding blanks; a blank
  ``post_kind`` is missing, any other is kept as given for the row contract to judge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>"})
PLATFORM_ALIASES = {"x": "twitter", "ig": "instagram", "fb": "facebook"}
CONTENT_ALIASES = {
    "photo": "image", "picture": "image", "album": "carousel", "carousel_album": "carousel",
    "reel": "video", "reels": "video", "animated_gif": "video", "gif": "video",
    "status": "text", "article": "link", "url": "link",
}


def _all_text(series: pd.Series) -> bool:
    """Whether every value is a str or None (CSV columns), enabling the fast paths."""
    return series.dtype == object and bool(series.map(type).isin((str, type(None))).all())


def is_missing(value: object) -> bool:
    """Whether one raw value is missing (None, NaN, NA, or a null token such as ``"N/A"``)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in NULL_TOKENS


def missing_mask(series: pd.Series) -> pd.Series:
    """:func:`is_missing` for a whole Series (vectorized for text columns)."""
    if _all_text(series):
        text = series.str.strip().str.lower()
        return series.isna() | text.isin(NULL_TOKENS)
    return series.map(is_missing).astype(bool)


def parse_int(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse counts: (Int64 values, bad mask, missing mask), vectorized."""
    missing = missing_mask(series)
    if _all_text(series):
        candidates = series.where(~missing).str.strip()
    else:
        is_bool = series.map(lambda v: isinstance(v, bool | np.bool_)).astype(bool)
        candidates = series.where(~missing & ~is_bool)
        candidates = candidates.map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(candidates, errors="coerce").astype("float64")
    finite = np.isfinite(numbers)
    in_range = numbers.abs() < 2**63
    ok = finite & in_range & (numbers == np.floor(numbers))
    bad = ~missing & ~ok
    values = pd.Series(pd.NA, index=series.index, dtype="Int64")
    if ok.any():
        exact = pd.to_numeric(candidates[ok], errors="coerce")
        values[ok] = exact.astype("float64").astype("Int64") if exact.dtype.kind == "f" \
            else exact.astype("Int64")
    return values, bad, missing


def parse_time(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse ISO 8601 times to UTC: (datetime values, bad mask, missing mask)."""
    missing = missing_mask(series)
    candidates = series.where(~missing)
    numeric = candidates.map(lambda v: isinstance(v, int | float | bool | np.number)).astype(bool)
    candidates = candidates.where(~numeric)
    text = candidates.map(lambda v: v.strip() if isinstance(v, str) else v)
    values = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = ~missing & values.isna()
    return values, bad, missing


def _text_value(value: object) -> object:
    """A scalar as text for id/enum/caption columns; nested values return a marker."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | np.ndarray):
        return _Nested
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


class _Nested:
    """Marker: a JSON object or array where a scalar was expected."""


def parse_text(series: pd.Series, strip: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Text values: (string values, nested mask, missing mask); ids are stripped."""
    text = series.map(_text_value)
    nested = text.map(lambda v: v is _Nested).astype(bool)
    text = text.where(~nested)
    if strip:
        text = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        missing = text.map(lambda v: v is None or v == "").astype(bool) & ~nested
    else:
        missing = text.isna() & ~nested
    return text.where(~missing, None), nested, missing


def parse_enum(series: pd.Series, allowed: tuple[str, ...], aliases: dict[str, str]
               ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Lower-cased, alias-mapped values; anything outside ``allowed`` is bad."""
    text, nested, missing = parse_text(series, strip=True)
    lowered = text.map(lambda v: aliases.get(v.lower(), v.lower()) if isinstance(v, str) else v)
    bad = nested | (~missing & ~lowered.isin(allowed))
    return lowered.where(~bad), bad, missing


def parse_bool(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """True/False from booleans, 0/1 and the words true/false/yes/no/1/0."""
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

    def one(value: object) -> object:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, str):
            return mapping.get(value.strip().lower())
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        return None

    missing = missing_mask(series)
    values = series.map(one)
    bad = ~missing & values.isna()
    return values, bad, missing
