"""Model cards: each registered model version's MLflow description and filterable tags.

The register stage writes the card (:func:`register_card` then :func:`publish`): what the
version predicts, its family, the rows and window it learned from, its features, its test
metrics beside the naive baseline's and the champion's, and its known limits. The
promotion gate then fills in its decision (:func:`with_gate_decision`, via
:func:`publish_gate`). Tags a user can filter the version list on
(``tags.`engageflow.family` = 'ridge'``):

=============================  ==========================================================
tag                            value
=============================  ==========================================================
``engageflow.family``          the model family (``ridge``, ``lightgbm``, ...)
``engageflow.train_rows``      rows the registered model learned from
``engageflow.vs_baseline``     ``better`` / ``worse`` than the naive baseline on test
``engageflow.gate.verdict``    ``pending`` until the gate ran, then its decision
=============================  ==========================================================

Pure functions render; only :func:`publish` and :func:`publish_gate` touch MLflow.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

FAMILY_TAG, ROWS_TAG = "engageflow.family", "engageflow.train_rows"
BASELINE_TAG, VERDICT_TAG = "engageflow.vs_baseline", "engageflow.gate.verdict"
PENDING = "pending"
GATE_HEADING = "## Promotion gate"
#: MLflow's SQL stores keep a version description in a 5,000-character column.
MAX_CHARS = 5000
#: Counts and supports in a metrics dict: not metrics to compare.
_NOT_METRICS = ("n", "support", "accounts", "within_account_spearman_accounts")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _fmt(value: Any) -> str:
    number = _number(value)
    return "–" if number is None else f"{number:.4g}"


def baseline_verdict(metric: str, model: Mapping[str, Any],
                     baseline: Mapping[str, Any] | None) -> str | None:
    """``better`` / ``worse`` than the baseline on ``metric`` (lower is better, as for
    every task's selection metric), or None without both numbers."""
    mine = _number(model.get(metric))
    theirs = None if baseline is None else _number(baseline.get(metric))
    if mine is None or theirs is None:
        return None
    return "better" if mine < theirs else "worse"


def register_card(*, task: Any, model_name: str, version: str, family: str,
                  report: Mapping[str, Any], manifest: Mapping[str, Any],
                  refit: Mapping[str, Any], train_window: tuple[str, str], train_rows: int,
                  tags: Mapping[str, str], comparison: Mapping[str, Any] | None,
                  champion_version: str | None) -> tuple[str, dict[str, str]]:
    """The card (markdown) and tags of a version as registered, before the gate judged it.

    Args:
        task: The :class:`~pipelines.tasks.base.Task` the version learned.
        model_name, version: The registered model version.
        family: Its model family (the chosen candidate's name).
        report: The evaluate stage's metrics report (``metrics.json``).
        manifest: The train stage's manifest (features, rows, split).
        refit: The refit record (``refit.json``; ``{"refit": False}`` without a refit).
        train_window: First and last time of the rows the registered model learned from.
        train_rows: How many rows it learned from.
        tags: The run's lineage tags (data hash, git commit, feature set, maturity).
        comparison: The champion scored on the same test rows (register's
            ``compare_with_champion``), or None.
        champion_version: The champion when it was registered, or None.

    Returns:
        The markdown card and the tags to set on the version.
    """
    metric = report.get("selection_metric") or task.selection_metric
    mine = report["candidates"][family]
    test = mine["test"]
    baselines = report.get("baselines") or {}
    base_name = next(iter(baselines), None)
    base_test = baselines[base_name]["test"] if base_name else None
    vs_base = baseline_verdict(metric, test, base_test)
    champion_test = (comparison or {}).get("champion_test")

    lines = [f"# {model_name} v{version}: {family} for `{task.name}`", ""]
    if vs_base == "worse":
        lines += [f"> **Worse than the naive baseline** (`{base_name}`) on the test part: "
                  f"{metric} {_fmt(test[metric])} vs {_fmt(base_test[metric])} (lower is "
                  f"better). It adds nothing over the baseline; do not serve it.", ""]
    elif vs_base == "better":
        lines += [f"Beats the naive baseline (`{base_name}`) on the test part: {metric} "
                  f"{_fmt(test[metric])} vs {_fmt(base_test[metric])} (lower is better).",
                  ""]
    lines += [
        "## Task", "",
        f"- predicts **{task.noun}** (`{task.target}`, {task.problem.replace('_', ' ')}) "
        f"for one row of `{task.table}`",
        f"- model family: **{family}** (chosen on validation {metric} among "
        f"{', '.join(f'`{c}`' for c in report['candidates'])})",
        "", "## Training data", "",
        f"- **{train_rows:,} rows**, {train_window[0]} → {train_window[1]}",
    ]
    if refit.get("refit"):
        lines.append(f"- the registered model is the final refit on every matured label; "
                     f"the metrics below and the gate's evidence come from the same recipe "
                     f"fitted without the test part ({refit.get('evidence_rows', '?')} rows)")
    split = report.get("split") or manifest.get("split") or {}
    if split:
        lines.append(f"- evaluation split (time-ordered): train {split.get('train')}, valid "
                     f"{split.get('valid')}, test {split.get('test')} rows from "
                     f"{split.get('test_start', '?')}")
    lines.append(f"- data sha256 `{str(tags.get('engageflow.data_sha256', '?'))[:16]}`, "
                 f"git `{str(tags.get('engageflow.git_commit', '?'))[:12]}`")
    lines += ["", "## Features", "", _features(manifest, tags), "",
              "## Metrics (test part)", ""]
    lines += _metrics_table(test, base_name, base_test, champion_version, champion_test)
    regimes = _regime_lines(metric, mine.get("test_by_regime") or {},
                            (report.get("baselines_by_regime") or {}).get(base_name) or {})
    lines += ["", *regimes] if regimes else []
    lines += ["", GATE_HEADING, "",
              "_Pending: the promotion gate judges this version next; only it moves "
              "`@champion`._", "",
              "## Known limits", "",
              *(f"- {limit}" for limit in _limits(task, metric, test, base_name, base_test,
                                                  mine, refit, tags, comparison))]
    card_tags = {FAMILY_TAG: family, ROWS_TAG: str(train_rows), VERDICT_TAG: PENDING}
    if vs_base is not None:
        card_tags[BASELINE_TAG] = vs_base
    return _fit("\n".join(lines)), card_tags


def _features(manifest: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    columns: Sequence[str] = manifest.get("feature_columns") or ()
    head = ", ".join(f"`{c}`" for c in columns[:40])
    more = f" and {len(columns) - 40} more" if len(columns) > 40 else ""
    return (f"{len(columns)} columns (feature set `{tags.get('engageflow.feature_set')}`): "
            f"{head}{more}" if columns else
            f"feature set `{tags.get('engageflow.feature_set')}`")


def _metrics_table(test: Mapping[str, Any], base_name: str | None,
                   base_test: Mapping[str, Any] | None, champion_version: str | None,
                   champion_test: Mapping[str, Any] | None) -> list[str]:
    names = [k for k, v in test.items() if k not in _NOT_METRICS and _number(v) is not None]
    header = ["metric", "this version"]
    columns = [test]
    if base_test is not None:
        header.append(f"baseline ({base_name})")
        columns.append(base_test)
    if champion_test is not None:
        header.append(f"champion v{champion_version}")
        columns.append(champion_test)
    rows = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    rows += [f"| {name} | " + " | ".join(_fmt(c.get(name)) for c in columns) + " |"
             for name in names]
    rows.append(f"\nrows: {test.get('n', '?')}" + ("" if champion_test is not None else
                "; no champion to compare with when it was registered"))
    return rows


def _regime_lines(metric: str, mine: Mapping[str, Any], baseline: Mapping[str, Any]
                  ) -> list[str]:
    out = []
    for regime, values in mine.items():
        base = baseline.get(regime) or {}
        out.append(f"- {regime} accounts ({values.get('n', '?')} rows): {metric} "
                   f"{_fmt(values.get(metric))} vs baseline {_fmt(base.get(metric))}")
    return out


def _limits(task: Any, metric: str, test: Mapping[str, Any], base_name: str | None,
            base_test: Mapping[str, Any] | None, mine: Mapping[str, Any],
            refit: Mapping[str, Any], tags: Mapping[str, str],
            comparison: Mapping[str, Any] | None) -> list[str]:
    limits = []
    if baseline_verdict(metric, test, base_test) == "worse":
        limits.append(f"worse than the naive `{base_name}` baseline on {metric}")
    if comparison and not comparison.get("challenger_better"):
        limits.append(f"not better than champion v{comparison['champion_version']} on "
                      f"{metric} on the same test rows")
    regimes = mine.get("test_by_regime") or {}
    warm, cold = (_number((regimes.get(r) or {}).get(metric)) for r in ("warm", "cold"))
    if warm is not None and cold is not None and cold > warm:
        limits.append(f"accounts it never trained on (cold) are predicted worse: {metric} "
                      f"{cold:.4g} vs {warm:.4g} on known accounts")
    growing = refit.get("labels_still_growing")
    if growing:
        limits.append(f"{growing} rows whose counts were still growing (read before the "
                      f"post was {tags.get('engageflow.maturity_hours', '?')} h old) were "
                      f"left out")
    limits.append(f"measured on a time-ordered test part of {test.get('n', '?')} rows; "
                  f"drift after the training window is watched by the drift monitor, not "
                  f"by these numbers")
    return limits


def _fit(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    note = "\n\n_(card cut to MLflow's 5,000-character limit)_"
    return text[:MAX_CHARS - len(note)] + note


def with_gate_decision(card: str, record: Mapping[str, Any]) -> str:
    """``card`` with its promotion-gate section replaced by the decision in ``record``
    (the gate's decision record: ``decision``, ``reasons``, ``primary``, ``aliases``)."""
    primary = record.get("primary") or {}
    lines = [f"**{str(record['decision']).upper()}**: {record['reasons'][0]}", ""]
    if _number(primary.get("improvement")) is not None:
        metric = (record.get("settings") or {}).get("metric", "")
        lines.append(f"- {metric} improvement {primary['improvement']:+.4f}, "
                     f"CI [{_fmt(primary.get('ci_low'))}, {_fmt(primary.get('ci_high'))}] on "
                     f"{record.get('n_rows')} holdout rows")
    for reason in record["reasons"][1:4]:
        lines.append(f"- {reason}")
    aliases = record.get("aliases") or {}
    held = ", ".join(f"@{a} = v{v}" for a, v in aliases.items() if v is not None)
    if held:
        lines.append(f"- registry after the decision: {held}")
    section = f"{GATE_HEADING}\n\n" + "\n".join(lines) + "\n"
    if GATE_HEADING not in card:
        return _fit(f"{card}\n\n{section}")
    before, _, rest = card.partition(GATE_HEADING)
    _, heading, after = rest.partition("\n## ")
    return _fit(before + section + (f"\n## {after}" if heading else ""))


def _gate_section(card: str) -> str:
    _, found, rest = card.partition(GATE_HEADING)
    return found + rest.partition("\n## ")[0] if found else ""


def publish(model_name: str, version: str, card: str, tags: Mapping[str, str]) -> None:
    """Set ``card`` as the version's description and ``tags`` on it.

    A register task retried after the gate judged the version keeps the gate's decision
    (its card section and verdict tag) instead of writing "pending" over it.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    current = client.get_model_version(model_name, version)
    verdict = current.tags.get(VERDICT_TAG)
    if tags.get(VERDICT_TAG) == PENDING and verdict not in (None, PENDING):
        tags = {**tags, VERDICT_TAG: verdict}
        decided = _gate_section(current.description or "")
        card = card.replace(_gate_section(card), decided) if decided else card
    client.update_model_version(model_name, version, description=card)
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    logger.info("model card: %s v%s described (%s)", model_name, version,
                ", ".join(f"{k}={v}" for k, v in tags.items()))


def publish_gate(record: Mapping[str, Any]) -> None:
    """Write the gate's decision into the card of the version it judged, and its verdict
    into the ``engageflow.gate.verdict`` tag."""
    from mlflow import MlflowClient

    name, version = record["model_name"], str(record["challenger_version"])
    card = MlflowClient().get_model_version(name, version).description or ""
    publish(name, version, with_gate_decision(card, record),
            {VERDICT_TAG: str(record["decision"])})
