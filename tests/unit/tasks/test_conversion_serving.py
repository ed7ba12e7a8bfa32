"""The conversion task's serving hooks: the body of one session and the batch contract are
both read off the sessions row contract (one source of the rules)."""

import pytest
from pydantic import ValidationError

from pipelines.tasks import get_task
from pipelines.tasks.conversion_data import INPUT_COLUMNS, generate_sessions, split_scorable

CONVERSION = get_task("conversion")


@pytest.fixture(scope="module")
def model(make_project, tmp_path_factory):
    return CONVERSION.request_model(make_project(tmp_path_factory.mktemp("p")))


def test_the_body_is_the_key_and_the_input_columns(model):
    assert CONVERSION.serve_key == "session_id"
    assert list(model.model_fields) == ["session_id", *INPUT_COLUMNS]
    assert all(field.is_required() for field in model.model_fields.values())


def test_every_bound_and_set_of_the_contract_on_a_sent_column_is_in_the_body(model, suites):
    schema = model.model_json_schema()["properties"]
    row_suite, _ = suites
    checked = 0
    for rule in row_suite["expectations"]:
        column, kwargs = rule["kwargs"]["column"], rule["kwargs"]
        if column not in model.model_fields:
            continue
        if rule["type"] == "expect_column_values_to_be_between":
            assert schema[column].get("minimum") == kwargs.get("min_value"), column
            assert schema[column].get("maximum") == kwargs.get("max_value"), column
            checked += 1
        elif rule["type"] == "expect_column_values_to_be_in_set":
            assert schema[column]["enum"] == kwargs["value_set"], column
            checked += 1
    assert checked == 16


def test_demo_sessions_pass_both_and_a_broken_one_fails_both(model, suites):
    sessions = generate_sessions(40, seed=3)
    rows = sessions[["session_id", *INPUT_COLUMNS]].to_dict("records")
    for row in rows:
        model(**{k: v.item() if hasattr(v, "item") else v for k, v in row.items()})
    broken = sessions.copy()
    broken.loc[5, "exit_rates"] = 0.7
    with pytest.raises(ValidationError, match="exit_rates"):
        model(**{k: v.item() if hasattr(v, "item") else v
                 for k, v in broken.loc[5, ["session_id", *INPUT_COLUMNS]].items()})
    accepted, quarantined = split_scorable(broken, suites[0], source="test",
                                           columns=("session_id", *INPUT_COLUMNS))
    assert len(accepted) == 39
    assert quarantined[["stage", "session_id", "column", "value"]].values.tolist() == [
        ["score", broken.loc[5, "session_id"], "exit_rates", "0.7"]]
