"""The one place that knows where EngageFlow keeps its state and data layers.

Embedded defaults keep everything under the project: ``.engageflow/`` for Airflow, MLflow
and per-run work folders, ``data/0N_*`` for the DVC pipeline's outputs.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

STATE_DIR_NAME = ".engageflow"


@dataclass(frozen=True)
class ProjectPaths:
    """Where things live for one project checkout.

    Attributes:
        root: The project root (holds params.yaml and expectations/).
        state: The state folder (.engageflow/ by default), removed by ``make clean``.
        data: The folder holding the numbered data layers for this driver or run.
        caption_cache: Where caption embeddings are cached; None: the state folder's
            cache, shared by every Airflow run (the CLI / DVC keep it in the feature store).
        tracked: The folder holding ``metrics/`` and ``plots/``, the small git-tracked
            files ``dvc exp show`` and ``dvc plots`` read; None: the data folder's
            ``05_reporting/`` (the CLI and DVC on the project's ``data/`` use the root).
    """

    root: Path
    state: Path
    data: Path
    caption_cache: Path | None = None
    tracked: Path | None = None

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    def raw(self, entity: str) -> Path:
        """The raw layer of an entity table (``01_raw/<entity>.parquet``)."""
        return self.data / "01_raw" / f"{entity}.parquet"

    def validated(self, entity: str) -> Path:
        """The validated layer of an entity table (``02_validated/<entity>.parquet``)."""
        return self.data / "02_validated" / f"{entity}.parquet"

    def quarantined(self, entity: str) -> Path:
        """Rows of an entity that failed its row contract, with reasons."""
        return self.data / "02_quarantine" / f"{entity}.parquet"

    def feature_table(self, table: str) -> Path:
        """A task's training table (``03_features/<table>.parquet``)."""
        return self.data / "03_features" / f"{table}.parquet"

    @property
    def raw_posts(self) -> Path:
        return self.data / "01_raw" / "posts.parquet"

    @property
    def validated_posts(self) -> Path:
        return self.data / "02_validated" / "posts.parquet"

    @property
    def quarantined_posts(self) -> Path:
        return self.data / "02_quarantine" / "posts.parquet"

    @property
    def validation_report(self) -> Path:
        return self.data / "02_validated" / "validation.json"

    @property
    def features(self) -> Path:
        return self.data / "03_features" / "posts.parquet"

    @property
    def account_periods(self) -> Path:
        """The (account, period) table of the follower-growth target."""
        return self.data / "03_features" / "account_periods.parquet"

    @property
    def models(self) -> Path:
        return self.data / "04_models"

    @property
    def final_model(self) -> Path:
        """The final refit of the chosen candidate (``model.joblib`` + ``refit.json``)."""
        return self.data / "04_final_model"

    @property
    def segment_models(self) -> Path:
        """The platform and segment models that earned their place (one joblib each)."""
        return self.data / "04_segment_models"

    @property
    def metrics(self) -> Path:
        return self.data / "05_reporting" / "metrics.json"

    @property
    def segments(self) -> Path:
        """The platform and segment models' decisions (``05_reporting/segments.json``)."""
        return self.data / "05_reporting" / "segments.json"

    @property
    def registration(self) -> Path:
        return self.data / "05_reporting" / "registration.json"

    @property
    def promotion(self) -> Path:
        """The promotion gate's decision record for this run's model."""
        return self.data / "05_reporting" / "promotion.json"

    @property
    def tracked_metrics(self) -> Path:
        """Small metrics files for ``dvc metrics`` / ``dvc exp show`` (:attr:`tracked`)."""
        return (self.tracked or self.data / "05_reporting") / "metrics"

    @property
    def tracked_plots(self) -> Path:
        """Small plot tables for ``dvc plots`` (:attr:`tracked`)."""
        return (self.tracked or self.data / "05_reporting") / "plots"

    @property
    def validation_reports(self) -> Path:
        """Great Expectations Data Docs and the exploration report of the training
        pipeline's validation; apart from the collection DAG's days
        (``05_reporting/validation/date=…``), which ``dvc repro`` must never remove."""
        return self.data / "05_reporting" / "training_validation"

    @property
    def watermarks(self) -> Path:
        """API collection watermarks per (source, account)."""
        return self.state / "watermarks.db"

    @property
    def embedding_cache(self) -> Path:
        """Caption embeddings by content hash (encode each caption once)."""
        return self.caption_cache or self.state / "cache" / "caption_embeddings.parquet"

    @property
    def model_cache(self) -> Path:
        """Exported text models (the int8 ONNX MiniLM)."""
        return self.state / "cache" / "models"

    @property
    def airflow_home(self) -> Path:
        return self.state / "airflow"

    @property
    def mlflow_db(self) -> Path:
        return self.state / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.state / "mlartifacts"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking + registry URI: ``MLFLOW_TRACKING_URI`` or the embedded SQLite."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_db}"

    @property
    def prediction_log_url(self) -> str:
        """Where serving logs predictions and outcomes (SQLAlchemy URL):
        ``ENGAGEFLOW_PREDICTION_LOG_URL`` (e.g. PostgreSQL) or the embedded SQLite file."""
        return (os.environ.get("ENGAGEFLOW_PREDICTION_LOG_URL")
                or f"sqlite:///{self.state / 'predictions.db'}")

    @property
    def feature_store(self) -> Path:
        """The Feast repo of account history (``data/08_feature_store``): its registry,
        offline source and, by default, the SQLite online store."""
        return self.data / "08_feature_store"

    @property
    def feature_store_url(self) -> str:
        """Feast's online store: ``ENGAGEFLOW_FEATURE_STORE_URL`` (``redis://HOST:PORT/DB``
        in the distributed stack) or the embedded SQLite file in :attr:`feature_store`."""
        return (os.environ.get("ENGAGEFLOW_FEATURE_STORE_URL")
                or f"sqlite:///{self.feature_store / 'online.db'}")

    @property
    def monitoring(self) -> Path:
        """Drift and realized-performance reports (``data/06_monitoring``)."""
        return self.data / "06_monitoring"

    @property
    def champion_challenger(self) -> Path:
        """The online champion-challenger test's daily decisions (one JSON per model and day)."""
        return self.monitoring / "champion_challenger"

    def resolve(self, path: str | Path) -> Path:
        """A params path (relative to the project root) as an absolute path."""
        path = Path(path)
        return path if path.is_absolute() else self.root / path

    def for_run(self, run_id: str) -> ProjectPaths:
        """The paths of one orchestrated run: its own data layers under the state folder.

        Each Airflow run writes to its own folder so runs are idempotent and never clobber
        each other or the DVC-tracked ``data/``.
        """
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_") or "run"
        return replace(self, data=self.state / "runs" / safe, tracked=None)


def project_paths(root: str | Path | None = None) -> ProjectPaths:
    """Paths for the project at ``root``, else ``$ENGAGEFLOW_HOME``, else the current folder.

    ``$ENGAGEFLOW_STATE`` moves the state folder (default ``ROOT/.engageflow``) and
    ``$ENGAGEFLOW_DATA`` the data layers (default ``ROOT/data``).
    """
    base = Path(root or os.environ.get("ENGAGEFLOW_HOME") or Path.cwd()).resolve()
    state = Path(os.environ.get("ENGAGEFLOW_STATE") or base / STATE_DIR_NAME).resolve()
    data = Path(os.environ.get("ENGAGEFLOW_DATA") or base / "data").resolve()
    return ProjectPaths(root=base, state=state, data=data)
