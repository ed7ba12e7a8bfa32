"""The summary's next steps point where the Makefile's targets listen."""

from __future__ import annotations

import re

from pipelines.summary import AIRFLOW_UI, API, MLFLOW_UI


def test_the_addresses_are_the_makefiles(project_root):
    makefile = (project_root / "Makefile").read_text()
    target = {name: re.search(rf"^{name}:.*## (.*)$", makefile, re.M)[1]
              for name in ("airflow", "mlflow-ui", "serve")}
    assert AIRFLOW_UI in target["airflow"]
    assert MLFLOW_UI in target["mlflow-ui"] and "--port 5000" in makefile
    assert API in target["serve"]
