"""The ``engageflow`` console script: one subcommand per stage, options checked here.

Stages read their settings from ``params.yaml`` (``--params``) and write the numbered data
layers under ``--data-dir`` (default ``data/`` in the project). ``dvc.yaml`` calls these.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from pipelines import stages
from pipelines.config import FILE_FORMATS, Settings, load_settings
from pipelines.paths import ProjectPaths, project_paths

#: ``engageflow drift``'s exit status when the window holds too few rows for a verdict
#: (0: a verdict, drift or not; 2: bad input or settings).
NO_VERDICT_EXIT = 3


def _paths(args: argparse.Namespace) -> ProjectPaths:
    """The project's paths; the CLI (and so dvc.yaml) keeps the caption-embedding cache in
    the feature store, versioned with it, and, on the project's ``data/``, the metrics and
    plot tables in ``metrics/`` and ``plots/`` (git-tracked, read by ``dvc exp show``)."""
    from dataclasses import replace

    base = project_paths(args.project_dir)
    if args.data_dir:
        base = replace(base, data=Path(args.data_dir).resolve())
    # the project's own data/ keeps its small metrics and plot tables where git tracks them
    tracked = base.root if base.data == base.root / "data" else None
    return replace(base, caption_cache=base.feature_table("caption_embeddings"),
                   tracked=tracked)


def _settings(args: argparse.Namespace, paths: ProjectPaths,
              overrides: dict[str, object] | None = None) -> Settings:
    """params.yaml (``--params``) with the options given on the command line as dotted
    overrides (``None``: not given), validated like a trigger form."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_settings(args.params or paths.params_file, {**_overrides(args), **given})


def cmd_demo_data(args: argparse.Namespace) -> int:
    from pipelines.collect.demo_data import generate_posts

    c = _settings(args, _paths(args), {"collect.demo_rows": args.rows,
                                       "collect.demo_accounts": args.accounts,
                                       "collect.seed": args.seed}).collect
    posts = generate_posts(c.demo_rows, c.demo_accounts, c.seed)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        posts.to_csv(out, index=False)
    else:
        posts.to_parquet(out, index=False)
    print(f"wrote {len(posts)} demo posts to {out}")
    return 0


def _print(result: dict) -> int:
    print(json.dumps(result, default=str))
    return 0


def _as_of(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text) if text else pd.Timestamp.now(tz="UTC")


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """``--set KEY=VALUE`` pairs (dotted params keys; values parsed as YAML)."""
    import yaml

    out: dict[str, object] = {}
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set: expected KEY=VALUE, e.g. train.task=conversion; got "
                             f"{item!r}.")
        out[key.strip()] = yaml.safe_load(value)
    return out


def cmd_stage(args: argparse.Namespace) -> int:
    """One stage of the training pipeline (``pipelines.pipeline``) on ``--data-dir``."""
    from pipelines.pipeline import RunContext, run_stage

    paths = _paths(args)
    settings = _settings(args, paths)
    context = RunContext(run_key=args.run_key or _run_key(paths, settings.train.task),
                         as_of=_as_of(args.as_of),
                         reports=not args.no_reports)
    record = run_stage(args.command, paths=paths, settings=settings, context=context)
    if args.command == "promote":         # the gate's verdict is the summary's last word
        from pipelines.summary import format_summary
        from pipelines.tasks import get_task

        print(format_summary(get_task(settings.train.task), paths))
        return 0
    return _print(record)


def cmd_segment_sessions(args: argparse.Namespace) -> int:
    """Learned session segments on the conversion task's validated sessions."""
    from pipelines.segments.session_segments_stage import segment_sessions

    paths = _paths(args)
    return _print(segment_sessions(paths, _settings(args, paths).session_segments))


def _run_key(paths: ProjectPaths, task: str) -> str:
    """The default idempotency key of a CLI / dvc run: the task and the models it trained,
    so a retried register reuses its MLflow runs and a retrained pipeline gets new ones."""
    import hashlib

    manifest = paths.models / "manifest.json"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12] if manifest.exists() \
        else "untrained"
    return f"cli/{task}/{digest}"


