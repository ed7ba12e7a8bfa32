"""``python -m pipelines``: the ``engageflow`` CLI without the console script on PATH
(``dvc.yaml`` runs its stages this way)."""

import sys

from pipelines.cli import main

sys.exit(main())
