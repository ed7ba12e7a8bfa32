"""EngageFlow: predict how social-media posts will perform, and keep the predictions good.

The package holds all logic; ``dags/``, ``dvc.yaml`` and the ``engageflow`` CLI only wire it.
"""

__version__ = "0.1.0"
