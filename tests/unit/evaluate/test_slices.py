import numpy as np
import pandas as pd
import pytest

from pipelines.evaluate.metrics import regression_metrics
from pipelines.evaluate.slices import MISSING_SLICE, slice_metrics


@pytest.fixture
def rows():
    rng = np.random.default_rng(3)
    platform = ["instagram"] * 40 + ["twitter"] * 10 + [None] * 5
    frame = pd.DataFrame({"platform": platform}, index=np.arange(100, 155))  # not 0..n-1
    actual = rng.poisson(50, len(frame)).astype(float)
    predicted = actual * rng.uniform(0.5, 1.5, len(frame))
    return frame, actual, predicted


def test_slices_with_support_get_metrics_others_only_their_size(rows):
    frame, actual, predicted = rows
    result = slice_metrics(frame, actual, predicted, by="platform", min_support=30)
    assert list(result) == sorted(["instagram", "twitter", MISSING_SLICE])
    expected = regression_metrics(actual[:40], predicted[:40])
    assert result["instagram"] == {**expected, "support": 40}
    assert result["twitter"] == {"insufficient_support": 10}
    assert result[MISSING_SLICE] == {"insufficient_support": 5}


def test_the_threshold_is_inclusive_and_series_inputs_align_by_position(rows):
    frame, actual, predicted = rows
    result = slice_metrics(frame, pd.Series(actual), pd.Series(predicted), min_support=10)
    assert result["twitter"]["support"] == 10
    assert result["twitter"]["mae_log"] == pytest.approx(
        regression_metrics(actual[40:50], predicted[40:50])["mae_log"])


def test_other_columns_can_slice(rows):
    frame, actual, predicted = rows
    frame = frame.assign(content_type=["image", "video"] * 27 + ["image"])
    result = slice_metrics(frame, actual, predicted, by="content_type", min_support=1)
    assert {k: v["support"] for k, v in result.items()} == {"image": 28, "video": 27}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"by": "country"}, "'by' must be a column of frame; got 'country'"),
    ({"min_support": 0}, "'min_support' must be an int >= 1; got 0"),
])
def test_bad_arguments(rows, kwargs, match):
    frame, actual, predicted = rows
    with pytest.raises(ValueError, match=match):
        slice_metrics(frame, actual, predicted, **kwargs)


def test_length_mismatch(rows):
    frame, actual, predicted = rows
    with pytest.raises(ValueError, match="got 54 and 55 for 55 rows"):
        slice_metrics(frame, actual[1:], predicted)
