# EngageFlow — every target a user or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
STATE := $(CURDIR)/.engageflow
UV := VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/uv pip
# Where the CPU build of torch comes from: the machine's wheel folder when pip is pointed at
# one (PIP_FIND_LINKS), else the PyTorch CPU index (plain PyPI torch pulls GBs of CUDA).
ifneq ($(strip $(PIP_FIND_LINKS)),)
TORCH_SOURCE := --find-links $(PIP_FIND_LINKS)
LOCAL_LINKS := --find-links $(PIP_FIND_LINKS)
else
TORCH_SOURCE := --index-url https://download.pytorch.org/whl/cpu
LOCAL_LINKS :=
endif

# Embedded defaults: Airflow metadata in SQLite, everything under .engageflow/.
AIRFLOW_ENV := PATH=$(BIN):$$PATH ENGAGEFLOW_HOME=$(CURDIR) AIRFLOW_HOME=$(STATE)/airflow \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__PARALLELISM=2 AIRFLOW__CORE__EXECUTOR=LocalExecutor \
	AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$(STATE)/airflow/airflow.db \
	AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 \
	AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin \
	HF_HUB_OFFLINE=1 \
	MLFLOW_TRACKING_URI=sqlite:///$(STATE)/mlflow.db

.PHONY: help install run test lint airflow mlflow-ui repro exp clean lock bench bench-speed bench-quality \
	stack-up stack-down docker-lint bench-drift bench-segments bench-promotion serve bench-serving

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {name[NR] = $$1; text[NR] = $$2; \
			if (length($$1) > width) width = length($$1)} \
			END {for (i = 1; i <= NR; i++) printf "  make %-*s  %s\n", width, name[i], text[i]}'

install: $(STAMP) ## create .venv with the pinned dependencies and engageflow (editable)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
		f"EngageFlow needs Python 3.11; {sys.executable} is {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(UV) install --quiet --compile-bytecode $(TORCH_SOURCE) torch==2.13.0+cpu
	$(UV) install --quiet --compile-bytecode $(LOCAL_LINKS) -r requirements.lock
	$(UV) install --quiet --no-deps -e .
	@touch $@

run: $(STAMP) ## the main job: demo data → Airflow training DAG end to end → summary
	@mkdir -p $(STATE)/airflow
	@$(AIRFLOW_ENV) $(BIN)/airflow db migrate > $(STATE)/airflow/db-migrate.log 2>&1 \
		|| { cat $(STATE)/airflow/db-migrate.log; exit 1; }
	@$(AIRFLOW_ENV) $(BIN)/engageflow fail-stale-runs engagement_training
	@echo "running the engagement_training DAG in Airflow (airflow dags test) ..."
# Interrupted (Ctrl-C, kill): stop `airflow dags test` (it outlives SIGTERM: KILL after 5 s)
# and mark its run failed, never leave it running. It runs in the background so that `wait`
# returns at once on a signal.
# `engageflow progress` prints a line per task (state, seconds, counts) while it runs.
	@trap 'trap - INT TERM HUP; kill -TERM $$pid 2>/dev/null; \
		for _ in 1 2 3 4 5; do kill -0 $$pid 2>/dev/null || break; sleep 1; done; \
		kill -KILL $$pid 2>/dev/null; wait $$pid 2>/dev/null; wait $$follower 2>/dev/null; \
		$(AIRFLOW_ENV) $(BIN)/engageflow fail-stale-runs engagement_training; \
		echo "make run: interrupted; its DAG run was stopped and marked failed" >&2; \
		exit 130' INT TERM HUP; \
	$(AIRFLOW_ENV) $(BIN)/airflow dags test engagement_training > $(STATE)/last-run.log 2>&1 & \
	pid=$$!; $(BIN)/engageflow progress $(STATE)/last-run.log --pid $$pid & follower=$$!; \
	wait $$pid || { wait $$follower; tail -n 80 $(STATE)/last-run.log; exit 1; }; \
	wait $$follower
	@echo "full Airflow log: $(STATE)/last-run.log"
	@$(AIRFLOW_ENV) $(BIN)/engageflow summary --latest-run 2>/dev/null

test: $(STAMP) ## ruff, then the whole test suite in two workers (what CI runs)
	$(BIN)/ruff check pipelines dags tests
	HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 2 --dist loadscope

lint: $(STAMP) ## ruff on the package, DAGs and tests
	$(BIN)/ruff check pipelines dags tests

PASSWORDS := $(STATE)/airflow/simple_auth_manager_passwords.json.generated

airflow: $(STAMP) ## Airflow UI on http://127.0.0.1:8080 (prints the admin password)
	@mkdir -p $(STATE)/airflow
	@test -f $(PASSWORDS) || $(BIN)/python -c 'import json, secrets, sys; \
		json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' $(PASSWORDS)
	@$(BIN)/python -c 'import json, sys; p = json.load(open(sys.argv[1]))["admin"]; \
		print(f"Airflow UI: http://127.0.0.1:8080  (ready in about a minute)\n" \
		      f"log in as admin / {p}   (saved in {sys.argv[1]}); Ctrl-C stops it.")' $(PASSWORDS)
	@$(AIRFLOW_ENV) $(BIN)/airflow standalone

