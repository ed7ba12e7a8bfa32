# syntax=docker/dockerfile:1
# The EngageFlow serving API (`engageflow serve`), also used for the MLflow tracking server.
# Build from the repository root:
#   docker build -f docker/serving.Dockerfile -t engageflow-serving .
# Same install steps as the Makefile (`make install`): uv, torch CPU, requirements.lock,
# then the package.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1
WORKDIR /build
RUN python -m venv /opt/engageflow/venv \
    && /opt/engageflow/venv/bin/pip install --no-cache-dir uv==0.13.9
ENV VIRTUAL_ENV=/opt/engageflow/venv
COPY requirements.lock pyproject.toml README.md ./
RUN /opt/engageflow/venv/bin/uv pip install --index-url https://download.pytorch.org/whl/cpu \
        torch==2.13.0+cpu \
    && /opt/engageflow/venv/bin/uv pip install -r requirements.lock
COPY pipelines/ pipelines/
RUN /opt/engageflow/venv/bin/uv pip install --no-deps .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="engageflow-serving" \
      org.opencontainers.image.description="EngageFlow prediction API and MLflow server"
RUN groupadd --system --gid 10001 engageflow \
    && useradd --system --uid 10001 --gid engageflow --create-home engageflow
COPY --from=build /opt/engageflow/venv /opt/engageflow/venv
COPY --chown=engageflow:engageflow params.yaml /opt/engageflow/project/params.yaml
COPY --chown=engageflow:engageflow expectations/ /opt/engageflow/project/expectations/
# No secrets here: the MLflow URI, the prediction-log URL and credentials come from the
# environment (.env).
ENV PATH=/opt/engageflow/venv/bin:${PATH} \
    ENGAGEFLOW_HOME=/opt/engageflow/project \
    ENGAGEFLOW_STATE=/opt/engageflow/state \
    HF_HUB_OFFLINE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /opt/engageflow/project
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["engageflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
