"""Platform and segment models at serving time, and the ``model_status`` of every answer.

:class:`SegmentModels` keeps the segment champions of the served registered model (aliases
``champion-<level>-<value>``, see :mod:`pipelines.segments.hierarchy`) loaded and compiled.
They are refreshed on every poll of the arms' ``ModelStore``, together with what the last
training cycle said about every segment (labelled samples, which ones it trained), so each
answer can say why a level answered.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.segments.hierarchy import Segment, chain_for, model_status
from pipelines.serve.fast_path import CompiledPostModel

logger = logging.getLogger(__name__)

GLOBAL = Segment("global")


@dataclass(frozen=True)
class ServedSegment:
    segment: Segment
    version: str
    model: CompiledPostModel


@dataclass(frozen=True)
class SegmentState:
    """One immutable snapshot: the models and the last cycle's facts (swapped atomically)."""

    models: dict[Segment, ServedSegment]
    samples: dict[Segment, int]
    retrained: frozenset[str]
    available: dict[Segment, dict[str, Any]] = field(default_factory=dict)  # for model_status


class SegmentModels:
    """The segment champions of ``model_name``, kept in step with the registry.

    Args:
        model_name: The served registered model.
        segment_key: The column of the most specific level (``campaign_id``/``account_id``).
        min_samples: The samples a level needs for its own model (for the status message).
        list_models: ``model_name -> {Segment: {"version": ...}}`` (registry read).
        load: ``(model_name, version) -> fitted pipeline`` (registry read).
        cycle: ``model_name -> segments.json of the last training cycle`` or None.
    """

    def __init__(self, model_name: str, *, segment_key: str, min_samples: int,
                 list_models: Callable[[str], dict[Segment, dict[str, Any]]] | None = None,
                 load: Callable[[str, str], Any] | None = None,
                 cycle: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        from pipelines.registry import loading, segment_models

        self.model_name = model_name
        self.segment_key = segment_key
        self.min_samples = min_samples
        self._list = list_models or segment_models.segment_models
        self._load = load or loading.load_version
        self._cycle = cycle or segment_models.last_cycle
        self.state = SegmentState({}, {}, frozenset())

    def refresh(self) -> bool:
        """Load the segment champions the registry has now; True if anything changed."""
        listed = {s: info for s, info in self._list(self.model_name).items()
                  if s.level != "global"}
        current = self.state.models
        cycle = self._cycle(self.model_name) or {}
        samples = {Segment.from_key(k): int(r.get("train_rows", 0))
                   for k, r in (cycle.get("segments") or {}).items()}
        retrained = frozenset(k for k, r in (cycle.get("segments") or {}).items()
                              if r.get("used") and "skipped" not in r)
        if ({s: m.version for s, m in current.items()}
                == {s: str(i["version"]) for s, i in listed.items()}
                and samples == self.state.samples and retrained == self.state.retrained):
            return False
        models = {}
        for segment, info in listed.items():
            version = str(info["version"])
            old = current.get(segment)
            compiled = old.model if old is not None and old.version == version else \
                CompiledPostModel(self._load(self.model_name, version))
            models[segment] = ServedSegment(segment, version, compiled)
        available = {s: {"version": m.version} for s, m in models.items()}
        self.state = SegmentState(models, samples, retrained, available)   # the atomic swap
        logger.info("serve: segment models %s", {s.key: m.version for s, m in models.items()})
        return True

    def answer(self, post: dict[str, Any], global_version: str | None
               ) -> tuple[ServedSegment | None, dict[str, Any]]:
        """The segment model that answers ``post`` (None: the arms answer) and its status."""
        state = self.state
        chain = chain_for(post, segment_key=self.segment_key)
        # built once per refresh, not per post; the global level is the arm that answered
        available = (state.available if global_version is None else
                     ChainMap({GLOBAL: {"version": global_version}}, state.available))
        status = model_status(chain, available, samples=state.samples,
                              min_samples=self.min_samples, retrained=state.retrained)
        for segment in chain:
            if segment in state.models:
                return state.models[segment], status
        return None, status
