"""Browsing sessions for the conversion task: the canonical session table, a seeded demo
generator, the reader of the UCI "Online Shoppers Purchasing Intention" CSV, and the data
contract (row rules quarantine, table rules stop the run).

One row is one browsing session: pages of three kinds visited and the seconds spent on
them, Google-Analytics bounce and exit rates and page value of the pages visited, the
closeness to a special day, the month, the visitor's technology codes, and whether the
session ended in a purchase (``converted``).

Time: the UCI file has a month name but no year and no day. ``month_start`` is the first
day of that month in :data:`NOMINAL_YEAR` (UTC); the year is nominal (the data covers one
year before its 2018 publication) and only orders the months. Sessions within a month keep
file order, the only order the file has.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.validate import entity_contract
from pipelines.validate.entity_contract import EntityValidation

if TYPE_CHECKING:
    from pipelines.collect.formats import ReadLimits

logger = logging.getLogger(__name__)

#: The year every ``month_start`` falls in (nominal: the source has months only).
NOMINAL_YEAR = 2017
MONTHS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                           "Oct", "Nov", "Dec")
VISITOR_TYPES: tuple[str, ...] = ("Returning_Visitor", "New_Visitor", "Other")
COUNT_COLUMNS: tuple[str, ...] = ("administrative", "informational", "product_related")
DURATION_COLUMNS: tuple[str, ...] = ("administrative_duration", "informational_duration",
                                     "product_related_duration")
RATE_COLUMNS: tuple[str, ...] = ("bounce_rates", "exit_rates")
#: Categorical codes (an operating system, a browser, ...): identifiers, not quantities.
CODE_COLUMNS: tuple[str, ...] = ("operating_systems", "browser", "region", "traffic_type")

#: Canonical column -> (pandas dtype, the UCI header name).
COLUMNS: dict[str, tuple[str, str | None]] = {
    "session_id": ("object", None),
    "month_start": ("datetime64[ns, UTC]", None),
    "month": ("object", "Month"),
    "administrative": ("int64", "Administrative"),
    "administrative_duration": ("float64", "Administrative_Duration"),
    "informational": ("int64", "Informational"),
    "informational_duration": ("float64", "Informational_Duration"),
    "product_related": ("int64", "ProductRelated"),
    "product_related_duration": ("float64", "ProductRelated_Duration"),
    "bounce_rates": ("float64", "BounceRates"),
    "exit_rates": ("float64", "ExitRates"),
    "page_values": ("float64", "PageValues"),
    "special_day": ("float64", "SpecialDay"),
    "operating_systems": ("int64", "OperatingSystems"),
    "browser": ("int64", "Browser"),
    "region": ("int64", "Region"),
    "traffic_type": ("int64", "TrafficType"),
    "visitor_type": ("object", "VisitorType"),
    "weekend": ("bool", "Weekend"),
    "converted": ("int64", "Revenue"),
}
#: What a client sends to score a session (the registered model's input schema).
INPUT_COLUMNS: tuple[str, ...] = tuple(
    c for c in COLUMNS if c not in ("session_id", "month_start", "converted"))
#: Columns of a sessions quarantine file: one row per rejected record, never dropped.
QUARANTINE_COLUMNS: tuple[str, ...] = entity_contract.quarantine_columns("session_id")

_MONTH_NAMES = {name.lower(): i + 1 for i, name in enumerate(MONTHS)} | {
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7,
    "august": 8, "sept": 9, "september": 9, "october": 10, "november": 11, "december": 12}
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def month_start(month_number: Any) -> pd.Series:
    """The first instant (UTC) of each month number 1-12 in :data:`NOMINAL_YEAR`."""
    numbers = pd.Series(month_number, dtype="int64")
    return pd.to_datetime(pd.DataFrame({"year": NOMINAL_YEAR, "month": numbers, "day": 1}),
                          utc=True).astype("datetime64[ns, UTC]")


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns, in order, at their dtypes (extra columns go);
    ``converted`` is nullable (``Int64``) where an outcome is not known yet (sessions to
    score).

    Raises:
        ValueError: naming the missing columns.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"conform: session column(s) {missing} are missing; got "
                         f"{list(frame.columns)}.")
    out = {c: frame[c].astype(dtype if c != "converted" or frame[c].notna().all()
                               else "Int64")
           for c, (dtype, _) in COLUMNS.items()}
    return pd.DataFrame(out)


def quarantine_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A sessions quarantine frame from dicts keyed by :data:`QUARANTINE_COLUMNS`."""
    return entity_contract.quarantine_frame(rows, "session_id")


