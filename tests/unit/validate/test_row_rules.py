"""A row contract as the request model and batch rules of one row (one source of rules)."""

import pytest
from pydantic import ValidationError

from pipelines.validate.row_rules import request_model, request_rules

SUITE = {"name": "things", "expectations": [
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "thing_id"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "size"}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "thing_id"}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "size", "min_value": 0, "max_value": 10},
     "meta": {"notes": "Sizes are in metres."}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "count", "min_value": 1}},
    {"type": "expect_column_values_to_be_in_set",
     "kwargs": {"column": "colour", "value_set": ["red", "blue"]}},
    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "made_at", "max_value": {"$PARAMETER": "as_of"}}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "label"}},
]}
DTYPES = {"thing_id": "object", "size": "float64", "count": "Int64", "colour": "object",
          "flag": "bool"}


def test_the_rules_on_the_sent_columns_without_run_parameters_carry_over():
    kept = request_rules(SUITE, DTYPES)["expectations"]
    assert [(e["type"].removeprefix("expect_column_values_to_"), e["kwargs"]["column"])
            for e in kept] == [("not_be_null", "thing_id"), ("not_be_null", "size"),
                               ("be_unique", "thing_id"), ("be_between", "size"),
                               ("be_between", "count"), ("be_in_set", "colour")]


def test_the_request_model_carries_required_bounds_and_sets():
    model = request_model("Thing", DTYPES, SUITE, doc="One thing.")
    assert model.__doc__ == "One thing."
    schema = model.model_json_schema()
    assert set(schema["required"]) == {"thing_id", "size"}
    assert schema["properties"]["size"]["description"] == "Sizes are in metres."
    thing = model(thing_id="a", size=2, colour="red", flag=True)
    assert (thing.size, thing.count, thing.flag) == (2.0, None, True)
    for change, field, message in (
            ({"size": 11}, "size", "less than or equal to 10"),
            ({"count": 0}, "count", "greater than or equal to 1"),
            ({"colour": "green"}, "colour", "'red' or 'blue'"),
            ({"size": "2"}, "size", "valid number"),           # strict: no text numbers
            ({"count": 1.5}, "count", "valid integer"),
            ({"flag": "yes"}, "flag", "valid boolean"),
            ({"size": float("inf")}, "size", "finite number"),
            ({"label": "x"}, "label", "Extra inputs are not permitted"),
            ({"size": None}, "size", "valid number")):           # not null: required
        with pytest.raises(ValidationError) as error:
            model(**{"thing_id": "a", "size": 2, **change})
        first = error.value.errors()[0]
        assert first["loc"][0] == field and message in first["msg"], (change, first)


def test_a_rule_that_does_not_fit_the_column_is_named():
    with pytest.raises(ValueError, match=r"column 'when' of Thing has dtype 'datetime64\[ns\]'"):
        request_model("Thing", {"when": "datetime64[ns]"}, SUITE, doc="")
    odd = {"name": "odd", "expectations": [{"type": "expect_column_values_to_be_in_set",
                                             "kwargs": {"column": "size", "value_set": [1, "x"]}}]}
    with pytest.raises(ValueError, match=r"odd allows \[1, 'x'\] in column 'size'"):
        request_model("Thing", {"size": "int64"}, odd, doc="")
