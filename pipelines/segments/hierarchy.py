"""The model hierarchy: global → platform → segment (campaign, or account), with fallback.

A post is answered by the most specific level that has its own model: its segment (the
value of the configurable key column, ``campaign_id`` by default), else its platform, else
the global model. Every answer carries a status block saying which level answered and why
(:func:`model_status`).

Registry naming: one registered model per target; a segment's own champion is the alias
``champion-<level>-<value>`` (e.g. ``champion-platform-instagram``) on a version tagged
``engageflow.segment = <level>=<value>``, so the registry UI lists which segments have one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The fixed levels; the most specific one is named after the key column (``campaign``
#: for ``campaign_id``, ``account`` for ``account_id``).
FIXED_LEVELS: tuple[str, ...] = ("platform", "global")
SEGMENT_TAG = "engageflow.segment"


def level_name(segment_key: str) -> str:
    """The level a key column defines: ``campaign_id`` → ``campaign``."""
    return segment_key.removesuffix("_id")


@dataclass(frozen=True)
class Segment:
    """One node of the hierarchy: ``level`` and its ``value`` (None for global)."""

    level: str
    value: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(self.level)):
            raise ValueError(f"Segment: level must be a lower-case name such as 'campaign', "
                             f"'platform' or 'global'; got {self.level!r}.")
        if (self.level == "global") != (self.value is None):
            raise ValueError(f"Segment: the global level has no value, every other level "
                             f"needs one; got level={self.level!r}, value={self.value!r}.")

    @property
    def key(self) -> str:
        """``global``, ``platform=instagram``, ``campaign=camp-42``: the registry tag."""
        return "global" if self.value is None else f"{self.level}={self.value}"

    @property
    def alias(self) -> str:
        """The registry alias of this segment's champion (MLflow alias characters only)."""
        if self.value is None:
            return "champion"
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", self.value).strip("_")[:200] or "empty"
        return f"champion-{self.level}-{safe}"

    @classmethod
    def from_key(cls, key: str) -> Segment:
        """The inverse of :attr:`key`."""
        if key == "global":
            return cls("global")
        level, sep, value = key.partition("=")
        if not sep or not value:
            raise ValueError(f"Segment.from_key: expected 'global' or 'LEVEL=VALUE'; got "
                             f"{key!r}.")
        return cls(level, value)


def _value(post: Mapping[str, Any], column: str) -> str | None:
    value = post.get(column)
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def chain_for(post: Mapping[str, Any], *, segment_key: str = "campaign_id") -> list[Segment]:
    """The levels that could answer ``post``, most specific first (global always last)."""
    chain = []
    segment = _value(post, segment_key)
    if segment is not None:
        chain.append(Segment(level_name(segment_key), segment))
    platform = _value(post, "platform")
    if platform is not None:
        chain.append(Segment("platform", platform))
    chain.append(Segment("global"))
    return chain


def resolve(chain: list[Segment], available: Mapping[Segment, Any]) -> Segment | None:
    """The most specific level of ``chain`` that has a model in ``available``."""
    for segment in chain:
        if segment in available:
            return segment
    return None


def _describe(segment: Segment) -> str:
    if segment.level == "global":
        return "the global model"
    if segment.level == "platform":
        return f"the {segment.value} model"
    return f"the {segment.level} {segment.value} model"


def model_status(
    chain: list[Segment],
    available: Mapping[Segment, Mapping[str, Any]],
    *,
    samples: Mapping[Segment, int] | None = None,
    min_samples: int = 20,
    retrained: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The ``model_status`` block of a prediction response.

    Args:
        chain: :func:`chain_for` of the post.
        available: segment → ``{"version": ..., "trained_at": ...}`` of the models that exist.
        samples: labelled samples per segment (to say how far a segment is from its own).
        min_samples: the samples a level needs before it is trained.
        retrained: keys of the segments (re)trained in the current training cycle.

    Returns:
        ``level`` (campaign or account / platform / global, None when nothing exists),
        ``segment`` (its key), ``has_segment_model`` (the most specific level has its own),
        ``trained_in_cycle``, ``model_version`` and a human ``message``.
    """
    samples = samples or {}
    used = resolve(chain, available)
    most_specific = chain[0]
    reasons = []
    for segment in chain:
        if segment == used:
            break
        have = samples.get(segment)
        name = "global" if segment.value is None else f"{segment.level} {segment.value}"
        if have is not None and have < min_samples:
            reasons.append(f"{name} has {have} of {min_samples} samples")
        elif have is not None:
            reasons.append(f"{name} has {have} samples but its model did not beat the "
                           f"level above")
        else:
            reasons.append(f"{name} has no model")
    if used is None:
        message = "; ".join(reasons) + "; no model exists yet at any level"
    else:
        message = "; ".join([*reasons, f"using {_describe(used)}"])
    info = available.get(used, {}) if used is not None else {}
    return {
        "level": None if used is None else used.level,
        "segment": None if used is None else used.key,
        "has_segment_model": used == most_specific and used.level != "global",
        "trained_in_cycle": used is not None and used.key in retrained,
        "model_version": info.get("version"),
        "message": message[0].upper() + message[1:],
    }
