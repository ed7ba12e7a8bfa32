"""What a registered model takes: canonical posts as the model's input frame.

Training logs it as the model's signature example and reference sample, batch scoring and
monitoring feed it to the model, so all of them send what a client sends.
"""

from __future__ import annotations

import pandas as pd

from pipelines.features.post_features import OPTIONAL_INPUT_COLUMNS
from pipelines.features.stage import MODEL_INPUT_COLUMNS

_COUNTS = ("hashtags_count", "mentions_count", "urls_count", "media_count",
           "followers_at_post_time")
#: Text inputs: missing ones are sent as "" (also by ``serve.fast_path.posts_frame``).
TEXT_COLUMNS = ("post_id", "account_id", "platform", "content_type", "post_kind", "caption")


def model_input(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns with plain dtypes (what a client sends)."""
    columns = {}
    for column in MODEL_INPUT_COLUMNS:
        if column not in rows.columns and column in OPTIONAL_INPUT_COLUMNS:
            values = pd.Series(pd.NA, index=rows.index, dtype="string")  # not said
        else:
            values = rows[column]
        if column in _COUNTS:
            # float64 so a client may send a missing count (MLflow rejects NaN in int
            # columns)
            values = pd.to_numeric(values).astype("float64")
        elif column in TEXT_COLUMNS:
            values = values.astype(object).where(values.notna(), "")
        elif column == "posted_at":
            # cache=False: the cache probe iterates Timestamps in Python (seconds on 1M)
            values = pd.to_datetime(values, utc=True, cache=False).dt.tz_localize(None)
        columns[column] = values.to_numpy(copy=True)
    # built at once: assigning column by column into a copy copies the frame each time
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))
