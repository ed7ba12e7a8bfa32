"""The format registry: which formats exist, and that each module declares a whole format."""

from __future__ import annotations

from pipelines.collect import formats
from pipelines.collect.formats import FORMAT_SPECS, FORMATS, FileFormat
from pipelines.config import FILE_FORMATS


def test_formats_are_the_documented_ones() -> None:
    assert FORMATS == ("canonical", "instagram_graph", "linkedin_share", "twitter_v2",
                       "tweets_csv", "instagram_scrape_csv", "facebook_uci")


def test_every_registered_format_has_a_name_help_and_reader() -> None:
    assert tuple(FORMAT_SPECS) == FORMATS
    for name, spec in FORMAT_SPECS.items():
        assert isinstance(spec, FileFormat), f"{name}: registered {spec!r}, not a FileFormat"
        assert spec.name == name and name.isidentifier(), f"{name}: name {spec.name!r}"
        # One module per format, named after it: the module is where its rules live.
        module = spec.map.__module__
        assert module == f"{formats.__name__}.{name}", f"{name}: reader defined in {module}"
        assert callable(spec.map), f"{name}: map is not callable"
        assert isinstance(spec.help, str) and spec.help.strip(), f"{name}: no help text"
        assert "\n" not in spec.help and len(spec.help) <= 120, f"{name}: help is not one line"
        assert not (spec.json_pages and not spec.nested), f"{name}: json_pages needs nested"


def test_registry_names_equal_the_config_literal() -> None:
    # pipelines.config keeps FILE_FORMATS literal so DAG parsing stays light.
    assert FILE_FORMATS == FORMATS
