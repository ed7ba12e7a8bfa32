"""Players of a mobile game for the retention task: the canonical ``players`` table, a
seeded demo generator, the Cookie Cats CSV reader, and the seeded split.

One row is one player: the A/B arm it was assigned (``gate_30`` / ``gate_40``: where the
first gate sits), rounds played in the first 14 days, whether it came back one day and
seven days after installing (0/1).

Time: the Cookie Cats file has none. ``file_row`` is the record's position in the file,
kept as the only order there is; the split does not use it: each player's part is a seeded
hash of its id (:func:`hash_parts`), so it does not depend on file order and a player stays
in its part however the file is shuffled.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.tasks.binary_table_task import PART, QUARANTINE_KEY, Loaded
from pipelines.validate.entity_contract import parse_rejects, read_text_csv

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

ARMS: tuple[str, ...] = ("gate_30", "gate_40")
#: Canonical column -> pandas dtype.
COLUMNS: dict[str, str] = {
    "player_id": "object", "file_row": "int64", "arm": "object", "sum_gamerounds": "int64",
    "retention_1": "int64", "retention_7": "int64",
}
#: The Cookie Cats header name of each canonical column read from the file.
COOKIE_CATS_HEADER: dict[str, str] = {
    "player_id": "userid", "arm": "version", "sum_gamerounds": "sum_gamerounds",
    "retention_1": "retention_1", "retention_7": "retention_7",
}
#: The demo gate_40 arm's shift of the 7-day log-odds (Cookie Cats: gate_40 a little lower).
DEMO_ARM_EFFECT = -0.05
_FLAGS = {"true": 1, "1": 1, "false": 0, "0": 0}


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes.

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: player column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    return pd.DataFrame({c: frame[c].astype(d) for c, d in COLUMNS.items()}).reset_index(
        drop=True)


def generate_players(rows: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic players shaped like Cookie Cats: a latent engagement drives rounds
    played and both retentions (about 45 % come back after a day, 19 % after a week); the
    ``gate_40`` arm shifts the 7-day log-odds by :data:`DEMO_ARM_EFFECT`.

    Raises:
        ValueError: if ``rows`` < 1 or ``seed`` < 0.
    """
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"generate_players: 'rows' must be an int >= 1; got {rows!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_players: 'seed' must be an int >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, size=rows)
    engagement = rng.normal(size=rows)
    retained_1 = rng.random(rows) < 1 / (1 + np.exp(-(-0.25 + 1.1 * engagement)))
    log_odds_7 = -2.4 + 0.9 * engagement + 1.3 * retained_1 + DEMO_ARM_EFFECT * arm
    retained_7 = rng.random(rows) < 1 / (1 + np.exp(-log_odds_7))
    mean_rounds = np.exp(2.3 + 0.9 * engagement + 0.8 * retained_1 + 1.0 * retained_7)
    rounds = rng.poisson(rng.gamma(1.5, mean_rounds / 1.5))
    return conform(pd.DataFrame({
        "player_id": [f"demo-{i:07d}" for i in range(1, rows + 1)],
        "file_row": np.arange(1, rows + 1), "arm": np.array(ARMS)[arm],
        "sum_gamerounds": rounds, "retention_1": retained_1.astype(int),
        "retention_7": retained_7.astype(int)}))


def read_cookie_cats(path: Path, *, limits: ReadLimits) -> Loaded:
    """Read the Cookie Cats CSV into canonical players.

    ``retention_1`` / ``retention_7`` accept TRUE/FALSE/1/0 in any case. Values are not
    judged here (a negative round count or an unknown arm pass; the row contract
    quarantines them): a record is rejected only when a value cannot be read (rules
    ``required_value``, ``parse_int``, ``parse_bool``), with the file, row, column, rule
    and value.

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be read as CSV or lacks a column, naming both.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    raw = read_text_csv(path, COOKIE_CATS_HEADER, reader="read_cookie_cats",
                        limits=limits)
    text = raw.apply(lambda column: column.str.strip())
    rounds = pd.to_numeric(text["sum_gamerounds"], errors="coerce")
    parsed: dict[str, pd.Series] = {
        "player_id": text["player_id"].where(text["player_id"] != ""),
        "arm": text["arm"].where(text["arm"] != ""),
        "sum_gamerounds": rounds.where(rounds.notna() & (rounds == rounds.round())
                                       & (rounds.abs() < 2**53)),
        **{c: text[c].str.lower().map(_FLAGS) for c in ("retention_1", "retention_7")},
    }
    readable, rejects = parse_rejects(
        raw, parsed, key="player_id", source=str(path), quarantine_key=QUARANTINE_KEY,
        rules={"player_id": "required_value", "arm": "required_value",
               "sum_gamerounds": "parse_int", "retention_1": "parse_bool",
               "retention_7": "parse_bool"})
    frame = pd.DataFrame({c: values[readable] for c, values in parsed.items()})
    frame["file_row"] = np.flatnonzero(readable.to_numpy()) + 1
    rows = conform(frame)
    logger.info("read_cookie_cats: %s: %d records, %d players, %d rejected", path, len(raw),
                len(rows), len(rejects))
    return Loaded(rows, rejects, len(raw), str(path))


def hash_parts(player_ids: pd.Series, *, seed: int, valid_fraction: float,
               test_fraction: float) -> np.ndarray:
    """Each player's part (``train`` / ``valid`` / ``test``) from a seeded hash of its id:
    a uniform number u in [0, 1) per id; u < test_fraction is test, the next
    valid_fraction is validation, the rest training."""
    key = f"{seed:016d}"[-16:]
    hashed = pd.util.hash_pandas_object(player_ids.astype(str), index=False, hash_key=key)
    u = hashed.to_numpy(dtype=np.uint64) / float(2**64)
    return np.where(u < test_fraction, "test",
                    np.where(u < test_fraction + valid_fraction, "valid", "train"))


def player_table(players: pd.DataFrame, *, seed: int, valid_fraction: float,
                 test_fraction: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The training table (the players with :data:`PART`) and its split record."""
    table = players.assign(**{PART: hash_parts(players["player_id"], seed=seed,
                                               valid_fraction=valid_fraction,
                                               test_fraction=test_fraction)})
    record: dict[str, Any] = {"how": f"seeded hash of player_id (seed {seed})"}
    for name in ("train", "valid", "test"):
        rows = table[table[PART] == name]
        if rows.empty:
            raise ValueError(f"player_table: the {name} part is empty ({len(table)} players); "
                             f"add players or change the fractions.")
        record[name] = {"rows": len(rows),
                        "retention_7": round(float(rows["retention_7"].mean()), 6)}
    return table, record
