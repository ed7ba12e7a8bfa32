"""File-drop connector: read posts from CSV, JSON, JSONL or Parquet files into the canonical schema.

``read_posts(path, fmt)`` reads one file, or every supported file of a folder (not recursive,
sorted by name, hidden files skipped), and returns a :class:`ReadResult`: canonical posts plus
a quarantine frame of the records that could not be mapped. No record is ever dropped:
``records_read == len(posts) + len(rejects)``. Problems with a whole file (unreadable
container, broken CSV quoting, missing header column, invalid JSON) raise one
:class:`CollectError` whose message names the file, row, column, rule and the value seen.

Where things live:

* :mod:`.source_file`: opening a file safely: regular files only, ``max_file_mb``, a file
  that changes while it is read (:class:`ReadLimits`, from the ``collect`` params).
* :mod:`.containers`: suffixes, gzip, UTF-8, CSV/JSON/JSONL/Parquet → records.
* :mod:`.values`: the value rules every format shares (counts, times, enums, text).
* :mod:`.reader`: load → map → coerce → quarantine → conform, the same for every format.
* One module per format, each defining ``FORMAT`` (a :class:`FileFormat`: name, help text,
  mapping): :mod:`.canonical`, :mod:`.instagram_graph`, :mod:`.linkedin_share`,
  :mod:`.twitter_v2`, :mod:`.tweets_csv`, :mod:`.instagram_scrape_csv`,
  :mod:`.facebook_uci`; :mod:`.flat`, :mod:`.nested` and :mod:`.graph_post` hold what
  several of them share.

Adding a format: write its module, add it to ``_MODULES`` below, and add its name to
``pipelines.config.FILE_FORMATS`` (a literal so DAG parsing stays light; a test checks the
two agree).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.collect.formats import (
    canonical,
    facebook_uci,
    instagram_graph,
    instagram_scrape_csv,
    linkedin_share,
    tweets_csv,
    twitter_v2,
)
from pipelines.collect.formats.reader import read_path
from pipelines.collect.formats.rejects import CollectError, error
from pipelines.collect.formats.source_file import ReadLimits
from pipelines.collect.formats.spec import FileFormat, ReadResult

__all__ = ["FORMATS", "FORMAT_SPECS", "CollectError", "FileFormat", "ReadLimits", "ReadResult",
           "read_posts"]

#: The registry, in the order formats are listed to users.
_MODULES = (
    canonical,
    instagram_graph,
    linkedin_share,
    twitter_v2,
    tweets_csv,
    instagram_scrape_csv,
    facebook_uci,
)
#: Format name -> its spec.
FORMAT_SPECS: dict[str, FileFormat] = {module.FORMAT.name: module.FORMAT for module in _MODULES}
#: The format names ``read_posts`` accepts.
FORMATS: tuple[str, ...] = tuple(FORMAT_SPECS)


def read_posts(path: str | Path, fmt: str, *, limits: ReadLimits | None = None) -> ReadResult:
    """Read posts of format ``fmt`` from a file or from every supported file of a folder.

    Args:
        path: A file (see :mod:`.containers` for containers) or a folder of such files.
        fmt: One of :data:`FORMATS`.
        limits: What one file read may take (``collect.max_file_mb``, ``max_columns``,
            ``max_json_depth``, ``chunk_rows``); the stage runners pass the run's settings.
            None, for scripts and benches only, means the ``collect`` section's defaults
            (:meth:`ReadLimits.defaults`: the typed model, the one source of them).

    Returns:
        Canonical posts, quarantined records and the number of records read.

    Raises:
        CollectError: unknown ``fmt``, missing path, a folder without supported files, or a
            file that cannot be read as a whole (all failing files of a folder in one error):
            also a file that is not a regular file, over ``max_file_mb`` or ``max_columns``,
            or that changed while it was read.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise error(str(path), "unknown_format", f"fmt must be one of {FORMATS}", value=fmt)
    return read_path(path, FORMAT_SPECS[fmt], limits or ReadLimits.defaults())
