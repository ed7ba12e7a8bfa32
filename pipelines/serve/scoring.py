"""Batch scoring: a file of a task's rows → predictions in Parquet, for any task.

The task reads the file and applies its contract (:meth:`pipelines.tasks.base.Task.
read_for_scoring`: posts in any supported format with the serving contract, sessions from
their CSV with the sessions row contract); the registered model itself predicts
(``model.predict`` on a DataFrame, the same object the online fast path is proven equal
to). Rows that cannot be scored go to a quarantine file with every reason, never silently
dropped: rows read = scored + quarantined.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines import schema

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits
    from pipelines.paths import ProjectPaths

logger = logging.getLogger(__name__)

#: Columns written after each task's ``score_columns``.
PREDICTION_COLUMNS: tuple[str, ...] = ("prediction", "task", "model_uri", "model_name",
                                       "model_version", "scored_at")
_COUNTS = ("hashtags_count", "mentions_count", "urls_count", "media_count")

def quarantine_path(output_path: Path) -> Path:
    """Where the rows that could not be scored go, beside the output."""
    return output_path.with_name(output_path.stem + ".quarantine.parquet")


def _rule_masks(posts: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(rule, column, mask of the rows breaking it) for every serving-contract rule, in the
    order reasons are listed; vectorized."""
    def mask(values: pd.Series) -> np.ndarray:
        return values.to_numpy(dtype=bool, na_value=True)

    from pipelines.features.post_features import caption_counts

    masks = []
    for column in ("post_id", "account_id"):
        # null, empty or blank (``str.strip() == ""``): no word in ``str.split``'s sense,
        # counted on the UTF-8 bytes (the same whitespace as str.strip's)
        words = caption_counts(posts[column].astype("string"))[1]
        masks.append(("required_non_empty", column, words == 0))
    masks.append(("platform_in_set", "platform", mask(~posts["platform"].isin(schema.PLATFORMS))))
    masks.append(("content_type_in_set", "content_type",
                  mask(~posts["content_type"].isin(schema.CONTENT_TYPES))))
    if "post_kind" in posts.columns:  # optional: null (not said) is fine
        kind = posts["post_kind"].astype("string")
        masks.append(("post_kind_in_set", "post_kind",
                      mask((kind.notna() & (kind != "")
                            & ~kind.isin(schema.POST_KINDS)).fillna(False))))
    masks.append(("posted_at_required", "posted_at",
                  mask(pd.to_datetime(posts["posted_at"], utc=True, errors="coerce",
                                         cache=False).isna())))
    followers = pd.to_numeric(posts["followers_at_post_time"], errors="coerce")
    masks.append(("followers_non_negative", "followers_at_post_time",
                  mask(followers.isna() | (followers < 0))))
    for column in _COUNTS:
        values = pd.to_numeric(posts[column], errors="coerce")
        masks.append(("count_non_negative", column, mask((values < 0).fillna(False))))
    return masks


def scoring_failures(posts: pd.DataFrame) -> list[list[dict[str, str]]]:
    """Per row, every serving-contract rule it breaks (empty list: scorable).

    The rules are the online API's: ids present, a known platform and content type (and
    post kind, when given), a publication time, followers >= 0, counts >= 0 where given.
    """
    failures: list[list[dict[str, str]]] = [[] for _ in range(len(posts))]
    for rule, column, mask in _rule_masks(posts):
        for i in np.flatnonzero(mask):
            value = posts[column].iloc[i]
            failures[i].append({"rule": rule, "column": column,
                                "value": "null" if pd.isna(value) else str(value)[:200]})
    return failures


