"""The README's curl example for ``/predict`` works as written: its port, header, path and
body are the served ones, and the app answers the body with the README's response shape."""

import json
import re
import shlex
from pathlib import Path

from fastapi.testclient import TestClient

from pipelines.config import ServeConfig
from pipelines.serve.app import API_KEY_HEADER, create_app

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()


def _example() -> tuple[list[str], dict]:
    """The curl command's words and the README's answer (the block after it)."""
    blocks = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)
    index = next(i for i, (_, text) in enumerate(blocks) if "curl " in text)
    command = blocks[index][1]
    curl = command[command.index("curl "):].replace("\\\n", " ")
    words = shlex.split(curl.replace("$(cat .engageflow/api_keys)", "KEY"))
    language, answer = blocks[index + 1]
    assert language == "json", "the README shows the answer right after the curl example"
    return words, json.loads(answer)


def _option(words: list[str], flag: str) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words) if w == flag]


def test_the_example_targets_the_served_port_path_and_header():
    words, _ = _example()
    url = next(w for w in words if w.startswith("http"))
    assert url == f"http://{ServeConfig().host}:{ServeConfig().port}/predict"
    headers = dict(h.split(": ", 1) for h in _option(words, "-H"))
    assert headers[API_KEY_HEADER] == "KEY"
    # `make serve` saves its key where the example reads it
    assert "API_KEYS_FILE := $(STATE)/api_keys" in (ROOT / "Makefile").read_text()
    assert "STATE := $(CURDIR)/.engageflow" in (ROOT / "Makefile").read_text()


def test_the_app_answers_the_example_body_with_the_readme_shape(registry, tmp_path,
                                                              make_service):
    words, shown = _example()
    body = json.loads(_option(words, "-d")[0])
    headers = dict(h.split(": ", 1) for h in _option(words, "-H"))
    service = make_service(registry["uri"], f"sqlite:///{tmp_path / 'predictions.db'}",
                           api_keys=frozenset({"KEY"}))
    with TestClient(create_app(service)) as client:
        response = client.post("/predict", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    got = response.json()
    assert set(got) == set(shown)
    assert (got["request_id"], got["target"]) == (shown["request_id"], shown["target"])
    (answer,), (expected,) = got["predictions"], shown["predictions"]
    assert set(answer) == set(expected)
    assert set(answer["model_status"]) == set(expected["model_status"])
    assert answer["post_id"] == body["post_id"] and answer["prediction"] > 0
