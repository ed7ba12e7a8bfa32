"""Feature settings: which feature groups to build (the ``features`` section's model lives
with the other sections in :mod:`pipelines.config.data`; imported here where the feature
code has always found it)."""

from pipelines.config.data import FeatureSettings

__all__ = ["FeatureSettings"]