def split_scorable(posts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the posts that pass the serving contract, quarantine rows of the others with every
    rule each breaks: :func:`scoring_failures`).

    The contract is checked column-wise over all rows; reasons are spelled out, row by
    row, only for the rows that break it.
    """
    posts = posts.reset_index(drop=True)
    bad = np.zeros(len(posts), dtype=bool)
    for _, _, mask in _rule_masks(posts):
        bad |= mask
    positions = np.flatnonzero(bad)
    broken = posts.iloc[positions].reset_index(drop=True)
    quarantine = schema.quarantine_frame([
        {"stage": "score", "source_row": int(i) + 1,
         "post_id": None if pd.isna(broken["post_id"][k]) else str(broken["post_id"][k]),
         "rule": f[0]["rule"], "column": f[0]["column"], "value": f[0]["value"],
         "reasons": json.dumps(f),
         "record": broken.iloc[k].to_json(date_format="iso", default_handler=str)}
        for k, (i, f) in enumerate(zip(positions, scoring_failures(broken), strict=True))])
    return (posts if not len(positions) else posts[~bad].reset_index(drop=True)), quarantine


def score_posts(posts: pd.DataFrame, model: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``posts`` into scorable and not, and predict the scorable ones with a post
    model.

    Returns:
        (the scorable posts with a ``prediction`` column, the quarantine rows).
    """
    from pipelines.features.model_input import model_input

    good, quarantine = split_scorable(posts)
    predictions = (np.asarray(model.predict(model_input(good)), float) if len(good)
                   else np.empty(0))
    return good.assign(prediction=predictions), quarantine


def run_score(*, task: str, model_uri: str, input_path: Path, input_format: str,
              output_path: Path, paths: ProjectPaths, chunk_rows: int, threads: int,
              limits: ReadLimits, history: Any = None) -> dict[str, Any]:
    """Stage runner: read a task's rows, score with ``model_uri``, write predictions +
    quarantine.

    Args:
        task: ``train.task``: the task scored when the model version records none (a
            version registered by ``engageflow register`` records its own, which wins).
        model_uri: ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (resolved once, so
            every row is scored by the same version even if the alias moves meanwhile).
        input_path: A file or folder of the task's rows.
        input_format: Its layout (posts: one of ``pipelines.collect.formats.FORMATS``;
            see the task's ``read_for_scoring``).
        output_path: The predictions Parquet; the quarantine goes beside it.
        paths: The project (its contracts and MLflow store).
        history: A history source (:mod:`pipelines.features.history_source`) the model
            reads account history from, on top of the history frozen at training: outcomes
            collected since are used without retraining. None: the frozen history only.
        chunk_rows: Rows featurized and predicted at a time (whole groups of the task's
            ``score_group``), so the features of a large file are never all in memory
            (``serve.score_chunk_rows``).
        threads: Threads the model's estimator predicts with (0: every CPU;
            ``serve.score_threads``). A prediction does not depend on it.
        limits: What reading the input may take (the ``collect`` params' read limits:
            regular files only, ``max_file_mb``, ``max_columns``; the collect readers'
            rules).

    Returns:
        Counts and paths (rows_in = scored + quarantined).

    Raises:
        ValueError: for a malformed model URI, an unknown task or an unreadable input
            (naming it).
        LookupError: if the model or alias does not exist.
    """
    from pipelines.registry import loading, tracking
    from pipelines.serve.chunked_predict import may_compile
    from pipelines.tasks import get_task

    tracking.connect(paths.tracking_uri)
    ref = loading.resolve(model_uri)
    recorded = loading.version_task(ref.name, ref.version)
    if recorded is not None and recorded != task:
        logger.info("score: %s version %s was trained for task %r; scoring it as %r "
                    "(train.task is %r)", ref.name, ref.version, recorded, recorded, task)
    scorer = get_task(recorded or task)
    if may_compile(scorer):
        # the batch tree kernel loads (or compiles) on the other core while the model
        # loads: its first call costs ~0.75 s in a fresh process
        threading.Thread(target=_warm_batch_kernels, name="warm-batch-kernels",
                         daemon=True).start()
    model = loading.load_version(ref.name, ref.version)
    if history is not None:
        attach_history(model, history, where=f"score ({scorer.name})")
    threads = threads or os.cpu_count() or 1
    use_threads(model, threads)
    columns = {"task": scorer.name, "model_uri": model_uri, "model_name": ref.name,
               "model_version": ref.version, "scored_at": pd.Timestamp(datetime.now(UTC))}
    output_path.parent.mkdir(parents=True, exist_ok=True)
    quarantine_file = quarantine_path(output_path)
    with tempfile.TemporaryDirectory(prefix=f".{output_path.stem}.parts-",
                                     dir=output_path.parent) as workdir:
        parts = scorer.read_for_scoring_in_parts(input_path, input_format,
                                                 part_rows=chunk_rows, workdir=Path(workdir))
        if parts is None:  # read whole
            parts = iter([scorer.read_for_scoring(input_path, input_format, paths=paths,
                                                  limits=limits)])
        # written beside the output and moved into place once complete: a failed run
        # leaves the previous output as it was, never half a file
        written, rejected = Path(workdir) / "scored.parquet", Path(workdir) / "rejects.parquet"
        counts = _score_parts(scorer, model, parts, columns, output_path=written,
                              quarantine_file=rejected, chunk_rows=chunk_rows,
                              threads=threads)
        os.replace(written, output_path)
        os.replace(rejected, quarantine_file)
    result = {"task": scorer.name, **counts, "model_name": ref.name,
              "model_version": ref.version, "model_uri": model_uri, "output": str(output_path),
              "quarantine": str(quarantine_file)}
    if result["scored"] + result["quarantined"] != result["rows_in"]:
        raise RuntimeError(f"run_score: {result['rows_in']} rows in but {result['scored']} "
                           f"scored + {result['quarantined']} quarantined; rows were lost.")
    logger.info("score [%s]: %d rows in, %d scored by %s v%s, %d quarantined", scorer.name,
                result["rows_in"], result["scored"], ref.name, ref.version,
                result["quarantined"])
    return result


