# syntax=docker/dockerfile:1
# Airflow for EngageFlow: the official image of the pinned version plus the engageflow
# package and its pinned dependencies. Build from the repository root:
#   docker build -f docker/airflow.Dockerfile -t engageflow-airflow .
# The install steps are the Makefile's (`make install`): uv, torch CPU, requirements.lock,
# then the package itself — so `make test` on a fresh machine checks them outside Docker.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11

FROM ${AIRFLOW_IMAGE} AS build
# as the image's own `airflow` user: the venv lives in its home, at the same path in both stages
ENV PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1
RUN mkdir -p /home/airflow/build
WORKDIR /home/airflow/build
RUN python -m venv /home/airflow/engageflow-venv \
    && /home/airflow/engageflow-venv/bin/pip install --no-cache-dir uv==0.13.9
ENV VIRTUAL_ENV=/home/airflow/engageflow-venv
COPY --chown=airflow:0 requirements.lock pyproject.toml README.md ./
RUN /home/airflow/engageflow-venv/bin/uv pip install --index-url https://download.pytorch.org/whl/cpu \
        torch==2.13.0+cpu \
    && /home/airflow/engageflow-venv/bin/uv pip install -r requirements.lock
COPY --chown=airflow:0 pipelines/ pipelines/
RUN /home/airflow/engageflow-venv/bin/uv pip install --no-deps .

FROM ${AIRFLOW_IMAGE}
LABEL org.opencontainers.image.title="engageflow-airflow" \
      org.opencontainers.image.description="Airflow 3.3.2 with the EngageFlow DAGs and package"
COPY --from=build /home/airflow/engageflow-venv /home/airflow/engageflow-venv
COPY --chown=airflow:0 dags/ /opt/engageflow/project/dags/
COPY --chown=airflow:0 expectations/ /opt/engageflow/project/expectations/
COPY --chown=airflow:0 params.yaml /opt/engageflow/project/params.yaml
# No secrets here: passwords, JWT secret and Fernet key come from the environment (.env).
ENV PATH=/home/airflow/engageflow-venv/bin:${PATH} \
    ENGAGEFLOW_HOME=/opt/engageflow/project \
    ENGAGEFLOW_STATE=/opt/engageflow/state \
    ENGAGEFLOW_DATA=/opt/engageflow/state/data \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/engageflow/project/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    HF_HUB_OFFLINE=1
# the official image's airflow user (uid 50000, group 0)
USER 50000
# The image's default command is the api-server; compose gives the other components their
# own health checks (scheduler, dag-processor, triggerer, celery worker).
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=5 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/api/v2/monitor/health', timeout=8)"]
CMD ["api-server"]
