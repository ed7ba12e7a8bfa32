"""A/B routing between the champion and the challenger.

- :class:`StickyRouter`: a stable hash of a request key (the account id by default) puts a
  fixed share of keys on the challenger, the same in every process and on every restart
  (BLAKE2b, never Python's salted ``hash()``).
- :class:`ThompsonRouter`: Thompson sampling over arms from realized outcomes. The reward
  of a matured prediction is ``-|log1p(prediction) - log1p(actual)|`` (higher is better);
  each arm's mean reward has a Normal-Gamma posterior. With probability
  ``exploration_floor * n_arms`` the arm is drawn uniformly, so every arm keeps at least
  ``exploration_floor`` of the traffic however sure the posterior is.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CHAMPION, CHALLENGER = "champion", "challenger"
ARMS: tuple[str, ...] = (CHAMPION, CHALLENGER)


def stable_bucket(key: str, salt: str = "engageflow") -> float:
    """A number in [0, 1) fixed by ``key`` and ``salt`` (the same in every process)."""
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


class StickyRouter:
    """Hash-sticky split: a key always goes to the same arm while the share is unchanged.

    Args:
        challenger_share: Share of keys sent to the challenger, in [0, 1].
        salt: Changes which keys land on the challenger (a new experiment).

    Raises:
        ValueError: for a share outside [0, 1].
    """

    mode = "sticky"

    def __init__(self, challenger_share: float, salt: str = "engageflow") -> None:
        if not isinstance(challenger_share, (int, float)) or not 0 <= challenger_share <= 1:
            raise ValueError(f"StickyRouter: 'challenger_share' must be a number in [0, 1]; "
                             f"got {challenger_share!r}.")
        self.challenger_share = float(challenger_share)
        self.salt = salt

    def choose(self, key: str, available: Sequence[str]) -> str:
        """The arm for ``key`` among ``available`` (the champion when alone)."""
        if CHALLENGER not in available:
            return CHAMPION
        return CHALLENGER if stable_bucket(key, self.salt) < self.challenger_share else CHAMPION


@dataclass(frozen=True)
class RewardStats:
    """Sufficient statistics of one arm's rewards: count, mean, sum of squared deviations."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, rewards: np.ndarray) -> RewardStats:
        rewards = np.asarray(rewards, float)
        if not len(rewards):
            return cls()
        mean = float(rewards.mean())
        return cls(len(rewards), mean, float(((rewards - mean) ** 2).sum()))


def rewards_by_arm(pairs: pd.DataFrame, versions: dict[str, str] | None = None
                   ) -> dict[str, RewardStats]:
    """Per-arm reward statistics of matured pairs (``PredictionLog.matured_pairs``).

    Args:
        pairs: Columns ``arm``, ``model_version``, ``prediction``, ``actual``.
        versions: If given, only pairs of each arm's current version count (an arm that
            moved to a new model starts afresh).
    """
    out: dict[str, RewardStats] = {}
    if pairs.empty:
        return out
    reward = -np.abs(np.log1p(pairs["prediction"].to_numpy(float))
                     - np.log1p(pairs["actual"].to_numpy(float)))
    for arm, index in pairs.groupby("arm").indices.items():
        rows = index
        if versions is not None:
            if arm not in versions:
                continue
            rows = index[pairs["model_version"].to_numpy()[index] == versions[arm]]
        out[str(arm)] = RewardStats.of(reward[rows])
    return out


class ThompsonRouter:
    """Thompson sampling with an exploration floor, seeded.

    Args:
        exploration_floor: Least share of traffic each available arm gets, in [0, 1/arms].
        seed: Seed of the sampler.
        prior_mean, prior_strength, prior_shape, prior_rate: Normal-Gamma prior on an arm's
            mean reward (mean, pseudo-count) and on its precision (shape, rate).

    Raises:
        ValueError: for a floor outside [0, 0.5].
    """

    mode = "thompson"

    def __init__(self, exploration_floor: float, seed: int, *,
                 prior_mean: float = -0.5, prior_strength: float = 1.0,
                 prior_shape: float = 1.0, prior_rate: float = 0.25) -> None:
        if not isinstance(exploration_floor, (int, float)) or not 0 <= exploration_floor <= 0.5:
            raise ValueError(f"ThompsonRouter: 'exploration_floor' must be a number in "
                             f"[0, 0.5]; got {exploration_floor!r}.")
        self.exploration_floor = float(exploration_floor)
        self.prior = (prior_mean, prior_strength, prior_shape, prior_rate)
        self._random = random.Random(seed)
        self.stats: dict[str, RewardStats] = {}

    def update(self, stats: dict[str, RewardStats]) -> None:
        """Replace the arms' reward statistics (one atomic assignment)."""
        self.stats = dict(stats)

    def _draw(self, stats: RewardStats) -> float:
        mu0, kappa0, alpha0, beta0 = self.prior
        kappa = kappa0 + stats.n
        mu = (kappa0 * mu0 + stats.n * stats.mean) / kappa
        alpha = alpha0 + stats.n / 2
        beta = beta0 + 0.5 * stats.m2 + kappa0 * stats.n * (stats.mean - mu0) ** 2 / (2 * kappa)
        precision = self._random.gammavariate(alpha, 1.0 / beta)
        return self._random.gauss(mu, 1.0 / math.sqrt(kappa * max(precision, 1e-12)))

    def choose(self, key: str, available: Sequence[str]) -> str:
        """The arm for one request (``key`` is unused: allocation is per request)."""
        arms = [a for a in ARMS if a in available] or [CHAMPION]
        if len(arms) == 1:
            return arms[0]
        if self._random.random() < self.exploration_floor * len(arms):
            return arms[self._random.randrange(len(arms))]
        draws = [self._draw(self.stats.get(arm, RewardStats())) for arm in arms]
        return arms[max(range(len(arms)), key=draws.__getitem__)]

    def allocation(self, available: Sequence[str], draws: int = 2000) -> dict[str, float]:
        """The share of ``draws`` simulated requests each arm would get now."""
        counts = dict.fromkeys(available, 0)
        for _ in range(draws):
            counts[self.choose("", available)] += 1
        return {arm: count / draws for arm, count in counts.items()}
