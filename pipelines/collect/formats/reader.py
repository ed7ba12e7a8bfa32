"""Read one file or a folder with a given format: load, map, coerce, quarantine, conform.

Everything here is the same for every format; what differs is the format's
:class:`~pipelines.collect.formats.spec.FileFormat`. No record is ever dropped:
``records_read == len(posts) + len(rejects)``. ``collected_at`` is the file's modification
time (UTC) unless the format carries it; ``source`` is the format name; ``extra`` is a JSON
object of every source field without a canonical column. A file is opened through
:mod:`.source_file` (regular files under ``max_file_mb`` only); one that changes while it is
read is read once more, and refused (``file_changed``) if it changes again. A CSV is mapped
chunk by chunk (``chunk_rows``), so extra columns are typed per chunk.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from pipelines import schema
from pipelines.collect.formats.containers import (
    Loaded,
    allowed_suffixes,
    container_of,
    load_chunks,
    records_to_frame,
)
from pipelines.collect.formats.rejects import (
    LONE_SURROGATES,
    SURROGATES,
    CollectError,
    clean,
    error,
    show,
    to_json,
)
from pipelines.collect.formats.source_file import ReadLimits, SourceFile, read_unchanged
from pipelines.collect.formats.spec import FileFormat, Issue, Mapped, ReadResult
from pipelines.collect.formats.values import (
    CONTENT_ALIASES,
    PLATFORM_ALIASES,
    parse_enum,
    parse_int,
    parse_text,
    parse_time,
)

logger = logging.getLogger(__name__)

_TEXT_COLUMNS = ("post_id", "account_id", "campaign_id")
#: Text kept as given, except that a blank value (an empty CSV cell) is missing: not
#: reported, where an empty string would fail the column's value set.
_BLANK_IS_MISSING = ("post_kind",)


def read_path(path: Path, spec: FileFormat, limits: ReadLimits) -> ReadResult:
    """Read one file, or every supported file of a folder (sorted, hidden files skipped).

    An entry of the folder named like a supported file that is not a regular file (a FIFO,
    a link to a device, a sub-folder) fails the folder with the others, never read or
    silently skipped.

    Raises:
        CollectError: missing path, a folder without supported files, or a file that cannot
            be read as a whole (all failing files of a folder in one error).
    """
    if not path.exists():
        raise error(str(path), "missing_path", "no such file or folder")
    if not path.is_dir():
        return read_file(path, spec, limits)

    entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    supported = [p for p in entries if container_of(p) is not None]
    skipped = [p.name for p in entries if p not in supported and p.is_file()]
    if skipped:
        logger.info("read_posts: %s: skipping %d unsupported file(s): %s", path, len(skipped),
                    skipped)
    if not supported:
        raise error(str(path), "empty_folder",
                    f"no file with a supported suffix {allowed_suffixes()} in the folder",
                    value=str(skipped))
    results: list[ReadResult] = []
    failures: list[CollectError] = []
    for file in supported:
        try:
            results.append(read_file(file, spec, limits))
        except CollectError as exc:
            failures.append(exc)
    if failures:
        listing = "\n".join(f"  - {exc}" for exc in failures)
        first = failures[0]
        raise CollectError(
            f"read_posts: folder {str(path)!r}: {len(failures)} of {len(supported)} file(s) "
            f"could not be read:\n{listing}",
            file=first.file, row=first.row, column=first.column, rule=first.rule,
            value=first.value,
        )
    posts = schema.conform(pd.concat([r.posts for r in results], ignore_index=True))
    rejects = schema.quarantine_frame([]) if not results else pd.concat(
        [r.rejects for r in results], ignore_index=True)
    return ReadResult(posts, rejects, sum(r.records_read for r in results))


def read_file(path: Path, spec: FileFormat, limits: ReadLimits) -> ReadResult:
    """Read one file with ``spec``; whole-file problems raise :class:`CollectError`.

    A file that changed while it was read is read once more (a writer that just finished);
    if it changes again, ``file_changed`` is raised and nothing of it is returned.
    """
    container = container_of(path)
    if container is None:
        raise error(str(path), "container",
                    f"unsupported file suffix; expected one of {allowed_suffixes()}",
                    value=path.name)
    if spec.nested and container == "csv":
        raise error(str(path), "container",
                    f"format {spec.name!r} holds nested JSON objects; use JSON, JSONL or "
                    "Parquet", value=path.name)
    result = read_unchanged(path, limits,
                            lambda source: _read_source(source, spec, container, limits),
                            reader="read_posts")
    if len(result.rejects):
        top = result.rejects["rule"].value_counts().head(3).to_dict()
        logger.info("read_posts: %s (%s): %d records, %d posts, %d quarantined %s", path,
                    spec.name, result.records_read, len(result.posts), len(result.rejects), top)
    else:
        logger.info("read_posts: %s (%s): %d records, %d posts", path, spec.name,
                    result.records_read, len(result.posts))
    return result


def _read_source(source: SourceFile, spec: FileFormat, container: str, limits: ReadLimits
                 ) -> ReadResult:
    """One read of an opened file: chunks → map → coerce/quarantine."""
    collected_at = pd.Timestamp(source.mtime, unit="s", tz="UTC")
    parts: list[ReadResult] = []
    for loaded in load_chunks(source, container, spec.nested, spec.json_pages, limits):
        parts.append(_read_chunk(loaded, source.path, spec, limits, collected_at))
        del loaded  # not alive while the next chunk is parsed
    if len(parts) == 1:
        return parts[0]
    posts = schema.conform(pd.concat([p.posts for p in parts], ignore_index=True))
    rejects = pd.concat([p.rejects for p in parts], ignore_index=True)
    return ReadResult(posts, rejects, sum(p.records_read for p in parts))


def _read_chunk(loaded: Loaded, path: Path, spec: FileFormat, limits: ReadLimits,
                collected_at: pd.Timestamp) -> ReadResult:
    if not spec.nested and loaded.frame is None:
        loaded = records_to_frame(loaded, path, limits)
    mapped = spec.map(loaded, path)
    if loaded.bad_bytes and loaded.frame is not None:
        mapped.issues += _bad_byte_issues(loaded.frame)
    _add_broken(mapped, loaded)
    return _finish(mapped, path=path, fmt=spec.name, collected_at=collected_at,
                   surrogates=loaded.surrogates)


def _finish(mapped: Mapped, *, path: Path, fmt: str, collected_at: pd.Timestamp,
            surrogates: bool) -> ReadResult:
    """Coerce raw values, quarantine what does not parse, conform the rest.

    With ``surrogates`` (the text may hold lone surrogates), a record whose text columns
    hold one is quarantined (``lone_surrogate``): it is not text and cannot be stored."""
    values = mapped.values
    index = values.index
    issue_frames: list[pd.DataFrame] = []
    order = 0
    checked = ~index.isin(sorted(mapped.skip))

    def note(mask: pd.Series, rule: str, column: str, raw: pd.Series, detail: str) -> None:
        nonlocal order
        order += 1
        mask = mask.to_numpy(dtype=bool) & checked
        if mask.any():
            issue_frames.append(pd.DataFrame({
                "row": index[mask], "order": order, "rule": rule,
                "column": mapped.source_of.get(column, column),
                "value": raw[mask].to_numpy(), "detail": detail,
            }))

    if mapped.issues:
        issue_frames.append(pd.DataFrame(mapped.issues,
                                         columns=["row", "rule", "column", "value", "detail"])
                            .assign(order=0))
    out = pd.DataFrame(index=index)
    for column in schema.COLUMNS:
        name = column.name
        if name in ("source", "extra"):
            continue
        if name not in values.columns:
            fill = collected_at if name == "collected_at" else pd.NA
            out[name] = pd.Series(fill, index=index, dtype="object")
            continue
        raw = values[name]
        if column.dtype == "Int64":
            parsed, bad, missing = parse_int(raw)
            note(bad, "parse_int", name, raw, "expected a whole number")
        elif column.dtype.startswith("datetime"):
            parsed, bad, missing = parse_time(raw)
            note(bad, "parse_datetime", name, raw, "expected an ISO 8601 time in 1677-2262")
            if name == "collected_at":
                parsed = parsed.where(~missing, collected_at)
                missing = pd.Series(False, index=index)
        elif name in ("platform", "content_type"):
            allowed = schema.PLATFORMS if name == "platform" else schema.CONTENT_TYPES
            aliases = PLATFORM_ALIASES if name == "platform" else CONTENT_ALIASES
            parsed, bad, missing = parse_enum(raw, allowed, aliases)
            note(bad, "enum_value", name, raw, f"expected one of {allowed}")
        else:
            parsed, bad, missing = parse_text(raw, strip=name in _TEXT_COLUMNS)
            if name in _BLANK_IS_MISSING:
                blank = parsed.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
                parsed, missing = parsed.where(~blank, None), missing | blank
            note(bad, "json_shape", name, raw, "expected text, got a JSON object or array")
        if column.required:
            note(missing, "required_value", name, raw, "a required value is missing")
        out[name] = parsed

    extras = mapped.extra
    out["source"] = fmt
    out["extra"] = extras.map(lambda e: None if e is None else to_json(e))
    if surrogates:
        flagged = set().union(*(set(f["row"]) for f in issue_frames))
        for name in ("post_id", "account_id", "campaign_id", "post_kind", "caption"):
            if name in values.columns:
                lone = out[name].map(lambda v: isinstance(v, str)
                                     and LONE_SURROGATES.search(v) is not None).astype(bool)
                note(lone & ~index.isin(sorted(flagged)), "lone_surrogate", name, out[name],
                     "a lone surrogate (an unpaired \\ud800-\\udfff escape, or bytes "
                     "that are not UTF-8) is not text and cannot be stored")

    if issue_frames:
        issues = pd.concat(issue_frames, ignore_index=True).sort_values(
            ["row", "order"], kind="stable")
    else:
        issues = pd.DataFrame(columns=["row", "order", "rule", "column", "value", "detail"])
    rejected_rows = pd.unique(issues["row"])
    quarantine: list[dict[str, object]] = []
    for row, group in issues.groupby("row", sort=True):
        reasons = [
            {"rule": r, "column": c, "value": show(v), "detail": d}
            for r, c, v, d in zip(group["rule"], group["column"], group["value"],
                                  group["detail"], strict=True)
        ]
        first = reasons[0]
        post_id = None
        if row in out.index and isinstance(out.at[row, "post_id"], str):
            post_id = clean(out.at[row, "post_id"])
        quarantine.append({
            "stage": "collect", "source_file": str(path), "source_row": int(row),
            "post_id": post_id, "rule": first["rule"], "column": first["column"],
            "value": first["value"], "reasons": json.dumps(reasons, ensure_ascii=False),
            "record": mapped.record(int(row)),
        })
    kept = out.drop(index=[r for r in rejected_rows if r in out.index])
    posts = schema.conform(kept.reset_index(drop=True))
    rejects = schema.quarantine_frame(quarantine)
    return ReadResult(posts, rejects, len(index))


def _bad_byte_issues(frame: pd.DataFrame) -> list[Issue]:
    """One decode_utf8 issue per (record, source column) holding bytes that are not UTF-8."""
    issues = []
    for column in frame.columns:
        raw = frame[column]
        mask = raw.map(lambda v: isinstance(v, str) and bool(SURROGATES.search(v)))
        issues += [(row, "decode_utf8", column, raw[row],
                    "bytes that are not UTF-8; re-export the file as UTF-8")
                   for row in raw.index[mask.astype(bool)]]
    return issues


def _add_broken(mapped: Mapped, loaded: Loaded) -> None:
    """Give records that could not be split into fields a row and a reject reason."""
    if not loaded.broken:
        return
    rows = sorted(loaded.broken)
    filler = pd.DataFrame(index=rows, columns=mapped.values.columns, dtype=object)
    mapped.values = pd.concat([mapped.values, filler]).sort_index()
    mapped.extra = pd.concat([mapped.extra, pd.Series(None, index=rows, dtype=object)]
                             ).sort_index()
    records = {r: loaded.broken[r][3] for r in rows}
    inner = mapped.record
    mapped.record = lambda row: records[row] if row in records else inner(row)
    mapped.skip.update(rows)
    for row in rows:
        rule, detail, value, _ = loaded.broken[row]
        mapped.issues.append((row, rule, None, value, detail))