# ------------------------------------------------------------------------------ demo data
# Monthly volume and the shift of the conversion log-odds by month (holiday season high,
# February low), as in the UCI file where conversion runs from 2 % (Feb) to 25 % (Nov).
_MONTH_WEIGHT = np.array([6, 5, 8, 7, 10, 7, 7, 7, 8, 9, 14, 12], dtype=float)
_MONTH_EFFECT = np.array([-0.3, -1.2, -0.2, -0.2, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.7, 0.4])
_CODE_WEIGHTS = {
    "operating_systems": [21, 53, 21, 4, 0.3, 0.3, 0.3, 0.6],
    "browser": [20, 65, 1, 6, 4, 1.5, 0.4, 1.1, 0.1, 1.3, 0.1, 0.1, 0.5],
    "region": [39, 9, 19, 10, 3, 7, 6, 3.5, 4],
    "traffic_type": [20, 32, 17, 9, 2, 3.6, 0.3, 2.8, 0.3, 3.6, 2, 0.1, 6, 0.1, 0.3, 0.1,
                     0.1, 0.1, 0.1, 1.6],
}
# Traffic sources that convert better or worse (log-odds), e.g. a paid-search campaign.
_TRAFFIC_EFFECT = {2: 0.35, 3: -0.5, 8: 0.4, 13: -0.6, 20: 0.4}


def generate_sessions(rows: int, seed: int) -> pd.DataFrame:
    """Seeded synthetic sessions in the canonical schema, shaped like the UCI file.

    A latent purchase intent drives how many product pages a visitor reads, how long, and
    how rarely they leave from a page; conversion depends on those, on the month (volume
    and rate peak in November), the visitor type (new visitors convert more), the traffic
    source and weekends, at a base rate near 15 %. ``page_values`` is mostly positive for
    sessions that bought and mostly 0 otherwise, as in the UCI data, where it is computed
    from the pages visited before a transaction. Sessions are in time order.

    Raises:
        ValueError: if ``rows`` < 1 or ``seed`` < 0.
    """
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"generate_sessions: 'rows' must be an int >= 1; got {rows!r}.")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_sessions: 'seed' must be an int >= 0; got {seed!r}.")
    rng = np.random.default_rng(seed)
    month = np.sort(rng.choice(12, size=rows, p=_MONTH_WEIGHT / _MONTH_WEIGHT.sum()))
    intent = rng.normal(size=rows)
    visitor = rng.choice(3, size=rows, p=[0.85, 0.14, 0.01])

    def pages(log_mean: np.ndarray, shape: float) -> np.ndarray:
        return rng.poisson(rng.gamma(shape, np.exp(log_mean) / shape)).astype("int64")

    def seconds(count: np.ndarray, log_per_page: float) -> np.ndarray:
        per_page = np.exp(rng.normal(log_per_page, 0.6, size=rows))
        return np.round(count * per_page * (rng.random(rows) > 0.03), 3)

    product = pages(3.0 + 0.8 * intent, 3.0)
    administrative = pages(0.5 + 0.5 * intent, 0.8)
    informational = pages(-1.3 + 0.35 * intent, 0.5)
    total = product + administrative + informational
    single = total <= 1
    bounce = np.where(single, 0.2, np.clip(
        np.exp(rng.normal(np.log(0.01) - 0.5 * intent, 1.0)) * (rng.random(rows) < 0.6),
        0, 0.2))
    exits = np.where(single, 0.2, np.clip(
        bounce + np.exp(rng.normal(np.log(0.025) - 0.45 * intent, 0.4)), 0, 0.2))
    special = np.where(np.isin(month, [1, 4]) & (rng.random(rows) < 0.35),
                       rng.choice([0.2, 0.4, 0.6, 0.8, 1.0], size=rows), 0.0)
    codes = {c: 1 + rng.choice(len(w), size=rows, p=np.array(w) / np.sum(w))
             for c, w in _CODE_WEIGHTS.items()}
    weekend = rng.random(rows) < 0.23
    product_seconds = seconds(product, np.log(35) + 0.3 * intent)
    # Intent shows through reading time and exits; part of it stays hidden (noise).
    log_odds = (-2.9 + 0.6 * intent + 0.65 * (np.log1p(product_seconds) - 6.0)
                - 20.0 * (exits - 0.04) + _MONTH_EFFECT[month]
                + np.array([0.0, 0.55, -0.2])[visitor] + 0.2 * weekend - 0.6 * special
                + pd.Series(codes["traffic_type"]).map(_TRAFFIC_EFFECT).fillna(0).to_numpy())
    converted = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype("int64")
    valued = rng.random(rows) < np.where(converted == 1, 0.85, 0.09)
    page_values = np.where(valued, np.round(np.exp(rng.normal(
        np.where(converted == 1, np.log(25), np.log(10)), 0.9)), 6), 0.0)
    frame = pd.DataFrame({
        "session_id": [f"demo-{i:07d}" for i in range(1, rows + 1)],
        "month_start": month_start(month + 1),
        "month": np.array(MONTHS)[month],
        "administrative": administrative,
        "administrative_duration": seconds(administrative, np.log(25)),
        "informational": informational,
        "informational_duration": seconds(informational, np.log(30)),
        "product_related": product,
        "product_related_duration": product_seconds,
        "bounce_rates": np.round(bounce, 6), "exit_rates": np.round(exits, 6),
        "page_values": page_values, "special_day": special,
        **codes,
        "visitor_type": np.array(VISITOR_TYPES)[visitor],
        "weekend": weekend, "converted": converted,
    })
    return conform(frame)


