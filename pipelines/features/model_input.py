"""What a registered model takes: canonical posts as the model's input frame.

Training logs it as the model's signature example and reference sample, batch scoring and
monitoring feed it to the model, so all of them send what a client sends.
"""

from __future__ import annotations

import pandas as pd

from pipelines.features.stage import MODEL_INPUT_COLUMNS


def model_input(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns with plain dtypes (what a client sends)."""
    out = rows[list(MODEL_INPUT_COLUMNS)].copy()
    for column in ("hashtags_count", "mentions_count", "urls_count", "media_count",
                   "followers_at_post_time"):
        # float64 so a client may send a missing count (MLflow rejects NaN in int columns)
        out[column] = pd.to_numeric(out[column]).astype("float64")
    for column in ("post_id", "account_id", "platform", "content_type", "caption"):
        out[column] = out[column].astype(object).where(out[column].notna(), "")
    # cache=False: the cache probe iterates Timestamps in Python (seconds on 1M rows)
    out["posted_at"] = pd.to_datetime(out["posted_at"], utc=True, cache=False).dt.tz_localize(None)
    return out.reset_index(drop=True)
