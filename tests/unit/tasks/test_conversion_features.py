"""Session features: one definition for the training table and the saved model."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from pipelines.tasks.conversion_data import INPUT_COLUMNS, generate_sessions
from pipelines.tasks.conversion_features import (
    PAGE_VALUE_FEATURES,
    SessionFeaturizer,
    build_session_table,
    feature_names,
    session_features,
)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return generate_sessions(400, seed=2)


def test_page_values_only_when_asked(sessions):
    without, with_ = session_features(sessions, False), session_features(sessions, True)
    assert not set(PAGE_VALUE_FEATURES) & set(without.columns)
    assert set(with_.columns) - set(without.columns) == set(PAGE_VALUE_FEATURES)
    np.testing.assert_allclose(with_["f_log_page_values"], np.log1p(sessions["page_values"]))
    assert list(without.columns) == feature_names(False)
    assert without.dtypes.map(str).eq("float64").all()


def test_codes_are_categories_with_an_other_level(sessions):
    rows = sessions.head(3).copy()
    rows["browser"] = [2, 13, 99]
    f = session_features(rows, False)
    assert f[["f_browser_2", "f_browser_13", "f_browser_other"]].to_numpy().tolist() == [
        [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert (f.filter(like="f_browser_").sum(axis=1) == 1).all()
    assert "f_browser" not in f.columns  # never a quantity


def test_month_visitor_and_weekend_one_hot(sessions):
    rows = sessions.head(2).assign(month=["Nov", "Feb"], visitor_type=["New_Visitor", "Other"],
                                   weekend=[True, "false"])
    f = session_features(rows, False)
    assert f["f_month_Nov"].tolist() == [1, 0] and f["f_month_Feb"].tolist() == [0, 1]
    assert f["f_visitor_New_Visitor"].tolist() == [1, 0] and f["f_visitor_Other"].tolist() == [0, 1]
    assert f["f_weekend"].tolist() == [1.0, 0.0]


def test_bad_input_names_the_column(sessions):
    with pytest.raises(ValueError, match=r"lacks input column\(s\) \['exit_rates'\]"):
        session_features(sessions.drop(columns="exit_rates"), False)
    with pytest.raises(ValueError, match="column 'exit_rates' needs numbers; 1 row"):
        session_features(sessions.head(3).assign(exit_rates=[0.1, None, 0.1]), False)
    with pytest.raises(ValueError, match="column 'weekend' needs true/false"):
        session_features(sessions.head(1).assign(weekend="sometimes"), False)
    with pytest.raises(ValueError, match="'X' must be a DataFrame"):
        SessionFeaturizer(use_page_values=False).fit(sessions).transform(np.zeros((1, 3)))


def test_the_table_is_time_ordered_and_holds_inputs_and_features(sessions):
    shuffled = sessions.sample(frac=1.0, random_state=0)
    table, manifest = build_session_table(shuffled, True)
    assert table["month_start"].is_monotonic_increasing
    first_month = table[table["month_start"] == table["month_start"].iloc[0]]
    # Within a month rows keep the order they came in.
    given = shuffled[shuffled["month_start"] == table["month_start"].iloc[0]]["session_id"]
    assert first_month["session_id"].tolist() == given.tolist()
    assert manifest["feature_columns"] == feature_names(True)
    assert manifest["input_columns"] == list(INPUT_COLUMNS) and manifest["rows"] == 400
    assert manifest["use_page_values"] is True
    assert sum(m["rows"] for m in manifest["months"].values()) == 400
    assert set(INPUT_COLUMNS) | set(manifest["feature_columns"]) <= set(table.columns)


def test_the_featurizer_reproduces_the_table(sessions):
    table, manifest = build_session_table(sessions, False)
    featurizer = clone(SessionFeaturizer(use_page_values=False)).fit(table)
    pd.testing.assert_frame_equal(featurizer.transform(table[list(INPUT_COLUMNS)]),
                                  table[manifest["feature_columns"]])
    assert list(featurizer.get_feature_names_out()) == manifest["feature_columns"]