def _score_parts(scorer: Any, model: Any, parts: Iterator[Any], columns: dict[str, Any], *,
                 output_path: Path, quarantine_file: Path, chunk_rows: int, threads: int
                 ) -> dict[str, int]:
    """Predict each part (a :class:`pipelines.tasks.base.ScoringInput`) and append its
    predictions to ``output_path`` and its rejects to ``quarantine_file`` as it goes, so
    only one part is in memory; returns the counts (rows_in, scored, quarantined)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    counts = {"rows_in": 0, "scored": 0, "quarantined": 0}
    writers: dict[Path, Any] = {}
    no_rejects = None  # the task's quarantine layout, written empty when nothing is

    def append(path: Path, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if path not in writers:
            writers[path] = pq.ParquetWriter(path, table.schema)
        writers[path].write_table(table.cast(writers[path].schema))

    from pipelines.serve.chunked_predict import ChunkPredictor

    predictor = ChunkPredictor(scorer, model, threads=threads)
    try:
        for number, read in enumerate(parts, start=1):
            predictions = predictor.predict(read.rows, chunk_rows=chunk_rows)
            append(output_path, read.rows[list(scorer.score_columns)].assign(
                prediction=predictions, **columns))
            if len(read.rejects):
                append(quarantine_file, read.rejects)
            elif no_rejects is None:
                no_rejects = read.rejects
            counts["rows_in"] += read.records_read
            counts["scored"] += len(read.rows)
            counts["quarantined"] += len(read.rejects)
            logger.info("score: part %d: %d rows in, %d scored, %d quarantined (so far: %d "
                        "rows in)", number, read.records_read, len(read.rows),
                        len(read.rejects), counts["rows_in"])
    finally:
        for writer in writers.values():
            writer.close()
    if quarantine_file not in writers:  # nothing quarantined: an empty quarantine file
        no_rejects.to_parquet(quarantine_file, index=False)
    return counts


def _warm_batch_kernels() -> None:
    from pipelines.serve.tree_tables import warm_up

    warm_up()


def use_threads(model: Any, threads: int) -> None:
    """Let every estimator of ``model`` that takes ``n_jobs`` predict with ``threads``
    (registered models are fitted single-threaded; a batch may use the machine)."""
    if hasattr(model, "get_params") and hasattr(model, "set_params"):
        try:
            keys = [k for k in model.get_params(deep=True) if k.split("__")[-1] == "n_jobs"]
            model.set_params(**dict.fromkeys(keys, threads))
        except (TypeError, ValueError) as error:  # a wrapper that does not route params
            logger.info("score: predicting with the model's own threads (%s)", error)


def configured_history(settings: Any, paths: ProjectPaths) -> Any:
    """The history store ``serve.history_store`` names for batch scoring a post task (no
    cache: one read per batch); None for ``none`` or a task whose rows are not posts."""
    from pipelines.features.feature_store import open_history
    from pipelines.tasks import get_task

    if get_task(settings.train.task).input.entity != "posts":
        return None
    return open_history(settings.serve.history_store, store_dir=paths.feature_store,
                        online_url=paths.feature_store_url,
                        maturity_hours=settings.features.maturity_hours, cache_seconds=0)


def attach_history(model: Any, source: Any, *, where: str) -> None:
    """Make a loaded post model read account history from ``source`` too.

    Raises:
        ValueError: if the model reads no account history (another task, or a post model
            trained with ``features.account_history: false``).
    """
    featurizer = getattr(model, "named_steps", {}).get("features")
    if getattr(featurizer, "history_", None) is None:
        raise ValueError(f"{where}: a history source was given but this model reads no "
                         f"account history; score without one.")
    featurizer.attach_history(source)
    logger.info("%s: account history read from %s on top of the training history", where,
                type(source).__name__)


def score_task(*, project_dir: str, run_id: str, form_params: dict[str, Any]) -> dict[str, Any]:
    """The batch_scoring DAG's task: settings from params.yaml + the trigger form, then
    :func:`run_score`. Bad input (params, URI, file) fails without retries; like every
    stage task its log shows what it read, wrote and decided at INFO, and library stderr
    chatter at INFO, not ERROR (:func:`pipelines.orchestration.task_logging`).

    Raises:
        airflow AirflowFailException: for a ValueError (bad params, URI or input).
    """
    from pipelines.orchestration import fail_fast_on_bad_input, task_logging

    return fail_fast_on_bad_input(task_logging(_score_from_params))(project_dir, run_id,
                                                                    form_params)


def newest_run_rows(paths: ProjectPaths, task: str, input_format: str) -> Path:
    """What an empty ``serve.score_input`` scores: the validated rows of the newest
    finished training run of ``task`` (after ``make run``: its demo posts), canonical.

    Raises:
        ValueError: if no finished run trained ``task``, or ``input_format`` is not
            canonical (those rows are).
    """
    from pipelines.run_folders import newest_run
    from pipelines.tasks import get_task

    run = newest_run(paths, task)
    if run is None:
        raise ValueError(f"batch_scoring: 'serve.score_input' is empty, which scores the "
                         f"newest training run's rows, but no finished run trained task "
                         f"{task!r} under {paths.state / 'runs'}; run `make run` (or the "
                         f"engagement_training DAG) first, or set the input path.")
    if input_format != "canonical":
        raise ValueError(f"batch_scoring: 'serve.score_format' must be 'canonical' when "
                         f"'serve.score_input' is empty (the training run's validated rows "
                         f"are canonical); got {input_format!r}.")
    rows = run.validated(get_task(task).input.entity)
    logger.info("score: no input path given; scoring the newest %s run's rows %s", task, rows)
    return rows


def _score_from_params(project_dir: str, run_id: str, form_params: dict[str, Any]
                       ) -> dict[str, Any]:
    from pipelines.collect.formats import ReadLimits
    from pipelines.config import load_settings
    from pipelines.paths import project_paths

    paths = project_paths(project_dir)
    settings = load_settings(paths.params_file, form_params)
    serve = settings.serve
    input_path = (paths.resolve(serve.score_input) if serve.score_input
                  else newest_run_rows(paths, settings.train.task, serve.score_format))
    result = run_score(task=settings.train.task, model_uri=serve.score_model_uri,
                       input_path=input_path,
                       input_format=serve.score_format,
                       output_path=paths.resolve(serve.score_output), paths=paths,
                       chunk_rows=serve.score_chunk_rows, threads=serve.score_threads,
                       limits=ReadLimits.from_settings(settings.collect),
                       history=configured_history(settings, paths))
    return {**result, "run_id": run_id}
