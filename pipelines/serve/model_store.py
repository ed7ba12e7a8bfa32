"""The models being served, by arm, and the poller that hot-reloads them.

:class:`ModelStore` holds an immutable ``{arm: ServedModel}`` mapping. A poll reads the
alias versions from the registry; when one moved it loads the new version completely
(and compiles its fast path) *before* swapping the mapping in one assignment, so a request
that already took the old mapping finishes on the old model and no request ever sees a
half-loaded one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.serve.fast_path import CompiledPostModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedModel:
    """One arm's model: the registered name and version and its compiled request path
    (a :class:`CompiledPostModel`, or what the store's ``compile_model`` made of the
    pipeline)."""

    arm: str
    name: str
    version: str
    model: Any


class ModelStore:
    """Arms of one registered model, kept in step with its aliases.

    Args:
        model_name: The registered model.
        aliases: Alias per arm; the first (the champion) is required.
        versions_of: ``(model_name, aliases) -> {alias: version}`` (registry read).
        load: ``(model_name, version) -> fitted pipeline`` (registry read).
        compile_model: ``fitted pipeline -> what an arm predicts with`` (it has ``kind`` and
            ``fast``): a post model's :class:`CompiledPostModel` fast path, or a task's
            DataFrame path (:class:`pipelines.serve.task_serving.TaskModel`).
        on_reload: Called with (ok, message) after every attempted change.
    """

    def __init__(self, model_name: str, *, aliases: tuple[str, ...] = ("champion", "challenger"),
                 versions_of: Callable[[str, tuple[str, ...]], dict[str, str]] | None = None,
                 load: Callable[[str, str], Any] | None = None,
                 compile_model: Callable[[Any], Any] = CompiledPostModel,
                 on_reload: Callable[[bool, str], None] | None = None) -> None:
        from pipelines.registry import loading

        self.model_name = model_name
        self.aliases = aliases
        self._versions_of = versions_of or loading.alias_versions
        self._load = load or loading.load_version
        self._compile = compile_model
        self._on_reload = on_reload
        self.arms: dict[str, ServedModel] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Refreshed on every poll too (the segment models of the same registered model).
        self.followers: list[Callable[[], Any]] = []

    def refresh(self) -> bool:
        """Load what the aliases point at now; True if the served set changed.

        Raises:
            LookupError: if the model or its champion alias is missing (first load only;
                later the current models stay and the failure is reported).
        """
        versions = self._versions_of(self.model_name, self.aliases)
        if self.aliases[0] not in versions:
            raise LookupError(f"ModelStore: registered model {self.model_name!r} has no "
                              f"@{self.aliases[0]} alias; serving needs one.")
        current = self.arms
        if {a: m.version for a, m in current.items()} == versions:
            return False
        by_version = {m.version: m.model for m in current.values()}
        arms = {}
        for alias, version in versions.items():
            compiled = by_version.get(version)
            if compiled is None:
                compiled = self._compile(self._load(self.model_name, version))
                by_version[version] = compiled
                logger.info("serve: %s v%s compiled (%s path, %s)", self.model_name, version,
                            "fast" if compiled.fast else "DataFrame", compiled.kind)
            arms[alias] = ServedModel(alias, self.model_name, version, compiled)
        self.arms = arms            # the atomic swap
        logger.info("serve: now serving %s", {a: m.version for a, m in arms.items()})
        return True

    def start_polling(self, every_seconds: float) -> None:
        """Poll the aliases every ``every_seconds`` on a daemon thread."""
        if self._thread is not None or every_seconds <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, args=(every_seconds,),
                                        name="alias-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _poll(self, every_seconds: float) -> None:
        while not self._stop.wait(every_seconds):
            for follower in self.followers:
                try:
                    follower()
                except Exception:  # noqa: BLE001 - keep serving what is loaded
                    logger.exception("serve: refreshing %s failed", follower)
            try:
                changed = self.refresh()
            except LookupError as error:  # no champion yet: keep waiting quietly
                logger.info("serve: %s", error)
                continue
            except Exception as error:  # noqa: BLE001 - keep serving the current models
                logger.exception("serve: reload of %s failed; keeping %s", self.model_name,
                                 {a: m.version for a, m in self.arms.items()})
                if self._on_reload:
                    self._on_reload(False, str(error))
                continue
            if changed and self._on_reload:
                self._on_reload(True, str({a: m.version for a, m in self.arms.items()}))
