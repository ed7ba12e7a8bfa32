"""docs/configuration.md against the settings models: every params.yaml section is in its
table, and every key table says what the section's model says (keys, defaults, rules)."""

import re
import typing
from typing import Any

import pytest

from pipelines.config import TASK_NAMES, Settings, read_params
from pipelines.config.errors import describe


@pytest.fixture(scope="module")
def doc(project_root) -> str:
    return (project_root / "docs" / "configuration.md").read_text(encoding="utf-8")


def _rows(lines: list[str]) -> list[list[str]]:
    """The cells of a markdown table's body rows (the header and the rule row left out)."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return rows[2:]


def key_tables(doc: str) -> dict[str, list[list[str]]]:
    """``### `section` keys`` heading → the rows of the table under it."""
    tables: dict[str, list[list[str]]] = {}
    for match in re.finditer(r"^### `(\w+)` keys\n\n((?:\|.*\n)+)", doc, flags=re.M):
        tables[match.group(1)] = _rows(match.group(2).splitlines())
    return tables


def expected_default(value: Any) -> str:
    """A default as the key tables write it: params.yaml's value, ``(empty)`` for null."""
    if value is None:
        return "(empty)"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def expected_rule(field: Any) -> str:
    """The rule of a field in words, as the error messages say it (``an int in [1, 10]``);
    an optional field adds ``, or empty``."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "rule" in extra:
        return extra["rule"]
    annotation = field.annotation
    args = typing.get_args(annotation)
    if type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return describe(inner, field.metadata) + ", or empty"
    return describe(annotation, field.metadata)


#: Sections the doc lists key by key: every task's own section and session_segments.
KEY_TABLE_SECTIONS = sorted({*TASK_NAMES, "session_segments"} & set(Settings.model_fields))


@pytest.mark.parametrize("section", sorted(Settings.model_fields))
def test_every_section_is_in_the_sections_table(doc, section):
    model = Settings.model_fields[section].annotation
    row = re.search(rf"^\| `{section}` \| `(\w+)` ", doc, flags=re.M)
    assert row, f"docs/configuration.md: no row for params section '{section}' in the table"
    assert row.group(1) == model.__name__, (
        f"docs/configuration.md: section '{section}' names model {row.group(1)}; "
        f"the settings model is {model.__name__}")


def test_every_params_yaml_section_is_a_settings_section(project_root):
    """The parametrization above covers params.yaml: its sections are the model's."""
    assert set(read_params(project_root / "params.yaml")) == set(Settings.model_fields)


@pytest.mark.parametrize("section", KEY_TABLE_SECTIONS)
def test_a_key_table_says_what_the_model_says(doc, section):
    tables = key_tables(doc)
    assert section in tables, f"docs/configuration.md: no '### `{section}` keys' table"
    model = Settings.model_fields[section].annotation
    rows = {row[0].strip("`"): row for row in tables[section]}
    assert list(rows) == list(model.model_fields), (
        f"docs/configuration.md '{section}' keys {list(rows)} != the model's "
        f"{list(model.model_fields)}")
    for key, field in model.model_fields.items():
        _, default, rule, meaning = rows[key]
        assert default == expected_default(field.default), (
            f"docs/configuration.md '{section}.{key}': default {default}; the model's is "
            f"{expected_default(field.default)}")
        assert rule == expected_rule(field), (
            f"docs/configuration.md '{section}.{key}': rule {rule!r}; the model's is "
            f"{expected_rule(field)!r}")
        assert meaning, f"docs/configuration.md '{section}.{key}': no meaning"


def test_the_key_tables_are_found_and_a_wrong_default_is_caught():
    """The checks above can fail: a table is parsed, and a default that differs is seen."""
    text = ("### `seedy` keys\n\n| key | default | allowed | meaning |\n|---|---|---|---|\n"
            "| `seed` | `41` | an int >= 0 | the seed |\n")
    assert key_tables(text) == {"seedy": [["`seed`", "`41`", "an int >= 0", "the seed"]]}
    field = Settings.model_fields["account_churn"].annotation.model_fields["seed"]
    assert expected_default(field.default) == "`42`" != "`41`"
    assert expected_rule(field) == "an int >= 0"
