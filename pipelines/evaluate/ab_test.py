"""An A/B test of two product arms on a 0/1 outcome (retained or not), read out by the same
machinery that judges models online.

The record has the champion-challenger decision's format
(:func:`pipelines.registry.champion_challenger.run_champion_challenger`: ``decision``,
``reason``, per-arm ``n`` / ``mean_loss`` / ``var_loss``, ``difference``, the confidence
sequence ``cs_low`` / ``cs_high``): the control arm plays the champion, the treatment arm
the challenger, and the loss of a user is ``1 - outcome`` (not retained), so "promote"
means the treatment retains significantly more and "rollback" significantly fewer. The
decision is the product's anytime-valid sequential test
(:func:`pipelines.evaluate.sequential_test.sequential_decision`, settings from the
``champion_challenger`` section) at the last of ``looks`` equally spaced looks in file
order (the first look that decided is recorded too); beside it, a fixed-horizon
two-proportion z-test at the same alpha, valid for one look at the whole sample only.
``effect`` is the treatment's outcome rate minus the control's (the negative of
``difference``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.evaluate.sequential_test import DECISIONS, KEEP_TESTING, sequential_decision

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

_FLAGS = {"true": 1, "1": 1, "false": 0, "0": 0, "1.0": 1, "0.0": 0}


def fixed_horizon_test(control: Any, treatment: Any, *, alpha: float) -> dict[str, Any]:
    """The two-proportion z-test of treatment vs control outcome rates (one look).

    Returns:
        ``effect`` (treatment rate - control rate), its Wald interval ``ci_low`` /
        ``ci_high`` at level 1 - alpha, ``z`` and two-sided ``p_value`` from the pooled
        variance, and ``decision``: ``treatment_better``, ``treatment_worse`` or
        ``no_difference``.

    Raises:
        ValueError: for an empty arm, outcomes other than 0/1, or alpha outside (0, 0.5).
    """
    from scipy.stats import norm

    a, b = _outcomes("fixed_horizon_test", control), _outcomes("fixed_horizon_test", treatment)
    if not 0 < alpha < 0.5:
        raise ValueError(f"fixed_horizon_test: 'alpha' must be in (0, 0.5); got {alpha!r}.")
    p_a, p_b = a.mean(), b.mean()
    effect = p_b - p_a
    se = math.sqrt(p_a * (1 - p_a) / a.size + p_b * (1 - p_b) / b.size)
    pooled = (a.sum() + b.sum()) / (a.size + b.size)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / a.size + 1 / b.size))
    z = effect / se0 if se0 > 0 else 0.0
    p_value = float(2 * norm.sf(abs(z)))
    half = float(norm.ppf(1 - alpha / 2) * se)
    decision = ("no_difference" if p_value >= alpha
                else "treatment_better" if effect > 0 else "treatment_worse")
    return {"effect": float(effect), "ci_low": float(effect - half),
            "ci_high": float(effect + half), "z": float(z), "p_value": p_value,
            "alpha": alpha, "decision": decision}


def ab_test_record(control: Any, treatment: Any, *, control_arm: str, treatment_arm: str,
                   outcome: str, looks: int, alpha: float, mixture_sd: float,
                   min_outcomes: int, max_outcomes: int, guardrail_margin: float,
                   experiment: str) -> dict[str, Any]:
    """The A/B record of two arms' 0/1 outcomes (in arrival order).

    Args:
        control, treatment: Each arm's outcomes (1 = the good outcome, e.g. retained).
        looks: Equally spaced looks at the data in arrival order (>= 1); the sequential
            decision is the one at the last look, ``first_decision_look`` the first look
            at which it was not ``keep_testing``.
        alpha, mixture_sd, min_outcomes, max_outcomes, guardrail_margin: The sequential
            test's settings (the ``champion_challenger`` section).
        experiment: Recorded as ``model_name`` (the record's name field).

    Raises:
        ValueError: for empty arms, outcomes other than 0/1, looks < 1, or settings out of
            range.
    """
    a = _outcomes("ab_test_record", control)
    b = _outcomes("ab_test_record", treatment)
    if not isinstance(looks, int) or looks < 1:
        raise ValueError(f"ab_test_record: 'looks' must be an int >= 1; got {looks!r}.")
    settings = {"alpha": alpha, "mixture_sd": mixture_sd, "min_outcomes": min_outcomes,
                "max_outcomes": max_outcomes, "guardrail_margin": guardrail_margin}
    history = []
    for look in range(1, looks + 1):
        n_a, n_b = math.ceil(a.size * look / looks), math.ceil(b.size * look / looks)
        test = sequential_decision(1 - a[:n_a], 1 - b[:n_b], **settings)
        history.append({"look": look, "n_control": n_a, "n_treatment": n_b,
                        "decision": test["decision"], "cs_low": test["cs_low"],
                        "cs_high": test["cs_high"]})
    decided = [h["look"] for h in history if h["decision"] != KEEP_TESTING]
    fixed = fixed_horizon_test(a, b, alpha=alpha)
    record = {
        "model_name": experiment, "target": outcome, "champion_version": control_arm,
        "challenger_version": treatment_arm, "loss": f"1 - {outcome}",
        **test, "effect": -test["difference"] if test["difference"] is not None else None,
        "effect_cs_low": -test["cs_high"] if test["cs_high"] is not None else None,
        "effect_cs_high": -test["cs_low"] if test["cs_low"] is not None else None,
        "rates": {control_arm: float(a.mean()), treatment_arm: float(b.mean())},
        "looks": looks, "first_decision_look": decided[0] if decided else None,
        "look_history": history, "fixed_horizon": fixed,
        "decisions_known": list(DECISIONS),
    }
    logger.info("ab test %s on %s: %s %.4f vs %s %.4f (n %d / %d); sequential: %s, "
                "fixed-horizon: %s (p = %.4g)", experiment, outcome, treatment_arm, b.mean(),
                control_arm, a.mean(), b.size, a.size, record["decision"],
                fixed["decision"], fixed["p_value"])
    return record


def read_arms(path: Path, *, arm_column: str, outcome_column: str, control: str,
              treatment: str, limits: ReadLimits) -> tuple[np.ndarray, np.ndarray]:
    """Each arm's 0/1 outcomes from a CSV, in file order, read under ``limits`` (the
    ``collect`` params) as every task reader reads its file
    (:func:`pipelines.validate.entity_contract.read_text_csv`).

    Outcomes accept TRUE/FALSE/1/0 in any case. Rows of other arms are ignored (logged).

    Raises:
        ValueError: if the file cannot be read or lacks a column, an outcome cannot be read
            (naming the file, row, column and value), or an arm has no row.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over a
            read limit or changed while it was read, naming the file and the rule.
    """
    from pipelines.validate.entity_contract import read_text_csv

    path = Path(path)
    frame = read_text_csv(path, {arm_column: arm_column, outcome_column: outcome_column},
                          reader="read_arms", limits=limits)
    arm = frame[arm_column].str.strip()
    outcome = frame[outcome_column].str.strip().str.lower().map(_FLAGS)
    wanted = arm.isin([control, treatment])
    bad = wanted & outcome.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"read_arms: {path} row {row + 1}, column '{outcome_column}': "
                         f"{frame[outcome_column].iloc[row]!r} is not an outcome (rule: "
                         f"TRUE/FALSE/1/0); {int(bad.sum())} such row(s).")
    if (~wanted).any():
        logger.info("read_arms: %s: %d row(s) of other arms ignored: %s", path,
                    int((~wanted).sum()), arm[~wanted].value_counts().head(5).to_dict())
    out = []
    for name in (control, treatment):
        values = outcome[arm == name].to_numpy(dtype=int)
        if values.size == 0:
            raise ValueError(f"read_arms: {path} has no row of arm {name!r} in column "
                             f"'{arm_column}'; arms present: {sorted(arm.unique())[:10]}.")
        out.append(values)
    return out[0], out[1]


def run_ab_test(path: Path, *, arm_column: str, outcome_column: str, control: str,
                treatment: str, looks: int, settings: Any, limits: ReadLimits
                ) -> dict[str, Any]:
    """Read ``path`` (under ``limits``) and write nothing: the A/B record of ``treatment``
    vs ``control`` on ``outcome_column`` with the sequential test's ``settings`` (a
    :class:`pipelines.config.serving.ChampionChallengerConfig`)."""
    a, b = read_arms(path, arm_column=arm_column, outcome_column=outcome_column,
                     control=control, treatment=treatment, limits=limits)
    record = ab_test_record(
        a, b, control_arm=control, treatment_arm=treatment, outcome=outcome_column,
        looks=looks, alpha=settings.alpha, mixture_sd=settings.mixture_sd,
        min_outcomes=settings.min_outcomes, max_outcomes=settings.max_outcomes,
        guardrail_margin=settings.guardrail_margin,
        experiment=f"ab:{Path(path).name}:{arm_column}")
    return {**record, "source": str(path)}


def _outcomes(where: str, values: Any) -> np.ndarray:
    out = np.asarray(values, dtype=float).ravel()
    if out.size == 0:
        raise ValueError(f"{where}: an arm has no outcome.")
    if not np.isin(out, (0.0, 1.0)).all():
        raise ValueError(f"{where}: outcomes must be 0 or 1; got "
                         f"{sorted(set(out[~np.isin(out, (0.0, 1.0))].tolist()))[:5]}.")
    return out
