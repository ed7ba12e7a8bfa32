"""A seeded generator of realistic demo posts in the canonical schema.

Calibrated against the real files in ``shared/data`` (see README, "Demo data"):
log(likes / followers) has a platform-specific centre (Instagram ≈ -3.6, LinkedIn ≈ -4.5,
Facebook ≈ -5.5, Twitter ≈ -6.0 for a 20k-follower account), likes grow sub-linearly with
followers (elasticity 0.9, so large accounts have lower rates, as in the tweets), each
account has its own level (sd 0.8) and posts vary around it (sd 0.7, between the 0.34 of
Instagram and 0.94 of the tweets). Comments and shares are platform-specific fractions of
likes (Facebook UCI: comments ≈ 2.6 %, shares ≈ 18 % of likes; tweets: replies ≈ 4.5 %,
retweets ≈ 13 %). Hour of day, weekday, content type and caption words shift the level.
Post kinds: on Twitter ~10 % replies, ~8 % quotes and ~3 % shares (retweets), on LinkedIn
and Facebook a few quotes and shares, on Instagram only originals; a reply has ~0.9 fewer
log-likes, a quote ~0.3 and a share ~0.6 (the tweets: replies −0.87, quotes −0.30 against
their account's mean). Kinds come from a second stream of the seed and act by thinning
the counts, so every other column is what the seed gave before kinds existed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines import schema

#: The generator's fixed calendar: posts fall in the year before this instant (UTC).
END_OF_WINDOW = pd.Timestamp("2026-06-30T00:00:00Z")
WINDOW_DAYS = 365

_PLATFORM_SHARE = {"instagram": 0.35, "facebook": 0.2, "linkedin": 0.15, "twitter": 0.3}
# Centre of log(likes / followers) for a 20k-follower account, per platform.
_LOG_RATE_AT_20K = {"instagram": -3.6, "facebook": -5.5, "linkedin": -4.5, "twitter": -6.0}
_FOLLOWER_ELASTICITY = 0.9
_CONTENT_MIX = {
    "instagram": {"image": 0.5, "video": 0.2, "carousel": 0.3, "text": 0.0},
    "facebook": {"image": 0.55, "video": 0.15, "carousel": 0.05, "text": 0.25},
    "linkedin": {"image": 0.35, "video": 0.1, "carousel": 0.15, "text": 0.4},
    "twitter": {"image": 0.3, "video": 0.1, "carousel": 0.0, "text": 0.6},
}
_CONTENT_EFFECT = {"image": 0.0, "video": 0.35, "carousel": 0.2, "text": -0.3}
# Share of each post kind per platform (the rest are originals) and its shift of log likes.
_KIND_MIX = {
    "instagram": {},
    "facebook": {"quote": 0.03, "share": 0.05},
    "linkedin": {"quote": 0.04, "share": 0.04},
    "twitter": {"reply": 0.10, "quote": 0.08, "share": 0.03},
}
_KIND_EFFECT = {"original": 0.0, "reply": -0.9, "quote": -0.3, "share": -0.6}
#: Second seed word of the post-kind stream (any constant; it only has to stay fixed).
_KIND_STREAM = 1
_HASHTAG_RATE = {"instagram": 6.0, "facebook": 1.0, "linkedin": 2.5, "twitter": 1.2}
_COMMENT_SHARE = {"instagram": 0.03, "facebook": 0.026, "linkedin": 0.05, "twitter": 0.045}
_SHARE_SHARE = {"instagram": 0.02, "facebook": 0.18, "linkedin": 0.08, "twitter": 0.13}
# Words and their effect on log likes; neutral filler words carry no signal.
_WORDS = {
    "giveaway": 0.7, "win": 0.4, "new": 0.2, "launch": 0.3, "exclusive": 0.25,
    "behind": 0.15, "scenes": 0.15, "tips": 0.1, "thanks": 0.1, "team": 0.05,
    "update": -0.1, "reminder": -0.2, "sale": -0.15, "link": -0.25, "webinar": -0.2,
}
_FILLER = (
    "today our the with for this and you we are story week product community summer "
    "morning friends city coffee travel design data event photo moment love great"
).split()


def hour_effect(hour: np.ndarray) -> np.ndarray:
    """Log-likes shift by posting hour (UTC): peaks at lunch and in the evening."""
    return 0.25 * np.exp(-((hour - 12) ** 2) / 8.0) + 0.35 * np.exp(-((hour - 19) ** 2) / 6.0) - 0.2


def weekday_effect(weekday: np.ndarray) -> np.ndarray:
    """Log-likes shift by weekday (Mon=0): weekends slightly lower, Thursday best."""
    return np.array([0.0, 0.05, 0.05, 0.1, 0.0, -0.1, -0.15])[weekday]


def generate_posts(
    rows: int,
    accounts: int,
    seed: int,
    *,
    end: pd.Timestamp = END_OF_WINDOW,
    window_days: int = WINDOW_DAYS,
    id_prefix: str = "demo",
) -> pd.DataFrame:
    """Generate ``rows`` canonical posts from ``accounts`` accounts, deterministically.

    Args:
        rows: Number of posts (>= 1).
        accounts: Number of accounts (>= 1); activity per account is heavy-tailed.
        seed: Random seed; the same arguments give identical output.
        end: Posts fall in the ``window_days`` days before this instant; counts are
            collected at ``end``.
        window_days: Length of the posting window (>= 1).
        id_prefix: Prefix of post ids (distinct prefixes give distinct posts).

    Returns:
        A canonical-schema frame sorted by ``posted_at``.

    Raises:
        ValueError: if ``rows`` or ``accounts`` is below 1.
    """
    if rows < 1 or accounts < 1 or window_days < 1:
        raise ValueError(
            f"generate_posts: 'rows', 'accounts' and 'window_days' must be >= 1; got "
            f"rows={rows}, accounts={accounts}, window_days={window_days}."
        )
    end = pd.Timestamp(end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    rng = np.random.default_rng(seed)
    platforms = np.array(list(_PLATFORM_SHARE))

    acc_platform = rng.choice(platforms, size=accounts, p=list(_PLATFORM_SHARE.values()))
    acc_followers0 = np.clip(rng.lognormal(np.log(20_000), 1.6, accounts), 50, 5e8)
    acc_growth_per_day = rng.lognormal(np.log(0.0015), 0.8, accounts)  # ~0.15 %/day median
    acc_level = rng.normal(0.0, 0.8, accounts)
    acc_activity = rng.lognormal(0.0, 1.0, accounts)
    acc_campaigns = rng.integers(0, 4, accounts)

    account = rng.choice(accounts, size=rows, p=acc_activity / acc_activity.sum())
    platform = acc_platform[account]
    start = end - pd.Timedelta(days=window_days)
    day = rng.uniform(0, window_days, rows).astype(int)
    # Posting hours cluster around late morning and evening.
    hour = np.where(rng.random(rows) < 0.5, rng.normal(11, 2.5, rows), rng.normal(19, 2.0, rows))
    hour = np.clip(np.round(hour), 0, 23).astype(int)
    minute = rng.integers(0, 60, rows)
    posted_at = start + pd.to_timedelta(day, unit="D") + pd.to_timedelta(hour, unit="h") + \
        pd.to_timedelta(minute, unit="m")
    weekday = np.asarray(posted_at.weekday)

    content_type = np.empty(rows, dtype=object)
    for name, mix in _CONTENT_MIX.items():
        mask = platform == name
        content_type[mask] = rng.choice(list(mix), size=mask.sum(), p=list(mix.values()))

    words = np.array(list(_WORDS) + _FILLER)
    word_weights = np.array([0.5] * len(_WORDS) + [1.0] * len(_FILLER))
    n_words = rng.integers(3, 25, rows)
    captions, word_shift = [], np.zeros(rows)
    for i in range(rows):
        chosen = rng.choice(words, size=n_words[i], p=word_weights / word_weights.sum())
        word_shift[i] = sum(_WORDS.get(w, 0.0) for w in set(chosen))
        captions.append(" ".join(chosen))
    hashtags = rng.poisson(np.vectorize(_HASHTAG_RATE.get)(platform))
    mentions = rng.poisson(0.6, rows)
    captions = [
        c + "".join(f" #{rng.choice(_FILLER)}" for _ in range(h)) + " @friend" * m
        for c, h, m in zip(captions, hashtags, mentions, strict=True)
    ]

    followers = np.round(
        acc_followers0[account] * np.exp(acc_growth_per_day[account] * day)
    ).astype(np.int64)
    log_rate = np.vectorize(_LOG_RATE_AT_20K.get)(platform)
    log_likes = (
        log_rate + np.log(20_000) * (1 - _FOLLOWER_ELASTICITY)
        + _FOLLOWER_ELASTICITY * np.log(followers)
        + acc_level[account]
        + np.vectorize(_CONTENT_EFFECT.get)(content_type)
        + hour_effect(hour) + weekday_effect(weekday)
        + 0.6 * word_shift
        + 0.04 * np.minimum(hashtags, 10)
        + rng.normal(0.0, 0.7, rows)
    )
    likes = rng.poisson(np.exp(log_likes))
    comment_rate = np.vectorize(_COMMENT_SHARE.get)(platform) * rng.lognormal(0, 0.5, rows)
    share_rate = np.vectorize(_SHARE_SHARE.get)(platform) * rng.lognormal(0, 0.5, rows)
    campaign_no = rng.integers(0, np.maximum(acc_campaigns[account], 1))
    has_campaign = (acc_campaigns[account] > 0) & (rng.random(rows) < 0.5)

    media_count = np.where(content_type == "carousel", rng.integers(2, 8, rows),
                           (content_type != "text").astype(int))
    post_kind, likes, comments, shares = _with_post_kinds(
        np.random.default_rng([seed, _KIND_STREAM]), platform, likes,
        rng.poisson(likes * comment_rate), rng.poisson(likes * share_rate))
    frame = pd.DataFrame({
        "post_id": [f"{id_prefix}-{i:08d}" for i in range(rows)],
        "platform": platform,
        "account_id": [f"acct-{a:05d}" for a in account],
        "campaign_id": np.where(
            has_campaign,
            [f"camp-{a:05d}-{c}" for a, c in zip(account, campaign_no, strict=True)],
            None,
        ),
        "posted_at": posted_at,
        "content_type": content_type,
        "post_kind": post_kind,
        "caption": captions,
        "hashtags_count": hashtags,
        "mentions_count": mentions,
        "urls_count": (np.char.find(np.array(captions, dtype=str), "link") >= 0).astype(int),
        "media_count": media_count,
        "followers_at_post_time": followers,
        "likes": likes,
        "comments": comments,
        "shares": shares,
        "collected_at": end,
        "source": "demo",
    })
    frame = frame.sort_values(["posted_at", "post_id"], kind="stable").reset_index(drop=True)
    return schema.conform(frame)


def _with_post_kinds(rng: np.random.Generator, platform: np.ndarray, *counts: np.ndarray
                     ) -> tuple[np.ndarray, ...]:
    """Draw each post's kind and thin its counts by ``exp(effect)``.

    Keeping each of a Poisson(λ) count's units with probability p gives a Poisson(λp)
    count, so thinning is the same as drawing with the kind's shift in log likes, while
    the generator's main stream (and so every other column) stays as it was.

    Returns:
        (post kinds, then each of ``counts`` thinned).
    """
    kinds = np.full(len(platform), "original", dtype=object)
    draw = rng.random(len(platform))
    for name, mix in _KIND_MIX.items():
        mask = platform == name
        edge = 0.0
        for kind, share in mix.items():
            kinds[mask & (draw >= edge) & (draw < edge + share)] = kind
            edge += share
    keep = np.exp(np.vectorize(_KIND_EFFECT.get, otypes=[float])(kinds))
    return (kinds, *(rng.binomial(np.asarray(c, dtype=np.int64), keep) for c in counts))