# ----------------------------------------------------------------------------- the CSV
@dataclass(frozen=True)
class ReadResult:
    """Sessions read from a file, and the records that could not be read.

    Attributes:
        sessions: Canonical sessions.
        rejects: Quarantine rows (:data:`QUARANTINE_COLUMNS`, stage ``collect``).
        records_read: Data records in the file; always ``len(sessions) + len(rejects)``.
    """

    sessions: pd.DataFrame
    rejects: pd.DataFrame
    records_read: int


def read_sessions_csv(path: Path, *, limits: ReadLimits, outcome_required: bool = True
                      ) -> ReadResult:
    """Read the UCI online-shoppers CSV (or one with the same header) into sessions.

    With ``outcome_required`` False (sessions to score, whose outcome is not known yet)
    the ``Revenue`` column may be absent; ``converted`` is then missing (``<NA>``).

    ``session_id`` is ``<file stem>-<data row number, 7 digits>`` (stable for the file);
    ``month`` accepts abbreviations and full names in any case (the UCI file writes
    ``June``) and is stored abbreviated; ``Weekend`` and ``Revenue`` accept
    TRUE/FALSE/1/0 (any case); ``Revenue`` may be another whole number, which the row
    contract then quarantines. Values are not judged here (negative counts pass): a record
    is rejected only when a value cannot be read (rules ``field_count``, ``decode_utf8``,
    ``required_value``, ``parse_int``, ``parse_float``, ``parse_month``, ``parse_bool``),
    with the file, row, column, rule and value. Header columns the table has no place for
    are ignored (logged).

    The file is read under ``limits`` (the ``collect`` params) as the post reader reads one.

    Raises:
        ValueError: if the file cannot be opened as CSV text, is empty, or its header lacks
            a column, naming the file and the missing columns.
        CollectError: (a ``ValueError``) for a file that is not a regular file, is over
            ``collect.max_file_mb`` or ``collect.max_columns``, or changed while it was read
            (:func:`pipelines.validate.entity_contract.csv_records`), naming the file and
            the rule.
    """
    path = Path(path)
    records = entity_contract.csv_records(path, reader="read_sessions_csv", limits=limits,
                                          encoding="utf-8-sig", errors="surrogateescape")
    if not records:
        raise ValueError(f"read_sessions_csv: {path} is empty; expected a header row.")
    header = [h.strip() for h in records[0]]
    wanted = {source: column for column, (_, source) in COLUMNS.items() if source}
    outcome_header = COLUMNS["converted"][1]
    if not outcome_required and outcome_header not in header:
        del wanted[outcome_header]
    missing = [h for h in wanted if h not in header]
    if missing:
        raise ValueError(f"read_sessions_csv: {path} lacks column(s) {missing}; its header "
                         f"is {header}.")
    ignored = [h for h in header if h not in wanted]
    if ignored:
        logger.info("read_sessions_csv: %s: ignoring column(s) %s", path, ignored)
    position = {h: header.index(h) for h in wanted}
    good: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    stem = path.stem
    for row, fields in enumerate(records[1:], start=1):
        session_id = f"{stem}-{row:07d}"
        if len(fields) != len(header):
            reasons = [{"rule": "field_count", "column": "",
                        "value": f"{len(fields)} fields, header has {len(header)}"}]
        else:
            record, reasons = _parse_record(
                {column: fields[position[source]] for source, column in wanted.items()})
            if not reasons:
                good.append({"session_id": session_id, **record})
                continue
        first = reasons[0]
        rejects.append({
            "stage": "collect", "source_file": str(path), "source_row": row,
            "session_id": session_id, "rule": first["rule"], "column": first["column"],
            "value": first["value"], "reasons": json.dumps(reasons),
            "record": json.dumps(dict(zip(header, map(_show, fields), strict=False))),
        })
    frame = pd.DataFrame(good, columns=[c for c in COLUMNS if c != "month_start"])
    frame["month_start"] = month_start(frame["month"].map(MONTHS.index) + 1)
    if "converted" not in wanted.values():
        frame["converted"] = pd.NA
    result = ReadResult(conform(frame), quarantine_frame(rejects), len(records) - 1)
    logger.info("read_sessions_csv: %s: %d records, %d sessions, %d rejected", path,
                result.records_read, len(result.sessions), len(result.rejects))
    return result


