"""The end-of-run summary people read: rows, candidates, registration, one prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def format_summary(data_dir: Path, *, tracking_uri: str) -> str:
    """Render the summary of the run whose layers are under ``data_dir``.

    Loads the registered model back through ``models:/NAME@ALIAS`` (the way a user would)
    and predicts the newest validated post.
    """
    import mlflow

    from pipelines.features.model_input import model_input

    validation = json.loads((data_dir / "02_validated" / "validation.json").read_text())
    metrics = json.loads((data_dir / "05_reporting" / "metrics.json").read_text())
    record = json.loads((data_dir / "05_reporting" / "registration.json").read_text())
    lines = [
        "", "=" * 72, "EngageFlow run summary", "=" * 72,
        f"rows collected {validation['rows_in']}, accepted {validation['rows_accepted']}, "
        f"quarantined {validation['rows_quarantined']}",
        f"candidates (test part, target={metrics['target']}, chosen on validation "
        f"{metrics['selection_metric']}):",
        f"  {'model':<26}{'MAE log1p':>10}{'RMSE log1p':>11}{'R2 log1p':>10}{'Spearman':>10}"
        f"{'class F1':>10}",
    ]
    from pipelines.registry.register import baselines

    rows = {**metrics["candidates"],
            **{f"baseline ({name.replace('_', ' ')})": parts
               for name, parts in baselines(metrics).items()}}
    for name, values in rows.items():
        t = values["test"]
        marker = " *" if name == metrics["best"] else ""
        f1 = (values.get("test_popularity_class") or {}).get("macro_f1")
        lines.append(f"  {name + marker:<26}{t['mae_log']:>10.4f}{t['rmse_log']:>11.4f}"
                     f"{t['r2_log']:>10.4f}{t['spearman']:>10.4f}"
                     f"{'' if f1 is None else f'{f1:>10.4f}'}")
    lines.append(f"registered {record['model_name']} version {record['version']} as "
                 f"@{record['alias']}  ({record['model_uri']})")
    gate_path = data_dir / "05_reporting" / "promotion.json"
    gate = json.loads(gate_path.read_text()) if gate_path.exists() else None
    model_uri = record["model_uri"]
    if gate is not None:
        lines += _gate_lines(gate)
        model_uri = gate.get("model_uri") or f"models:/{record['model_name']}/{record['version']}"
    elif record.get("comparison"):
        c = record["comparison"]
        lines.append(
            f"  vs champion v{c['champion_version']} on the same test rows: MAE log1p "
            f"{c['challenger_test']['mae_log']:.4f} vs {c['champion_test']['mae_log']:.4f} "
            f"({_verdict(c['delta_mae_log'])}; promotion needs the statistical gate)")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(model_uri)
    target = metrics["target"]
    if target == "follower_growth":
        post = pd.read_parquet(data_dir / "03_features" / "account_periods.parquet").tail(1)
        example = post[list(model.metadata.get_input_schema().input_names())]
    else:
        post = pd.read_parquet(data_dir / "02_validated" / "posts.parquet").tail(1)
        example = model_input(post)
    predicted = float(model.predict(example)[0])
    lines.append(f"example prediction with {model_uri}:")
    for key, value in example.iloc[0].items():
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        lines.append(f"  {key:<24}{text[:60] + ('…' if len(text) > 60 else '')}")
    actual = post[target].iloc[0]
    if target == "follower_growth":
        lines.append(f"  -> predicted growth of log1p(followers) next period {predicted:+.4f}"
                     f" ({'not known yet' if pd.isna(actual) else f'actual {actual:+.4f}'})")
    else:
        lines.append(f"  -> predicted {target} {predicted:,.0f} (actual "
                     f"{'not reported' if pd.isna(actual) else f'{int(actual):,}'})")
    segments = data_dir / "05_reporting" / "segments.json"
    if segments.exists():
        lines.extend(_segment_lines(json.loads(segments.read_text())))
    lines.append("=" * 72)
    return "\n".join(lines)


def _segment_lines(result: dict) -> list[str]:
    """One line on the platform / segment models of the run (docs/segments.md)."""
    records = result["segments"].values()
    trained = [r for r in records if "gate" in r]
    used = result["used"]
    return [f"segments ({result['segment_key']}, min {result['min_samples']} samples): "
            f"{len(result['segments'])} levels, {len(trained)} trained and gated, "
            f"{len(used)} earned their own model{': ' + ', '.join(used) if used else ''}"]


def _gate_lines(gate: dict) -> list[str]:
    """The promotion gate's verdict: decision, the primary interval, failed checks, aliases."""
    lines = [f"promotion gate: {gate['decision'].upper()} - {gate['reasons'][0]}"]
    primary = gate.get("primary")
    if primary and primary.get("ci_low") is not None:
        against = "baseline" if gate.get("mode") == "first_model" else \
            f"champion v{gate.get('champion_version')}"
        level = f"{gate['settings']['confidence']:.0%}"
        lines.append(
            f"  {primary['metric']} {primary['candidate']:.4f} vs {against} "
            f"{primary['reference']:.4f} on {gate['n_rows']} holdout rows: improvement "
            f"{primary['improvement']:+.4f}, {level} CI [{primary['ci_low']:+.4f}, "
            f"{primary['ci_high']:+.4f}] ({gate['settings']['resamples']} paired resamples)")
    lines += [f"  {reason}" for reason in gate["reasons"][1:]
              if reason.startswith(("FAILED", "NOT PROVEN"))]
    aliases = gate.get("aliases") or {}
    held = ", ".join(f"@{alias} v{version}" for alias, version in aliases.items() if version)
    lines.append(f"  registry now: {held or 'no aliases'}")
    return lines


def _verdict(delta_mae_log: float) -> str:
    if abs(delta_mae_log) < 1e-12:
        return "identical: same data and params give the same model"
    return "challenger better" if delta_mae_log < 0 else "champion better"
