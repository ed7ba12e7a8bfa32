"""The ``engageflow`` console script: one subcommand per stage, options checked here.

Stages read their settings from ``params.yaml`` (``--params``) and write the numbered data
layers under ``--data-dir`` (default ``data/`` in the project). ``dvc.yaml`` calls these.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from pipelines.config import load_params, settings_from_params
from pipelines.paths import ProjectPaths, project_paths


def _paths(args: argparse.Namespace) -> ProjectPaths:
    base = project_paths(args.project_dir)
    if args.data_dir:
        from dataclasses import replace

        base = replace(base, data=Path(args.data_dir).resolve())
    return base


def _settings(args: argparse.Namespace, paths: ProjectPaths):
    params = load_params(args.params or paths.params_file)
    return settings_from_params(params), params


def cmd_demo_data(args: argparse.Namespace) -> int:
    from pipelines.collect.demo_data import generate_posts

    posts = generate_posts(args.rows, args.accounts, args.seed)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        posts.to_csv(out, index=False)
    else:
        posts.to_parquet(out, index=False)
    print(f"wrote {len(posts)} demo posts to {out}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from pipelines.collect.stage import run_collect

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    c = settings.collect
    source = "file" if args.path else c.source
    summary = run_collect(
        paths.raw_posts, source=source, path=args.path or c.path, fmt=args.format or c.format,
        demo_rows=c.demo_rows, demo_accounts=c.demo_accounts, seed=c.seed,
    )
    print(json.dumps(asdict(summary)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from pipelines.validate.stage import rules_from_settings, run_validate

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    v = settings.validate
    summary = run_validate(
        paths.raw_posts, paths.validated_posts, paths.quarantined_posts,
        paths.validation_report, row_suite_path=paths.resolve(v.suite),
        table_suite_path=paths.resolve(v.table_suite),
        as_of=pd.Timestamp(args.as_of) if args.as_of else pd.Timestamp.now(tz="UTC"),
        rules=rules_from_settings(v),
        reports_dir=None if args.no_reports else paths.data / "05_reporting" / "validation",
    )
    print(json.dumps(asdict(summary)))
    return 0


def cmd_collect_day(args: argparse.Namespace) -> int:
    from pipelines.collect.partition import collect_partition

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    c, day = settings.collect, settings.collect_daily
    accounts = dict(day.api_accounts)
    for item in args.account or []:
        api, _, account = item.partition(":")
        accounts.setdefault(api, ())
        accounts[api] = (*accounts[api], account)
    summary = collect_partition(
        data_root=paths.data, run_date=args.date, sources=args.sources or day.sources,
        path=args.path or c.path, fmt=args.format or c.format, demo_rows=day.demo_rows,
        demo_accounts=c.demo_accounts, seed=c.seed, api_accounts=accounts,
        api_base_urls=day.api_base_urls, watermark_db=paths.state / "watermarks.db",
        lookback_hours=day.lookback_hours,
    )
    print(json.dumps(summary))
    return 0


def cmd_validate_day(args: argparse.Namespace) -> int:
    from pipelines.validate.partition import run_validate_partition
    from pipelines.validate.stage import rules_from_settings

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    v = settings.validate
    print(json.dumps(run_validate_partition(
        data_root=paths.data, run_date=args.date, row_suite_path=paths.resolve(v.suite),
        table_suite_path=paths.resolve(v.table_suite),
        as_of=pd.Timestamp(args.as_of) if args.as_of else pd.Timestamp.now(tz="UTC"),
        rules=rules_from_settings(v), with_reports=not args.no_reports,
    )))
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from pipelines.features.stage import run_features

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    manifest = run_features(paths.validated_posts, paths.features, settings=settings.features,
                            embedding_cache=paths.embedding_cache,
                            model_cache_dir=paths.model_cache)
    print(json.dumps({k: v for k, v in manifest.items() if k != "feature_columns"}))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pipelines.train.stage import run_train

    paths = _paths(args)
    settings, _ = _settings(args, paths)
    t = settings.train
    manifest = run_train(paths.features, paths.models, target=t.target, models=t.models,
                         hyperparameters=t.hyperparameters, seed=t.seed,
                         valid_fraction=t.valid_fraction, test_fraction=t.test_fraction,
                         cv_folds=t.cv_folds)
    print(json.dumps({name: {"fit_seconds": c["fit_seconds"],
                             "cv_mae_log": (c["cv"] or {}).get("mean", {}).get("mae_log")}
                      for name, c in manifest["candidates"].items()}))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipelines.evaluate.stage import run_evaluate

    paths = _paths(args)
    report = run_evaluate(paths.features, paths.models, paths.metrics)
    print(json.dumps({"best": report["best"], "test": report["candidates"][report["best"]]
                      ["test"]}))
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from pipelines.registry.register import run_register
    from pipelines.summary import format_summary

    paths = _paths(args)
    settings, params = _settings(args, paths)
    run_register(
        features_path=paths.features, models_dir=paths.models, metrics_path=paths.metrics,
        validation_report=paths.validation_report, registration_path=paths.registration,
        tracking_uri=paths.tracking_uri, artifact_root=paths.mlflow_artifacts,
        experiment=settings.register.experiment, model_name=settings.register.model_name,
        run_key=args.run_key, params=params, project_root=paths.root,
    )
    print(format_summary(paths.data, tracking_uri=paths.tracking_uri))
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

    demo = sub.add_parser("demo-data", help="write seeded demo posts (canonical schema)")
    demo.add_argument("--rows", type=_positive_int, default=4000)
    demo.add_argument("--accounts", type=_positive_int, default=60)
    demo.add_argument("--seed", type=_non_negative_int, default=42)
    demo.add_argument("--output", default="data/demo_posts.parquet",
                      help="output file, .parquet or .csv")
    demo.set_defaults(func=cmd_demo_data)

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
    stage("features", cmd_features, "build the feature table → data/03_features")
    stage("train", cmd_train, "fit the candidate models → data/04_models")
    stage("evaluate", cmd_evaluate, "score candidates and the baseline → data/05_reporting")
    register = stage("register", cmd_register,
                     "log to MLflow, register the best model, set its alias")
    register.add_argument("--run-key", default="cli", help="idempotency key of the run")
    summary = stage("summary", cmd_summary, "print the summary of the run in --data-dir")
    summary.add_argument("--latest-run", action="store_true",
                         help="summarize the newest finished Airflow run instead")
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