def _parse_record(raw: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One record's values at canonical types, and every reason it cannot be read."""
    values: dict[str, Any] = {}
    reasons: list[dict[str, str]] = []

    def fail(rule: str, column: str, text: str) -> None:
        reasons.append({"rule": rule, "column": COLUMNS[column][1] or column,
                        "value": _show(text)})

    for column, text in raw.items():
        token = text.strip()
        if _undecodable(text):
            fail("decode_utf8", column, text)
        elif not token:
            fail("required_value", column, text)
        elif column == "month":
            number = _MONTH_NAMES.get(token.lower())
            if number is None:
                fail("parse_month", column, text)
            else:
                values[column] = MONTHS[number - 1]
        elif column == "visitor_type":
            values[column] = token
        elif column in ("weekend", "converted") and token.lower() in _TRUE | _FALSE:
            flag = token.lower() in _TRUE
            values[column] = flag if column == "weekend" else int(flag)
        elif column == "weekend":
            fail("parse_bool", column, text)
        else:
            try:
                number = float(token)
            except ValueError:
                number = math.nan
            whole = COLUMNS[column][0] == "int64"
            if not math.isfinite(number) or (whole and (number != int(number)
                                                        or abs(number) >= 2**63)):
                fail("parse_int" if whole else "parse_float", column, text)
            else:
                values[column] = int(number) if whole else number
    return values, reasons


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _show(text: str) -> str:
    """Text for a reason: undecodable bytes as \\xNN, cut to 200 characters."""
    if _undecodable(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text[:200]


# --------------------------------------------------------------------------- the contract
def validate_sessions(
    sessions: pd.DataFrame,
    earlier_rejects: pd.DataFrame,
    *,
    row_suite: dict[str, Any],
    table_suite: dict[str, Any],
    as_of: pd.Timestamp,
    min_rows: int,
    max_quarantine_rate: float,
    source: str,
) -> EntityValidation:
    """Apply the sessions contract (:func:`pipelines.validate.entity_contract.validate_entity`
    keyed by ``session_id``); the report's ``months`` is :func:`month_summary` of the
    accepted sessions.

    Raises:
        RuntimeError: if rows went missing (rows in != accepted + quarantined): a bug.
    """
    return entity_contract.validate_entity(
        sessions, earlier_rejects, key="session_id", row_suite=row_suite,
        table_suite=table_suite, as_of=as_of, min_rows=min_rows,
        max_quarantine_rate=max_quarantine_rate, source=source,
        summaries={"months": month_summary})


def month_summary(sessions: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Rows and conversion rate per month (``YYYY-MM``): the base rate shifts by month."""
    if sessions.empty:
        return {}
    stats = sessions.groupby(sessions["month_start"].dt.strftime("%Y-%m"))["converted"].agg(
        ["size", "mean"])
    return {month: {"rows": int(row["size"]), "conversion_rate": round(float(row["mean"]), 4)}
            for month, row in stats.iterrows()}


def split_scorable(sessions: pd.DataFrame, row_suite: dict[str, Any], *, columns: tuple[str, ...],
                   source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sessions to score, split by the row contract's rules on ``columns`` (what a client
    sends; :func:`pipelines.validate.entity_contract.split_scorable` keyed by
    ``session_id``).

    Returns:
        (the sessions that pass, quarantine rows of stage ``score`` with every failed
        rule, column and value).
    """
    return entity_contract.split_scorable(sessions, row_suite, key="session_id",
                                          columns=columns, source=source)
