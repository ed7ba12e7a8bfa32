"""Ads for the per-ad rate tasks: the canonical ``ads`` table, a seeded demo generator,
the Kaggle "Facebook ad campaign" (KAG_conversion_data.csv) reader and the seeded split.

One row is one ad: its campaign, the audience it targets (age range, gender, an interest
code) and what it got: impressions, clicks, spend and conversions.

Time: the shared copy's ``Date`` column is not part of the original dataset (the README
says the copy added it): its 31 days of August 2023 are spread evenly over ads, campaigns
and click rates (the daily click rate is flat), and the original Kaggle data (2017) carries
no date. It is not read. ``file_row`` keeps the file's order; the split does not use it:
each ad's part is a seeded hash of its id (:func:`pipelines.tasks.retention_data.hash_parts`),
so an ad stays in its part however the file is shuffled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.tasks.ad_vocabulary import AGES, CAMPAIGNS, GENDERS, INTERESTS
from pipelines.tasks.binary_table_task import PART, QUARANTINE_KEY, Loaded
from pipelines.tasks.retention_data import hash_parts
from pipelines.validate.entity_contract import parse_rejects, read_text_csv

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {
    "ad_id": "object", "file_row": "int64", "campaign": "object", "age": "object",
    "gender": "object", "interest": "int64", "impressions": "int64", "clicks": "int64",
    "spend": "float64", "conversions": "int64", "approved_conversions": "int64",
}
#: The Kaggle header name of each canonical column read from the file.
KAGGLE_HEADER: dict[str, str] = {
    "ad_id": "ad_id", "campaign": "xyz_campaign_id", "age": "age", "gender": "gender",
    "interest": "interest", "impressions": "Impressions", "clicks": "Clicks",
    "spend": "Spent", "conversions": "Total_Conversion",
    "approved_conversions": "Approved_Conversion",
}
_INTEGERS = ("interest", "impressions", "clicks", "conversions", "approved_conversions")


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: ad column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    return pd.DataFrame({c: frame[c].astype(d) for c, d in COLUMNS.items()}).reset_index(
        drop=True)


def generate_ads(rows: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic ads shaped like the Kaggle file: three campaigns of very different
    size, impressions log-normal per campaign, a click rate near 0.03 % whose log-odds
    rise with age, are higher for women, differ by campaign and by a per-interest effect,
    conversions a rate of the impressions; spend is clicks times a cost per click.

    Raises:
        ValueError: if ``rows`` < 1 or ``seed`` < 0.
    """
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"generate_ads: 'rows' must be an int >= 1; got {rows!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_ads: 'seed' must be an int >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    campaign = rng.choice(len(CAMPAIGNS), size=rows, p=[0.05, 0.40, 0.55])
    age = rng.integers(0, len(AGES), size=rows)
    female = rng.integers(0, 2, size=rows)
    interest = rng.integers(0, len(INTERESTS), size=rows)
    interest_effect = rng.normal(0, 0.25, size=len(INTERESTS))
    impressions = np.maximum(1, np.round(np.exp(
        np.array([8.5, 9.5, 11.5])[campaign] + rng.normal(0, 1.2, size=rows)))).astype(int)
    log_odds = (-8.6 + np.array([0.25, 0.3, 0.0])[campaign] + 0.15 * age + 0.35 * female
                + interest_effect[interest] + rng.normal(0, 0.15, size=rows))
    clicks = rng.binomial(impressions, 1 / (1 + np.exp(-log_odds)))
    conversion_log_odds = -9.5 + np.array([2.0, 1.3, 0.0])[campaign] - 0.1 * age
    conversions = rng.binomial(impressions, 1 / (1 + np.exp(-conversion_log_odds)))
    approved = rng.binomial(conversions, 0.35)
    spend = np.round(clicks * rng.gamma(4.0, 0.4, size=rows), 2)
    return conform(pd.DataFrame({
        "ad_id": [f"demo-{i:06d}" for i in range(1, rows + 1)],
        "file_row": np.arange(1, rows + 1), "campaign": np.array(CAMPAIGNS)[campaign],
        "age": np.array(AGES)[age], "gender": np.array(GENDERS)[female],
        "interest": np.array(INTERESTS)[interest], "impressions": impressions,
        "clicks": clicks, "spend": spend, "conversions": conversions,
        "approved_conversions": approved}))


def read_facebook_ads(path: Path, *, limits: ReadLimits) -> Loaded:
    """Read KAG_conversion_data.csv into canonical ads (``Date`` and ``fb_campaign_id``
    are not read: see the module docstring).

    Values are not judged here (clicks above impressions, a negative spend or an unknown
    gender pass; the row contract quarantines them): a record is rejected only when a
    value cannot be read (rules ``required_value``, ``parse_int``, ``parse_float``), with
    the file, row, column, rule and value.

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be read as CSV or lacks a column, naming both.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    raw = read_text_csv(path, KAGGLE_HEADER, reader="read_facebook_ads",
                        limits=limits)
    text = raw.apply(lambda column: column.str.strip())
    parsed: dict[str, pd.Series] = {
        c: text[c].where(text[c] != "") for c in ("ad_id", "campaign", "age", "gender")}
    for column in _INTEGERS:
        number = pd.to_numeric(text[column], errors="coerce")
        parsed[column] = number.where(number.notna() & (number == number.round())
                                      & (number.abs() < 2**53))
    spend = pd.to_numeric(text["spend"], errors="coerce")
    parsed["spend"] = spend.where(np.isfinite(spend))
    readable, rejects = parse_rejects(
        raw, parsed, key="ad_id", source=str(path), quarantine_key=QUARANTINE_KEY,
        rules={**dict.fromkeys(("ad_id", "campaign", "age", "gender"), "required_value"),
               **dict.fromkeys(_INTEGERS, "parse_int"), "spend": "parse_float"})
    frame = pd.DataFrame({c: values[readable] for c, values in parsed.items()})
    frame["file_row"] = np.flatnonzero(readable.to_numpy()) + 1
    rows = conform(frame)
    logger.info("read_facebook_ads: %s: %d records, %d ads, %d rejected", path, len(raw),
                len(rows), len(rejects))
    return Loaded(rows, rejects, len(raw), str(path))


def ad_table(ads: pd.DataFrame, *, successes: str, trials: str, target: str, seed: int,
             valid_fraction: float, test_fraction: float
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table: the ads with ``target`` = ``successes`` / ``trials`` and
    :data:`PART` from a seeded hash of ``ad_id``, and its split record (ads, trials and
    the pooled rate of each part).

    Raises:
        ValueError: if a part is empty.
    """
    table = ads.assign(**{
        target: ads[successes].to_numpy(dtype=float) / ads[trials].to_numpy(dtype=float),
        PART: hash_parts(ads["ad_id"], seed=seed, valid_fraction=valid_fraction,
                         test_fraction=test_fraction)})
    record: dict[str, Any] = {"how": f"seeded hash of ad_id (seed {seed})"}
    for name in ("train", "valid", "test"):
        rows = table[table[PART] == name]
        if rows.empty:
            raise ValueError(f"ad_table: the {name} part is empty ({len(table)} ads); add "
                             f"ads or change the fractions.")
        record[name] = {"rows": len(rows), trials: int(rows[trials].sum()),
                        target: float(rows[successes].sum() / rows[trials].sum())}
    return table, record
