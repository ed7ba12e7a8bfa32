"""Which maturity horizon judges a registered version: its own tag, params only without one."""

import logging
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.registry.tracking import MATURITY_TAG, trained_maturity_hours


@given(st.floats(min_value=0, max_value=8760), st.floats(min_value=0, max_value=8760))
def test_the_versions_tag_wins_over_params(tagged, configured):
    assert trained_maturity_hours(str(tagged), configured=configured, model="m v1") == tagged


@pytest.mark.parametrize("tag", [None, "", "  "])
def test_params_only_when_the_version_has_no_tag_and_the_log_says_so(tag, caplog):
    with caplog.at_level(logging.INFO, logger="pipelines"):
        assert trained_maturity_hours(tag, configured=48.0, model="m v1") == 48.0
    assert [r.getMessage() for r in caplog.records] == [
        f"m v1 has no {MATURITY_TAG} tag: outcomes mature after features.maturity_hours = "
        f"48.0 h (params)"]


@pytest.mark.parametrize("tag", ["-1", "nan", "forty-eight", str(math.inf), str(-math.inf)])
def test_a_bad_tag_is_named(tag):
    with pytest.raises(ValueError, match=rf"m v1's tag '{MATURITY_TAG}' must be a finite "
                                         rf"number >= 0; got '{tag}'"):
        trained_maturity_hours(tag, configured=48.0, model="m v1")
