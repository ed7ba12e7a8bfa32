"""Training: estimators by name, time-ordered splits, the training stage."""
