"""The promotion gate's words: its decisions and statuses, the details of its checks, the
reasons of a decision and the lines a person reads in a task log.

Split from :mod:`pipelines.evaluate.promotion_gate`, which decides; this module only says
what the decision record holds. Pure: strings from numbers.
"""

from __future__ import annotations

import math
from typing import Any

from pipelines.evaluate.slices import REGIMES

PROMOTE, KEEP, REJECT = "promote", "keep_challenger", "reject"
NON_INFERIOR, INCONCLUSIVE, INFERIOR = "non_inferior", "inconclusive", "inferior"
#: The scope of the whole holdout when a proven improvement is attributed.
OVERALL = "overall"


def signed(value: float) -> str:
    """A signed number with four decimals; ``nan`` where undefined."""
    return "nan" if not math.isfinite(value) else f"{value:+.4f}"


def _interval(record: dict[str, Any], level: str) -> str:
    return f"{level} CI [{signed(record['ci_low'])}, {signed(record['ci_high'])}]"


def improvement_detail(primary: dict[str, Any], min_delta: float, level: str) -> str:
    """The challenger's improvement over the champion on the whole holdout."""
    return (f"{primary['metric']} {primary['reference']:.4f} -> {primary['candidate']:.4f}, "
            f"improvement {signed(primary['improvement'])}, {_interval(primary, level)} "
            f"(lower bound must exceed {min_delta})")


def regime_improvement_detail(primary: dict[str, Any], regimes: dict[str, dict[str, Any]],
                              carried_by: list[str], min_delta: float, level: str) -> str:
    """:func:`improvement_detail` overall and on each gated regime, and which carried it."""
    parts = [f"overall {improvement_detail(primary, min_delta, level)}"]
    parts += [f"{REGIMES[name]} {r['reference']:.4f} -> {r['candidate']:.4f}, improvement "
              f"{signed(r['improvement'])}, {_interval(r, level)}"
              for name, r in regimes.items() if r["gated"]]
    proven = _scopes(carried_by) if carried_by else "nowhere"
    return "; ".join(parts) + f"; proven better {proven}"


def inferiority_detail(name: str, check: dict[str, Any], level: str) -> str:
    """One non-inferiority check: the worsening seen, at the interval's worst end, allowed."""
    return (f"{name} champion {check['reference']:.4f}, challenger "
            f"{check['candidate']:.4f}; worsening {signed(check['observed_worsening'])}, at "
            f"the {level} CI's worst end {signed(check['worst_worsening'])} (allowed "
            f"{check['allowed_worsening']:.4f})")


def baseline_detail(versus: dict[str, Any], min_improvement: float, baseline_name: str,
                    level: str) -> str:
    """The challenger against the naive baseline on the primary metric."""
    return (f"{versus['metric']} {baseline_name} {versus['reference']:.4f}, challenger "
            f"{versus['candidate']:.4f}; improvement over the {baseline_name} "
            f"{signed(versus['improvement'])}, {_interval(versus, level)} (lower bound must "
            f"exceed {min_improvement})")


def _scopes(names: list[str]) -> str:
    words = ["overall" if n == OVERALL else f"on {REGIMES[n]}" for n in names]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _promoted_head(regimes: dict[str, dict[str, Any]] | None,
                   carried_by: list[str]) -> str:
    if regimes is None:
        return "challenger promoted: clearly better and non-inferior everywhere"
    head = f"challenger promoted: proven better {_scopes(carried_by)}"
    others = [n for n, r in regimes.items() if r["gated"] and n not in carried_by]
    if others:
        head += f", non-inferior {_scopes(others)}"
    return head + "; every other check passed"


def _regime_line(name: str, record: dict[str, Any], against: str, level: str) -> str:
    if not record["n"]:
        return f"{REGIMES[name]}: no rows"
    return (f"{REGIMES[name]}: {record['metric']} {against} {record['reference']:.4f}, "
            f"challenger {record['candidate']:.4f}, improvement "
            f"{signed(record['improvement'])}, {_interval(record, level)}, {record['n']} rows")


def reasons(decision: str, first: bool, checks: list[dict[str, Any]],
            small: dict[str, int], min_slice_rows: int, metric: str, baseline_name: str,
            *, regimes: dict[str, dict[str, Any]] | None, level: str) -> list[str]:
    """The decision in plain words: the head says what happened and why, then every failed
    check, every passed one, what was reported but not gated.

    Args:
        regimes: ``record["regimes"]``, or None when the holdout has no regimes.
    """
    failed = [c for c in checks if not c["passed"]]
    failed_names = {c["name"] for c in failed}
    if first:
        head = (f"first model accepted: meets the absolute bounds and beats the "
                f"{baseline_name}" if decision == PROMOTE else "first model rejected")
    elif decision == PROMOTE:
        improvement = next(c for c in checks if c["name"] == f"improvement on {metric}")
        head = _promoted_head(regimes, improvement.get("carried_by", [OVERALL]))
    elif decision == REJECT:
        harms = [c["name"].removeprefix("non-inferior: ") for c in failed
                 if c.get("status") == INFERIOR]
        if "differs from the champion" in failed_names:
            head = "challenger rejected: identical predictions to the champion's"
        elif f"beats baseline on {metric}" in failed_names:
            head = (f"challenger rejected: not proven better than the {baseline_name} on "
                    f"{metric}")
        elif harms:
            head = f"challenger rejected: worse than the margin on {', '.join(harms)}"
        else:
            head = "challenger rejected: significantly worse on the primary metric"
    else:
        head = ("challenger kept as challenger, not promoted: no evidence of harm, but "
                "not proven better everywhere (the online champion-challenger test decides)")
    lines = [head] + [
        f"{'NOT PROVEN' if c.get('status') == INCONCLUSIVE else 'FAILED'} {c['name']}: "
        f"{c['detail']}" for c in failed]
    lines += [f"passed {c['name']}: {c['detail']}" for c in checks if c["passed"]]
    if small:
        lines.append(f"not gated (fewer than {min_slice_rows} rows): "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(small.items())))
    if regimes is not None:
        against = baseline_name if first else "champion"
        lines += [f"reported, not gated: {_regime_line(name, r, against, level)}"
                  for name, r in regimes.items() if not r["gated"]]
    return lines


def format_decision(record: dict[str, Any]) -> str:
    """The decision as lines a person reads in a task log (with regimes, one line each)."""
    lines = [f"promotion gate ({record['mode']}, {record['n_rows']} holdout rows): "
             f"{record['decision'].upper()}"]
    lines += [f"  {reason}" for reason in record["reasons"]]
    if "regimes" in record:
        settings = record["settings"]
        level = f"{settings['confidence']:.0%}"
        first = record["mode"] == "first_model"
        against = settings["baseline_name"] if first else "champion"
        lines.append(f"  regimes, {settings['metric']} against the {against} (gated with at "
                     f"least {settings['min_slice_rows']} rows"
                     f"{'; a first model is gated overall only' if first else ''}):")
        for name, regime in record["regimes"].items():
            # _jsonable turned undefined numbers into None
            numbers = {k: math.nan if v is None else v for k, v in regime.items()}
            verdict = (f"gated, {regime['status']}"
                       f"{', proven better' if regime['proven_better'] else ''}"
                       if regime["gated"] else "not gated")
            lines.append(f"    {REGIMES[name]}: {regime['n']} rows, improvement "
                         f"{signed(numbers['improvement'])}, {_interval(numbers, level)}: "
                         f"{verdict}")
    return "\n".join(lines)
