"""Evaluation: metrics on the time-ordered holdout, the naive baseline, model choice."""
