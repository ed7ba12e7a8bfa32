"""Recommendation impressions for the click-through task: the canonical impression table,
a seeded demo generator and the reader of the Open Bandit Dataset folder layout.

One row is one impression: an item of a campaign shown to a user at a position (1-3) of a
fashion e-commerce page, whether it was clicked, the logging policy and its propensity,
four hashed user features, the user's affinity with the shown item and with the
campaign's items overall, and the item's features (one number, three hashed categories).

The Open Bandit files have one ``user-item_affinity_<item>`` column per item of the
campaign (34 for men, 46 for women): a schema that changes with the campaign. The
canonical table keeps what a model of one impression can use whatever the campaign:
``item_affinity`` (the affinity with the item shown), ``affinity_total`` and
``affinity_max`` (over all the campaign's items). The item features are joined from the
campaign's ``item_context.csv``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.validate import entity_contract

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

USER_FEATURES: tuple[str, ...] = tuple(f"user_feature_{i}" for i in range(4))
ITEM_CATEGORIES: tuple[str, ...] = tuple(f"item_feature_{i}" for i in (1, 2, 3))
AFFINITY_COLUMNS: tuple[str, ...] = ("item_affinity", "affinity_total", "affinity_max")
CAMPAIGNS: tuple[str, ...] = ("all", "men", "women")
POLICIES: tuple[str, ...] = ("random", "bts")
POSITIONS: tuple[int, ...] = (1, 2, 3)

#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {
    "impression_id": "object",
    "shown_at": "datetime64[ns, UTC]",
    "campaign": "object",
    "policy": "object",
    "item_id": "int64",
    "position": "int64",
    "propensity_score": "float64",
    **{c: "object" for c in USER_FEATURES},
    **{c: "float64" for c in AFFINITY_COLUMNS},
    "item_feature_0": "float64",
    **{c: "object" for c in ITEM_CATEGORIES},
    "click": "int64",
}
#: What a client sends to score an impression (the registered model's input schema). The
#: logging policy and its propensity describe how the row was logged, not the impression:
#: a model that read them would not transfer to another policy.
INPUT_COLUMNS: tuple[str, ...] = (
    "campaign", "item_id", "position", *USER_FEATURES, *AFFINITY_COLUMNS, "item_feature_0",
    *ITEM_CATEGORIES)
#: Columns of an impressions quarantine file: one row per rejected record.
QUARANTINE_COLUMNS: tuple[str, ...] = entity_contract.quarantine_columns("impression_id")


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes (extra columns go);
    ``click`` is nullable (``Int64``) where the outcome is not known yet.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: impression column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    return pd.DataFrame({
        c: frame[c].astype(dtype if c != "click" or frame[c].notna().all() else "Int64")
        for c, dtype in COLUMNS.items()})


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """An impressions quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`."""
    return entity_contract.quarantine_frame(rows, "impression_id")


# ------------------------------------------------------------------------------ demo data
def _hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 32-hex-digit tokens, like the dataset's hashed categories."""
    return np.array([rng.bytes(16).hex() for _ in range(n)], dtype=object)


def generate_impressions(rows: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic impressions in the canonical schema, shaped like Open Bandit's.

    Two campaigns (men: 34 items, women: 46), a uniform-random logging policy over items
    and positions (propensity 1 / items), seven days of traffic. The click log-odds add a
    position effect (the middle slot is seen best), an item effect (from its features), a
    user effect (from two of the four hashed features) and the user's past affinity with
    the item, which is zero for most impressions, as in the real logs; the click rate is
    near 0.5 %. Rows are in time order.

    Raises:
        ValueError: if ``rows`` < 1 or ``seed`` < 0.
    """
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"generate_impressions: 'rows' must be an int >= 1; got {rows!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_impressions: 'seed' must be an int >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    catalogue = {"men": 34, "women": 46}
    items: dict[str, pd.DataFrame] = {}
    for campaign, n in catalogue.items():
        categories = {c: _hashes(rng, k) for c, k in zip(ITEM_CATEGORIES, (8, 15, 5),
                                                          strict=True)}
        category_effect = {c: rng.normal(0, 0.35, size=len(v)) for c, v in categories.items()}
        picks = {c: rng.integers(0, len(v), size=n) for c, v in categories.items()}
        price = rng.normal(size=n)
        effect = -0.25 * price + sum(category_effect[c][picks[c]] for c in ITEM_CATEGORIES)
        items[campaign] = pd.DataFrame({
            "item_feature_0": price, **{c: categories[c][picks[c]] for c in ITEM_CATEGORIES},
            "effect": effect})
    vocab = {c: _hashes(rng, k) for c, k in zip(USER_FEATURES, (3, 5, 9, 8), strict=True)}
    user_effect = {c: rng.normal(0, 0.3 if c in USER_FEATURES[1:3] else 0.0, size=len(v))
                   for c, v in vocab.items()}
    campaign = rng.choice(list(catalogue), size=rows, p=[0.5, 0.5])
    n_items = np.where(campaign == "men", catalogue["men"], catalogue["women"])
    item_id = (rng.random(rows) * n_items).astype("int64")
    position = rng.integers(1, 4, size=rows)
    user = {c: rng.integers(0, len(v), size=rows) for c, v in vocab.items()}
    # Affinity: past clicks of the user on items; most users have none.
    active = rng.random(rows) < 0.2
    affinity_total = np.where(active, rng.poisson(2.0, size=rows) + 1, 0).astype(float)
    item_affinity = np.where(active & (rng.random(rows) < 0.25),
                             rng.poisson(1.0, size=rows) + 1, 0).astype(float)
    affinity_total = np.maximum(affinity_total, item_affinity)
    affinity_max = np.where(affinity_total > 0,
                            np.maximum(item_affinity, np.ceil(affinity_total / 2)), 0.0)
    item_frame = pd.concat([items[c].iloc[item_id[campaign == c]].set_index(
        np.flatnonzero(campaign == c)) for c in catalogue]).sort_index()
    log_odds = (-5.95 + np.array([0.0, -0.25, 0.3, -0.05])[position]
                + item_frame["effect"].to_numpy()
                + sum(user_effect[c][user[c]] for c in USER_FEATURES)
                + 1.6 * np.log1p(item_affinity) + 0.5 * np.log1p(affinity_total))
    click = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype("int64")
    start = pd.Timestamp("2026-11-01", tz="UTC")
    seconds = np.sort(rng.uniform(0, 7 * 86_400, size=rows))
    frame = pd.DataFrame({
        "impression_id": [f"demo-{i:08d}" for i in range(1, rows + 1)],
        "shown_at": start + pd.to_timedelta(np.round(seconds, 3), unit="s"),
        "campaign": campaign, "policy": "random", "item_id": item_id, "position": position,
        "propensity_score": 1.0 / n_items,
        **{c: vocab[c][user[c]] for c in USER_FEATURES},
        "item_affinity": item_affinity, "affinity_total": affinity_total,
        "affinity_max": affinity_max,
        "item_feature_0": item_frame["item_feature_0"].to_numpy(),
        **{c: item_frame[c].to_numpy() for c in ITEM_CATEGORIES},
        "click": click,
    })
    return conform(frame)


# ------------------------------------------------------------------- the Open Bandit files
@dataclass(frozen=True)
class ReadResult:
    """Impressions read from files, and the records that could not be read.

    Attributes:
        impressions: Canonical impressions, in time order.
        rejects: Quarantine rows (:data:`QUARANTINE_COLUMNS`, stage ``collect``).
        records_read: Data records in the files; always ``len(impressions) + len(rejects)``.
        files: Every file read (log files and item contexts).
    """

    impressions: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int
    files: tuple[str, ...]


_LOG_HEADER = ("timestamp", "item_id", "position", "click", "propensity_score",
               *USER_FEATURES)
_ITEM_HEADER = ("item_id", "item_feature_0", *ITEM_CATEGORIES)


def item_context_path(folder: Path, policy: str, campaign: str) -> Path:
    """The campaign's ``item_context.csv``: beside the policy's log, else the same
    campaign's under another policy (the items are the campaign's, whatever the policy;
    the dataset's small sample ships it only under ``random``).

    Raises:
        ValueError: if no policy folder of the campaign has one, naming where it looked.
    """
    tried = [folder / p / campaign / "item_context.csv" for p in (policy, *POLICIES)]
    for path in tried:
        if path.is_file():
            return path
    raise ValueError(f"read_open_bandit: no item_context.csv for campaign {campaign!r}; "
                     f"looked at {sorted({str(p) for p in tried})}.")


def read_open_bandit(folder: Path, *, logs: tuple[str, ...], limits: ReadLimits,
                     outcome_required: bool = True) -> ReadResult:
    """Read the Open Bandit logs ``logs`` (each ``<policy>/<campaign>``: the file
    ``<folder>/<policy>/<campaign>/<campaign>.csv``, the dataset's layout), each with its
    campaign's item context, into one time-ordered table.

    ``impression_id`` is ``<policy>-<campaign>-<data row number, 7 digits>``. A record is
    rejected (with file, row, column, rule, value) when it cannot be read: a wrong number
    of fields (``field_count``), an empty value (``required_value``), a number, an integer
    or a time that does not parse (``parse_float``, ``parse_int``, ``parse_time``), or an
    item the campaign's item context does not list (``unknown_item``). Values are not
    judged here (position 7 passes): the row contract does that.

    Each file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: for a malformed log name, a missing or unreadable file, or a header
            lacking columns, naming the file.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    frames, rejects, read, files = [], [], 0, []
    for policy, campaign in (parse_log_name(name) for name in logs):
        log = folder / policy / campaign / f"{campaign}.csv"
        context = item_context_path(folder, policy, campaign)
        good, bad_rows, n = _read_log(log, _read_items(context, limits), policy=policy,
                                      campaign=campaign, limits=limits,
                                      outcome_required=outcome_required)
        frames.append(good)
        rejects += bad_rows
        read += n
        files += [str(log), str(context)]
    if not frames:
        raise ValueError("read_open_bandit: 'logs' must name at least one log; got none.")
    impressions = pd.concat(frames, ignore_index=True).sort_values(
        "shown_at", kind="stable").reset_index(drop=True)
    result = ReadResult(conform(impressions), quarantine_frame(rejects), read, tuple(files))
    logger.info("read_open_bandit: %s (logs %s): %d records, %d impressions, %d rejected",
                folder, list(logs), read,
                len(result.impressions), len(result.rejects))
    return result


def parse_log_name(name: str) -> tuple[str, str]:
    """(policy, campaign) of a log name ``<policy>/<campaign>``.

    Raises:
        ValueError: for another shape, an unknown policy or an unknown campaign.
    """
    policy, _, campaign = str(name).partition("/")
    if policy not in POLICIES or campaign not in CAMPAIGNS:
        raise ValueError(f"read_open_bandit: a log is '<policy>/<campaign>' with policy in "
                         f"{list(POLICIES)} and campaign in {list(CAMPAIGNS)}; got {name!r}.")
    return policy, campaign


def _records(path: Path, needed: tuple[str, ...], limits: ReadLimits
             ) -> tuple[list[str], list[list[str]]]:
    """(header, data records) of a CSV whose header must hold ``needed``.

    Raises:
        ValueError: for a missing, unreadable or empty file or missing columns.
        CollectError: as :func:`pipelines.validate.entity_contract.csv_records`.
    """
    records = entity_contract.csv_records(path, reader="read_open_bandit", limits=limits,
                                          encoding="utf-8", errors="replace")
    if not records:
        raise ValueError(f"read_open_bandit: {path} is empty; expected a header row.")
    header = [h.strip() for h in records[0]]
    missing = [h for h in needed if h not in header]
    if missing:
        raise ValueError(f"read_open_bandit: {path} lacks column(s) {missing}; its header is "
                         f"{header[:12]}{' ...' if len(header) > 12 else ''}.")
    return header, records[1:]


def _read_items(path: Path, limits: ReadLimits) -> pd.DataFrame:
    """The item context, indexed by item id.

    Raises:
        ValueError: as :func:`_records`, or for an unreadable or repeated item id.
    """
    header, records = _records(path, _ITEM_HEADER, limits)
    frame = pd.DataFrame([r for r in records if len(r) == len(header)], columns=header)
    ids = pd.to_numeric(frame["item_id"], errors="coerce")
    price = pd.to_numeric(frame["item_feature_0"], errors="coerce")
    if len(frame) != len(records) or ids.isna().any() or price.isna().any() \
            or ids.duplicated().any():
        raise ValueError(f"read_open_bandit: {path} must list each item once with a whole "
                         f"item_id and a numeric item_feature_0; it does not.")
    frame = frame.assign(item_id=ids.astype("int64"), item_feature_0=price.astype(float))
    return frame.set_index("item_id")[["item_feature_0", *ITEM_CATEGORIES]]


def _read_log(path: Path, items: pd.DataFrame, *, policy: str, campaign: str,
              limits: ReadLimits, outcome_required: bool
              ) -> tuple[pd.DataFrame, list[dict[str, Any]], int]:
    """(impressions, reject rows, records read) of one policy's log of one campaign."""
    needed = _LOG_HEADER if outcome_required else tuple(c for c in _LOG_HEADER
                                                        if c != "click")
    header, records = _records(path, needed, limits)
    affinity = [h for h in header if h.startswith("user-item_affinity_")]
    columns = [*(c for c in _LOG_HEADER if c in header), *affinity]
    width = len(header)
    fits = np.array([len(r) == width for r in records], dtype=bool)
    text = pd.DataFrame([r for r in records if len(r) == width], columns=header)[columns]
    text = text.apply(lambda s: s.str.strip())
    rows = np.flatnonzero(fits) + 1                      # data row numbers of ``text``
    reasons: dict[int, list[dict[str, str]]] = {}
    for row in np.flatnonzero(~fits) + 1:
        reasons[int(row)] = [{"rule": "field_count", "column": "",
                              "value": f"{len(records[row - 1])} fields, header has {width}"}]

    def fail(mask: np.ndarray, rule: str, column: str) -> None:
        for position in np.flatnonzero(mask):
            reasons.setdefault(int(rows[position]), []).append(
                {"rule": rule, "column": column, "value": text[column].iloc[position][:200]})

    parsed: dict[str, Any] = {}
    for column in columns:
        values = text[column]
        empty = (values == "").to_numpy()
        fail(empty, "required_value", column)
        if column in USER_FEATURES:
            parsed[column] = values
            continue
        if column == "timestamp":
            number = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
            rule = "parse_time"
        else:
            number = pd.to_numeric(values, errors="coerce")
            whole = column in ("item_id", "position", "click")
            rule = "parse_int" if whole else "parse_float"
            if whole:
                number = number.where(number.isna() | (number == number.round()))
            else:
                number = number.where(np.isfinite(number))
        fail(~empty & number.isna().to_numpy(), rule, column)
        parsed[column] = number
    known = parsed["item_id"].isin(items.index).to_numpy()
    fail(parsed["item_id"].notna().to_numpy() & ~known, "unknown_item", "item_id")
    ok = np.array([int(r) not in reasons for r in rows], dtype=bool)
    good = pd.DataFrame({c: v[ok].to_numpy() for c, v in parsed.items()})
    matrix = good[affinity].to_numpy(dtype=float) if affinity else np.zeros((len(good), 0))
    ids = good["item_id"].astype("int64").to_numpy()
    index = {name: i for i, name in enumerate(affinity)}
    slot = np.array([index.get(f"user-item_affinity_{i}", -1) for i in ids], dtype=int)
    shown = np.where(slot >= 0, matrix[np.arange(len(good)), np.maximum(slot, 0)]
                     if affinity else 0.0, 0.0)
    item_rows = items.loc[ids]
    frame = pd.DataFrame({
        "impression_id": [f"{policy}-{campaign}-{r:07d}" for r in rows[ok]],
        "shown_at": good["timestamp"], "campaign": campaign, "policy": policy,
        "item_id": ids, "position": good["position"].astype("int64"),
        "propensity_score": good["propensity_score"].astype(float),
        **{c: good[c].astype(object) for c in USER_FEATURES},
        "item_affinity": shown,
        "affinity_total": matrix.sum(axis=1) if affinity else 0.0,
        "affinity_max": matrix.max(axis=1, initial=0.0) if affinity else 0.0,
        "item_feature_0": item_rows["item_feature_0"].to_numpy(),
        **{c: item_rows[c].to_numpy() for c in ITEM_CATEGORIES},
        "click": good["click"].astype("int64") if "click" in good else pd.NA,
    })
    bad_rows = []
    for row in sorted(reasons):
        first = reasons[row][0]
        bad_rows.append({
            "stage": "collect", "source_file": str(path), "source_row": row,
            "impression_id": f"{policy}-{campaign}-{row:07d}", "rule": first["rule"],
            "column": first["column"], "value": first["value"],
            "reasons": json.dumps(reasons[row]),
            "record": json.dumps(dict(zip(header, (v[:200] for v in records[row - 1]),
                                          strict=False)))})
    logger.info("read_open_bandit: %s: %d records, %d impressions, %d rejected", path,
                len(records), len(frame), len(bad_rows))
    return frame, bad_rows, len(records)
