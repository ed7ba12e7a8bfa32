"""Carve a real data file into the quality benchmark's training file and scored slices.

The files keep the source's own layout (the same columns, one record per row), so the
product reads them with its own collect format, exactly as a user's file. The rules are
fixed, written down in ``docs/quality.md``, and depend only on each row's account id,
publication time and collection time:

* **new accounts**: ``int(sha256(account_id)[:8], 16) % 100 < NEW_ACCOUNT_PERCENT`` (about
  20 % of accounts). None of their posts is in the training file.
* **cut-off**: the ``CUTOFF_QUANTILE`` quantile of the file's publication times, floored to
  midnight UTC: the last ~20 % of posts (not of the time span: both files reach back years
  with few posts, so 20 % of the span would hold 84 % / 99 % of the posts).
* **training file**: posts of the other (known) accounts published before the cut-off.
* **scored slices**: ``known_later`` (known accounts, at or after the cut-off) and
  ``new_later`` (new accounts, at or after the cut-off), each without the posts whose
  counts were read less than the maturity horizon after publication.
* **history file**: every row not in the training file (new accounts' earlier posts, all
  posts from the cut-off on, young ones included): with the training posts it is the
  history the fresh regime reads.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

logger = logging.getLogger("bench.quality")

NEW_ACCOUNT_PERCENT = 20
CUTOFF_QUANTILE = 0.8
SLICES: tuple[str, ...] = ("known_later", "new_later")


@dataclass(frozen=True)
class Dataset:
    """A real data file and the source columns the carving rules read.

    Attributes:
        name: Short name (the results key).
        path: The file, relative to the shared data folder.
        fmt: The product's collect format for it (``pipelines/collect/formats``).
        account: Source column the format maps to ``account_id``.
        posted: Source column it maps to ``posted_at``.
        collected: Source column it maps to ``collected_at``.
        overrides: params overrides real data of this kind needs (none so far).
    """

    name: str
    path: str
    fmt: str
    account: str
    posted: str
    collected: str
    overrides: tuple[tuple[str, object], ...] = ()


DATASETS: dict[str, Dataset] = {
    "tweets_2022": Dataset("tweets_2022", "tweets_2022/tweets.csv", "tweets_csv",
                           account="author_id", posted="created_at",
                           collected="snapshot_commit_date"),
    "instagram_2017": Dataset("instagram_2017", "instagram_2017/instagram_posts.csv",
                              "instagram_scrape_csv", account="alias", posted="date",
                              collected="scrape_commit_date"),
}


@dataclass(frozen=True)
class Carved:
    """The carved files of one data set and the facts of the cut.

    Attributes:
        train: The training file.
        slices: Scored slice name → its file.
        history: Every row not in the training file (the fresh regime's extra history).
        cutoff: The time cut-off (UTC).
        as_of: The latest collection time of the training file (the training run's time).
        new_accounts: Ids of the new accounts.
        counts: Rows and accounts per part, young rows dropped per slice.
    """

    train: Path
    slices: dict[str, Path]
    history: Path
    cutoff: pd.Timestamp
    as_of: pd.Timestamp
    new_accounts: frozenset[str]
    counts: dict[str, dict[str, int]]


def is_new_account(account_id: str) -> bool:
    """The fixed rule: first 8 hex digits of sha256(account id) as an int, mod 100 < 20."""
    digest = hashlib.sha256(str(account_id).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % 100 < NEW_ACCOUNT_PERCENT


def time_cutoff(posted: pd.Series) -> pd.Timestamp:
    """The :data:`CUTOFF_QUANTILE` quantile of ``posted`` (UTC), floored to midnight."""
    return pd.Timestamp(posted.quantile(CUTOFF_QUANTILE)).floor("D")


def read_source(path: Path) -> pd.DataFrame:
    """The file as text cells, exactly as written (no type or missing-value guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def carve(spec: Dataset, data_dir: Path, out_dir: Path, *, maturity_hours: float) -> Carved:
    """Write the training file, the scored slices and the history file under ``out_dir``.

    Rows without a readable account, publication or collection time cannot be placed by
    the rules: they are left out of every file and counted (``counts["all"]``).

    Raises:
        ValueError: if no row can be placed, or a part comes out empty.
    """
    source = read_source(data_dir / spec.path)
    account = source[spec.account].astype(str)
    posted = pd.to_datetime(source[spec.posted], utc=True, errors="coerce")
    collected = pd.to_datetime(source[spec.collected], utc=True, errors="coerce")
    # rows the rules cannot place (no time) are in no file; the product's readers reject
    # them too (instagram_2017: 6 rows without a date)
    unplaceable = ((account.str.strip() == "") | posted.isna() | collected.isna()).to_numpy()
    if unplaceable.all():
        raise ValueError(f"carve: {spec.name}: no row has a readable {spec.account!r}, "
                         f"{spec.posted!r} and {spec.collected!r}.")
    source, account = source[~unplaceable], account[~unplaceable]
    posted, collected = posted[~unplaceable], collected[~unplaceable]
    cutoff = time_cutoff(posted)
    new_ids = frozenset(a for a in account.unique() if is_new_account(a))
    new = account.isin(new_ids).to_numpy()
    later = (posted >= cutoff).to_numpy()
    young = ((collected - posted) < pd.Timedelta(hours=maturity_hours)).to_numpy()
    parts = {
        "train": ~new & ~later,
        "known_later": ~new & later & ~young,
        "new_later": new & later & ~young,
        "history": new | later,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    counts: dict[str, dict[str, int]] = {}
    for part, mask in parts.items():
        if not mask.any():
            raise ValueError(f"carve: {spec.name}: part {part!r} is empty (cut-off "
                             f"{cutoff.isoformat()}, {len(new_ids)} new accounts).")
        files[part] = out_dir / f"{spec.name}.{part}.csv"
        source[mask].to_csv(files[part], index=False)
        counts[part] = {"rows": int(mask.sum()), "accounts": int(account[mask].nunique())}
    for part in SLICES:
        slice_rows = (new if part == "new_later" else ~new) & later
        counts[part]["young_dropped"] = int((slice_rows & young).sum())
    counts["all"] = {"rows": len(source), "accounts": int(account.nunique()),
                     "new_accounts": len(new_ids), "unplaceable": int(unplaceable.sum())}
    logger.info("%s: cut-off %s, %d of %d accounts new; %s", spec.name, cutoff.date(),
                len(new_ids), counts["all"]["accounts"],
                ", ".join(f"{p} {c['rows']} rows" for p, c in counts.items() if p != "all"))
    return Carved(train=files["train"], slices={s: files[s] for s in SLICES},
                  history=files["history"], cutoff=cutoff,
                  as_of=pd.Timestamp(collected[parts["train"]].max()), new_accounts=new_ids,
                  counts=counts)