def cmd_dvc_yaml(args: argparse.Namespace) -> int:
    """Print (or ``--write``) dvc.yaml for the task of params.yaml (``train.task``)."""
    import yaml

    from pipelines.pipeline import dvc_stages
    from pipelines.tasks import get_task

    paths = _paths(args)
    settings = _settings(args, paths)
    text = DVC_HEADER + yaml.safe_dump({"stages": dvc_stages(get_task(settings.train.task),
                                                             paths)}, sort_keys=False)
    if args.write:
        (paths.root / "dvc.yaml").write_text(text)
        print(f"wrote {paths.root / 'dvc.yaml'} for task {settings.train.task}")
    else:
        print(text, end="")
    return 0


DVC_HEADER = """\
# Generated by `engageflow dvc-yaml --write` from pipelines/pipeline.py (the one pipeline
# order) for the task in params.yaml (train.task); a test checks it is current. Each stage
# runs the same function as the Airflow task of the same name, via the CLI, and lists the
# params it reads. `make repro` regenerates it for the current task, then runs dvc repro.
"""


def cmd_collect_day(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    accounts: dict[str, tuple[str, ...]] = {}
    for item in args.account or []:
        api, _, account = item.partition(":")
        accounts[api] = (*accounts.get(api, ()), account)
    return _print(stages.collect_day(
        paths, settings, day=args.date, sources=tuple(args.sources or ()) or None,
        path=args.path, fmt=args.format, extra_accounts=accounts))


def cmd_validate_day(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    return _print(stages.validate_day(paths, settings, day=args.date, as_of=_as_of(args.as_of),
                                      reports=not args.no_reports))


def cmd_champion_challenger(args: argparse.Namespace) -> int:
    from pipelines.registry.champion_challenger import format_look

    paths = _paths(args)
    settings = _settings(args, paths)
    as_of = _as_of(args.as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of
    record = stages.champion_challenger(paths, settings, as_of=as_of,
                                        run_key=args.run_key or f"cli/{as_of:%Y-%m-%d}")
    print(format_look(record))
    return 0


def cmd_ab_test(args: argparse.Namespace) -> int:
    from pipelines.collect.formats import ReadLimits
    from pipelines.evaluate.ab_test import run_ab_test

    paths = _paths(args)
    settings = _settings(args, paths)
    record = run_ab_test(Path(args.file), arm_column=args.arm_column,
                         outcome_column=args.outcome_column, control=args.control,
                         treatment=args.treatment, looks=args.looks,
                         settings=settings.champion_challenger,
                         limits=ReadLimits.from_settings(settings.collect))
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=2, default=str))
    return _print(record)


def cmd_summary(args: argparse.Namespace) -> int:
    from pipelines.summary import format_summary, latest_summary
    from pipelines.tasks import get_task

    paths = _paths(args)
    if args.latest_run:
        print(latest_summary(paths))
        return 0
    settings = _settings(args, paths)
    print(format_summary(get_task(settings.train.task), paths))
    return 0


def cmd_registry_history(args: argparse.Namespace) -> int:
    from pipelines.registry import audit, tracking

    tracking.connect(_paths(args).tracking_uri)
    events = audit.alias_history(args.name)
    print(audit.dumps(events) if args.json else audit.format_history(events))
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from pipelines.monitor.tasks import check

    paths = _paths(args)
    settings = _settings(args, paths, {"monitor.window_end": args.window_end,
                                       "monitor.window_days": args.window_days})
    rows = None
    if args.posts:
        from pipelines.collect.formats import ReadLimits
        from pipelines.tasks import get_task

        rows = get_task(settings.train.task).read_for_scoring(
            Path(args.posts), args.format, paths=paths,
            limits=ReadLimits.from_settings(settings.collect)).rows
    now = pd.Timestamp.now(tz="UTC")
    # one MLflow monitoring run per check unless the caller names one to resume
    run_key = args.run_key or f"cli-drift/{now:%Y-%m-%dT%H:%M:%S.%f}"
    decision = check(paths, settings, run_key=run_key, logical=str(now), rows=rows,
                     report=True)
    _print(decision)
    if not decision["verdict"]:
        from pipelines.monitor.tasks import no_verdict_message

        print(f"drift: {no_verdict_message(decision, min_rows=settings.monitor.min_rows)}",
              file=sys.stderr)
        return NO_VERDICT_EXIT
    verdict = "RETRAIN" if decision["retrain"] else "keep the model"
    print(f"drift: verdict on {decision['rows_in_window']} rows of {decision['window']}: "
          f"{verdict} ({decision['reason']}); report: {decision['report']}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from pipelines.serve.app import Service, run_server
    from pipelines.serve.task_serving import served_task

    paths = _paths(args)
    settings = _settings(args, paths, {"serve.host": args.host, "serve.port": args.port,
                                       "serve.routing": args.routing,
                                       "register.model_name": args.model_name})
    # each served task's registered model: register.model_name with {task} = that task;
    # its settings (train.task = that task) say what model_status reports of its outcomes
    task_settings = {name: _settings(args, paths, {"train.task": name})
                     for name in settings.serve.tasks}
    tasks = [served_task(name, paths=paths, model_name=own.register.model_name,
                         settings=own) for name, own in task_settings.items()]
    keys = frozenset(k.strip() for k in os.environ.get("ENGAGEFLOW_API_KEYS", "").split(",")
                     if k.strip())
    if not keys and not args.no_auth:
        raise ValueError("serve: no API keys; set ENGAGEFLOW_API_KEYS (comma-separated) or "
                         "pass --no-auth to serve without authentication.")
    if args.no_auth:
        logging.getLogger(__name__).warning("serve: authentication is OFF (--no-auth)")
    from pipelines.features.feature_store import open_history

    history = open_history(settings.serve.history_store, store_dir=paths.feature_store,
                           online_url=paths.feature_store_url,
                           maturity_hours=settings.features.maturity_hours,
                           cache_seconds=settings.serve.history_cache_seconds)
    from pipelines.validate.expectations import load_suite

    # a served task that learns its own segments also assigns rows to them (Task.segment_assigner)
    assigners = {served.task.name: (assigner, served.request_model) for served in tasks
                 if (assigner := served.task.segment_assigner(task_settings[served.task.name]))
                 is not None}
    if len(assigners) > 1:
        raise ValueError(f"serve: 'serve.tasks' holds {len(assigners)} tasks with learned "
                         f"segments ({sorted(assigners)}); POST /segments/sessions/assign "
                         f"serves one.")
    session_segments = next(iter(assigners.values()), None)
    run_server(Service(
        settings.serve, model_name=settings.register.model_name, task=settings.train.task,
        maturity_hours=settings.features.maturity_hours, segments=settings.segments,
        row_suite=load_suite(paths.resolve(settings.validate.suite)),
        prediction_log_url=paths.prediction_log_url, tracking_uri=paths.tracking_uri,
        api_keys=None if args.no_auth else keys, project_dir=str(paths.root), tasks=tasks,
        history=history, freeze_gc=True, session_segments=session_segments))
    return 0


def cmd_materialize_history(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from pipelines.stages import materialize_history

    paths = _paths(args)
    return _print(materialize_history(paths, _settings(args, paths),
                                      written_at=datetime.now(UTC)))


def cmd_score(args: argparse.Namespace) -> int:
    from pipelines.collect.formats import ReadLimits
    from pipelines.registry.loading import parse_models_uri
    from pipelines.serve.scoring import run_score

    paths = _paths(args)
    parse_models_uri(args.model)
    if not args.output.endswith(".parquet"):
        raise ValueError(f"score: '--output' must be a .parquet file; got {args.output!r}.")
    if args.params or paths.params_file.exists():
        settings = _settings(args, paths)
    else:
        # scoring needs no project: without params.yaml the settings' defaults (which equal
        # params.yaml's) and --set give the task of a model version that records none
        from pipelines.config import apply_overrides, settings_from_params

        settings = settings_from_params(apply_overrides({}, _overrides(args)),
                                        source="--set")
    history = None
    if args.history:
        from pipelines.features.history_source import FrameHistory

        history = FrameHistory(Path(args.history),
                               maturity_hours=settings.features.maturity_hours)
    else:
        from pipelines.serve.scoring import configured_history

        history = configured_history(settings, paths)
    try:
        return _print(run_score(task=settings.train.task, model_uri=args.model,
                                input_path=Path(args.input), input_format=args.format,
                                output_path=Path(args.output), paths=paths,
                                chunk_rows=settings.serve.score_chunk_rows,
                                threads=settings.serve.score_threads,
                                limits=ReadLimits.from_settings(settings.collect),
                                history=history))
    except LookupError as missing:          # no such model or alias in the registry
        raise ValueError(str(missing)) from None


def cmd_fail_stale_runs(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from pipelines.deploy.stale_runs import fail_stale_runs

    for run in fail_stale_runs(args.dag_ids, older_than=timedelta(seconds=args.older_than)):
        print(f"marked failed: {run.dag_id} {run.run_id} (started {run.start_date}; "
              f"tasks failed: {', '.join(run.task_ids) or 'none'})")
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from pipelines.run_progress import follow

    follow(Path(args.log), args.pid)
    return 0


STAGE_HELP: dict[str, str] = {
    "collect": "collect the task's input (posts, sessions, ...) → data/01_raw",
    "validate": "apply the task's data contract → data/02_validated + data/02_quarantine",
    "features": "build the task's training table → data/03_features",
    "train": "fit the candidate models → data/04_models",
    "evaluate": "score candidates and the naive baselines → data/05_reporting/metrics.json",
    "refit": "refit the chosen candidate on every matured label → data/04_final_model",
    "register": "log to MLflow, register the (refitted) best model as @challenger",
    "promote": "promotion gate: judge the registered @challenger, move the aliases",
    "segments": "train, gate and register the platform / segment models",
}


COLLECT_EPILOG = (
    "what it reads comes from params.yaml's collect section: collect.source is demo, file "
    "or validated; a file source is read from collect.path in collect.format, one of: "
    + ", ".join(FILE_FORMATS) + " (docs/collecting.md#file-formats). Example: engageflow "
    "collect --set collect.source=file --set collect.path=posts.json "
    "--set collect.format=twitter_v2")


def _version() -> str:
    """The installed engageflow distribution's version (pyproject.toml's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("engageflow")
    except PackageNotFoundError:        # a source checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engageflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def stage(name: str, func, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--params", help="params file (default: PROJECT/params.yaml)")
        p.add_argument("--project-dir", help="project root (default: $ENGAGEFLOW_HOME or .)")
        p.add_argument("--data-dir", help="where the data layers go (default: PROJECT/data)")
        p.set_defaults(func=func)
        return p

    demo = stage("demo-data", cmd_demo_data, "write seeded demo posts (canonical schema)")
    demo.add_argument("--rows", type=_positive_int, help="default: params collect.demo_rows")
    demo.add_argument("--accounts", type=_positive_int,
                      help="default: params collect.demo_accounts")
    demo.add_argument("--seed", type=_non_negative_int, help="default: params collect.seed")
    demo.add_argument("--output", default="data/demo_posts.parquet",
                      help="output file, .parquet or .csv")

    from pipelines.pipeline import PIPELINE

    for step in PIPELINE:
        p = stage(step.name, cmd_stage, STAGE_HELP[step.name])
        if step.name == "collect":
            p.epilog = COLLECT_EPILOG
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a params key, e.g. train.task=conversion (repeatable)")
        p.add_argument("--run-key", help="idempotency key of the run (register, promote, "
                       "segments; default: cli/TASK/<hash of the trained models' manifest>)")
        p.add_argument("--as-of", help="the run's instant: later posts are in the future; "
                       "segment retraining counts matured posts (default: now)")
        p.add_argument("--no-reports", action="store_true",
                       help="validate: skip Data Docs and the exploration report")
    segment = stage("segment-sessions", cmd_segment_sessions,
                    "learned session segments: K-Means after PCA on the conversion task's "
                    "validated sessions, k compared, profiles written, model registered "
                    "(params session_segments)")
    segment.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="override a params key, e.g. session_segments.ks=[3,4] "
                              "(repeatable)")
    materialize = stage("materialize-history", cmd_materialize_history,
                        "validated store → the account-history feature store (Feast; "
                        "serve.history_store)")
    materialize.add_argument("--set", action="append", metavar="KEY=VALUE",
                             help="override a params key, e.g. serve.history_store=feast")
    dvc = stage("dvc-yaml", cmd_dvc_yaml, "print dvc.yaml for the task of params.yaml")
    dvc.add_argument("--write", action="store_true", help="write PROJECT/dvc.yaml")
    dvc.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a params key, e.g. train.task=conversion")
    day = stage("collect-day", cmd_collect_day,
                "collect one day from the daily sources → data/01_raw/source=*/date=*")
    day.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    day.add_argument("--sources", nargs="+", help="default: params collect_daily.sources")
    day.add_argument("--path", help="file or folder for the 'file' source")
    day.add_argument("--format", choices=FILE_FORMATS, metavar="FORMAT",
                     help="its layout, one of: " + ", ".join(FILE_FORMATS)
                     + " (default: params collect.format)")
    day.add_argument("--account", action="append",
                     help="API:ACCOUNT, e.g. x:2244994945 (repeatable)")
    vday = stage("validate-day", cmd_validate_day,
                 "validate one day's raw partition → data/02_validated/date=*")
    vday.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    vday.add_argument("--as-of", help="posts after this are in the future (default: now)")
    vday.add_argument("--no-reports", action="store_true",
                      help="skip Data Docs and the exploration report")
    online = stage("champion-challenger", cmd_champion_challenger,
                   "one look of the online champion-challenger test on matured outcomes")
    online.add_argument("--as-of", help="the look's instant (default: now, UTC)")
    online.add_argument("--run-key", help="idempotency key (default: cli/DATE)")
    ab = stage("ab-test", cmd_ab_test, "read out an A/B test of two arms on a 0/1 outcome "
               "with the champion-challenger sequential test and a fixed-horizon test")
    ab.add_argument("--file", required=True, help="CSV with one row per user")
    ab.add_argument("--arm-column", required=True, help="column naming each user's arm")
    ab.add_argument("--outcome-column", required=True,
                    help="0/1 (TRUE/FALSE) outcome column, 1 = good (e.g. retained)")
    ab.add_argument("--control", required=True, help="the control arm (plays the champion)")
    ab.add_argument("--treatment", required=True, help="the treatment arm (the challenger)")
    ab.add_argument("--looks", type=_positive_int, default=1,
                    help="equally spaced looks in file order (default 1: one look at all)")
    ab.add_argument("--output", help="also write the record to this JSON file")
    ab.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a params key, e.g. champion_challenger.alpha=0.01")
    summary = stage("summary", cmd_summary, "print the summary of the run in --data-dir")
    summary.add_argument("--set", action="append", metavar="KEY=VALUE",
                         help="override a params key, e.g. train.task=conversion")
    summary.add_argument("--latest-run", action="store_true",
                         help="summarize the newest finished Airflow run instead")
    drift = stage("drift", cmd_drift, "judge a window of the task's rows (posts, sessions) "
                  "against the champion's training data → data/06_monitoring (drift summary "
                  "+ Evidently report); exit 0 with a verdict, 3 when the window holds too "
                  "few rows for one")
    drift.add_argument("--window-end", help="the window's end, YYYY-MM-DD (default: params "
                       "monitor.window_end, else the latest data: today, or the day after "
                       "the newest row)")
    drift.add_argument("--window-days", type=_positive_int,
                       help="days in the window (default: params monitor.window_days)")
    drift.add_argument("--posts", help="judge this file or folder of the task's rows "
                       "instead of the validated store (read in --format as batch scoring "
                       "reads it)")
    drift.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a params key, e.g. train.task=conversion")
    drift.add_argument("--format", default="canonical", help="layout of --posts")
    drift.add_argument("--run-key", help="idempotency key of the MLflow monitoring run "
                       "(default: a new run per check, cli-drift/<time>)")


    serve = stage("serve", cmd_serve, "serve @champion/@challenger over HTTP (FastAPI): "
                  "posts at /predict, each task of serve.tasks at /tasks/<task>/predict; "
                  "API keys from ENGAGEFLOW_API_KEYS")
    serve.add_argument("--host", help="bind address (default: params serve.host)")
    serve.add_argument("--port", type=_positive_int, help="default: params serve.port")
    serve.add_argument("--model-name", help="registered model (default: params register)")
    serve.add_argument("--routing", choices=("sticky", "thompson"),
                       help="default: params serve.routing")
    serve.add_argument("--no-auth", action="store_true",
                       help="serve without API keys (local experiments only)")
    serve.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a params key, e.g. serve.tasks=[conversion]")
    score = stage("score", cmd_score, "batch-score a file of a task's rows (posts, sessions) "
                  "with a registered model")
    score.add_argument("--model", required=True,
                       help="models:/NAME@ALIAS or models:/NAME/VERSION")
    score.add_argument("--input", required=True, help="file or folder of rows to score")
    score.add_argument("--format", default="canonical",
                       help="its layout (posts: as for collect; sessions: canonical = the "
                            "sessions CSV)")
    score.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a params key, e.g. train.task=conversion: the task "
                            "scored when the model version records none")
    score.add_argument("--output", required=True,
                       help="predictions .parquet (quarantine written beside it)")
    score.add_argument("--history", default="",
                       help="posts (.parquet file or folder, e.g. the validated store) whose "
                            "matured outcomes update the account history without retraining")
    stale = sub.add_parser(
        "fail-stale-runs", help="mark `airflow dags test` runs left queued/running by a "
        "killed process as failed (with their unfinished tasks); prints each one")
    stale.add_argument("dag_ids", nargs="+", metavar="DAG_ID", help="e.g. engagement_training")
    stale.add_argument("--older-than", type=_non_negative_int, default=0, metavar="SECONDS",
                       help="leave runs younger than this alone (default 0: `make run` is "
                            "the only runner of its embedded Airflow)")
    stale.set_defaults(func=cmd_fail_stale_runs)
    progress = sub.add_parser(
        "progress", help="follow the log of `airflow dags test` (make run): one line per "
        "task with its state, seconds and counts, until process PID exits")
    progress.add_argument("log", help="the log file, e.g. .engageflow/last-run.log")
    progress.add_argument("--pid", type=_positive_int, required=True,
                          help="the process writing the log")
    progress.set_defaults(func=cmd_progress)
    registry = sub.add_parser("registry", help="the MLflow model registry")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True)
    history = registry_sub.add_parser(
        "history", help="every alias move of a registered model (who, what, when, why)")
    history.add_argument("name", help="registered model name, e.g. engagement-likes")
    history.add_argument("--json", action="store_true", help="full events as JSON")
    history.add_argument("--project-dir", help="project root (default: $ENGAGEFLOW_HOME or .)")
    history.add_argument("--data-dir", help=argparse.SUPPRESS)
    history.add_argument("--params", help=argparse.SUPPRESS)
    history.set_defaults(func=cmd_registry_history)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0; got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "mlflow", "alembic", "urllib3", "airflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from pipelines.collect.api.errors import ApiError

    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"engageflow {args.command}: error: {error}", file=sys.stderr)
        return 2
    except ApiError as error:
        # An expected collection failure (auth, retries exhausted, a malformed page, a
        # redirect): its message is the redacted explanation; a traceback adds nothing.
        print(f"engageflow {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