mlflow-ui: $(STAMP) ## MLflow UI on http://127.0.0.1:5000 over the same store; prints each experiment's link
	@MLFLOW_TRACKING_URI=sqlite:///$(STATE)/mlflow.db $(BIN)/python -c 'from pipelines.registry import \
	tracking; print(*tracking.experiment_links("http://127.0.0.1:5000"), sep="\n")'
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(STATE)/mlflow.db \
		--default-artifact-root $(STATE)/mlartifacts --host 127.0.0.1 --port 5000 -w 1

stack-up: $(STAMP) ## distributed mode without Docker: PostgreSQL, Redis, Airflow on Celery, MLflow server
	@ENGAGEFLOW_HOME=$(CURDIR) HF_HUB_OFFLINE=1 $(BIN)/python -m pipelines.deploy.local_stack up

stack-down: ## stop everything `make stack-up` started
	@ENGAGEFLOW_HOME=$(CURDIR) $(BIN)/python -m pipelines.deploy.local_stack down

docker-lint: $(STAMP) ## hadolint the Dockerfiles and validate docker/docker-compose.yaml
	$(BIN)/hadolint docker/airflow.Dockerfile docker/serving.Dockerfile
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m docker tests/docker

API_KEYS_FILE := $(STATE)/api_keys

serve: $(STAMP) ## the prediction API on http://127.0.0.1:8000 (docs at /docs; prints the API key)
	@mkdir -p $(STATE)
	@test -f $(API_KEYS_FILE) || $(BIN)/python -c 'import secrets, sys; \
		open(sys.argv[1], "w").write(secrets.token_urlsafe(24))' $(API_KEYS_FILE)
	@chmod 600 $(API_KEYS_FILE)
	@echo "API key (header X-API-Key): $$(cat $(API_KEYS_FILE))  (saved in $(API_KEYS_FILE))"
	@ENGAGEFLOW_API_KEYS=$${ENGAGEFLOW_API_KEYS:-$$(cat $(API_KEYS_FILE))} ENGAGEFLOW_HOME=$(CURDIR) \
		MLFLOW_TRACKING_URI=sqlite:///$(STATE)/mlflow.db $(BIN)/engageflow serve

repro: $(STAMP) ## dvc repro: the pipeline's stages for params.yaml's train.task on data/ (DVC)
	ENGAGEFLOW_HOME=$(CURDIR) $(BIN)/engageflow dvc-yaml --write
	ENGAGEFLOW_HOME=$(CURDIR) HF_HUB_OFFLINE=1 $(BIN)/dvc repro

# `dvc exp run -S` writes the new values into params.yaml before it runs and leaves them
# there when a stage fails: keep a copy and put it back on failure.
exp: $(STAMP) ## dvc exp run $(ARGS), e.g. ARGS="-S 'train.models=[xgboost]'"; a failed run restores params.yaml
	@mkdir -p $(STATE) && cp params.yaml $(STATE)/params.yaml.before-exp
	@ENGAGEFLOW_HOME=$(CURDIR) HF_HUB_OFFLINE=1 $(BIN)/dvc exp run $(ARGS) || { status=$$?; \
		cp $(STATE)/params.yaml.before-exp params.yaml; \
		echo "make exp: the experiment failed; params.yaml is as it was before" >&2; exit $$status; }
	@echo "compare: $(VENV)/bin/dvc exp show, $(VENV)/bin/dvc metrics diff, $(VENV)/bin/dvc plots diff"

bench-quality: $(STAMP) ## train, register and score through the product on real data vs references → bench/results/quality.json
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quality.py

bench-drift: $(STAMP) ## drift check vs plain Evidently preset; verdicts on real data (text too) → bench/results/*drift*.json
	HF_HUB_OFFLINE=1 $(BIN)/python bench/drift.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/drift_real_data.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/text_drift_real_data.py

bench-segments: $(STAMP) ## per-account vs global models on tweets_2022 → bench/results/segments.json
	HF_HUB_OFFLINE=1 $(BIN)/python bench/segments.py

bench: $(STAMP) bench-speed bench-drift bench-promotion bench-serving bench-segments bench-quality ## every benchmark → bench/results/*.json (each records the machine load; an hour or more)

bench-speed: $(STAMP) ## speed: training, embeddings, account history, batch scoring vs pyfunc, small validations, file reads
	HF_HUB_OFFLINE=1 $(BIN)/python bench/training_speed.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/embeddings.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/account_history.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/batch_scoring.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/validation_speed.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/file_read_memory.py
	HF_HUB_OFFLINE=1 $(BIN)/python bench/reliability_serving.py

bench-promotion: $(STAMP) ## promotion gate speed + sequential-test error rates → bench/results/promotion.json
	$(BIN)/python bench/promotion.py

bench-serving: $(STAMP) ## engageflow serve vs mlflow models serve → bench/results/serving.json
	HF_HUB_OFFLINE=1 $(BIN)/python bench/serving.py

lock: $(STAMP) ## rewrite requirements.lock from the current .venv
	@$(UV) freeze | grep -v -e "^-e " -e "^engageflow" | LC_ALL=C sort \
		> requirements.lock.new && mv requirements.lock.new requirements.lock

clean: ## remove all state (.engageflow/, data/, DVC cache); keeps .venv and the committed dvc.lock, metrics/, plots/
	rm -rf $(STATE) data .dvc/tmp
