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
from pipelines.config import Settings, load_settings
from pipelines.paths import ProjectPaths, project_paths


def _paths(args: argparse.Namespace) -> ProjectPaths:
    base = project_paths(args.project_dir)
    if args.data_dir:
        from dataclasses import replace

        base = replace(base, data=Path(args.data_dir).resolve())
    return base


def _settings(args: argparse.Namespace, paths: ProjectPaths,
              overrides: dict[str, object] | None = None) -> Settings:
    """params.yaml (``--params``) with the options given on the command line as dotted
    overrides (``None``: not given), validated like a trigger form."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_settings(args.params or paths.params_file, given)


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


def cmd_collect(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    return _print(stages.collect(paths, settings, source="file" if args.path else None,
                                 path=args.path, fmt=args.format))


def cmd_validate(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    return _print(stages.validate(paths, settings, as_of=_as_of(args.as_of),
                                  reports=not args.no_reports))


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


def cmd_features(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    manifest = stages.features(paths, settings, embedding_cache=Path(args.embedding_cache)
                               if args.embedding_cache else None)
    return _print({k: v for k, v in manifest.items() if k != "feature_columns"})


def cmd_train(args: argparse.Namespace) -> int:
    paths = _paths(args)
    settings = _settings(args, paths)
    manifest = stages.train(paths, settings)
    return _print({name: {"fit_seconds": c["fit_seconds"],
                          "cv_mae_log": (c["cv"] or {}).get("mean", {}).get("mae_log")}
                   for name, c in manifest["candidates"].items()})


def cmd_evaluate(args: argparse.Namespace) -> int:
    report = stages.evaluate(_paths(args))
    return _print({"best": report["best"], "test": report["candidates"][report["best"]]["test"]})


def cmd_register(args: argparse.Namespace) -> int:
    from pipelines.summary import format_summary

    paths = _paths(args)
    settings = _settings(args, paths)
    stages.register(paths, settings, run_key=args.run_key)
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from pipelines.registry.promotion import format_gate
    from pipelines.summary import format_summary

    paths = _paths(args)
    settings = _settings(args, paths)
    record = stages.promote(paths, settings, run_key=args.run_key)
    print(format_gate(record))
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
    return 0


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


def cmd_summary(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pipelines.summary import format_summary

    paths = _paths(args)
    if args.latest_run:
        runs = sorted((paths.state / "runs").glob("*/05_reporting/registration.json"),
                      key=lambda p: p.stat().st_mtime)
        if not runs:
            raise FileNotFoundError(f"no finished run under {paths.state / 'runs'}")
        paths = replace(paths, data=runs[-1].parents[1])
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
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
    posts = None
    if args.posts:
        from pipelines.collect.file_formats import read_posts

        posts = read_posts(args.posts, args.format).posts
    decision = check(paths, settings, run_key=args.run_key,
                     logical=str(pd.Timestamp.now(tz="UTC")), posts=posts, report=True)
    return _print(decision)


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from pipelines.serve.app import Service, run_server

    paths = _paths(args)
    settings = _settings(args, paths, {"serve.host": args.host, "serve.port": args.port,
                                       "serve.routing": args.routing,
                                       "register.model_name": args.model_name})
    keys = frozenset(k.strip() for k in os.environ.get("ENGAGEFLOW_API_KEYS", "").split(",")
                     if k.strip())
    if not keys and not args.no_auth:
        raise ValueError("serve: no API keys; set ENGAGEFLOW_API_KEYS (comma-separated) or "
                         "pass --no-auth to serve without authentication.")
    if args.no_auth:
        logging.getLogger(__name__).warning("serve: authentication is OFF (--no-auth)")
    run_server(Service(
        settings.serve, model_name=settings.register.model_name, task=settings.train.task,
        maturity_hours=settings.features.maturity_hours, segments=settings.segments,
        prediction_log_url=paths.prediction_log_url, tracking_uri=paths.tracking_uri,
        api_keys=None if args.no_auth else keys, project_dir=str(paths.root),
        freeze_gc=True))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from pipelines.registry.loading import parse_models_uri
    from pipelines.serve.scoring import run_score

    paths = _paths(args)
    parse_models_uri(args.model)
    if not args.output.endswith(".parquet"):
        raise ValueError(f"score: '--output' must be a .parquet file; got {args.output!r}.")
    try:
        return _print(run_score(model_uri=args.model, input_path=Path(args.input),
                                input_format=args.format, output_path=Path(args.output),
                                tracking_uri=paths.tracking_uri))
    except LookupError as missing:          # no such model or alias in the registry
        raise ValueError(str(missing)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engageflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
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

    collect = stage("collect", cmd_collect, "collect posts → data/01_raw")
    collect.add_argument("--path", help="file or folder to read (default: params collect)")
    collect.add_argument("--format", help="file layout name (default: params collect.format)")
    validate = stage("validate", cmd_validate,
                     "validate raw posts → data/02_validated + data/02_quarantine")
    validate.add_argument("--as-of", help="posts after this instant are in the future "
                          "(default: now)")
    validate.add_argument("--no-reports", action="store_true",
                          help="skip Data Docs and the exploration report")
    day = stage("collect-day", cmd_collect_day,
                "collect one day from the daily sources → data/01_raw/source=*/date=*")
    day.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    day.add_argument("--sources", nargs="+", help="default: params collect_daily.sources")
    day.add_argument("--path", help="file or folder for the 'file' source")
    day.add_argument("--format", help="its layout (default: params collect.format)")
    day.add_argument("--account", action="append",
                     help="API:ACCOUNT, e.g. x:2244994945 (repeatable)")
    vday = stage("validate-day", cmd_validate_day,
                 "validate one day's raw partition → data/02_validated/date=*")
    vday.add_argument("--date", required=True, help="the day, YYYY-MM-DD")
    vday.add_argument("--as-of", help="posts after this are in the future (default: now)")
    vday.add_argument("--no-reports", action="store_true",
                      help="skip Data Docs and the exploration report")
    features = stage("features", cmd_features, "build the feature table → data/03_features")
    features.add_argument("--embedding-cache",
                          help="caption-embedding cache (Parquet by content hash; default: "
                          ".engageflow/cache/caption_embeddings.parquet)")
    stage("train", cmd_train, "fit the candidate models → data/04_models")
    stage("evaluate", cmd_evaluate, "score candidates and the baseline → data/05_reporting")
    register = stage("register", cmd_register,
                     "log to MLflow, register the best model, set its alias")
    register.add_argument("--run-key", default="cli", help="idempotency key of the run")
    promote = stage("promote", cmd_promote,
                    "promotion gate: judge the registered @challenger, move the aliases")
    promote.add_argument("--run-key", default="cli", help="idempotency key of the run")
    online = stage("champion-challenger", cmd_champion_challenger,
                   "one look of the online champion-challenger test on matured outcomes")
    online.add_argument("--as-of", help="the look's instant (default: now, UTC)")
    online.add_argument("--run-key", help="idempotency key (default: cli/DATE)")
    summary = stage("summary", cmd_summary, "print the summary of the run in --data-dir")
    summary.add_argument("--latest-run", action="store_true",
                         help="summarize the newest finished Airflow run instead")
    drift = stage("drift", cmd_drift, "judge a window of posts against the champion's "
                  "training data → data/06_monitoring (drift summary + Evidently report)")
    drift.add_argument("--window-end", help="the window's end, YYYY-MM-DD (default: params "
                       "monitor.window_end, else today)")
    drift.add_argument("--window-days", type=_positive_int,
                       help="days in the window (default: params monitor.window_days)")
    drift.add_argument("--posts", help="judge this file or folder instead of the validated "
                       "store (read in --format)")
    drift.add_argument("--format", default="canonical", help="layout of --posts")
    drift.add_argument("--run-key", default="cli-drift", help="idempotency key of the "
                       "MLflow monitoring run")


    serve = stage("serve", cmd_serve, "serve @champion/@challenger over HTTP (FastAPI); "
                  "API keys from ENGAGEFLOW_API_KEYS")
    serve.add_argument("--host", help="bind address (default: params serve.host)")
    serve.add_argument("--port", type=_positive_int, help="default: params serve.port")
    serve.add_argument("--model-name", help="registered model (default: params register)")
    serve.add_argument("--routing", choices=("sticky", "thompson"),
                       help="default: params serve.routing")
    serve.add_argument("--no-auth", action="store_true",
                       help="serve without API keys (local experiments only)")
    score = stage("score", cmd_score, "batch-score a file of posts with a registered model")
    score.add_argument("--model", required=True,
                       help="models:/NAME@ALIAS or models:/NAME/VERSION")
    score.add_argument("--input", required=True, help="file or folder of posts")
    score.add_argument("--format", default="canonical", help="its layout (as for collect)")
    score.add_argument("--output", required=True,
                       help="predictions .parquet (quarantine written beside it)")
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
    for noisy in ("great_expectations", "mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"engageflow {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
